"""``kai.staff_alerts``: who on the staff hears about what the phone brought in (a new
lead, a callback requested, a follow-up, a voicemail), by email or a signed webhook,
and the alerts sent with their delivery outcome. Settings need ``agents:read`` /
``agents:write``; the alerts sent, ``calls:read``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

from .._http import Req
from .._models import AlertList, AlertSettings, StaffAlert
from .._pagination import Pager, aiterate, iterate
from ._base import Async, R, Resource, Sync, get_req, patch_req, returns

PATH = "/api/v1/staff-alerts"
SETTINGS = f"{PATH}/settings"


def _list_query(
    business_id: str | None, call_id: str | None, after: str | None, limit: int | None
) -> dict[str, Any]:
    return {"business_id": business_id, "call_id": call_id, "after": after, "limit": limit}


def _pager(query: dict[str, Any], max_items: int | None) -> Pager:
    return Pager(
        lambda q: Req("GET", PATH, query=q, model=AlertList),
        query,
        items_key="alerts",
        cursor_param="after",
        mode="strict",
        max_items=max_items,
    )


class _StaffAlertsBase(Resource[R]):
    @returns(AlertSettings)
    def settings(self, business_id: str | None = None) -> Req:
        """The business's alert settings: ``enabled``, ``emails``, ``webhook_url`` and
        the ``events`` that alert."""
        return get_req(SETTINGS, {"business_id": business_id})

    @returns(AlertSettings)
    def update_settings(
        self,
        enabled: bool | None = None,
        emails: Sequence[str] | None = None,
        webhook_url: str | None = None,
        events: Sequence[str] | None = None,
        business_id: str | None = None,
    ) -> Req:
        """Change only what is passed: ``emails`` (at most 20) and ``events`` (of
        ``new_lead``, ``callback_requested``, ``follow_up``, ``voicemail``) replace
        their lists; ``webhook_url`` ``""`` removes the webhook."""
        body = {
            "business_id": business_id,
            "enabled": enabled,
            "emails": list(emails) if emails is not None else None,
            "webhook_url": webhook_url,
            "events": list(events) if events is not None else None,
        }
        return patch_req(SETTINGS, body)

    @returns(AlertList)
    def list(
        self,
        business_id: str | None = None,
        call_id: str | None = None,
        after: str | None = None,
        limit: int | None = None,
    ) -> Req:
        """One page of the alerts sent, newest first: ``{alerts: [...], has_more}``, each
        with its recipient, ``status`` (``pending``, ``delivered``, ``failed``) and last
        ``error`` (only one call's with ``call_id``)."""
        return get_req(PATH, _list_query(business_id, call_id, after, limit))


class StaffAlerts(_StaffAlertsBase[Sync]):
    def iter(
        self,
        business_id: str | None = None,
        call_id: str | None = None,
        after: str | None = None,
        limit: int | None = None,
        *,
        max_items: int | None = None,
    ) -> Iterator[StaffAlert]:
        """Every alert sent, newest first, across pages."""
        query = _list_query(business_id, call_id, after, limit)
        return iterate(self._send, _pager(query, max_items))


class AsyncStaffAlerts(_StaffAlertsBase[Async]):
    def iter(
        self,
        business_id: str | None = None,
        call_id: str | None = None,
        after: str | None = None,
        limit: int | None = None,
        *,
        max_items: int | None = None,
    ) -> AsyncIterator[StaffAlert]:
        """Async `StaffAlerts.iter`."""
        query = _list_query(business_id, call_id, after, limit)
        return aiterate(self._send, _pager(query, max_items))
