// `kai.events.stream()` offline: the request, reconnection with Last-Event-ID, the
// backoff, and which answers are thrown, against a scripted fetch whose bodies are
// streams (chunks, then an end, a network error, or silence).

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import {
  EventStream,
  ForbiddenError,
  InternalError,
  InvalidRequestError,
  KaiCalls,
  KaiCallsError,
  NotFoundError,
  UnauthorizedError,
  type Event,
} from '../dist/index.js';

const OPENED = 'retry: 2000\n: connected\n\n';
/** What the scripted server sends first: a short retry, so that tests are quick. */
const FAST = 'retry: 20\n: connected\n\n';
/** The opening message naming the stream's starting point (a short retry, too). */
const opening = (id: string) => `retry: 20\nid: ${id}\n: connected\n\n`;
const SSE_HEADERS = { 'Content-Type': 'text/event-stream', 'Request-Id': 'req_stream' };

function message(n: number, type = 'call.queued'): string {
  const event = {
    id: `evt_${n}`,
    type,
    object_type: 'call',
    object_id: 'call_1',
    business_id: 'biz_1',
    mode: 'test',
    data: { event: type, call_id: 'call_1' },
    created_at: `2026-01-01T00:00:0${n}Z`,
  };
  return `id: evt_${n}\nevent: ${type}\ndata: ${JSON.stringify(event)}\n\n`;
}

/**
 * After the chunks: the body ends, breaks (a network error), stays open, or breaks 10 ms
 * after sending them all, whether they were read or not (a broken body discards the
 * chunks still queued in it).
 */
type Ending = 'end' | 'error' | 'hang' | 'reset';
interface StreamStep {
  chunks: string[];
  then?: Ending;
  headers?: Record<string, string>;
}
interface ErrorStep {
  status: number;
  code: string;
  message?: string;
  param?: string;
  headers?: Record<string, string>;
}
type Step = StreamStep | ErrorStep | Error | { json: unknown };

interface Seen {
  url: URL;
  headers: Record<string, string>;
  at: number;
  /** Whether the client cancelled (or aborted) this response's body. */
  cancelled: () => boolean;
}

function stream(chunks: string[], then: Ending = 'end', headers: Record<string, string> = {}): StreamStep {
  return { chunks, then, headers };
}

function refusal(status: number, code: string, extra: Partial<ErrorStep> = {}): ErrorStep {
  return { status, code, ...extra };
}

/** A fetch answering `steps` in order; each request is recorded. */
function scripted(...steps: Step[]) {
  const seen: Seen[] = [];
  const encoder = new TextEncoder();
  const impl = async (input: string | URL | Request, init: RequestInit = {}): Promise<Response> => {
    let cancelled = false;
    seen.push({
      url: new URL(String(input)),
      headers: { ...(init.headers as Record<string, string>) },
      at: Date.now(),
      cancelled: () => cancelled,
    });
    const step = steps.shift();
    if (step === undefined) throw new Error(`unexpected request ${String(input)}`);
    if (step instanceof Error) throw step;
    if ('json' in step) return new Response(JSON.stringify(step.json), { headers: { 'Content-Type': 'application/json' } });
    if ('status' in step) {
      const error: Record<string, string> = { code: step.code, message: step.message ?? 'no' };
      if (step.param) error.param = step.param;
      return new Response(JSON.stringify({ error }), {
        status: step.status,
        headers: { 'Content-Type': 'application/json', 'Request-Id': 'req_refused', ...step.headers },
      });
    }
    const chunks = [...step.chunks];
    let hang: (() => void) | undefined;
    init.signal?.addEventListener('abort', () => {
      cancelled = true;
      hang?.();
    });
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        if (step.then !== 'reset') return;
        for (const chunk of chunks.splice(0)) controller.enqueue(encoder.encode(chunk));
        setTimeout(() => controller.error(new TypeError('terminated')), 10);
      },
      pull(controller) {
        if (step.then === 'reset') return undefined;
        const chunk = chunks.shift();
        if (chunk !== undefined) controller.enqueue(encoder.encode(chunk));
        else if (step.then === 'error') controller.error(new TypeError('terminated'));
        else if (step.then === 'hang') return new Promise<void>((resolve) => (hang = resolve));
        else controller.close();
        return undefined;
      },
      cancel() {
        cancelled = true;
      },
    });
    return new Response(body, { status: 200, headers: { ...SSE_HEADERS, ...step.headers } });
  };
  return { fetch: impl as typeof fetch, seen };
}

