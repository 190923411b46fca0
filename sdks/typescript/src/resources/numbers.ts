import { HttpClient, compact } from '../client.js';
import type { NumberList, PhoneNumber, ReleasedNumber } from '../models.js';

export class PhoneNumbersResource {
  constructor(private readonly http: HttpClient) {}

  /** The key's phone numbers, optionally filtered. Requires numbers:read. */
  list(params: { businessId?: string; phoneNumber?: string } = {}): Promise<NumberList> {
    return this.http.request<NumberList>('/api/v1/phone-numbers', {
      query: { business_id: params.businessId, phone_number: params.phoneNumber },
    });
  }

  /** Unassigned inventory (hosted platform). Requires numbers:read. */
  available(
    params: { country?: string; areaCode?: string; capability?: string; limit?: number } = {},
  ): Promise<Record<string, unknown>> {
    return this.http.request('/api/v1/phone-numbers/available', {
      query: {
        country: params.country,
        area_code: params.areaCode,
        capability: params.capability,
        limit: params.limit,
      },
    });
  }

  /** Assigns a number to a business and agent. Requires numbers:write. */
  assign(params: {
    phoneNumber: string;
    businessId?: string;
    agentId?: string;
    /** The Vapi phone number live calls from this number use. */
    vapiPhoneNumberId?: string;
  }): Promise<PhoneNumber> {
    return this.http.request<PhoneNumber>('/api/v1/phone-numbers', {
      method: 'POST',
      body: compact({
        phone_number: params.phoneNumber,
        business_id: params.businessId,
        agent_id: params.agentId,
        vapi_phone_number_id: params.vapiPhoneNumberId,
      }),
    });
  }

  /** Releases a number. Requires numbers:write. */
  release(params: { phoneNumber: string; businessId?: string }): Promise<ReleasedNumber> {
    return this.http.request<ReleasedNumber>('/api/v1/phone-numbers', {
      method: 'DELETE',
      query: { phone_number: params.phoneNumber, business_id: params.businessId },
    });
  }
}
