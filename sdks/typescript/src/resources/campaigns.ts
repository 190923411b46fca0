import { HttpClient, compact } from '../client.js';
import { paginate } from '../pagination.js';
import type {
  CampaignCreated,
  CampaignList,
  CampaignStatus,
  CampaignView,
  Contact,
  ContactList,
  ContactState,
  ContactsAdded,
} from '../models.js';

/** One contact to call: a number, a lead, or both. */
export interface CampaignContactInput {
  /**
   * The contact's idempotent key: a row sent again with the same key is not added again
   * (default: its `leadId`, else its number).
   */
  key?: string;
  /** E.164 number; the lead's number when omitted. */
  to?: string;
  name?: string;
  /** Variables for this contact's call, over the campaign's (`{{name}}` in the templates). Sent as given. */
  variables?: Record<string, unknown>;
  leadId?: string;
}

/** Leads chosen by what they are (up to 10,000, newest first). */
export interface CampaignLeadFilter {
  /** Lead statuses (`new`, `contacted`, …). */
  status?: string[];
  source?: string;
  agentId?: string;
  scoreGte?: number;
  scoreLte?: number;
}

/** The campaign's daily window, in each recipient's local time, inside the law's and the business's. */
export interface CampaignCallingWindow {
  /** `HH:MM`, at or after 08:00. */
  start?: string;
  /** `HH:MM`, at or before 21:00. */
  end?: string;
  /** Days nobody is called (`sat`, `sun`, …). */
  quietDays?: string[];
}

/** When and how often an unanswered contact is called again; what is omitted keeps its default (or current value). */
export interface CampaignRetryInput {
  /** Attempts per contact in all, the first included (1 to 10; default 3). */
  maxAttempts?: number;
  /** The outcomes retried: `no_answer`, `busy`, `voicemail` (default the first two). */
  retryOn?: string[];
  /** Minutes from the end of one attempt to the next (1 to 10080; default 60). */
  spacingMinutes?: number;
}

/** The contacts to append: inline rows, leads by id, leads by filter (up to 10,000 in all). */
export interface AddCampaignContactsParams {
  contacts?: CampaignContactInput[];
  leadIds?: string[];
  leadFilter?: CampaignLeadFilter;
}

/** The settings a campaign's edit may change; omitted fields stay. */
export interface UpdateCampaignParams {
  name?: string;
  /** The context each call carries, with `{{variables}}` filled per contact (≤ 10,000 characters). */
  context?: string;
  /** The greeting, with `{{variables}}` (default: the agent's). */
  firstMessage?: string;
  /** Variables every contact's call gets (a contact's own win). Sent as given. */
  variables?: Record<string, unknown>;
  /** Calls of this campaign live at once (1 to 1000; default 10). */
  maxConcurrency?: number;
  /** When it starts dialing once started (ISO 8601; default at once). */
  startsAt?: string;
  /** When it stops: contacts still pending then end `expired`. */
  endsAt?: string;
  callingWindow?: CampaignCallingWindow;
  retry?: CampaignRetryInput;
  /** Call only contacts with consent of this basis on record (`express`, `express_written`, `existing_customer`, `inquiry`). */
  requireConsent?: string;
  /** `leave_message` or `hang_up` on reaching a voicemail (default: the agent's). */
  voicemailAction?: string;
  /** The message left, with `{{variables}}`. */
  voicemailMessage?: string;
}

export interface CreateCampaignParams extends UpdateCampaignParams, AddCampaignContactsParams {
  name: string;
  /** The agent that speaks; it needs a phone number. */
  agentId: string;
  /** The caller id: the agent's number (the default; another is refused). */
  fromNumber?: string;
  /** Start at once (`scheduled` until `startsAt`); default false: a draft. */
  start?: boolean;
}

export interface CreateCampaignOptions {
  /** Sent as `Idempotency-Key`; default: a random UUID, reused by the SDK's retries. */
  idempotencyKey?: string;
}

export interface ListCampaignsParams {
  businessId?: string;
  status?: CampaignStatus;
  /** Cursor: the `created_at` of the last campaign of the previous page. */
  after?: string;
  /** 1..=100 (default 20). */
  limit?: number;
}

export interface ListCampaignContactsParams {
  state?: ContactState;
  /** Cursor: the `next_after` of the previous page. */
  after?: number;
  /** 1..=1000 (default 100). */
  limit?: number;
}

function contactBody(c: CampaignContactInput): Record<string, unknown> {
  return compact({ key: c.key, to: c.to, name: c.name, variables: c.variables, lead_id: c.leadId });
}

function leadFilterBody(f: CampaignLeadFilter | undefined): Record<string, unknown> | undefined {
  if (f === undefined) return undefined;
  return compact({
    status: f.status,
    source: f.source,
    agent_id: f.agentId,
    score_gte: f.scoreGte,
    score_lte: f.scoreLte,
  });
}

function contactsBody(params: AddCampaignContactsParams): Record<string, unknown> {
  return {
    contacts: params.contacts?.map(contactBody),
    lead_ids: params.leadIds,
    lead_filter: leadFilterBody(params.leadFilter),
  };
}

