"""``kai.voicemails``: the messages callers left when the agent took a message."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

from .._http import Req
from .._models import Voicemail, VoicemailList
from .._pagination import Pager, aiterate, iterate
from ._base import Async, R, Resource, Sync, get_req, returns

PATH = "/api/v1/voicemails"


def _list_query(business_id: str | None, after: str | None, limit: int | None) -> dict[str, Any]:
    return {"business_id": business_id, "after": after, "limit": limit}


def _pager(query: dict[str, Any], max_items: int | None) -> Pager:
    return Pager(
        lambda q: Req("GET", PATH, query=q, model=VoicemailList),
        query,
        items_key="voicemails",
        cursor_param="after",
        mode="strict",
        max_items=max_items,
    )


class _VoicemailsBase(Resource[R]):
    @returns(VoicemailList)
    def list(
        self,
        business_id: str | None = None,
        after: str | None = None,
        limit: int | None = None,
    ) -> Req:
        """One page of voicemails, newest first: ``{voicemails: [...], has_more}``, each
        with the caller, its lead, what they said (``transcript``), a summary and a
        signed ``recording_url``. Requires calls:read.

        ``after`` is the ``created_at`` of the last voicemail of the previous page;
        `iter` does that paging for you.
        """
        return get_req(PATH, _list_query(business_id, after, limit))


class Voicemails(_VoicemailsBase[Sync]):
    def iter(
        self,
        business_id: str | None = None,
        after: str | None = None,
        limit: int | None = None,
        *,
        max_items: int | None = None,
    ) -> Iterator[Voicemail]:
        """Every voicemail, newest first, across pages.

        ``limit`` is the page size (1..100); ``max_items`` stops after that many.
        """
        return iterate(self._send, _pager(_list_query(business_id, after, limit), max_items))


class AsyncVoicemails(_VoicemailsBase[Async]):
    def iter(
        self,
        business_id: str | None = None,
        after: str | None = None,
        limit: int | None = None,
        *,
        max_items: int | None = None,
    ) -> AsyncIterator[Voicemail]:
        """Async `Voicemails.iter`: ``async for vm in kai.voicemails.iter(...)``."""
        return aiterate(self._send, _pager(_list_query(business_id, after, limit), max_items))
