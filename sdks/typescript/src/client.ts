/**
 * The transport: URL building, headers, timeouts, retries with backoff, error mapping.
 * Resources call `HttpClient.request`; users can too, through `KaiCalls.request`.
 */

import { KaiCallsError, errorEnvelope, errorFromResponse } from './errors.js';

export const VERSION = '0.2.0';
export const DEFAULT_BASE_URL = 'https://www.kaicalls.com';

export interface KaiCallsOptions {
  /** `kc_live_…` or `kc_test_…`. */
  apiKey: string;
  /**
   * The API origin, without `/api/v1` (the SDK appends the path itself).
   * Default: `process.env.KAICALLS_BASE_URL`, else https://www.kaicalls.com.
   */
  baseUrl?: string;
  /** Per-request (per-attempt) timeout in milliseconds. Default: 30000. */
  timeoutMs?: number;
  /** Custom fetch implementation (for tests or polyfills). Default: the global fetch. */
  fetch?: typeof fetch;
  /**
   * How many times a request is retried after a 429, a 5xx (except `call_failed`), a
   * timeout or a network error. Default: 2 (so at most 3 attempts). 0 disables retries.
   */
  maxRetries?: number;
  /** Longest wait between two attempts, also when `Retry-After` asks for more. Default: 60000. */
  maxRetryDelayMs?: number;
}

export type QueryValue = string | number | boolean | string[] | undefined | null;
export type Query = Record<string, QueryValue>;

export interface RequestOptions {
  method?: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  query?: Query;
  body?: unknown;
  headers?: Record<string, string>;
  /**
   * Idempotency key for this request. POST requests get a random one (crypto.randomUUID)
   * when none is given; the same key is reused by every retry of the request.
   */
  idempotencyKey?: string;
  /** Overrides the client's `timeoutMs` for this request. */
  timeoutMs?: number;
  /** Overrides the client's `maxRetries` for this request. */
  maxRetries?: number;
}

const INITIAL_RETRY_DELAY_MS = 500;
const MAX_BACKOFF_MS = 8_000;

function envBaseUrl(): string | undefined {
  const env = typeof process !== 'undefined' ? process.env?.KAICALLS_BASE_URL : undefined;
  return env && env.trim() !== '' ? env.trim() : undefined;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** `Retry-After` as milliseconds: delta-seconds or an HTTP date. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null) return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

/** Exponential backoff with jitter: ~0.5 s, 1 s, 2 s, … capped at 8 s. */
function backoffMs(attempt: number): number {
  const base = Math.min(MAX_BACKOFF_MS, INITIAL_RETRY_DELAY_MS * 2 ** attempt);
  return base * (0.75 + Math.random() * 0.25);
}

function isRetryableStatus(status: number, body: unknown): boolean {
  if (status === 429) return true;
  if (status < 500) return false;
  // A provider refusal is a final answer, and the server replays it for the same key.
  return errorEnvelope(body)?.code !== 'call_failed';
}

class TimeoutSignal extends Error {}

export class HttpClient {
  readonly apiKey: string;
  readonly baseUrl: string;
  readonly timeoutMs: number;
  readonly maxRetries: number;
  readonly maxRetryDelayMs: number;
  private readonly fetchImpl: typeof fetch;

  constructor(options: KaiCallsOptions) {
    if (!options?.apiKey) {
      throw new Error('KaiCalls: apiKey is required (kc_live_...)');
    }
    this.apiKey = options.apiKey;
    this.baseUrl = (options.baseUrl ?? envBaseUrl() ?? DEFAULT_BASE_URL).replace(/\/+$/, '');
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.maxRetries = Math.max(0, Math.floor(options.maxRetries ?? 2));
    this.maxRetryDelayMs = options.maxRetryDelayMs ?? 60_000;
    this.fetchImpl = options.fetch ?? ((input, init) => fetch(input, init));
  }

  /** The full URL for an origin-relative path such as `/api/v1/calls`. */
  url(path: string, query?: Query): string {
    const url = new URL(this.baseUrl + path);
    for (const [key, value] of Object.entries(query ?? {})) {
      if (value === undefined || value === null) continue;
      if (Array.isArray(value)) {
        for (const v of value) url.searchParams.append(key, v);
      } else {
        url.searchParams.set(key, String(value));
      }
    }
    return url.toString();
  }

  /**
   * Sends one logical request (retrying as configured) and returns the parsed JSON body
   * of the 2xx answer (null for an empty body). Non-2xx answers throw a `KaiCallsError`
   * subclass; a request that times out throws `KaiCallsError` with code `timeout`.
   */
  async request<T = unknown>(path: string, options: RequestOptions = {}): Promise<T> {
    const method = options.method ?? 'GET';
    const url = this.url(path, options.query);
    const headers: Record<string, string> = {
      Authorization: `Bearer ${this.apiKey}`,
      'Content-Type': 'application/json',
    };
    const idempotencyKey =
      options.idempotencyKey ?? (method === 'POST' ? globalThis.crypto.randomUUID() : undefined);
    if (idempotencyKey !== undefined) headers['Idempotency-Key'] = idempotencyKey;
    Object.assign(headers, options.headers);
    const body = options.body === undefined ? undefined : JSON.stringify(options.body);
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    const maxRetries = Math.max(0, Math.floor(options.maxRetries ?? this.maxRetries));

    for (let attempt = 0; ; attempt++) {
      const retriesLeft = attempt < maxRetries;
      let response: Response;
      let data: unknown;
      try {
        [response, data] = await this.send(url, { method, headers: { ...headers }, body }, timeoutMs);
      } catch (err) {
        if (retriesLeft) {
          await sleep(Math.min(backoffMs(attempt), this.maxRetryDelayMs));
          continue;
        }
        if (err instanceof TimeoutSignal) {
          throw new KaiCallsError(0, 'timeout', `Request timed out after ${timeoutMs}ms`, null);
        }
        throw err;
      }

      if (response.ok) return data as T;
      if (retriesLeft && isRetryableStatus(response.status, data)) {
        const asked = parseRetryAfter(response.headers.get('retry-after'));
        await sleep(Math.min(asked ?? backoffMs(attempt), this.maxRetryDelayMs));
        continue;
      }
      throw errorFromResponse(response.status, data, response.headers);
    }
  }

  /**
   * One streamed GET (the event stream): resolves with the response as soon as its
   * headers arrive, its body unread. No retries, no timeout: the caller owns both, and
   * the body, through `signal`.
   */
  openStream(
    path: string,
    options: { query?: Query; headers?: Record<string, string>; signal: AbortSignal },
  ): Promise<Response> {
    const headers: Record<string, string> = {
      Authorization: `Bearer ${this.apiKey}`,
      ...options.headers,
    };
    return this.fetchImpl(this.url(path, options.query), {
      method: 'GET',
      headers,
      signal: options.signal,
    });
  }

  /** One attempt: the timeout covers the whole exchange, body included. */
  private async send(
    url: string,
    init: RequestInit,
    timeoutMs: number,
  ): Promise<[Response, unknown]> {
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, timeoutMs);
    try {
      const response = await this.fetchImpl(url, { ...init, signal: controller.signal });
      return [response, await readBody(response)];
    } catch (err) {
      if (timedOut || (err as Error)?.name === 'AbortError') throw new TimeoutSignal();
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }
}

async function readBody(response: Response): Promise<unknown> {
  const text = await response.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Drops `undefined` values (keeps `null`), so unset parameters are never sent. */
export function compact(obj: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    if (v !== undefined) out[k] = v;
  }
  return out;
}
