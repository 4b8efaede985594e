"""GET /v1/files and /v1/interchanges against real SQLite and PostgreSQL: paged like
/v1/claims (limit, next_cursor, cursor), bad query values refused by name, each submitter
seeing only its own."""

from __future__ import annotations

from typing import Any

from gateway.api import listing
from gateway.context import ENGINE, SEALER
from gateway.storage import claims as store
from gateway.storage import files as fs
from gateway.storage import interchanges as ix
from tests.conftest import auth, new_submitter


async def add_files(client: Any, submitter_id: str, directions: list[str]) -> list[str]:
    """Files in this order (oldest first), as intake and answers record them."""
    async with client.app[ENGINE].begin() as conn:
        return [
            (
                await fs.add_file(
                    conn,
                    client.app[SEALER],
                    submitter_id=submitter_id,
                    direction=direction,
                    channel="api",
                    kind="837" if direction == fs.INBOUND else "999",
                    name=f"file-{n}.x12",
                    body=f"ISA*{n}~".encode(),
                    state=fs.PROCESSED,
                )
            ).id
            for n, direction in enumerate(directions)
        ]


async def add_interchanges(client: Any, submitter_id: str | None, states: list[str]) -> list[str]:
    """Interchanges in this order (oldest first): outbound for a submitter's claims, inbound
    (a payer's answer matching no claim) without one."""
    direction = ix.OUTBOUND if submitter_id else ix.INBOUND
    async with client.app[ENGINE].begin() as conn:
        return [
            (
                await ix.insert_interchange(
                    conn,
                    client.app[SEALER],
                    direction=direction,
                    payer_id="SIMCOM01",
                    kind="837P" if submitter_id else "277CA",
                    body=f"ISA*{n}~".encode(),
                    state=state,
                    submitter_id=submitter_id,
                )
            ).id
            for n, state in enumerate(states)
        ]


async def every_page(client: Any, api_key: str, path: str, limit: int) -> list[list[str]]:
    """The ids of each page, following next_cursor to the end."""
    pages, cursor = [], None
    while True:
        separator = "&" if "?" in path else "?"
        query = f"{path}{separator}limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        response = await client.get(query, headers=auth(api_key))
        assert response.status == 200, await response.text()
        page = await response.json()
        pages.append([item["id"] for item in page["items"]])
        cursor = page["next_cursor"]
        if cursor is None:
            return pages


async def assert_refused(client: Any, api_key: str, query: str, *parameters: str) -> None:
    response = await client.get(query, headers=auth(api_key))
    assert response.status == 400, (query, await response.text())
    assert response.content_type == "application/problem+json"
    problem = await response.json()
    assert problem["type"] == "/problems/bad-request"
    assert {e["parameter"] for e in problem["errors"]} == set(parameters), query


async def test_files_pages_hold_every_file_once_newest_first(client: Any) -> None:
    me, api_key = await new_submitter(client)
    mine = me.id
    other, other_key = await new_submitter(client)
    # Interleaved with another submitter's files, so the pks of one submitter have gaps.
    ids: list[str] = []
    for _ in range(3):
        ids += await add_files(client, mine, [fs.INBOUND, fs.OUTBOUND])
        await add_files(client, other.id, [fs.INBOUND])
    ids += await add_files(client, mine, [fs.INBOUND])

    pages = await every_page(client, api_key, "/v1/files", limit=3)
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [i for p in pages for i in p] == list(reversed(ids))
    # A page that ends exactly at the last file says there is no next one.
    assert [len(p) for p in await every_page(client, api_key, "/v1/files", limit=7)] == [7]

    # The filter holds across pages.
    inbound = [
        i for p in await every_page(client, api_key, "/v1/files?direction=inbound", 2) for i in p
    ]
    assert inbound == list(reversed(ids[0::2]))

    theirs = [i for p in await every_page(client, other_key, "/v1/files", limit=2) for i in p]
    assert len(theirs) == 3 and not set(theirs) & set(ids)


async def test_files_default_and_largest_page(client: Any) -> None:
    me, api_key = await new_submitter(client)
    mine = me.id
    ids = await add_files(client, mine, [fs.INBOUND] * (listing.DEFAULT_PAGE + 2))
    first = await (await client.get("/v1/files", headers=auth(api_key))).json()
    assert [f["id"] for f in first["items"]] == list(reversed(ids))[: listing.DEFAULT_PAGE]
    assert first["next_cursor"]
    rest = await (
        await client.get(f"/v1/files?cursor={first['next_cursor']}", headers=auth(api_key))
    ).json()
    assert [f["id"] for f in rest["items"]] == list(reversed(ids[:2]))
    assert rest["next_cursor"] is None
    whole = await (
        await client.get(f"/v1/files?limit={listing.MAX_PAGE}", headers=auth(api_key))
    ).json()
    assert len(whole["items"]) == len(ids) and whole["next_cursor"] is None


