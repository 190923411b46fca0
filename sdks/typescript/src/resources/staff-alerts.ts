import { HttpClient, compact } from '../client.js';
import { paginate } from '../pagination.js';
import type { AlertList, AlertSettings, StaffAlert } from '../models.js';

/** What staff can be alerted about. */
export type StaffAlertEvent = 'new_lead' | 'callback_requested' | 'follow_up' | 'voicemail';

/** The alert settings to change; omitted fields stay as they are. */
export interface UpdateStaffAlertSettingsParams {
  /** Which business (may be omitted when the key sees one business). */
  businessId?: string;
  /** Whether alerts are sent at all. */
  enabled?: boolean;
  /** Staff addresses that get an email per alert (replaces the list; at most 20). */
  emails?: string[];
  /** An https URL that gets a signed POST per alert; `''` removes it. */
  webhookUrl?: string;
  /** The events that alert (replaces the list). */
  events?: StaffAlertEvent[];
}

export interface ListStaffAlertsParams {
  /** Only this business's alerts (default: every business of the key). */
  businessId?: string;
  /** Only the alerts this call raised. */
  callId?: string;
  /** Cursor: the `created_at` of the last alert of the previous page. */
  after?: string;
  /** 1..=100 (default 50). */
  limit?: number;
}

/**
 * Alerts to a business's staff (emails, a signed webhook) about what its phone brought
 * in: a new lead, a callback request, a follow-up, a voicemail. Settings require
 * agents:read / agents:write; the alerts sent, calls:read.
 */
export class StaffAlertsResource {
  constructor(private readonly http: HttpClient) {}

  /**
   * Who is alerted, and about what (the defaults until first saved). `businessId` may be
   * omitted when the key sees one business.
   */
  settings(params: { businessId?: string } = {}): Promise<AlertSettings> {
    return this.http.request<AlertSettings>('/api/v1/staff-alerts/settings', {
      query: { business_id: params.businessId },
    });
  }

  /** Sets the recipients and the events that alert; answers the settings as saved. */
  updateSettings(params: UpdateStaffAlertSettingsParams): Promise<AlertSettings> {
    return this.http.request<AlertSettings>('/api/v1/staff-alerts/settings', {
      method: 'PATCH',
      body: compact({
        business_id: params.businessId,
        enabled: params.enabled,
        emails: params.emails,
        webhook_url: params.webhookUrl,
        events: params.events,
      }),
    });
  }

  /** One page of the alerts raised, newest first, each with its recipient and delivery outcome. */
  list(params: ListStaffAlertsParams = {}): Promise<AlertList> {
    return this.http.request<AlertList>('/api/v1/staff-alerts', {
      query: {
        business_id: params.businessId,
        call_id: params.callId,
        after: params.after,
        limit: params.limit,
      },
    });
  }

  /**
   * Every alert, newest first, fetching pages as needed:
   * `for await (const alert of kai.staffAlerts.iterate({ callId })) { … }`.
   */
  iterate(params: ListStaffAlertsParams = {}): AsyncGenerator<StaffAlert, void, undefined> {
    return paginate<StaffAlert>('alerts', (after) => this.list({ ...params, after }), params.after);
  }
}
