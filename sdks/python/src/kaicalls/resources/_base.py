from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

from .._http import Req, compact
from .._object import KaiObject

#: What a resource method returns: `KaiObject` (sync) or an awaitable of it (async).
R = TypeVar("R")

Sync = KaiObject
Async = Awaitable[KaiObject]


class Resource(Generic[R]):
    def __init__(self, send: Callable[[Req], R]) -> None:
        self._send = send

    def _get(self, path: str, query: dict[str, Any] | None = None) -> R:
        return self._send(Req("GET", path, query=query))

    def _post(
        self,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        create: bool = False,
        idempotency_key: str | None = None,
        idempotent: bool | None = None,
        query: dict[str, Any] | None = None,
    ) -> R:
        headers = None
        if create or idempotency_key:
            headers = {"Idempotency-Key": idempotency_key or new_idempotency_key()}
        return self._send(
            Req(
                "POST",
                path,
                query=query,
                body=compact(body) if body is not None else None,
                headers=headers,
                # Only keys the server honours make a retry after a 5xx safe.
                idempotent=idempotent if idempotent is not None else False,
            )
        )

    def _patch(self, path: str, body: dict[str, Any]) -> R:
        return self._send(Req("PATCH", path, body=compact(body)))

    def _delete(self, path: str, query: dict[str, Any]) -> R:
        return self._send(Req("DELETE", path, query=query))


def new_idempotency_key() -> str:
    return str(uuid.uuid4())
