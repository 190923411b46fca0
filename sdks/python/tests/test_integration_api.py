"""Typed errors, idempotency, calls.end and the async client, against the real server."""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Iterator

import pytest

from conftest import Server, running_server
from kaicalls import (
    AsyncKaiCalls,
    CallFailedError,
    ConflictError,
    ForbiddenError,
    IdempotencyError,
    InvalidRequestError,
    KaiCalls,
    KaiCallsError,
    NotFoundError,
    RateLimitedError,
    UnauthorizedError,
)

pytestmark = pytest.mark.integration


def _phone() -> str:
    return f"+1512555{random.randint(0, 9999):04d}"


@pytest.fixture
def kai(server: Server) -> KaiCalls:
    return KaiCalls(server.live_key, base_url=server.base_url)


def test_invalid_number_raises_invalid_request_naming_to(kai: KaiCalls, server: Server) -> None:
    with pytest.raises(InvalidRequestError) as excinfo:
        kai.calls.create(agent_id=server.agent_id, to="555-1234")
    err = excinfo.value
    assert isinstance(err, KaiCallsError)
    assert (err.status, err.code, err.param) == (400, "invalid_request", "to")
    assert err.message and str(err) == err.message
    assert err.request_id and err.request_id.startswith("req_")
    assert err.body["error"]["param"] == "to"


def test_limit_out_of_range_names_limit(kai: KaiCalls) -> None:
    with pytest.raises(InvalidRequestError) as excinfo:
        kai.calls.list(limit=101)
    assert excinfo.value.param == "limit"


def test_unknown_ids_raise_not_found(kai: KaiCalls) -> None:
    with pytest.raises(NotFoundError) as excinfo:
        kai.calls.get(str(uuid.uuid4()))
    assert (excinfo.value.status, excinfo.value.code) == (404, "not_found")
    assert excinfo.value.request_id
    with pytest.raises(NotFoundError):
        kai.calls.end(str(uuid.uuid4()))


def test_features_the_server_lacks_raise_not_found(kai: KaiCalls) -> None:
    with pytest.raises(NotFoundError):
        kai.sms.conversations(limit=1)
    with pytest.raises(NotFoundError):
        kai.communication_runs.create({"name": "x"})


def test_bad_key_raises_unauthorized(server: Server) -> None:
    bad = KaiCalls("kc_live_" + "0" * 40, base_url=server.base_url)
    with pytest.raises(UnauthorizedError) as excinfo:
        bad.agents.list()
    assert excinfo.value.code == "unauthorized" and excinfo.value.request_id


def test_provider_refusal_raises_call_failed(kai: KaiCalls, server: Server) -> None:
    with pytest.raises(CallFailedError) as excinfo:
        kai.calls.create(agent_id=server.agent_id, to="+15005550005")
    assert (excinfo.value.status, excinfo.value.code) == (500, "call_failed")


def test_idempotency_key_replays_and_rejects_another_body(kai: KaiCalls, server: Server) -> None:
    key = f"order-{uuid.uuid4()}"
    to = _phone()
    first = kai.calls.create(agent_id=server.agent_id, to=to, idempotency_key=key)
    again = kai.calls.create(agent_id=server.agent_id, to=to, idempotency_key=key)
    assert again.id == first.id
    with pytest.raises(IdempotencyError) as excinfo:
        kai.calls.create(agent_id=server.agent_id, to=_phone(), idempotency_key=key)
    assert (excinfo.value.status, excinfo.value.code) == (400, "idempotency_error")
    # Without a key of our own, each create is a new call.
    a = kai.calls.create(agent_id=server.agent_id, to=to)
    b = kai.calls.create(agent_id=server.agent_id, to=to)
    assert a.id != b.id


