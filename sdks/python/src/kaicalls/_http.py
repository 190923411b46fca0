"""The HTTP core: how a request is built, sent, retried and turned into a result.

`Req` describes one API request. `Requester` (sync) and `AsyncRequester` send it
through a transport (httpx, or a ``requests.Session`` handed over by 0.1.0-era code)
and apply the one retry policy in `RetryPolicy`:

- 429 is always retried (the server refused the request before doing anything),
  waiting ``Retry-After`` when given;
- 5xx (except ``500 call_failed``, a final answer) and broken connections are retried
  when repeating the request is safe: idempotent methods, and requests carrying an
  ``Idempotency-Key`` the server honours (``POST /api/v1/calls``);
- a connection that was never established is always retried.

Waits grow exponentially (0.5 s, 1 s, 2 s, ... capped at 8 s, with jitter); a
``Retry-After`` longer than ``max_retry_delay`` is not waited out: the error is raised.

The event stream (`kaicalls._stream`) opens its requests with ``open_stream`` instead: one
attempt whose body is read as it arrives (`StreamResponse`), with its own reconnection
policy.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from ._errors import (
    APIConnectionError,
    APITimeoutError,
    error_from_response,
    parse_retry_after,
)
from ._model import KaiModel
from ._object import wrap
from ._version import __version__

log = logging.getLogger("kaicalls")

DEFAULT_BASE_URL = "https://www.kaicalls.com"
DEFAULT_TIMEOUT = 30.0
DEFAULT_MAX_RETRIES = 2
DEFAULT_MAX_RETRY_DELAY = 60.0
INITIAL_BACKOFF = 0.5
MAX_BACKOFF = 8.0

_IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


@dataclass(frozen=True)
class Req:
    """One API request, before it is bound to a client.

    ``query`` drops ``None`` values; ``body`` is sent as given (resource methods drop
    top-level ``None``s themselves, so they never send a top-level ``null``).
    ``idempotent`` says whether repeating the request after a
    5xx or a broken connection is safe; ``None`` infers it from the method and the
    presence of an ``Idempotency-Key`` header. ``model`` is the `KaiModel` a JSON
    object answer is wrapped in (`KaiObject` without one).
    """

    method: str
    path: str
    query: Mapping[str, Any] | None = None
    body: Any = None
    headers: Mapping[str, str] | None = None
    idempotent: bool | None = None
    model: type[KaiModel] | None = None


@dataclass(frozen=True)
class Prepared:
    method: str
    url: str
    params: list[tuple[str, str]]
    content: bytes | None
    headers: dict[str, str]
    retry_unsafe_ok: bool


@dataclass(frozen=True)
class RawResponse:
    status: int
    headers: httpx.Headers
    content: bytes


class TransportFailure(Exception):
    """A request that got no HTTP response. ``sent`` is False only when the
    connection was never established, so the server cannot have seen it."""

    def __init__(self, cause: BaseException, *, sent: bool, timeout: bool) -> None:
        super().__init__(str(cause) or type(cause).__name__)
        self.cause = cause
        self.sent = sent
        self.timeout = timeout

    def to_error(self) -> APIConnectionError:
        if self.timeout:
            return APITimeoutError(0, "timeout", f"KaiCalls request timed out: {self}")
        return APIConnectionError(0, "connection_error", f"KaiCalls connection failed: {self}")


def resolve_base_url(base_url: str | None) -> str:
    """Constructor argument, else ``KAICALLS_BASE_URL``, else the public origin.

    The client appends ``/api/v1/...`` itself, so a trailing ``/api/v1`` is dropped.
    """
    import os

    url = base_url or os.environ.get("KAICALLS_BASE_URL") or DEFAULT_BASE_URL
    url = url.rstrip("/")
    return url.removesuffix("/api/v1")


def compact(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def encode_query(query: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """``None`` dropped; lists and tuples become repeated keys (as 0.1.0)."""
    pairs: list[tuple[str, str]] = []
    for key, value in (query or {}).items():
        if value is None:
            continue
        if isinstance(value, list | tuple):
            pairs.extend((key, _query_value(v)) for v in value if v is not None)
        else:
            pairs.append((key, _query_value(value)))
    return pairs


@dataclass
class Config:
    api_key: str | None
    base_url: str
    timeout: float = DEFAULT_TIMEOUT
    max_retries: int = DEFAULT_MAX_RETRIES
    max_retry_delay: float = DEFAULT_MAX_RETRY_DELAY
    default_headers: Mapping[str, str] = field(default_factory=dict)

    def prepare(self, req: Req) -> Prepared:
        headers = {
            "Accept": "application/json",
            # Sent on every request, body or not, exactly as 0.1.0 did.
            "Content-Type": "application/json",
            "User-Agent": f"kaicalls-python/{__version__}",
        }
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        headers.update(self.default_headers)
        headers.update(req.headers or {})
        method = req.method.upper()
        content = None
        if req.body is not None:
            # Serialized once, so a retry sends the very same bytes (the server's
            # idempotency check compares them).
            content = json.dumps(req.body, separators=(",", ":"), allow_nan=False).encode()
        path = req.path if req.path.startswith("/") else "/" + req.path
        has_key = any(k.lower() == "idempotency-key" for k in headers)
        safe = req.idempotent
        if safe is None:
            safe = method in _IDEMPOTENT_METHODS or has_key
        return Prepared(
            method=method,
            url=self.base_url + path,
            params=encode_query(req.query),
            content=content,
            headers=headers,
            retry_unsafe_ok=safe,
        )


def parse_body(raw: RawResponse) -> Any:
    if not raw.content:
        return None
    try:
        return json.loads(raw.content)
    except ValueError:
        return raw.content.decode("utf-8", errors="replace")


def handle(raw: RawResponse, model: type[KaiModel] | None = None) -> Any:
    """A 2xx's parsed body (an object wrapped as ``model``, else dicts wrapped as
    `KaiObject`), or the typed error."""
    data = parse_body(raw)
    if not 200 <= raw.status < 300:
        raise error_from_response(raw.status, data, raw.headers)
    if model is not None and isinstance(data, dict):
        return model(data)
    return wrap(data)


class RetryPolicy:
    def __init__(self, config: Config) -> None:
        self.config = config

    def backoff(self, attempt: int) -> float:
        delay: float = min(MAX_BACKOFF, INITIAL_BACKOFF * 2.0**attempt)
        return delay * (1 - 0.25 * random.random())

    def after_response(self, p: Prepared, raw: RawResponse, attempt: int) -> float | None:
        """Seconds to wait before retrying this response, or None to stop."""
        if attempt >= self.config.max_retries:
            return None
        status = raw.status
        if status == 429:
            return self._waited(raw, attempt)
        if status == 409 and _error_code(raw) == "conflict" and _has_key(p):
            # The same Idempotency-Key is still in flight: its answer will be replayed.
            return self.backoff(attempt)
        if status == 408 or status >= 500:
            if not p.retry_unsafe_ok or _error_code(raw) == "call_failed":
                return None
            return self._waited(raw, attempt)
        return None

    def after_failure(self, p: Prepared, failure: TransportFailure, attempt: int) -> float | None:
        if attempt >= self.config.max_retries:
            return None
        if failure.sent and not p.retry_unsafe_ok:
            return None
        return self.backoff(attempt)

    def _waited(self, raw: RawResponse, attempt: int) -> float | None:
        retry_after = parse_retry_after(raw.headers.get("retry-after"))
        if retry_after is None:
            return self.backoff(attempt)
        if retry_after > self.config.max_retry_delay:
            return None
        return retry_after


def _has_key(p: Prepared) -> bool:
    return any(k.lower() == "idempotency-key" for k in p.headers)


def _error_code(raw: RawResponse) -> str | None:
    data = parse_body(raw)
    err = data.get("error") if isinstance(data, dict) else None
    code = err.get("code") if isinstance(err, dict) else None
    return code if isinstance(code, str) else None


def _log_retry(p: Prepared, delay: float, attempt: int, why: str) -> None:
    log.info("retrying %s %s in %.2fs (retry %d): %s", p.method, p.url, delay, attempt + 1, why)


# ------------------------------------------------------------------------ transports


class StreamResponse(Protocol):
    """A response whose body is read as it arrives (the event stream)."""

    status: int
    headers: httpx.Headers

    def chunks(self) -> Iterator[bytes]:
        """The body, chunk by chunk; a broken connection raises `TransportFailure`."""
        ...

    def read(self) -> bytes:
        """The whole body (of an error answer)."""
        ...

    def close(self) -> None: ...


class SyncTransport(Protocol):
    def send(self, p: Prepared, timeout: float) -> RawResponse: ...

    def open_stream(self, p: Prepared, timeout: httpx.Timeout) -> StreamResponse: ...

    def close(self) -> None: ...


class HttpxStream:
    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.status = response.status_code
        self.headers = response.headers

    def chunks(self) -> Iterator[bytes]:
        try:
            yield from self.response.iter_bytes()
        except (httpx.TransportError, httpx.StreamError) as exc:
            raise TransportFailure(
                exc, sent=True, timeout=isinstance(exc, httpx.TimeoutException)
            ) from exc

    def read(self) -> bytes:
        try:
            return self.response.read()
        except (httpx.TransportError, httpx.StreamError):
            return b""

    def close(self) -> None:
        self.response.close()


class AsyncHttpxStream:
    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.status = response.status_code
        self.headers = response.headers

    async def chunks(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self.response.aiter_bytes():
                yield chunk
        except (httpx.TransportError, httpx.StreamError) as exc:
            raise TransportFailure(
                exc, sent=True, timeout=isinstance(exc, httpx.TimeoutException)
            ) from exc

    async def read(self) -> bytes:
        try:
            return await self.response.aread()
        except (httpx.TransportError, httpx.StreamError):
            return b""

    async def close(self) -> None:
        await self.response.aclose()


class HttpxTransport:
    def __init__(self, client: httpx.Client, *, owned: bool) -> None:
        self.client = client
        self.owned = owned

    def send(self, p: Prepared, timeout: float) -> RawResponse:
        try:
            r = self.client.request(
                p.method,
                p.url,
                params=tuple(p.params) or None,
                content=p.content,
                headers=p.headers,
                timeout=timeout,
            )
        except httpx.TransportError as exc:
            raise _httpx_failure(exc) from exc
        return RawResponse(r.status_code, r.headers, r.content)

    def open_stream(self, p: Prepared, timeout: httpx.Timeout) -> StreamResponse:
        request = self.client.build_request(
            p.method,
            p.url,
            params=tuple(p.params) or None,
            content=p.content,
            headers=p.headers,
            timeout=timeout,
        )
        try:
            return HttpxStream(self.client.send(request, stream=True))
        except httpx.TransportError as exc:
            raise _httpx_failure(exc) from exc

    def close(self) -> None:
        if self.owned:
            self.client.close()


class RequestsSessionTransport:
    """Sends through a ``requests.Session``-like object (duck-typed: ``requests`` is
    not a dependency). 0.1.0 accepted ``session=``; code that passes one keeps its
    adapters, proxies, mounted mocks and response hooks."""

    def __init__(self, session: Any) -> None:
        self.session = session

    def send(self, p: Prepared, timeout: float) -> RawResponse:
        try:
            r = self.session.request(
                p.method,
                p.url,
                params=p.params or None,
                data=p.content,
                headers=p.headers,
                timeout=timeout,
            )
        except OSError as exc:  # requests.RequestException is an IOError
            raise _requests_failure(exc) from exc
        return RawResponse(int(r.status_code), httpx.Headers(dict(r.headers)), r.content or b"")

    def open_stream(self, p: Prepared, timeout: httpx.Timeout) -> StreamResponse:
        try:
            r = self.session.request(
                p.method,
                p.url,
                params=p.params or None,
                data=p.content,
                headers=p.headers,
                timeout=(timeout.connect, timeout.read),
                stream=True,
            )
        except OSError as exc:
            raise _requests_failure(exc) from exc
        return RequestsStream(r)

    def close(self) -> None:
        # The session belongs to the caller.
        pass


def _requests_failure(exc: OSError) -> TransportFailure:
    names = {cls.__name__ for cls in type(exc).__mro__}
    return TransportFailure(
        exc,
        sent="ConnectTimeout" not in names,
        timeout=bool(names & {"Timeout", "ConnectTimeout", "ReadTimeout"}),
    )


class RequestsStream:
    """A ``requests`` response opened with ``stream=True``."""

    def __init__(self, response: Any) -> None:
        self.response = response
        self.status = int(response.status_code)
        self.headers = httpx.Headers(dict(response.headers))

    def chunks(self) -> Iterator[bytes]:
        try:
            # chunk_size=None: each chunk as it arrives, not a fixed-size read.
            for chunk in self.response.iter_content(chunk_size=None):
                if chunk:
                    yield chunk
        except OSError as exc:  # requests' ChunkedEncodingError, ConnectionError, ...
            raise _requests_failure(exc) from exc

    def read(self) -> bytes:
        try:
            return bytes(self.response.content or b"")
        except OSError:
            return b""

    def close(self) -> None:
        self.response.close()


def _httpx_failure(exc: httpx.TransportError) -> TransportFailure:
    never_sent = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
    return TransportFailure(
        exc, sent=not never_sent, timeout=isinstance(exc, httpx.TimeoutException)
    )


def sync_transport(session: Any, http_client: httpx.Client | None) -> SyncTransport:
    if http_client is not None:
        return HttpxTransport(http_client, owned=False)
    if session is None:
        return HttpxTransport(httpx.Client(), owned=True)
    if isinstance(session, httpx.Client):
        return HttpxTransport(session, owned=False)
    if callable(getattr(session, "request", None)):
        return RequestsSessionTransport(session)
    raise TypeError(
        f"session must be an httpx.Client or a requests.Session, not {type(session).__name__}"
    )


# ------------------------------------------------------------------------ requesters


class Requester:
    """Sends `Req`s synchronously with retries. ``sleep`` is injectable for tests."""

    def __init__(self, config: Config, transport: SyncTransport) -> None:
        self.config = config
        self.transport = transport
        self.policy = RetryPolicy(config)
        self.sleep = time.sleep

    def send(self, req: Req) -> Any:
        p = self.config.prepare(req)
        attempt = 0
        while True:
            try:
                raw = self.transport.send(p, self.config.timeout)
            except TransportFailure as failure:
                delay = self.policy.after_failure(p, failure, attempt)
                if delay is None:
                    raise failure.to_error() from failure.cause
                _log_retry(p, delay, attempt, str(failure))
            else:
                delay = self.policy.after_response(p, raw, attempt)
                if delay is None:
                    return handle(raw, req.model)
                _log_retry(p, delay, attempt, f"HTTP {raw.status}")
            self.sleep(delay)
            attempt += 1

    def close(self) -> None:
        self.transport.close()


class AsyncRequester:
    """The `Requester` of `AsyncKaiCalls`, on an ``httpx.AsyncClient``."""

    def __init__(self, config: Config, client: httpx.AsyncClient | None) -> None:
        self.config = config
        self.owned = client is None
        self.client = client if client is not None else httpx.AsyncClient()
        self.policy = RetryPolicy(config)
        self.sleep = asyncio.sleep

    async def _send_once(self, p: Prepared) -> RawResponse:
        try:
            r = await self.client.request(
                p.method,
                p.url,
                params=tuple(p.params) or None,
                content=p.content,
                headers=p.headers,
                timeout=self.config.timeout,
            )
        except httpx.TransportError as exc:
            raise _httpx_failure(exc) from exc
        return RawResponse(r.status_code, r.headers, r.content)

    async def send(self, req: Req) -> Any:
        p = self.config.prepare(req)
        attempt = 0
        while True:
            try:
                raw = await self._send_once(p)
            except TransportFailure as failure:
                delay = self.policy.after_failure(p, failure, attempt)
                if delay is None:
                    raise failure.to_error() from failure.cause
                _log_retry(p, delay, attempt, str(failure))
            else:
                delay = self.policy.after_response(p, raw, attempt)
                if delay is None:
                    return handle(raw, req.model)
                _log_retry(p, delay, attempt, f"HTTP {raw.status}")
            await self.sleep(delay)
            attempt += 1

    async def open_stream(self, p: Prepared, timeouts: httpx.Timeout) -> AsyncHttpxStream:
        request = self.client.build_request(
            p.method,
            p.url,
            params=tuple(p.params) or None,
            content=p.content,
            headers=p.headers,
            timeout=timeouts,
        )
        try:
            return AsyncHttpxStream(await self.client.send(request, stream=True))
        except httpx.TransportError as exc:
            raise _httpx_failure(exc) from exc

    async def close(self) -> None:
        if self.owned:
            await self.client.aclose()
