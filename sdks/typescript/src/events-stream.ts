/**
 * `kai.events.stream()`: the live event stream (`GET /api/v1/events/stream`).
 *
 * The server sends Server-Sent Events: an opening message once the stream has its
 * position (`retry: 2000`, `id:` the starting point, i.e. the last event of the stream at
 * or before it, when there is one, and a `: connected` comment; no data), then one
 * message per event (`id:` the event id, `event:` its type, `data:` the event as
 * `/api/v1/events` lists it) and a `: heartbeat` comment every 15 s of silence. A request carrying `Last-Event-ID` gets every later event of the
 * tenant (matching the filters) exactly once, in commit order, then the live ones.
 *
 * `EventStream` turns that into an async iterator of `Event`s that never loses its
 * place: when the connection drops, goes silent for 45 s or the server ends the stream
 * (a restart), it reconnects with `Last-Event-ID` set to the last event it returned, or,
 * before the first one, to the starting point the opening message named, so the consumer
 * sees every event once, even when the first connection drops before its first event. Waits between attempts start at the server's
 * `retry` (2 s) and double after each failed attempt, up to 30 s (at least a 429's
 * `Retry-After`; at most the client's `maxRetryDelayMs`).
 *
 * - Network errors, timeouts, 408, 429 and 5xx are retried. The first connection gives
 *   up after the client's `maxRetries` (rejecting as any request would); reconnections
 *   of a stream that was open keep trying.
 * - Any other 4xx (400 bad `event_type` or unknown `Last-Event-ID`, 401, 403, 404) is
 *   thrown at once as the typed error, on the first connection and on reconnections.
 */

import { HttpClient, parseRetryAfter, type Query } from './client.js';
import { KaiCallsError, errorFromResponse } from './errors.js';
import type { Event } from './models.js';
import { IdOnly, SSEDecoder, type ServerSentEvent } from './sse.js';

export interface StreamEventsParams {
  /** Only these event types (`call.completed`, …): one, or several. */
  eventType?: string | string[];
  /** Only this call's events. */
  callId?: string;
  /** Only this business's events. */
  businessId?: string;
  /** Start after this event (every later one first, then live ones) instead of now. */
  lastEventId?: string;
  /** Reconnect when the connection ends (default true). false: the iteration ends instead. */
  reconnect?: boolean;
  /** Aborting it closes the stream: the iteration ends. */
  signal?: AbortSignal;
}

const PATH = '/api/v1/events/stream';
/** The reconnection delay until the server sends its `retry` (it sends 2000 ms). */
const DEFAULT_RETRY_MS = 2_000;
/** The longest wait between two connection attempts. */
const MAX_BACKOFF_MS = 30_000;
/** The server sends a heartbeat every 15 s: a connection silent this long is dead. */
const SILENCE_MS = 45_000;

/** A started `read()` of a response body. */
type PendingRead = ReturnType<ReadableStreamDefaultReader<Uint8Array>['read']>;

const DONE: IteratorReturnResult<undefined> = { done: true, value: undefined };

/**
 * The live events; see `kai.events.stream`. It starts connecting when created, so it
 * shows every event from then on; `await stream.ready()` waits until the server has
 * accepted it (and rejects with the typed error of a refused request). Iterate it with
 * `for await`; leaving the loop (`break`, `return`, a throw) or `close()` releases the
 * connection. `lastEventId` is the id of the last event returned, or the starting point
 * the server named: pass it as `lastEventId` to a new stream to resume where this one
 * stopped.
 */
export class EventStream implements AsyncIterableIterator<Event> {
  private readonly http: HttpClient;
  private readonly query: Query;
  private readonly reconnect: boolean;
  /** The resume point: the last event returned, or the starting point the server named. */
  private last: string | null;
  private retryMs = DEFAULT_RETRY_MS;
  /** Consecutive failed connection attempts. */
  private failures = 0;
  /** Whether a connection was ever open (then reconnections never give up). */
  private wasOpen = false;
  private retryAfterMs = 0;
  private opened = 0;
  private isClosed = false;
  private decoder = new SSEDecoder();
  private text = new TextDecoder();
  private queue: Event[] = [];
  private reader: ReadableStreamDefaultReader<Uint8Array> | null = null;
  /** The connection's first read, started as soon as it opens (see `connect`). */
  private ahead: PendingRead | null = null;
  private connection: AbortController | null = null;
  private readonly closer = new AbortController();
  private readonly opening: Promise<void>;
  private pending: Promise<unknown> = Promise.resolve();

