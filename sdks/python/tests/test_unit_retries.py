"""Retries, backoff, Retry-After and idempotency keys, against a scripted transport."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest

import kaicalls
from kaicalls import (
    APIConnectionError,
    APITimeoutError,
    CallFailedError,
    InternalError,
    KaiCallsError,
    RateLimitedError,
)
from scripted import Script, async_client, client, error, reply

CALL = {"id": "call_1", "status": "queued"}


def test_429_waits_retry_after_then_succeeds() -> None:
    script = Script(error(429, "rate_limited", retry_after="2"), reply(200, {"agents": []}))
    kai, sleeps = client(script)
    assert kai.agents.list() == {"agents": []}
    assert sleeps == [2.0]
    assert len(script.requests) == 2


def test_429_retry_after_http_date_is_honoured() -> None:
    script = Script(
        error(429, "rate_limited", retry_after="Wed, 21 Oct 2015 07:28:00 GMT"),
        reply(200, {"ok": True}),
    )
    kai, sleeps = client(script)
    assert kai.account.balance().ok is True
    assert sleeps == [0.0]  # a date in the past: retry at once


def test_429_without_retry_after_backs_off_exponentially() -> None:
    script = Script(
        error(429, "rate_limited"), error(429, "rate_limited"), reply(200, {"ok": True})
    )
    kai, sleeps = client(script)
    kai.account.balance()
    assert len(sleeps) == 2
    assert 0.375 <= sleeps[0] <= 0.5 and 0.75 <= sleeps[1] <= 1.0


def test_429_gives_up_after_max_retries_with_typed_error() -> None:
    script = Script(*[error(429, "rate_limited", "slow down", retry_after="1")] * 3)
    kai, sleeps = client(script)
    with pytest.raises(RateLimitedError) as excinfo:
        kai.calls.list()
    assert sleeps == [1.0, 1.0]
    err = excinfo.value
    assert (err.status, err.code, err.message, err.retry_after) == (
        429,
        "rate_limited",
        "slow down",
        1.0,
    )
    assert err.request_id == "req_test123"


def test_retry_after_beyond_the_bound_is_not_waited_out() -> None:
    script = Script(error(429, "rate_limited", retry_after="3600"))
    kai, sleeps = client(script, max_retry_delay=60)
    with pytest.raises(RateLimitedError) as excinfo:
        kai.agents.list()
    assert sleeps == []
    assert excinfo.value.retry_after == 3600.0


def test_max_retries_zero_disables_retries() -> None:
    script = Script(error(429, "rate_limited", retry_after="1"))
    kai, sleeps = client(script, max_retries=0)
    with pytest.raises(RateLimitedError):
        kai.agents.list()
    assert sleeps == []


def test_max_retries_is_configurable() -> None:
    script = Script(*[error(503, "internal_error")] * 5, reply(200, {"ok": True}))
    kai, sleeps = client(script, max_retries=5)
    assert kai.agents.list().ok is True
    assert len(sleeps) == 5
    assert sleeps[4] <= 8.0  # capped


def test_5xx_on_get_is_retried() -> None:
    script = Script(error(500, "internal_error"), reply(502), reply(200, {"id": "a1"}))
    kai, sleeps = client(script)
    assert kai.agents.get("a1").id == "a1"
    assert len(sleeps) == 2 and sleeps[1] > sleeps[0] * 1.4


def test_5xx_exhausted_raises_internal_error() -> None:
    script = Script(*[error(500, "internal_error", "An unexpected error occurred")] * 3)
    kai, _ = client(script)
    with pytest.raises(InternalError) as excinfo:
        kai.agents.list()
    assert len(script.requests) == 3
    assert excinfo.value.code == "internal_error"


def test_503_retry_after_is_honoured() -> None:
    script = Script(reply(503, retry_after="4"), reply(200, {"ok": True}))
    kai, sleeps = client(script)
    kai.discovery.health()
    assert sleeps == [4.0]


def test_call_create_retries_5xx_with_the_same_key_and_bytes() -> None:
    script = Script(error(500, "internal_error"), reply(201, CALL))
    kai, sleeps = client(script)
    call = kai.calls.create(agent_id="ag_1", to="+15125551234", name="John Smith")
    assert call.id == "call_1"
    first, second = script.requests
    key = first.headers["idempotency-key"]
    assert uuid.UUID(key).version == 4
    assert second.headers["idempotency-key"] == key
    assert first.content == second.content
    assert len(sleeps) == 1


def test_call_failed_is_final_and_not_retried() -> None:
    script = Script(error(500, "call_failed", "The provider refused the call"))
    kai, sleeps = client(script)
    with pytest.raises(CallFailedError) as excinfo:
        kai.calls.create(agent_id="ag_1", to="+15005550005")
    assert sleeps == [] and len(script.requests) == 1
    assert excinfo.value.status == 500


def test_5xx_on_a_create_the_server_does_not_dedupe_is_not_retried() -> None:
    # POST /agents carries a key, but the server does not honour it there: a retry
    # after a 500 could create the agent twice.
    script = Script(error(500, "internal_error"))
    kai, sleeps = client(script)
    with pytest.raises(InternalError):
        kai.agents.create(business_id="b", name="n", system_prompt="p")
    assert sleeps == [] and len(script.requests) == 1


def test_429_on_a_non_idempotent_post_is_retried() -> None:
    script = Script(error(429, "rate_limited", retry_after="1"), reply(201, {"id": "lead_1"}))
    kai, sleeps = client(script)
    assert kai.leads.create(business_id="b", name="Jane").id == "lead_1"
    assert sleeps == [1.0]


def test_conflict_on_an_in_flight_key_is_retried() -> None:
    script = Script(error(409, "conflict"), reply(201, CALL))
    kai, sleeps = client(script)
    assert kai.calls.create(agent_id="a", to="+15125551234").id == "call_1"
    assert len(sleeps) == 1


def test_connection_error_is_retried_then_wrapped() -> None:
    refused = httpx.ConnectError("connection refused")
    script = Script(refused, refused, refused)
    kai, sleeps = client(script)
    with pytest.raises(APIConnectionError) as excinfo:
        kai.agents.list()
    assert len(sleeps) == 2
    assert excinfo.value.status == 0 and excinfo.value.code == "connection_error"
    assert isinstance(excinfo.value, KaiCallsError)
    assert isinstance(excinfo.value.__cause__, httpx.ConnectError)


def test_connection_error_then_success() -> None:
    script = Script(httpx.ConnectError("refused"), reply(200, {"agents": []}))
    kai, _ = client(script)
    assert kai.agents.list().agents == []


def test_read_timeout_on_unkeyed_post_is_not_retried() -> None:
    script = Script(httpx.ReadTimeout("slow"))
    kai, sleeps = client(script)
    with pytest.raises(APITimeoutError) as excinfo:
        kai.webhooks.test("wh_1")
    assert excinfo.value.code == "timeout"
    assert sleeps == []


def test_read_timeout_on_call_create_is_retried_with_same_key() -> None:
    script = Script(httpx.ReadTimeout("slow"), reply(201, CALL))
    kai, _ = client(script)
    kai.calls.create(agent_id="a", to="+15125551234")
    keys = {r.headers["idempotency-key"] for r in script.requests}
    assert len(keys) == 1


def test_each_create_gets_a_fresh_idempotency_key() -> None:
    script = Script(
        reply(201, CALL), reply(201, CALL), reply(201, {"id": "l"}), reply(201, {"id": "g"})
    )
    kai, _ = client(script)
    kai.calls.create(agent_id="a", to="+15125551234")
    kai.calls.create(agent_id="a", to="+15125551234")
    kai.leads.create(business_id="b", name="x")
    kai.agents.create(business_id="b", name="n", system_prompt="p")
    keys = [r.headers["idempotency-key"] for r in script.requests]
    assert len(set(keys)) == 4
    assert all(uuid.UUID(k).version == 4 for k in keys)


def test_caller_chosen_idempotency_key_is_sent() -> None:
    script = Script(reply(201, CALL))
    kai, _ = client(script)
    kai.calls.create(agent_id="a", to="+15125551234", idempotency_key="order-1234")
    assert script.last.headers["idempotency-key"] == "order-1234"


def test_reads_carry_no_idempotency_key() -> None:
    script = Script(reply(200, CALL))
    kai, _ = client(script)
    kai.calls.get("call_1")
    assert "idempotency-key" not in script.last.headers


def test_raw_request_with_a_key_is_retried() -> None:
    script = Script(error(503, "internal_error"), reply(200, {"ok": True}))
    kai, sleeps = client(script)
    kai.request("POST", "/api/v1/anything", body={"a": 1}, headers={"Idempotency-Key": "k"})
    assert len(sleeps) == 1


def test_call_end_is_retried_as_idempotent() -> None:
    script = Script(error(502, "internal_error"), reply(200, {"id": "c", "status": "completed"}))
    kai, _ = client(script)
    assert kai.calls.end("c").status == "completed"
    assert all(r.url.path == "/api/v1/calls/end" for r in script.requests)
    assert script.last.url.params["id"] == "c"


@pytest.mark.anyio
async def test_async_client_retries_429_and_5xx() -> None:
    script = Script(
        error(429, "rate_limited", retry_after="3"),
        error(500, "internal_error"),
        reply(201, CALL),
    )
    kai, sleeps = async_client(script)
    call = await kai.calls.create(agent_id="a", to="+15125551234")
    assert call.id == "call_1"
    assert sleeps[0] == 3.0 and len(sleeps) == 2
    assert len({r.headers["idempotency-key"] for r in script.requests}) == 1
    assert json.loads(script.last.content) == {"agent_id": "a", "to": "+15125551234"}
    await kai.close()


@pytest.mark.anyio
async def test_async_client_wraps_connection_errors() -> None:
    script = Script(*[httpx.ConnectError("refused")] * 3)
    kai, sleeps = async_client(script)
    with pytest.raises(kaicalls.APIConnectionError):
        await kai.agents.list()
    assert len(sleeps) == 2
