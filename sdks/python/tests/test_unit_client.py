"""What the client sends and returns: URLs, headers, queries, bodies, KaiObject, the
0.1.0 surface and the async client's parity with it."""

from __future__ import annotations

import copy
import inspect
import json
import pickle
from typing import Any

import httpx
import pytest

import kaicalls
from kaicalls import AsyncKaiCalls, KaiCalls, KaiObject
from scripted import BASE, Script, async_client, client, reply

# ------------------------------------------------------------------- construction


def test_api_key_is_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KAICALLS_API_KEY", raising=False)
    with pytest.raises(ValueError, match="api_key is required"):
        KaiCalls()
    with pytest.raises(ValueError, match="api_key is required"):
        KaiCalls(api_key="")
    monkeypatch.setenv("KAICALLS_API_KEY", "kc_live_env")
    assert KaiCalls()._http.config.api_key == "kc_live_env"


def test_base_url_from_argument_env_or_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KAICALLS_BASE_URL", raising=False)
    assert KaiCalls("k").base_url == "https://www.kaicalls.com"
    monkeypatch.setenv("KAICALLS_BASE_URL", "http://127.0.0.1:9999/")
    assert KaiCalls("k").base_url == "http://127.0.0.1:9999"
    assert KaiCalls("k", base_url="http://x.test/api/v1/").base_url == "http://x.test"
    assert AsyncKaiCalls("k").base_url == "http://127.0.0.1:9999"


def test_requests_go_to_base_url_plus_api_path() -> None:
    script = Script(reply(200, {"agents": []}))
    kai, _ = client(script)
    kai.agents.list()
    assert str(script.last.url) == f"{BASE}/api/v1/agents"


def test_headers_match_0_1_0_plus_user_agent() -> None:
    script = Script(reply(200, {}), reply(200, {"success": True}))
    kai, _ = client(script, default_headers={"X-Trace": "t1"})
    kai.calls.get("c1")
    req = script.requests[0]
    assert req.headers["authorization"] == "Bearer kc_test_unit"
    assert req.headers["content-type"] == "application/json"  # also on GET, as 0.1.0
    assert req.headers["user-agent"] == f"kaicalls-python/{kaicalls.__version__}"
    assert req.headers["x-trace"] == "t1"
    assert req.content == b""
    kai.webhooks.delete("wh_1")
    assert script.last.method == "DELETE" and script.last.content == b""


# ------------------------------------------------------------------- query and body


def test_query_drops_none_and_percent_encodes_plus() -> None:
    script = Script(reply(200, {"numbers": []}))
    kai, _ = client(script)
    kai.phone_numbers.list(phone_number="+15125551234")
    assert script.last.url.query == b"phone_number=%2B15125551234"


def test_leads_status_list_is_joined_with_commas() -> None:
    script = Script(reply(200, {"leads": [], "has_more": False}))
    kai, _ = client(script)
    kai.leads.list(status=["new", "contacted"], score_gte=10, limit=5)
    params = script.last.url.params
    assert params["status"] == "new,contacted"
    assert (params["score_gte"], params["limit"]) == ("10", "5")
    assert "source" not in params


def test_event_filters_map_from_and_repeat_lists() -> None:
    script = Script(reply(200, {"events": [], "has_more": False}))
    kai, _ = client(script)
    kai.events.list(from_="2026-01-01T00:00:00Z", event_type=["call.queued", "call.completed"])
    params = script.last.url.params
    assert params["from"] == "2026-01-01T00:00:00Z"
    assert params.get_list("event_type") == ["call.queued", "call.completed"]


def test_create_body_is_compact_json_with_first_message() -> None:
    script = Script(reply(201, {"id": "c"}))
    kai, _ = client(script)
    kai.calls.create(
        agent_id="a",
        to="+15125551234",
        name="John Smith",
        first_message="Hey John",
        max_duration=300,
        metadata={"order": "1234"},
    )
    body = json.loads(script.last.content)
    assert body == {
        "agent_id": "a",
        "to": "+15125551234",
        "name": "John Smith",
        "first_message": "Hey John",
        "max_duration": 300,
        "metadata": {"order": "1234"},
    }