  constructor(http: HttpClient, params: StreamEventsParams = {}) {
    this.http = http;
    const types = Array.isArray(params.eventType) ? params.eventType.join(',') : params.eventType;
    this.query = { business_id: params.businessId, event_type: types, call_id: params.callId };
    this.reconnect = params.reconnect ?? true;
    this.last = params.lastEventId || null;
    const signal = params.signal;
    if (signal?.aborted) this.close();
    signal?.addEventListener('abort', () => this.close(), { once: true });
    this.opening = this.connect();
    // Surfaced by ready() and next(); never an unhandled rejection.
    this.opening.catch(() => undefined);
  }

  /**
   * The id of the last event returned, or the starting point the server named (or the
   * `lastEventId` it started after): where a reconnection resumes.
   */
  get lastEventId(): string | null {
    return this.last;
  }

  /** How many connections the stream has opened (1 + its reconnections). */
  get connections(): number {
    return this.opened;
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /** Resolves once the first connection is open; rejects with the error that refused it. */
  ready(): Promise<void> {
    return this.opening;
  }

  /** Closes the connection; the iteration ends. */
  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.queue = [];
    this.closer.abort();
    this.release();
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<Event, undefined>> {
    // One at a time, even if called without awaiting the previous one.
    const result = this.pending.then(() => this.advance());
    this.pending = result.catch(() => undefined);
    return result;
  }

  async return(): Promise<IteratorResult<Event, undefined>> {
    this.close();
    return DONE;
  }

  private async advance(): Promise<IteratorResult<Event, undefined>> {
    await this.opening;
    for (;;) {
      const event = this.queue.shift();
      if (event !== undefined) {
        this.last = event.id || this.last;
        return { done: false, value: event };
      }
      if (this.isClosed) return DONE;
      const reader = this.reader;
      if (reader === null) {
        await this.connect();
        continue;
      }
      let chunk: Uint8Array | undefined;
      const ahead = this.ahead;
      this.ahead = null;
      try {
        chunk = await this.read(reader, ahead);
      } catch (err) {
        if (this.isClosed) return DONE;
        this.dropped(err);
        continue;
      }
      if (chunk === undefined) {
        this.dropped(undefined);
        continue;
      }
      this.feed(chunk);
    }
  }

  /**
   * The next chunk of the body (`ahead`, if that read was already started), undefined at
   * its end; rejects after `SILENCE_MS` of nothing.
   */
  private read(
    reader: ReadableStreamDefaultReader<Uint8Array>,
    ahead: PendingRead | null = null,
  ): Promise<Uint8Array | undefined> {
    const silence = Math.max(this.http.timeoutMs, SILENCE_MS);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new KaiCallsError(0, 'timeout', `The event stream sent nothing for ${silence}ms`, null));
        this.release();
      }, silence);
      (ahead ?? reader.read()).then(
        ({ done, value }) => {
          clearTimeout(timer);
          resolve(done ? undefined : value);
        },
        (err: unknown) => {
          clearTimeout(timer);
          reject(err);
        },
      );
    });
  }

  /**
   * Queues the events a chunk of the body completed. A message with an `id` and no data
   * (the opening) names the stream's starting point: it becomes the resume point, unless
   * received events still wait to be returned (the resume point never passes an event
   * the consumer was not given).
   */
  private feed(chunk: Uint8Array): void {
    const messages = this.decoder.messages(this.text.decode(chunk, { stream: true }));
    if (this.decoder.retry !== null) this.retryMs = this.decoder.retry;
    for (const message of messages) {
      if (message instanceof IdOnly) {
        if (this.queue.length === 0) this.last = message.id;
        continue;
      }
      let event: Event;
      try {
        event = toEvent(message);
      } catch (err) {
        this.close();
        throw err;
      }
      this.queue.push(event);
    }
  }

  /** The connection ended (`err` undefined: the server closed the stream). */
  private dropped(err: unknown): void {
    this.release();
    if (this.reconnect) return;
    this.close();
    if (err !== undefined) throw err;
  }

  private release(): void {
    const { reader, connection } = this;
    this.reader = null;
    this.ahead = null;
    this.connection = null;
    reader?.cancel().catch(() => undefined);
    connection?.abort();
  }

  /**
   * Milliseconds to wait before the next attempt: none before the first, `retry` before
   * a reconnection, doubled after each failed attempt.
   */
  private waitMs(): number {
    if (!this.wasOpen && this.failures === 0) return 0;
    const exponent = this.wasOpen ? this.failures : this.failures - 1;
    const backoff = Math.min(MAX_BACKOFF_MS, this.retryMs * 2 ** exponent);
    return Math.min(Math.max(backoff, this.retryAfterMs), this.http.maxRetryDelayMs);
  }

  private async connect(): Promise<void> {
    while (!this.isClosed) {
      const wait = this.waitMs();
      if (wait > 0) await this.sleep(wait);
      if (this.isClosed) return;
      const headers: Record<string, string> = {
        Accept: 'text/event-stream',
        'Cache-Control': 'no-cache',
      };
      if (this.last) headers['Last-Event-ID'] = this.last;
      const connection = new AbortController();
      this.connection = connection;
      let timedOut = false;
      const timeoutMs = this.http.timeoutMs;
      const timer = setTimeout(() => {
        timedOut = true;
        connection.abort();
      }, timeoutMs);
      let response: Response;
      try {
        response = await this.http.openStream(PATH, { query: this.query, headers, signal: connection.signal });
      } catch (err) {
        if (this.isClosed) return;
        this.connection = null;
        this.failed(
          timedOut ? new KaiCallsError(0, 'timeout', `Request timed out after ${timeoutMs}ms`, null) : err,
          0,
        );
        continue;
      } finally {
        clearTimeout(timer);
      }
      if (response.ok) {
        const type = response.headers.get('content-type') ?? '';
        if (!type.toLowerCase().startsWith('text/event-stream') || response.body === null) {
          this.close();
          throw new KaiCallsError(
            response.status,
            'unexpected_response',
            `${PATH} answered ${response.status} with ${type || 'no content type'}, not an event stream`,
            null,
            { requestId: response.headers.get('request-id'), headers: response.headers },
          );
        }
        this.failures = 0;
        this.retryAfterMs = 0;
        this.wasOpen = true;
        this.opened++;
        this.decoder = new SSEDecoder();
        this.text = new TextDecoder();
        this.reader = response.body.getReader();
        // Takes the first chunk (the opening, naming the starting point) off the body at
        // once, before the consumer asks: a body that breaks discards the chunks still
        // queued in it, and without the opening a connection cut before its first event
        // would have nothing to resume from.
        this.ahead = this.reader.read();
        this.ahead.catch(() => undefined);
        return;
      }
      const body = await readBody(response);
      this.connection = null;
      const error = errorFromResponse(response.status, body, response.headers);
      const status = response.status;
      if (!(status === 408 || status === 429 || status >= 500)) {
        this.close();
        throw error;
      }
      this.failed(error, parseRetryAfter(response.headers.get('retry-after')) ?? 0);
    }
  }

  private failed(error: unknown, retryAfterMs: number): void {
    this.failures++;
    this.retryAfterMs = retryAfterMs;
    if (!this.wasOpen && this.failures > this.http.maxRetries) {
      this.close();
      throw error;
    }
  }

  /** Waits `ms`, or less if the stream is closed meanwhile. */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const signal = this.closer.signal;
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
    });
  }
}

function toEvent(message: ServerSentEvent): Event {
  let data: unknown;
  try {
    data = JSON.parse(message.data);
  } catch {
    data = undefined;
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new KaiCallsError(
      0,
      'unexpected_response',
      `The event stream sent a message that is not an event: ${message.data.slice(0, 200)}`,
      message.data,
    );
  }
  const event = data as Event;
  if (message.id && !event.id) event.id = message.id;
  return event;
}

async function readBody(response: Response): Promise<unknown> {
  let text: string;
  try {
    text = await response.text();
  } catch {
    return null;
  }
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
