"""``kai.events.stream()`` offline: the request, reconnection with Last-Event-ID, the
backoff, and which answers are raised, against a scripted transport."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from kaicalls import (
    APIConnectionError,
    AsyncEventStream,
    Event,
    EventStream,
    ForbiddenError,
    InternalError,
    InvalidRequestError,
    KaiCalls,
    KaiCallsError,
    NotFoundError,
    RateLimitedError,
    UnauthorizedError,
)
from scripted import BASE, Script, async_client, client, error

SSE = {"content-type": "text/event-stream", "request-id": "req_stream"}
OPENED = "retry: 2000\n: connected\n\n"


def opening(event_id: str) -> str:
    """The opening message naming the stream's starting point."""
    return f"retry: 2000\nid: {event_id}\n: connected\n\n"


def message(n: int, kind: str = "call.queued") -> str:
    event = {
        "id": f"evt_{n}",
        "type": kind,
        "object_type": "call",
        "object_id": "call_1",
        "business_id": "biz_1",
        "mode": "test",
        "data": {"event": kind, "call_id": "call_1"},
        "created_at": f"2026-01-01T00:00:0{n}Z",
    }
    return f"id: evt_{n}\nevent: {kind}\ndata: {json.dumps(event)}\n\n"


def sse(*chunks: str, then: Exception | None = None, **headers: str) -> httpx.Response:
    """An event stream answer sending ``chunks``, then ending (or raising ``then``)."""

    def body() -> Iterator[bytes]:
        for chunk in chunks:
            yield chunk.encode()
        if then is not None:
            raise then

    return httpx.Response(200, headers={**SSE, **headers}, content=body())


def asse(*chunks: str, then: Exception | None = None) -> httpx.Response:
    async def body() -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield chunk.encode()
        if then is not None:
            raise then

    return httpx.Response(200, headers=SSE, content=body())


def take(stream: EventStream, n: int) -> list[Event]:
    return [next(stream) for _ in range(n)]


def last_event_ids(script: Script) -> list[str | None]:
    return [r.headers.get("last-event-id") for r in script.requests]


def test_the_request_carries_the_filters_key_and_accept() -> None:
    script = Script(sse(OPENED, message(1)))
    kai, _ = client(script)
    stream = kai.events.stream(
        event_type=["call.completed", "call.failed"], call_id="call_1", business_id="biz_1"
    )
    request = script.last
    assert request.method == "GET"
    assert request.url.path == "/api/v1/events/stream"
    assert dict(request.url.params) == {
        "event_type": "call.completed,call.failed",
        "call_id": "call_1",
        "business_id": "biz_1",
    }
    assert request.headers["accept"] == "text/event-stream"
    assert request.headers["authorization"] == "Bearer kc_test_unit"
    assert "last-event-id" not in request.headers
    assert stream.last_event_id is None
    event = next(stream)
    assert isinstance(event, Event)
    assert (event.id, event.type, event.object_id, event.data["call_id"]) == (
        "evt_1",
        "call.queued",
        "call_1",
        "call_1",
    )
    assert stream.last_event_id == "evt_1"
    stream.close()


def test_it_connects_when_called_and_last_event_id_is_sent() -> None:
    script = Script(sse(OPENED))
    kai, _ = client(script)
    with kai.events.stream(event_type="lead.created", last_event_id="evt_0") as stream:
        assert len(script.requests) == 1  # before any iteration
        assert script.last.headers["last-event-id"] == "evt_0"
        assert script.last.url.params["event_type"] == "lead.created"
        assert stream.last_event_id == "evt_0"
    assert stream.closed
    with pytest.raises(StopIteration):
        next(stream)


def test_when_the_server_ends_the_stream_it_resumes_after_the_last_event() -> None:
    script = Script(
        sse("retry: 1500\n: connected\n\n", message(1), message(2)),
        sse(OPENED, message(3)),
    )
    kai, sleeps = client(script)
    stream = kai.events.stream()
    assert [e.id for e in take(stream, 3)] == ["evt_1", "evt_2", "evt_3"]
    assert last_event_ids(script) == [None, "evt_2"]
    assert sleeps == [1.5]  # the server's retry
    assert stream.connections == 2


