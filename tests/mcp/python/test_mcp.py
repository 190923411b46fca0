"""KaiCalls' MCP server (`/api/mcp`, `kaicalls mcp`), driven by the official MCP Python
SDK (mcp==2.3.0) and, where the SDK hides the wire, by raw JSON-RPC over HTTP.

The contract is /var/tmp/mcp-contract.md (issue 11): transports, credentials, the
OAuth 2.1 flow and the tools' inputs and outputs. Every test asserts behaviour the
contract names; none of them can pass against a server that lacks it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import tempfile
import time
import uuid
from typing import Any
from urllib.parse import parse_qs, urljoin, urlparse

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.auth import OAuthClientProvider
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthClientMetadata, OAuthToken
from mcp.shared.exceptions import MCPError
from mcp_types import TextContent

from harness import (
    CONTRACT_TOOLS,
    HANDSHAKE_VERSION,
    NEVER_HANGS_UP,
    OLDER_HANDSHAKE_VERSION,
    ORDINARY_NUMBER,
    STATELESS_VERSION,
    TERMINAL_STATUSES,
    KaiCallsServer,
    Recorder,
    Tenant,
    FormParser,
    call_ok,
    consent_form,
    http_mcp_client,
    initialize_body,
    parse_rpc_response,
    post_rpc,
    sign_up,
    stateless_headers,
    stateless_meta,
    structured,
    unwrapped_errors,
    wait_for_status,
    wait_until_done,
    www_authenticate_params,
)

# Tools that only read; the others change something.
READ_ONLY_TOOLS = CONTRACT_TOOLS - {"make_call", "end_call", "upsert_lead"}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


_dialled: set[str] = {ORDINARY_NUMBER}


def fresh_number() -> str:
    """An ordinary US number no other test dials (its calls can be counted)."""
    while (number := f"+1415555{secrets.randbelow(10000):04d}") in _dialled:
        pass
    _dialled.add(number)
    return number


def assert_business_error(result: Any, code: str, param: str | None = None) -> dict[str, Any]:
    """The contract's business error: a tool result with isError and
    structuredContent {success: false, error, code, param?}."""
    sc = structured(result)
    assert result.is_error is True, f"expected isError, got {sc}"
    assert sc.get("success") is False, sc
    assert isinstance(sc.get("error"), str) and sc["error"], sc
    assert sc.get("code") == code, sc
    if param is not None:
        assert sc.get("param") == param, sc
    return sc


# --------------------------------------------------------------------------- 1. handshake


@pytest.mark.parametrize("credential", ["authorization-bearer", "x-kaicalls-api-key"])
async def test_handshake_and_tool_listing(server: KaiCallsServer, tenant: Tenant, credential: str) -> None:
    """2025-11-25 initialize over streamable HTTP with either credential header; the
    listing has every tool of the contract, each with schemas and annotations."""
    headers = bearer(tenant.test_key) if credential == "authorization-bearer" else {"X-KaiCalls-API-Key": tenant.test_key}
    rec = Recorder()
    async with http_mcp_client(server.mcp_url, headers=headers, mode="legacy", recorder=rec) as client:
        assert client.protocol_version == HANDSHAKE_VERSION
        init = client.session.initialize_result
        assert init is not None and init.protocol_version == HANDSHAKE_VERSION
        assert init.capabilities.tools is not None, "the server does not declare the tools capability"
        assert init.server_info.name

        listing = await client.list_tools()
        tools = {t.name: t for t in listing.tools}
        assert CONTRACT_TOOLS <= tools.keys(), f"missing tools: {sorted(CONTRACT_TOOLS - tools.keys())}"
        for tool in listing.tools:
            assert tool.input_schema.get("type") == "object", f"{tool.name}: inputSchema {tool.input_schema}"
            assert isinstance(tool.output_schema, dict) and tool.output_schema.get("type") == "object", (
                f"{tool.name}: outputSchema {tool.output_schema}"
            )
            a = tool.annotations
            assert a is not None, f"{tool.name} has no annotations"
            for hint in ("read_only_hint", "destructive_hint", "idempotent_hint", "open_world_hint"):
                assert isinstance(getattr(a, hint), bool), f"{tool.name}: annotations.{hint} = {getattr(a, hint)!r}"
        for name in READ_ONLY_TOOLS:
            assert tools[name].annotations.read_only_hint is True, f"{name} should be readOnlyHint"
        for name in ("make_call", "end_call", "upsert_lead"):
            assert tools[name].annotations.read_only_hint is False, f"{name} changes things"

        make_call = tools["make_call"].input_schema
        assert {"agent_id", "to", "idempotency_key"} <= make_call["properties"].keys(), make_call
        assert {"agent_id", "to"} <= set(make_call.get("required", [])), make_call
        wait = tools["wait_for_call"].input_schema
        assert {"call_id", "timeout_s"} <= wait["properties"].keys(), wait
        assert "call_id" in wait.get("required", []), wait

        # The credential really authenticates tool calls, and the text copy in
        # content[0] is the same JSON as structuredContent.
        result = await client.call_tool("list_agents", {})
        sc = structured(result)
        assert not result.is_error and sc["success"] is True, sc
        assert tenant.agent_id in [a["id"] for a in sc["agents"]], sc
        assert isinstance(result.content[0], TextContent)
        assert json.loads(result.content[0].text) == sc

    methods = rec.rpc_methods()
    assert methods[:2] == ["initialize", "notifications/initialized"], methods
    # Stateless: the server never hands out a session.
    for response in rec.responses:
        assert "mcp-session-id" not in response.headers, f"{response.request.url}: {response.headers}"


async def test_older_handshake_revision(server: KaiCallsServer, tenant: Tenant) -> None:
    """initialize at 2025-06-18 is answered at 2025-06-18 (the contract's second
    handshake revision); tools/list then works at that revision."""
    r = post_rpc(server.mcp_url, initialize_body(1, OLDER_HANDSHAKE_VERSION), key=tenant.test_key)
    assert r.status_code == 200, r.text
    msg, _ = parse_rpc_response(r, 1)
    assert msg["result"]["protocolVersion"] == OLDER_HANDSHAKE_VERSION, msg
    r = post_rpc(
        server.mcp_url,
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}},
        key=tenant.test_key,
        headers={"MCP-Protocol-Version": OLDER_HANDSHAKE_VERSION},
    )
    assert r.status_code == 200, r.text
    msg, _ = parse_rpc_response(r, 2)
    assert "make_call" in [t["name"] for t in msg["result"]["tools"]], msg


# --------------------------------------------------------------------------- 2. the story


async def test_call_story(server: KaiCallsServer, tenant: Tenant) -> None:
    """list_agents → make_call → wait_for_call → get_transcript → get_call_recording,
    then end_call on a call that never hangs up."""
    async with http_mcp_client(server.mcp_url, headers=bearer(tenant.test_key)) as client:
        agents = await call_ok(client, "list_agents")
        assert agents["count"] == len(agents["agents"]) >= 1, agents
        assert agents["limit"] == 50 and agents["offset"] == 0 and agents["has_more"] is False, agents
        agent_id = agents["agents"][0]["id"]
        assert agent_id == tenant.agent_id and agents["agents"][0]["name"] == "Kai", agents

        made = await call_ok(client, "make_call", {"agent_id": agent_id, "to": ORDINARY_NUMBER, "name": "Ada"})
        call = made["call"]
        assert made["replayed"] is False and made["test_mode"] is True, made
        assert call["to"] == ORDINARY_NUMBER and call["agent_id"] == agent_id, made
        assert call["business_id"] == tenant.business_id, made
        call_id = call["id"]

        done = await wait_until_done(client, call_id)
        assert done["call"]["id"] == call_id, done
        assert done["call"]["status"] == "completed", done
        assert isinstance(done["call"]["transcript"], str) and done["call"]["transcript"].strip(), done
        assert isinstance(done["call"]["duration_seconds"], int) and done["call"]["duration_seconds"] > 0, done

        status = await call_ok(client, "check_call_status", {"call_id": call_id})
        assert status["call"]["id"] == call_id and status["call"]["status"] == "completed", status

        transcript = await call_ok(client, "get_transcript", {"call_id": call_id})
        assert transcript["call"]["id"] == call_id and transcript["call"]["status"] == "completed", transcript
        text = transcript["transcript"]
        assert transcript["transcript_available"] is True, transcript
        assert isinstance(text, str) and text.strip(), transcript
        assert transcript["transcript_truncated"] is False and transcript["transcript_length"] == len(text), transcript
        assert "Ada" in text, f"the callee's name is not in the transcript: {text[:300]}"

        recording = await call_ok(client, "get_call_recording", {"call_id": call_id})
        assert recording["recording_available"] is True, recording
        url = recording["call"]["recording_url"]
        assert isinstance(url, str) and url.startswith(server.base), recording
        audio = httpx2.get(url, timeout=30)
        assert audio.status_code == 200, f"GET {url}: {audio.status_code} {audio.text[:200]}"
        assert audio.headers.get("content-type", "").startswith("audio/"), audio.headers
        assert len(audio.content) > 1000, len(audio.content)

        # A call that never hangs up: end it once it is live.
        live = await call_ok(client, "make_call", {"agent_id": agent_id, "to": NEVER_HANGS_UP})
        live_id = live["call"]["id"]
        await wait_for_status(client, live_id, {"in_progress"})
        ended = await call_ok(client, "end_call", {"call_id": live_id})
        assert ended["call"]["id"] == live_id, ended
        # The status right after the hang-up request: ended, or ending (the contract:
        # poll for the terminal state).
        assert ended["call"]["status"] in TERMINAL_STATUSES | {"in_progress"}, ended
        after = await wait_until_done(client, live_id, timeout_s=5, budget=20)
        assert after["call"]["status"] in TERMINAL_STATUSES, after
        final = await call_ok(client, "check_call_status", {"call_id": live_id})
        assert final["call"]["ended_reason"] == "ended_by_api", final


async def test_the_other_tools(server: KaiCallsServer, tenant: Tenant) -> None:
    """Every remaining tool of the contract answers its documented shape (and the SDK
    validates each structuredContent against the tool's outputSchema)."""
    async with http_mcp_client(server.mcp_url, headers=bearer(tenant.test_key)) as client:
        info = await call_ok(client, "get_business_info")
        assert info["business"]["id"] == tenant.business_id and info["business"]["name"] == "MCP Tenant A", info
        assert info["agent_count"] == 1 and isinstance(info["calls_last_30_days"], int), info

        numbers = await call_ok(client, "list_numbers")
        assert tenant.raw["phone_number"] in [n["phone_number"] for n in numbers["numbers"]], numbers

        balance = await call_ok(client, "get_balance")
        assert tenant.business_id in [b["business_id"] for b in balance["businesses"]], balance
        usage = await call_ok(client, "get_usage", {"limit": 5})
        assert isinstance(usage["usage"], list) and 1 <= len(usage["usage"]) <= 5, usage

        # A caller who leaves a message (the sandbox's +15005550102) shows in
        # list_voicemails with what they said; an outbound call that reached a
        # machine shows in the analytics.
        rung = tenant.rest(
            "POST",
            "/api/v1/sandbox/inbound-calls",
            json={"to": tenant.raw["phone_number"], "from": "+15005550102"},
        )
        assert rung.status_code == 201, rung.text
        left = await wait_until_done(client, rung.json()["id"])
        assert left["call"]["status"] == "completed", left
        voicemails = await call_ok(client, "list_voicemails")
        assert rung.json()["id"] in [v["call_id"] for v in voicemails["voicemails"]], voicemails
        assert "car accident" in voicemails["voicemails"][0]["transcript"], voicemails
        assert voicemails["count"] == len(voicemails["voicemails"]), voicemails
        made = await call_ok(client, "make_call", {"agent_id": tenant.agent_id, "to": "+15005550004"})
        done = await wait_until_done(client, made["call"]["id"])
        assert done["call"]["status"] == "completed" and done["call"]["outcome"] == "voicemail", done
        analytics = await call_ok(client, "get_analytics", {"days": 7})
        assert analytics["days"] == 7 and analytics["calls_total"] >= 1, analytics
        assert sum(analytics["calls_by_status"].values()) == analytics["calls_total"], analytics
        assert analytics["calls_by_outcome"].get("voicemail", 0) >= 1, analytics
        assert isinstance(analytics["minutes"], (int, float)), analytics
        assert_business_error(await client.call_tool("get_analytics", {"days": 91}), "invalid_request", "days")
        every = await call_ok(client, "list_recent_calls", {"limit": 100})
        recent = await call_ok(client, "list_recent_calls", {"limit": 1})
        more = every["count"] > 1
        assert recent["limit"] == 1 and recent["count"] == 1 and recent["has_more"] is more, (recent, every["count"])
        assert recent["next_offset"] == (1 if more else None), recent
        assert recent["calls"][0]["id"] == made["call"]["id"] == every["calls"][0]["id"], recent  # newest first

        # Leads: create, find, read, then update (by phone, and by lead_id).
        phone = fresh_number()
        created = await call_ok(client, "upsert_lead", {"phone": phone, "name": "Lee Lead"})
        assert created["created"] is True and created["lead"]["phone"] == phone, created
        lead_id = created["lead"]["id"]
        leads = await call_ok(client, "list_leads")
        assert lead_id in [lead["id"] for lead in leads["leads"]], leads
        lead = await call_ok(client, "get_lead", {"lead_id": lead_id})
        assert lead["lead"]["id"] == lead_id and lead["lead"]["name"] == "Lee Lead", lead
        assert_business_error(await client.call_tool("get_lead", {"lead_id": "lead_nope"}), "not_found")
        by_phone = await client.call_tool("upsert_lead", {"phone": phone, "notes": "called back"})
        assert not by_phone.is_error, f"upsert_lead of an existing phone failed: {by_phone.structured_content}"
        assert by_phone.structured_content["created"] is False, by_phone.structured_content
        assert by_phone.structured_content["lead"]["id"] == lead_id, by_phone.structured_content
        by_id = await client.call_tool("upsert_lead", {"lead_id": lead_id, "phone": phone, "status": "contacted"})
        assert not by_id.is_error, f"upsert_lead with lead_id failed: {by_id.structured_content}"
        assert by_id.structured_content["lead"]["status"] == "contacted", by_id.structured_content
        lead = await call_ok(client, "get_lead", {"lead_id": lead_id})
        assert lead["lead"]["notes"] == "called back" and lead["lead"]["status"] == "contacted", lead


async def test_campaign_tools(server: KaiCallsServer, tenant: Tenant) -> None:
    """create_campaign (a draft dials nothing; started, it calls its list), get_campaign
    with its contacts, list_campaigns, pause_campaign; a read-only key sees no
    create_campaign."""
    numbers = [fresh_number() for _ in range(3)]
    async with http_mcp_client(server.mcp_url, headers=bearer(tenant.test_key)) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        assert {"list_campaigns", "get_campaign", "create_campaign", "pause_campaign"} <= names, sorted(names)
        key = f"mcp-campaign-{uuid.uuid4()}"
        args = {
            "name": "MCP follow-ups",
            "agent_id": tenant.agent_id,
            "contacts": [{"to": n, "name": f"Person {i}", "variables": {"topic": "renewal"}} for i, n in enumerate(numbers)],
            "context": "Ask {{name}} about the {{topic}}",
            "max_concurrency": 2,
            "start": True,
            "idempotency_key": key,
        }
        created = await call_ok(client, "create_campaign", args)
        again = await call_ok(client, "create_campaign", args)
        campaign_id = created["campaign"]["id"]
        assert created["replayed"] is False and again["replayed"] is True, (created, again)
        assert again["campaign"]["id"] == campaign_id, again
        assert created["contacts_added"]["added"] == 3, created
        with anyio.fail_after(60):
            while True:
                got = await call_ok(client, "get_campaign", {"campaign_id": campaign_id, "contact_state": "completed"})
                if got["campaign"]["status"] == "completed":
                    break
                await anyio.sleep(0.5)
        assert got["campaign"]["counts"]["completed"] == 3, got
        assert sorted(c["to"] for c in got["contacts"]) == sorted(numbers), got
        for n in numbers:
            assert len(tenant.calls_to(n)) == 1, n
        listed = await call_ok(client, "list_campaigns", {"limit": 5})
        assert campaign_id in [c["id"] for c in listed["campaigns"]], listed

        draft = await call_ok(
            client, "create_campaign", {"name": "Later", "agent_id": tenant.agent_id, "contacts": [{"to": fresh_number()}]}
        )
        assert draft["campaign"]["status"] == "draft", draft
        refused = await client.call_tool("pause_campaign", {"campaign_id": draft["campaign"]["id"]})
        assert refused.is_error and structured(refused)["code"] == "conflict", structured(refused)
        slow = await call_ok(
            client,
            "create_campaign",
            {"name": "Paused", "agent_id": tenant.agent_id, "contacts": [{"to": NEVER_HANGS_UP}], "start": True},
        )
        paused = await call_ok(client, "pause_campaign", {"campaign_id": slow["campaign"]["id"]})
        assert paused["campaign"]["status"] == "paused", paused
        assert_business_error(await client.call_tool("get_campaign", {"campaign_id": "nope"}), "not_found")
    reader = tenant.create_key(["campaigns:read"])
    async with http_mcp_client(server.mcp_url, headers=bearer(reader)) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        assert {"list_campaigns", "get_campaign"} <= names and "create_campaign" not in names, sorted(names)


# --------------------------------------------------------------------------- 3. idempotency


async def test_make_call_idempotency_key(server: KaiCallsServer, tenant: Tenant) -> None:
    """Twice the same idempotency_key: one call; the second answer is a replay."""
    number = fresh_number()
    key = f"mcp-e2e-{uuid.uuid4()}"
    args = {"agent_id": tenant.agent_id, "to": number, "idempotency_key": key}
    async with http_mcp_client(server.mcp_url, headers=bearer(tenant.test_key)) as client:
        first = await call_ok(client, "make_call", args)
        second = await call_ok(client, "make_call", args)
    assert first["replayed"] is False, first
    assert second["replayed"] is True, second
    assert second["call"]["id"] == first["call"]["id"], (first, second)
    calls = tenant.calls_to(number)
    assert [c["id"] for c in calls] == [first["call"]["id"]], calls


# --------------------------------------------------------------------------- 4. bad input


async def test_bad_phone_number_is_a_business_error(server: KaiCallsServer, tenant: Tenant) -> None:
    async with http_mcp_client(server.mcp_url, headers=bearer(tenant.test_key)) as client:
        result = await client.call_tool("make_call", {"agent_id": tenant.agent_id, "to": "12345"})
        assert_business_error(result, "invalid_request", "to")
        # The text copy says the same.
        assert json.loads(result.content[0].text) == result.structured_content
        # The contract's bounds: wait_for_call timeout_s 1–50, list_agents limit 1–100.
        result = await client.call_tool("wait_for_call", {"call_id": "call_x", "timeout_s": 51})
        assert_business_error(result, "invalid_request", "timeout_s")
        result = await client.call_tool("list_agents", {"limit": 0})
        assert_business_error(result, "invalid_request", "limit")
        result = await client.call_tool("check_call_status", {"call_id": "call_doesnotexist"})
        assert_business_error(result, "not_found")


# --------------------------------------------------------------------------- 5. scopes


async def test_key_without_calls_write(server: KaiCallsServer, tenant: Tenant) -> None:
    """A calls:read + agents:read key sees no make_call, and cannot place a call."""
    key = tenant.create_key(["calls:read", "agents:read"])
    number = fresh_number()
    async with http_mcp_client(server.mcp_url, headers=bearer(key)) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        assert {"make_call", "end_call", "upsert_lead"}.isdisjoint(names), sorted(names)
        assert {"list_leads", "get_lead", "list_numbers"}.isdisjoint(names), sorted(names)  # leads:/numbers:read
        assert {"list_agents", "check_call_status", "wait_for_call", "list_recent_calls", "get_usage"} <= names, (
            sorted(names)
        )
        agents = await call_ok(client, "list_agents")
        assert tenant.agent_id in [a["id"] for a in agents["agents"]]
        try:
            result = await client.call_tool("make_call", {"agent_id": tenant.agent_id, "to": number})
        except MCPError as refused:
            assert refused.code < 0, refused  # a JSON-RPC error
        else:
            assert result.is_error is True, f"make_call succeeded without calls:write: {result}"
    assert tenant.calls_to(number) == [], "a key without calls:write placed a call"


# --------------------------------------------------------------------------- 6. tenancy


async def test_other_tenants_call_is_not_found(server: KaiCallsServer, tenant: Tenant, other_tenant: Tenant) -> None:
    async with http_mcp_client(server.mcp_url, headers=bearer(tenant.test_key)) as mine:
        made = await call_ok(mine, "make_call", {"agent_id": tenant.agent_id, "to": NEVER_HANGS_UP})
        call_id = made["call"]["id"]
        async with http_mcp_client(server.mcp_url, headers=bearer(other_tenant.test_key)) as theirs:
            for tool, extra in [
                ("check_call_status", {}),
                ("get_transcript", {}),
                ("get_call_recording", {}),
                ("wait_for_call", {"timeout_s": 1}),
                ("end_call", {}),
            ]:
                result = await theirs.call_tool(tool, {"call_id": call_id, **extra})
                assert_business_error(result, "not_found")
            recent = await call_ok(theirs, "list_recent_calls")
            assert call_id not in [c["id"] for c in recent["calls"]], recent
            # Nor can B dial with A's agent, or read A's business.
            number = fresh_number()
            result = await theirs.call_tool("make_call", {"agent_id": tenant.agent_id, "to": number})
            assert_business_error(result, "not_found")
            assert tenant.calls_to(number) == [] and other_tenant.calls_to(number) == []
            result = await theirs.call_tool("get_business_info", {"business_id": tenant.business_id})
            assert_business_error(result, "not_found")
        # Tenant B's end_call changed nothing: the call is still live; end it now.
        status = await call_ok(mine, "check_call_status", {"call_id": call_id})
        assert status["call"]["status"] not in TERMINAL_STATUSES, status
        await call_ok(mine, "end_call", {"call_id": call_id})


# --------------------------------------------------------------------------- 7. discovery


async def test_no_credentials_points_at_oauth_metadata(server: KaiCallsServer) -> None:
    """401 without credentials; WWW-Authenticate → protected-resource metadata →
    authorization-server metadata, as RFC 9728 / RFC 8414 and the contract say."""
    r = post_rpc(server.mcp_url, initialize_body())
    assert r.status_code == 401, f"{r.status_code} {r.text[:300]}"
    params = www_authenticate_params(r)
    prm_url = params.get("resource_metadata")
    assert prm_url == f"{server.base}/.well-known/oauth-protected-resource/api/mcp", r.headers

    prm = httpx2.get(prm_url, timeout=10)
    assert prm.status_code == 200 and prm.headers["content-type"].startswith("application/json"), prm.text
    meta = prm.json()
    assert meta["resource"] == server.mcp_url, meta
    assert meta["authorization_servers"] == [server.base], meta
    assert "header" in meta["bearer_methods_supported"], meta
    assert {"calls:read", "calls:write", "agents:read"} <= set(meta["scopes_supported"]), meta
    # Also served without the resource's path suffix.
    assert httpx2.get(f"{server.base}/.well-known/oauth-protected-resource", timeout=10).json() == meta

    issuer = meta["authorization_servers"][0]
    asm = httpx2.get(f"{issuer}/.well-known/oauth-authorization-server", timeout=10)
    assert asm.status_code == 200, asm.text
    a = asm.json()
    assert a["issuer"] == issuer, a
    assert a["authorization_endpoint"] == f"{issuer}/oauth/authorize", a
    assert a["token_endpoint"] == f"{issuer}/oauth/token", a
    assert a["registration_endpoint"] == f"{issuer}/oauth/register", a
    assert a["revocation_endpoint"] == f"{issuer}/oauth/revoke", a
    assert a["code_challenge_methods_supported"] == ["S256"], a
    assert {"authorization_code", "refresh_token"} <= set(a["grant_types_supported"]), a
    assert {"none", "client_secret_post", "client_secret_basic"} <= set(a["token_endpoint_auth_methods_supported"]), a


async def test_invalid_key_is_401_invalid_token(server: KaiCallsServer) -> None:
    for headers in (bearer("kc_test_" + "x" * 40), {"X-KaiCalls-API-Key": "kc_live_nope"}):
        r = post_rpc(server.mcp_url, initialize_body(), headers=headers)
        assert r.status_code == 401, f"{headers}: {r.status_code} {r.text[:300]}"
        params = www_authenticate_params(r)
        assert params.get("error") == "invalid_token", r.headers
        assert params.get("resource_metadata") == f"{server.base}/.well-known/oauth-protected-resource/api/mcp"


async def test_revoked_key_is_refused(server: KaiCallsServer, tenant: Tenant) -> None:
    """A key revoked from the dashboard session no longer opens /api/mcp."""
    key = tenant.create_key(["calls:read", "agents:read"])
    listing = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    pv = {"MCP-Protocol-Version": HANDSHAKE_VERSION}
    assert post_rpc(server.mcp_url, listing, key=key, headers=pv).status_code == 200
    keys = tenant.session_request("GET", "/api/v1/keys").json()["keys"]
    key_id = next(k["id"] for k in keys if key.startswith(k["prefix"]) and k["is_active"])
    revoked = tenant.session_request("DELETE", "/api/v1/keys", params={"id": key_id})
    assert revoked.status_code in (200, 204), revoked.text
    refused = post_rpc(server.mcp_url, listing, key=key, headers=pv)
    assert refused.status_code == 401, f"a revoked key was accepted: {refused.status_code} {refused.text[:200]}"
    assert www_authenticate_params(refused).get("error") == "invalid_token", refused.headers


# --------------------------------------------------------------------------- 8. OAuth


REDIRECT_URI = "http://127.0.0.1:47823/oauth/callback"  # never listened on: the consent is played


class MemoryTokenStorage:
    """The SDK's TokenStorage protocol, in memory, keeping every token set stored."""

    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client_info: OAuthClientInformationFull | None = None
        self.history: list[OAuthToken] = []

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens
        self.history.append(tokens)

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client_info = client_info


class DashboardConsent:
    """The SDK's redirect and callback handlers, playing a signed-in dashboard user's
    browser: GET the authorization URL with the kc_session cookie, post the consent
    form back with decision=allow, and read code and state from the 303's Location."""

    def __init__(self, tenant: Tenant) -> None:
        self.tenant = tenant
        self.urls: list[str] = []
        self.result: AuthorizationCodeResult | None = None

    async def redirect(self, authorization_url: str) -> None:
        self.urls.append(authorization_url)
        base = self.tenant.base
        async with httpx2.AsyncClient(timeout=30, follow_redirects=False) as http:
            # No session: the sign-in page, coming back here after.
            anonymous = await http.get(authorization_url)
            assert anonymous.status_code == 303, anonymous.text[:300]
            assert urlparse(anonymous.headers["location"]).path == "/login", anonymous.headers
            assert "next=" in anonymous.headers["location"], anonymous.headers

            page = await http.get(authorization_url, headers=self.tenant.cookie_header)
            assert page.status_code == 200, f"consent page: {page.status_code} {page.text[:300]}"
            assert page.headers["content-type"].startswith("text/html"), page.headers
            form = consent_form(page.text)
            inputs = form["inputs"]
            data = {i["name"]: i["value"] for i in inputs if i["type"] == "hidden" and i["name"]}
            businesses = [i for i in inputs if i["type"] == "radio" and i["name"] == "business_id"]
            assert [b["value"] for b in businesses] == [self.tenant.business_id], businesses
            assert businesses[0]["checked"], "the first business is not checked"
            modes = {i["value"]: i["checked"] for i in inputs if i["type"] == "radio" and i["name"] == "mode"}
            assert modes.get("test") is True and "live" in modes, modes
            decisions = {i["value"] for i in inputs if i["name"] == "decision"}
            assert decisions == {"allow", "deny"}, decisions
            data.update(business_id=self.tenant.business_id, mode="test", decision="allow")

            answer = await http.post(
                urljoin(base, form["action"]),
                data=data,
                headers={**self.tenant.cookie_header, "Origin": base},
            )
            assert answer.status_code == 303, f"consent POST: {answer.status_code} {answer.text[:300]}"
            location = answer.headers["location"]
            assert location.startswith(REDIRECT_URI + "?"), location
            query = parse_qs(urlparse(location).query)
            self.result = AuthorizationCodeResult(
                code=query["code"][0], state=query["state"][0], iss=query.get("iss", [None])[0]
            )

    async def callback(self) -> AuthorizationCodeResult:
        assert self.result is not None, "the redirect handler did not run"
        return self.result


def oauth_provider(server: KaiCallsServer, tenant: Tenant, name: str) -> tuple[OAuthClientProvider, MemoryTokenStorage, DashboardConsent]:
    storage = MemoryTokenStorage()
    consent = DashboardConsent(tenant)
    provider = OAuthClientProvider(
        server_url=server.mcp_url,
        client_metadata=OAuthClientMetadata(
            client_name=name,
            redirect_uris=[REDIRECT_URI],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            token_endpoint_auth_method="none",
        ),
        storage=storage,
        redirect_handler=consent.redirect,
        callback_handler=consent.callback,
    )
    return provider, storage, consent


def token_request(server: KaiCallsServer, **form: str) -> httpx2.Response:
    return httpx2.post(f"{server.base}/oauth/token", data=form, timeout=10)


def mcp_tools_list(server: KaiCallsServer, access_token: str) -> httpx2.Response:
    return post_rpc(
        server.mcp_url,
        {"jsonrpc": "2.0", "id": 7, "method": "tools/list", "params": {}},
        key=access_token,
        headers={"MCP-Protocol-Version": HANDSHAKE_VERSION},
    )


@pytest.fixture(scope="module")
def oauth_server(start_server: Any) -> KaiCallsServer:
    """A server whose OAuth access tokens live 2 s, so the SDK must refresh."""
    return start_server("oauth", KAICALLS_OAUTH_ACCESS_TOKEN_SECS="2")


@pytest.fixture(scope="module")
def oauth_tenants(oauth_server: KaiCallsServer) -> dict[str, Tenant]:
    """Three accounts on the OAuth server: A consents, B owns a call A must not see,
    C disconnects its app from the dashboard."""
    return {name: sign_up(oauth_server.base, f"OAuth Business {name}") for name in ("A", "B", "C")}


async def connect_with_oauth(server: KaiCallsServer, tenant: Tenant, name: str) -> tuple[MemoryTokenStorage, str]:
    """A full SDK OAuth flow for `tenant`, then a fresh access token of that grant
    (they live 2 s on this server): the storage, and the token."""
    provider, storage, _ = oauth_provider(server, tenant, name)
    async with http_mcp_client(server.mcp_url, auth=provider) as client:
        await call_ok(client, "list_agents")
    assert storage.client_info is not None and storage.tokens is not None
    r = token_request(
        server,
        grant_type="refresh_token",
        refresh_token=storage.tokens.refresh_token or "",
        client_id=storage.client_info.client_id,
        resource=server.mcp_url,
    )
    assert r.status_code == 200, r.text
    storage.tokens = OAuthToken.model_validate(r.json())
    return storage, storage.tokens.access_token


async def test_oauth_with_the_sdk(oauth_server: KaiCallsServer, oauth_tenants: dict[str, Tenant]) -> None:
    """Dynamic registration, PKCE, consent as a signed-in dashboard user, code
    exchange, automatic refresh; the token is bound to its business and to /api/mcp."""
    server = oauth_server
    a, b = oauth_tenants["A"], oauth_tenants["B"]
    made = b.rest("POST", "/api/v1/calls", json={"agent_id": b.agent_id, "to": ORDINARY_NUMBER})
    assert made.status_code in (200, 201), made.text
    b_call = made.json()["id"]

    provider, storage, consent = oauth_provider(server, a, "kaicalls-mcp-e2e")
    rec = Recorder()
    async with http_mcp_client(server.mcp_url, auth=provider, recorder=rec) as client:
        # Discovery, dynamic registration, PKCE, consent, code exchange.
        assert len(consent.urls) == 1, consent.urls
        auth = parse_qs(urlparse(consent.urls[0]).query)
        assert urlparse(consent.urls[0]).path == "/oauth/authorize"
        assert storage.client_info is not None and storage.client_info.client_id, storage.client_info
        assert auth["client_id"] == [storage.client_info.client_id], auth
        assert auth["response_type"] == ["code"] and auth["code_challenge_method"] == ["S256"], auth
        assert len(auth["code_challenge"][0]) >= 43 and auth["redirect_uri"] == [REDIRECT_URI], auth
        assert auth["resource"] == [server.mcp_url], auth
        paths = [r.url.path for r in rec.requests]
        for path in (
            "/.well-known/oauth-protected-resource/api/mcp",
            "/.well-known/oauth-authorization-server",
            "/oauth/register",
            "/oauth/token",
        ):
            assert path in paths, f"the SDK never requested {path}: {paths}"
        first = storage.tokens
        assert first is not None and first.refresh_token, first
        assert first.expires_in == 2, first

        names = {t.name for t in (await client.list_tools()).tools}
        assert {"list_agents", "make_call", "wait_for_call"} <= names, names
        agents = await call_ok(client, "list_agents")
        assert [ag["id"] for ag in agents["agents"]] == [a.agent_id], agents

        # The access token expires; the SDK refreshes it by itself, without consent.
        before = storage.tokens
        await anyio.sleep(3)
        agents = await call_ok(client, "list_agents")
        assert [ag["id"] for ag in agents["agents"]] == [a.agent_id], agents
        after = storage.tokens
        assert after is not None and after.access_token != before.access_token, "no refresh happened"
        assert len(storage.history) >= 2 and storage.history[0] is first, storage.history
        assert after.refresh_token and after.refresh_token != before.refresh_token, "the refresh token did not rotate"
        assert len(consent.urls) == 1, "the SDK asked for consent again instead of refreshing"
        refreshes = [
            r for r in rec.requests if r.url.path == "/oauth/token" and b"grant_type=refresh_token" in r.content
        ]
        assert refreshes, "no refresh_token grant was sent"

        # Granted for business A: business B's call does not exist.
        result = await client.call_tool("check_call_status", {"call_id": b_call})
        assert_business_error(result, "not_found")
        # Consented in test mode: calls are simulated, in business A.
        placed = await call_ok(client, "make_call", {"agent_id": a.agent_id, "to": fresh_number()})
        assert placed["test_mode"] is True and placed["call"]["business_id"] == a.business_id, placed
        spent_refresh = before.refresh_token
        current_refresh = storage.tokens.refresh_token

    # A fresh token of the same grant (they live 2 s) to check quickly what it may do.
    client_id = storage.client_info.client_id
    r = token_request(
        server, grant_type="refresh_token", refresh_token=current_refresh, client_id=client_id, resource=server.mcp_url
    )
    assert r.status_code == 200, r.text
    fresh = r.json()
    assert fresh["token_type"] == "Bearer" and fresh["expires_in"] == 2, fresh
    assert fresh["refresh_token"] != current_refresh, fresh
    started = time.monotonic()
    works = mcp_tools_list(server, fresh["access_token"])
    assert works.status_code == 200, works.text
    # The REST API does not take MCP tokens.
    rest = httpx2.get(f"{server.base}/api/v1/calls", headers=bearer(fresh["access_token"]), timeout=10)
    assert time.monotonic() - started < 1.5, "too slow to tell a refusal from expiry"
    assert rest.status_code == 401, f"REST accepted an OAuth token: {rest.status_code} {rest.text[:200]}"

    # Rotation: a refresh token already spent no longer works.
    r = token_request(server, grant_type="refresh_token", refresh_token=spent_refresh, client_id=client_id)
    assert r.status_code == 400 and r.json().get("error") == "invalid_grant", r.text


async def test_oauth_token_revocation(oauth_server: KaiCallsServer, oauth_tenants: dict[str, Tenant]) -> None:
    """POST /oauth/revoke (RFC 7009): the revoked token is refused at once."""
    server = oauth_server
    storage, token = await connect_with_oauth(server, oauth_tenants["A"], "kaicalls-mcp-e2e-revoke")
    started = time.monotonic()
    assert mcp_tools_list(server, token).status_code == 200
    revoked = httpx2.post(f"{server.base}/oauth/revoke", data={"token": token}, timeout=10)
    assert revoked.status_code == 200, revoked.text
    refused = mcp_tools_list(server, token)
    assert time.monotonic() - started < 1.5, "too slow to tell revocation from expiry"
    assert refused.status_code == 401, f"a revoked token was accepted: {refused.status_code} {refused.text[:200]}"
    params = www_authenticate_params(refused)
    assert params.get("error") == "invalid_token", refused.headers
    assert params.get("resource_metadata") == f"{server.base}/.well-known/oauth-protected-resource/api/mcp"
    # An unknown token: 200 too (RFC 7009 §2.2).
    assert httpx2.post(f"{server.base}/oauth/revoke", data={"token": "nope"}, timeout=10).status_code == 200


async def test_oauth_app_revoked_from_the_dashboard(oauth_server: KaiCallsServer, oauth_tenants: dict[str, Tenant]) -> None:
    """The Settings page lists the connected app; its Disconnect form ends its tokens."""
    server = oauth_server
    c = oauth_tenants["C"]
    storage, token = await connect_with_oauth(server, c, "kaicalls-mcp-e2e-dashboard")

    settings = c.session_request("GET", "/dashboard/settings")
    assert settings.status_code == 200, settings.status_code
    assert "kaicalls-mcp-e2e-dashboard" in settings.text, "the connected app is not listed on Settings"
    parser = FormParser()
    parser.feed(settings.text)
    forms = [f for f in parser.forms if f["method"] == "post" and "/dashboard/apps/" in f["action"]]
    assert len(forms) == 1 and forms[0]["action"].endswith("/revoke"), [f["action"] for f in parser.forms]
    data = {i["name"]: i["value"] for i in forms[0]["inputs"] if i["name"] and i["type"] == "hidden"}

    started = time.monotonic()
    assert mcp_tools_list(server, token).status_code == 200
    answer = c.session_request(
        "POST", forms[0]["action"], data=data, headers={"Origin": server.base}, follow_redirects=False
    )
    assert answer.status_code == 303, f"{answer.status_code} {answer.text[:300]}"
    refused = mcp_tools_list(server, token)
    assert time.monotonic() - started < 1.5, "too slow to tell revocation from expiry"
    assert refused.status_code == 401, f"a token of a disconnected app was accepted: {refused.status_code}"
    assert storage.tokens is not None and storage.client_info is not None
    r = token_request(
        server,
        grant_type="refresh_token",
        refresh_token=storage.tokens.refresh_token or "",
        client_id=storage.client_info.client_id,
    )
    assert r.status_code == 400 and r.json().get("error") == "invalid_grant", r.text
    after = c.session_request("GET", "/dashboard/settings")
    assert "kaicalls-mcp-e2e-dashboard" not in after.text, "a disconnected app is still listed"


def pkce_pair() -> tuple[str, str]:
    """A PKCE code_verifier and its S256 code_challenge (RFC 7636)."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    return verifier, challenge


def consent(server: KaiCallsServer, tenant: Tenant, client_id: str, challenge: str, decision: str) -> dict[str, list[str]]:
    """GET the consent page as the signed-in user and post `decision`; the redirect's query."""
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT_URI,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "state": f"st-{decision}",
        "scope": "calls:read agents:read",
        "resource": server.mcp_url,
    }
    page = tenant.session_request("GET", "/oauth/authorize", params=params)
    assert page.status_code == 200, page.text[:300]
    form = consent_form(page.text)
    data = {i["name"]: i["value"] for i in form["inputs"] if i["type"] == "hidden" and i["name"]}
    assert data["state"] == f"st-{decision}" and data["client_id"] == client_id, data
    data.update(business_id=tenant.business_id, mode="test", decision=decision)
    answer = tenant.session_request(
        "POST", form["action"], data=data, headers={"Origin": server.base}, follow_redirects=False
    )
    assert answer.status_code == 303, answer.text[:300]
    location = answer.headers["location"]
    assert location.startswith(REDIRECT_URI + "?"), location
    return parse_qs(urlparse(location).query)


