"""``kai.campaigns``: call a list with one agent, inside the rules (calling hours in
each recipient's time, the do-not-call list, consent, retries by outcome), and follow
every contact. Scopes ``campaigns:read`` / ``campaigns:write``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any

from .._http import Req
from .._models import (
    CampaignCreated,
    CampaignList,
    CampaignView,
    Contact,
    ContactList,
    ContactsAdded,
)
from .._pagination import Pager, aiterate, iterate
from ._base import Async, R, Resource, Sync, get_req, patch_req, post_req, returns

PATH = "/api/v1/campaigns"
CONTACTS = f"{PATH}/contacts"


def _settings(
    context: str | None,
    first_message: str | None,
    variables: Mapping[str, Any] | None,
    max_concurrency: int | None,
    starts_at: str | None,
    ends_at: str | None,
    calling_window: Mapping[str, Any] | None,
    retry: Mapping[str, Any] | None,
    require_consent: str | None,
    voicemail_action: str | None,
    voicemail_message: str | None,
) -> dict[str, Any]:
    return {
        "context": context,
        "first_message": first_message,
        "variables": dict(variables) if variables is not None else None,
        "max_concurrency": max_concurrency,
        "starts_at": starts_at,
        "ends_at": ends_at,
        "calling_window": dict(calling_window) if calling_window is not None else None,
        "retry": dict(retry) if retry is not None else None,
        "require_consent": require_consent,
        "voicemail_action": voicemail_action,
        "voicemail_message": voicemail_message,
    }


def _contacts_body(
    contacts: Sequence[Mapping[str, Any]] | None,
    lead_ids: Sequence[str] | None,
    lead_filter: Mapping[str, Any] | None,
) -> dict[str, Any]:
    return {
        "contacts": [dict(c) for c in contacts] if contacts is not None else None,
        "lead_ids": list(lead_ids) if lead_ids is not None else None,
        "lead_filter": dict(lead_filter) if lead_filter is not None else None,
    }


class _CampaignsBase(Resource[R]):
    @returns(CampaignCreated)
    def create(
        self,
        name: str,
        agent_id: str,
        contacts: Sequence[Mapping[str, Any]] | None = None,
        *,
        lead_ids: Sequence[str] | None = None,
        lead_filter: Mapping[str, Any] | None = None,
        from_number: str | None = None,
        context: str | None = None,
        first_message: str | None = None,
        variables: Mapping[str, Any] | None = None,
        max_concurrency: int | None = None,
        starts_at: str | None = None,
        ends_at: str | None = None,
        calling_window: Mapping[str, Any] | None = None,
        retry: Mapping[str, Any] | None = None,
        require_consent: str | None = None,
        voicemail_action: str | None = None,
        voicemail_message: str | None = None,
        start: bool | None = None,
        idempotency_key: str | None = None,
    ) -> Req:
        """Create a campaign with up to 10,000 contacts (``{to, name, variables, key,
        lead_id}`` rows, ``lead_ids``, a ``lead_filter``): a draft, or dialing at once
        with ``start=True``. ``retry`` is ``{max_attempts, retry_on, spacing_minutes}``;
        ``calling_window`` is ``{start, end, quiet_days}`` in each recipient's time."""
        body = {
            "name": name,
            "agent_id": agent_id,
            "from_number": from_number,
            "start": start,
            **_settings(
                context,
                first_message,
                variables,
                max_concurrency,
                starts_at,
                ends_at,
                calling_window,
                retry,
                require_consent,
                voicemail_action,
                voicemail_message,
            ),
            **_contacts_body(contacts, lead_ids, lead_filter),
        }
        return post_req(PATH, body, create=True, idempotency_key=idempotency_key)

    @returns(CampaignView)
    def get(self, campaign_id: str) -> Req:
        """One campaign with its counters by contact state, outcome and skip reason."""
        return get_req(PATH, {"id": campaign_id})

    @returns(CampaignList)
    def list(
        self,
        status: str | None = None,
        business_id: str | None = None,
        after: str | None = None,
        limit: int | None = None,
    ) -> Req:
        """One page of campaigns, newest first: ``{campaigns: [...], has_more}``."""
        return get_req(PATH, _list_query(status, business_id, after, limit))

    @returns(CampaignView)
    def update(
        self,
        campaign_id: str,
        *,
        name: str | None = None,
        context: str | None = None,
        first_message: str | None = None,
        variables: Mapping[str, Any] | None = None,
        max_concurrency: int | None = None,
        starts_at: str | None = None,
        ends_at: str | None = None,
        calling_window: Mapping[str, Any] | None = None,
        retry: Mapping[str, Any] | None = None,
        require_consent: str | None = None,
        voicemail_action: str | None = None,
        voicemail_message: str | None = None,
    ) -> Req:
        """Edit a draft, scheduled or paused campaign (a running one: 409)."""
        body = {
            "id": campaign_id,
            "name": name,
            **_settings(
                context,
                first_message,
                variables,
                max_concurrency,
                starts_at,
                ends_at,
                calling_window,
                retry,
                require_consent,
                voicemail_action,
                voicemail_message,
            ),
        }
        return patch_req(PATH, body)

    @returns(ContactList)
    def contacts(
        self,
        campaign_id: str,
        state: str | None = None,
        after: int | None = None,
        limit: int | None = None,
    ) -> Req:
        """One page of a campaign's contacts in the order added, each with its state,
        attempts, call ids, outcome and skip reason; ``after`` is the previous page's
        ``next_after``."""
        return get_req(
            CONTACTS, {"id": campaign_id, "state": state, "after": after, "limit": limit}
        )

    @returns(ContactsAdded)
    def add_contacts(
        self,
        campaign_id: str,
        contacts: Sequence[Mapping[str, Any]] | None = None,
        *,
        lead_ids: Sequence[str] | None = None,
        lead_filter: Mapping[str, Any] | None = None,
    ) -> Req:
        """Append up to 10,000 contacts; a key the campaign already holds adds nothing
        (``already_present``)."""
        return post_req(
            CONTACTS,
            _contacts_body(contacts, lead_ids, lead_filter),
            query={"id": campaign_id},
            idempotent=True,
        )

    @returns(CampaignView)
    def start(self, campaign_id: str) -> Req:
        """Start a draft (``scheduled`` until its ``starts_at``)."""
        return post_req(f"{PATH}/start", query={"id": campaign_id}, idempotent=True)

    @returns(CampaignView)
    def pause(self, campaign_id: str) -> Req:
        """No new dials from now; calls in progress finish."""
        return post_req(f"{PATH}/pause", query={"id": campaign_id}, idempotent=True)

    @returns(CampaignView)
    def resume(self, campaign_id: str) -> Req:
        """Go on where a paused campaign stopped."""
        return post_req(f"{PATH}/resume", query={"id": campaign_id}, idempotent=True)

    @returns(CampaignView)
    def cancel(self, campaign_id: str) -> Req:
        """End it: pending contacts are ``canceled``; calls in progress finish."""
        return post_req(f"{PATH}/cancel", query={"id": campaign_id}, idempotent=True)


