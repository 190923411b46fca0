"""kaicalls.webhooks.verify: Standard Webhooks v1, accept and reject."""

from __future__ import annotations

import base64
import json

import pytest

from kaicalls import KaiCalls, KaiCallsError, WebhookVerificationError, webhooks

# The example of the Standard Webhooks specification.
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TS = 1614265330
SPEC_BODY = '{"test": 2432232314}'
SPEC_SIG = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
BODY = json.dumps({"event": "call.completed", "call_id": "c1", "summary": "Done."}).encode()
TS = 1_760_000_000


def _headers(
    body: bytes = BODY, secret: str = SECRET, ts: int = TS, msg_id: str = "msg_1"
) -> dict[str, str]:
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": webhooks.sign(secret, msg_id, ts, body),
    }


def test_sign_matches_the_specification_vector() -> None:
    assert webhooks.sign(SPEC_SECRET, SPEC_ID, SPEC_TS, SPEC_BODY) == SPEC_SIG


def test_verify_accepts_the_specification_example() -> None:
    headers = {
        "webhook-id": SPEC_ID,
        "webhook-timestamp": str(SPEC_TS),
        "webhook-signature": SPEC_SIG,
    }
    assert webhooks.verify(SPEC_BODY, headers, SPEC_SECRET, now=SPEC_TS) == {"test": 2432232314}


def test_verify_returns_the_payload_as_kaiobject() -> None:
    event = webhooks.verify(BODY, _headers(), SECRET, now=TS + 10)
    assert event.event == "call.completed" and event.call_id == "c1"


def test_verify_accepts_str_bodies_any_header_case_and_pairs() -> None:
    headers = {k.upper(): v for k, v in _headers().items()}
    assert webhooks.verify(BODY.decode(), headers, SECRET, now=TS).call_id == "c1"
    assert webhooks.verify(BODY, list(_headers().items()), SECRET, now=TS).call_id == "c1"


def test_verify_accepts_any_of_several_signatures() -> None:
    headers = _headers()
    other = webhooks.sign("whsec_" + base64.b64encode(b"old").decode(), "msg_1", TS, BODY)
    headers["webhook-signature"] = f"v1a,ignored {other} {headers['webhook-signature']}"
    assert webhooks.verify(BODY, headers, SECRET, now=TS).call_id == "c1"


def test_verify_rejects_a_changed_body() -> None:
    changed = BODY.replace(b"call.completed", b"call.failed")
    with pytest.raises(WebhookVerificationError) as excinfo:
        webhooks.verify(changed, _headers(), SECRET, now=TS)
    assert excinfo.value.code == "invalid_signature"
    with pytest.raises(WebhookVerificationError):
        webhooks.verify(BODY + b" ", _headers(), SECRET, now=TS)


def test_verify_rejects_a_wrong_secret() -> None:
    wrong = "whsec_" + base64.b64encode(b"another secret entirely").decode()
    with pytest.raises(WebhookVerificationError) as excinfo:
        webhooks.verify(BODY, _headers(), wrong, now=TS)
    assert excinfo.value.code == "invalid_signature"


def test_verify_rejects_a_changed_id_or_timestamp() -> None:
    headers = _headers()
    headers["webhook-id"] = "msg_2"
    with pytest.raises(WebhookVerificationError):
        webhooks.verify(BODY, headers, SECRET, now=TS)
    headers = _headers()
    headers["webhook-timestamp"] = str(TS + 1)
    with pytest.raises(WebhookVerificationError):
        webhooks.verify(BODY, headers, SECRET, now=TS)


@pytest.mark.parametrize("offset", [301, -301, 86_400])
def test_verify_rejects_timestamps_outside_the_tolerance(offset: int) -> None:
    with pytest.raises(WebhookVerificationError) as excinfo:
        webhooks.verify(BODY, _headers(), SECRET, now=TS + offset)
    assert excinfo.value.code == "timestamp_out_of_tolerance"


def test_tolerance_is_configurable_and_inclusive() -> None:
    assert webhooks.verify(BODY, _headers(), SECRET, now=TS + 300).call_id == "c1"
    assert webhooks.verify(BODY, _headers(), SECRET, tolerance=3600, now=TS + 3000).call_id == "c1"
    with pytest.raises(WebhookVerificationError):
        webhooks.verify(BODY, _headers(), SECRET, tolerance=10, now=TS + 11)


def test_verify_uses_the_clock_by_default() -> None:
    with pytest.raises(WebhookVerificationError) as excinfo:
        webhooks.verify(BODY, _headers(), SECRET)  # TS is long past
    assert excinfo.value.code == "timestamp_out_of_tolerance"


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_verify_rejects_missing_headers(missing: str) -> None:
    headers = _headers()
    del headers[missing]
    with pytest.raises(WebhookVerificationError) as excinfo:
        webhooks.verify(BODY, headers, SECRET, now=TS)
    assert excinfo.value.code == "missing_header"


def test_verify_rejects_a_malformed_timestamp_and_non_json() -> None:
    headers = _headers()
    headers["webhook-timestamp"] = "yesterday"
    with pytest.raises(WebhookVerificationError) as excinfo:
        webhooks.verify(BODY, headers, SECRET, now=TS)
    assert excinfo.value.code == "invalid_timestamp"
    with pytest.raises(WebhookVerificationError) as excinfo:
        webhooks.verify(b"not json", _headers(b"not json"), SECRET, now=TS)
    assert excinfo.value.code == "invalid_payload"


def test_verification_error_is_a_kaicalls_error_and_reachable_from_the_client() -> None:
    assert issubclass(WebhookVerificationError, KaiCallsError)
    kai = KaiCalls("k")
    assert kai.webhooks.verify(BODY, _headers(), SECRET, tolerance=10**10).call_id == "c1"