def test_a_broken_connection_drops_the_unfinished_message_and_resumes() -> None:
    cut = message(2)[:30]
    script = Script(
        sse(OPENED, message(1), cut, then=httpx.RemoteProtocolError("peer closed")),
        sse(OPENED, message(2), message(3)),
    )
    kai, sleeps = client(script)
    stream = kai.events.stream()
    assert [e.id for e in take(stream, 3)] == ["evt_1", "evt_2", "evt_3"]
    assert last_event_ids(script) == [None, "evt_1"]
    assert sleeps == [2.0]


def test_the_opening_id_is_the_resume_point_before_the_first_event() -> None:
    # The first connection drops before any event: the reconnection resumes from the
    # starting point the opening named, not from "now".
    script = Script(
        sse(opening("evt_0"), then=httpx.RemoteProtocolError("peer closed")),
        sse(opening("evt_0"), message(1)),
    )
    kai, sleeps = client(script)
    stream = kai.events.stream(event_type="call.queued")
    assert next(stream).id == "evt_1"
    assert last_event_ids(script) == [None, "evt_0"]
    assert sleeps == [2.0] and stream.last_event_id == "evt_1"


def test_an_id_only_message_never_passes_events_not_yet_yielded() -> None:
    # evt_9 arrives (id only) while evt_1 and evt_2 wait to be yielded: it is not taken
    # as the resume point, which stays the last event yielded.
    script = Script(
        sse(
            opening("evt_0"),
            message(1) + message(2) + "id: evt_9\n: connected\n\n",
            then=httpx.RemoteProtocolError("peer closed"),
        ),
        sse(opening("evt_2"), message(3)),
    )
    kai, _ = client(script)
    stream = kai.events.stream()
    assert next(stream).id == "evt_1"
    assert stream.last_event_id == "evt_1"
    assert next(stream).id == "evt_2"
    assert stream.last_event_id == "evt_2"
    assert next(stream).id == "evt_3"
    assert last_event_ids(script) == [None, "evt_2"]


def test_a_silent_connection_read_timeout_reconnects() -> None:
    script = Script(
        sse(OPENED, message(1), then=httpx.ReadTimeout("silence")),
        sse(OPENED, message(2)),
    )
    kai, _ = client(script)
    stream = kai.events.stream()
    assert [e.id for e in take(stream, 2)] == ["evt_1", "evt_2"]
    assert last_event_ids(script) == [None, "evt_1"]
    read = script.requests[0].extensions["timeout"]["read"]
    assert read >= 45.0  # longer than three heartbeats


def test_reconnect_attempts_back_off_from_retry_and_reset_once_open() -> None:
    script = Script(
        sse(OPENED, message(1)),
        error(503, "internal_error"),
        httpx.ConnectError("refused"),
        error(429, "rate_limited", retry_after="20"),
        error(502, "http_502"),
        sse(OPENED, message(2)),
        sse(OPENED, message(3)),
    )
    kai, sleeps = client(script)
    stream = kai.events.stream()
    assert [e.id for e in take(stream, 3)] == ["evt_1", "evt_2", "evt_3"]
    # retry 2 s, doubled per failed attempt, at least Retry-After; then 2 s again.
    assert sleeps == [2.0, 4.0, 8.0, 20.0, 30.0, 2.0]
    assert last_event_ids(script) == [None, "evt_1", "evt_1", "evt_1", "evt_1", "evt_1", "evt_2"]


def test_backoff_is_capped_at_30_seconds() -> None:
    failures: list[Any] = [httpx.ConnectError("refused")] * 6
    script = Script(sse(OPENED, message(1)), *failures, sse(OPENED, message(2)))
    kai, sleeps = client(script)
    stream = kai.events.stream()
    take(stream, 2)
    assert sleeps == [2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]


@pytest.mark.parametrize(
    ("status", "code", "cls"),
    [
        (400, "invalid_request", InvalidRequestError),
        (401, "unauthorized", UnauthorizedError),
        (403, "forbidden", ForbiddenError),
        (404, "not_found", NotFoundError),
    ],
)
def test_a_4xx_when_opening_raises_its_typed_error_at_once(
    status: int, code: str, cls: type[KaiCallsError]
) -> None:
    script = Script(error(status, code, "no", param="event_type" if status == 400 else None))
    kai, sleeps = client(script)
    with pytest.raises(cls) as excinfo:
        kai.events.stream(event_type="call.exploded")
    assert (excinfo.value.status, excinfo.value.code) == (status, code)
    assert len(script.requests) == 1 and sleeps == []
    if status == 400:
        assert excinfo.value.param == "event_type"


