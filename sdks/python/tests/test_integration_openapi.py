"""The server's OpenAPI document against the SDK: every operation an API key can call
has an SDK method, and every SDK method calls a documented path (or one of the
0.1.0 paths this server does not serve)."""

from __future__ import annotations

import inspect
from typing import Any

import httpx
import pytest

from conftest import Server
from kaicalls import EventStream, KaiCalls, signup

pytestmark = pytest.mark.integration

# Operations no API-key client calls: dashboard sessions, key management (session
# only), the voice provider's callbacks; and the reference's /numbers, which lists the
# same numbers as /phone-numbers (phone_numbers.list).
NOT_FOR_THE_SDK = {
    ("POST", "/api/v1/auth/login"),
    ("POST", "/api/v1/auth/logout"),
    ("GET", "/api/v1/auth/sessions"),
    ("DELETE", "/api/v1/auth/sessions"),
    ("POST", "/api/v1/auth/password"),
    ("GET", "/api/v1/keys"),
    ("POST", "/api/v1/keys"),
    ("DELETE", "/api/v1/keys"),
    ("POST", "/api/v1/providers/vapi/events"),
    ("GET", "/api/v1/numbers"),
}

# Paths 0.1.0 called that this server does not have (kept for compatibility).
UNSERVED_PREFIXES = (
    "/api/v1/sms/",
    "/api/v1/workspaces",
    "/api/v1/analytics/",
    "/api/v1/evals",
    "/api/v1/communication-",
    "/api/v1/agents/versions",
    "/api/v1/leads/audit",
    "/api/v1/phone-numbers/available",
    "/api/v1/events/backfill",
    "/api/v1/capabilities",
    "/api/v1/schemas",
    "/api/v1/signup",
)


def _dummy(param: inspect.Parameter) -> Any:
    if param.name == "body":
        return {}
    if param.name == "messages":
        return []
    return "x"


def sdk_operations() -> set[tuple[str, str]]:
    """(method, path) of every SDK method, by calling each against a recording mock."""
    seen: set[tuple[str, str]] = set()

    def record(request: httpx.Request) -> httpx.Response:
        seen.add((request.method, request.url.path))
        if request.headers.get("accept") == "text/event-stream":
            # events.stream connects when called: answer it an (empty) event stream.
            return httpx.Response(200, headers={"content-type": "text/event-stream"})
        return httpx.Response(200, json={})

    mock = httpx.Client(transport=httpx.MockTransport(record))
    kai = KaiCalls("kc_test_x", base_url="http://sdk.test", http_client=mock)
    for resource_name, resource in vars(kai).items():
        if resource_name.startswith("_"):
            continue
        for name, method in inspect.getmembers(resource, inspect.ismethod):
            if name.startswith("_"):
                continue
            args = [
                _dummy(p)
                for p in inspect.signature(method).parameters.values()
                if p.default is inspect.Parameter.empty
                and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
            ]
            result = method(*args)
            if inspect.isgenerator(result):
                list(result)
            elif isinstance(result, EventStream):
                result.close()
    signup("Smith Law", "a@b.test", base_url="http://sdk.test", session=mock)
    return seen


def test_every_server_operation_has_an_sdk_method(server: Server) -> None:
    document = KaiCalls(server.live_key, base_url=server.base_url).discovery.openapi()
    assert str(document.openapi).startswith("3.")
    server_ops = {
        (method.upper(), path)
        for path, item in document.paths.items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    }
    sdk_ops = sdk_operations()

    missing = server_ops - NOT_FOR_THE_SDK - sdk_ops
    assert not missing, f"server operations without an SDK method: {sorted(missing)}"

    undocumented = {(m, p) for m, p in sdk_ops - server_ops if not p.startswith(UNSERVED_PREFIXES)}
    assert not undocumented, f"SDK methods calling paths the server lacks: {sorted(undocumented)}"
