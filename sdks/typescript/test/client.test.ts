// Offline tests of the transport: base URL, headers, idempotency keys, retries with
// backoff and Retry-After, typed errors, timeouts. Every request goes to a fake fetch.

import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';

import {
  CallFailedError,
  ConflictError,
  ForbiddenError,
  IdempotencyError,
  InternalError,
  InvalidRequestError,
  KaiCalls,
  KaiCallsError,
  NotFoundError,
  RateLimitedError,
  UnauthorizedError,
} from '../dist/index.js';
import { fakeFetch, pathOf, queryOf } from './fake-fetch.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

function errorReply(status: number, code: string, message: string, param?: string, requestId = 'req_abc') {
  return {
    status,
    body: { error: param === undefined ? { code, message } : { code, message, param } },
    headers: { 'Request-Id': requestId },
  };
}

describe('construction and base URL', () => {
  let saved: string | undefined;
  beforeEach(() => {
    saved = process.env.KAICALLS_BASE_URL;
    delete process.env.KAICALLS_BASE_URL;
  });
  afterEach(() => {
    if (saved === undefined) delete process.env.KAICALLS_BASE_URL;
    else process.env.KAICALLS_BASE_URL = saved;
  });

  test('requires an api key', () => {
    assert.throws(() => new KaiCalls({ apiKey: '' }), /apiKey is required/);
  });

  test('defaults to https://www.kaicalls.com and appends /api/v1 itself', async () => {
    const f = fakeFetch(() => ({ body: { id: 'call-1', status: 'completed' } }));
    const kai = new KaiCalls({ apiKey: 'kc_live_test', fetch: f });
    await kai.calls.get('call-1');
    assert.equal(f.requests[0]?.url, 'https://www.kaicalls.com/api/v1/calls?id=call-1');
  });

  test('KAICALLS_BASE_URL is used when no baseUrl option is given', async () => {
    process.env.KAICALLS_BASE_URL = 'http://127.0.0.1:9999/';
    const f = fakeFetch(() => ({ body: { agents: [] } }));
    await new KaiCalls({ apiKey: 'k', fetch: f }).agents.list();
    assert.equal(f.requests[0]?.url, 'http://127.0.0.1:9999/api/v1/agents');
  });

  test('the baseUrl option wins over the environment; trailing slashes are dropped', async () => {
    process.env.KAICALLS_BASE_URL = 'http://ignored.example';
    const f = fakeFetch(() => ({ body: { agents: [] } }));
    const kai = new KaiCalls({ apiKey: 'k', baseUrl: 'http://host/prefix//', fetch: f });
    await kai.agents.list();
    assert.equal(f.requests[0]?.url, 'http://host/prefix/api/v1/agents');
    assert.equal(kai.baseUrl, 'http://host/prefix');
  });

  test('every request carries the bearer key and a JSON content type', async () => {
    const f = fakeFetch(() => ({ body: { status: 'ok' } }));
    await new KaiCalls({ apiKey: 'kc_live_abc', fetch: f }).health();
    assert.equal(f.requests[0]?.headers.Authorization, 'Bearer kc_live_abc');
    assert.equal(f.requests[0]?.headers['Content-Type'], 'application/json');
    assert.equal(f.requests[0]?.method, 'GET');
  });

  test('raw request escape hatch sends the path and query unchanged', async () => {
    const f = fakeFetch(() => ({ body: { ok: true } }));
    const kai = new KaiCalls({ apiKey: 'k', fetch: f });
    await kai.request('/api/sdr/pipeline', { query: { businessId: 'biz-1', tag: ['a', 'b'], skip: undefined } });
    assert.equal(f.requests[0]?.url, 'https://www.kaicalls.com/api/sdr/pipeline?businessId=biz-1&tag=a&tag=b');
  });

  test('an empty 2xx body is returned as null', async () => {
    const f = fakeFetch(() => ({ status: 204 }));
    const res = await new KaiCalls({ apiKey: 'k', fetch: f }).request('/api/v1/x');
    assert.equal(res, null);
  });
});

