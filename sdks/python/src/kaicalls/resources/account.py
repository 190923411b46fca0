"""``kai.account``: balance and the API usage log."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

from .._http import Req
from .._object import KaiObject
from .._pagination import Pager, aiterate, iterate
from ._base import Async, R, Resource, Sync

USAGE = "/api/v1/usage"


def _usage_query(start: str | None, end: str | None, limit: int | None) -> dict[str, Any]:
    return {"start": start, "end": end, "limit": limit}


def _pager(query: dict[str, Any], max_items: int | None) -> Pager:
    return Pager(
        lambda q: Req("GET", USAGE, query=q),
        query,
        items_key="usage",
        cursor_param="end",
        mode="inclusive",
        max_items=max_items,
    )


class _AccountBase(Resource[R]):
    def balance(self) -> R:
        """``{businesses: [{business_id, minutes_used, phone_numbers, subscription_status}]}``."""
        return self._get("/api/v1/balance")

    def usage(
        self, start: str | None = None, end: str | None = None, limit: int | None = None
    ) -> R:
        """One page of the usage log, newest first: ``{usage: [...], has_more}``."""
        return self._get(USAGE, _usage_query(start, end, limit))


class Account(_AccountBase[Sync]):
    def iter_usage(
        self,
        start: str | None = None,
        end: str | None = None,
        limit: int | None = None,
        *,
        max_items: int | None = None,
    ) -> Iterator[KaiObject]:
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
    ) -> AsyncIterator[KaiObject]:
        """Async `Account.iter_usage`."""
        return aiterate(self._send, _pager(_usage_query(start, end, limit), max_items))