async def test_oauth_authorization_server_raw(oauth_server: KaiCallsServer, oauth_tenants: dict[str, Tenant]) -> None:
    """The authorization server without the SDK: registration (public and
    confidential), deny, PKCE, one-time codes, client authentication."""
    server = oauth_server
    a = oauth_tenants["A"]
    reg = {"client_name": "raw e2e", "redirect_uris": [REDIRECT_URI]}
    public = httpx2.post(f"{server.base}/oauth/register", json={**reg, "token_endpoint_auth_method": "none"})
    assert public.status_code == 201, public.text
    assert public.json()["client_id"] and "client_secret" not in public.json(), public.json()
    confidential = httpx2.post(
        f"{server.base}/oauth/register", json={**reg, "token_endpoint_auth_method": "client_secret_basic"}
    )
    assert confidential.status_code == 201 and confidential.json()["client_secret"], confidential.text
    bad = httpx2.post(f"{server.base}/oauth/register", json={"redirect_uris": ["http://example.com/cb"]})
    assert bad.status_code == 400, f"a plain-http non-loopback redirect URI was registered: {bad.text}"

    # Without a session: to the sign-in page first.
    verifier, challenge = pkce_pair()
    anonymous = httpx2.get(
        f"{server.base}/oauth/authorize",
        params={
            "response_type": "code",
            "client_id": public.json()["client_id"],
            "redirect_uri": REDIRECT_URI,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "state": "s",
        },
    )
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login?next="), anonymous.headers

    # Deny: access_denied back at the client, with its state.
    denied = consent(server, a, public.json()["client_id"], challenge, "deny")
    assert denied["error"] == ["access_denied"] and denied["state"] == ["st-deny"], denied
    assert "code" not in denied, denied

    # Allow, then a wrong verifier, then the right one, then the code again.
    allowed = consent(server, a, public.json()["client_id"], challenge, "allow")
    assert allowed["state"] == ["st-allow"] and allowed["iss"] == [server.base], allowed
    code = allowed["code"][0]
    exchange = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "client_id": public.json()["client_id"],
        "resource": server.mcp_url,
    }
    wrong = token_request(server, **exchange, code_verifier=pkce_pair()[0])
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant", wrong.text
    # (A failed exchange does not spend the code.)
    right = token_request(server, **exchange, code_verifier=verifier)
    assert right.status_code == 200, right.text
    tokens = right.json()
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 2 and tokens["refresh_token"], tokens
    assert set(tokens["scope"].split()) == {"calls:read", "agents:read"}, tokens
    # The token holds the granted scopes only: no make_call.
    listed = mcp_tools_list(server, tokens["access_token"])
    assert listed.status_code == 200, listed.text
    names = {t["name"] for t in parse_rpc_response(listed, 7)[0]["result"]["tools"]}
    assert "list_agents" in names and "make_call" not in names and "upsert_lead" not in names, sorted(names)
    again = token_request(server, **exchange, code_verifier=verifier)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant", again.text

    # A confidential client must authenticate (HTTP Basic, as registered).
    cid, secret = confidential.json()["client_id"], confidential.json()["client_secret"]
    verifier, challenge = pkce_pair()
    code = consent(server, a, cid, challenge, "allow")["code"][0]
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI, "code_verifier": verifier}
    no_secret = httpx2.post(f"{server.base}/oauth/token", data={**form, "client_id": cid})
    assert no_secret.status_code == 401 and no_secret.json()["error"] == "invalid_client", no_secret.text
    basic = httpx2.post(f"{server.base}/oauth/token", data=form, auth=(cid, secret))
    assert basic.status_code == 200 and basic.json()["access_token"], basic.text


