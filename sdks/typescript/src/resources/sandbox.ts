import { HttpClient } from '../client.js';
import type { Call } from '../models.js';

/** Simulated callers whose number picks the sandbox conversation (`kai.sandbox.ring`). */
export const SANDBOX_CALLERS = {
  /** Hangs up at once: a missed call, no conversation. */
  hangsUp: '+15005550100',
  /** Asks for a person: ends `transferred` when the agent has a transfer destination, else leaves a voicemail. */
  wantsAHuman: '+15005550101',
  /** Leaves a voicemail. */
  leavesVoicemail: '+15005550102',
  /** Asks not to be called again: the number goes on the do-not-call list. */
  optsOut: '+15005550103',
  /** Asks to be called back (`schedule_callback`). */
  wantsACallback: '+15005550104',
} as const;

export interface RingParams {
  /** One of your numbers (E.164): its agent answers. */
  to: string;
  /**
   * The simulated caller (E.164): one of `SANDBOX_CALLERS`, or any other number for an
   * intake conversation (an unknown number becomes a lead, source `inbound_call`).
   */
  from: string;
}

export interface RingOptions {
  /** Sent as `Idempotency-Key`; default: a random UUID, reused by the SDK's retries. */
  idempotencyKey?: string;
}

/** The sandbox: simulated inbound calls, with a test key (`kc_test_…`) only. */
export class SandboxResource {
  constructor(private readonly http: HttpClient) {}

  /**
   * Rings one of your numbers as a simulated caller: the agent answers, a scripted
   * conversation plays, and the call (`direction: "inbound"`) finishes like any other
   * (`kai.calls.wait(call.id)`). Requires calls:write and a test key.
   */
  ring(params: RingParams, options: RingOptions = {}): Promise<Call> {
    return this.http.request<Call>('/api/v1/sandbox/inbound-calls', {
      method: 'POST',
      idempotencyKey: options.idempotencyKey,
      body: { to: params.to, from: params.from },
    });
  }
}