function client(fetchImpl: typeof fetch, options: { maxRetries?: number; maxRetryDelayMs?: number } = {}) {
  return new KaiCalls({ apiKey: 'kc_test_unit', baseUrl: 'http://kai.test', fetch: fetchImpl, ...options });
}

async function take(events: EventStream, n: number): Promise<Event[]> {
  const out: Event[] = [];
  for (let i = 0; i < n; i++) {
    const r = await events.next();
    assert.equal(r.done, false, `ended after ${i} events`);
    out.push(r.value as Event);
  }
  return out;
}

const ids = (events: Event[]) => events.map((e) => e.id);
const lastIds = (seen: Seen[]) => seen.map((s) => s.headers['Last-Event-ID'] ?? null);
const gaps = (seen: Seen[]) => seen.slice(1).map((s, i) => s.at - seen[i]!.at);

describe('events.stream: the request', { timeout: 10_000 }, () => {
  test('carries the filters, the key and Accept: text/event-stream; yields Events', async () => {
    const f = scripted(stream([OPENED, message(1)], 'hang'));
    const events = client(f.fetch).events.stream({
      eventType: ['call.completed', 'call.failed'],
      callId: 'call_1',
      businessId: 'biz_1',
    });
    assert.ok(events instanceof EventStream);
    await events.ready();
    const req = f.seen[0]!;
    assert.equal(req.url.pathname, '/api/v1/events/stream');
    assert.deepEqual(Object.fromEntries(req.url.searchParams), {
      event_type: 'call.completed,call.failed',
      call_id: 'call_1',
      business_id: 'biz_1',
    });
    assert.equal(req.headers.Accept, 'text/event-stream');
    assert.equal(req.headers.Authorization, 'Bearer kc_test_unit');
    assert.equal(req.headers['Last-Event-ID'], undefined);
    assert.equal(events.lastEventId, null);
    const [event] = await take(events, 1);
    assert.equal(event?.id, 'evt_1');
    assert.equal(event?.type, 'call.queued');
    assert.deepEqual(event?.data, { event: 'call.queued', call_id: 'call_1' });
    assert.equal(events.lastEventId, 'evt_1');
    events.close();
    assert.ok(f.seen[0]!.cancelled(), 'close() releases the body');
    assert.deepEqual(await events.next(), { done: true, value: undefined });
  });

  test('connects when created (before any iteration) and sends lastEventId', async () => {
    const f = scripted(stream([OPENED], 'hang'));
    const events = client(f.fetch).events.stream({ eventType: 'lead.created', lastEventId: 'evt_0' });
    await events.ready();
    assert.equal(f.seen.length, 1);
    assert.equal(f.seen[0]!.headers['Last-Event-ID'], 'evt_0');
    assert.equal(f.seen[0]!.url.searchParams.get('event_type'), 'lead.created');
    assert.equal(events.lastEventId, 'evt_0');
    assert.equal(events.connections, 1);
    events.close();
  });
});

