"""``kai.leads``: the CRM leads calls are enriched from."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any

from .._http import Req
from .._models import Lead, LeadList
from .._pagination import Pager, aiterate, iterate
from ._base import Async, R, Resource, Sync, get_req, patch_req, post_req, returns

PATH = "/api/v1/leads"


def _list_query(
    status: str | Iterable[str] | None,
    source: str | None,
    agent_id: str | None,
    phone: str | None,
    email: str | None,
    created_after: str | None,
    created_before: str | None,
    updated_after: str | None,
    updated_before: str | None,
    score_gte: int | None,
    score_lte: int | None,
    limit: int | None,
) -> dict[str, Any]:
    if status is not None and not isinstance(status, str):
        status = ",".join(status)
    return {
        "status": status,
        "source": source,
        "agent_id": agent_id,
        "phone": phone,
        "email": email,
        "created_after": created_after,
        "created_before": created_before,
        "updated_after": updated_after,
        "updated_before": updated_before,
        "score_gte": score_gte,
        "score_lte": score_lte,
        "limit": limit,
    }


def _pager(query: dict[str, Any], max_items: int | None) -> Pager:
    return Pager(
        lambda q: Req("GET", PATH, query=q, model=LeadList),
        query,
        items_key="leads",
        cursor_param="created_before",
        mode="strict_shifted",
        max_items=max_items,
    )


class _LeadsBase(Resource[R]):
    @returns(LeadList)
    def list(
        self,
        status: str | Iterable[str] | None = None,
        source: str | None = None,
        agent_id: str | None = None,
        phone: str | None = None,
        email: str | None = None,
        created_after: str | None = None,
        created_before: str | None = None,
        updated_after: str | None = None,
        updated_before: str | None = None,
        score_gte: int | None = None,
        score_lte: int | None = None,
        limit: int | None = None,
    ) -> Req:
        """One page of leads, newest first: ``{leads: [...], has_more}``.

        Filters combine with AND; ``status`` may be a list (any of them matches).
        """
        return get_req(
            PATH,
            _list_query(
                status,
                source,
                agent_id,
                phone,
                email,
                created_after,
                created_before,
                updated_after,
                updated_before,
                score_gte,
                score_lte,
                limit,
            ),
        )

    @returns(Lead)
    def get(self, lead_id: str) -> Req:
        return get_req(PATH, {"id": lead_id})

    @returns(Lead)
    def create(
        self, /, business_id: str, *, idempotency_key: str | None = None, **fields: Any
    ) -> Req:
        """Create a lead (``name``, ``phone``, ``email``, ``status``, ``source``,
        ``agent_id``, ``score``, ``notes``). Requires leads:write."""
        return post_req(
            PATH,
            {"business_id": business_id, **fields},
            create=True,
            idempotency_key=idempotency_key,
        )

    @returns(Lead)
    def update(self, /, id: str, **fields: Any) -> Req:
        """Partial update: pass only the fields to change. Requires leads:write."""
        return patch_req(PATH, {"id": id, **fields})

    def audit(
        self,
        window_hours: int | None = None,
        stalled_days: int | None = None,
        hot_score: int | None = None,
        as_of: str | None = None,
    ) -> R:
        """Pipeline health snapshot (not served by every KaiCalls deployment)."""
        return self._get(
            f"{PATH}/audit",
            {
                "window_hours": window_hours,
                "stalled_days": stalled_days,
                "hot_score": hot_score,
                "as_of": as_of,
            },
        )


class Leads(_LeadsBase[Sync]):
    def iter(
        self,
        status: str | Iterable[str] | None = None,
        source: str | None = None,
        agent_id: str | None = None,
        phone: str | None = None,
        email: str | None = None,
        created_after: str | None = None,
        created_before: str | None = None,
        updated_after: str | None = None,
        updated_before: str | None = None,
        score_gte: int | None = None,
        score_lte: int | None = None,
        limit: int | None = None,
        *,
        max_items: int | None = None,
    ) -> Iterator[Lead]:
        """Every lead matching the filters, newest first, across pages
        (``limit`` is the page size)."""
        query = _list_query(
            status,
            source,
            agent_id,
            phone,
            email,
            created_after,
            created_before,
            updated_after,
            updated_before,
            score_gte,
            score_lte,
            limit,
        )
        return iterate(self._send, _pager(query, max_items))


class AsyncLeads(_LeadsBase[Async]):
    def iter(
        self,
        status: str | Iterable[str] | None = None,
        source: str | None = None,
        agent_id: str | None = None,
        phone: str | None = None,
        email: str | None = None,
        created_after: str | None = None,
        created_before: str | None = None,
        updated_after: str | None = None,
        updated_before: str | None = None,
        score_gte: int | None = None,
        score_lte: int | None = None,
        limit: int | None = None,
        *,
        max_items: int | None = None,
    ) -> AsyncIterator[Lead]:
        """Async `Leads.iter`."""
        query = _list_query(
            status,
            source,
            agent_id,
            phone,
            email,
            created_after,
            created_before,
            updated_after,
            updated_before,
            score_gte,
            score_lte,
            limit,
        )
        return aiterate(self._send, _pager(query, max_items))
