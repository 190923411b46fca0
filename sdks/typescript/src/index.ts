/**
 * KaiCalls: give your AI agent a phone.
 *
 * ```ts
 * import { KaiCalls } from 'kaicalls';
 *
 * const kai = new KaiCalls({ apiKey: 'kc_live_...' });
 * const call = await kai.calls.create({ agentId: 'uuid-abc123', to: '+15125551234', name: 'John Smith' });
 * const result = await kai.calls.wait(call.id);
 * console.log(result.summary);
 * ```
 */

import { HttpClient, type KaiCallsOptions, type RequestOptions } from './client.js';
import { AccountResource, DiscoveryResource, signup } from './resources/account.js';
import { CampaignsResource } from './resources/campaigns.js';
import { ComplianceResource } from './resources/compliance.js';
import { AgentsResource } from './resources/agents.js';
import { CallsResource, RecordingsResource, TranscriptsResource } from './resources/calls.js';
import { LeadsResource } from './resources/leads.js';
import { PhoneNumbersResource } from './resources/numbers.js';
import { SandboxResource } from './resources/sandbox.js';
import { StaffAlertsResource } from './resources/staff-alerts.js';
import { VoicemailsResource } from './resources/voicemails.js';
import {
  AnalyticsResource,
  CommunicationRunsResource,
  EvalsResource,
  SmsResource,
  WorkspacesResource,
} from './resources/platform.js';
import { EventsResource, WebhooksResource } from './resources/webhooks.js';
import type { Health } from './models.js';

export { DEFAULT_BASE_URL, VERSION, HttpClient } from './client.js';
export type { KaiCallsOptions, Query, QueryValue, RequestOptions } from './client.js';
export {
  CallFailedError,
  ConflictError,
  ForbiddenError,
  IdempotencyError,
  InternalError,
  InvalidRequestError,
  KaiCallsError,
  NotFoundError,
  RateLimitedError,
  UnauthorizedError,
} from './errors.js';
export type { KaiCallsErrorBody, KaiCallsErrorDetails } from './errors.js';
export { signWebhook, verifyWebhook, WebhookVerificationError } from './verify-webhook.js';
export type { VerifyWebhookOptions, WebhookHeaders } from './verify-webhook.js';
export { paginate } from './pagination.js';
export { EventStream } from './events-stream.js';
export type { StreamEventsParams } from './events-stream.js';
export { IdOnly, SSEDecoder } from './sse.js';
export type { ServerSentEvent } from './sse.js';
export * from './types.js';
export type { SignupParams } from './resources/account.js';
export type {
  BusinessHoursInput,
  CreateAgentParams,
  TransferDestinationInput,
  UpdateAgentParams,
} from './resources/agents.js';
export type {
  AddCampaignContactsParams,
  CampaignCallingWindow,
  CampaignContactInput,
  CampaignLeadFilter,
  CampaignRetryInput,
  CreateCampaignOptions,
  CreateCampaignParams,
  ListCampaignContactsParams,
  ListCampaignsParams,
  UpdateCampaignParams,
} from './resources/campaigns.js';
export type {
  CallDirection,
  CreateCallOptions,
  CreateCallParams,
  ListCallsParams,
  ListTranscriptsParams,
  TranscriptList,
  WaitOptions,
} from './resources/calls.js';
export type { CreateLeadParams, ListLeadsParams } from './resources/leads.js';
export { SANDBOX_CALLERS } from './resources/sandbox.js';
export type { RingOptions, RingParams } from './resources/sandbox.js';
export type {
  ListStaffAlertsParams,
  StaffAlertEvent,
  UpdateStaffAlertSettingsParams,
} from './resources/staff-alerts.js';
export type { ListVoicemailsParams } from './resources/voicemails.js';
export type {
  CreateWebhookParams,
  ListDeliveriesParams,
  ListEventsParams,
  ReplayParams,
} from './resources/webhooks.js';
export {
  AccountResource,
  AgentsResource,
  AnalyticsResource,
  CallsResource,
  CampaignsResource,
  CommunicationRunsResource,
  ComplianceResource,
  DiscoveryResource,
  EvalsResource,
  EventsResource,
  LeadsResource,
  PhoneNumbersResource,
  RecordingsResource,
  SandboxResource,
  SmsResource,
  StaffAlertsResource,
  TranscriptsResource,
  VoicemailsResource,
  WebhooksResource,
  WorkspacesResource,
  signup,
};

