// `kai.events.stream()` against the real KaiCalls binary (KAICALLS_BIN): live delivery,
// filters, resuming with lastEventId, automatic reconnection through a proxy that cuts
// the connection, and typed errors without a reconnect loop.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import {
  EventStream,
  ForbiddenError,
  InvalidRequestError,
  KaiCalls,
  NotFoundError,
  UnauthorizedError,
  type Event,
} from 'kaicalls';
import { startProxy, type CuttingProxy } from './cutting-proxy.js';
import { startServer, type TestServer } from './harness.js';

const LIFECYCLE = ['call.queued', 'call.ringing', 'call.in_progress', 'call.completed'];
const CALL_TYPES = [...LIFECYCLE, 'call.failed', 'call.canceled'];
const FINAL = new Set(['call.completed', 'call.failed', 'call.canceled']);
const STREAM_PATH = '/api/v1/events/stream';

let server: TestServer;
let kai: KaiCalls;
const proxies: CuttingProxy[] = [];

before(async () => {
  server = await startServer();
  kai = new KaiCalls({ apiKey: server.boot.test_key, baseUrl: server.baseUrl });
});

after(async () => {
  await Promise.all(proxies.map((p) => p.close()));
  await server?.stop();
});

async function proxy(cutFirstAfter?: number): Promise<CuttingProxy> {
  const p = await startProxy(server.baseUrl, { cutFirstAfter });
  proxies.push(p);
  return p;
}

function phone(): string {
  return `+1512555${String(Math.floor(Math.random() * 10_000)).padStart(4, '0')}`;
}

function placeCall(name: string) {
  return kai.calls.create({ agentId: server.boot.agent_id, to: phone(), name });
}

/** The id of a fresh event of the key's mode (a lead.created): resuming after it shows everything from now on. */
async function cursor(): Promise<string> {
  const lead = await kai.leads.create({ businessId: server.boot.business_id, name: 'Cursor Carl', phone: phone() });
  const { events } = await kai.events.list({ objectId: lead.id, eventType: 'lead.created' });
  assert.equal(events.length, 1);
  return events[0]!.id;
}

/** The ids of the call's events as `GET /api/v1/events` lists them, oldest first. */
async function listed(callId: string): Promise<string[]> {
  const { events, has_more } = await kai.events.list({ objectId: callId, limit: 100 });
  assert.equal(has_more, false);
  return events.map((e) => e.id).reverse();
}

/** Events of `callIds` read from `stream` until each call has its final event. */
async function untilFinal(stream: AsyncIterable<Event>, callIds: Set<string>): Promise<Event[]> {
  const got: Event[] = [];
  const open = new Set(callIds);
  for await (const event of stream) {
    if (callIds.has(event.object_id)) {
      got.push(event);
      if (FINAL.has(event.type)) open.delete(event.object_id);
    }
    if (open.size === 0) break;
  }
  return got;
}

/** `promise`, or a rejection with `message` after `ms`. */
async function within<T>(ms: number, promise: Promise<T>, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  try {
    return await Promise.race([promise, expired]);
  } finally {
    clearTimeout(timer);
  }
}

const streamRequests = (p: CuttingProxy) => p.requests().filter((r) => r.line.includes(STREAM_PATH));

