import { HttpClient } from '../client.js';
import { paginate } from '../pagination.js';
import type { Voicemail, VoicemailList } from '../models.js';

export interface ListVoicemailsParams {
  /** Only this business's voicemails (default: every business of the key). */
  businessId?: string;
  /** Cursor: the `created_at` of the last voicemail of the previous page. */
  after?: string;
  /** 1..=100 (default 50). */
  limit?: number;
}

/**
 * The messages callers left on inbound calls: who called, what they said, the summary
 * and a signed link to the recording. Requires calls:read.
 */
export class VoicemailsResource {
  constructor(private readonly http: HttpClient) {}

  /** One page of voicemails, newest first. */
  list(params: ListVoicemailsParams = {}): Promise<VoicemailList> {
    return this.http.request<VoicemailList>('/api/v1/voicemails', {
      query: { business_id: params.businessId, after: params.after, limit: params.limit },
    });
  }

  /**
   * Every voicemail, newest first, fetching pages as needed:
   * `for await (const vm of kai.voicemails.iterate()) { … }`.
   */
  iterate(params: ListVoicemailsParams = {}): AsyncGenerator<Voicemail, void, undefined> {
    return paginate<Voicemail>('voicemails', (after) => this.list({ ...params, after }), params.after);
  }
}
