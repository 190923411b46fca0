// Response types are deliberately permissive: each names its documented fields and
// keeps an index signature, so a field the server adds never breaks a consumer.

export type CallStatus = 'queued' | 'ringing' | 'in_progress' | 'completed' | 'failed' | 'canceled';

export interface TranscriptTurn {
  role: 'agent' | 'customer' | string;
  text: string;
  /** Seconds from the start of the call. */
  start_s: number;
  [key: string]: unknown;
}

export interface CallEvent {
  type: string;
  status: string;
  created_at: string;
  [key: string]: unknown;
}

export interface Call {
  id: string;
  conversation_id?: string | null;
  /** `queued`, `ringing`, `in_progress` while active; `completed`, `failed`, `canceled` at the end. */
  status: CallStatus | string;
  direction?: 'inbound' | 'outbound';
  /** Seconds. */
  duration?: number | null;
  agent_id?: string | null;
  agent_name?: string | null;
  business_id?: string | null;
  lead_id?: string | null;
  summary?: string | null;
  recording_url?: string | null;
  quality_dimensions?: Record<string, unknown> | null;
  created_at?: string;
  to?: string;
  from?: string | null;
  name?: string | null;
  context?: string | null;
  first_message?: string | null;
  max_duration?: number | null;
  webhook_url?: string | null;
  /** `customer_hangup`, `agent_hangup`, `voicemail`, `max_duration`, `ended_by_api`, `no_answer`, `busy`, `invalid_number`, `provider_error`. */
  ended_reason?: string | null;
  provider_ended_reason?: string | null;
  error?: string | null;
  outcome?: string | null;
  metadata?: Record<string, unknown> | null;
  cost_cents?: number | null;
  mode?: 'live' | 'test' | string;
  scheduled_at?: string | null;
  started_at?: string | null;
  ended_at?: string | null;
  /** Call detail only. */
  transcript?: TranscriptTurn[] | null;
  /** Call detail only: the enrichment variables the agent received. */
  variables?: Record<string, unknown> | null;
  /** Call detail only: every status change with its time. */
  events?: CallEvent[];
  [key: string]: unknown;
}

export interface CallList {
  calls: Call[];
  has_more?: boolean;
  [key: string]: unknown;
}

export interface Agent {
  id: string;
  name: string;
  business_id?: string;
  vapi_assistant_id?: string | null;
  phone_number?: string | null;
  phone_number_id?: string | null;
  prompts?: Record<string, unknown>;
  system_prompt?: string | null;
  voice?: { provider?: string; voiceId?: string; [key: string]: unknown };
  model?: { provider?: string; model?: string; temperature?: number; [key: string]: unknown };
  metadata?: Record<string, unknown>;
  first_message?: string | null;
  max_duration?: number | null;
  created_at?: string;
  updated_at?: string;
  [key: string]: unknown;
}

export interface Lead {
  id: string;
  name?: string | null;
  first_name?: string | null;
  last_name?: string | null;
  email?: string | null;
  phone?: string | null;
  status?: string;
  source?: string | null;
  agent_id?: string | null;
  business_id?: string | null;
  notes?: string | null;
  score?: number | null;
  interaction_count?: number;
  metadata?: Record<string, unknown>;
  created_at?: string;
  updated_at?: string;
  [key: string]: unknown;
}

export interface Transcript {
  call_id: string;
  conversation_id?: string | null;
  agent_id?: string | null;
  agent_name?: string | null;
  status?: string;
  duration?: number | null;
  summary?: string | null;
  /** The server answers the turns; the published client typed this as a string. */
  transcript?: TranscriptTurn[] | string | null;
  created_at?: string;
  [key: string]: unknown;
}

export interface PhoneNumber {
  id?: string;
  phone_number: string;
  agent_id?: string | null;
  business_id?: string | null;
  vapi_phone_number_id?: string | null;
  capabilities?: Record<string, boolean>;
  compliance?: Record<string, unknown>;
  created_at?: string;
  [key: string]: unknown;
}

export interface Workspace {
  id: string;
  name: string;
  lifecycle_state?: string;
  created_at?: string;
  updated_at?: string;
  [key: string]: unknown;
}

export interface WebhookSubscription {
  id: string;
  url: string;
  events: string[];
  description?: string | null;
  is_active?: boolean;
  webhook_secret_masked?: string;
  /** Only in the answers of create and rotate-secret. */
  webhook_secret?: string;
  business_id?: string;
  mode?: string;
  disabled_reason?: string | null;
  created_at?: string;
  updated_at?: string;
  [key: string]: unknown;
}

export interface KaiEvent {
  id: string;
  type: string;
  object_type?: string;
  object_id?: string;
  business_id?: string;
  mode?: string;
  created_at: string;
  data?: Record<string, unknown>;
  [key: string]: unknown;
}

export interface EventDelivery {
  [key: string]: unknown;
}

export interface Recording {
  call_id: string;
  /** `available`, `processing`, `pending` (call not over yet) or `unavailable`. */
  status: string;
  /** A signed link that expires at `expires_at`; null until available. */
  recording_url?: string | null;
  expires_at?: string | null;
  duration?: number | null;
  [key: string]: unknown;
}

export interface UsageRow {
  id: string;
  endpoint: string;
  method: string;
  status_code: number;
  call_id?: string | null;
  cost_cents?: number;
  created_at: string;
  [key: string]: unknown;
}

export interface BusinessBalance {
  business_id: string;
  minutes_used?: number;
  phone_numbers?: number;
  subscription_status?: string;
  [key: string]: unknown;
}

export interface EvalScenario {
  id: string;
  agent_id: string;
  business_id?: string;
  vapi_eval_id?: string;
  name: string;
  description?: string | null;
  messages?: unknown[];
  created_at?: string;
  [key: string]: unknown;
}

export interface EvalRun {
  run_id?: string;
  vapi_run_id?: string;
  status: string;
  passed?: boolean | null;
  results?: unknown[];
  [key: string]: unknown;
}

export interface Paginated<TKey extends string, TItem> {
  has_more?: boolean;
  [key: string]: unknown;
}

export interface SignupResult {
  api_key: string;
  business_id: string;
  agent_id: string | null;
  phone_number: string | null;
  dashboard_url?: string;
  trial_ends_at?: string;
  provisioning_deferred?: boolean;
  payment_capture?: string;
  checkout_url?: string;
  dashboard_magic_link?: string;
  [key: string]: unknown;
}