describe('events.stream: reconnection', { timeout: 10_000 }, () => {
  test('when the server ends the stream it resumes after the last event, waiting its retry', async () => {
    const f = scripted(stream(['retry: 60\n: connected\n\n', message(1), message(2)]), stream([FAST, message(3)], 'hang'));
    const events = client(f.fetch).events.stream();
    assert.deepEqual(ids(await take(events, 3)), ['evt_1', 'evt_2', 'evt_3']);
    assert.deepEqual(lastIds(f.seen), [null, 'evt_2']);
    assert.ok(gaps(f.seen)[0]! >= 55, `reconnected after ${gaps(f.seen)[0]}ms, not the server's 60ms`);
    assert.equal(events.connections, 2);
    events.close();
  });

  test('a broken connection drops the unfinished message and resumes', async () => {
    const f = scripted(
      stream([FAST, message(1), message(2).slice(0, 30)], 'error'),
      stream([FAST, message(2), message(3)], 'hang'),
    );
    const events = client(f.fetch).events.stream();
    assert.deepEqual(ids(await take(events, 3)), ['evt_1', 'evt_2', 'evt_3']);
    assert.deepEqual(lastIds(f.seen), [null, 'evt_1']);
    events.close();
  });

  test('the opening id is the resume point before the first event', async () => {
    // The first connection drops before any event: the reconnection resumes from the
    // starting point the opening named, not from "now".
    const f = scripted(stream([opening('evt_0')], 'error'), stream([opening('evt_0'), message(1)], 'hang'));
    const events = client(f.fetch).events.stream({ eventType: 'call.queued' });
    assert.deepEqual(ids(await take(events, 1)), ['evt_1']);
    assert.deepEqual(lastIds(f.seen), [null, 'evt_0']);
    assert.equal(events.lastEventId, 'evt_1');
    events.close();

    const g = scripted(stream([opening('evt_5')], 'hang'));
    const waiting = client(g.fetch).events.stream();
    const next = waiting.next(); // reads the opening, then waits for an event
    for (let i = 0; i < 100 && waiting.lastEventId === null; i++) await new Promise((r) => setTimeout(r, 5));
    assert.equal(waiting.lastEventId, 'evt_5');
    waiting.close();
    assert.deepEqual(await next, { done: true, value: undefined });
  });

  test('the opening is kept even when the body breaks before the consumer reads it', async () => {
    const f = scripted(stream([opening('evt_0')], 'reset'), stream([opening('evt_0'), message(1)], 'hang'));
    const events = client(f.fetch).events.stream();
    await events.ready();
    await new Promise((r) => setTimeout(r, 50)); // the first body has broken meanwhile
    assert.deepEqual(ids(await take(events, 1)), ['evt_1']);
    assert.deepEqual(lastIds(f.seen), [null, 'evt_0']);
    events.close();
  });

  test('an id-only message never moves the resume point past events not yet returned', async () => {
    // evt_9 arrives (id only) while evt_1 and evt_2 wait to be returned: it is not taken
    // as the resume point, which stays the last event returned.
    const f = scripted(
      stream([opening('evt_0'), message(1) + message(2) + 'id: evt_9\n: connected\n\n'], 'error'),
      stream([opening('evt_2'), message(3)], 'hang'),
    );
    const events = client(f.fetch).events.stream();
    assert.deepEqual(ids(await take(events, 1)), ['evt_1']);
    assert.equal(events.lastEventId, 'evt_1');
    assert.deepEqual(ids(await take(events, 1)), ['evt_2']);
    assert.equal(events.lastEventId, 'evt_2');
    assert.deepEqual(ids(await take(events, 1)), ['evt_3']);
    assert.deepEqual(lastIds(f.seen), [null, 'evt_2']);
    events.close();
  });

  test('attempts back off from retry, doubling, and reset once open', async () => {
    const f = scripted(
      stream([FAST, message(1)]),
      refusal(503, 'internal_error'),
      new TypeError('fetch failed'),
      refusal(502, 'http_502'),
      stream([FAST, message(2)]),
      stream([FAST, message(3)], 'hang'),
    );
    const events = client(f.fetch).events.stream();
    assert.deepEqual(ids(await take(events, 3)), ['evt_1', 'evt_2', 'evt_3']);
    const [a, b, c, d, e] = gaps(f.seen) as [number, number, number, number, number];
    // 20, 40, 80, 160 ms, then 20 ms again.
    assert.ok(a >= 18 && b >= 38 && c >= 78 && d >= 155 && e >= 18, `waits ${[a, b, c, d, e]}`);
    assert.ok(e < 100, `the backoff is reset once a connection opens: ${[a, b, c, d, e]}`);
    assert.deepEqual(lastIds(f.seen), [null, 'evt_1', 'evt_1', 'evt_1', 'evt_1', 'evt_2']);
    events.close();
  });

  test("a 429's Retry-After is waited out (capped by maxRetryDelayMs)", async () => {
    const f = scripted(
      stream([FAST, message(1)]),
      refusal(429, 'rate_limited', { headers: { 'Retry-After': '1' } }),
      stream([FAST, message(2)], 'hang'),
    );
    const events = client(f.fetch, { maxRetryDelayMs: 300 }).events.stream();
    assert.deepEqual(ids(await take(events, 2)), ['evt_1', 'evt_2']);
    const [, wait] = gaps(f.seen) as [number, number];
    assert.ok(wait >= 280 && wait < 900, `waited ${wait}ms: Retry-After 1 s, capped at 300 ms`);
    events.close();
  });

  test('chunks split anywhere (CRLF, heartbeats) give the same events', async () => {
    const wire = OPENED + message(1).replaceAll('\n', '\r\n') + ': heartbeat\n\n' + message(2);
    const chunks: string[] = [];
    for (let i = 0; i < wire.length; i += 7) chunks.push(wire.slice(i, i + 7));
    const f = scripted(stream(chunks, 'hang'));
    const events = client(f.fetch).events.stream();
    assert.deepEqual(ids(await take(events, 2)), ['evt_1', 'evt_2']);
    events.close();
  });
});