# --------------------------------------------------------------------------- 9. stdio


async def test_stdio(server: KaiCallsServer, tenant: Tenant, kaicalls_bin: str) -> None:
    """`kaicalls mcp` over stdin/stdout, proxying the running server."""
    faults: list[Exception] = []

    async def on_message(message: Any) -> None:
        # A line on stdout that is not JSON-RPC reaches the session as an exception.
        if isinstance(message, Exception):
            faults.append(message)

    params = StdioServerParameters(
        command=kaicalls_bin,
        args=["mcp"],
        env={"KAICALLS_API_KEY": tenant.test_key, "KAICALLS_BASE_URL": server.base, "RUST_LOG": "info"},
    )
    with tempfile.TemporaryFile("w+") as errlog, unwrapped_errors():
        async with Client(stdio_client(params, errlog=errlog), mode="legacy", message_handler=on_message) as client:
            assert client.protocol_version == HANDSHAKE_VERSION
            assert client.session.initialize_result is not None
            agents = await call_ok(client, "list_agents")
            assert tenant.agent_id in [a["id"] for a in agents["agents"]], agents
            names = {t.name for t in (await client.list_tools()).tools}
            assert CONTRACT_TOOLS <= names, sorted(CONTRACT_TOOLS - names)
            args = {"agent_id": tenant.agent_id, "to": ORDINARY_NUMBER, "idempotency_key": f"stdio-{uuid.uuid4()}"}
            made = await call_ok(client, "make_call", args)
            again = await call_ok(client, "make_call", args)
            assert made["replayed"] is False and again["replayed"] is True, (made, again)
            assert again["call"]["id"] == made["call"]["id"] and made["test_mode"] is True, (made, again)
            done = await wait_until_done(client, made["call"]["id"])
            assert done["call"]["status"] == "completed" and done["call"]["transcript"], done
            bad = await client.call_tool("make_call", {"agent_id": tenant.agent_id, "to": "12345"})
            assert_business_error(bad, "invalid_request", "to")
        errlog.seek(0)
        stderr = errlog.read()
    assert faults == [], f"non-JSON-RPC output on stdout: {faults}\nstderr:\n{stderr[-2000:]}"


