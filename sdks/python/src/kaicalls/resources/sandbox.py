"""``kai.sandbox``: simulated inbound calls for test keys (``kc_test_...``)."""

from __future__ import annotations

from .._http import Req
from .._models import Call
from ._base import Async, R, Resource, Sync, post_req, returns

RING = "/api/v1/sandbox/inbound-calls"


class _SandboxBase(Resource[R]):
    @returns(Call)
    def ring(self, to: str, from_: str, *, idempotency_key: str | None = None) -> Req:
        """Ring one of your numbers (``to``) as the caller ``from_`` (sent as
        ``from``): its agent answers and a scripted conversation plays. Answers the
        call, ``direction`` ``inbound`` and status ``ringing``; `Calls.wait` follows it.
        Test keys only; requires calls:write.

        Magic callers pick the conversation: ``+15005550100`` hangs up at once,
        ``+15005550101`` asks for a person (``ended_reason`` ``transferred`` when the
        agent has a transfer destination), ``+15005550102`` leaves a voicemail,
        ``+15005550103`` opts out (do-not-call list), ``+15005550104`` asks for a
        callback; any other caller has an intake conversation.
        """
        body = {"to": to, "from": from_}
        return post_req(RING, body, create=True, idempotency_key=idempotency_key)


class Sandbox(_SandboxBase[Sync]):
    pass


class AsyncSandbox(_SandboxBase[Async]):
    pass