describe('events.stream: errors', { timeout: 10_000 }, () => {
  for (const [status, code, Class] of [
    [400, 'invalid_request', InvalidRequestError],
    [401, 'unauthorized', UnauthorizedError],
    [403, 'forbidden', ForbiddenError],
    [404, 'not_found', NotFoundError],
  ] as const) {
    test(`a ${status} when opening is thrown at once as ${Class.name}`, async () => {
      const f = scripted(refusal(status, code, { param: status === 400 ? 'event_type' : undefined }));
      const events = client(f.fetch).events.stream({ eventType: 'call.exploded' });
      const check = (err: unknown) => {
        assert.ok(err instanceof Class, String(err));
        assert.equal(err.status, status);
        assert.equal(err.code, code);
        assert.equal(err.requestId, 'req_refused');
        if (status === 400) assert.equal(err.param, 'event_type');
        return true;
      };
      await assert.rejects(events.ready(), check);
      await assert.rejects(events.next(), check);
      assert.equal(f.seen.length, 1);
      assert.ok(events.closed);
    });
  }

  test('a 4xx when reconnecting is thrown, not retried', async () => {
    const f = scripted(stream([FAST, message(1)]), refusal(401, 'unauthorized', { message: 'Key revoked' }));
    const events = client(f.fetch).events.stream();
    assert.equal((await events.next()).value?.id, 'evt_1');
    await assert.rejects(events.next(), (err: unknown) => err instanceof UnauthorizedError && err.message === 'Key revoked');
    assert.equal(f.seen.length, 2);
    assert.ok(events.closed);
  });

  test('an unknown Last-Event-ID on reconnect names the header', async () => {
    const f = scripted(stream([FAST, message(1)]), refusal(400, 'invalid_request', { param: 'Last-Event-ID' }));
    const events = client(f.fetch).events.stream();
    await events.next();
    await assert.rejects(events.next(), (err: unknown) => err instanceof InvalidRequestError && err.param === 'Last-Event-ID');
  });

  test('the first connection gives up after maxRetries, rethrowing the network error', async () => {
    const f = scripted(new TypeError('fetch failed'), new TypeError('fetch failed'), new TypeError('fetch failed'));
    const events = client(f.fetch, { maxRetries: 2, maxRetryDelayMs: 10 }).events.stream();
    await assert.rejects(events.ready(), (err: unknown) => err instanceof TypeError && err.message === 'fetch failed');
    assert.equal(f.seen.length, 3);
  });

  test('the first connection retries 5xx, then throws InternalError', async () => {
    const f = scripted(refusal(503, 'internal_error'), refusal(503, 'internal_error'));
    const events = client(f.fetch, { maxRetries: 1, maxRetryDelayMs: 10 }).events.stream();
    await assert.rejects(events.ready(), InternalError);
    assert.equal(f.seen.length, 2);
    const ok = scripted(refusal(503, 'internal_error'), stream([OPENED], 'hang'));
    const retried = client(ok.fetch, { maxRetries: 1, maxRetryDelayMs: 10 }).events.stream();
    await retried.ready();
    assert.equal(ok.seen.length, 2);
    retried.close();
  });

  test('a 2xx that is not an event stream throws unexpected_response', async () => {
    const f = scripted({ json: { events: [] } });
    const events = client(f.fetch).events.stream();
    await assert.rejects(events.ready(), (err: unknown) => err instanceof KaiCallsError && err.code === 'unexpected_response');
  });

  test('a message that is not an event throws unexpected_response', async () => {
    const f = scripted(stream([OPENED, 'id: evt_1\ndata: not json\n\n'], 'hang'));
    const events = client(f.fetch).events.stream();
    await assert.rejects(events.next(), (err: unknown) => err instanceof KaiCallsError && err.code === 'unexpected_response');
    assert.ok(events.closed);
  });
});

