"""Iteration across pages: cursors, has_more, boundaries, max_items."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from kaicalls import Contact
from scripted import Script, async_client, client, reply


def _ts(i: int) -> str:
    return f"2026-02-15T14:30:00.{999_999 - i:06d}Z"


def _calls(n: int) -> list[dict[str, Any]]:
    return [{"id": f"c{i}", "created_at": _ts(i)} for i in range(n)]


def _paged(items: list[dict[str, Any]], key: str, size: int, cursor: str, inclusive: bool = False):  # type: ignore[no-untyped-def]
    """A fake list endpoint over `items` (newest first) honouring `cursor`."""

    def answer(request: httpx.Request) -> httpx.Response:
        bound = request.url.params.get(cursor)
        limit = int(request.url.params.get("limit", size))
        rows = [
            i
            for i in items
            if bound is None or (i["created_at"] <= bound if inclusive else i["created_at"] < bound)
        ]
        return reply(200, {key: rows[:limit], "has_more": len(rows) > limit})

    return answer


def test_calls_iter_follows_after_cursor_until_has_more_is_false() -> None:
    items = _calls(7)
    page = _paged(items, "calls", 3, "after")
    script = Script(page, page, page)
    kai, _ = client(script)
    ids = [c.id for c in kai.calls.iter(limit=3, agent_id="a1")]
    assert ids == [f"c{i}" for i in range(7)]
    assert [r.url.params.get("after") for r in script.requests] == [None, _ts(2), _ts(5)]
    assert all(
        r.url.params["agent_id"] == "a1" and r.url.params["limit"] == "3" for r in script.requests
    )


def test_iter_is_lazy_and_honours_max_items() -> None:
    page = _paged(_calls(10), "calls", 3, "after")
    script = Script(page, page)
    kai, _ = client(script)
    it = kai.calls.iter(limit=3, max_items=5)
    assert script.requests == []
    assert [c.id for c in it] == ["c0", "c1", "c2", "c3", "c4"]
    assert len(script.requests) == 2


def test_empty_first_page_stops() -> None:
    script = Script(reply(200, {"calls": [], "has_more": False}))
    kai, _ = client(script)
    assert list(kai.calls.iter()) == []


def test_usage_iter_uses_inclusive_end_and_skips_the_boundary_row() -> None:
    rows = [{"id": f"u{i}", "created_at": _ts(i)} for i in range(5)]
    page = _paged(rows, "usage", 2, "end", inclusive=True)
    script = Script(page, page, page, page)
    kai, _ = client(script)
    ids = [u.id for u in kai.account.iter_usage(limit=2, start="2026-02-15T00:00:00Z")]
    assert ids == ["u0", "u1", "u2", "u3", "u4"]
    assert script.requests[1].url.params["end"] == _ts(1)
    assert all(r.url.params["start"] == "2026-02-15T00:00:00Z" for r in script.requests)


def test_leads_iter_never_loses_leads_sharing_a_created_at() -> None:
    same = "2026-02-15T14:30:00.500000Z"
    leads = [
        {"id": "l0", "created_at": "2026-02-15T14:30:00.900000Z"},
        {"id": "l1", "created_at": same},
        {"id": "l2", "created_at": same},
        {"id": "l3", "created_at": "2026-02-15T14:30:00.100000Z"},
    ]

    def answer(request: httpx.Request) -> httpx.Response:
        bound = request.url.params.get("created_before")
        limit = int(request.url.params["limit"])
        rows = [
            r for r in leads if bound is None or r["created_at"] < bound
        ]  # strict, like the server
        return reply(200, {"leads": rows[:limit], "has_more": len(rows) > limit})

    script = Script(answer, answer, answer, answer)
    kai, _ = client(script)
    ids = [lead.id for lead in kai.leads.iter(limit=2, source="web")]
    assert ids == ["l0", "l1", "l2", "l3"]
    assert script.requests[1].url.params["created_before"] == "2026-02-15T14:30:00.500001Z"


def test_transcripts_and_events_iterate() -> None:
    transcripts = [{"call_id": f"c{i}", "created_at": _ts(i)} for i in range(3)]
    events = [{"id": f"e{i}", "created_at": _ts(i)} for i in range(3)]
    t = _paged(transcripts, "transcripts", 2, "after")
    e = _paged(events, "events", 2, "to", inclusive=True)
    script = Script(t, t, e, e, e)
    kai, _ = client(script)
    assert [x.call_id for x in kai.transcripts.iter(limit=2)] == ["c0", "c1", "c2"]
    assert [x.id for x in kai.events.iter(limit=2, object_id="c9")] == ["e0", "e1", "e2"]
    assert script.requests[-1].url.params["object_id"] == "c9"


@pytest.mark.anyio
async def test_async_iter_walks_every_page() -> None:
    page = _paged(_calls(8), "calls", 3, "after")
    script = Script(page, page, page)
    kai, _ = async_client(script)
    ids = [c.id async for c in kai.calls.iter(limit=3)]
    assert ids == [f"c{i}" for i in range(8)]


def test_more_ties_than_a_page_still_terminates_without_repeats() -> None:
    t9, t5, t1 = "2026-02-15T14:30:09Z", "2026-02-15T14:30:05Z", "2026-02-15T14:30:01Z"
    rows = [
        {"id": "u0", "created_at": t9},
        {"id": "u1", "created_at": t5},
        {"id": "u2", "created_at": t5},
        {"id": "u3", "created_at": t5},
        {"id": "u4", "created_at": t1},
    ]

    def answer(request: httpx.Request) -> httpx.Response:
        bound = request.url.params.get("end")
        limit = int(request.url.params["limit"])
        # Compare as instants (the cursor may be re-rendered with microseconds).
        from datetime import datetime

        def at(s: str) -> datetime:
            return datetime.fromisoformat(s)

        kept = [r for r in rows if bound is None or at(r["created_at"]) <= at(bound)]
        return reply(200, {"usage": kept[:limit], "has_more": len(kept) > limit})

    script = Script(*[answer] * 6)
    kai, _ = client(script)
    ids = [u.id for u in kai.account.iter_usage(limit=2)]
    assert len(ids) == len(set(ids))
    assert ids[:3] == ["u0", "u1", "u2"] and ids[-1] == "u4"
    assert len(script.requests) <= 4


def _contacts_page(contacts: list[dict[str, Any]]):  # type: ignore[no-untyped-def]
    """A fake contacts listing: ``after`` is a position, ``next_after`` the last one."""

    def answer(request: httpx.Request) -> httpx.Response:
        after = int(request.url.params.get("after", -1))
        limit = int(request.url.params["limit"])
        rows = [c for c in contacts if c["position"] > after]
        page, more = rows[:limit], len(rows) > limit
        return reply(
            200,
            {
                "contacts": page,
                "has_more": more,
                "next_after": page[-1]["position"] if more else None,
            },
        )

    return answer


def test_campaign_contacts_iterate_following_next_after() -> None:
    contacts = [{"id": f"k{i}", "key": f"k{i}", "position": i} for i in range(5)]
    page = _contacts_page(contacts)
    script = Script(page, page, page)
    kai, _ = client(script)
    items = list(kai.campaigns.iter_contacts("cp", state="pending", limit=2))
    assert [c.key for c in items] == ["k0", "k1", "k2", "k3", "k4"]
    assert all(type(c) is Contact for c in items)
    assert [r.url.params.get("after") for r in script.requests] == [None, "1", "3"]
    assert all(
        r.url.params["id"] == "cp" and r.url.params["state"] == "pending" for r in script.requests
    )


def test_campaign_contacts_stop_when_the_cursor_does_not_move() -> None:
    stuck = reply(200, {"contacts": [{"key": "k0"}], "has_more": True, "next_after": 7})
    script = Script(stuck, stuck)
    kai, _ = client(script)
    assert [c.key for c in kai.campaigns.iter_contacts("cp")] == ["k0", "k0"]
    assert len(script.requests) == 2


@pytest.mark.anyio
async def test_async_campaigns_iterate_campaigns_and_contacts() -> None:
    campaigns = _paged(_calls(5), "campaigns", 2, "after")
    contacts = _contacts_page([{"key": f"k{i}", "position": i} for i in range(3)])
    script = Script(campaigns, campaigns, campaigns, contacts, contacts)
    kai, _ = async_client(script)
    assert [c.id async for c in kai.campaigns.iter(limit=2)] == [f"c{i}" for i in range(5)]
    assert [c.key async for c in kai.campaigns.iter_contacts("cp", limit=2)] == ["k0", "k1", "k2"]