# --------------------------------------------------------------------------- 10. 2026-07-28


async def test_stateless_revision_through_the_sdk(server: KaiCallsServer, tenant: Tenant) -> None:
    """mode="auto" (the SDK's default) probes server/discover and adopts 2026-07-28: no
    initialize is sent, every request carries the version in _meta."""
    rec = Recorder()
    async with http_mcp_client(server.mcp_url, headers=bearer(tenant.test_key), mode="auto", recorder=rec) as client:
        assert client.protocol_version == STATELESS_VERSION, client.protocol_version
        discovered = client.session.discover_result
        assert discovered is not None and STATELESS_VERSION in discovered.supported_versions, discovered
        assert discovered.capabilities.tools is not None, discovered
        names = {t.name for t in (await client.list_tools()).tools}
        assert CONTRACT_TOOLS <= names, sorted(CONTRACT_TOOLS - names)
        agents = await call_ok(client, "list_agents")
        assert tenant.agent_id in [a["id"] for a in agents["agents"]], agents
        made = await call_ok(client, "make_call", {"agent_id": tenant.agent_id, "to": ORDINARY_NUMBER})
        done = await wait_until_done(client, made["call"]["id"])
        assert done["call"]["status"] == "completed", done
        bad = await client.call_tool("check_call_status", {"call_id": "call_doesnotexist"})
        assert_business_error(bad, "not_found")
    methods = rec.rpc_methods()
    assert methods[0] == "server/discover" and "initialize" not in methods, methods
    for request, body in rec.rpc_posts():
        assert body["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"] == STATELESS_VERSION, body
        assert request.headers["mcp-protocol-version"] == STATELESS_VERSION

    # A version pin: no probe at all, straight to tools/call.
    rec = Recorder()
    async with http_mcp_client(
        server.mcp_url, headers=bearer(tenant.test_key), mode=STATELESS_VERSION, recorder=rec
    ) as client:
        agents = await call_ok(client, "list_agents")
        assert tenant.agent_id in [a["id"] for a in agents["agents"]], agents
    assert rec.rpc_methods()[0] == "tools/call", rec.rpc_methods()