def test_update_sends_only_given_fields() -> None:
    script = Script(reply(200, {"id": "a"}))
    kai, _ = client(script)
    kai.agents.update("a", name="New", first_message=None, voice={"id": None})
    assert script.last.method == "PATCH"
    assert json.loads(script.last.content) == {"id": "a", "name": "New", "voice": {"id": None}}


def test_campaign_requests_carry_the_id_in_the_query_and_a_compact_body() -> None:
    script = Script(*[reply(200, {"id": "cp"}) for _ in range(8)])
    kai, _ = client(script)
    kai.campaigns.create(
        "Spring",
        "a",
        [{"key": "k1", "to": "+15125551234", "variables": {"order": "A-1"}}],
        lead_filter={"status": ["new"], "score_gte": 50},
        max_concurrency=5,
        calling_window={"start": "09:00", "end": "17:00", "quiet_days": ["sun"]},
        retry={"max_attempts": 2, "retry_on": ["busy"]},
        start=True,
        idempotency_key="spring-1",
    )
    req = script.last
    assert (req.method, req.url.path) == ("POST", "/api/v1/campaigns")
    assert req.headers["idempotency-key"] == "spring-1"
    assert json.loads(req.content) == {
        "name": "Spring",
        "agent_id": "a",
        "start": True,
        "max_concurrency": 5,
        "calling_window": {"start": "09:00", "end": "17:00", "quiet_days": ["sun"]},
        "retry": {"max_attempts": 2, "retry_on": ["busy"]},
        "contacts": [{"key": "k1", "to": "+15125551234", "variables": {"order": "A-1"}}],
        "lead_filter": {"status": ["new"], "score_gte": 50},
    }
    kai.campaigns.update("cp", max_concurrency=2)
    assert script.last.method == "PATCH"
    assert json.loads(script.last.content) == {"id": "cp", "max_concurrency": 2}
    kai.campaigns.add_contacts("cp", lead_ids=["l1"])
    assert (script.last.url.path, script.last.url.params["id"]) == (
        "/api/v1/campaigns/contacts",
        "cp",
    )
    assert json.loads(script.last.content) == {"lead_ids": ["l1"]}
    for action in ("start", "pause", "resume", "cancel"):
        getattr(kai.campaigns, action)("cp")
        assert (script.last.method, script.last.url.path) == ("POST", f"/api/v1/campaigns/{action}")
        assert dict(script.last.url.params) == {"id": "cp"} and not script.last.content
    kai.calls.list(campaign_id="cp", limit=5)
    assert dict(script.last.url.params) == {"campaign_id": "cp", "limit": "5"}


def test_raw_request_passes_path_query_body_headers() -> None:
    script = Script(reply(200, [{"a": 1}]))
    kai, _ = client(script)
    out = kai.request(
        "POST",
        "/api/sdr/pipeline",
        query={"businessId": "b", "x": None},
        body={"k": None},
        headers={"X-A": "1"},
    )
    assert out == [{"a": 1}] and isinstance(out[0], KaiObject)
    req = script.last
    assert req.url.path == "/api/sdr/pipeline" and req.url.query == b"businessId=b"
    assert json.loads(req.content) == {"k": None}  # raw bodies are sent as given
    assert req.headers["x-a"] == "1"


def test_non_json_and_empty_success_bodies() -> None:
    script = Script(httpx.Response(200, content=b"plain"), httpx.Response(200, content=b""))
    kai, _ = client(script)
    assert kai.request("GET", "/x") == "plain"
    assert kai.request("GET", "/y") is None


# ------------------------------------------------------------------------ KaiObject


