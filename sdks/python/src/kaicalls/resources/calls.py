"""``kai.calls``: place, read, list, wait for and end calls."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any

from .._errors import WaitTimeoutError
from .._http import Req
from .._models import Call, CallDetail, CallList
from .._pagination import Pager, aiterate, iterate
from ._base import Async, R, Resource, Sync, get_req, post_req, returns

PATH = "/api/v1/calls"

#: 0.1.0's notion of "still running": anything else (a missing status included) is
#: finished. Kept as is so ``wait()`` ends exactly when it used to.
ACTIVE_STATUSES = frozenset({"queued", "ringing", "in-progress", "in_progress", "started"})


class _CallsBase(Resource[R]):
    @returns(Call)
    def create(
        self,
        agent_id: str,
        to: str,
        name: str | None = None,
        context: str | None = None,
        first_message: str | None = None,
        lead_id: str | None = None,
        webhook_url: str | None = None,
        max_duration: int | None = None,
        *,
        metadata: Mapping[str, Any] | None = None,
        webhook_events: Sequence[str] | None = None,
        scheduled_at: str | None = None,
        respect_calling_hours: bool | None = None,
        idempotency_key: str | None = None,
    ) -> Req:
        """Start an outbound call (or schedule it: ``scheduled_at``, ISO 8601; with
        ``respect_calling_hours`` a time outside the recipient's calling hours moves to
        their next allowed moment). Requires calls:write.

        Every create carries an ``Idempotency-Key`` (a fresh uuid4 unless you pass
        your own), so the automatic retries after a 5xx or a broken connection can
        never place the call twice. Pass your own key to make your *own* retries
        safe too (e.g. one key per order).
        """
        body = {
            "agent_id": agent_id,
            "to": to,
            "name": name,
            "context": context,
            "first_message": first_message,
            "lead_id": lead_id,
            "webhook_url": webhook_url,
            "max_duration": max_duration,
            "metadata": dict(metadata) if metadata is not None else None,
            "webhook_events": list(webhook_events) if webhook_events is not None else None,
            "scheduled_at": scheduled_at,
            "respect_calling_hours": respect_calling_hours,
        }
        return post_req(PATH, body, create=True, idempotency_key=idempotency_key, idempotent=True)

    @returns(CallDetail)
    def get(self, call_id: str, *, wait: int | None = None) -> Req:
        """Fetch one call (summary, recording_url, quality_dimensions, transcript).

        ``wait`` (seconds, at most 60) asks the server to answer as soon as the call
        is finished, or after that long with its current state.
        """
        return get_req(PATH, {"id": call_id, "wait": wait})

    @returns(CallList)
    def list(
        self,
        limit: int | None = None,
        agent_id: str | None = None,
        status: str | None = None,
        after: str | None = None,
        campaign_id: str | None = None,
        direction: str | None = None,
    ) -> Req:
        """One page of calls, newest first: ``{calls: [...], has_more}`` (only one
        campaign's with ``campaign_id``; only the calls answered, ``inbound``, or
        placed, ``outbound``, with ``direction``).

        ``after`` is the ``created_at`` of the last call of the previous page;
        `iter` does that paging for you.
        """
        return get_req(PATH, _list_query(limit, agent_id, status, after, campaign_id, direction))

    @returns(CallDetail)
    def end(self, call_id: str) -> Req:
        """Hang up a live call (``ended_reason`` ``ended_by_api``) or cancel a queued
        one (status ``canceled``). A finished call is returned unchanged."""
        return post_req(f"{PATH}/end", query={"id": call_id}, idempotent=True)


def _list_query(
    limit: int | None,
    agent_id: str | None,
    status: str | None,
    after: str | None,
    campaign_id: str | None,
    direction: str | None,
) -> dict[str, Any]:
    return {
        "limit": limit,
        "agent_id": agent_id,
        "status": status,
        "after": after,
        "campaign_id": campaign_id,
        "direction": direction,
    }


def _pager(query: dict[str, Any], max_items: int | None) -> Pager:
    return Pager(
        lambda q: Req("GET", PATH, query=q, model=CallList),
        query,
        items_key="calls",
        cursor_param="after",
        mode="strict",
        max_items=max_items,
    )


def _timeout_error(call_id: str, call: Any, timeout: float) -> WaitTimeoutError:
    status = call.get("status") if isinstance(call, Mapping) else None
    return WaitTimeoutError(
        0, "wait_timeout", f'Call {call_id} still "{status}" after {timeout}s', call
    )


def _finished(call: Any) -> bool:
    status = call.get("status") if isinstance(call, Mapping) else None
    return str(status) not in ACTIVE_STATUSES


class Calls(_CallsBase[Sync]):
    def wait(self, call_id: str, interval: float = 3.0, timeout: float = 600.0) -> CallDetail:
        """Poll a call until it is finished (completed, failed or canceled) and
        return it; raise `WaitTimeoutError` (``code == "wait_timeout"``) after
        ``timeout`` seconds. Failed and canceled calls are returned, not raised."""
        deadline = time.monotonic() + timeout
        while True:
            call = self.get(call_id)
            if _finished(call):
                return call
            if time.monotonic() >= deadline:
                raise _timeout_error(call_id, call, timeout)
            time.sleep(interval)

    def iter(
        self,
        limit: int | None = None,
        agent_id: str | None = None,
        status: str | None = None,
        after: str | None = None,
        campaign_id: str | None = None,
        direction: str | None = None,
        *,
        max_items: int | None = None,
    ) -> Iterator[Call]:
        """Every call matching the filters (``campaign_id``: the calls one campaign
        placed; ``direction``: ``inbound`` or ``outbound``), newest first, across pages.

        ``limit`` is the page size (1..100); ``max_items`` stops after that many.
        """
        query = _list_query(limit, agent_id, status, after, campaign_id, direction)
        return iterate(self._send, _pager(query, max_items))


class AsyncCalls(_CallsBase[Async]):
    async def wait(self, call_id: str, interval: float = 3.0, timeout: float = 600.0) -> CallDetail:
        """Async `Calls.wait`."""
        deadline = time.monotonic() + timeout
        while True:
            call = await self.get(call_id)
            if _finished(call):
                return call
            if time.monotonic() >= deadline:
                raise _timeout_error(call_id, call, timeout)
            await asyncio.sleep(interval)

    def iter(
        self,
        limit: int | None = None,
        agent_id: str | None = None,
        status: str | None = None,
        after: str | None = None,
        campaign_id: str | None = None,
        direction: str | None = None,
        *,
        max_items: int | None = None,
    ) -> AsyncIterator[Call]:
        """Async `Calls.iter`: ``async for call in kai.calls.iter(...)``."""
        query = _list_query(limit, agent_id, status, after, campaign_id, direction)
        return aiterate(self._send, _pager(query, max_items))
