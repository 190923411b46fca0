"""``kai.events.stream()``: the live event stream (``GET /api/v1/events/stream``).

The server sends Server-Sent Events: an opening message once the stream has its
position (``retry: 2000``, ``id:`` the starting point, i.e. the last event of the
stream at or before it, when there is one, and a ``: connected`` comment; no data),
then one message per event (``id:`` the event id, ``event:`` its type, ``data:`` the
event as ``/api/v1/events`` lists it) and a ``: heartbeat`` comment every 15 s of
silence. A request carrying ``Last-Event-ID`` gets every later event of the tenant
(matching the filters) exactly once, in commit order, then the live ones.

`EventStream` (sync) and `AsyncEventStream` turn that into an iterator of `Event`
models that never loses its place. When the connection drops, goes silent for longer
than `SILENCE` or the server ends the stream (a restart), the iterator reconnects
with ``Last-Event-ID`` set to the last event it yielded, or, before the first one,
to the starting point the opening message named, so the consumer sees every event
once, even when the first connection drops before its first event. Waits between
attempts start at the server's ``retry`` (2 s) and double after each failed attempt,
up to `MAX_BACKOFF` (at least a 429's ``Retry-After``).

Which answers are retried:

- connection failures, timeouts, 408, 429 and 5xx: retried. The first connection
  gives up after the client's ``max_retries`` (raising the typed error, as any request
  would); reconnections of a stream that was open keep trying;
- any other 4xx (400 bad ``event_type`` or unknown ``Last-Event-ID``, 401, 403, 404):
  raised at once as the typed error (`InvalidRequestError`, `UnauthorizedError`,
  `ForbiddenError`, `NotFoundError`), on the first connection and on reconnections.

`StreamCore` holds that state and those decisions (and the events received but not
yet yielded); the two classes only drive it.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any, Self

import httpx

from ._errors import KaiCallsError, error_from_response, parse_retry_after
from ._http import (
    AsyncHttpxStream,
    AsyncRequester,
    Config,
    Prepared,
    RawResponse,
    Req,
    Requester,
    StreamResponse,
    TransportFailure,
    parse_body,
)
from ._models import Event
from ._sse import IdOnly, ServerSentEvent, SSEDecoder

PATH = "/api/v1/events/stream"
#: The reconnection delay until the server sends its ``retry`` (it sends 2000 ms).
DEFAULT_RETRY = 2.0
#: The longest wait between two connection attempts.
MAX_BACKOFF = 30.0
#: The server sends a heartbeat every 15 s: a connection silent this long is dead.
SILENCE = 45.0


def stream_query(
    event_type: str | Sequence[str] | None,
    call_id: str | None,
    business_id: str | None,
) -> dict[str, Any]:
    """The query of the stream request (``event_type`` comma-joined)."""
    types = event_type
    if types is not None and not isinstance(types, str):
        types = ",".join(types)
    return {"business_id": business_id, "event_type": types, "call_id": call_id}


class StreamCore:
    """The state of one stream across its connections: filters, position, backoff."""

    def __init__(
        self,
        query: Mapping[str, Any],
        last_event_id: str | None,
        *,
        reconnect: bool,
        config: Config,
    ) -> None:
        self.query = dict(query)
        #: The resume point (sent as ``Last-Event-ID``): the id of the last event
        #: yielded, or the starting point the server named (or the one given).
        self.last_event_id = last_event_id or None
        #: Events received but not yet yielded, oldest first.
        self.ready: deque[Event] = deque()
        self.reconnect = reconnect
        self.max_retries = config.max_retries
        self.max_retry_delay = config.max_retry_delay
        self.timeout = httpx.Timeout(config.timeout, read=max(config.timeout, SILENCE))
        #: Seconds between a dropped connection and the first attempt to reconnect.
        self.retry = DEFAULT_RETRY
        #: Consecutive failed connection attempts.
        self.failures = 0
        #: Whether a connection was ever open (then reconnections never give up).
        self.was_open = False
        #: Connections opened so far.
        self.connections = 0
        self._retry_after = 0.0
        self.decoder = SSEDecoder()

    def req(self) -> Req:
        headers = {"Accept": "text/event-stream", "Cache-Control": "no-cache"}
        if self.last_event_id:
            headers["Last-Event-ID"] = self.last_event_id
        return Req("GET", PATH, query=self.query, headers=headers)

    def wait(self) -> float:
        """Seconds to wait before the next connection attempt: none before the first,
        ``retry`` before reconnecting, doubled after each failed attempt."""
        if not self.was_open and self.failures == 0:
            return 0.0
        exponent = self.failures if self.was_open else self.failures - 1
        backoff: float = min(MAX_BACKOFF, self.retry * 2.0**exponent)
        return max(backoff, self._retry_after)

    def opened(self, p: Prepared, status: int, headers: httpx.Headers) -> KaiCallsError | None:
        """A 2xx answer: the stream is open, unless the body is not an event stream
        (the error to raise)."""
        content_type = headers.get("content-type", "")
        if not content_type.lower().startswith("text/event-stream"):
            return KaiCallsError(
                status,
                "unexpected_response",
                f"{p.url} answered {status} with {content_type or 'no content type'}, "
                "not an event stream",
                request_id=headers.get("request-id"),
                headers=headers,
            )
        self.failures = 0
        self._retry_after = 0.0
        self.was_open = True
        self.connections += 1
        self.decoder = SSEDecoder()
        return None

    def refused(self, raw: RawResponse) -> KaiCallsError | None:
        """A non-2xx answer: its typed error to raise, or None to try again."""
        error = error_from_response(raw.status, parse_body(raw), raw.headers)
        if not (raw.status in (408, 429) or raw.status >= 500):
            return error
        retry_after = parse_retry_after(raw.headers.get("retry-after")) or 0.0
        if retry_after > self.max_retry_delay:
            if not self.was_open:
                return error
            retry_after = self.max_retry_delay
        return self._failed(error, retry_after)

    def unreachable(self, failure: TransportFailure) -> KaiCallsError | None:
        """No answer: the connection error to raise, or None to try again."""
        return self._failed(failure.to_error(), 0.0)

    def _failed(self, error: KaiCallsError, retry_after: float) -> KaiCallsError | None:
        self.failures += 1
        self._retry_after = retry_after
        if not self.was_open and self.failures > self.max_retries:
            return error
        return None

    def feed(self, chunk: bytes) -> None:
        """Queues the events a chunk of the body completed (in `ready`).

        A message with an ``id`` and no data (the opening) names the stream's starting
        point: it becomes the resume point, unless received events still wait to be
        yielded (the resume point never passes an event the consumer was not given).
        """
        messages = self.decoder.messages(chunk)
        if self.decoder.retry is not None:
            self.retry = self.decoder.retry / 1000
        for message in messages:
            if isinstance(message, IdOnly):
                if not self.ready:
                    self.last_event_id = message.id
            else:
                self.ready.append(_event(message))

    def take(self) -> Event:
        """The next received event (`ready` is not empty), now the resume point."""
        event = self.ready.popleft()
        self.last_event_id = event.id or self.last_event_id
        return event


def _event(message: ServerSentEvent) -> Event:
    try:
        data = json.loads(message.data)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise KaiCallsError(
            0,
            "unexpected_response",
            f"the event stream sent a message that is not an event: {message.data[:200]!r}",
        )
    if message.id and not data.get("id"):
        data["id"] = message.id
    return Event(data)


class EventStream:
    """An iterator of live `Event`s; see ``kai.events.stream``.

    The connection is opened when the stream is created (so it shows every event from
    then on) and is released by `close`, by leaving a ``with`` block or when the
    iterator ends. `last_event_id` is the id of the last event yielded, or the starting
    point the server named: pass it as ``last_event_id`` to a new stream to resume
    where this one stopped.
    """

    def __init__(self, http: Requester, core: StreamCore) -> None:
        self._http = http
        self._core = core
        self._response: StreamResponse | None = None
        self._chunks: Iterator[bytes] | None = None
        self._closed = False
        self._connect()

    @property
    def last_event_id(self) -> str | None:
        """The id of the last event yielded, or the starting point the server named (or
        the ``last_event_id`` it started after): where a reconnection resumes."""
        return self._core.last_event_id

    @property
    def connections(self) -> int:
        """How many connections the stream has opened (1 + its reconnections)."""
        return self._core.connections

    @property
    def closed(self) -> bool:
        return self._closed

    def __iter__(self) -> Self:
        return self

    def __next__(self) -> Event:
        while True:
            if self._core.ready:
                return self._core.take()
            if self._closed:
                raise StopIteration
            if self._chunks is None:
                self._connect()
                continue
            try:
                chunk = next(self._chunks)
            except StopIteration:
                self._dropped(None)
                continue
            except TransportFailure as failure:
                self._dropped(failure)
                continue
            self._core.feed(chunk)

    def _connect(self) -> None:
        core = self._core
        while not self._closed:
            delay = core.wait()
            if delay > 0:
                self._http.sleep(delay)
            p = self._http.config.prepare(core.req())
            try:
                response = self._http.transport.open_stream(p, core.timeout)
            except TransportFailure as failure:
                if (error := core.unreachable(failure)) is not None:
                    self.close()
                    raise error from failure.cause
                continue
            if 200 <= response.status < 300:
                error = core.opened(p, response.status, response.headers)
                if error is None:
                    self._response, self._chunks = response, response.chunks()
                    return
            else:
                raw = RawResponse(response.status, response.headers, response.read())
                error = core.refused(raw)
            response.close()
            if error is not None:
                self.close()
                raise error

    def _dropped(self, failure: TransportFailure | None) -> None:
        """The connection ended (``failure`` None: the server closed the stream)."""
        self._release()
        if self._core.reconnect:
            return
        self.close()
        if failure is not None:
            raise failure.to_error() from failure.cause

    def _release(self) -> None:
        response, chunks = self._response, self._chunks
        self._response, self._chunks = None, None
        for release in (getattr(chunks, "close", None), getattr(response, "close", None)):
            if release is not None:
                try:
                    release()
                except Exception:
                    pass

    def close(self) -> None:
        """Closes the connection; the iterator then ends."""
        self._closed = True
        self._core.ready.clear()
        self._release()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncEventStream:
    """`EventStream` for `AsyncKaiCalls`: ``async with kai.events.stream() as events``
    (connects on entering), then ``async for event in events``.

    Without ``async with`` the connection opens on the first ``__anext__`` (or an
    explicit ``await events.connect()``); release it with ``await events.close()``.
    """

    def __init__(self, http: AsyncRequester, core: StreamCore) -> None:
        self._http = http
        self._core = core
        self._response: AsyncHttpxStream | None = None
        self._chunks: AsyncIterator[bytes] | None = None
        self._closed = False
        self._started = False

    @property
    def last_event_id(self) -> str | None:
        """The id of the last event yielded, or the starting point the server named (or
        the ``last_event_id`` it started after): where a reconnection resumes."""
        return self._core.last_event_id

    @property
    def connections(self) -> int:
        """How many connections the stream has opened (1 + its reconnections)."""
        return self._core.connections

    @property
    def closed(self) -> bool:
        return self._closed

    async def connect(self) -> None:
        """Opens the first connection, if not yet open: from then on every event is
        shown. Raises the typed error of a refused request."""
        if not self._started:
            self._started = True
            await self._connect()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Event:
        await self.connect()
        while True:
            if self._core.ready:
                return self._core.take()
            if self._closed:
                raise StopAsyncIteration
            if self._chunks is None:
                await self._connect()
                continue
            try:
                chunk = await anext(self._chunks)
            except StopAsyncIteration:
                await self._dropped(None)
                continue
            except TransportFailure as failure:
                await self._dropped(failure)
                continue
            self._core.feed(chunk)

    async def _connect(self) -> None:
        core = self._core
        while not self._closed:
            delay = core.wait()
            if delay > 0:
                await self._http.sleep(delay)
            p = self._http.config.prepare(core.req())
            try:
                response = await self._http.open_stream(p, core.timeout)
            except TransportFailure as failure:
                if (error := core.unreachable(failure)) is not None:
                    await self.close()
                    raise error from failure.cause
                continue
            if 200 <= response.status < 300:
                error = core.opened(p, response.status, response.headers)
                if error is None:
                    self._response, self._chunks = response, response.chunks()
                    return
            else:
                raw = RawResponse(response.status, response.headers, await response.read())
                error = core.refused(raw)
            await response.close()
            if error is not None:
                await self.close()
                raise error

    async def _dropped(self, failure: TransportFailure | None) -> None:
        await self._release()
        if self._core.reconnect:
            return
        await self.close()
        if failure is not None:
            raise failure.to_error() from failure.cause

    async def _release(self) -> None:
        response, chunks = self._response, self._chunks
        self._response, self._chunks = None, None
        for release in (getattr(chunks, "aclose", None), getattr(response, "close", None)):
            if release is not None:
                try:
                    await release()
                except Exception:
                    pass

    async def close(self) -> None:
        """Closes the connection; the iterator then ends."""
        self._closed = True
        self._started = True
        self._core.ready.clear()
        await self._release()

    aclose = close

    async def __aenter__(self) -> Self:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
