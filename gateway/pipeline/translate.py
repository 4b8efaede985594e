"""Translation: claims to the 837 interchange a payer receives, and pyx12's view of it.

Envelope values come from settings (our sender id) and the payer profile (receiver, ISA15);
control numbers come from the caller.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from edi.claim import Claim
from edi.envelope import EnvelopeParams
from edi.errors import X12ValueError
from edi.validate import AckControl, validate
from edi.write_837 import build_837
from gateway.settings import X12Settings
from payers.profile import PayerProfile


def envelope(
    settings: X12Settings,
    profile: PayerProfile,
    *,
    control_number: int,
    created: datetime,
) -> EnvelopeParams:
    """ISA13, GS06 and the first ST02 all take `control_number`, unique per payer."""
    return EnvelopeParams(
        sender_id=settings.sender_id,
        sender_qualifier=settings.sender_qualifier,
        receiver_id=profile.payer_id,
        interchange_control_number=control_number,
        group_control_number=control_number,
        transaction_control_number=1,
        created=created,
        usage_indicator="P" if profile.usage == "production" else "T",
    )


async def preview_837(claims: Sequence[Claim], params: EnvelopeParams) -> dict[str, Any]:
    """The 837 that would be sent, with pyx12's verdict (run off the event loop)."""
    try:
        text = build_837(claims, params)
    except X12ValueError as error:
        return {"text": None, "error": {"field": error.field, "message": error.reason}}
    ack = AckControl(1, 1, 1, params.created)
    report = await asyncio.to_thread(validate, text, ack)
    return {
        "text": text,
        "pyx12_valid": report.ok,
        "issues": [
            {
                "level": i.level,
                "code": i.code,
                "message": i.message,
                "segment_id": i.segment_id,
                "segment_number": i.segment_number,
                "loop": i.loop,
                "element_position": i.element_position,
            }
            for i in report.issues
        ],
    }
