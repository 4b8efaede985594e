"""The payer's claim number (277CA REF*1K, 835 CLP07) is kept per claim, and written only when
an answer brings a new or changed one: an 835 repeating its 277CA's number writes nothing."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import event

from gateway.crypto import Sealer, parse_keys
from gateway.pipeline.apply import Applying, Outcome
from gateway.storage import claims as store
from gateway.storage import interchanges as ix
from tests.conftest import TEST_KEYS, example, received_claims

SEALER = Sealer(parse_keys(TEST_KEYS))


async def _write(engine: Any, claim_id: str, number: str) -> list[str]:
    """Apply `number` as the payer's claim number; the claim UPDATEs that were sent."""
    sent: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("UPDATE CLAIMS"):
            sent.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        async with engine.begin() as conn:
            (record,) = await store.get_claims(conn, [claim_id])
            work = Applying(
                conn,
                cast(ix.Interchange, None),  # write() does not look at the file
                Outcome(["835"]),
                {},
                {record.id: record},
                {},
                set(),
                payer_numbers={record.id: number},
            )
            await work.write()
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)
    return sent


async def test_a_repeated_payer_claim_number_is_not_written_again(engine: Any) -> None:
    (claim,) = await received_claims(
        engine, SEALER, "numbers", [example("professional-office-visit.json")]
    )

    assert len(await _write(engine, claim.id, "PAYER-1")) == 1  # the 277CA's
    assert await _write(engine, claim.id, "PAYER-1") == []  # the 835 repeats it
    assert len(await _write(engine, claim.id, "PAYER-2")) == 1  # a new one is kept

    async with engine.connect() as conn:
        (record,) = await store.get_claims(conn, [claim.id])
    assert record.payer_claim_number == "PAYER-2"