describe('idempotency keys', () => {
  test('calls.create sends a random UUID Idempotency-Key', async () => {
    const f = fakeFetch(() => ({ status: 201, body: { id: 'c', status: 'queued' } }));
    const kai = new KaiCalls({ apiKey: 'k', fetch: f });
    await kai.calls.create({ agentId: 'a', to: '+15125551234' });
    await kai.calls.create({ agentId: 'a', to: '+15125551234' });
    const [k1, k2] = f.requests.map((r) => r.headers['Idempotency-Key']);
    assert.match(k1 ?? '', UUID);
    assert.match(k2 ?? '', UUID);
    assert.notEqual(k1, k2);
  });

  test('every create (POST) gets one; GET, PATCH and DELETE do not', async () => {
    const f = fakeFetch(() => ({ body: {} }));
    const kai = new KaiCalls({ apiKey: 'k', fetch: f });
    await kai.leads.create({ businessId: 'b', name: 'Ann' });
    await kai.agents.create({ businessId: 'b', name: 'Kai', systemPrompt: 'p' });
    await kai.webhooks.create({ webhookUrl: 'https://example.com/h' });
    await kai.phoneNumbers.assign({ phoneNumber: '+15125550100' });
    await kai.calls.list();
    await kai.agents.update({ id: 'a', name: 'x' });
    await kai.webhooks.delete({ id: 'w' });
    const keys = f.requests.map((r) => r.headers['Idempotency-Key']);
    for (const key of keys.slice(0, 4)) assert.match(key ?? '', UUID);
    assert.deepEqual(keys.slice(4), [undefined, undefined, undefined]);
  });

  test('a caller-chosen key is sent as given and reused by every retry', async () => {
    const f = fakeFetch((_req, n) =>
      n === 1 ? errorReply(503, 'internal_error', 'down') : { status: 201, body: { id: 'c', status: 'queued' } },
    );
    const kai = new KaiCalls({ apiKey: 'k', fetch: f });
    await kai.calls.create({ agentId: 'a', to: '+15125551234' }, { idempotencyKey: 'order-1234' });
    assert.equal(f.requests.length, 2);
    assert.deepEqual(
      f.requests.map((r) => r.headers['Idempotency-Key']),
      ['order-1234', 'order-1234'],
    );
  });

  test('the generated key is the same on a retry, and so is the body', async () => {
    const f = fakeFetch((_req, n) => (n < 3 ? new TypeError('fetch failed') : { status: 201, body: { id: 'c', status: 'queued' } }));
    const kai = new KaiCalls({ apiKey: 'k', fetch: f });
    await kai.calls.create({ agentId: 'a', to: '+15125551234', name: 'John' });
    assert.equal(f.requests.length, 3);
    const keys = new Set(f.requests.map((r) => r.headers['Idempotency-Key']));
    assert.equal(keys.size, 1);
    assert.deepEqual(f.requests[0]?.body, f.requests[2]?.body);
  });

  test('communicationRuns.create sends the given Idempotency-Key header', async () => {
    const f = fakeFetch(() => ({ status: 201, body: { success: true } }));
    await new KaiCalls({ apiKey: 'k', fetch: f }).communicationRuns.create({ business_id: 'biz-1' }, { idempotencyKey: 'idem-1' });
    assert.equal(f.requests[0]?.headers['Idempotency-Key'], 'idem-1');
  });
});

