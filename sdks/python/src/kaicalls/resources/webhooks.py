"""``kai.webhooks``: webhook subscriptions and the business signing secret."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .._object import KaiObject
from ..webhooks import DEFAULT_TOLERANCE, HeadersLike
from ..webhooks import verify as _verify
from ._base import Async, R, Resource, Sync

PATH = "/api/v1/webhooks"


class _WebhooksBase(Resource[R]):
    def list(self, business_id: str | None = None) -> R:
        """``{webhooks: [...], events: [...every event type]}``."""
        return self._get(PATH, {"business_id": business_id})

    def create(
        self,
        webhook_url: str,
        business_id: str | None = None,
        events: Sequence[str] | None = None,
        description: str | None = None,
        id: str | None = None,
        is_active: bool | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> R:
        """Create a subscription, or update the one with ``id`` (only the fields
        given change). A new subscription's ``webhook_secret`` is returned once."""
        body = {
            "webhook_url": webhook_url,
            "business_id": business_id,
            "events": list(events) if events is not None else None,
            "description": description,
            "id": id,
            "is_active": is_active,
        }
        return self._post(
            PATH,
            body,
            create=id is None,
            idempotency_key=idempotency_key,
            idempotent=id is not None,
        )

    def delete(self, id: str, business_id: str | None = None) -> R:
        return self._delete(PATH, {"id": id, "business_id": business_id})

    def test(
        self, id: str, business_id: str | None = None, data: Mapping[str, Any] | None = None
    ) -> R:
        """Send a signed ``webhook.test`` event to the subscription."""
        return self._post(f"{PATH}/test", {"id": id, "business_id": business_id, "data": data})

    def rotate_secret(self, id: str, business_id: str | None = None) -> R:
        """A new secret for the subscription: ``{id, webhook_secret}``."""
        return self._post(f"{PATH}/rotate-secret", {"id": id, "business_id": business_id})

    def secret(self, business_id: str | None = None) -> R:
        """The business secret that signs per-call ``webhook_url`` deliveries."""
        return self._get(f"{PATH}/secret", {"business_id": business_id})

    def rotate_business_secret(self, business_id: str | None = None) -> R:
        """A new business secret; the previous one keeps signing for 24 hours."""
        return self._post(f"{PATH}/secret/rotate", query={"business_id": business_id})

    @staticmethod
    def verify(
        body: bytes | str,
        headers: HeadersLike,
        secret: str,
        tolerance: float = DEFAULT_TOLERANCE,
    ) -> KaiObject:
        """Same as `kaicalls.webhooks.verify` (no request is made)."""
        return _verify(body, headers, secret, tolerance)


class Webhooks(_WebhooksBase[Sync]):
    pass


class AsyncWebhooks(_WebhooksBase[Async]):
    pass
