/**
 * Errors raised by the SDK.
 *
 * Every non-2xx answer becomes a `KaiCallsError` (or, when the server's error code is
 * one we know, the matching subclass), carrying the HTTP status, the envelope's `code`,
 * `message` and `param`, the parsed body and the `Request-Id` response header.
 */

/** The server's error envelope: `{"error": {"code", "message", "param"?}}`. */
export interface KaiCallsErrorBody {
  code: string;
  message: string;
  param?: string | null;
}

export interface KaiCallsErrorDetails {
  /** The request parameter the server blamed (`"to"`, `"agent_id"`, …), if any. */
  param?: string | null;
  /** The `Request-Id` header of the response; quote it when contacting support. */
  requestId?: string | null;
  /** The response headers, when there was a response. */
  headers?: Headers | null;
}

export class KaiCallsError extends Error {
  /** HTTP status; 0 when there was no response (`timeout`, `wait_timeout`). */
  readonly status: number;
  /** The envelope's `code` (e.g. `invalid_request`), or `http_<status>` when absent. */
  readonly code: string;
  /** The parsed response body (JSON value, raw text, or null). */
  readonly body: unknown;
  readonly param: string | null;
  readonly requestId: string | null;
  readonly headers: Headers | null;

  constructor(
    status: number,
    code: string,
    message: string,
    body: unknown,
    details: KaiCallsErrorDetails = {},
  ) {
    super(message);
    this.name = new.target.name;
    this.status = status;
    this.code = code;
    this.body = body;
    this.param = details.param ?? null;
    this.requestId = details.requestId ?? null;
    this.headers = details.headers ?? null;
  }
}

/** 400 `invalid_request`: a missing or invalid parameter (see `param`) or bad JSON. */
export class InvalidRequestError extends KaiCallsError {}
/** 401 `unauthorized`: the key is missing, invalid, expired or revoked. */
export class UnauthorizedError extends KaiCallsError {}
/** 403 `forbidden`: the key lacks the scope this endpoint needs. */
export class ForbiddenError extends KaiCallsError {}
/** 404 `not_found`: no such object (or it belongs to another tenant). */
export class NotFoundError extends KaiCallsError {}
/** 429 `rate_limited`: raised once the retries are used up. */
export class RateLimitedError extends KaiCallsError {}
/** 500 `call_failed`: the voice provider refused to place the call (it is recorded as failed). */
export class CallFailedError extends KaiCallsError {}
/** 409 `conflict`: e.g. a request with the same Idempotency-Key is still in flight. */
export class ConflictError extends KaiCallsError {}
/** 400 `idempotency_error`: an Idempotency-Key was reused with a different body. */
export class IdempotencyError extends KaiCallsError {}
/** 5xx `internal_error`: something went wrong on the server. */
export class InternalError extends KaiCallsError {}

type ErrorClass = new (
  status: number,
  code: string,
  message: string,
  body: unknown,
  details?: KaiCallsErrorDetails,
) => KaiCallsError;

const BY_CODE: Record<string, ErrorClass> = {
  invalid_request: InvalidRequestError,
  unauthorized: UnauthorizedError,
  forbidden: ForbiddenError,
  not_found: NotFoundError,
  rate_limited: RateLimitedError,
  call_failed: CallFailedError,
  conflict: ConflictError,
  idempotency_error: IdempotencyError,
  internal_error: InternalError,
};

/** Used when the body carries no code we know (e.g. a proxy's HTML error page). */
function classForStatus(status: number): ErrorClass {
  switch (status) {
    case 400:
      return InvalidRequestError;
    case 401:
      return UnauthorizedError;
    case 403:
      return ForbiddenError;
    case 404:
      return NotFoundError;
    case 409:
      return ConflictError;
    case 429:
      return RateLimitedError;
    default:
      return status >= 500 ? InternalError : KaiCallsError;
  }
}

/** Reads `{"error": {...}}` out of a parsed body; anything else gives undefined. */
export function errorEnvelope(body: unknown): Partial<KaiCallsErrorBody> | undefined {
  if (body === null || typeof body !== 'object') return undefined;
  const error = (body as { error?: unknown }).error;
  if (error === null || typeof error !== 'object') return undefined;
  return error as Partial<KaiCallsErrorBody>;
}

/** Builds the error for a non-2xx response. */
export function errorFromResponse(status: number, body: unknown, headers: Headers): KaiCallsError {
  const envelope = errorEnvelope(body);
  const code = typeof envelope?.code === 'string' ? envelope.code : undefined;
  const message =
    typeof envelope?.message === 'string' ? envelope.message : `KaiCalls API error (HTTP ${status})`;
  const param = typeof envelope?.param === 'string' ? envelope.param : null;
  const Class = (code !== undefined ? BY_CODE[code] : undefined) ?? classForStatus(status);
  return new Class(status, code ?? `http_${status}`, message, body, {
    param,
    requestId: headers.get('request-id'),
    headers,
  });
}