describe('retries', () => {
  test('a 429 is retried after its Retry-After', async () => {
    const f = fakeFetch((_req, n) =>
      n === 1
        ? { ...errorReply(429, 'rate_limited', 'Too many requests'), headers: { 'Retry-After': '1' } }
        : { body: { id: 'c', status: 'completed' } },
    );
    const kai = new KaiCalls({ apiKey: 'k', fetch: f });
    const call = await kai.calls.get('c');
    assert.equal(call.status, 'completed');
    assert.equal(f.requests.length, 2);
    const gap = (f.requests[1]?.at ?? 0) - (f.requests[0]?.at ?? 0);
    assert.ok(gap >= 950, `retried after ${gap}ms, expected about 1000ms`);
    assert.ok(gap < 3000, `retried after ${gap}ms`);
  });

  test('Retry-After as an HTTP date is honoured too', async () => {
    const f = fakeFetch((_req, n) =>
      n === 1
        ? { ...errorReply(503, 'internal_error', 'x'), headers: { 'Retry-After': new Date(Date.now() + 1500).toUTCString() } }
        : { body: {} },
    );
    await new KaiCalls({ apiKey: 'k', fetch: f }).account.balance();
    const gap = (f.requests[1]?.at ?? 0) - (f.requests[0]?.at ?? 0);
    // HTTP dates have one-second resolution.
    assert.ok(gap >= 400 && gap < 2500, `retried after ${gap}ms`);
  });

  test('5xx answers back off exponentially, then raise after maxRetries', async () => {
    const f = fakeFetch(() => errorReply(502, 'internal_error', 'bad gateway', undefined, 'req_last'));
    const kai = new KaiCalls({ apiKey: 'k', fetch: f, maxRetries: 2 });
    await assert.rejects(kai.calls.list(), (err: unknown) => {
      assert.ok(err instanceof InternalError);
      assert.equal(err.status, 502);
      assert.equal(err.requestId, 'req_last');
      return true;
    });
    assert.equal(f.requests.length, 3);
    const [a, b, c] = f.requests.map((r) => r.at) as [number, number, number];
    assert.ok(b - a >= 300, `first backoff ${b - a}ms`);
    assert.ok(c - b >= 700, `second backoff ${c - b}ms`);
    assert.ok(c - b > b - a, 'the backoff grows');
  });

  test('429 exhausting the retries raises RateLimitedError', async () => {
    const f = fakeFetch(() => ({ ...errorReply(429, 'rate_limited', 'slow down'), headers: { 'Retry-After': '0', 'Request-Id': 'req_rl' } }));
    const kai = new KaiCalls({ apiKey: 'k', fetch: f, maxRetries: 1 });
    await assert.rejects(kai.calls.get('c'), (err: unknown) => {
      assert.ok(err instanceof RateLimitedError);
      assert.equal(err.code, 'rate_limited');
      assert.equal(err.requestId, 'req_rl');
      assert.equal(err.headers?.get('retry-after'), '0');
      return true;
    });
    assert.equal(f.requests.length, 2);
  });

  test('maxRetries: 0 disables retries', async () => {
    const f = fakeFetch(() => errorReply(500, 'internal_error', 'boom'));
    await assert.rejects(new KaiCalls({ apiKey: 'k', fetch: f, maxRetries: 0 }).calls.list(), InternalError);
    assert.equal(f.requests.length, 1);
  });

  test('call_failed is a final answer and is not retried', async () => {
    const f = fakeFetch(() => errorReply(500, 'call_failed', 'The provider refused the call'));
    const kai = new KaiCalls({ apiKey: 'k', fetch: f });
    await assert.rejects(kai.calls.create({ agentId: 'a', to: '+15005550005' }), CallFailedError);
    assert.equal(f.requests.length, 1);
  });

  test('4xx answers are not retried', async () => {
    const f = fakeFetch(() => errorReply(404, 'not_found', 'Call not found'));
    await assert.rejects(new KaiCalls({ apiKey: 'k', fetch: f }).calls.get('x'), NotFoundError);
    assert.equal(f.requests.length, 1);
  });

  test('network errors are retried, and re-thrown as they are once retries run out', async () => {
    const f = fakeFetch(() => new TypeError('fetch failed'));
    const kai = new KaiCalls({ apiKey: 'k', fetch: f, maxRetries: 1 });
    await assert.rejects(kai.calls.get('c'), (err: unknown) => err instanceof TypeError && err.message === 'fetch failed');
    assert.equal(f.requests.length, 2);
  });

  test('a request that exceeds timeoutMs raises KaiCallsError code timeout', async () => {
    let attempts = 0;
    const hanging = (_input: string | URL | Request, init?: RequestInit) =>
      new Promise<Response>((_resolve, reject) => {
        attempts++;
        init?.signal?.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')));
      });
    const kai = new KaiCalls({ apiKey: 'k', fetch: hanging, timeoutMs: 50, maxRetries: 1 });
    await assert.rejects(kai.calls.get('c'), (err: unknown) => {
      assert.ok(err instanceof KaiCallsError);
      assert.equal(err.status, 0);
      assert.equal(err.code, 'timeout');
      assert.match(err.message, /timed out after 50ms/);
      return true;
    });
    assert.equal(attempts, 2);
  });
});

