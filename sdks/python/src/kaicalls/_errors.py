"""The exception hierarchy: `KaiCallsError` and one subclass per error code.

Every API error is answered as ``{"error": {"code", "message", "param"?}}``; the
subclass is chosen by ``code`` (falling back to the HTTP status when the code is one
we do not know), so callers can write ``except NotFoundError`` instead of comparing
strings. ``str(err)`` is the server's message, as in 0.1.0.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class KaiCallsError(Exception):
    """Raised for any non-2xx API response, and for SDK-level failures.

    Attributes:
        status: the HTTP status (``0`` for errors raised by the SDK itself, such as
            a network failure or ``calls.wait`` timing out).
        code: the error code, e.g. ``"not_found"`` (``"http_<status>"`` when the
            response carried none).
        message: the human-readable message (also ``str(err)``).
        body: the parsed JSON body, the raw text, or ``None``.
        param: the offending parameter of a ``400 invalid_request``, if named.
        request_id: the ``Request-Id`` response header; quote it to support.
        headers: the response headers (empty for SDK-level errors).
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        body: Any = None,
        *,
        param: str | None = None,
        request_id: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.body = body
        self.param = param
        self.request_id = request_id
        self.headers: Mapping[str, str] = headers if headers is not None else {}

    def __repr__(self) -> str:
        extra = "".join(
            f", {name}={value!r}"
            for name, value in (("param", self.param), ("request_id", self.request_id))
            if value is not None
        )
        return (
            f"{type(self).__name__}(status={self.status}, code={self.code!r}, "
            f"message={self.message!r}{extra})"
        )


class InvalidRequestError(KaiCallsError):
    """400 ``invalid_request``: a missing or invalid parameter (see ``.param``)."""


class IdempotencyError(InvalidRequestError):
    """400 ``idempotency_error``: an ``Idempotency-Key`` reused with another body."""


class UnauthorizedError(KaiCallsError):
    """401 ``unauthorized``: invalid, missing, expired or revoked API key."""


class ForbiddenError(KaiCallsError):
    """403 ``forbidden``: the key lacks the required scope."""


class NotFoundError(KaiCallsError):
    """404 ``not_found``: no such object (or route) for this key."""


class MethodNotAllowedError(KaiCallsError):
    """405 ``method_not_allowed``."""


class ConflictError(KaiCallsError):
    """409 ``conflict``: e.g. a request with the same ``Idempotency-Key`` is in flight."""


class PayloadTooLargeError(KaiCallsError):
    """413 ``payload_too_large``: the body exceeds the server's limit (1 MiB)."""


class UnsupportedMediaTypeError(KaiCallsError):
    """415 ``unsupported_media_type``."""


class RateLimitedError(KaiCallsError):
    """429 ``rate_limited``. ``retry_after`` is the server's ``Retry-After`` in seconds."""

    @property
    def retry_after(self) -> float | None:
        return parse_retry_after(self.headers.get("retry-after") if self.headers else None)


class CallFailedError(KaiCallsError):
    """500 ``call_failed``: the voice provider refused to place the call.

    The call is recorded as failed; this is a final answer and is never retried.
    """


class InternalError(KaiCallsError):
    """5xx ``internal_error`` (or any other 5xx): retried automatically first."""


class APIConnectionError(KaiCallsError):
    """The server could not be reached, or the connection broke (``status == 0``)."""


class APITimeoutError(APIConnectionError):
    """The request timed out (``status == 0``, ``code == "timeout"``)."""


class WaitTimeoutError(KaiCallsError):
    """``calls.wait`` gave up: the call was still active at the deadline.

    ``status`` is 0, ``code`` is ``"wait_timeout"`` and ``body`` the last call object,
    exactly as 0.1.0 raised it.
    """


# Aliases for names other SDKs use.
AuthenticationError = UnauthorizedError
PermissionDeniedError = ForbiddenError
RateLimitError = RateLimitedError

ERRORS_BY_CODE: dict[str, type[KaiCallsError]] = {
    "invalid_request": InvalidRequestError,
    "idempotency_error": IdempotencyError,
    "unauthorized": UnauthorizedError,
    "forbidden": ForbiddenError,
    "not_found": NotFoundError,
    "method_not_allowed": MethodNotAllowedError,
    "conflict": ConflictError,
    "payload_too_large": PayloadTooLargeError,
    "unsupported_media_type": UnsupportedMediaTypeError,
    "rate_limited": RateLimitedError,
    "call_failed": CallFailedError,
    "internal_error": InternalError,
}

_ERRORS_BY_STATUS: dict[int, type[KaiCallsError]] = {
    400: InvalidRequestError,
    401: UnauthorizedError,
    403: ForbiddenError,
    404: NotFoundError,
    405: MethodNotAllowedError,
    409: ConflictError,
    413: PayloadTooLargeError,
    415: UnsupportedMediaTypeError,
    429: RateLimitedError,
}


def error_class(status: int, code: str) -> type[KaiCallsError]:
    """The exception class for an error response: by code, else by status."""
    if code in ERRORS_BY_CODE:
        return ERRORS_BY_CODE[code]
    if status in _ERRORS_BY_STATUS:
        return _ERRORS_BY_STATUS[status]
    if status >= 500:
        return InternalError
    return KaiCallsError


def error_from_response(status: int, data: Any, headers: Mapping[str, str]) -> KaiCallsError:
    """Builds the exception for a non-2xx response, reading our error envelope.

    Mirrors 0.1.0's fallbacks (``http_<status>`` and a generic message) and, unlike
    0.1.0, also copes with an ``error`` that is not an object.
    """
    envelope = data.get("error") if isinstance(data, dict) else None
    err: Mapping[str, Any] = envelope if isinstance(envelope, dict) else {}
    code = err.get("code")
    code = code if isinstance(code, str) and code else f"http_{status}"
    message = err.get("message")
    if not (isinstance(message, str) and message):
        message = envelope if isinstance(envelope, str) and envelope else None
    if message is None:
        message = f"KaiCalls API error (HTTP {status})"
    param = err.get("param")
    cls = error_class(status, code)
    return cls(
        status,
        code,
        message,
        data,
        param=param if isinstance(param, str) else None,
        request_id=headers.get("request-id"),
        headers=headers,
    )


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        from datetime import UTC, datetime
        from email.utils import parsedate_to_datetime

        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)