async def test_stateless_revision_raw(server: KaiCallsServer, tenant: Tenant) -> None:
    """server/discover, tools/list and tools/call at 2026-07-28 as raw JSON-RPC."""
    r = post_rpc(
        server.mcp_url,
        {"jsonrpc": "2.0", "id": 1, "method": "server/discover", "params": {"_meta": stateless_meta()}},
        key=tenant.test_key,
        headers=stateless_headers("server/discover"),
    )
    assert r.status_code == 200, r.text
    assert "mcp-session-id" not in r.headers
    msg, _ = parse_rpc_response(r, 1)
    result = msg["result"]
    assert STATELESS_VERSION in result["supportedVersions"], result
    assert "tools" in result["capabilities"], result

    r = post_rpc(
        server.mcp_url,
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {"_meta": stateless_meta()}},
        key=tenant.test_key,
        headers=stateless_headers("tools/list"),
    )
    assert r.status_code == 200, r.text
    msg, _ = parse_rpc_response(r, 2)
    assert CONTRACT_TOOLS <= {t["name"] for t in msg["result"]["tools"]}, msg

    r = post_rpc(
        server.mcp_url,
        {
            "jsonrpc": "2.0",
            "id": 3,
            "method": "tools/call",
            "params": {"name": "list_agents", "arguments": {"limit": 1}, "_meta": stateless_meta()},
        },
        key=tenant.test_key,
        headers=stateless_headers("tools/call", "list_agents"),
    )
    assert r.status_code == 200, r.text
    # No progress token, so a plain JSON answer.
    assert r.headers["content-type"].startswith("application/json"), r.headers
    msg, _ = parse_rpc_response(r, 3)
    sc = msg["result"]["structuredContent"]
    assert sc["success"] is True and sc["limit"] == 1 and sc["agents"][0]["id"] == tenant.agent_id, sc
    assert msg["result"].get("isError") in (None, False), msg


