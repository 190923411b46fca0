"""Official KaiCalls SDK: give your AI agent a phone.

Usage::

    from kaicalls import KaiCalls

    kai = KaiCalls(api_key="kc_live_...")
    call = kai.calls.create(agent_id="uuid-abc123", to="+15125551234", name="John Smith")
    result = kai.calls.wait(call.id)
    print(result.summary)

A superset of the published 0.1.0 client: the same names, resources and methods,
plus `AsyncKaiCalls`, ``kai.calls.end``, ``iter`` methods across pages, an exception
class per error code, automatic retries with backoff, idempotency keys on creates and
`kaicalls.webhooks.verify`.

Docs: https://www.kaicalls.com/docs/api
"""

from . import _models, webhooks
from ._client import AsyncKaiCalls, KaiCalls, signup
from ._errors import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    CallFailedError,
    ConflictError,
    ForbiddenError,
    IdempotencyError,
    InternalError,
    InvalidRequestError,
    KaiCallsError,
    MethodNotAllowedError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    RateLimitedError,
    RateLimitError,
    UnauthorizedError,
    UnsupportedMediaTypeError,
    WaitTimeoutError,
)
from ._model import KaiModel
from ._models import *  # noqa: F403  (the response models: Call, CallDetail, ...)
from ._object import KaiObject
from ._sse import IdOnly, ServerSentEvent, SSEDecoder
from ._stream import AsyncEventStream, EventStream
from ._version import __version__
from .webhooks import WebhookVerificationError

__all__ = [
    "APIConnectionError",
    "APITimeoutError",
    "AsyncEventStream",
    "AsyncKaiCalls",
    "AuthenticationError",
    "CallFailedError",
    "ConflictError",
    "EventStream",
    "ForbiddenError",
    "IdOnly",
    "IdempotencyError",
    "InternalError",
    "InvalidRequestError",
    "KaiCalls",
    "KaiCallsError",
    "KaiModel",
    "KaiObject",
    "MethodNotAllowedError",
    "NotFoundError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "RateLimitError",
    "RateLimitedError",
    "SSEDecoder",
    "ServerSentEvent",
    "UnauthorizedError",
    "UnsupportedMediaTypeError",
    "WaitTimeoutError",
    "WebhookVerificationError",
    "__version__",
    "signup",
    "webhooks",
]
__all__ += _models.__all__
