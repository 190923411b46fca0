// The KaiCalls server's response types are generated from its OpenAPI document
// (`models.ts`, written by sdks/codegen/generate.py from openapi.json): exact field types,
// closed interfaces, so reading a field the server does not document is a compile error.
// They are re-exported here, under their document names (`Call`, `CallDetail`,
// `CallList`, `Agent`, `Lead`, ...) and under the names earlier versions exported.
//
// The hosted platform's answers (workspaces, evals, sign-up), which the document does not
// describe, stay hand-written below, with an index signature.

import type { Delivery, Event, TimelineEntry, Turn, Webhook } from './models.js';

export type * from './models.js';

/** A turn of a call's transcript: the document's `Turn`. */
export type TranscriptTurn = Turn;
/** A status change on a call's timeline: the document's `TimelineEntry`. */
export type CallEvent = TimelineEntry;
/** A webhook subscription: the document's `Webhook`. */
export type WebhookSubscription = Webhook;
/** A durable event: the document's `Event`. */
export type KaiEvent = Event;
/** A webhook delivery with its attempts: the document's `Delivery`. */
export type EventDelivery = Delivery;

// ---- the hosted platform's answers (not served by a self-hosted KaiCalls server)

export interface Workspace {
  id: string;
  name: string;
  lifecycle_state?: string;
  created_at?: string;
  updated_at?: string;
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