def test_a_4xx_when_reconnecting_is_raised_not_retried() -> None:
    script = Script(sse(OPENED, message(1)), error(401, "unauthorized", "Key revoked"))
    kai, sleeps = client(script)
    stream = kai.events.stream()
    assert next(stream).id == "evt_1"
    with pytest.raises(UnauthorizedError, match="Key revoked"):
        next(stream)
    assert stream.closed and len(script.requests) == 2 and sleeps == [2.0]
    with pytest.raises(StopIteration):
        next(stream)


def test_an_unknown_last_event_id_on_reconnect_names_the_header() -> None:
    script = Script(
        sse(OPENED, message(1)), error(400, "invalid_request", "No event", param="Last-Event-ID")
    )
    kai, _ = client(script)
    stream = kai.events.stream()
    next(stream)
    with pytest.raises(InvalidRequestError) as excinfo:
        next(stream)
    assert excinfo.value.param == "Last-Event-ID"


def test_the_first_connection_gives_up_after_max_retries() -> None:
    script = Script(*[httpx.ConnectError("refused")] * 3)
    kai, sleeps = client(script)
    with pytest.raises(APIConnectionError):
        kai.events.stream()
    assert len(script.requests) == 3 and sleeps == [2.0, 4.0]


def test_the_first_connection_retries_5xx_and_429() -> None:
    script = Script(error(503, "internal_error"), error(429, "rate_limited"), sse(OPENED))
    kai, sleeps = client(script, max_retries=2)
    kai.events.stream().close()
    assert sleeps == [2.0, 4.0]
    script = Script(*[error(503, "internal_error")] * 2)
    kai, _ = client(script, max_retries=1)
    with pytest.raises(InternalError):
        kai.events.stream()


def test_a_retry_after_beyond_max_retry_delay_is_raised_on_the_first_connection() -> None:
    script = Script(error(429, "rate_limited", retry_after="600"))
    kai, _ = client(script, max_retry_delay=60)
    with pytest.raises(RateLimitedError):
        kai.events.stream()


def test_without_reconnect_the_iteration_ends_with_the_stream() -> None:
    script = Script(sse(OPENED, message(1), message(2)))
    kai, _ = client(script)
    stream = kai.events.stream(reconnect=False)
    assert [e.id for e in stream] == ["evt_1", "evt_2"]
    assert stream.closed and len(script.requests) == 1


def test_without_reconnect_a_broken_connection_raises() -> None:
    script = Script(sse(OPENED, message(1), then=httpx.ReadError("reset")))
    kai, _ = client(script)
    stream = kai.events.stream(reconnect=False)
    assert next(stream).id == "evt_1"
    with pytest.raises(APIConnectionError):
        next(stream)
    assert len(script.requests) == 1


def test_a_2xx_that_is_not_an_event_stream_raises() -> None:
    script = Script(httpx.Response(200, json={"events": []}))
    kai, _ = client(script)
    with pytest.raises(KaiCallsError) as excinfo:
        kai.events.stream()
    assert excinfo.value.code == "unexpected_response"


def test_a_message_that_is_not_an_event_raises() -> None:
    script = Script(sse(OPENED, "id: evt_1\ndata: not json\n\n"))
    kai, _ = client(script)
    stream = kai.events.stream()
    with pytest.raises(KaiCallsError) as excinfo:
        next(stream)
    assert excinfo.value.code == "unexpected_response"


def test_chunks_split_anywhere_give_the_same_events() -> None:
    wire = OPENED + message(1).replace("\n", "\r\n") + ": heartbeat\n\n" + message(2)
    script = Script(sse(*[wire[i : i + 7] for i in range(0, len(wire), 7)]))
    kai, _ = client(script)
    assert [e.id for e in take(kai.events.stream(), 2)] == ["evt_1", "evt_2"]


class FakeStreamingResponse:
    def __init__(self, status: int, chunks: list[bytes], headers: dict[str, str]) -> None:
        self.status_code = status
        self.headers = headers
        self._chunks = chunks
        self.closed = False
        self.content = b"".join(chunks)

    def iter_content(self, chunk_size: int | None = None) -> Iterator[bytes]:
        assert chunk_size is None
        yield from self._chunks

    def close(self) -> None:
        self.closed = True