function settingsBody(params: UpdateCampaignParams): Record<string, unknown> {
  const w = params.callingWindow;
  const r = params.retry;
  return {
    name: params.name,
    context: params.context,
    first_message: params.firstMessage,
    variables: params.variables,
    max_concurrency: params.maxConcurrency,
    starts_at: params.startsAt,
    ends_at: params.endsAt,
    calling_window: w === undefined ? undefined : compact({ start: w.start, end: w.end, quiet_days: w.quietDays }),
    retry:
      r === undefined
        ? undefined
        : compact({ max_attempts: r.maxAttempts, retry_on: r.retryOn, spacing_minutes: r.spacingMinutes }),
    require_consent: params.requireConsent,
    voicemail_action: params.voicemailAction,
    voicemail_message: params.voicemailMessage,
  };
}

/**
 * Outbound campaigns: an agent calls a list of contacts within `maxConcurrency`, the
 * calling window and the retry policy, every dial through the compliance gate.
 * Requires campaigns:read / campaigns:write.
 */
export class CampaignsResource {
  constructor(private readonly http: HttpClient) {}

  /** One page of campaigns, newest first, each with its counters. */
  list(params: ListCampaignsParams = {}): Promise<CampaignList> {
    return this.http.request<CampaignList>('/api/v1/campaigns', {
      query: {
        business_id: params.businessId,
        status: params.status,
        after: params.after,
        limit: params.limit,
      },
    });
  }

  /**
   * Every campaign, newest first, fetching pages as needed:
   * `for await (const c of kai.campaigns.iterate({ status: 'running' })) { … }`.
   */
  iterate(params: ListCampaignsParams = {}): AsyncGenerator<CampaignView, void, undefined> {
    return paginate<CampaignView>('campaigns', (after) => this.list({ ...params, after }), params.after);
  }

  /** One campaign with its counters by contact state, outcome and skip reason. */
  get(id: string): Promise<CampaignView> {
    return this.http.request<CampaignView>('/api/v1/campaigns', { query: { id } });
  }

  /**
   * Creates a campaign with up to 10,000 contacts: a draft, or started with `start: true`.
   * The answer carries `contacts_added` (added, already present, duplicate, invalid number).
   */
  create(params: CreateCampaignParams, options: CreateCampaignOptions = {}): Promise<CampaignCreated> {
    return this.http.request<CampaignCreated>('/api/v1/campaigns', {
      method: 'POST',
      idempotencyKey: options.idempotencyKey,
      body: compact({
        ...settingsBody(params),
        agent_id: params.agentId,
        from_number: params.fromNumber,
        ...contactsBody(params),
        start: params.start,
      }),
    });
  }

  /** Edits a draft, scheduled or paused campaign (a running one is 409: pause it first). */
  update(id: string, fields: UpdateCampaignParams): Promise<CampaignView> {
    return this.http.request<CampaignView>('/api/v1/campaigns', {
      method: 'PATCH',
      query: { id },
      body: compact(settingsBody(fields)),
    });
  }

  /** One page of a campaign's contacts, in the order added, with attempts, calls, outcomes and skip reasons. */
  contacts(id: string, params: ListCampaignContactsParams = {}): Promise<ContactList> {
    return this.http.request<ContactList>('/api/v1/campaigns/contacts', {
      query: { id, state: params.state, after: params.after, limit: params.limit },
    });
  }

  /**
   * Every contact of a campaign, in the order added, following `next_after`:
   * `for await (const c of kai.campaigns.iterateContacts(id, { state: 'skipped' })) { … }`.
   */
  async *iterateContacts(
    id: string,
    params: ListCampaignContactsParams = {},
  ): AsyncGenerator<Contact, void, undefined> {
    let after = params.after;
    for (;;) {
      const page = await this.contacts(id, { ...params, after });
      const items = Array.isArray(page.contacts) ? page.contacts : [];
      for (const contact of items) yield contact;
      const next = page.next_after;
      if (page.has_more !== true || items.length === 0 || typeof next !== 'number') return;
      if (next === after) return; // a server that ignores the cursor would loop
      after = next;
    }
  }

  /** Appends contacts; a row whose key the campaign already holds adds nothing. */
  addContacts(id: string, params: AddCampaignContactsParams): Promise<ContactsAdded> {
    return this.http.request<ContactsAdded>('/api/v1/campaigns/contacts', {
      method: 'POST',
      query: { id },
      body: compact(contactsBody(params)),
    });
  }

  /** Starts a draft: `running`, or `scheduled` until its `starts_at`. */
  start(id: string): Promise<CampaignView> {
    return this.http.request<CampaignView>('/api/v1/campaigns/start', { method: 'POST', query: { id } });
  }

  /** Pauses a running or scheduled campaign: no new dials; calls in progress finish. */
  pause(id: string): Promise<CampaignView> {
    return this.http.request<CampaignView>('/api/v1/campaigns/pause', { method: 'POST', query: { id } });
  }

  /** Resumes a paused campaign where it stopped (anything else is 409). */
  resume(id: string): Promise<CampaignView> {
    return this.http.request<CampaignView>('/api/v1/campaigns/resume', { method: 'POST', query: { id } });
  }

  /** Cancels a campaign: pending contacts end `canceled`; calls in progress finish. */
  cancel(id: string): Promise<CampaignView> {
    return this.http.request<CampaignView>('/api/v1/campaigns/cancel', { method: 'POST', query: { id } });
  }
}
