"""Webhooks the server signed verify with kaicalls.webhooks.verify, and tampered ones
do not."""

from __future__ import annotations

import base64
import os
import random
import uuid
from collections.abc import Iterator

import pytest

from conftest import Server
from kaicalls import KaiCalls, WebhookVerificationError, webhooks
from receiver import Delivery, Receiver

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


@pytest.fixture(scope="module")
def hook_path() -> str:
    return f"/hooks/{uuid.uuid4().hex}"


@pytest.fixture(scope="module")
def delivered(server: Server, receiver: Receiver, hook_path: str) -> tuple[str, Delivery]:
    """A per-call webhook_url delivery of call.completed."""
    kai = KaiCalls(server.live_key, base_url=server.base_url)
    call = kai.calls.create(
        agent_id=server.agent_id,
        to=f"+1512555{random.randint(0, 9999):04d}",
        name="Webhook Wendy",
        webhook_url=receiver.url + hook_path,
    )
    kai.calls.wait(call.id, interval=0.2, timeout=60)
    return call.id, receiver.wait_for(hook_path)


def test_server_signed_webhook_verifies(server: Server, delivered: tuple[str, Delivery]) -> None:
    call_id, hook = delivered
    event = webhooks.verify(hook.body, hook.headers, server.webhook_secret)
    assert event.event == "call.completed"
    assert event.call_id == call_id
    assert event.status == "completed"
    assert isinstance(event.summary, str) and event.summary
    # The client-side helper and the business secret endpoint agree.
    kai = KaiCalls(server.live_key, base_url=server.base_url)
    assert kai.webhooks.secret().webhook_secret == server.webhook_secret
    assert kai.webhooks.verify(hook.body, hook.headers, server.webhook_secret).call_id == call_id


def test_changed_body_is_rejected(server: Server, delivered: tuple[str, Delivery]) -> None:
    _, hook = delivered
    tampered = hook.body.replace(b'"completed"', b'"failed"', 1)
    assert tampered != hook.body
    with pytest.raises(WebhookVerificationError) as excinfo:
        webhooks.verify(tampered, hook.headers, server.webhook_secret)
    assert excinfo.value.code == "invalid_signature"


def test_wrong_secret_is_rejected(delivered: tuple[str, Delivery]) -> None:
    _, hook = delivered
    wrong = "whsec_" + base64.b64encode(os.urandom(32)).decode()
    with pytest.raises(WebhookVerificationError) as excinfo:
        webhooks.verify(hook.body, hook.headers, wrong)
    assert excinfo.value.code == "invalid_signature"


def test_stale_timestamp_is_rejected(server: Server, delivered: tuple[str, Delivery]) -> None:
    _, hook = delivered
    signed_at = int(hook.headers["webhook-timestamp"])
    # Replayed six minutes later: outside the default five-minute tolerance.
    with pytest.raises(WebhookVerificationError) as excinfo:
        webhooks.verify(hook.body, hook.headers, server.webhook_secret, now=signed_at + 360)
    assert excinfo.value.code == "timestamp_out_of_tolerance"
    # A captured delivery re-sent with a fresh timestamp fails the signature instead.
    forged = {**hook.headers, "webhook-timestamp": str(signed_at + 360)}
    with pytest.raises(WebhookVerificationError) as excinfo:
        webhooks.verify(hook.body, forged, server.webhook_secret, now=signed_at + 360)
    assert excinfo.value.code == "invalid_signature"


def test_subscription_test_event_verifies_with_its_own_secret(
    server: Server, receiver: Receiver
) -> None:
    kai = KaiCalls(server.live_key, base_url=server.base_url)
    path = f"/subscription/{uuid.uuid4().hex}"
    created = kai.webhooks.create(
        webhook_url=receiver.url + path, events=["call.completed"], description="sdk test"
    )
    try:
        kai.webhooks.test(created.id)
        hook = receiver.wait_for(path)
        event = webhooks.verify(hook.body, hook.headers, created.webhook_secret)
        assert event.event == "webhook.test" and event.webhook_id == created.id
        with pytest.raises(WebhookVerificationError):
            webhooks.verify(hook.body, hook.headers, server.webhook_secret)
    finally:
        kai.webhooks.delete(created.id)


def test_delivery_is_listed_and_a_replay_keeps_the_webhook_id(
    server: Server, receiver: Receiver, hook_path: str, delivered: tuple[str, Delivery]
) -> None:
    call_id, hook = delivered
    kai = KaiCalls(server.live_key, base_url=server.base_url)
    events = kai.events.list(object_id=call_id, event_type="call.completed").events
    assert [e.type for e in events] == ["call.completed"]
    attempts = kai.events.deliveries(call_id=call_id).deliveries
    assert attempts and any(a.status == "succeeded" for a in attempts), attempts

    kai.events.replay(event_id=events[0].id)
    replayed = receiver.wait_for(hook_path, nth=2)
    assert replayed.headers["webhook-id"] == hook.headers["webhook-id"]
    again = webhooks.verify(replayed.body, replayed.headers, server.webhook_secret)
    assert again.call_id == call_id