def _wait_for_status(kai: KaiCalls, call_id: str, status: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while kai.calls.get(call_id).status != status:
        assert time.monotonic() < deadline, f"call never reached {status}"
        time.sleep(0.05)


def test_end_hangs_up_a_call_that_never_ends(kai: KaiCalls, server: Server) -> None:
    # The longest max_duration leaves the most time to catch the call in progress.
    call = kai.calls.create(
        agent_id=server.agent_id, to="+15005550006", name="Never Hangs Up", max_duration=3600
    )
    _wait_for_status(kai, call.id, "in_progress")
    ended = kai.calls.end(call.id)
    assert ended.id == call.id
    assert ended.status == "completed"
    assert ended.ended_reason == "ended_by_api"
    # Ending a finished call is a no-op that returns it unchanged.
    again = kai.calls.end(call.id)
    assert (again.status, again.ended_reason) == ("completed", "ended_by_api")
    assert kai.calls.get(call.id).ended_reason == "ended_by_api"


def test_server_side_wait_returns_the_finished_call(kai: KaiCalls, server: Server) -> None:
    call = kai.calls.create(agent_id=server.agent_id, to="+15005550001")
    result = kai.calls.get(call.id, wait=30)
    assert (result.status, result.ended_reason) == ("failed", "no_answer")


@pytest.mark.anyio
async def test_async_client_end_to_end(server: Server) -> None:
    async with AsyncKaiCalls(server.live_key, base_url=server.base_url) as kai:
        agents = await kai.agents.list()
        assert any(a.id == server.agent_id for a in agents.agents)
        call = await kai.calls.create(agent_id=server.agent_id, to=_phone(), name="Async Ann")
        result = await kai.calls.wait(call.id, interval=0.2, timeout=60)
        assert result.status == "completed" and result.summary
        recording = await kai.recordings.get(call.id)
        assert recording.status == "available"
        with pytest.raises(InvalidRequestError) as excinfo:
            await kai.calls.create(agent_id=server.agent_id, to="555-1234")
        assert excinfo.value.param == "to"
        usage = await kai.account.usage(limit=5)
        assert len(usage.usage) == 5
        analytics = await kai.account.analytics(days=7)
        assert analytics.days == 7
        assert analytics.calls_by_status.get("completed", 0) >= 1
        assert sum(analytics.calls_by_status.values()) == analytics.calls_total


@pytest.fixture(scope="module")
def limited_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A second server that admits two call creations per minute per key."""
    with running_server(
        tmp_path_factory.mktemp("kaicalls-limited"), KAICALLS_RATE_LIMIT_CALLS_PER_MIN="2"
    ) as running:
        yield running


def test_real_429_is_typed_and_a_long_retry_after_is_not_waited_out(
    limited_server: Server,
) -> None:
    kai = KaiCalls(limited_server.live_key, base_url=limited_server.base_url, max_retry_delay=5)
    for _ in range(2):
        kai.calls.create(agent_id=limited_server.agent_id, to=_phone())
    started = time.monotonic()
    with pytest.raises(RateLimitedError) as excinfo:
        kai.calls.create(agent_id=limited_server.agent_id, to=_phone())
    err = excinfo.value
    assert time.monotonic() - started < 5, "a Retry-After beyond max_retry_delay is not waited"
    assert (err.status, err.code) == (429, "rate_limited")
    assert err.retry_after is not None and 5 < err.retry_after <= 60
    assert err.request_id and err.headers.get("ratelimit-policy")


def test_the_do_not_call_list_refuses_the_dial(kai: KaiCalls, server: Server) -> None:
    """A listed number is never dialed: the call is refused as ``dnc_blocked``; taken
    off the list with a reason, it may be called again."""
    to = _phone()
    added = kai.compliance.dnc_add(to, reason="asked by letter")
    assert added.added == 1 and added.entries[0].phone == to
    with pytest.raises(ForbiddenError) as refused:
        kai.calls.create(agent_id=server.agent_id, to=to)
    assert refused.value.code == "dnc_blocked" and refused.value.param == "to"
    assert kai.compliance.refusals(limit=1).refusals[0].reason == "dnc"
    imported = kai.compliance.dnc_import([to, _phone(), "12345"])
    assert (imported.added, imported.already_listed, len(imported.invalid)) == (1, 1, 1)
    removed = kai.compliance.dnc_remove(to, reason="consent renewed")
    assert removed.removed_reason == "consent renewed"
    assert kai.calls.create(agent_id=server.agent_id, to=to).status == "queued"
    consent = kai.compliance.record_consent("express_written", "web form", phone=to)
    assert kai.compliance.consents(phone=to).consents[0].id == consent.id
    assert kai.compliance.revoke_consent(consent.id, "withdrawn").revoked_reason == "withdrawn"
    settings = kai.compliance.update_settings(quiet_days=["sun"])
    assert settings.quiet_days == ["sun"] and kai.compliance.settings().quiet_days == ["sun"]


def test_a_scheduled_call_waits_queued_until_its_time(kai: KaiCalls, server: Server) -> None:
    """``scheduled_at``: recorded ``queued`` with its time, not dialed; ending it
    before then cancels it."""
    at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
    later = kai.calls.create(agent_id=server.agent_id, to=_phone(), scheduled_at=at)
    assert later.status == "queued" and later.scheduled_at is not None
    assert later.conversation_id is None
    assert kai.calls.end(later.id).status == "canceled"


# Campaigns place their calls with the test key: nothing they dial is counted among
# the live calls the other tests list.
CAMPAIGN_PHONES = ["+15125552001", "+15125552002", "+15125552003"]


def _in_an_hour() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))


@pytest.fixture
def test_kai(server: Server) -> KaiCalls:
    return KaiCalls(server.test_key, base_url=server.base_url)


def test_a_campaign_from_draft_to_completed(test_kai: KaiCalls, server: Server) -> None:
    """``kai.campaigns``: a draft with three contacts, an idempotent append, an invalid
    row skipped with its reason, an edit, the start, and every contact called once."""
    kai = test_kai
    rows = [
        {"key": f"row-{i}", "to": p, "name": f"Contact {i}", "variables": {"order": f"o-{i}"}}
        for i, p in enumerate(CAMPAIGN_PHONES)
    ]
    created = kai.campaigns.create(
        "SDK follow-ups", server.agent_id, rows, context="Follow up on order {{order}}"
    )
    assert (created.status, created.mode, created.agent_id) == ("draft", "test", server.agent_id)
    assert (created.contacts_added.added, created.contacts_added.total) == (3, 3)

    campaign = kai.campaigns.get(created.id)
    assert (campaign.id, campaign.status, campaign.name) == (created.id, "draft", "SDK follow-ups")
    assert (campaign.counts.total, campaign.counts.pending) == (3, 3)
    assert created.id in [c.id for c in kai.campaigns.list(status="draft", limit=100).campaigns]
    seen = [c.id for c in kai.campaigns.iter(limit=1)]
    assert created.id in seen and len(seen) == len(set(seen))

    again = kai.campaigns.add_contacts(created.id, rows)
    assert (again.added, again.already_present, again.total) == (0, 3, 3)
    bad = kai.campaigns.add_contacts(created.id, [{"key": "bad", "to": "555-0100"}])
    assert (bad.added, bad.invalid_number, bad.total) == (1, 1, 4)

    page = kai.campaigns.contacts(created.id)
    assert [c.key for c in page.contacts] == ["row-0", "row-1", "row-2", "bad"]
    assert page.has_more is False
    skipped = page.contacts[3]
    assert (skipped.state, skipped.skip_reason, skipped.to) == (
        "skipped",
        "invalid_number",
        "555-0100",
    )
    pending = kai.campaigns.contacts(created.id, state="pending").contacts
    assert [c.to for c in pending] == CAMPAIGN_PHONES
    # One contact a page: iter_contacts follows next_after through all four.
    assert [c.key for c in kai.campaigns.iter_contacts(created.id, limit=1)] == [
        c.key for c in page.contacts
    ]

    updated = kai.campaigns.update(created.id, max_concurrency=2)
    assert (updated.max_concurrency, updated.status) == (2, "draft")
    started = kai.campaigns.start(created.id)
    assert started.status == "running" and started.started_at
    deadline = time.monotonic() + 30
    while (done := kai.campaigns.get(created.id)).status != "completed":
        assert time.monotonic() < deadline, f"the campaign never completed: {done}"
        time.sleep(0.5)
    assert (done.counts.completed, done.counts.skipped, done.counts.pending) == (3, 1, 0)
    assert done.skip_reasons["invalid_number"] == 1 and done.finished_at

    calls = kai.calls.list(campaign_id=created.id, limit=100).calls
    assert len(calls) == 3 and all(c.campaign_id == created.id for c in calls)
    assert sorted(c.to for c in calls) == CAMPAIGN_PHONES
    assert {c.id for c in kai.calls.iter(campaign_id=created.id)} == {c.id for c in calls}
    finished = kai.campaigns.contacts(created.id, state="completed").contacts
    assert len(finished) == 3 and all(len(c.call_ids) == 1 for c in finished)


def test_a_canceled_campaign_cannot_be_resumed(test_kai: KaiCalls, server: Server) -> None:
    """Started (due in an hour, so ``scheduled``: nothing is dialed), canceled, then
    resumed: 409 ``ConflictError``."""
    kai = test_kai
    started = kai.campaigns.create(
        "Canceled",
        server.agent_id,
        [{"to": "+15125552011"}, {"to": "+15125552012"}],
        starts_at=_in_an_hour(),
        start=True,
        idempotency_key=f"campaign-{uuid.uuid4()}",
    )
    assert started.status == "scheduled" and started.contacts_added.added == 2
    canceled = kai.campaigns.cancel(started.id)
    assert canceled.status == "canceled" and canceled.finished_at
    assert (canceled.counts.canceled, canceled.counts.pending) == (2, 0)
    with pytest.raises(ConflictError) as excinfo:
        kai.campaigns.resume(started.id)
    assert (excinfo.value.status, excinfo.value.code) == (409, "conflict")
    with pytest.raises(ConflictError):
        kai.campaigns.add_contacts(started.id, [{"to": "+15125552013"}])
    assert kai.calls.list(campaign_id=started.id).calls == []


def test_a_campaign_max_concurrency_0_names_the_parameter(
    test_kai: KaiCalls, server: Server
) -> None:
    with pytest.raises(InvalidRequestError) as excinfo:
        test_kai.campaigns.create(
            "Too narrow", server.agent_id, [{"to": "+15125552021"}], max_concurrency=0
        )
    err = excinfo.value
    assert (err.status, err.code, err.param) == (400, "invalid_request", "max_concurrency")
    with pytest.raises(NotFoundError):
        test_kai.campaigns.get(str(uuid.uuid4()))


@pytest.mark.anyio
async def test_async_campaigns(server: Server) -> None:
    async with AsyncKaiCalls(server.test_key, base_url=server.base_url) as kai:
        # Due in an hour: it stays scheduled, so the pause always finds it unfinished.
        created = await kai.campaigns.create(
            "Async", server.agent_id, [{"to": "+15125552031"}], starts_at=_in_an_hour(), start=True
        )
        assert created.status == "scheduled"
        assert (await kai.campaigns.pause(created.id)).status == "paused"
        keys = [c.key async for c in kai.campaigns.iter_contacts(created.id)]
        assert keys == ["+15125552031"]
        assert (await kai.campaigns.resume(created.id)).status == "scheduled"
        assert (await kai.campaigns.cancel(created.id)).status == "canceled"
        assert (await kai.calls.list(campaign_id=created.id)).calls == []
