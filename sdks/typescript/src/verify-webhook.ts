/**
 * Verifying KaiCalls webhooks (Standard Webhooks v1).
 *
 * A delivery carries `webhook-id`, `webhook-timestamp` (Unix seconds) and
 * `webhook-signature`: space-separated `v1,<base64 HMAC-SHA256>` over
 * `${id}.${timestamp}.${body}`, keyed with the base64-decoded part of the `whsec_…`
 * secret after the prefix (one signature per secret in force, e.g. during a rotation).
 */

import { createHmac, timingSafeEqual } from 'node:crypto';

export class WebhookVerificationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WebhookVerificationError';
  }
}

/** A fetch `Headers`, Node's `IncomingHttpHeaders`, or any plain header map. */
export type WebhookHeaders =
  | Headers
  | { get(name: string): string | null }
  | Record<string, string | string[] | undefined>;

export interface VerifyWebhookOptions {
  /** How far the timestamp may be from now, either way. Default: 300 seconds. */
  toleranceSeconds?: number;
  /** "Now" for the timestamp check (tests). Default: the current time. */
  now?: Date | number;
}

function header(headers: WebhookHeaders, name: string): string | undefined {
  if (typeof (headers as { get?: unknown }).get === 'function') {
    return (headers as { get(name: string): string | null }).get(name) ?? undefined;
  }
  const map = headers as Record<string, string | string[] | undefined>;
  for (const [key, value] of Object.entries(map)) {
    if (key.toLowerCase() !== name) continue;
    return Array.isArray(value) ? value.join(' ') : value;
  }
  return undefined;
}

function secretKey(secret: string): Buffer {
  const encoded = secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret;
  return Buffer.from(encoded, 'base64');
}

/** The `v1,<base64>` signature of a message; what the server sends. */
export function signWebhook(
  secret: string,
  id: string,
  timestamp: number | string,
  body: string | Uint8Array,
): string {
  const payload = typeof body === 'string' ? body : Buffer.from(body).toString('utf8');
  const mac = createHmac('sha256', secretKey(secret)).update(`${id}.${timestamp}.${payload}`).digest('base64');
  return `v1,${mac}`;
}

/**
 * Checks a delivery and returns its parsed JSON payload. Throws
 * `WebhookVerificationError` when a header is missing, the timestamp is outside the
 * tolerance, or no signature matches (changed body, wrong secret).
 *
 * Pass the body exactly as received (the raw string or bytes, not re-serialized JSON).
 */
export function verifyWebhook<T = Record<string, unknown>>(
  body: string | Uint8Array,
  headers: WebhookHeaders,
  secret: string,
  options: VerifyWebhookOptions = {},
): T {
  const id = header(headers, 'webhook-id');
  const timestamp = header(headers, 'webhook-timestamp');
  const signatures = header(headers, 'webhook-signature');
  if (!id || !timestamp || !signatures) {
    throw new WebhookVerificationError('Missing webhook-id, webhook-timestamp or webhook-signature header');
  }
  const rawTs = timestamp.trim();
  if (!/^\d+$/.test(rawTs)) {
    throw new WebhookVerificationError('Invalid webhook-timestamp header');
  }
  const ts = Number(rawTs);
  const tolerance = options.toleranceSeconds ?? 300;
  const nowMs = options.now === undefined ? Date.now() : Number(options.now);
  const nowSeconds = Math.floor(nowMs / 1000);
  if (ts < nowSeconds - tolerance) {
    throw new WebhookVerificationError('Message timestamp too old');
  }
  if (ts > nowSeconds + tolerance) {
    throw new WebhookVerificationError('Message timestamp too new');
  }

  const expected = Buffer.from(signWebhook(secret, id, rawTs, body).slice('v1,'.length), 'base64');
  let matched = false;
  for (const candidate of signatures.trim().split(/\s+/)) {
    const [version, value] = candidate.split(',', 2);
    if (version !== 'v1' || !value) continue;
    const given = Buffer.from(value, 'base64');
    // Compare every candidate (no early exit) in constant time per signature.
    if (given.length === expected.length && timingSafeEqual(given, expected)) matched = true;
  }
  if (!matched) {
    throw new WebhookVerificationError('No matching signature found');
  }

  const text = typeof body === 'string' ? body : Buffer.from(body).toString('utf8');
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new WebhookVerificationError('Webhook body is not JSON');
  }
}
