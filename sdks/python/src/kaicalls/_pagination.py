"""Iterating across pages of a list endpoint.

Every list answers ``{<items>: [...], "has_more": bool}``, newest first. The next
page is asked for with a bound on ``created_at`` taken from the last item. Endpoints
differ in that bound:

- ``strict`` (calls, transcripts: ``after``): strictly older than the cursor. The
  server guarantees unique ``created_at`` values there, so nothing repeats or is lost.
- ``inclusive`` (usage ``end``, events ``to``): older or equal; items at the boundary
  already yielded are skipped by id.
- ``strict_shifted`` (leads ``created_before``): strictly older, so the cursor is moved
  one microsecond later (making it inclusive) and boundary items are skipped by id;
  two leads sharing a ``created_at`` are then never lost at a page boundary.

Should a whole page consist of already-seen items sharing one instant (more ties than
a page holds), the next request steps strictly past that instant, so iteration always
ends; only then could ties beyond that page be skipped.

`Pager` holds that state; the sync and async iterators only drive it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any, Literal

from ._http import Req

CursorMode = Literal["strict", "inclusive", "strict_shifted"]


def _shift(timestamp: str, microseconds: int) -> str | None:
    try:
        parsed = datetime.fromisoformat(timestamp)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None
    shifted = parsed + timedelta(microseconds=microseconds)
    return shifted.strftime("%Y-%m-%dT%H:%M:%S.%f") + _zone(shifted)


def _zone(dt: datetime) -> str:
    offset = dt.utcoffset()
    if not offset:
        return "Z"
    return dt.strftime("%z")[:3] + ":" + dt.strftime("%z")[3:]


class Pager:
    """Turns pages into a stream of items and says which request comes next."""

    def __init__(
        self,
        make_req: Callable[[Mapping[str, Any]], Req],
        query: Mapping[str, Any],
        *,
        items_key: str,
        cursor_param: str,
        mode: CursorMode,
        max_items: int | None = None,
    ) -> None:
        self._make_req = make_req
        self._query = dict(query)
        self._items_key = items_key
        self._cursor_param = cursor_param
        self._mode = mode
        self._remaining = max_items
        self._boundary: str | None = None
        self._boundary_ids: set[Any] = set()
        self._done = max_items is not None and max_items <= 0
        self._last_query: dict[str, Any] = self._query

    def first(self) -> Req | None:
        return None if self._done else self._make_req(self._query)

    def feed(self, page: Any) -> tuple[list[Any], Req | None]:
        """The new items of ``page`` and the request for the next one (or None)."""
        items = list(page.get(self._items_key) or []) if isinstance(page, Mapping) else []
        has_more = bool(page.get("has_more")) if isinstance(page, Mapping) else False
        if self._mode != "strict":
            items_new = [i for i in items if _id(i) not in self._boundary_ids]
        else:
            items_new = items
        if self._remaining is not None:
            items_new = items_new[: self._remaining]
            self._remaining -= len(items_new)
            if self._remaining <= 0:
                return items_new, None
        if not items or not has_more:
            return items_new, None
        cursor = items[-1].get("created_at") if isinstance(items[-1], Mapping) else None
        if not isinstance(cursor, str) or not cursor:
            return items_new, None
        self._track_boundary(items, cursor)
        # A whole page of already-seen items at the boundary instant (or a next
        # request that would repeat this one): more items than a page share that
        # instant, so step strictly past it rather than ask for it again.
        stuck = self._mode != "strict" and not items_new
        query = {**self._query, self._cursor_param: self._next_value(cursor, stuck)}
        if query == self._last_query and not stuck:
            query = {**self._query, self._cursor_param: self._next_value(cursor, True)}
        if query[self._cursor_param] is None or query == self._last_query:
            return items_new, None
        self._last_query = query
        return items_new, self._make_req(query)

    def _next_value(self, cursor: str, past: bool) -> str | None:
        """The cursor parameter's value: the instant itself, or (``past``) the value
        that excludes it."""
        if self._mode == "strict":
            return cursor
        if self._mode == "strict_shifted":
            return cursor if past else (_shift(cursor, 1) or cursor)
        return _shift(cursor, -1) if past else cursor

    def _track_boundary(self, items: list[Any], cursor: str) -> None:
        at_boundary = {_id(i) for i in items if _created(i) == cursor}
        if cursor == self._boundary:
            self._boundary_ids |= at_boundary
        else:
            self._boundary, self._boundary_ids = cursor, at_boundary


def _id(item: Any) -> Any:
    return item.get("id") if isinstance(item, Mapping) else None


def _created(item: Any) -> Any:
    return item.get("created_at") if isinstance(item, Mapping) else None


def iterate(send: Callable[[Req], Any], pager: Pager) -> Iterator[Any]:
    """Drives `pager` with a synchronous ``send``."""
    req = pager.first()
    while req is not None:
        items, req = pager.feed(send(req))
        yield from items


async def aiterate(send: Callable[[Req], Awaitable[Any]], pager: Pager) -> AsyncIterator[Any]:
    """Drives `pager` with an asynchronous ``send``."""
    req = pager.first()
    while req is not None:
        items, req = pager.feed(await send(req))
        for item in items:
            yield item
