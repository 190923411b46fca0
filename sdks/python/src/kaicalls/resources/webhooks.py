"""``kai.webhooks``: webhook subscriptions and the business signing secret."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .._http import Req
from .._models import BusinessSecret, RotatedSecret, Success, TestSent, Webhook, WebhookList
from .._object import KaiObject
from ..webhooks import DEFAULT_TOLERANCE, HeadersLike
from ..webhooks import verify as _verify
from ._base import Async, R, Resource, Sync, delete_req, get_req, post_req, returns

PATH = "/api/v1/webhooks"


class _WebhooksBase(Resource[R]):
    @returns(WebhookList)
    def list(self, business_id: str | None = None) -> Req:
        """``{webhooks: [...], events: [...every event type]}``."""
        return get_req(PATH, {"business_id": business_id})

    @returns(Webhook)
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
    ) -> Req:
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
        return post_req(
            PATH,
            body,
            create=id is None,
            idempotency_key=idempotency_key,
            idempotent=id is not None,
        )

    @returns(Success)
    def delete(self, id: str, business_id: str | None = None) -> Req:
        return delete_req(PATH, {"id": id, "business_id": business_id})

    @returns(TestSent)
    def test(
        self, id: str, business_id: str | None = None, data: Mapping[str, Any] | None = None
    ) -> Req:
        """Send a signed ``webhook.test`` event to the subscription."""
        return post_req(f"{PATH}/test", {"id": id, "business_id": business_id, "data": data})

    @returns(RotatedSecret)
    def rotate_secret(self, id: str, business_id: str | None = None) -> Req:
        """A new secret for the subscription: ``{id, webhook_secret}``."""
        return post_req(f"{PATH}/rotate-secret", {"id": id, "business_id": business_id})

    @returns(BusinessSecret)
    def secret(self, business_id: str | None = None) -> Req:
        """The business secret that signs per-call ``webhook_url`` deliveries."""
        return get_req(f"{PATH}/secret", {"business_id": business_id})

    @returns(BusinessSecret)
    def rotate_business_secret(self, business_id: str | None = None) -> Req:
        """A new business secret; the previous one keeps signing for 24 hours."""
        return post_req(f"{PATH}/secret/rotate", query={"business_id": business_id})

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
