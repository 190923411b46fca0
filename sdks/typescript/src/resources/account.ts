import { DEFAULT_BASE_URL, HttpClient, compact } from '../client.js';
import { errorFromResponse } from '../errors.js';
import type { Analytics, Balance, Health, Usage } from '../models.js';
import type { SignupResult } from '../types.js';

export class AccountResource {
  constructor(private readonly http: HttpClient) {}

  /** Minutes used, phone numbers and subscription status per business. Any valid key. */
  balance(): Promise<Balance> {
    return this.http.request<Balance>('/api/v1/balance');
  }

  /** Calls of the last `days` (default 30) by status and outcome, and minutes. `calls:read`. */
  analytics(params: { days?: number; businessId?: string } = {}): Promise<Analytics> {
    return this.http.request<Analytics>('/api/v1/analytics', {
      query: { days: params.days, business_id: params.businessId },
    });
  }

  /** The key's API usage log, newest first. Any valid key. */
  usage(
    params: { start?: string; end?: string; limit?: number } = {},
  ): Promise<Usage> {
    return this.http.request<Usage>('/api/v1/usage', {
      query: { start: params.start, end: params.end, limit: params.limit },
    });
  }
}

export class DiscoveryResource {
  constructor(private readonly http: HttpClient) {}

  /** What the account can do (hosted platform). */
  capabilities(params: { businessId?: string } = {}): Promise<Record<string, unknown>> {
    return this.http.request('/api/v1/capabilities', { query: { business_id: params.businessId } });
  }

  /** The OpenAPI 3 document of the API. */
  openapi(): Promise<Record<string, unknown>> {
    return this.http.request('/api/v1/openapi.json');
  }

  /** JSON schemas of the API's objects (hosted platform). */
  schemas(params: { name?: string } = {}): Promise<Record<string, unknown>> {
    return this.http.request('/api/v1/schemas', { query: { name: params.name } });
  }

  /** `{status, database, version}`; needs no key (a key sent along is accepted). */
  health(): Promise<Health> {
    return this.http.request<Health>('/api/v1/health');
  }
}

export interface SignupParams {
  businessName: string;
  email: string;
  businessType?: string;
  website?: string;
  phoneForwardTo?: string;
  planId?: string;
}

/**
 * Creates a KaiCalls account on the hosted platform; needs no API key.
 * Sent once (no retries: it is not idempotent).
 */
export async function signup(
  params: SignupParams,
  options: { baseUrl?: string; fetch?: typeof fetch } = {},
): Promise<SignupResult> {
  const envUrl = typeof process !== 'undefined' ? process.env?.KAICALLS_BASE_URL : undefined;
  const baseUrl = (options.baseUrl ?? (envUrl || DEFAULT_BASE_URL)).replace(/\/+$/, '');
  const fetchImpl = options.fetch ?? fetch;
  const response = await fetchImpl(`${baseUrl}/api/v1/signup`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(
      compact({
        business_name: params.businessName,
        email: params.email,
        business_type: params.businessType,
        website: params.website,
        phone_forward_to: params.phoneForwardTo,
        plan_id: params.planId,
      }),
    ),
  });
  const text = await response.text();
  let data: unknown = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = text;
    }
  }
  if (!response.ok) throw errorFromResponse(response.status, data, response.headers);
  return data as SignupResult;
}
