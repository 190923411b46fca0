"""`KaiCalls`, `AsyncKaiCalls` and `signup`."""

from __future__ import annotations

import os
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Self

import httpx

from ._http import (
    DEFAULT_MAX_RETRIES,
    DEFAULT_MAX_RETRY_DELAY,
    DEFAULT_TIMEOUT,
    AsyncRequester,
    Config,
    Req,
    Requester,
    compact,
    resolve_base_url,
    sync_transport,
)
from ._object import KaiObject
from .resources.account import Account, AsyncAccount
from .resources.agents import Agents, AsyncAgents
from .resources.calls import AsyncCalls, Calls
from .resources.campaigns import AsyncCampaigns, Campaigns
from .resources.compliance import AsyncCompliance, Compliance
from .resources.events import AsyncEvents, Events
from .resources.leads import AsyncLeads, Leads
from .resources.misc import (
    AsyncDiscovery,
    AsyncRecordings,
    AsyncTranscripts,
    Discovery,
    Recordings,
    Transcripts,
)
from .resources.numbers import AsyncPhoneNumbers, PhoneNumbers
from .resources.sandbox import AsyncSandbox, Sandbox
from .resources.staff_alerts import AsyncStaffAlerts, StaffAlerts
from .resources.unserved import (
    Analytics,
    AsyncAnalytics,
    AsyncCommunicationRuns,
    AsyncEvals,
    AsyncSms,
    AsyncWorkspaces,
    CommunicationRuns,
    Evals,
    Sms,
    Workspaces,
)
from .resources.voicemails import AsyncVoicemails, Voicemails
from .resources.webhooks import AsyncWebhooks, Webhooks

_MISSING_KEY = "KaiCalls: api_key is required (kc_live_...)"


def _api_key(api_key: str | None) -> str:
    key = api_key if api_key is not None else os.environ.get("KAICALLS_API_KEY")
    if not key:
        raise ValueError(_MISSING_KEY)
    return key


def _config(
    api_key: str | None,
    base_url: str | None,
    timeout: float,
    max_retries: int,
    max_retry_delay: float,
    default_headers: Mapping[str, str] | None,
) -> Config:
    if max_retries < 0:
        raise ValueError("max_retries must be >= 0")
    return Config(
        api_key=api_key,
        base_url=resolve_base_url(base_url),
        timeout=timeout,
        max_retries=max_retries,
        max_retry_delay=max_retry_delay,
        default_headers=dict(default_headers or {}),
    )


