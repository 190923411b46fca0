import { HttpClient, compact, sleep } from '../client.js';
import { KaiCallsError } from '../errors.js';
import { paginate } from '../pagination.js';
import type { Call, CallDetail, CallList, Recording, Transcript, TranscriptList } from '../models.js';

export type { TranscriptList } from '../models.js';

/** Statuses during which `wait()` keeps polling; any other value counts as finished. */
const ACTIVE_CALL_STATUSES = new Set(['queued', 'ringing', 'in-progress', 'in_progress', 'started']);

export interface CreateCallParams {
  /** The agent that speaks. */
  agentId: string;
  /** E.164 number to call, e.g. `+15125551234`. */
  to: string;
  /** Customer name; the agent greets them by it. */
  name?: string;
  /** Freeform context the agent can reference (≤ 10,000 characters). */
  context?: string;
  /** Overrides the agent's opening line for this call. */
  firstMessage?: string;
  /** Links the call to a lead (enrichment with score, history, source). */
  leadId?: string;
  /** Receives `call.completed` / `call.failed` (plus `webhookEvents`), signed with the business secret. */
  webhookUrl?: string;
  /** Seconds, 10..=3600 (default 600). */
  maxDuration?: number;
  /** Flat object (≤ 20 keys), echoed on the call and in its webhooks. */
  metadata?: Record<string, string | number | boolean | null>;
  /** Extra events for `webhookUrl`: `call.queued`, `call.ringing`, `call.in_progress`. */
  webhookEvents?: string[];
  /** When to place the call (ISO 8601, ≤ 90 days ahead); until then it is `queued`. */
  scheduledAt?: string;
  /** Move a time outside the recipient's calling hours to their next allowed moment instead of refusing it. */
  respectCallingHours?: boolean;
}

export interface CreateCallOptions {
  /** Sent as `Idempotency-Key`; default: a random UUID, reused by the SDK's retries. */
  idempotencyKey?: string;
}

export interface ListCallsParams {
  /** 1..=100 (default 50). */
  limit?: number;
  agentId?: string;
  /** Only the calls this campaign placed. */
  campaignId?: string;
  status?: string;
  /** Only calls the agents answered (`inbound`) or placed (`outbound`). */
  direction?: CallDirection;
  /** Cursor: the `created_at` of the last call of the previous page. */
  after?: string;
}

/** `inbound`: a call one of your agents answered; `outbound`: one KaiCalls placed. */
export type CallDirection = 'inbound' | 'outbound';

export interface WaitOptions {
  /** Time between polls. Default: 3000. */
  intervalMs?: number;
  /** Give up (throwing `KaiCallsError` with code `wait_timeout`) after this long. Default: 600000. */
  timeoutMs?: number;
}

export class CallsResource {
  constructor(private readonly http: HttpClient) {}

  /** Places an outbound call. Requires calls:write. */
  create(params: CreateCallParams, options: CreateCallOptions = {}): Promise<Call> {
    return this.http.request<Call>('/api/v1/calls', {
      method: 'POST',
      idempotencyKey: options.idempotencyKey,
      body: compact({
        agent_id: params.agentId,
        to: params.to,
        name: params.name,
        context: params.context,
        first_message: params.firstMessage,
        lead_id: params.leadId,
        webhook_url: params.webhookUrl,
        max_duration: params.maxDuration,
        metadata: params.metadata,
        webhook_events: params.webhookEvents,
        scheduled_at: params.scheduledAt,
        respect_calling_hours: params.respectCallingHours,
      }),
    });
  }

  /**
   * Fetches one call with its summary, recording, quality scores and transcript.
   * With `wait` (seconds, ≤ 60) the server answers as soon as the call is finished,
   * or after that many seconds with its current state. Requires calls:read.
   */
  get(id: string, options: { wait?: number } = {}): Promise<CallDetail> {
    const wait = options.wait;
    return this.http.request<CallDetail>('/api/v1/calls', {
      query: { id, wait },
      timeoutMs: wait === undefined ? undefined : Math.max(this.http.timeoutMs, wait * 1000 + 10_000),
    });
  }

  /** One page of calls, newest first. Requires calls:read. */
  list(params: ListCallsParams = {}): Promise<CallList> {
    return this.http.request<CallList>('/api/v1/calls', {
      query: {
        limit: params.limit,
        agent_id: params.agentId,
        campaign_id: params.campaignId,
        status: params.status,
        direction: params.direction,
        after: params.after,
      },
    });
  }

  /**
   * Every call, newest first, fetching pages as needed:
   * `for await (const call of kai.calls.iterate({ limit: 100 })) { … }`.
   */
  iterate(params: ListCallsParams = {}): AsyncGenerator<Call, void, undefined> {
    return paginate<Call>('calls', (after) => this.list({ ...params, after }), params.after);
  }

  /**
   * Polls until the call leaves an active status (queued, ringing, in_progress) and
   * returns it; throws `KaiCallsError` code `wait_timeout` after `timeoutMs`.
   */
  async wait(id: string, options: WaitOptions = {}): Promise<CallDetail> {
    const intervalMs = options.intervalMs ?? 3_000;
    const timeoutMs = options.timeoutMs ?? 10 * 60_000;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const call = await this.get(id);
      if (!ACTIVE_CALL_STATUSES.has(String(call.status))) return call;
      if (Date.now() >= deadline) {
        throw new KaiCallsError(
          0,
          'wait_timeout',
          `Call ${id} still "${call.status}" after ${timeoutMs}ms`,
          call,
        );
      }
      await sleep(intervalMs);
    }
  }

  /**
   * Hangs up a live call (`ended_reason: "ended_by_api"`) or cancels a queued one
   * (`status: "canceled"`); a finished call comes back unchanged. Requires calls:write.
   */
  end(id: string): Promise<CallDetail> {
    return this.http.request<CallDetail>('/api/v1/calls/end', { method: 'POST', query: { id } });
  }
}

export class RecordingsResource {
  constructor(private readonly http: HttpClient) {}

  /** A fresh signed recording URL and its status for one call. Requires calls:read. */
  get(callId: string): Promise<Recording> {
    return this.http.request<Recording>('/api/v1/recordings', { query: { call_id: callId } });
  }
}

export interface ListTranscriptsParams {
  limit?: number;
  agentId?: string;
  /** Cursor: the `created_at` of the last item of the previous page. */
  after?: string;
  /** Only calls from the last N days. */
  days?: number;
}

export class TranscriptsResource {
  constructor(private readonly http: HttpClient) {}

  /** Finished calls' transcripts with summaries, newest first. Requires calls:read. */
  list(params: ListTranscriptsParams = {}): Promise<TranscriptList> {
    return this.http.request<TranscriptList>('/api/v1/transcripts', {
      query: {
        limit: params.limit,
        agent_id: params.agentId,
        after: params.after,
        days: params.days,
      },
    });
  }

  /** Every transcript across pages, newest first. */
  iterate(params: ListTranscriptsParams = {}): AsyncGenerator<Transcript, void, undefined> {
    return paginate<Transcript>(
      'transcripts',
      (after) => this.list({ ...params, after }),
      params.after,
    );
  }
}