def _list_query(
    status: str | None, business_id: str | None, after: str | None, limit: int | None
) -> dict[str, Any]:
    return {"status": status, "business_id": business_id, "after": after, "limit": limit}


def _pager(query: dict[str, Any], max_items: int | None) -> Pager:
    return Pager(
        lambda q: Req("GET", PATH, query=q, model=CampaignList),
        query,
        items_key="campaigns",
        cursor_param="after",
        mode="strict",
        max_items=max_items,
    )


def _contacts_req(campaign_id: str, state: str | None, after: int | None, limit: int | None) -> Req:
    query = {"id": campaign_id, "state": state, "after": after, "limit": limit}
    return Req("GET", CONTACTS, query=query, model=ContactList)


def _next_after(page: Any, contacts: Any, after: int | None) -> int | None:
    """The cursor of the page after ``page`` (None: that was the last one). A page
    without contacts, or a cursor that does not move, ends the iteration too."""
    cursor = page.get("next_after")
    if not page.get("has_more") or not contacts or not isinstance(cursor, int):
        return None
    return None if cursor == after else cursor


class Campaigns(_CampaignsBase[Sync]):
    def iter(
        self,
        status: str | None = None,
        business_id: str | None = None,
        limit: int | None = None,
        *,
        max_items: int | None = None,
    ) -> Iterator[CampaignView]:
        """Every campaign matching the filters, newest first, across pages."""
        return iterate(self._send, _pager(_list_query(status, business_id, None, limit), max_items))

    def iter_contacts(
        self, campaign_id: str, state: str | None = None, limit: int | None = None
    ) -> Iterator[Contact]:
        """Every contact of the campaign, in the order added, across pages."""
        after: int | None = None
        while True:
            page = self._send(_contacts_req(campaign_id, state, after, limit))
            contacts = page.get("contacts") or []
            yield from contacts
            after = _next_after(page, contacts, after)
            if after is None:
                return


class AsyncCampaigns(_CampaignsBase[Async]):
    def iter(
        self,
        status: str | None = None,
        business_id: str | None = None,
        limit: int | None = None,
        *,
        max_items: int | None = None,
    ) -> AsyncIterator[CampaignView]:
        """Async `Campaigns.iter`."""
        return aiterate(
            self._send, _pager(_list_query(status, business_id, None, limit), max_items)
        )

    async def iter_contacts(
        self, campaign_id: str, state: str | None = None, limit: int | None = None
    ) -> AsyncIterator[Contact]:
        """Async `Campaigns.iter_contacts`."""
        after: int | None = None
        while True:
            page = await self._send(_contacts_req(campaign_id, state, after, limit))
            contacts = page.get("contacts") or []
            for contact in contacts:
                yield contact
            after = _next_after(page, contacts, after)
            if after is None:
                return
