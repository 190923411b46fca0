// The MCP endpoint (/api/mcp) end to end, driven by the official MCP TypeScript SDK
// (@modelcontextprotocol/sdk, pinned in package.json) against the real `kaicalls`
// binary (fresh SQLite, the built-in simulator at high speed). What a client author
// lives: connect with an API key (Authorization: Bearer, or X-KaiCalls-API-Key), list
// the tools, place a test call and wait for it, read its transcript and recording, end
// a call that never hangs up, replay a make_call by its idempotency_key, be refused
// make_call with a key that lacks calls:write, be told where to authorize without
// credentials, and connect through the SDK's own OAuth flow (dynamic registration,
// PKCE, the dashboard's consent page as the signed-in user, refresh, revocation).
// Raw requests check what the SDK does not send: 2025-06-18 and the stateless 2026-07-28
// revision (server/discover). Last, the same tools over stdio (`kaicalls mcp`, the SDK's
// StdioClientTransport).
//
// The contract the server is held to: issue 11's (transports, OAuth, the tools).
//
// Usage: KAICALLS_BIN=/path/to/kaicalls node --test mcp.test.mjs   (or run.sh BIN)

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { LATEST_PROTOCOL_VERSION, SUPPORTED_PROTOCOL_VERSIONS } from '@modelcontextprotocol/sdk/types.js';

const BIN = process.env.KAICALLS_BIN;
// Simulated seconds per second: an ordinary call ends in a few seconds; +15005550006
// (which never hangs up) is cut at its 600 s max_duration only after 10 s, time enough
// to wait on it (progress notifications) and end it.
const SIM_SPEED = '60';
/** The revisions the server answers `initialize` with (contract, "Transports"). */
const SERVER_REVISIONS = ['2025-11-25', '2025-06-18'];
/** Every tool of the contract, with the scope it needs ('-' = any key). */
const TOOLS = {
  list_agents: 'agents:read',
  get_business_info: 'agents:read',
  list_numbers: 'numbers:read',
  list_recent_calls: 'calls:read',
  check_call_status: 'calls:read',
  get_transcript: 'calls:read',
  get_call_recording: 'calls:read',
  list_leads: 'leads:read',
  get_lead: 'leads:read',
  list_voicemails: 'calls:read',
  get_analytics: 'calls:read',
  get_usage: '-',
  get_balance: '-',
  make_call: 'calls:write',
  end_call: 'calls:write',
  upsert_lead: 'leads:write',
  wait_for_call: 'calls:read',
};
const WRITE_TOOLS = new Set(['make_call', 'end_call', 'upsert_lead']);
const TERMINAL = new Set(['completed', 'failed', 'canceled']);
const REDIRECT_URI = 'http://127.0.0.1:53682/oauth/callback';

// ---------------------------------------------------------------------------
// The server and plain HTTP

/** Starts `kaicalls serve` on a free port with a fresh SQLite database. */
async function startServer(extraEnv = {}) {
  assert.ok(BIN, 'KAICALLS_BIN is the kaicalls binary');
  const dir = mkdtempSync(join(tmpdir(), 'kaicalls-mcp-'));
  const child = spawn(BIN, ['serve'], {
    env: {
      ...process.env,
      KAICALLS_BIND: '127.0.0.1:0',
      KAICALLS_DATABASE_URL: `sqlite://${join(dir, 'k.db')}`,
      KAICALLS_RECORDINGS_DIR: join(dir, 'recordings'),
      KAICALLS_SIM_SPEED: SIM_SPEED,
      RUST_LOG: process.env.RUST_LOG || 'warn',
      ...extraEnv,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stderr.on('data', (d) => { log += d; });
  const url = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`no startup line: ${out}${log}`)), 20000);
    child.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/listening on (http:\/\/[^\s]+)/);
      if (m) { clearTimeout(timer); resolve(m[1].replace(/\/$/, '')); }
    });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`server exited ${code}: ${log}`)); });
  });
  return {
    url,
    mcp: new URL(`${url}/api/mcp`),
    log: () => log,
    stop() {
      child.kill('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** `POST /api/v1/signup`: the account (test key, agent…) and its `kc_session` cookie. */
async function signUp(base, email) {
  const res = await fetch(`${base}/api/v1/signup`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ email, password: 'correct horse battery', business_name: `MCP ${email}`, timezone: 'America/Chicago' }),
  });
  const body = await res.json();
  assert.equal(res.status, 201, `signup: ${JSON.stringify(body)}`);
  assert.match(body.test_key, /^kc_test_/);
  const cookie = res.headers.getSetCookie().map((c) => c.split(';')[0]).find((c) => c.startsWith('kc_session='));
  assert.ok(cookie, 'signup sets the kc_session cookie');
  return { ...body, cookie };
}