async def test_files_bad_query_values_are_named(client: Any) -> None:
    me, api_key = await new_submitter(client)
    mine = me.id
    await add_files(client, mine, [fs.INBOUND] * 3)
    claims_cursor = store.encode_cursor(store.CLAIMS_CURSOR, 10**6)
    for query, parameters in [
        ("limit=abc", ["limit"]),
        ("limit=-5", ["limit"]),
        ("limit=0", ["limit"]),
        (f"limit={listing.MAX_PAGE + 1}", ["limit"]),
        ("limit=%C2%B2", ["limit"]),  # "²" is a digit to str.isdigit(), not to int()
        ("limit=" + "9" * 5000, ["limit"]),
        ("limit=2&limit=3", ["limit"]),
        ("cursor=AAAA", ["cursor"]),
        ("cursor=%25%25", ["cursor"]),
        (f"cursor={store.encode_cursor(fs.CURSOR, 10**19)}", ["cursor"]),  # past BIGINT
        (f"cursor={claims_cursor}", ["cursor"]),  # another listing's cursor
        ("direction=sideways", ["direction"]),
        ("direction=inbound&direction=outbound", ["direction"]),
        ("colour=red", ["colour"]),
        ("limit=abc&cursor=AAAA&direction=up", ["limit", "cursor", "direction"]),
    ]:
        await assert_refused(client, api_key, f"/v1/files?{query}", *parameters)
    # Without a key, the query is not looked at.
    assert (await client.get("/v1/files?limit=abc")).status == 401


async def test_interchanges_paged_and_only_a_submitters_own(client: Any) -> None:
    me, api_key = await new_submitter(client)
    mine = me.id
    other, other_key = await new_submitter(client)
    ids: list[str] = []
    nobodys: list[str] = []
    for _ in range(2):
        ids += await add_interchanges(client, mine, [ix.SENT, ix.DEAD])
        await add_interchanges(client, other.id, [ix.SENT])
        nobodys += await add_interchanges(client, None, [ix.UNMATCHED])
    ids += await add_interchanges(client, mine, [ix.READY])

    pages = await every_page(client, api_key, "/v1/interchanges", limit=2)
    assert [len(p) for p in pages] == [2, 2, 1]
    assert [i for p in pages for i in p] == list(reversed(ids))
    sent = await every_page(client, api_key, "/v1/interchanges?state=sent,ready", limit=1)
    assert [i for p in sent for i in p] == [ids[4], ids[2], ids[0]]
    # Files that matched no claim belong to no submitter: only operators see them.
    refused = await client.get("/v1/interchanges?unmatched=true", headers=auth(api_key))
    assert refused.status == 403
    assert "operators" in (await refused.json())["detail"]
    theirs = [i for p in await every_page(client, other_key, "/v1/interchanges", 1) for i in p]
    assert len(theirs) == 2 and not set(theirs) & set(ids)

    async with client.app[ENGINE].begin() as conn:
        _, operator_key = await store.create_submitter(conn, "operator", operator=True)
    everything = await every_page(client, operator_key, "/v1/interchanges", limit=4)
    assert [len(p) for p in everything] == [4, 4, 1]
    assert set(ids) < {i for p in everything for i in p}
    unmatched = await every_page(client, operator_key, "/v1/interchanges?unmatched=true", limit=1)
    assert unmatched == [[nobodys[1]], [nobodys[0]]]


async def test_interchanges_bad_query_values_are_named(client: Any, api_key: str) -> None:
    for query, parameters in [
        ("unmatched=maybe", ["unmatched"]),
        ("unmatched=true&unmatched=false", ["unmatched"]),
        ("limit=abc", ["limit"]),
        ("limit=-5", ["limit"]),
        ("limit=1&limit=1", ["limit"]),
        ("cursor=AAAA", ["cursor"]),
        (f"cursor={store.encode_cursor(fs.CURSOR, 5)}", ["cursor"]),  # a files cursor
        ("state=lost", ["state"]),
        ("direction=sideways", ["direction"]),
        ("payer_id=A&payer_id=B", ["payer_id"]),
        ("colour=red", ["colour"]),
    ]:
        await assert_refused(client, api_key, f"/v1/interchanges?{query}", *parameters)
    ok = await client.get("/v1/interchanges?unmatched=false&limit=200", headers=auth(api_key))
    assert ok.status == 200
    assert await ok.json() == {"items": [], "next_cursor": None}


async def test_claims_refuse_a_repeated_page_parameter(client: Any, api_key: str) -> None:
    await assert_refused(client, api_key, "/v1/claims?limit=2&limit=3", "limit")
    files_cursor = store.encode_cursor(fs.CURSOR, 5)
    await assert_refused(client, api_key, f"/v1/claims?cursor={files_cursor}", "cursor")


async def test_an_837_whose_claims_were_resent_is_not_re_driven(client: Any) -> None:
    submitter, api_key = await new_submitter(client)
    (dead,) = await add_interchanges(client, submitter.id, [ix.DEAD])
    async with client.app[ENGINE].begin() as conn:
        await ix.set_state(
            conn, dead, ix.DEAD, detail={"issues": [], "claims_resent_in": "another-837"}
        )
    response = await client.post(f"/v1/interchanges/{dead}/redrive", headers=auth(api_key))
    assert response.status == 409
    assert "another-837" in (await response.json())["detail"]
