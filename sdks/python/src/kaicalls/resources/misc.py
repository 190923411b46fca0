"""``kai.recordings``, ``kai.transcripts`` and ``kai.discovery``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

from .._http import Req
from .._models import Health, Recording, Transcript, TranscriptList
from .._pagination import Pager, aiterate, iterate
from ._base import Async, R, Resource, Sync, get_req, returns

TRANSCRIPTS = "/api/v1/transcripts"


class _RecordingsBase(Resource[R]):
    @returns(Recording)
    def get(self, call_id: str) -> Req:
        """A fresh signed recording URL and status for one call. Requires calls:read."""
        return get_req("/api/v1/recordings", {"call_id": call_id})


class Recordings(_RecordingsBase[Sync]):
    pass


class AsyncRecordings(_RecordingsBase[Async]):
    pass


def _transcripts_query(
    limit: int | None, agent_id: str | None, after: str | None, days: int | None
) -> dict[str, Any]:
    return {"limit": limit, "agent_id": agent_id, "after": after, "days": days}


def _pager(query: dict[str, Any], max_items: int | None) -> Pager:
    return Pager(
        lambda q: Req("GET", TRANSCRIPTS, query=q, model=TranscriptList),
        query,
        items_key="transcripts",
        cursor_param="after",
        mode="strict",
        max_items=max_items,
    )


class _TranscriptsBase(Resource[R]):
    @returns(TranscriptList)
    def list(
        self,
        limit: int | None = None,
        agent_id: str | None = None,
        after: str | None = None,
        days: int | None = None,
    ) -> Req:
        """Completed calls' transcripts, newest first: ``{transcripts, has_more}``."""
        return get_req(TRANSCRIPTS, _transcripts_query(limit, agent_id, after, days))


class Transcripts(_TranscriptsBase[Sync]):
    def iter(
        self,
        limit: int | None = None,
        agent_id: str | None = None,
        after: str | None = None,
        days: int | None = None,
        *,
        max_items: int | None = None,
    ) -> Iterator[Transcript]:
        """Every transcript, newest first, across pages."""
        return iterate(
            self._send, _pager(_transcripts_query(limit, agent_id, after, days), max_items)
        )


class AsyncTranscripts(_TranscriptsBase[Async]):
    def iter(
        self,
        limit: int | None = None,
        agent_id: str | None = None,
        after: str | None = None,
        days: int | None = None,
        *,
        max_items: int | None = None,
    ) -> AsyncIterator[Transcript]:
        """Async `Transcripts.iter`."""
        return aiterate(
            self._send, _pager(_transcripts_query(limit, agent_id, after, days), max_items)
        )


class _DiscoveryBase(Resource[R]):
    def capabilities(self, business_id: str | None = None) -> R:
        return self._get("/api/v1/capabilities", {"business_id": business_id})

    def openapi(self) -> R:
        """The OpenAPI document (``/api/v1/openapi.json``)."""
        return self._get("/api/v1/openapi.json")

    def schemas(self, name: str | None = None) -> R:
        return self._get("/api/v1/schemas", {"name": name})

    @returns(Health)
    def health(self) -> Req:
        """``{status, database, version}``; needs no key."""
        return get_req("/api/v1/health")


class Discovery(_DiscoveryBase[Sync]):
    pass


class AsyncDiscovery(_DiscoveryBase[Async]):
    pass