async function rest(base, path, { key, cookie, method = 'GET', body } = {}) {
  const headers = {};
  if (key) headers.Authorization = `Bearer ${key}`;
  if (cookie) headers.Cookie = cookie;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(`${base}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = text; }
  return { status: res.status, headers: res.headers, body: json };
}

/** The calls of the key's business to `to` (REST, newest first). */
async function restCallsTo(base, key, to) {
  const res = await rest(base, '/api/v1/calls?limit=100', { key });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.calls.filter((c) => c.to === to);
}

/** A raw JSON-RPC POST to /api/mcp, outside the SDK. */
async function rawMcp(server, headers, message) {
  const res = await fetch(server.mcp, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', ...headers },
    body: JSON.stringify(message),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text };
}

function initializeMessage(protocolVersion) {
  return {
    jsonrpc: '2.0',
    id: 1,
    method: 'initialize',
    params: { protocolVersion, capabilities: {}, clientInfo: { name: 'raw-e2e', version: '0' } },
  };
}

/** Parses a JSON body, or the first `data:` of an SSE body, as the JSON-RPC answer. */
function jsonRpcBody(res) {
  const type = res.headers.get('content-type') || '';
  if (type.startsWith('text/event-stream')) {
    const data = res.text.split('\n').filter((l) => l.startsWith('data:')).map((l) => JSON.parse(l.slice(5)));
    return data.find((m) => 'result' in m || 'error' in m);
  }
  return JSON.parse(res.text);
}

/** `resource_metadata="…"` and the other parameters of a Bearer challenge. */
function bearerChallenge(header) {
  assert.ok(header, 'a WWW-Authenticate header');
  assert.match(header, /^Bearer\b/i, `WWW-Authenticate is a Bearer challenge: ${header}`);
  const params = {};
  for (const m of header.matchAll(/([a-z_]+)="([^"]*)"/gi)) params[m[1]] = m[2];
  return params;
}

// ---------------------------------------------------------------------------
// The SDK

/**
 * A Client connected over StreamableHTTPClientTransport, its tools listed (which also
 * arms the SDK's validation of structuredContent against each tool's outputSchema).
 * Transport errors (e.g. the GET stream the SDK opens after `initialized`, which a
 * stateless server answers 405) are collected in `errors`.
 */
async function connect(server, { headers, authProvider, name = 'kaicalls-mcp-e2e' } = {}) {
  const transport = new StreamableHTTPClientTransport(server.mcp, {
    requestInit: headers ? { headers } : undefined,
    authProvider,
  });
  const client = new Client({ name, version: '1.0.0' });
  const errors = [];
  client.onerror = (e) => errors.push(e);
  await client.connect(transport);
  const { tools } = await client.listTools();
  return { client, transport, errors, tools, byName: new Map(tools.map((t) => [t.name, t])) };
}

/**
 * Calls a tool through the SDK and checks the contract's envelope: structuredContent,
 * and content[0] the text copy of the same JSON.
 */
async function callTool(client, name, args = {}, options) {
  const result = await client.callTool({ name, arguments: args }, undefined, options);
  assert.ok(result.structuredContent && typeof result.structuredContent === 'object', `${name}: structuredContent in ${JSON.stringify(result)}`);
  assert.equal(result.content?.[0]?.type, 'text', `${name}: content[0] is text`);
  assert.deepEqual(JSON.parse(result.content[0].text), result.structuredContent, `${name}: content[0] is the JSON of structuredContent`);
  assert.equal(typeof result.structuredContent.success, 'boolean', `${name}: success is a bool`);
  return result;
}

/** A tool call that must succeed; answers its structuredContent. */
async function ok(client, name, args = {}, options) {
  const result = await callTool(client, name, args, options);
  assert.notEqual(result.isError, true, `${name}(${JSON.stringify(args)}) failed: ${result.content[0].text}`);
  assert.equal(result.structuredContent.success, true, `${name}: success`);
  return result.structuredContent;
}

/** A tool call that must be a business error (isError, success false, code). */
async function businessError(client, name, args) {
  const result = await callTool(client, name, args);
  assert.equal(result.isError, true, `${name}(${JSON.stringify(args)}) is an error: ${result.content[0].text}`);
  const s = result.structuredContent;
  assert.equal(s.success, false);
  assert.equal(typeof s.error, 'string');
  assert.ok(s.error.length > 0);
  assert.equal(typeof s.code, 'string');
  return s;
}

/** wait_for_call until done (each wait at most timeout_s). */
async function waitDone(client, callId, timeout_s = 20, rounds = 6) {
  let waited;
  for (let i = 0; i < rounds; i++) {
    waited = await ok(client, 'wait_for_call', { call_id: callId, timeout_s });
    assert.equal(typeof waited.done, 'boolean');
    assert.equal(waited.call.id, callId);
    if (waited.done) return waited;
    assert.ok(!TERMINAL.has(waited.call.status), `not done, yet ${waited.call.status}`);
  }
  assert.fail(`call ${callId} not done after ${rounds} waits: ${JSON.stringify(waited)}`);
}

async function closeAll(...conns) {
  for (const c of conns) if (c) await c.client.close().catch(() => {});
}

// ---------------------------------------------------------------------------
// OAuth: an in-memory OAuthClientProvider whose "browser" is the dashboard user

const ENTITIES = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", '#39': "'" };
function unescapeHtml(s) {
  return s.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+|#39);/gi, (m, e) => {
    if (e[0] === '#') return String.fromCodePoint(e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10));
    return ENTITIES[e.toLowerCase()] ?? m;
  });
}

function attributes(tag) {
  const attrs = {};
  for (const m of tag.replace(/^<\w+/, '').matchAll(/([\w:-]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?/g)) {
    attrs[m[1].toLowerCase()] = unescapeHtml(m[2] ?? m[3] ?? m[4] ?? '');
  }
  return attrs;
}

/** The forms of a page: action, method, inputs and buttons (their attributes). */
function forms(html) {
  return [...html.matchAll(/<form\b[^>]*>[\s\S]*?<\/form>/gi)].map(([form]) => {
    const attrs = attributes(form.match(/^<form\b[^>]*>/i)[0]);
    return {
      action: attrs.action,
      method: (attrs.method || 'get').toLowerCase(),
      inputs: [...form.matchAll(/<input\b[^>]*>/gi)].map(([t]) => attributes(t)),
      buttons: [...form.matchAll(/<button\b[^>]*>/gi)].map(([t]) => attributes(t)),
    };
  });
}

/**
 * Plays the user at the consent page: GET the authorization URL with the dashboard
 * session, fill the form (hidden inputs, the checked business, `mode`, the decision)
 * and POST it back. Answers the 303's Location.
 */
async function consent(base, authorizationUrl, cookie, { decision = 'allow', mode = 'test' } = {}) {
  const page = await fetch(authorizationUrl, { headers: { Cookie: cookie }, redirect: 'manual' });
  const html = await page.text();
  assert.equal(page.status, 200, `consent page: ${page.status} ${html.slice(0, 300)}`);
  assert.match(page.headers.get('content-type') || '', /^text\/html/);
  const form = forms(html).find((f) => f.action === '/oauth/authorize' && f.method === 'post');
  assert.ok(form, `a <form method="post" action="/oauth/authorize"> in ${html}`);
  const fields = new URLSearchParams();
  for (const input of form.inputs.filter((i) => i.type === 'hidden')) fields.append(input.name, input.value);
  const businesses = form.inputs.filter((i) => i.type === 'radio' && i.name === 'business_id');
  assert.ok(businesses.length >= 1, 'a business_id radio');
  assert.ok('checked' in businesses[0], 'the first business is checked');
  fields.append('business_id', businesses.find((b) => 'checked' in b).value);
  const modes = form.inputs.filter((i) => i.type === 'radio' && i.name === 'mode');
  assert.deepEqual(modes.map((m) => m.value).sort(), ['live', 'test'], 'mode radios: test and live');
  assert.equal(modes.find((m) => 'checked' in m)?.value, 'test', 'test mode is checked');
  fields.append('mode', mode);
  const decisions = form.buttons.filter((b) => b.name === 'decision').map((b) => b.value).sort();
  assert.deepEqual(decisions, ['allow', 'deny'], 'allow and deny buttons');
  fields.append('decision', decision);
  const posted = await fetch(new URL(form.action, base), {
    method: 'POST',
    headers: { Cookie: cookie, Origin: base, 'Content-Type': 'application/x-www-form-urlencoded' },
    body: fields,
    redirect: 'manual',
  });
  const text = await posted.text();
  assert.equal(posted.status, 303, `consent POST: ${posted.status} ${text.slice(0, 300)}`);
  return new URL(posted.headers.get('location'));
}

class MemoryOAuthProvider {
  constructor({ base, cookie, confidential = false, name = 'KaiCalls MCP e2e (TypeScript SDK)' }) {
    this.base = base;
    this.name = name;
    this.cookie = cookie;
    this.confidential = confidential;
    this.saved = { client: undefined, tokens: undefined, verifier: undefined };
    this.tokenHistory = [];
    this.authorizationUrls = [];
    this.code = undefined;
    this._state = undefined;
  }

  get redirectUrl() { return REDIRECT_URI; }

  get clientMetadata() {
    return {
      client_name: this.name,
      redirect_uris: [REDIRECT_URI],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      // Public client (PKCE only), or the RFC 7591 default: a secret, sent with Basic.
      ...(this.confidential ? {} : { token_endpoint_auth_method: 'none' }),
    };
  }

  state() {
    this._state = randomBytes(16).toString('hex');
    return this._state;
  }

  clientInformation() { return this.saved.client; }
  saveClientInformation(info) { this.saved.client = info; }
  tokens() { return this.saved.tokens; }
  saveTokens(tokens) { this.saved.tokens = tokens; this.tokenHistory.push(tokens); }
  saveCodeVerifier(v) { this.saved.verifier = v; }
  codeVerifier() {
    assert.ok(this.saved.verifier, 'a saved code verifier');
    return this.saved.verifier;
  }

  /** The "browser": without a session the server sends the user to sign in; with one, consent. */
  async redirectToAuthorization(url) {
    this.authorizationUrls.push(url);
    const anonymous = await fetch(url, { redirect: 'manual' });
    await anonymous.text();
    assert.equal(anonymous.status, 303, 'authorize without a session: 303 to the sign-in page');
    const login = new URL(anonymous.headers.get('location'), this.base);
    assert.equal(login.pathname, '/login');
    assert.ok(login.searchParams.get('next')?.startsWith('/oauth/authorize'), `next= leads back: ${login}`);
    const back = await consent(this.base, url, this.cookie);
    assert.equal(`${back.origin}${back.pathname}`, REDIRECT_URI, `back to the redirect_uri: ${back}`);
    assert.equal(back.searchParams.get('state'), this._state, 'state is echoed');
    assert.equal(back.searchParams.get('error'), null, `no error: ${back}`);
    this.code = back.searchParams.get('code');
    assert.ok(this.code, `a code in ${back}`);
  }
}

/** The SDK's OAuth flow to the end: 401, discovery, registration, consent, code, token, reconnect. */
async function oauthConnect(server, provider) {
  const first = new StreamableHTTPClientTransport(server.mcp, { authProvider: provider });
  const client = new Client({ name: 'kaicalls-mcp-e2e-oauth', version: '1.0.0' });
  await assert.rejects(client.connect(first), UnauthorizedError, 'the first connect needs the user');
  assert.ok(provider.code, 'the consent answered a code');
  await first.finishAuth(provider.code);
  assert.ok(provider.tokens()?.access_token, 'finishAuth saved tokens');
  return connect(server, { authProvider: provider, name: 'kaicalls-mcp-e2e-oauth' });
}

// ---------------------------------------------------------------------------
// The tests

let server;
let account;
let bearer; // connected with Authorization: Bearer <test key>
let header; // connected with X-KaiCalls-API-Key

before(async () => {
  server = await startServer();
  account = await signUp(server.url, `mcp-${Date.now()}@example.com`);
});

after(async () => {
  await closeAll(bearer, header);
  server?.stop();
});

test('connects with an API key in either header; tools/list has the contract tools', { timeout: 60000 }, async () => {
  assert.equal(LATEST_PROTOCOL_VERSION, '2025-11-25', 'the SDK offers 2025-11-25 in initialize');
  bearer = await connect(server, { headers: { Authorization: `Bearer ${account.test_key}` } });
  header = await connect(server, { headers: { 'X-KaiCalls-API-Key': account.test_key } });

  for (const conn of [bearer, header]) {
    // The SDK offered its latest revision, which the server speaks: that one is agreed.
    assert.equal(conn.transport.protocolVersion, LATEST_PROTOCOL_VERSION);
    assert.ok(SERVER_REVISIONS.includes(conn.transport.protocolVersion));
    const info = conn.client.getServerVersion();
    assert.equal(typeof info?.name, 'string', `serverInfo: ${JSON.stringify(info)}`);
    assert.ok(info.name.length > 0);
    assert.equal(typeof info.version, 'string');
    assert.ok(conn.client.getServerCapabilities()?.tools, 'the tools capability');
    assert.equal(conn.transport.sessionId, undefined, 'stateless: no Mcp-Session-Id');

    // The test key has every scope: every tool of the contract is listed.
    const names = conn.tools.map((t) => t.name);
    for (const name of Object.keys(TOOLS)) assert.ok(conn.byName.has(name), `${name} in tools/list: ${names}`);
    assert.equal(new Set(names).size, names.length, 'no tool twice');
    for (const tool of conn.tools) {
      assert.equal(tool.inputSchema?.type, 'object', `${tool.name}: inputSchema`);
      assert.equal(tool.outputSchema?.type, 'object', `${tool.name}: outputSchema`);
      assert.equal(typeof tool.description, 'string', `${tool.name}: description`);
      for (const hint of ['readOnlyHint', 'destructiveHint', 'idempotentHint', 'openWorldHint']) {
        assert.equal(typeof tool.annotations?.[hint], 'boolean', `${tool.name}: annotations.${hint}`);
      }
      if (TOOLS[tool.name]) {
        assert.equal(tool.annotations.readOnlyHint, !WRITE_TOOLS.has(tool.name), `${tool.name}: readOnlyHint`);
      }
    }
    const make = conn.byName.get('make_call');
    assert.deepEqual([...make.inputSchema.required].sort(), ['agent_id', 'to']);
    for (const p of ['agent_id', 'to', 'name', 'context', 'first_message', 'lead_id', 'idempotency_key']) {
      assert.ok(make.inputSchema.properties?.[p], `make_call input ${p}`);
    }
    assert.deepEqual(conn.byName.get('wait_for_call').inputSchema.required, ['call_id']);
    assert.ok(conn.byName.get('wait_for_call').inputSchema.properties.timeout_s);
    assert.ok(conn.byName.get('list_agents').outputSchema.properties?.agents, 'list_agents outputs agents');
    assert.ok(make.outputSchema.properties?.call, 'make_call outputs call');
  }
  assert.deepEqual(bearer.tools, header.tools, 'the same key lists the same tools in either header');
  assert.deepEqual(bearer.errors, [], 'no transport error');
  assert.deepEqual(header.errors, [], 'no transport error');
});

test('raw protocol: 2025-06-18 is agreed, an unknown revision gets a supported one, JSON answers', { timeout: 30000 }, async () => {
  const auth = { Authorization: `Bearer ${account.test_key}` };
  const older = await rawMcp(server, auth, initializeMessage('2025-06-18'));
  assert.equal(older.status, 200, older.text);
  assert.match(older.headers.get('content-type'), /^application\/json/);
  assert.equal(older.headers.get('mcp-session-id'), null, 'stateless: no Mcp-Session-Id');
  assert.equal(jsonRpcBody(older).result.protocolVersion, '2025-06-18');
  const unknown = await rawMcp(server, auth, initializeMessage('1999-01-01'));
  assert.equal(unknown.status, 200, unknown.text);
  const agreed = jsonRpcBody(unknown).result.protocolVersion;
  assert.ok(SERVER_REVISIONS.includes(agreed), `a revision the server speaks: ${agreed}`);
  assert.ok(SUPPORTED_PROTOCOL_VERSIONS.includes(agreed), 'and one the SDK speaks');
});

test('raw protocol 2026-07-28 (the SDK does not speak it yet): server/discover, tools without initialize', { timeout: 30000 }, async () => {
  const V = '2026-07-28';
  const meta = {
    'io.modelcontextprotocol/protocolVersion': V,
    'io.modelcontextprotocol/clientInfo': { name: 'raw-e2e', version: '0' },
    'io.modelcontextprotocol/clientCapabilities': {},
  };
  const headers = (method, name) => ({
    Authorization: `Bearer ${account.test_key}`,
    'MCP-Protocol-Version': V,
    'Mcp-Method': method,
    ...(name ? { 'Mcp-Name': name } : {}),
  });
  const discover = await rawMcp(server, headers('server/discover'), { jsonrpc: '2.0', id: 1, method: 'server/discover', params: { _meta: meta } });
  assert.equal(discover.status, 200, discover.text);
  const found = jsonRpcBody(discover).result;
  for (const v of [V, ...SERVER_REVISIONS]) assert.ok(found.supportedVersions.includes(v), `${v} in ${found.supportedVersions}`);
  assert.ok(found.capabilities.tools, 'the tools capability');
  assert.equal(found._meta['io.modelcontextprotocol/serverInfo'].name, bearer.client.getServerVersion().name);

  const listed = await rawMcp(server, headers('tools/list'), { jsonrpc: '2.0', id: 2, method: 'tools/list', params: { _meta: meta } });
  assert.equal(listed.status, 200, listed.text);
  assert.deepEqual(jsonRpcBody(listed).result.tools.map((t) => t.name), bearer.tools.map((t) => t.name), 'the same tools as with initialize');

  const called = await rawMcp(server, headers('tools/call', 'list_agents'), { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'list_agents', arguments: {}, _meta: meta } });
  assert.equal(called.status, 200, called.text);
  const result = jsonRpcBody(called).result;
  assert.equal(result.structuredContent.success, true);
  assert.ok(result.structuredContent.agents.some((a) => a.id === account.agent_id));
  assert.equal(called.headers.get('mcp-session-id'), null, 'stateless: no Mcp-Session-Id');

  // The routing headers must be there, and agree with the body.
  const headless = await rawMcp(server, { Authorization: `Bearer ${account.test_key}`, 'MCP-Protocol-Version': V }, { jsonrpc: '2.0', id: 4, method: 'tools/list', params: { _meta: meta } });
  assert.equal(headless.status, 400, headless.text);
  const mismatched = await rawMcp(server, headers('tools/call', 'get_balance'), { jsonrpc: '2.0', id: 5, method: 'tools/call', params: { name: 'list_agents', arguments: {}, _meta: meta } });
  assert.equal(mismatched.status, 400, mismatched.text);
  assert.ok(jsonRpcBody(mismatched).error, 'a JSON-RPC error');
});

test('the story with a test key: agents, a call, its transcript and recording; end_call', { timeout: 120000 }, async () => {
  const c = bearer.client;
  const agents = await ok(c, 'list_agents');
  assert.ok(Array.isArray(agents.agents));
  const kai = agents.agents.find((a) => a.id === account.agent_id);
  assert.ok(kai, `the sign-up's agent in ${JSON.stringify(agents.agents)}`);
  assert.equal(kai.name, 'Kai');
  assert.equal(agents.count, agents.agents.length);
  assert.equal(agents.limit, 50);
  assert.equal(agents.offset, 0);
  assert.equal(agents.has_more, false);

  const made = await ok(c, 'make_call', { agent_id: kai.id, to: '+14155550123', name: 'Jane Story', context: 'Confirm Tuesday 2pm' });
  assert.equal(made.replayed, false);
  assert.equal(made.test_mode, true, 'a test key places test calls');
  assert.match(made.call.id, /\S/);
  assert.equal(made.call.to, '+14155550123');
  assert.equal(made.call.agent_id, kai.id);
  assert.equal(made.call.business_id, account.business_id);
  const callId = made.call.id;

  const waited = await waitDone(c, callId);
  assert.equal(waited.call.status, 'completed', JSON.stringify(waited));
  assert.ok(waited.call.transcript && waited.call.transcript.length > 0, `a transcript: ${JSON.stringify(waited.call)}`);
  assert.equal(typeof waited.message, 'string');

  const status = await ok(c, 'check_call_status', { call_id: callId });
  assert.equal(status.call.id, callId);
  assert.equal(status.call.status, 'completed');
  assert.ok(status.call.duration_seconds > 0, `duration: ${status.call.duration_seconds}`);

  const transcript = await ok(c, 'get_transcript', { call_id: callId });
  assert.equal(transcript.call.id, callId);
  assert.equal(transcript.call.status, 'completed');
  assert.equal(transcript.transcript_available, true);
  assert.equal(typeof transcript.transcript, 'string');
  assert.ok(transcript.transcript.length > 0, 'the transcript is not empty');
  assert.equal(transcript.transcript_truncated, false);
  assert.equal(transcript.transcript_length, transcript.transcript.length);

  const recording = await ok(c, 'get_call_recording', { call_id: callId });
  assert.equal(recording.recording_available, true, JSON.stringify(recording));
  assert.equal(recording.call.id, callId);
  const audio = await fetch(recording.call.recording_url);
  const bytes = Buffer.from(await audio.arrayBuffer());
  assert.equal(audio.status, 200, `GET ${recording.call.recording_url}`);
  assert.match(audio.headers.get('content-type') || '', /^audio\//);
  assert.ok(bytes.length > 44, `audio bytes: ${bytes.length}`);

  const recent = await ok(c, 'list_recent_calls', { limit: 5 });
  assert.ok(recent.calls.some((x) => x.id === callId), 'list_recent_calls has the call');

  // A call that never hangs up, ended by end_call.
  const hold = await ok(c, 'make_call', { agent_id: kai.id, to: '+15005550006', name: 'Never Hangs Up' });
  const holdId = hold.call.id;
  const notYet = await ok(c, 'wait_for_call', { call_id: holdId, timeout_s: 2 });
  assert.equal(notYet.done, false, `still going after 2 s: ${JSON.stringify(notYet)}`);
  const ended = await ok(c, 'end_call', { call_id: holdId });
  assert.equal(ended.call.id, holdId);
  const over = await waitDone(c, holdId, 10, 3);
  assert.ok(TERMINAL.has(over.call.status), `ended: ${over.call.status}`);
  assert.deepEqual(bearer.errors, [], 'no transport error');
});

test('wait_for_call with a progress token sends notifications/progress while it waits', { timeout: 60000 }, async () => {
  const c = header.client;
  const hold = await ok(c, 'make_call', { agent_id: account.agent_id, to: '+15005550006', name: 'Progress' });
  const progress = [];
  // Long enough for a notification or two (the server may report every few seconds),
  // short of the simulated call's end.
  const waited = await ok(c, 'wait_for_call', { call_id: hold.call.id, timeout_s: 7 }, { onprogress: (p) => progress.push(p) });
  assert.equal(waited.call.id, hold.call.id);
  assert.ok(progress.length >= 1, `at least one progress notification while waiting 7 s: ${JSON.stringify(waited)}`);
  for (const p of progress) assert.equal(typeof p.progress, 'number');
  for (let i = 1; i < progress.length; i++) assert.ok(progress[i].progress > progress[i - 1].progress, 'progress increases');
  await ok(c, 'end_call', { call_id: hold.call.id });
  assert.deepEqual(header.errors, [], 'no transport error');
});

test('make_call twice with one idempotency_key places one call', { timeout: 60000 }, async () => {
  const c = bearer.client;
  const to = '+14155550142';
  const args = { agent_id: account.agent_id, to, name: 'Idem Potent', idempotency_key: `mcp-e2e-${randomBytes(6).toString('hex')}` };
  const first = await ok(c, 'make_call', args);
  const second = await ok(c, 'make_call', args);
  assert.equal(first.replayed, false);
  assert.equal(second.replayed, true);
  assert.equal(second.call.id, first.call.id);
  const calls = await restCallsTo(server.url, account.test_key, to);
  assert.deepEqual(calls.map((x) => x.id), [first.call.id], 'REST lists one call to that number');
});

test('business errors are tool results: a bad number, another tenant\'s call', { timeout: 60000 }, async () => {
  const bad = await businessError(bearer.client, 'make_call', { agent_id: account.agent_id, to: 'not a number' });
  assert.equal(bad.code, 'invalid_request');
  assert.equal(bad.param, 'to');

  const made = await ok(bearer.client, 'make_call', { agent_id: account.agent_id, to: '+14155550166' });
  const other = await signUp(server.url, `other-${Date.now()}@example.com`);
  const stranger = await connect(server, { headers: { Authorization: `Bearer ${other.test_key}` } });
  try {
    const missing = await businessError(stranger.client, 'check_call_status', { call_id: made.call.id });
    assert.equal(missing.code, 'not_found');
  } finally {
    await closeAll(stranger);
  }
});

test('a key without calls:write: no make_call listed, calling it fails, no call placed', { timeout: 60000 }, async () => {
  const created = await rest(server.url, '/api/v1/keys', {
    cookie: account.cookie,
    method: 'POST',
    body: { name: 'MCP read-only', mode: 'test', scopes: ['calls:read', 'agents:read'] },
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const key = created.body.key;
  const conn = await connect(server, { headers: { Authorization: `Bearer ${key}` } });
  try {
    const names = conn.tools.map((t) => t.name).sort();
    const expected = Object.entries(TOOLS)
      .filter(([, scope]) => scope === '-' || scope === 'calls:read' || scope === 'agents:read')
      .map(([name]) => name).sort();
    assert.deepEqual(names, expected, 'exactly the tools its scopes allow');
    assert.ok(!names.includes('make_call'));
    assert.ok(!names.includes('end_call'));

    // Still allowed: reading.
    const agents = await ok(conn.client, 'list_agents');
    assert.ok(agents.agents.some((a) => a.id === account.agent_id));

    const to = '+14155550188';
    let result;
    let error;
    try {
      result = await conn.client.callTool({ name: 'make_call', arguments: { agent_id: account.agent_id, to } });
    } catch (e) {
      error = e;
    }
    assert.ok(error || result?.isError === true, `make_call is refused: ${JSON.stringify(result)}`);
    if (result) assert.equal(result.structuredContent?.success, false);
    assert.deepEqual(await restCallsTo(server.url, account.test_key, to), [], 'no call was placed');
    assert.deepEqual(conn.errors, [], 'no transport error');
  } finally {
    await closeAll(conn);
  }

  // Revoked, the key is refused at once: 401 invalid_token.
  const revoked = await rest(server.url, `/api/v1/keys?id=${encodeURIComponent(created.body.id)}`, { cookie: account.cookie, method: 'DELETE' });
  assert.equal(revoked.status, 200, JSON.stringify(revoked.body));
  const refused = await rawMcp(server, { Authorization: `Bearer ${key}` }, initializeMessage(LATEST_PROTOCOL_VERSION));
  assert.equal(refused.status, 401, refused.text);
  assert.equal(bearerChallenge(refused.headers.get('www-authenticate')).error, 'invalid_token');
});

test('no credentials: 401 pointing at the protected-resource metadata; the OAuth metadata', { timeout: 30000 }, async () => {
  const res = await rawMcp(server, {}, initializeMessage(LATEST_PROTOCOL_VERSION));
  assert.equal(res.status, 401, res.text);
  const prmUrl = `${server.url}/.well-known/oauth-protected-resource/api/mcp`;
  const challenge = bearerChallenge(res.headers.get('www-authenticate'));
  assert.equal(challenge.resource_metadata, prmUrl);

  const bad = await rawMcp(server, { 'X-KaiCalls-API-Key': 'kc_test_thisisnotakeythisisnotakey000000' }, initializeMessage(LATEST_PROTOCOL_VERSION));
  assert.equal(bad.status, 401, bad.text);
  const badChallenge = bearerChallenge(bad.headers.get('www-authenticate'));
  assert.equal(badChallenge.error, 'invalid_token');
  assert.equal(badChallenge.resource_metadata, prmUrl);

  for (const url of [prmUrl, `${server.url}/.well-known/oauth-protected-resource`]) {
    const prm = await fetch(url);
    assert.equal(prm.status, 200, url);
    const meta = await prm.json();
    assert.equal(meta.resource, `${server.url}/api/mcp`, url);
    assert.deepEqual(meta.authorization_servers, [server.url]);
    assert.deepEqual(meta.bearer_methods_supported, ['header']);
    assert.ok(meta.scopes_supported.includes('calls:write'), `scopes_supported: ${meta.scopes_supported}`);
  }
  const as = await (await fetch(`${server.url}/.well-known/oauth-authorization-server`)).json();
  assert.equal(as.issuer, server.url);
  assert.equal(as.authorization_endpoint, `${server.url}/oauth/authorize`);
  assert.equal(as.token_endpoint, `${server.url}/oauth/token`);
  assert.equal(as.registration_endpoint, `${server.url}/oauth/register`);
  assert.equal(as.revocation_endpoint, `${server.url}/oauth/revoke`);
  assert.deepEqual(as.code_challenge_methods_supported, ['S256']);
  assert.ok(as.response_types_supported?.includes('code'), 'response_types_supported (RFC 8414: required; the SDK reads it)');
  for (const g of ['authorization_code', 'refresh_token']) assert.ok(as.grant_types_supported.includes(g), g);
  for (const m of ['none', 'client_secret_post', 'client_secret_basic']) assert.ok(as.token_endpoint_auth_methods_supported.includes(m), m);
});

test('OAuth through the SDK: registration, consent as the dashboard user, token; the tools work', { timeout: 60000 }, async () => {
  const provider = new MemoryOAuthProvider({ base: server.url, cookie: account.cookie });
  const conn = await oauthConnect(server, provider);
  try {
    // What the SDK sent the user to.
    const url = provider.authorizationUrls[0];
    assert.equal(`${url.origin}${url.pathname}`, `${server.url}/oauth/authorize`);
    assert.equal(url.searchParams.get('response_type'), 'code');
    assert.equal(url.searchParams.get('code_challenge_method'), 'S256');
    assert.equal(url.searchParams.get('resource'), `${server.url}/api/mcp`);
    assert.equal(url.searchParams.get('client_id'), provider.saved.client.client_id);
    assert.equal(provider.saved.client.client_secret, undefined, 'a public client has no secret');

    const tokens = provider.tokens();
    assert.equal(tokens.token_type.toLowerCase(), 'bearer');
    assert.ok(tokens.expires_in > 0);
    assert.ok(tokens.refresh_token, 'a refresh token');
    assert.equal(typeof tokens.scope, 'string');

    assert.equal(conn.transport.protocolVersion, LATEST_PROTOCOL_VERSION);
    for (const name of ['list_agents', 'make_call', 'wait_for_call']) assert.ok(conn.byName.has(name), `${name} with the token`);
    const agents = await ok(conn.client, 'list_agents');
    assert.ok(agents.agents.some((a) => a.id === account.agent_id), 'the consented business\'s agent');
    const info = await ok(conn.client, 'get_business_info');
    assert.equal(info.business.id, account.business_id);
    assert.deepEqual(conn.errors, [], 'no transport error');

    // The token is for /api/mcp only: the REST API refuses it.
    const restRefused = await rest(server.url, '/api/v1/agents', { key: tokens.access_token });
    assert.equal(restRefused.status, 401, JSON.stringify(restRefused.body));

    // Revoked (RFC 7009), it is refused at once.
    const revoke = await fetch(`${server.url}/oauth/revoke`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: tokens.access_token, client_id: provider.saved.client.client_id }),
    });
    await revoke.text();
    assert.equal(revoke.status, 200);
    const refused = await rawMcp(server, { Authorization: `Bearer ${tokens.access_token}` }, initializeMessage(LATEST_PROTOCOL_VERSION));
    assert.equal(refused.status, 401, refused.text);
    assert.equal(bearerChallenge(refused.headers.get('www-authenticate')).error, 'invalid_token');
  } finally {
    await closeAll(conn);
  }

  // A second app, connected the same way, then revoked from the dashboard's Settings
  // page ("connected apps"): its token is refused at once.
  const second = new MemoryOAuthProvider({ base: server.url, cookie: account.cookie, name: 'Second app (e2e)' });
  const conn2 = await oauthConnect(server, second);
  try {
    await ok(conn2.client, 'list_agents');
    const token = second.tokens().access_token;
    const settings = await fetch(`${server.url}/dashboard/settings`, { headers: { Cookie: account.cookie } });
    const html = await settings.text();
    assert.equal(settings.status, 200);
    assert.ok(html.includes('Second app (e2e)'), 'Settings names the connected app');
    const revokeForms = forms(html).filter((f) => /^\/dashboard\/apps\/[^/]+\/revoke$/.test(f.action || ''));
    assert.ok(revokeForms.length >= 1, 'a connected app with a revoke form on Settings');
    for (const form of revokeForms) {
      assert.equal(form.method, 'post');
      const fields = new URLSearchParams();
      for (const input of form.inputs.filter((i) => i.type === 'hidden')) fields.append(input.name, input.value);
      const revoked = await fetch(new URL(form.action, server.url), {
        method: 'POST',
        headers: { Cookie: account.cookie, Origin: server.url, 'Content-Type': 'application/x-www-form-urlencoded' },
        body: fields,
        redirect: 'manual',
      });
      const text = await revoked.text();
      assert.ok(revoked.status === 303 || revoked.status === 200, `revoke ${form.action}: ${revoked.status} ${text.slice(0, 200)}`);
    }
    const refused = await rawMcp(server, { Authorization: `Bearer ${token}` }, initializeMessage(LATEST_PROTOCOL_VERSION));
    assert.equal(refused.status, 401, refused.text);
    assert.equal(bearerChallenge(refused.headers.get('www-authenticate')).error, 'invalid_token');
    const settingsAfter = await (await fetch(`${server.url}/dashboard/settings`, { headers: { Cookie: account.cookie } })).text();
    assert.equal(forms(settingsAfter).filter((f) => /^\/dashboard\/apps\/[^/]+\/revoke$/.test(f.action || '')).length, 0, 'no connected app left');
  } finally {
    await closeAll(conn2);
  }
});