class KaiCalls:
    """The KaiCalls API client.

    Args:
        api_key: a ``kc_live_...`` or ``kc_test_...`` key (default: the
            ``KAICALLS_API_KEY`` environment variable).
        base_url: the API origin; the client appends ``/api/v1/...`` itself (default:
            ``KAICALLS_BASE_URL``, else ``https://www.kaicalls.com``).
        timeout: seconds per request (connect, and between bytes read).
        session: optional, for 0.1.0 compatibility: a ``requests.Session`` (requests
            are then sent through it, keeping its adapters and hooks) or an
            ``httpx.Client``.
        max_retries: retries after a 429, a retryable 5xx or a connection failure
            (default 2; 0 disables them).
        max_retry_delay: the longest ``Retry-After`` (seconds) the client waits out;
            a longer one raises at once.
        http_client: an ``httpx.Client`` to send with (proxies, mounts, transports).
        default_headers: headers added to every request.

    Use it as a context manager, or call `close`, to release its connections.
    """

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        session: Any = None,
        *,
        max_retries: int = DEFAULT_MAX_RETRIES,
        max_retry_delay: float = DEFAULT_MAX_RETRY_DELAY,
        http_client: httpx.Client | None = None,
        default_headers: Mapping[str, str] | None = None,
    ) -> None:
        config = _config(
            _api_key(api_key), base_url, timeout, max_retries, max_retry_delay, default_headers
        )
        self._http = Requester(config, sync_transport(session, http_client))
        send = self._http.send
        self.calls = Calls(send)
        self.recordings = Recordings(send)
        self.agents = Agents(send)
        self.leads = Leads(send)
        self.sms = Sms(send)
        self.transcripts = Transcripts(send)
        self.phone_numbers = PhoneNumbers(send)
        self.workspaces = Workspaces(send)
        self.webhooks = Webhooks(send)
        self.analytics = Analytics(send)
        self.evals = Evals(send)
        self.events = Events(send, self._http)
        self.communication_runs = CommunicationRuns(send)
        self.discovery = Discovery(send)
        self.account = Account(send)
        self.compliance = Compliance(send)
        self.campaigns = Campaigns(send)
        self.voicemails = Voicemails(send)
        self.staff_alerts = StaffAlerts(send)
        self.sandbox = Sandbox(send)

    @property
    def base_url(self) -> str:
        return self._http.config.base_url

    def request(
        self,
        method: str,
        path: str,
        query: Mapping[str, Any] | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """Any endpoint, e.g. ``kai.request("GET", "/api/v1/numbers")``.

        ``path`` is used as given (it may lie outside ``/api/v1``); ``query`` drops
        ``None`` values; ``body`` is sent as JSON. Returns a `KaiObject` for a JSON
        object (a list for an array, the text for a non-JSON answer).
        """
        return self._http.send(Req(method, path, query=query, body=body, headers=headers))

    def close(self) -> None:
        """Closes the connection pool (not a client or session you passed in)."""
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncKaiCalls:
    """`KaiCalls` for asyncio: the same resources and methods, awaited.

    ``wait`` and the ``iter`` methods are ``await kai.calls.wait(id)`` and
    ``async for call in kai.calls.iter(...)``. Pass ``http_client`` to send with your
    own ``httpx.AsyncClient``. Use ``async with``, or ``await kai.close()``.
    """

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        *,
        max_retries: int = DEFAULT_MAX_RETRIES,
        max_retry_delay: float = DEFAULT_MAX_RETRY_DELAY,
        http_client: httpx.AsyncClient | None = None,
        default_headers: Mapping[str, str] | None = None,
    ) -> None:
        config = _config(
            _api_key(api_key), base_url, timeout, max_retries, max_retry_delay, default_headers
        )
        self._http = AsyncRequester(config, http_client)
        send = self._http.send
        self.calls = AsyncCalls(send)
        self.recordings = AsyncRecordings(send)
        self.agents = AsyncAgents(send)
        self.leads = AsyncLeads(send)
        self.sms = AsyncSms(send)
        self.transcripts = AsyncTranscripts(send)
        self.phone_numbers = AsyncPhoneNumbers(send)
        self.workspaces = AsyncWorkspaces(send)
        self.webhooks = AsyncWebhooks(send)
        self.analytics = AsyncAnalytics(send)
        self.evals = AsyncEvals(send)
        self.events = AsyncEvents(send, self._http)
        self.communication_runs = AsyncCommunicationRuns(send)
        self.discovery = AsyncDiscovery(send)
        self.account = AsyncAccount(send)
        self.compliance = AsyncCompliance(send)
        self.campaigns = AsyncCampaigns(send)
        self.voicemails = AsyncVoicemails(send)
        self.staff_alerts = AsyncStaffAlerts(send)
        self.sandbox = AsyncSandbox(send)

    @property
    def base_url(self) -> str:
        return self._http.config.base_url

    async def request(
        self,
        method: str,
        path: str,
        query: Mapping[str, Any] | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """Async `KaiCalls.request`."""
        return await self._http.send(Req(method, path, query=query, body=body, headers=headers))

    async def close(self) -> None:
        await self._http.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


def signup(
    business_name: str,
    email: str,
    business_type: str | None = None,
    website: str | None = None,
    phone_forward_to: str | None = None,
    plan_id: str | None = None,
    base_url: str | None = None,
    session: Any = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> KaiObject:
    """Create a KaiCalls account (no API key needed). Returns it with its
    ``api_key``: store that securely. A server without sign-up answers 404
    (`kaicalls.NotFoundError`)."""
    config = _config(None, base_url, timeout, DEFAULT_MAX_RETRIES, DEFAULT_MAX_RETRY_DELAY, None)
    requester = Requester(config, sync_transport(session, None))
    body = compact(
        {
            "business_name": business_name,
            "email": email,
            "business_type": business_type,
            "website": website,
            "phone_forward_to": phone_forward_to,
            "plan_id": plan_id,
        }
    )
    try:
        result: KaiObject = requester.send(
            Req("POST", "/api/v1/signup", body=body, idempotent=False)
        )
    finally:
        requester.close()
    return result
