import { HttpClient, compact } from '../client.js';
import type {
  Consent,
  ConsentList,
  DncAdded,
  DncEntry,
  DncList,
  RefusalList,
  Settings,
} from '../models.js';

/**
 * The do-not-call list, consent records, calling hours and the dials the pre-dial
 * gate refused. Requires compliance:read / compliance:write.
 */
export class ComplianceResource {
  constructor(private readonly http: HttpClient) {}

  /** The do-not-call list, newest first. */
  dncList(
    params: { phone?: string; businessId?: string; includeRemoved?: boolean; after?: string; limit?: number } = {},
  ): Promise<DncList> {
    return this.http.request<DncList>('/api/v1/dnc', {
      query: {
        phone: params.phone,
        business_id: params.businessId,
        include_removed: params.includeRemoved === undefined ? undefined : String(params.includeRemoved),
        after: params.after,
        limit: params.limit,
      },
    });
  }

  /** Puts one number on the list (listing it again changes nothing). */
  dncAdd(params: { phone: string; reason?: string; businessId?: string }): Promise<DncAdded> {
    return this.http.request<DncAdded>('/api/v1/dnc', {
      method: 'POST',
      body: compact({ phone: params.phone, reason: params.reason, business_id: params.businessId }),
    });
  }

  /** Puts up to 10,000 numbers on the list: `{added, already_listed, invalid}`. */
  dncImport(params: {
    numbers: Array<string | { phone: string; reason?: string }>;
    reason?: string;
    businessId?: string;
  }): Promise<DncAdded> {
    return this.http.request<DncAdded>('/api/v1/dnc', {
      method: 'POST',
      body: compact({ numbers: params.numbers, reason: params.reason, business_id: params.businessId }),
    });
  }

  /** Takes a number off the list; the entry is kept with the reason. */
  dncRemove(params: { phone: string; reason: string; businessId?: string }): Promise<DncEntry> {
    return this.http.request<DncEntry>('/api/v1/dnc', {
      method: 'DELETE',
      query: { phone: params.phone, reason: params.reason, business_id: params.businessId },
    });
  }

  /** Consent records, newest first. */
  consents(
    params: { phone?: string; leadId?: string; businessId?: string; limit?: number } = {},
  ): Promise<ConsentList> {
    return this.http.request<ConsentList>('/api/v1/consents', {
      query: { phone: params.phone, lead_id: params.leadId, business_id: params.businessId, limit: params.limit },
    });
  }

  /** Records a consent (`express`, `express_written`, `existing_customer`, `inquiry`). */
  recordConsent(params: {
    basis: string;
    source: string;
    phone?: string;
    leadId?: string;
    grantedAt?: string;
    businessId?: string;
  }): Promise<Consent> {
    return this.http.request<Consent>('/api/v1/consents', {
      method: 'POST',
      body: compact({
        basis: params.basis,
        source: params.source,
        phone: params.phone,
        lead_id: params.leadId,
        granted_at: params.grantedAt,
        business_id: params.businessId,
      }),
    });
  }

  /** Revokes a consent; it is kept with the reason. */
  revokeConsent(params: { id: string; reason: string }): Promise<Consent> {
    return this.http.request<Consent>('/api/v1/consents', {
      method: 'DELETE',
      query: { id: params.id, reason: params.reason },
    });
  }

  /** The business's calling hours. */
  settings(params: { businessId?: string } = {}): Promise<Settings> {
    return this.http.request<Settings>('/api/v1/compliance/settings', {
      query: { business_id: params.businessId },
    });
  }

  /** A narrower window (inside 08:00–21:00), quiet days, and whether single calls are held to calling hours. */
  updateSettings(params: {
    windowStart?: string;
    windowEnd?: string;
    quietDays?: string[];
    enforceSingleCalls?: boolean;
    businessId?: string;
  }): Promise<Settings> {
    return this.http.request<Settings>('/api/v1/compliance/settings', {
      method: 'PATCH',
      body: compact({
        window_start: params.windowStart,
        window_end: params.windowEnd,
        quiet_days: params.quietDays,
        enforce_single_calls: params.enforceSingleCalls,
        business_id: params.businessId,
      }),
    });
  }

  /** Dials the pre-dial gate refused, with the reason, newest first. */
  refusals(params: { businessId?: string; limit?: number } = {}): Promise<RefusalList> {
    return this.http.request<RefusalList>('/api/v1/compliance/refusals', {
      query: { business_id: params.businessId, limit: params.limit },
    });
  }
}