test('OAuth: deny answers access_denied', { timeout: 30000 }, async () => {
  const provider = new MemoryOAuthProvider({ base: server.url, cookie: account.cookie });
  provider.redirectToAuthorization = async function (url) {
    const back = await consent(server.url, url, account.cookie, { decision: 'deny' });
    assert.equal(`${back.origin}${back.pathname}`, REDIRECT_URI);
    assert.equal(back.searchParams.get('error'), 'access_denied');
    assert.equal(back.searchParams.get('code'), null);
    assert.equal(back.searchParams.get('state'), this._state);
    this.denied = true;
  };
  const transport = new StreamableHTTPClientTransport(server.mcp, { authProvider: provider });
  const client = new Client({ name: 'kaicalls-mcp-e2e-deny', version: '1.0.0' });
  await assert.rejects(client.connect(transport), UnauthorizedError);
  assert.equal(provider.denied, true);
});

test('OAuth: a confidential client; an expired access token is refreshed by the SDK, the old refresh token is spent', { timeout: 90000 }, async (t) => {
  const short = await startServer({ KAICALLS_OAUTH_ACCESS_TOKEN_SECS: '2' });
  t.after(() => short.stop());
  const owner = await signUp(short.url, `refresh-${Date.now()}@example.com`);
  const provider = new MemoryOAuthProvider({ base: short.url, cookie: owner.cookie, confidential: true });
  const conn = await oauthConnect(short, provider);
  try {
    assert.ok(provider.saved.client.client_secret, 'a confidential client has a secret');
    const first = provider.tokens();
    assert.equal(first.expires_in, 2);
    await ok(conn.client, 'list_agents');

    await new Promise((r) => setTimeout(r, 3000));
    // The server answers 401; the SDK refreshes and sends again.
    const agents = await ok(conn.client, 'list_agents');
    assert.ok(agents.agents.some((a) => a.id === owner.agent_id));
    const second = provider.tokens();
    assert.notEqual(second.access_token, first.access_token, 'a new access token');
    assert.ok(second.refresh_token, 'a new refresh token');
    assert.notEqual(second.refresh_token, first.refresh_token, 'the refresh token rotated');

    const { client_id, client_secret } = provider.saved.client;
    const reuse = await fetch(`${short.url}/oauth/token`, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/x-www-form-urlencoded',
        Authorization: `Basic ${Buffer.from(`${encodeURIComponent(client_id)}:${encodeURIComponent(client_secret)}`).toString('base64')}`,
      },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: first.refresh_token, resource: `${short.url}/api/mcp` }),
    });
    const body = await reuse.json();
    assert.equal(reuse.status, 400, JSON.stringify(body));
    assert.equal(body.error, 'invalid_grant');

    assert.deepEqual(conn.errors, [], 'no transport error');
  } finally {
    await closeAll(conn);
  }
});

