"""``kai.compliance``: the do-not-call list, consent records, calling hours and the
dials the pre-dial gate refused. Scopes ``compliance:read`` / ``compliance:write``."""

from __future__ import annotations

from typing import Any

from .._http import Req
from .._models import (
    Consent,
    ConsentList,
    DncAdded,
    DncEntry,
    DncList,
    RefusalList,
    Settings,
)
from ._base import Async, R, Resource, Sync, delete_req, get_req, patch_req, post_req, returns

DNC = "/api/v1/dnc"
CONSENTS = "/api/v1/consents"


class _ComplianceBase(Resource[R]):
    @returns(DncList)
    def dnc_list(
        self,
        phone: str | None = None,
        business_id: str | None = None,
        include_removed: bool | None = None,
        after: str | None = None,
        limit: int | None = None,
    ) -> Req:
        """The do-not-call list, newest first: ``{entries: [...], has_more}``."""
        query: dict[str, Any] = {
            "phone": phone,
            "business_id": business_id,
            "include_removed": None if include_removed is None else str(include_removed).lower(),
            "after": after,
            "limit": limit,
        }
        return get_req(DNC, query)

    @returns(DncAdded)
    def dnc_add(self, phone: str, reason: str | None = None, business_id: str | None = None) -> Req:
        """Put one number on the list (listing it again changes nothing)."""
        body = {"phone": phone, "reason": reason, "business_id": business_id}
        return post_req(DNC, body, create=True)

    @returns(DncAdded)
    def dnc_import(
        self,
        numbers: list[str | dict[str, Any]],
        reason: str | None = None,
        business_id: str | None = None,
    ) -> Req:
        """Put up to 10,000 numbers on the list: ``{added, already_listed, invalid}``."""
        body = {"numbers": numbers, "reason": reason, "business_id": business_id}
        return post_req(DNC, body, create=True)

    @returns(DncEntry)
    def dnc_remove(self, phone: str, reason: str, business_id: str | None = None) -> Req:
        """Take a number off the list; the entry is kept with the reason."""
        return delete_req(DNC, {"phone": phone, "reason": reason, "business_id": business_id})

    @returns(ConsentList)
    def consents(
        self,
        phone: str | None = None,
        lead_id: str | None = None,
        business_id: str | None = None,
        limit: int | None = None,
    ) -> Req:
        """Consent records, newest first."""
        query = {"phone": phone, "lead_id": lead_id, "business_id": business_id, "limit": limit}
        return get_req(CONSENTS, query)

    @returns(Consent)
    def record_consent(
        self,
        basis: str,
        source: str,
        phone: str | None = None,
        lead_id: str | None = None,
        granted_at: str | None = None,
        business_id: str | None = None,
    ) -> Req:
        """Record a consent: basis ``express``, ``express_written``, ``existing_customer``
        or ``inquiry``."""
        body = {
            "basis": basis,
            "source": source,
            "phone": phone,
            "lead_id": lead_id,
            "granted_at": granted_at,
            "business_id": business_id,
        }
        return post_req(CONSENTS, body, create=True)

    @returns(Consent)
    def revoke_consent(self, id: str, reason: str) -> Req:
        """Revoke a consent; it is kept with the reason."""
        return delete_req(CONSENTS, {"id": id, "reason": reason})

    @returns(Settings)
    def settings(self, business_id: str | None = None) -> Req:
        """The business's calling hours."""
        return get_req("/api/v1/compliance/settings", {"business_id": business_id})

    @returns(Settings)
    def update_settings(
        self,
        window_start: str | None = None,
        window_end: str | None = None,
        quiet_days: list[str] | None = None,
        enforce_single_calls: bool | None = None,
        business_id: str | None = None,
    ) -> Req:
        """A narrower window (inside 08:00 to 21:00), quiet days, and whether single calls
        are held to calling hours."""
        body = {
            "window_start": window_start,
            "window_end": window_end,
            "quiet_days": quiet_days,
            "enforce_single_calls": enforce_single_calls,
            "business_id": business_id,
        }
        return patch_req("/api/v1/compliance/settings", body)

    @returns(RefusalList)
    def refusals(self, business_id: str | None = None, limit: int | None = None) -> Req:
        """Dials the pre-dial gate refused, with the reason, newest first."""
        return get_req("/api/v1/compliance/refusals", {"business_id": business_id, "limit": limit})


class Compliance(_ComplianceBase[Sync]):
    pass


class AsyncCompliance(_ComplianceBase[Async]):
    pass