class FakeStreamingSession:
    def __init__(self, *responses: FakeStreamingResponse) -> None:
        self.responses = list(responses)
        self.calls: list[dict[str, Any]] = []

    def request(self, method: str, url: str, **kwargs: Any) -> FakeStreamingResponse:
        self.calls.append({"method": method, "url": url, **kwargs})
        return self.responses.pop(0)


def test_a_requests_session_streams_too() -> None:
    first = FakeStreamingResponse(200, [OPENED.encode(), message(1).encode()], SSE)
    second = FakeStreamingResponse(200, [message(2).encode()], SSE)
    session = FakeStreamingSession(first, second)
    kai = KaiCalls("kc_test_unit", base_url=BASE, session=session)
    kai._http.sleep = lambda seconds: None
    stream = kai.events.stream(call_id="call_1")
    assert [e.id for e in take(stream, 2)] == ["evt_1", "evt_2"]
    assert first.closed
    assert [c["stream"] for c in session.calls] == [True, True]
    assert session.calls[0]["params"] == [("call_id", "call_1")]
    assert session.calls[1]["headers"]["Last-Event-ID"] == "evt_1"
    assert session.calls[0]["timeout"] == (30.0, 45.0)
    stream.close()
    assert second.closed


@pytest.mark.anyio
async def test_async_stream_connects_on_enter_and_resumes_after_the_last_event() -> None:
    script = Script(
        asse(OPENED, message(1), message(2)),
        asse(OPENED, message(3)),
    )
    kai, sleeps = async_client(script)
    stream = kai.events.stream(event_type=("call.queued", "call.ringing"))
    assert isinstance(stream, AsyncEventStream)
    assert script.requests == []  # connects on entering
    async with stream:
        assert len(script.requests) == 1
        assert script.last.url.params["event_type"] == "call.queued,call.ringing"
        got = [await anext(stream) for _ in range(3)]
    assert [e.id for e in got] == ["evt_1", "evt_2", "evt_3"]
    assert isinstance(got[0], Event) and got[0].type == "call.queued"
    assert last_event_ids(script) == [None, "evt_2"]
    assert sleeps == [2.0] and stream.last_event_id == "evt_3" and stream.closed


@pytest.mark.anyio
async def test_async_stream_broken_connection_and_typed_errors() -> None:
    script = Script(
        asse(OPENED, message(1), then=httpx.ReadError("reset")),
        error(503, "internal_error"),
        asse(OPENED, message(2)),
        error(403, "forbidden"),
    )
    kai, sleeps = async_client(script)
    stream = kai.events.stream()
    assert (await anext(stream)).id == "evt_1"  # connects on the first __anext__
    assert (await anext(stream)).id == "evt_2"
    with pytest.raises(ForbiddenError):
        await anext(stream)
    assert sleeps == [2.0, 4.0, 2.0] and stream.closed
    assert last_event_ids(script) == [None, "evt_1", "evt_1", "evt_2"]

    script = Script(error(400, "invalid_request", param="event_type"))
    kai, _ = async_client(script)
    with pytest.raises(InvalidRequestError) as excinfo:
        async with kai.events.stream(event_type="nope"):
            pass
    assert excinfo.value.param == "event_type" and len(script.requests) == 1


@pytest.mark.anyio
async def test_async_stream_resumes_from_the_opening_id_before_the_first_event() -> None:
    script = Script(
        asse(opening("evt_0"), then=httpx.ReadError("reset")),
        asse(opening("evt_0"), message(1) + "id: evt_9\n\n", message(2)),
    )
    kai, _ = async_client(script)
    async with kai.events.stream() as stream:
        assert (await anext(stream)).id == "evt_1"
        assert stream.last_event_id == "evt_1"  # evt_9 came while evt_1 waited: ignored
        assert (await anext(stream)).id == "evt_2"
    assert last_event_ids(script) == [None, "evt_0"]


@pytest.mark.anyio
async def test_async_stream_without_reconnect_ends() -> None:
    script = Script(asse(OPENED, message(1)))
    kai, _ = async_client(script)
    async with kai.events.stream(reconnect=False) as stream:
        assert [e.id async for e in stream] == ["evt_1"]
    assert len(script.requests) == 1
