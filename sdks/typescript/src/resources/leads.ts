import { HttpClient, compact } from '../client.js';
import type { Lead, LeadList } from '../models.js';

export interface ListLeadsParams {
  /** One status or several (sent comma-separated). */
  status?: string | string[];
  source?: string;
  agentId?: string;
  phone?: string;
  email?: string;
  createdAfter?: string;
  createdBefore?: string;
  updatedAfter?: string;
  updatedBefore?: string;
  scoreGte?: number;
  scoreLte?: number;
  limit?: number;
}

export interface CreateLeadParams {
  businessId: string;
  name?: string;
  firstName?: string;
  lastName?: string;
  email?: string;
  phone?: string;
  address?: string;
  city?: string;
  state?: string;
  zip?: string;
  status?: string;
  source?: string;
  sourceUrl?: string;
  sourcePage?: string;
  notes?: string;
  message?: string;
  eventDate?: string;
  eventType?: string;
  agentId?: string;
  timezone?: string;
}

export class LeadsResource {
  constructor(private readonly http: HttpClient) {}

  /** Leads matching the filters. Requires leads:read. */
  list(params: ListLeadsParams = {}): Promise<LeadList> {
    return this.http.request<LeadList>('/api/v1/leads', {
      query: {
        status: Array.isArray(params.status) ? params.status.join(',') : params.status,
        source: params.source,
        agent_id: params.agentId,
        phone: params.phone,
        email: params.email,
        created_after: params.createdAfter,
        created_before: params.createdBefore,
        updated_after: params.updatedAfter,
        updated_before: params.updatedBefore,
        score_gte: params.scoreGte,
        score_lte: params.scoreLte,
        limit: params.limit,
      },
    });
  }

  /** One lead. Requires leads:read. */
  get(id: string): Promise<Lead> {
    return this.http.request<Lead>('/api/v1/leads', { query: { id } });
  }

  /** Creates a lead. Requires leads:write. */
  create(params: CreateLeadParams): Promise<Lead> {
    return this.http.request<Lead>('/api/v1/leads', {
      method: 'POST',
      body: compact({
        business_id: params.businessId,
        name: params.name,
        first_name: params.firstName,
        last_name: params.lastName,
        email: params.email,
        phone: params.phone,
        address: params.address,
        city: params.city,
        state: params.state,
        zip: params.zip,
        status: params.status,
        source: params.source,
        source_url: params.sourceUrl,
        source_page: params.sourcePage,
        notes: params.notes,
        message: params.message,
        event_date: params.eventDate,
        event_type: params.eventType,
        agent_id: params.agentId,
        timezone: params.timezone,
      }),
    });
  }

  /**
   * Partial update. The object is sent as given (keys are NOT renamed: use the
   * snake_case field names, e.g. `{ id, first_name: 'Ann' }`). Requires leads:write.
   */
  update(params: { id: string } & Record<string, unknown>): Promise<Lead> {
    return this.http.request<Lead>('/api/v1/leads', { method: 'PATCH', body: compact(params) });
  }

  /** Pipeline health snapshot (hosted platform). Requires leads:read. */
  audit(
    params: { windowHours?: number; stalledDays?: number; hotScore?: number; asOf?: string } = {},
  ): Promise<Record<string, unknown>> {
    return this.http.request('/api/v1/leads/audit', {
      query: {
        window_hours: params.windowHours,
        stalled_days: params.stalledDays,
        hot_score: params.hotScore,
        as_of: params.asOf,
      },
    });
  }
}
