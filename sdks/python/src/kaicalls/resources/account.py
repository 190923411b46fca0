"""``kai.account``: balance, call analytics and the API usage log."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

from .._http import Req
from .._models import Analytics, Balance, Usage, UsageRow
from .._pagination import Pager, aiterate, iterate
from ._base import Async, R, Resource, Sync, get_req, returns

USAGE = "/api/v1/usage"


def _usage_query(start: str | None, end: str | None, limit: int | None) -> dict[str, Any]:
    return {"start": start, "end": end, "limit": limit}


def _pager(query: dict[str, Any], max_items: int | None) -> Pager:
    return Pager(
        lambda q: Req("GET", USAGE, query=q, model=Usage),
        query,
        items_key="usage",
        cursor_param="end",
        mode="inclusive",
        max_items=max_items,
    )


class _AccountBase(Resource[R]):
    @returns(Balance)
    def balance(self) -> Req:
        """``{businesses: [{business_id, minutes_used, phone_numbers, subscription_status}]}``."""
        return get_req("/api/v1/balance")

    @returns(Analytics)
    def analytics(self, days: int | None = None, business_id: str | None = None) -> Req:
        """Calls of the last ``days`` (default 30) by status and outcome, and minutes."""
        return get_req("/api/v1/analytics", {"days": days, "business_id": business_id})

    @returns(Usage)
    def usage(
        self, start: str | None = None, end: str | None = None, limit: int | None = None
    ) -> Req:
        """One page of the usage log, newest first: ``{usage: [...], has_more}``."""
        return get_req(USAGE, _usage_query(start, end, limit))


class Account(_AccountBase[Sync]):
    def iter_usage(
        self,
        start: str | None = None,
        end: str | None = None,
        limit: int | None = None,
        *,
        max_items: int | None = None,
    ) -> Iterator[UsageRow]:
        """Every usage row between ``start`` and ``end``, newest first, across pages."""
        return iterate(self._send, _pager(_usage_query(start, end, limit), max_items))


class AsyncAccount(_AccountBase[Async]):
    def iter_usage(
        self,
        start: str | None = None,
        end: str | None = None,
        limit: int | None = None,
        *,
        max_items: int | None = None,
    ) -> AsyncIterator[UsageRow]:
        """Async `Account.iter_usage`."""
        return aiterate(self._send, _pager(_usage_query(start, end, limit), max_items))