/** A new test-mode key with `scopes`, created through a dashboard session. */
async function sessionKey(scopes: string[]): Promise<string> {
  const login = await fetch(`${server.baseUrl}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ email: 'a@b.test', password: 'long-password-1' }),
  });
  assert.equal(login.status, 200, await login.clone().text());
  const cookie = login.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
  const created = await fetch(`${server.baseUrl}/api/v1/keys`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Cookie: cookie, Origin: server.baseUrl },
    body: JSON.stringify({ name: `stream ${Math.random().toString(36).slice(2, 8)}`, scopes, mode: 'test' }),
  });
  assert.equal(created.status, 201, await created.clone().text());
  return ((await created.json()) as { key: string }).key;
}

describe('events.stream against the server', { timeout: 60_000 }, () => {
  test("shows a new call's lifecycle, filtered by event type", async () => {
    const stream = kai.events.stream({ eventType: CALL_TYPES });
    assert.ok(stream instanceof EventStream);
    await stream.ready(); // from here on, everything is shown
    const lead = await kai.leads.create({ businessId: server.boot.business_id, name: 'Not A Call', phone: phone() });
    const call = await placeCall('Stream Sam');
    const seen: Event[] = [];
    for await (const event of stream) {
      seen.push(event);
      assert.notEqual(event.object_id, lead.id, 'lead.created is filtered out');
      if (event.object_id === call.id && FINAL.has(event.type)) break;
    }
    assert.ok(stream.closed);
    assert.equal(stream.lastEventId, seen.at(-1)?.id);
    assert.ok(seen.every((e) => CALL_TYPES.includes(e.type)));
    const mine = seen.filter((e) => e.object_id === call.id);
    assert.deepEqual(mine.map((e) => e.type), LIFECYCLE);
    const first = mine[0]!;
    assert.match(first.id, /^evt_/);
    assert.equal(first.object_type, 'call');
    assert.equal(first.business_id, server.boot.business_id);
    assert.equal(first.mode, 'test');
    assert.equal((first.data as { call_id?: string }).call_id, call.id);
    assert.deepEqual(mine.map((e) => e.id), await listed(call.id));
  });

  test('callId shows only that call', async () => {
    const from = await cursor();
    // Another call's whole lifecycle (and a lead) lies between the cursor and the call.
    const other = await placeCall('Other Olga');
    assert.equal((await kai.calls.wait(other.id, { intervalMs: 100, timeoutMs: 30_000 })).status, 'completed');
    await kai.leads.create({ businessId: server.boot.business_id, name: 'Lead Between', phone: phone() });
    const call = await placeCall('Filtered Fay');
    const got: Event[] = [];
    for await (const event of kai.events.stream({ callId: call.id, lastEventId: from })) {
      got.push(event);
      if (event.object_id === call.id && FINAL.has(event.type)) break;
    }
    assert.deepEqual(got.map((e) => e.type), LIFECYCLE);
    assert.deepEqual(new Set(got.map((e) => e.object_id)), new Set([call.id]));
    assert.deepEqual(got.map((e) => e.id), await listed(call.id));
  });

  test('a single eventType string', async () => {
    const from = await cursor();
    const call = await placeCall('Only Completed');
    const got = await untilFinal(kai.events.stream({ eventType: 'call.completed', lastEventId: from }), new Set([call.id]));
    assert.deepEqual(got.map((e) => e.type), ['call.completed']);
  });

  test('resuming with lastEventId gets exactly the rest', async () => {
    const from = await cursor();
    const calls = [];
    for (let i = 0; i < 3; i++) calls.push(await placeCall(`Resume ${i}`));
    const ids = new Set(calls.map((c) => c.id));
    const n = 5;
    const first: Event[] = [];
    const stream = kai.events.stream({ eventType: CALL_TYPES, lastEventId: from });
    for await (const event of stream) {
      if (ids.has(event.object_id)) first.push(event);
      if (first.length === n) break;
    }
    const stoppedAt = stream.lastEventId;
    assert.equal(stoppedAt, first.at(-1)?.id);
    // Reopened after the n-th event: the rest of the three calls, none again.
    const resumed = kai.events.stream({ eventType: CALL_TYPES, lastEventId: stoppedAt! });
    assert.equal(resumed.lastEventId, stoppedAt);
    const done = new Set(first.filter((e) => FINAL.has(e.type)).map((e) => e.object_id));
    const rest = await untilFinal(resumed, new Set([...ids].filter((id) => !done.has(id))));
    const streamed = [...first, ...rest].map((e) => e.id);
    assert.equal(new Set(streamed).size, streamed.length, 'an event came twice');
    const all: string[] = [];
    for (const c of calls) all.push(...(await listed(c.id)));
    assert.deepEqual([...streamed].sort(), all.sort(), 'an event is missing (or extra)');
    for (const c of calls) {
      assert.deepEqual([...first, ...rest].filter((e) => e.object_id === c.id).map((e) => e.type), LIFECYCLE);
    }
  });

  test('reconnects by itself after the connection is cut, resuming with Last-Event-ID', async () => {
    const from = await cursor();
    const call = await placeCall('Cut Carla');
    const p = await proxy(2);
    const throughProxy = new KaiCalls({ apiKey: server.boot.test_key, baseUrl: p.url });
    const stream = throughProxy.events.stream({ callId: call.id, lastEventId: from });
    const got: Event[] = [];
    for await (const event of stream) {
      got.push(event);
      if (FINAL.has(event.type)) break;
    }
    assert.ok(p.cut(), 'the proxy cut the first connection');
    assert.equal(stream.connections, 2);
    assert.deepEqual(got.map((e) => e.type), LIFECYCLE);
    assert.deepEqual(got.map((e) => e.id), await listed(call.id));
    const heads = streamRequests(p);
    assert.equal(heads.length, 2);
    assert.equal(heads[0]?.connection, 0);
    assert.ok((heads[1]?.connection ?? 0) > 0, 'the resumed request came on a second connection');
    assert.equal(heads[0]?.headers['last-event-id'], from);
    assert.equal(heads[1]?.headers['last-event-id'], got[1]?.id);
    assert.equal(heads[1]?.headers.accept, 'text/event-stream');
  });

  test('a connection cut before its first event resumes from the opening id', async () => {
    // A tenant of its own, with one event: the lead.created of the first lead.
    const fresh = await startServer();
    let p: CuttingProxy | undefined;
    let stream: EventStream | undefined;
    try {
      const direct = new KaiCalls({ apiKey: fresh.boot.test_key, baseUrl: fresh.baseUrl });
      const businessId = fresh.boot.business_id;
      const first = await direct.leads.create({ businessId, name: 'Opening Olive', phone: '+15125550120' });
      const { events } = await direct.events.list({ eventType: 'lead.created' });
      assert.deepEqual(events.map((e) => e.object_id), [first.id]);
      const startingPoint = events[0]!.id;
      p = await startProxy(fresh.baseUrl, { cutFirstAfter: 0 });
      const throughProxy = new KaiCalls({ apiKey: fresh.boot.test_key, baseUrl: p.url });
      stream = throughProxy.events.stream({ eventType: 'lead.created' });
      // The first connection's response has arrived: the server has its starting point.
      // The proxy cuts that connection as the first event comes, so the client gets no
      // event on it.
      await stream.ready();
      const leads = [
        await direct.leads.create({ businessId, name: 'After 1', phone: '+15125550121' }),
        await direct.leads.create({ businessId, name: 'After 2', phone: '+15125550122' }),
      ];
      const got: Event[] = [];
      for (let i = 0; i < 2; i++) {
        const next: IteratorResult<Event, undefined> = await within(20_000, stream.next(), `lead event ${i + 1} never came`);
        assert.equal(next.done, false);
        got.push(next.value!);
      }
      assert.ok(p.cut(), 'the proxy cut the first connection');
      assert.equal(stream.connections, 2);
      assert.equal(stream.lastEventId, got[1]?.id);
      assert.deepEqual(
        got.map((e) => [e.type, e.object_id]),
        leads.map((lead) => ['lead.created', lead.id]),
      );
      const heads = streamRequests(p);
      assert.equal(heads.length, 2);
      assert.equal(heads[0]?.headers['last-event-id'], undefined);
      assert.equal(heads[1]?.headers['last-event-id'], startingPoint);
    } finally {
      stream?.close();
      await p?.close();
      await fresh.stop();
    }
  });

  test('with reconnect: false a cut connection throws instead', async () => {
    const from = await cursor();
    const call = await placeCall('No Reconnect');
    const p = await proxy(2);
    const throughProxy = new KaiCalls({ apiKey: server.boot.test_key, baseUrl: p.url });
    const stream = throughProxy.events.stream({ callId: call.id, lastEventId: from, reconnect: false });
    const got = [(await stream.next()).value, (await stream.next()).value];
    assert.deepEqual(got.map((e) => e?.type), LIFECYCLE.slice(0, 2));
    await assert.rejects(stream.next());
    assert.ok(stream.closed);
    assert.equal(streamRequests(p).length, 1);
  });

  test('an AbortSignal ends a live stream', async () => {
    const controller = new AbortController();
    // webhook.test: nothing sends one here, so the stream stays silent.
    const stream = kai.events.stream({ eventType: 'webhook.test', signal: controller.signal });
    await stream.ready();
    setTimeout(() => controller.abort(), 100);
    const started = Date.now();
    for await (const event of stream) assert.fail(`unexpected event ${event.id}`);
    assert.ok(Date.now() - started < 5_000);
    assert.ok(stream.closed);
  });
});

describe('events.stream errors against the server', { timeout: 60_000 }, () => {
  test('a bad eventType → InvalidRequestError naming event_type, one request', async () => {
    const p = await proxy();
    const viaProxy = new KaiCalls({ apiKey: server.boot.test_key, baseUrl: p.url });
    const started = Date.now();
    const stream = viaProxy.events.stream({ eventType: ['call.completed', 'call.exploded'] });
    await assert.rejects(stream.ready(), (err: unknown) => {
      assert.ok(err instanceof InvalidRequestError, String(err));
      assert.equal(err.status, 400);
      assert.equal(err.code, 'invalid_request');
      assert.equal(err.param, 'event_type');
      assert.match(err.message, /call\.exploded/);
      assert.match(String(err.requestId), /^req_/);
      return true;
    });
    await assert.rejects(stream.next(), InvalidRequestError);
    assert.ok(Date.now() - started < 5_000);
    assert.equal(streamRequests(p).length, 1, 'no reconnect loop');
  });

  test('an unknown lastEventId → InvalidRequestError naming Last-Event-ID', async () => {
    const stream = kai.events.stream({ lastEventId: `evt_${'0'.repeat(32)}` });
    await assert.rejects(stream.ready(), (err: unknown) => err instanceof InvalidRequestError && err.param === 'Last-Event-ID');
  });

  test('a key without events:read → ForbiddenError, one request', async () => {
    const key = await sessionKey(['calls:read']);
    const p = await proxy();
    const limited = new KaiCalls({ apiKey: key, baseUrl: p.url });
    assert.ok(Array.isArray((await limited.calls.list({ limit: 1 })).calls)); // the key works
    await assert.rejects(limited.events.stream().ready(), (err: unknown) => {
      assert.ok(err instanceof ForbiddenError, String(err));
      assert.equal(err.status, 403);
      assert.equal(err.code, 'forbidden');
      return true;
    });
    assert.equal(streamRequests(p).length, 1, 'no reconnect loop');
  });

  test('a key with events:read may stream', async () => {
    const key = await sessionKey(['events:read', 'leads:write']);
    const scoped = new KaiCalls({ apiKey: key, baseUrl: server.baseUrl });
    const stream = scoped.events.stream({ eventType: 'lead.created' });
    await stream.ready();
    const lead = await scoped.leads.create({ businessId: server.boot.business_id, name: 'Scoped Sue', phone: phone() });
    const { value } = await stream.next();
    stream.close();
    assert.equal(value?.type, 'lead.created');
    assert.equal(value?.object_id, lead.id);
  });

  test('a bad key → UnauthorizedError; an unknown businessId → NotFoundError', async () => {
    const bad = new KaiCalls({ apiKey: `kc_test_${'0'.repeat(40)}`, baseUrl: server.baseUrl });
    await assert.rejects(bad.events.stream().ready(), UnauthorizedError);
    await assert.rejects(kai.events.stream({ businessId: globalThis.crypto.randomUUID() }).ready(), NotFoundError);
  });
});
