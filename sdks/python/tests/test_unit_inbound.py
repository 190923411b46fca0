"""What the inbound-call methods send and answer, offline: calls by direction,
voicemails, staff alerts and their settings, the sandbox's ring."""

from __future__ import annotations

import inspect
import json
from typing import Any

import httpx
import pytest

from kaicalls import (
    AlertList,
    AlertSettings,
    AsyncKaiCalls,
    Call,
    KaiCalls,
    StaffAlert,
    Voicemail,
    VoicemailList,
)
from scripted import Script, async_client, client, reply


def _ts(i: int) -> str:
    return f"2026-02-15T14:30:00.{999_999 - i:06d}Z"


def _items(prefix: str, n: int) -> list[dict[str, Any]]:
    return [{"id": f"{prefix}{i}", "created_at": _ts(i)} for i in range(n)]


def _paged(items: list[dict[str, Any]], key: str):  # type: ignore[no-untyped-def]
    """A fake list endpoint over ``items`` (newest first): ``after`` is strictly older."""

    def answer(request: httpx.Request) -> httpx.Response:
        bound = request.url.params.get("after")
        limit = int(request.url.params.get("limit", 50))
        rows = [i for i in items if bound is None or i["created_at"] < bound]
        return reply(200, {key: rows[:limit], "has_more": len(rows) > limit})

    return answer


def test_calls_list_and_iter_send_direction() -> None:
    page = _paged(_items("c", 3), "calls")
    script = Script(page, page, page, page)
    kai, _ = client(script)
    kai.calls.list(direction="inbound", limit=5)
    assert dict(script.last.url.params) == {"direction": "inbound", "limit": "5"}
    ids = [c.id for c in kai.calls.iter(direction="outbound", limit=2)]
    assert ids == ["c0", "c1", "c2"]
    assert all(r.url.params["direction"] == "outbound" for r in script.requests[1:])
    assert [type(c) for c in kai.calls.list().calls] == [Call] * 3
    assert "direction" not in script.last.url.params


def test_ring_sends_from_and_an_idempotency_key() -> None:
    script = Script(*[reply(201, {"id": "c1", "direction": "inbound", "from": "+1"}) for _ in "ab"])
    kai, _ = client(script)
    call = kai.sandbox.ring(to="+15125552022", from_="+15005550102")
    req = script.last
    assert (req.method, req.url.path) == ("POST", "/api/v1/sandbox/inbound-calls")
    assert json.loads(req.content) == {"to": "+15125552022", "from": "+15005550102"}
    assert req.headers["idempotency-key"]
    assert type(call) is Call and call["from"] == "+1"
    kai.sandbox.ring("+15125552022", "+15005550101", idempotency_key="ring-1")
    assert script.last.headers["idempotency-key"] == "ring-1"
    assert json.loads(script.last.content)["from"] == "+15005550101"


def test_voicemails_list_and_iter() -> None:
    page = _paged(_items("v", 5), "voicemails")
    script = Script(page, page, page, page)
    kai, _ = client(script)
    listed = kai.voicemails.list(business_id="b1", after=_ts(0), limit=2)
    assert script.last.url.path == "/api/v1/voicemails"
    assert dict(script.last.url.params) == {"business_id": "b1", "after": _ts(0), "limit": "2"}
    assert type(listed) is VoicemailList and type(listed.voicemails[0]) is Voicemail
    items = list(kai.voicemails.iter(limit=2))
    assert [v.id for v in items] == [f"v{i}" for i in range(5)]
    assert all(type(v) is Voicemail for v in items)
    assert [r.url.params.get("after") for r in script.requests[1:]] == [None, _ts(1), _ts(3)]


def test_staff_alert_settings_get_and_patch() -> None:
    answer = {"business_id": "b1", "enabled": True, "emails": ["a@b.test"], "events": []}
    script = Script(reply(200, answer), reply(200, answer), reply(200, answer))
    kai, _ = client(script)
    assert type(kai.staff_alerts.settings()) is AlertSettings
    assert (script.last.method, script.last.url.path) == ("GET", "/api/v1/staff-alerts/settings")
    assert not script.last.url.params
    kai.staff_alerts.settings(business_id="b1")
    assert dict(script.last.url.params) == {"business_id": "b1"}
    updated = kai.staff_alerts.update_settings(
        emails=("a@b.test",), events=["voicemail"], webhook_url="", business_id="b1"
    )
    assert type(updated) is AlertSettings
    assert (script.last.method, script.last.url.path) == (
        "PATCH",
        "/api/v1/staff-alerts/settings",
    )
    assert json.loads(script.last.content) == {
        "business_id": "b1",
        "emails": ["a@b.test"],
        "webhook_url": "",
        "events": ["voicemail"],
    }


def test_staff_alerts_list_and_iter() -> None:
    page = _paged(_items("a", 3), "alerts")
    script = Script(page, page, page)
    kai, _ = client(script)
    listed = kai.staff_alerts.list(call_id="c1", limit=10)
    assert script.last.url.path == "/api/v1/staff-alerts"
    assert dict(script.last.url.params) == {"call_id": "c1", "limit": "10"}
    assert type(listed) is AlertList and type(listed.alerts[0]) is StaffAlert
    assert [a.id for a in kai.staff_alerts.iter(business_id="b1", limit=2)] == ["a0", "a1", "a2"]
    assert all(r.url.params["business_id"] == "b1" for r in script.requests[1:])


@pytest.mark.anyio
async def test_the_async_client_has_them_too() -> None:
    voicemails = _paged(_items("v", 3), "voicemails")
    alerts = _paged(_items("a", 2), "alerts")
    script = Script(
        reply(201, {"id": "c1", "direction": "inbound"}),
        voicemails,
        voicemails,
        alerts,
        reply(200, {"emails": []}),
    )
    kai, _ = async_client(script)
    async with kai:
        call = await kai.sandbox.ring(to="+15125552022", from_="+15005550102")
        assert type(call) is Call
        assert json.loads(script.requests[0].content)["from"] == "+15005550102"
        assert [v.id async for v in kai.voicemails.iter(limit=2)] == ["v0", "v1", "v2"]
        assert [a.id async for a in kai.staff_alerts.iter()] == ["a0", "a1"]
        assert type(await kai.staff_alerts.update_settings(emails=[])) is AlertSettings
        assert json.loads(script.last.content) == {"emails": []}


def _params(fn: Any) -> list[tuple[str, Any, Any]]:
    return [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()]


@pytest.mark.parametrize("resource", ["voicemails", "staff_alerts", "sandbox", "calls"])
def test_sync_and_async_have_the_same_surface(resource: str) -> None:
    sync, asyn = getattr(KaiCalls("k"), resource), getattr(AsyncKaiCalls("k"), resource)
    names = [n for n in dir(sync) if not n.startswith("_")]
    assert names == [n for n in dir(asyn) if not n.startswith("_")]
    for name in names:
        assert _params(getattr(sync, name)) == _params(getattr(asyn, name)), name