describe('typed errors', () => {
  const cases = [
    [400, 'invalid_request', InvalidRequestError],
    [401, 'unauthorized', UnauthorizedError],
    [403, 'forbidden', ForbiddenError],
    [404, 'not_found', NotFoundError],
    [429, 'rate_limited', RateLimitedError],
    [500, 'call_failed', CallFailedError],
    [409, 'conflict', ConflictError],
    [400, 'idempotency_error', IdempotencyError],
    [500, 'internal_error', InternalError],
  ] as const;

  for (const [status, code, Class] of cases) {
    test(`${status} ${code} raises ${Class.name}`, async () => {
      const f = fakeFetch(() => errorReply(status, code, `msg ${code}`, 'to', `req_${code}`));
      const kai = new KaiCalls({ apiKey: 'k', fetch: f, maxRetries: 0 });
      await assert.rejects(kai.calls.create({ agentId: 'a', to: '555' }), (err: unknown) => {
        assert.ok(err instanceof Class, `got ${String(err)}`);
        assert.ok(err instanceof KaiCallsError);
        assert.ok(err instanceof Error);
        assert.equal(err.name, Class.name);
        assert.equal(err.status, status);
        assert.equal(err.code, code);
        assert.equal(err.message, `msg ${code}`);
        assert.equal(err.param, 'to');
        assert.equal(err.requestId, `req_${code}`);
        assert.deepEqual(err.body, { error: { code, message: `msg ${code}`, param: 'to' } });
        return true;
      });
    });
  }

  test('param and requestId are null when absent', async () => {
    const f = fakeFetch(() => ({ status: 403, body: { error: { code: 'forbidden', message: 'Missing required scope' } } }));
    await assert.rejects(new KaiCalls({ apiKey: 'k', fetch: f }).calls.create({ agentId: 'a', to: '+1' }), (err: unknown) => {
      assert.ok(err instanceof ForbiddenError);
      assert.equal(err.param, null);
      assert.equal(err.requestId, null);
      assert.match(err.message, /Missing required scope/);
      return true;
    });
  });

  test('an unknown code keeps the base class (or the status class) and the code', async () => {
    const f = fakeFetch(() => ({ status: 405, body: { error: { code: 'method_not_allowed', message: 'no' } } }));
    await assert.rejects(new KaiCalls({ apiKey: 'k', fetch: f }).request('/api/v1/x', { method: 'PUT' }), (err: unknown) => {
      assert.ok(err instanceof KaiCallsError);
      assert.equal(err.constructor, KaiCallsError);
      assert.equal(err.code, 'method_not_allowed');
      return true;
    });
  });

  test('a non-JSON error body falls back to http_<status> and keeps the text', async () => {
    const f = fakeFetch(() => ({ status: 404, raw: '<html>nope</html>', headers: { 'Content-Type': 'text/html' } }));
    await assert.rejects(new KaiCalls({ apiKey: 'k', fetch: f }).calls.get('x'), (err: unknown) => {
      assert.ok(err instanceof NotFoundError);
      assert.equal(err.code, 'http_404');
      assert.equal(err.message, 'KaiCalls API error (HTTP 404)');
      assert.equal(err.body, '<html>nope</html>');
      return true;
    });
  });

  test('a string error (not the envelope) also falls back', async () => {
    const f = fakeFetch(() => ({ status: 400, body: { error: 'bad' } }));
    await assert.rejects(new KaiCalls({ apiKey: 'k', fetch: f }).calls.list(), (err: unknown) => {
      assert.ok(err instanceof InvalidRequestError);
      assert.equal(err.code, 'http_400');
      return true;
    });
  });
});

test('pathOf and queryOf helpers agree with the URL', () => {
  const req = { url: 'http://h/api/v1/calls?id=1', method: 'GET', headers: {}, body: undefined, at: 0 };
  assert.equal(pathOf(req), '/api/v1/calls');
  assert.deepEqual(queryOf(req), { id: '1' });
});