describe('events.stream: reconnect: false, close and AbortSignal', { timeout: 10_000 }, () => {
  test('without reconnect the iteration ends with the stream', async () => {
    const f = scripted(stream([OPENED, message(1), message(2)]));
    const got: string[] = [];
    for await (const event of client(f.fetch).events.stream({ reconnect: false })) got.push(event.id);
    assert.deepEqual(got, ['evt_1', 'evt_2']);
    assert.equal(f.seen.length, 1);
  });

  test('without reconnect a broken connection throws', async () => {
    const f = scripted(stream([OPENED, message(1)], 'error'));
    const events = client(f.fetch).events.stream({ reconnect: false });
    assert.equal((await events.next()).value?.id, 'evt_1');
    await assert.rejects(events.next(), TypeError);
    assert.equal(f.seen.length, 1);
  });

  test('leaving a for await loop closes the stream', async () => {
    const f = scripted(stream([OPENED, message(1), message(2)], 'hang'));
    const events = client(f.fetch).events.stream();
    for await (const event of events) {
      assert.equal(event.id, 'evt_1');
      break;
    }
    assert.ok(events.closed);
    assert.ok(f.seen[0]!.cancelled());
    assert.equal(events.lastEventId, 'evt_1');
  });

  test('close() ends an iteration waiting for the next event', async () => {
    const f = scripted(stream([OPENED], 'hang'));
    const events = client(f.fetch).events.stream();
    await events.ready();
    const waiting = events.next();
    setTimeout(() => events.close(), 20);
    assert.deepEqual(await waiting, { done: true, value: undefined });
  });

  test('aborting the signal ends the iteration, also during a backoff wait', async () => {
    const controller = new AbortController();
    const f = scripted(stream([OPENED, message(1)], 'hang'));
    const events = client(f.fetch).events.stream({ signal: controller.signal });
    assert.equal((await events.next()).value?.id, 'evt_1');
    const waiting = events.next();
    controller.abort();
    assert.deepEqual(await waiting, { done: true, value: undefined });
    assert.ok(events.closed && f.seen[0]!.cancelled());

    const backingOff = new AbortController();
    const g = scripted(stream([OPENED, message(1)]), refusal(503, 'internal_error'));
    const started = Date.now();
    const waits = client(g.fetch).events.stream({ signal: backingOff.signal });
    await waits.next();
    const pending = waits.next(); // waits 2 s, then 503, then 4 s ...
    setTimeout(() => backingOff.abort(), 50);
    assert.deepEqual(await pending, { done: true, value: undefined });
    assert.ok(Date.now() - started < 1500, 'the wait was cut short');
    assert.equal(g.seen.length, 1);
  });

  test('an already aborted signal sends no request', async () => {
    const f = scripted();
    const events = client(f.fetch).events.stream({ signal: AbortSignal.abort() });
    await events.ready();
    assert.deepEqual(await events.next(), { done: true, value: undefined });
    assert.equal(f.seen.length, 0);
  });
});