def test_kaiobject_attribute_access_nested_and_missing() -> None:
    obj = KaiObject(
        {"id": "c", "quality_dimensions": {"empathy": 88}, "transcript": [{"role": "agent"}]}
    )
    assert obj.id == "c" and obj.quality_dimensions.empathy == 88
    assert obj.transcript[0].role == "agent"
    assert obj["transcript"][0].role == "agent"  # wrapped when read by subscript, too
    assert obj.nothing_here is None
    obj.note = {"a": 1}
    assert obj["note"].a == 1
    del obj.note
    assert "note" not in obj
    assert obj == {
        "id": "c",
        "quality_dimensions": {"empathy": 88},
        "transcript": [{"role": "agent"}],
    }


def test_kaiobject_copies_and_pickles() -> None:
    obj = KaiObject({"a": {"b": [1, {"c": 2}]}})
    assert copy.deepcopy(obj) == obj
    assert copy.copy(obj) == obj
    assert pickle.loads(pickle.dumps(obj)) == obj


# ------------------------------------------------------------------- requests session


class FakeRequestsResponse:
    def __init__(self, status: int, body: Any, headers: dict[str, str]) -> None:
        self.status_code = status
        self.content = json.dumps(body).encode()
        self.headers = headers


class FakeRequestsSession:
    """Duck-types requests.Session.request, which 0.1.0 callers may pass."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict[str, Any]]] = []

    def request(self, method: str, url: str, **kwargs: Any) -> FakeRequestsResponse:
        self.calls.append((method, url, kwargs))
        if "missing" in str(kwargs.get("params")):
            return FakeRequestsResponse(
                404,
                {"error": {"code": "not_found", "message": "Call not found"}},
                {"Request-Id": "req_x"},
            )
        return FakeRequestsResponse(201, {"id": "c1", "status": "queued"}, {"Request-Id": "req_y"})


def test_a_requests_session_is_used_as_the_transport() -> None:
    session = FakeRequestsSession()
    kai = KaiCalls("kc_live_k", base_url=BASE, session=session)
    call = kai.calls.create(agent_id="a", to="+15125551234")
    assert call.id == "c1"
    method, url, kwargs = session.calls[0]
    assert (method, url) == ("POST", f"{BASE}/api/v1/calls")
    assert json.loads(kwargs["data"]) == {"agent_id": "a", "to": "+15125551234"}
    assert kwargs["headers"]["Authorization"] == "Bearer kc_live_k"
    assert kwargs["timeout"] == 30.0
    with pytest.raises(kaicalls.NotFoundError) as excinfo:
        kai.calls.get("missing")
    assert excinfo.value.request_id == "req_x"


def test_an_httpx_client_may_be_passed_as_session() -> None:
    script = Script(reply(200, {"agents": []}))
    kai = KaiCalls("k", base_url=BASE, session=httpx.Client(transport=httpx.MockTransport(script)))
    assert kai.agents.list().agents == []


def test_session_of_another_type_is_refused() -> None:
    with pytest.raises(TypeError):
        KaiCalls("k", session=object())


def test_signup_sends_no_authorization() -> None:
    session = FakeRequestsSession()
    out = kaicalls.signup(
        "Smith Law", "a@b.test", website="https://x", base_url=BASE, session=session
    )
    assert out.id == "c1"
    _, url, kwargs = session.calls[0]
    assert url == f"{BASE}/api/v1/signup"
    assert "Authorization" not in kwargs["headers"]
    assert json.loads(kwargs["data"]) == {
        "business_name": "Smith Law",
        "email": "a@b.test",
        "website": "https://x",
    }


# -------------------------------------------------------------------------- surface

PUBLISHED_SURFACE = {
    "calls": ["create", "get", "list", "wait"],
    "recordings": ["get"],
    "agents": ["list", "get", "create", "update", "versions"],
    "leads": ["list", "get", "create", "update", "audit"],
    "sms": ["send", "update_prompt", "conversations", "messages"],
    "transcripts": ["list"],
    "phone_numbers": ["list", "available", "assign", "release"],
    "workspaces": ["list", "get", "create", "update"],
    "webhooks": ["list", "create", "delete", "test", "rotate_secret"],
    "analytics": ["dashboard", "calls", "funnel", "agents", "weekly", "businesses"],
    "evals": ["create", "list", "get", "update", "delete", "run", "get_run"],
    "events": ["list", "deliveries", "replay", "backfill"],
    "communication_runs": [
        "validate",
        "preview",
        "create",
        "list",
        "pause",
        "cancel",
        "jobs",
        "attempts",
    ],
    "discovery": ["capabilities", "openapi", "schemas", "health"],
    "account": ["balance", "usage"],
}

ADDITIONS = {
    "calls": ["end", "iter"],
    "leads": ["iter"],
    "transcripts": ["iter"],
    "events": ["iter"],
    "account": ["iter_usage"],
    "webhooks": ["secret", "rotate_business_secret", "verify"],
}


def _params(fn: Any) -> list[tuple[str, Any, Any]]:
    return [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()]


@pytest.mark.parametrize("resource", sorted(PUBLISHED_SURFACE))
def test_sync_and_async_clients_have_the_same_surface(resource: str) -> None:
    sync = getattr(KaiCalls("k"), resource)
    asyn = getattr(AsyncKaiCalls("k"), resource)
    for name in PUBLISHED_SURFACE[resource] + ADDITIONS.get(resource, []):
        assert _params(getattr(sync, name)) == _params(getattr(asyn, name)), (resource, name)


def test_sync_and_async_campaigns_have_the_same_surface() -> None:
    sync, asyn = KaiCalls("k").campaigns, AsyncKaiCalls("k").campaigns
    names = [n for n in dir(sync) if not n.startswith("_")]
    assert names == [n for n in dir(asyn) if not n.startswith("_")]
    assert {"iter", "iter_contacts", "add_contacts", "start", "resume"} <= set(names)
    for name in names:
        assert _params(getattr(sync, name)) == _params(getattr(asyn, name)), name


def test_published_positional_parameters_are_kept() -> None:
    kai = KaiCalls("k")
    names = [
        p
        for p, kind, _ in _params(kai.calls.create)
        if kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
    ]
    assert names == [
        "agent_id",
        "to",
        "name",
        "context",
        "first_message",
        "lead_id",
        "webhook_url",
        "max_duration",
    ]
    assert _params(kai.calls.wait) == [
        ("call_id", inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.empty),
        ("interval", inspect.Parameter.POSITIONAL_OR_KEYWORD, 3.0),
        ("timeout", inspect.Parameter.POSITIONAL_OR_KEYWORD, 600.0),
    ]
    ctor = [
        p for p, kind, _ in _params(KaiCalls) if kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
    ]
    assert ctor == ["api_key", "base_url", "timeout", "session"]


def test_public_names_of_0_1_0_are_exported() -> None:
    for name in ("KaiCalls", "KaiCallsError", "KaiObject", "signup"):
        assert name in kaicalls.__all__
    assert kaicalls.__version__ == "0.2.0"


@pytest.mark.anyio
async def test_async_client_returns_kaiobjects_and_closes() -> None:
    script = Script(
        reply(200, {"id": "c1", "status": "completed", "quality_dimensions": {"empathy": 90}})
    )
    kai, _ = async_client(script)
    async with kai:
        call = await kai.calls.get("c1")
    assert call.quality_dimensions.empathy == 90
    assert script.last.url.params["id"] == "c1"


@pytest.mark.anyio
async def test_async_wait_polls_until_finished() -> None:
    statuses = ["queued", "ringing", "in_progress", "completed"]
    script = Script(*[reply(200, {"id": "c1", "status": s}) for s in statuses])
    kai, _ = async_client(script)
    result = await kai.calls.wait("c1", interval=0.0)
    assert result.status == "completed" and len(script.requests) == 4


def test_wait_treats_any_other_status_as_finished() -> None:
    script = Script(reply(200, {"id": "c1", "status": "in-progress"}), reply(200, {"id": "c1"}))
    kai, _ = client(script)
    assert kai.calls.wait("c1", interval=0.0).status is None