test('stdio: `kaicalls mcp` with KAICALLS_API_KEY and KAICALLS_BASE_URL serves the same tools', { timeout: 60000 }, async () => {
  const transport = new StdioClientTransport({
    command: BIN,
    args: ['mcp'],
    env: { KAICALLS_API_KEY: account.test_key, KAICALLS_BASE_URL: server.url, RUST_LOG: 'warn' },
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr.on('data', (d) => { stderr += d; });
  const client = new Client({ name: 'kaicalls-mcp-e2e-stdio', version: '1.0.0' });
  const errors = [];
  client.onerror = (e) => errors.push(e);
  try {
    await client.connect(transport);
    assert.equal(client.getServerVersion()?.name, bearer.client.getServerVersion().name, 'the same server');
    const { tools } = await client.listTools();
    for (const name of Object.keys(TOOLS)) assert.ok(tools.some((t) => t.name === name), `${name} over stdio`);
    const agents = await ok(client, 'list_agents');
    assert.ok(agents.agents.some((a) => a.id === account.agent_id));
    const made = await ok(client, 'make_call', { agent_id: account.agent_id, to: '+14155550155', name: 'Stdio Caller' });
    assert.equal(made.test_mode, true);
    const waited = await waitDone(client, made.call.id);
    assert.equal(waited.call.status, 'completed');
    const calls = await restCallsTo(server.url, account.test_key, '+14155550155');
    assert.deepEqual(calls.map((x) => x.id), [made.call.id], 'the call is the server\'s');
    assert.deepEqual(errors, [], `no transport error (stderr: ${stderr})`);
  } finally {
    await client.close().catch(() => {});
  }
});
