"""``kai.events.stream()`` against the real server: live delivery, filters, resuming
with ``last_event_id``, automatic reconnection through a proxy that cuts the
connection, and typed errors without a reconnect loop."""

from __future__ import annotations

import random
import signal
import time
import uuid
from collections.abc import AsyncIterator, Iterable, Iterator
from pathlib import Path

import httpx
import pytest

from conftest import Server, running_server
from kaicalls import (
    APIConnectionError,
    AsyncEventStream,
    AsyncKaiCalls,
    Event,
    EventStream,
    ForbiddenError,
    InvalidRequestError,
    KaiCalls,
    NotFoundError,
    UnauthorizedError,
)
from proxy import CuttingProxy

pytestmark = pytest.mark.integration

LIFECYCLE = ["call.queued", "call.ringing", "call.in_progress", "call.completed"]
CALL_TYPES = [*LIFECYCLE, "call.failed", "call.canceled"]
FINAL = {"call.completed", "call.failed", "call.canceled"}


def _phone() -> str:
    return f"+1512555{random.randint(0, 9999):04d}"


class DeadlineExceeded(Exception):
    """Not an OSError (as TimeoutError is): raised inside a socket read, it must not
    pass for a read timeout that the stream would retry."""


@pytest.fixture(autouse=True)
def deadline() -> Iterator[None]:
    """Fails a test still running after 90 s (a stream waits forever otherwise)."""

    def expired(signum: int, frame: object) -> None:
        raise DeadlineExceeded("the test did not finish within 90 s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(90)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture
def kai(server: Server) -> Iterator[KaiCalls]:
    with KaiCalls(server.test_key, base_url=server.base_url) as client:
        yield client


def _cursor(kai: KaiCalls, business_id: str) -> str:
    """The id of a fresh event of this key's mode (a lead.created): resuming after it
    shows everything that happens from now on."""
    lead = kai.leads.create(business_id=business_id, name="Cursor Carl", phone=_phone())
    events = kai.events.list(object_id=lead.id, event_type="lead.created").events
    assert len(events) == 1
    return events[0].id


def _until_final(stream: Iterable[Event], call_ids: set[str], limit: int = 100) -> list[Event]:
    """Events of ``call_ids`` read from ``stream`` until each call has its final event."""
    got: list[Event] = []
    open_calls = set(call_ids)
    for event in stream:
        if event.object_id in call_ids:
            got.append(event)
            if event.type in FINAL:
                open_calls.discard(event.object_id)
        if not open_calls or len(got) >= limit:
            break
    return got


def _listed(kai: KaiCalls, call_id: str) -> list[str]:
    """The ids of the call's events as ``GET /api/v1/events`` lists them, oldest first."""
    return [e.id for e in reversed(list(kai.events.iter(object_id=call_id)))]


def _session_key(server: Server, scopes: list[str]) -> str:
    """A new test-mode API key with ``scopes``, created through a dashboard session."""
    with httpx.Client(base_url=server.base_url) as session:
        login = session.post(
            "/api/v1/auth/login", json={"email": "a@b.test", "password": "long-password-1"}
        )
        assert login.status_code == 200, login.text
        created = session.post(
            "/api/v1/keys",
            json={"name": f"stream {uuid.uuid4().hex[:6]}", "scopes": scopes, "mode": "test"},
            headers={"Origin": server.base_url},
        )
        assert created.status_code == 201, created.text
        key: str = created.json()["key"]
        return key


def test_stream_shows_a_new_calls_lifecycle_filtered_by_event_type(
    kai: KaiCalls, server: Server
) -> None:
    with kai.events.stream(event_type=CALL_TYPES) as stream:
        assert isinstance(stream, EventStream)
        # Opened before the call exists: everything after this point is shown.
        lead = kai.leads.create(business_id=server.business_id, name="Not A Call", phone=_phone())
        call = kai.calls.create(agent_id=server.agent_id, to=_phone(), name="Stream Sam")
        seen: list[Event] = []
        for event in stream:
            seen.append(event)
            assert event.object_id != lead.id, "lead.created is filtered out"
            if event.object_id == call.id and event.type in FINAL:
                break
        assert stream.last_event_id == seen[-1].id
    assert stream.closed
    assert all(e.type in CALL_TYPES for e in seen)
    mine = [e for e in seen if e.object_id == call.id]
    assert [e.type for e in mine] == LIFECYCLE
    first = mine[0]
    assert isinstance(first, Event)
    assert first.id.startswith("evt_") and first.object_type == "call"
    assert (first.business_id, first.mode) == (server.business_id, "test")
    assert first.data["call_id"] == call.id and first.created_at
    assert [e.id for e in mine] == _listed(kai, call.id)


def test_stream_call_id_filter_shows_only_that_call(kai: KaiCalls, server: Server) -> None:
    cursor = _cursor(kai, server.business_id)
    # Another call's whole lifecycle (and a lead) lies between the cursor and the call.
    other = kai.calls.create(agent_id=server.agent_id, to=_phone(), name="Other Olga")
    assert kai.calls.wait(other.id, interval=0.1, timeout=30).status == "completed"
    kai.leads.create(business_id=server.business_id, name="Lead Between", phone=_phone())
    call = kai.calls.create(agent_id=server.agent_id, to=_phone(), name="Filtered Fay")
    got: list[Event] = []
    with kai.events.stream(call_id=call.id, last_event_id=cursor) as stream:
        for event in stream:
            got.append(event)
            if event.object_id == call.id and event.type in FINAL:
                break
    assert [e.type for e in got] == LIFECYCLE
    assert {e.object_id for e in got} == {call.id}
    assert [e.id for e in got] == _listed(kai, call.id)


def test_stream_a_single_event_type_string(kai: KaiCalls, server: Server) -> None:
    cursor = _cursor(kai, server.business_id)
    call = kai.calls.create(agent_id=server.agent_id, to=_phone(), name="Only Completed")
    with kai.events.stream(event_type="call.completed", last_event_id=cursor) as stream:
        got = _until_final(stream, {call.id})
    assert [e.type for e in got] == ["call.completed"]


def test_resume_with_last_event_id_gets_exactly_the_rest(kai: KaiCalls, server: Server) -> None:
    cursor = _cursor(kai, server.business_id)
    calls = [
        kai.calls.create(agent_id=server.agent_id, to=_phone(), name=f"Resume {i}")
        for i in range(3)
    ]
    ids = {c.id for c in calls}
    n = 5
    first: list[Event] = []
    with kai.events.stream(event_type=CALL_TYPES, last_event_id=cursor) as stream:
        for event in stream:
            if event.object_id in ids:
                first.append(event)
            if len(first) == n:
                break
        stopped_at = stream.last_event_id
    assert stopped_at == first[-1].id
    # Reopened after the n-th event: the rest of the three calls, none again.
    with kai.events.stream(event_type=CALL_TYPES, last_event_id=stopped_at) as resumed:
        assert resumed.last_event_id == stopped_at
        done = {e.object_id for e in first if e.type in FINAL}
        rest = _until_final(resumed, ids - done)
    streamed = [e.id for e in first + rest]
    assert len(streamed) == len(set(streamed)), "an event came twice"
    listed = [event_id for c in calls for event_id in _listed(kai, c.id)]
    assert sorted(streamed) == sorted(listed), "an event is missing (or extra)"
    for c in calls:
        assert [e.type for e in first + rest if e.object_id == c.id] == LIFECYCLE


def test_stream_reconnects_after_the_connection_is_cut(kai: KaiCalls, server: Server) -> None:
    cursor = _cursor(kai, server.business_id)
    call = kai.calls.create(agent_id=server.agent_id, to=_phone(), name="Cut Carla")
    with (
        CuttingProxy(server.base_url, cut_first_after=2) as proxy,
        KaiCalls(server.test_key, base_url=proxy.url) as through_proxy,
        through_proxy.events.stream(call_id=call.id, last_event_id=cursor) as stream,
    ):
        got: list[Event] = []
        for event in stream:
            got.append(event)
            if event.type in FINAL:
                break
        assert proxy.wait_cut(0)
        assert stream.connections == 2
    assert [e.type for e in got] == LIFECYCLE
    assert [e.id for e in got] == _listed(kai, call.id)
    requests = [r for r in proxy.requests() if "/api/v1/events/stream" in r[":request"]]
    assert len(requests) == 2
    assert proxy.connections == 2
    assert requests[0]["last-event-id"] == cursor
    assert requests[1]["last-event-id"] == got[1].id
    assert requests[1]["accept"] == "text/event-stream"


def test_a_connection_cut_before_its_first_event_resumes_from_the_opening_id(
    tmp_path: Path,
) -> None:
    # A tenant of its own, with one event: the lead.created of the first lead.
    with (
        running_server(tmp_path) as fresh,
        KaiCalls(fresh.test_key, base_url=fresh.base_url) as kai,
    ):
        first = kai.leads.create(
            business_id=fresh.business_id, name="Opening Olive", phone="+15125550120"
        )
        listed = kai.events.list(event_type="lead.created").events
        assert [e.object_id for e in listed] == [first.id]
        starting_point = listed[0].id
        with (
            CuttingProxy(fresh.base_url, cut_first_after=0) as proxy,
            KaiCalls(fresh.test_key, base_url=proxy.url) as through_proxy,
            through_proxy.events.stream(event_type="lead.created") as stream,
        ):
            # stream() returns once the first connection's response has arrived: the
            # server has its starting point. The proxy cuts that connection as the
            # first event comes, so the client got no event on it.
            leads = [
                kai.leads.create(
                    business_id=fresh.business_id, name=f"After {i}", phone=f"+1512555012{i}"
                )
                for i in (1, 2)
            ]
            got = [next(stream), next(stream)]
            assert proxy.wait_cut(0)
            assert stream.connections == 2
            assert stream.last_event_id == got[-1].id
        heads = [r for r in proxy.requests() if "/api/v1/events/stream" in r[":request"]]
    assert [(e.type, e.object_id) for e in got] == [("lead.created", lead.id) for lead in leads]
    assert len(heads) == 2
    assert "last-event-id" not in heads[0]
    assert heads[1]["last-event-id"] == starting_point


def test_without_reconnect_a_cut_stream_raises_connection_error(
    kai: KaiCalls, server: Server
) -> None:
    cursor = _cursor(kai, server.business_id)
    call = kai.calls.create(agent_id=server.agent_id, to=_phone(), name="No Reconnect")
    with (
        CuttingProxy(server.base_url, cut_first_after=2) as proxy,
        KaiCalls(server.test_key, base_url=proxy.url) as through_proxy,
    ):
        stream = through_proxy.events.stream(call_id=call.id, last_event_id=cursor, reconnect=False)
        got = [next(stream), next(stream)]
        with pytest.raises(APIConnectionError):
            next(stream)
        assert [e.type for e in got] == LIFECYCLE[:2]
        assert stream.closed and proxy.connections == 1


def _one_request(proxy: CuttingProxy) -> None:
    streams = [r for r in proxy.requests() if "/api/v1/events/stream" in r[":request"]]
    assert len(streams) == 1, f"expected one request, not a reconnect loop: {streams}"


def test_bad_event_type_raises_invalid_request_naming_event_type(server: Server) -> None:
    with (
        CuttingProxy(server.base_url) as proxy,
        KaiCalls(server.test_key, base_url=proxy.url) as kai,
    ):
        started = time.monotonic()
        with pytest.raises(InvalidRequestError) as excinfo:
            kai.events.stream(event_type=["call.completed", "call.exploded"])
        assert time.monotonic() - started < 5
        _one_request(proxy)
    err = excinfo.value
    assert (err.status, err.code, err.param) == (400, "invalid_request", "event_type")
    assert "call.exploded" in err.message and err.request_id


def test_unknown_last_event_id_raises_invalid_request(kai: KaiCalls) -> None:
    with pytest.raises(InvalidRequestError) as excinfo:
        kai.events.stream(last_event_id="evt_" + "0" * 32)
    assert excinfo.value.param == "Last-Event-ID"


def test_a_key_without_events_read_raises_forbidden(server: Server) -> None:
    key = _session_key(server, ["calls:read"])
    with (
        CuttingProxy(server.base_url) as proxy,
        KaiCalls(key, base_url=proxy.url) as kai,
    ):
        assert kai.calls.list(limit=1).calls is not None  # the key works
        with pytest.raises(ForbiddenError) as excinfo:
            kai.events.stream()
        _one_request(proxy)
    assert (excinfo.value.status, excinfo.value.code) == (403, "forbidden")


def test_a_key_with_events_read_may_stream(server: Server) -> None:
    key = _session_key(server, ["events:read", "leads:write"])
    with KaiCalls(key, base_url=server.base_url) as kai:
        with kai.events.stream(event_type="lead.created") as stream:
            lead = kai.leads.create(
                business_id=server.business_id, name="Scoped Sue", phone=_phone()
            )
            event = next(stream)
        assert (event.type, event.object_id) == ("lead.created", lead.id)


def test_bad_key_and_unknown_business_raise_typed_errors(kai: KaiCalls, server: Server) -> None:
    bad = KaiCalls("kc_test_" + "0" * 40, base_url=server.base_url)
    with pytest.raises(UnauthorizedError):
        bad.events.stream()
    with pytest.raises(NotFoundError):
        kai.events.stream(business_id=str(uuid.uuid4()))


@pytest.mark.anyio
async def test_async_stream_shows_a_new_call_and_resumes(server: Server) -> None:
    async with AsyncKaiCalls(server.test_key, base_url=server.base_url) as kai:
        async with kai.events.stream(event_type=CALL_TYPES) as stream:
            call = await kai.calls.create(agent_id=server.agent_id, to=_phone(), name="Async A")
            mine: list[Event] = []
            async for event in stream:
                if event.object_id == call.id:
                    mine.append(event)
                    if len(mine) == 2:
                        break
            second = stream.last_event_id
        assert stream.closed and second == mine[1].id
        rest: list[Event] = []
        async with kai.events.stream(call_id=call.id, last_event_id=second) as resumed:
            async for event in resumed:
                rest.append(event)
                if event.type in FINAL:
                    break
        assert [e.type for e in mine + rest] == LIFECYCLE
        with pytest.raises(InvalidRequestError) as excinfo:
            async with kai.events.stream(event_type="nope"):
                pass
        assert excinfo.value.param == "event_type"
    with KaiCalls(server.test_key, base_url=server.base_url) as sync:
        assert [e.id for e in mine + rest] == _listed(sync, call.id)


@pytest.mark.anyio
async def test_async_stream_reconnects_after_the_connection_is_cut(server: Server) -> None:
    with KaiCalls(server.test_key, base_url=server.base_url) as sync:
        cursor = _cursor(sync, server.business_id)
        call = sync.calls.create(agent_id=server.agent_id, to=_phone(), name="Async Cut")
        with CuttingProxy(server.base_url, cut_first_after=2) as proxy:
            async with (
                AsyncKaiCalls(server.test_key, base_url=proxy.url) as kai,
                kai.events.stream(call_id=call.id, last_event_id=cursor) as stream,
            ):
                got = [event async for event in _async_until_final(stream)]
                assert stream.connections == 2
            heads = [r for r in proxy.requests() if "/api/v1/events/stream" in r[":request"]]
        assert [e.type for e in got] == LIFECYCLE
        assert [e.id for e in got] == _listed(sync, call.id)
        assert [h["last-event-id"] for h in heads] == [cursor, got[1].id]


async def _async_until_final(stream: AsyncEventStream) -> AsyncIterator[Event]:
    async for event in stream:
        yield event
        if event.type in FINAL:
            return
