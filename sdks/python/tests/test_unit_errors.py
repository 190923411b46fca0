"""Typed errors: one class per code, with status, code, message, param, request_id."""

from __future__ import annotations

import httpx
import pytest

import kaicalls
from kaicalls import (
    CallFailedError,
    ConflictError,
    ForbiddenError,
    IdempotencyError,
    InternalError,
    InvalidRequestError,
    KaiCallsError,
    NotFoundError,
    RateLimitedError,
    UnauthorizedError,
)
from scripted import Script, client, error, reply


@pytest.mark.parametrize(
    ("status", "code", "cls"),
    [
        (400, "invalid_request", InvalidRequestError),
        (400, "idempotency_error", IdempotencyError),
        (401, "unauthorized", UnauthorizedError),
        (403, "forbidden", ForbiddenError),
        (404, "not_found", NotFoundError),
        (405, "method_not_allowed", kaicalls.MethodNotAllowedError),
        (409, "conflict", ConflictError),
        (413, "payload_too_large", kaicalls.PayloadTooLargeError),
        (415, "unsupported_media_type", kaicalls.UnsupportedMediaTypeError),
        (429, "rate_limited", RateLimitedError),
        (500, "call_failed", CallFailedError),
        (500, "internal_error", InternalError),
    ],
)
def test_each_code_has_its_class(status: int, code: str, cls: type[KaiCallsError]) -> None:
    script = Script(error(status, code, "what went wrong"))
    kai, _ = client(script, max_retries=0)
    with pytest.raises(cls) as excinfo:
        kai.request("GET", "/api/v1/x")
    err = excinfo.value
    assert type(err) is cls
    assert isinstance(err, KaiCallsError)
    assert (err.status, err.code, err.message, str(err)) == (
        status,
        code,
        "what went wrong",
        "what went wrong",
    )
    assert err.body == {"error": {"code": code, "message": "what went wrong"}}
    assert err.request_id == "req_test123"


def test_invalid_request_carries_param_and_request_id() -> None:
    script = Script(
        error(
            400,
            "invalid_request",
            "'555-1234' is not in E.164 format",
            param="to",
            request_id="req_abc",
        )
    )
    kai, _ = client(script)
    with pytest.raises(InvalidRequestError) as excinfo:
        kai.calls.create(agent_id="a", to="555-1234")
    err = excinfo.value
    assert (err.code, err.param, err.request_id) == ("invalid_request", "to", "req_abc")
    assert err.body["error"]["param"] == "to"
    assert "param='to'" in repr(err) and "req_abc" in repr(err)


def test_idempotency_error_is_an_invalid_request() -> None:
    assert issubclass(IdempotencyError, InvalidRequestError)


def test_unknown_code_falls_back_to_status_class() -> None:
    script = Script(error(404, "gone_fishing"), error(418, "teapot"), error(503, "overloaded"))
    kai, _ = client(script, max_retries=0)
    with pytest.raises(NotFoundError):
        kai.request("GET", "/a")
    with pytest.raises(KaiCallsError) as excinfo:
        kai.request("GET", "/b")
    assert type(excinfo.value) is KaiCallsError and excinfo.value.code == "teapot"
    with pytest.raises(InternalError):
        kai.request("GET", "/c")


@pytest.mark.parametrize(
    ("response", "message", "body"),
    [
        (reply(404, {"message": "nope"}), "KaiCalls API error (HTTP 404)", {"message": "nope"}),
        (httpx.Response(404, content=b""), "KaiCalls API error (HTTP 404)", None),
        (
            httpx.Response(404, content=b"<html>not here</html>"),
            "KaiCalls API error (HTTP 404)",
            "<html>not here</html>",
        ),
        # 0.1.0 crashed with AttributeError on a string "error".
        (reply(404, {"error": "no such thing"}), "no such thing", {"error": "no such thing"}),
    ],
)
def test_non_envelope_errors_fall_back_like_0_1_0(
    response: httpx.Response, message: str, body: object
) -> None:
    kai, _ = client(Script(response))
    with pytest.raises(NotFoundError) as excinfo:
        kai.request("GET", "/api/v1/x")
    err = excinfo.value
    assert (err.status, err.code, str(err), err.body) == (404, "http_404", message, body)


def test_wait_timeout_is_a_kaicalls_error_with_the_last_call() -> None:
    queued = reply(200, {"id": "c1", "status": "queued"})
    kai, _ = client(Script(queued, queued, queued))
    with pytest.raises(kaicalls.WaitTimeoutError) as excinfo:
        kai.calls.wait("c1", interval=0.001, timeout=0.0)
    err = excinfo.value
    assert isinstance(err, KaiCallsError)
    assert (err.status, err.code) == (0, "wait_timeout")
    assert err.body.id == "c1"
    assert str(err) == 'Call c1 still "queued" after 0.0s'


def test_errors_are_exported_under_common_aliases() -> None:
    assert kaicalls.AuthenticationError is UnauthorizedError
    assert kaicalls.PermissionDeniedError is ForbiddenError
    assert kaicalls.RateLimitError is RateLimitedError
