"""Verifying the webhooks KaiCalls sends (Standard Webhooks v1).

Every delivery carries three headers:

- ``webhook-id``: the message id, the same on every retry (use it to de-duplicate);
- ``webhook-timestamp``: Unix seconds when this attempt was signed;
- ``webhook-signature``: space-separated ``v1,<base64 signature>`` entries (two during
  a secret rotation), each an HMAC-SHA256 of ``"{id}.{timestamp}.{body}"`` keyed with
  the base64-decoded part of the ``whsec_...`` secret after the prefix.

Per-call ``webhook_url`` deliveries are signed with the business secret (printed by
``kaicalls admin bootstrap``, or ``kai.webhooks.secret()``); subscriptions with their
own ``webhook_secret``. Verify against the raw body bytes, before parsing them::

    from kaicalls import webhooks

    @app.post("/hooks/kaicalls")
    def hook(request):
        event = webhooks.verify(request.body, request.headers, secret=WHSEC)
        if event.event == "call.completed":
            ...
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Iterable
from typing import Any, Protocol

from ._errors import KaiCallsError
from ._object import KaiObject, wrap

DEFAULT_TOLERANCE = 300.0
SECRET_PREFIX = "whsec_"


class SupportsItems(Protocol):
    """Anything with ``.items()``: a dict, ``httpx.Headers``, Starlette/Django/Flask
    headers, ``http.server``'s ``self.headers``."""

    def items(self) -> Iterable[tuple[str, Any]]: ...


HeadersLike = SupportsItems | Iterable[tuple[str, str]]


class WebhookVerificationError(KaiCallsError):
    """The webhook could not be verified; do not trust its body.

    ``code`` says why: ``missing_header``, ``invalid_timestamp``,
    ``timestamp_out_of_tolerance``, ``invalid_signature`` or ``invalid_payload``.
    ``status`` is 0 (no HTTP response is involved).
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(0, code, message)


def _key(secret: str) -> bytes:
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        # What the server does with a secret that is not base64.
        return encoded.encode()


def _as_bytes(body: bytes | bytearray | memoryview | str) -> bytes:
    return body.encode() if isinstance(body, str) else bytes(body)


def sign(secret: str, msg_id: str, timestamp: int, body: bytes | str) -> str:
    """The ``webhook-signature`` entry ``v1,<base64>`` for one secret."""
    signed = f"{msg_id}.{timestamp}.".encode() + _as_bytes(body)
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def _lower_headers(headers: HeadersLike) -> dict[str, str]:
    items: Iterable[tuple[Any, Any]] = headers.items() if hasattr(headers, "items") else headers
    out: dict[str, str] = {}
    for name, value in items:
        key = name.decode() if isinstance(name, bytes) else str(name)
        val = value.decode() if isinstance(value, bytes) else str(value)
        out.setdefault(key.lower(), val)
    return out


def verify(
    body: bytes | str,
    headers: HeadersLike,
    secret: str,
    tolerance: float = DEFAULT_TOLERANCE,
    *,
    now: float | None = None,
) -> KaiObject:
    """Checks a delivery's signature and timestamp; returns its parsed JSON body.

    Args:
        body: the raw request body, exactly as received (bytes, or the decoded str).
        headers: the request headers (any mapping or ``(name, value)`` pairs; names
            are matched case-insensitively).
        secret: the ``whsec_...`` signing secret.
        tolerance: how many seconds ``webhook-timestamp`` may differ from now, either
            way (default 300), which bounds replays of a captured delivery.
        now: the current Unix time (for tests); defaults to ``time.time()``.

    Raises:
        WebhookVerificationError: missing headers, a timestamp outside the tolerance,
            no matching signature (changed body, wrong secret), or a body that is not
            a JSON object.
    """
    found = _lower_headers(headers)
    msg_id = found.get("webhook-id")
    raw_ts = found.get("webhook-timestamp")
    header = found.get("webhook-signature")
    if not msg_id or not raw_ts or not header:
        raise WebhookVerificationError(
            "missing_header",
            "Missing webhook-id, webhook-timestamp or webhook-signature header",
        )
    try:
        timestamp = int(raw_ts.strip())
    except ValueError:
        raise WebhookVerificationError(
            "invalid_timestamp", f"Invalid webhook-timestamp {raw_ts!r}"
        ) from None
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        raise WebhookVerificationError(
            "timestamp_out_of_tolerance",
            f"webhook-timestamp {timestamp} is more than {tolerance:g}s from now",
        )
    payload = _as_bytes(body)
    expected = sign(secret, msg_id, timestamp, payload).encode()
    candidates = [c for c in header.split(" ") if c.startswith("v1,")]
    # Compare against every entry (constant time each) rather than stopping early.
    matched = False
    for candidate in candidates:
        matched |= hmac.compare_digest(candidate.encode(), expected)
    if not matched:
        raise WebhookVerificationError("invalid_signature", "No matching webhook signature")
    try:
        data: Any = json.loads(payload)
    except ValueError:
        raise WebhookVerificationError("invalid_payload", "Webhook body is not JSON") from None
    if not isinstance(data, dict):
        raise WebhookVerificationError("invalid_payload", "Webhook body is not a JSON object")
    result: KaiObject = wrap(data)
    return result
