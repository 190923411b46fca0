"""The harness of the MCP end-to-end suite: a real `kaicalls serve` process, accounts on
it, and thin helpers around the official MCP Python SDK (`mcp`, pinned in
requirements.txt) and raw JSON-RPC over HTTP.

Nothing here asserts KaiCalls behaviour except where a helper cannot go on without it
(the server must start, sign-up must answer 201); the tests assert the contract.

The SDK's HTTP stack is `httpx2` (mcp 2.3.0 depends on it instead of `httpx`; same API),
so the raw requests use it too: the OAuth provider is an `httpx2.Auth`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import anyio
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp_types import CallToolResult

# Protocol revisions the contract names.
HANDSHAKE_VERSION = "2025-11-25"
OLDER_HANDSHAKE_VERSION = "2025-06-18"
STATELESS_VERSION = "2026-07-28"

# The `_meta` keys of the stateless revision (mcp_types._types; rmcp's model.rs has the
# same strings).
META_PROTOCOL_VERSION = "io.modelcontextprotocol/protocolVersion"
META_CLIENT_INFO = "io.modelcontextprotocol/clientInfo"
META_CLIENT_CAPABILITIES = "io.modelcontextprotocol/clientCapabilities"

# Simulator numbers (crates/kaicalls/src/voice/simulator.rs).
ORDINARY_NUMBER = "+14155550123"  # answers, talks 109 simulated s, completes
NEVER_HANGS_UP = "+15005550006"  # only end_call (or max_duration) ends it

TERMINAL_STATUSES = {"completed", "failed", "canceled"}

# Every tool of the contract's table.
CONTRACT_TOOLS = {
    "list_agents",
    "get_business_info",
    "list_numbers",
    "list_recent_calls",
    "check_call_status",
    "get_transcript",
    "get_call_recording",
    "list_leads",
    "get_lead",
    "list_voicemails",
    "get_analytics",
    "get_usage",
    "get_balance",
    "make_call",
    "end_call",
    "upsert_lead",
    "wait_for_call",
}

# Simulated seconds per wall-clock second: the ordinary call above lasts ~2.3 s.
SIM_SPEED = "50"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class KaiCallsServer:
    """`BIN serve` on a free port with a fresh SQLite database in a temp dir."""

    def __init__(self, binary: str, extra_env: dict[str, str] | None = None, name: str = "server") -> None:
        self.binary = binary
        self.extra_env = dict(extra_env or {})
        self.name = name
        self.dir = Path(tempfile.mkdtemp(prefix=f"kaicalls-mcp-{name}-"))
        self.proc: subprocess.Popen[bytes] | None = None
        self.base = ""
        self.log_path = self.dir / "serve.log"

    def env(self, port: int) -> dict[str, str]:
        # No KAICALLS_* of the caller's leaks in (a stray KAICALLS_API_KEY, a database).
        env = {k: v for k, v in os.environ.items() if not k.startswith("KAICALLS_")}
        env.update(
            {
                "KAICALLS_BIND": f"127.0.0.1:{port}",
                "KAICALLS_PUBLIC_URL": f"http://127.0.0.1:{port}",
                "KAICALLS_DATABASE_URL": f"sqlite://{self.dir}/kaicalls.db",
                "KAICALLS_RECORDINGS_DIR": str(self.dir / "recordings"),
                "KAICALLS_SIM_SPEED": SIM_SPEED,
                # Requests and warnings, without colour codes (they end up in reports).
                "RUST_LOG": os.environ.get("RUST_LOG", "warn,kaicalls=info"),
                "NO_COLOR": "1",
            }
        )
        env.update(self.extra_env)
        return env

    def start(self) -> "KaiCallsServer":
        last_error = ""
        # A free port can be taken between our probe and the server's bind: retry.
        for _ in range(3):
            port = free_port()
            log = open(self.log_path, "ab")
            self.proc = subprocess.Popen(
                [self.binary, "serve"],
                env=self.env(port),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            log.close()
            self.base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                try:
                    if httpx2.get(f"{self.base}/healthz", timeout=1).status_code == 200:
                        return self
                except httpx2.HTTPError:
                    pass
                time.sleep(0.05)
            last_error = self.log_tail()
            self.stop()
        raise RuntimeError(f"{self.binary} serve did not answer /healthz:\n{last_error}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.proc = None

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(re.sub(r"\x1b\[[0-9;]*m", "", text).splitlines()[-lines:])

    @property
    def mcp_url(self) -> str:
        return f"{self.base}/api/mcp"


@dataclass
class Tenant:
    """One signed-up account: a user, its business, agent "Kai" and a test key."""

    base: str
    email: str
    password: str
    user_id: str
    business_id: str
    agent_id: str
    test_key: str
    cookie: str  # the kc_session cookie's value (a dashboard session)
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def cookie_header(self) -> dict[str, str]:
        return {"Cookie": f"kc_session={self.cookie}"}

    def rest(self, method: str, path: str, key: str | None = None, **kw: Any) -> httpx2.Response:
        """A REST request with a key (default: the tenant's test key)."""
        headers = {"Authorization": f"Bearer {key or self.test_key}", **kw.pop("headers", {})}
        return httpx2.request(method, f"{self.base}{path}", headers=headers, timeout=30, **kw)

    def session_request(self, method: str, path: str, **kw: Any) -> httpx2.Response:
        """A request as the signed-in dashboard user (the kc_session cookie)."""
        headers = {**self.cookie_header, **kw.pop("headers", {})}
        return httpx2.request(method, f"{self.base}{path}", headers=headers, timeout=30, **kw)

    def create_key(self, scopes: list[str], mode: str = "test") -> str:
        r = self.session_request(
            "POST", "/api/v1/keys", json={"name": f"mcp e2e {'/'.join(scopes)}", "mode": mode, "scopes": scopes}
        )
        assert r.status_code in (200, 201), f"POST /api/v1/keys: {r.status_code} {r.text}"
        return r.json()["key"]

    def calls_to(self, number: str, key: str | None = None) -> list[dict[str, Any]]:
        """Every call of the tenant to `number`, through the REST API."""
        r = self.rest("GET", "/api/v1/calls", key=key, params={"limit": "100"})
        assert r.status_code == 200, f"GET /api/v1/calls: {r.status_code} {r.text}"
        return [c for c in r.json()["calls"] if c["to"] == number]


def sign_up(base: str, business: str) -> Tenant:
    email = f"mcp-{uuid.uuid4().hex[:10]}@kaicalls.test"
    password = "mcp-e2e-password"
    r = httpx2.post(
        f"{base}/api/v1/signup",
        json={"email": email, "password": password, "business_name": business},
        timeout=30,
    )
    assert r.status_code == 201, f"signup: {r.status_code} {r.text}"
    body = r.json()
    cookie = r.cookies.get("kc_session")
    assert cookie, f"signup set no kc_session cookie: {r.headers}"
    return Tenant(
        base=base,
        email=email,
        password=password,
        user_id=body["user_id"],
        business_id=body["business_id"],
        agent_id=body["agent_id"],
        test_key=body["test_key"],
        cookie=cookie,
        raw=body,
    )


# --------------------------------------------------------------------------- SDK clients


class Recorder:
    """httpx2 event hooks that keep every request and response of an SDK client."""

    def __init__(self) -> None:
        self.requests: list[httpx2.Request] = []
        self.responses: list[httpx2.Response] = []

    async def on_request(self, request: httpx2.Request) -> None:
        self.requests.append(request)

    async def on_response(self, response: httpx2.Response) -> None:
        self.responses.append(response)

    def hooks(self) -> dict[str, list[Any]]:
        return {"request": [self.on_request], "response": [self.on_response]}

    def rpc_posts(self) -> list[tuple[httpx2.Request, dict[str, Any]]]:
        """The JSON-RPC messages POSTed to /api/mcp, with their HTTP requests, in order."""
        out = []
        for req in self.requests:
            if req.method != "POST" or not req.url.path.endswith("/api/mcp"):
                continue
            try:
                body = json.loads(req.content or b"null")
            except Exception:  # a streamed body we cannot read back
                continue
            if isinstance(body, dict):
                out.append((req, body))
        return out

    def rpc_methods(self) -> list[str]:
        """The JSON-RPC methods POSTed, in order (requests and notifications)."""
        return [body["method"] for _, body in self.rpc_posts() if "method" in body]

    def rpc_bodies(self, method: str) -> list[dict[str, Any]]:
        return [body for _, body in self.rpc_posts() if body.get("method") == method]


@asynccontextmanager
async def http_mcp_client(
    url: str,
    *,
    headers: dict[str, str] | None = None,
    auth: httpx2.Auth | None = None,
    mode: str = "legacy",
    recorder: Recorder | None = None,
    read_timeout: float = 60,
) -> AsyncIterator[Client]:
    """The SDK's `Client` over its streamable HTTP transport, with our own httpx2 client
    (custom headers or an auth flow). `mode`: "legacy" = the initialize handshake,
    "auto" = server/discover then fall back, "2026-07-28" = adopt the stateless revision."""
    with unwrapped_errors():
        async with httpx2.AsyncClient(
            headers=headers or {},
            auth=auth,
            timeout=httpx2.Timeout(30, read=read_timeout),
            event_hooks=recorder.hooks() if recorder else None,
        ) as http:
            transport = streamable_http_client(url, http_client=http)
            async with Client(transport, mode=mode, read_timeout_seconds=read_timeout) as client:
                yield client


def _leaves(group: BaseExceptionGroup) -> list[BaseException]:
    out: list[BaseException] = []
    for exc in group.exceptions:
        out.extend(_leaves(exc) if isinstance(exc, BaseExceptionGroup) else [exc])
    return out


@contextmanager
def unwrapped_errors() -> Iterator[None]:
    """The SDK's task groups wrap an assertion failing inside `async with Client` in
    nested ExceptionGroups; re-raise a lone failure as itself so pytest shows it plainly."""
    try:
        yield
    except BaseExceptionGroup as group:
        leaves = _leaves(group)
        if len(leaves) == 1:
            raise leaves[0] from None
        raise


def structured(result: CallToolResult) -> dict[str, Any]:
    """A tool result's structuredContent (the contract: always present)."""
    sc = result.structured_content
    assert isinstance(sc, dict), f"no structuredContent in {result!r}"
    return sc


async def call_ok(client: Client, name: str, args: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
    """Calls a tool that must succeed; answers its structuredContent."""
    result = await client.call_tool(name, args or {}, **kw)
    sc = structured(result)
    assert not result.is_error, f"{name}({args}) failed: {sc}"
    assert sc.get("success") is True, f"{name}({args}): success is not true: {sc}"
    return sc


async def wait_until_done(client: Client, call_id: str, timeout_s: int = 20, budget: float = 90) -> dict[str, Any]:
    """wait_for_call in a loop while `done` is false; answers the final result."""
    with anyio.fail_after(budget):
        while True:
            sc = await call_ok(client, "wait_for_call", {"call_id": call_id, "timeout_s": timeout_s})
            assert isinstance(sc.get("done"), bool), f"wait_for_call: done is not a bool: {sc}"
            if sc["done"]:
                return sc
            assert sc["call"]["status"] not in TERMINAL_STATUSES, f"done is false for an ended call: {sc}"


async def wait_for_status(client: Client, call_id: str, statuses: set[str], budget: float = 30) -> dict[str, Any]:
    """Polls check_call_status until the call's status is one of `statuses`."""
    with anyio.fail_after(budget):
        while True:
            sc = await call_ok(client, "check_call_status", {"call_id": call_id})
            if sc["call"]["status"] in statuses:
                return sc
            await anyio.sleep(0.1)


# --------------------------------------------------------------------------- raw JSON-RPC


def parse_rpc_response(response: httpx2.Response, request_id: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The JSON-RPC response to `request_id` from a JSON or an SSE body, and the
    notifications sent before it."""
    ctype = response.headers.get("content-type", "")
    messages: list[dict[str, Any]] = []
    if ctype.startswith("application/json"):
        body = response.json()
        messages = body if isinstance(body, list) else [body]
    elif ctype.startswith("text/event-stream"):
        for event in response.text.split("\n\n"):
            data = "\n".join(line[5:].lstrip() for line in event.splitlines() if line.startswith("data:"))
            if data.strip():
                messages.append(json.loads(data))
    else:
        raise AssertionError(f"unexpected content-type {ctype!r}: {response.status_code} {response.text[:500]}")
    notes = [m for m in messages if "method" in m and "id" not in m]
    for m in messages:
        if m.get("id") == request_id and ("result" in m or "error" in m):
            return m, notes
    raise AssertionError(f"no response to id {request_id} in {messages}")


def stateless_meta(extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The `_meta` every 2026-07-28 request carries: version, client info, capabilities."""
    meta = {
        META_PROTOCOL_VERSION: STATELESS_VERSION,
        META_CLIENT_INFO: {"name": "kaicalls-mcp-e2e-raw", "version": "1.0"},
        META_CLIENT_CAPABILITIES: {},
    }
    meta.update(extra or {})
    return meta


def initialize_body(request_id: int = 1, version: str = HANDSHAKE_VERSION) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "initialize",
        "params": {
            "protocolVersion": version,
            "capabilities": {},
            "clientInfo": {"name": "kaicalls-mcp-e2e-raw", "version": "1.0"},
        },
    }


# --------------------------------------------------------------------------- consent page


class FormParser(HTMLParser):
    """The forms of a page: action, method, and their inputs and buttons."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []
        self._form: dict[str, Any] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: (v if v is not None else "") for k, v in attrs}
        if tag == "form":
            self._form = {"action": a.get("action", ""), "method": a.get("method", "get").lower(), "inputs": []}
            self.forms.append(self._form)
        elif tag in ("input", "button") and self._form is not None:
            self._form["inputs"].append(
                {
                    "tag": tag,
                    "type": a.get("type", "submit" if tag == "button" else "text").lower(),
                    "name": a.get("name"),
                    "value": a.get("value", ""),
                    "checked": "checked" in a,
                }
            )

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None


def consent_form(html: str) -> dict[str, Any]:
    """The consent page's `<form method="post" action="/oauth/authorize">`."""
    parser = FormParser()
    parser.feed(html)
    for form in parser.forms:
        if form["method"] == "post" and form["action"].split("?")[0].endswith("/oauth/authorize"):
            return form
    raise AssertionError(f"no POST /oauth/authorize form on the consent page: {parser.forms}\n{html[:2000]}")


def post_rpc(
    url: str,
    body: Any,
    *,
    key: str | None = None,
    headers: dict[str, str] | None = None,
    accept: str | None = "application/json, text/event-stream",
    timeout: float = 60,
) -> httpx2.Response:
    """One raw JSON-RPC POST. `accept=None` sends no Accept header at all (httpx2 would
    otherwise add `Accept: */*`)."""
    h = {"Content-Type": "application/json"}
    if accept is not None:
        h["Accept"] = accept
    if key is not None:
        h["Authorization"] = f"Bearer {key}"
    h.update(headers or {})
    with httpx2.Client(timeout=timeout) as http:
        request = http.build_request("POST", url, content=json.dumps(body).encode(), headers=h)
        if accept is None and "accept" in request.headers:
            del request.headers["accept"]
        return http.send(request)


def stateless_headers(method: str, name: str | None = None) -> dict[str, str]:
    """The HTTP headers of a 2026-07-28 request (SEP-2243): the version, and the method
    and name the body carries (mcp.client.session._make_modern_stamp sends the same)."""
    h = {"MCP-Protocol-Version": STATELESS_VERSION, "Mcp-Method": method}
    if name is not None:
        h["Mcp-Name"] = name
    return h


def www_authenticate_params(response: httpx2.Response) -> dict[str, str]:
    """The auth-params of a `WWW-Authenticate: Bearer k="v", ...` header."""
    value = response.headers.get("www-authenticate", "")
    assert value.lower().startswith("bearer"), f"WWW-Authenticate is not a Bearer challenge: {value!r}"
    return {k.lower(): v for k, v in re.findall(r'([A-Za-z_]+)="([^"]*)"', value)}
