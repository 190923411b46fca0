"""Offline helpers: a KaiCalls client whose HTTP goes to a scripted httpx.MockTransport."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx

from kaicalls import AsyncKaiCalls, KaiCalls

BASE = "http://kai.test"

Scripted = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


def reply(status: int = 200, body: Any = None, **headers: str) -> httpx.Response:
    content = b"" if body is None else json.dumps(body).encode()
    hdrs = {"content-type": "application/json", "request-id": "req_test123", **headers}
    return httpx.Response(
        status, content=content, headers={k.replace("_", "-"): v for k, v in hdrs.items()}
    )


def error(
    status: int, code: str, message: str = "boom", param: str | None = None, **headers: str
) -> httpx.Response:
    err: dict[str, Any] = {"code": code, "message": message}
    if param is not None:
        err["param"] = param
    return reply(status, {"error": err}, **headers)


class Script:
    """Answers requests in order; records each request (body read eagerly)."""

    def __init__(self, *answers: Scripted) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        if not self.answers:
            raise AssertionError(f"unexpected request {request.method} {request.url}")
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        if callable(answer) and not isinstance(answer, httpx.Response):
            return answer(request)
        return answer

    @property
    def last(self) -> httpx.Request:
        return self.requests[-1]


def client(script: Script, **kwargs: Any) -> tuple[KaiCalls, list[float]]:
    kai = KaiCalls(
        "kc_test_unit",
        base_url=BASE,
        http_client=httpx.Client(transport=httpx.MockTransport(script)),
        **kwargs,
    )
    sleeps: list[float] = []
    kai._http.sleep = sleeps.append
    return kai, sleeps


def async_client(script: Script, **kwargs: Any) -> tuple[AsyncKaiCalls, list[float]]:
    kai = AsyncKaiCalls(
        "kc_test_unit",
        base_url=BASE,
        http_client=httpx.AsyncClient(transport=httpx.MockTransport(script)),
        **kwargs,
    )
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    kai._http.sleep = sleep
    return kai, sleeps