/** The KaiCalls API client. */
export class KaiCalls {
  private readonly http: HttpClient;

  readonly calls: CallsResource;
  readonly recordings: RecordingsResource;
  readonly agents: AgentsResource;
  readonly leads: LeadsResource;
  readonly transcripts: TranscriptsResource;
  readonly phoneNumbers: PhoneNumbersResource;
  readonly webhooks: WebhooksResource;
  readonly events: EventsResource;
  readonly discovery: DiscoveryResource;
  readonly account: AccountResource;
  readonly compliance: ComplianceResource;
  readonly campaigns: CampaignsResource;
  /** Messages callers left on inbound calls. */
  readonly voicemails: VoicemailsResource;
  /** Who on the staff hears about new leads, callbacks, follow-ups and voicemails, and the alerts sent. */
  readonly staffAlerts: StaffAlertsResource;
  /** Simulated inbound calls (test keys). */
  readonly sandbox: SandboxResource;
  /** Hosted platform only. */
  readonly sms: SmsResource;
  /** Hosted platform only. */
  readonly workspaces: WorkspacesResource;
  /** Hosted platform only. */
  readonly analytics: AnalyticsResource;
  /** Hosted platform only. */
  readonly evals: EvalsResource;
  /** Hosted platform only. */
  readonly communicationRuns: CommunicationRunsResource;

  /** Creates a KaiCalls account (hosted platform). Needs no API key. */
  static signup = signup;

  constructor(options: KaiCallsOptions) {
    this.http = new HttpClient(options);
    this.calls = new CallsResource(this.http);
    this.recordings = new RecordingsResource(this.http);
    this.agents = new AgentsResource(this.http);
    this.leads = new LeadsResource(this.http);
    this.transcripts = new TranscriptsResource(this.http);
    this.phoneNumbers = new PhoneNumbersResource(this.http);
    this.webhooks = new WebhooksResource(this.http);
    this.events = new EventsResource(this.http);
    this.discovery = new DiscoveryResource(this.http);
    this.account = new AccountResource(this.http);
    this.compliance = new ComplianceResource(this.http);
    this.campaigns = new CampaignsResource(this.http);
    this.voicemails = new VoicemailsResource(this.http);
    this.staffAlerts = new StaffAlertsResource(this.http);
    this.sandbox = new SandboxResource(this.http);
    this.sms = new SmsResource(this.http);
    this.workspaces = new WorkspacesResource(this.http);
    this.analytics = new AnalyticsResource(this.http);
    this.evals = new EvalsResource(this.http);
    this.communicationRuns = new CommunicationRunsResource(this.http);
  }

  /** The origin requests go to (without `/api/v1`). */
  get baseUrl(): string {
    return this.http.baseUrl;
  }

  /** `{status, database, version}` from `GET /api/v1/health`. */
  health(): Promise<Health> {
    return this.discovery.health();
  }

  /** The OpenAPI document from `GET /api/v1/openapi.json`. */
  openapi(): Promise<Record<string, unknown>> {
    return this.discovery.openapi();
  }

  /**
   * Raw escape hatch for any path relative to the origin, with the client's headers,
   * retries and error handling: `kai.request('/api/v1/numbers')`.
   */
  request<T = unknown>(path: string, options?: RequestOptions): Promise<T> {
    return this.http.request<T>(path, options);
  }
}

export default KaiCalls;
