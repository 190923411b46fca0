"""``kai.events``: the durable event log, its live stream, webhook deliveries and
replays."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any

from .._http import AsyncRequester, Req, Requester
from .._models import DeliveryList, Event, EventList, Replayed
from .._pagination import Pager, aiterate, iterate
from .._stream import AsyncEventStream, EventStream, StreamCore, stream_query
from ._base import Async, R, Resource, Sync, get_req, post_req, returns

PATH = "/api/v1/events"


def _filters(filters: dict[str, Any]) -> dict[str, Any]:
    if "from_" in filters:
        filters["from"] = filters.pop("from_")
    return filters


def _pager(filters: dict[str, Any], max_items: int | None) -> Pager:
    return Pager(
        lambda q: Req("GET", PATH, query=q, model=EventList),
        _filters(filters),
        items_key="events",
        cursor_param="to",
        mode="inclusive",
        max_items=max_items,
    )


class _EventsBase(Resource[R]):
    @returns(EventList)
    def list(self, /, **filters: Any) -> Req:
        """``{events: [...], has_more}``, newest first. Filters: ``business_id``,
        ``event_id``, ``event_type``, ``object_type``, ``object_id``, ``from_`` (sent
        as ``from``), ``to``, ``limit``. A list value becomes repeated keys."""
        return get_req(PATH, _filters(filters))

    @returns(DeliveryList)
    def deliveries(self, /, **filters: Any) -> Req:
        """Every delivery attempt: ``business_id``, ``event_id``, ``webhook_id``,
        ``call_id``, ``status`` (succeeded|failed), ``limit``."""
        return get_req("/api/v1/event-deliveries", filters)

    @returns(Replayed)
    def replay(
        self,
        event_id: str | None = None,
        event_ids: Sequence[str] | None = None,
        filter: dict[str, Any] | None = None,
        business_id: str | None = None,
    ) -> Req:
        """Send events again, with their original ``webhook-id``."""
        body = {
            "event_id": event_id,
            "event_ids": list(event_ids) if event_ids is not None else None,
            "filter": filter,
            "business_id": business_id,
        }
        return post_req(f"{PATH}/replay", body)

    def backfill(
        self,
        from_: str,
        to: str,
        business_id: str | None = None,
        event_type: str | None = None,
        status: str | None = None,
    ) -> R:
        """Not served by every KaiCalls deployment."""
        body = {
            "from": from_,
            "to": to,
            "business_id": business_id,
            "event_type": event_type,
            "status": status,
        }
        return self._post(f"{PATH}/backfill", body)


class Events(_EventsBase[Sync]):
    def __init__(self, send: Callable[[Req], Sync], http: Requester) -> None:
        super().__init__(send)
        self._http = http

    def iter(self, *, max_items: int | None = None, **filters: Any) -> Iterator[Event]:
        """Every event matching the filters, newest first, across pages."""
        return iterate(self._send, _pager(filters, max_items))

    def stream(
        self,
        event_type: str | Sequence[str] | None = None,
        call_id: str | None = None,
        business_id: str | None = None,
        last_event_id: str | None = None,
        reconnect: bool = True,
    ) -> EventStream:
        """The live events (``GET /api/v1/events/stream``), as an iterator of `Event`.

        Connects at once and yields every event committed from then on (with
        ``last_event_id``: every event after that one first), oldest first, forever.
        Filters: ``event_type`` (one type, or several), ``call_id`` (that call's
        events), ``business_id``. When the connection drops or the server ends the
        stream, it reconnects with ``Last-Event-ID`` set to the last event yielded, so
        nothing is missed or repeated (``reconnect=False``: the iteration ends
        instead). A refused request raises its typed error (`InvalidRequestError`,
        `UnauthorizedError`, `ForbiddenError`, ...). Requires ``events:read``.

        Use it as a context manager, or call ``close()``; ``last_event_id`` is the id
        of the last event yielded.
        """
        core = StreamCore(
            stream_query(event_type, call_id, business_id),
            last_event_id,
            reconnect=reconnect,
            config=self._http.config,
        )
        return EventStream(self._http, core)


class AsyncEvents(_EventsBase[Async]):
    def __init__(self, send: Callable[[Req], Async], http: AsyncRequester) -> None:
        super().__init__(send)
        self._http = http

    def iter(self, *, max_items: int | None = None, **filters: Any) -> AsyncIterator[Event]:
        """Async `Events.iter`."""
        return aiterate(self._send, _pager(filters, max_items))

    def stream(
        self,
        event_type: str | Sequence[str] | None = None,
        call_id: str | None = None,
        business_id: str | None = None,
        last_event_id: str | None = None,
        reconnect: bool = True,
    ) -> AsyncEventStream:
        """Async `Events.stream`: ``async with kai.events.stream(...) as events:``
        connects, then ``async for event in events``. Without ``async with``, the first
        ``__anext__`` (or ``await events.connect()``) connects; ``await events.close()``
        releases it."""
        core = StreamCore(
            stream_query(event_type, call_id, business_id),
            last_event_id,
            reconnect=reconnect,
            config=self._http.config,
        )
        return AsyncEventStream(self._http, core)