# --------------------------------------------------------------------------- 11. progress


@pytest.mark.parametrize("mode", ["legacy", STATELESS_VERSION])
async def test_wait_for_call_reports_progress(server: KaiCallsServer, tenant: Tenant, mode: str) -> None:
    """wait_for_call with a progress callback: notifications/progress arrive before the
    result (the SDK puts a progressToken in the request's _meta), at either revision."""
    seen: list[tuple[float, float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((time.monotonic(), progress, total, message))

    async with http_mcp_client(server.mcp_url, headers=bearer(tenant.test_key), mode=mode) as client:
        made = await call_ok(client, "make_call", {"agent_id": tenant.agent_id, "to": NEVER_HANGS_UP})
        call_id = made["call"]["id"]
        result = await client.call_tool(
            "wait_for_call", {"call_id": call_id, "timeout_s": 6}, progress_callback=on_progress
        )
        returned = time.monotonic()
        sc = structured(result)
        assert not result.is_error and sc["done"] is False, sc  # it never hangs up
        await call_ok(client, "end_call", {"call_id": call_id})
    assert seen, "no progress notification arrived"
    assert all(t <= returned for t, *_ in seen)
    progresses = [p for _, p, _, _ in seen]
    assert progresses == sorted(progresses), f"progress must increase: {progresses}"


async def test_progress_is_streamed_as_sse(server: KaiCallsServer, tenant: Tenant) -> None:
    """The same on the wire: with a progressToken the answer is an event stream whose
    notifications/progress come before the response."""
    async with http_mcp_client(server.mcp_url, headers=bearer(tenant.test_key)) as client:
        made = await call_ok(client, "make_call", {"agent_id": tenant.agent_id, "to": NEVER_HANGS_UP})
    call_id = made["call"]["id"]
    try:
        r = post_rpc(
            server.mcp_url,
            {
                "jsonrpc": "2.0",
                "id": 9,
                "method": "tools/call",
                "params": {
                    "name": "wait_for_call",
                    # wait_for_call reports once per 5 s slice of its wait.
                    "arguments": {"call_id": call_id, "timeout_s": 6},
                    "_meta": {"progressToken": "tok-9"},
                },
            },
            key=tenant.test_key,
            headers={"MCP-Protocol-Version": HANDSHAKE_VERSION},
        )
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("text/event-stream"), r.headers
        msg, notes = parse_rpc_response(r, 9)
        progress = [n for n in notes if n["method"] == "notifications/progress"]
        assert progress and all(n["params"]["progressToken"] == "tok-9" for n in progress), notes
        assert msg["result"]["structuredContent"]["done"] is False, msg
    finally:
        tenant.rest("POST", "/api/v1/calls/end", params={"id": call_id})


# --------------------------------------------------------------------------- 12. Accept


async def test_request_without_accept_header(server: KaiCallsServer, tenant: Tenant) -> None:
    """Clients that send no Accept header are served, not refused with 406."""
    r = post_rpc(server.mcp_url, initialize_body(), key=tenant.test_key, accept=None)
    assert "accept" not in r.request.headers
    assert r.status_code == 200, f"{r.status_code} {r.text[:300]}"
    msg, _ = parse_rpc_response(r, 1)
    assert msg["result"]["protocolVersion"] == HANDSHAKE_VERSION, msg

    r = post_rpc(
        server.mcp_url,
        {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "list_agents", "arguments": {}}},
        key=tenant.test_key,
        headers={"MCP-Protocol-Version": HANDSHAKE_VERSION},
        accept=None,
    )
    assert r.status_code == 200, f"{r.status_code} {r.text[:300]}"
    msg, _ = parse_rpc_response(r, 2)
    assert msg["result"]["structuredContent"]["agents"][0]["id"] == tenant.agent_id, msg


async def test_configure_staff_alerts(server: KaiCallsServer, tenant: Tenant) -> None:
    """configure_staff_alerts: a dry run saves nothing; a real one is what the REST
    API then reads; a bad address is a business error naming its parameter."""
    async with http_mcp_client(server.mcp_url, headers=bearer(tenant.test_key)) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        assert "configure_staff_alerts" in names, sorted(names)
        dry = await call_ok(
            client,
            "configure_staff_alerts",
            {"notification_email": "intake@mcp.test", "escalation_rules": ["voicemail"], "dry_run": True},
        )
        assert dry["dry_run"] is True and dry["settings"]["emails"] == ["intake@mcp.test"], dry
        before = tenant.rest("GET", "/api/v1/staff-alerts/settings").json()
        assert before["emails"] == [], before
        saved = await call_ok(
            client,
            "configure_staff_alerts",
            {"emails": ["intake@mcp.test"], "events": ["new_lead", "voicemail"]},
        )
        assert saved["dry_run"] is False, saved
        after = tenant.rest("GET", "/api/v1/staff-alerts/settings").json()
        assert after["emails"] == ["intake@mcp.test"] and after["events"] == ["new_lead", "voicemail"], after
        assert_business_error(
            await client.call_tool("configure_staff_alerts", {"emails": ["not-an-address"]}),
            "invalid_request",
            "emails",
        )
