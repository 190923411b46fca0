/** A scripted `fetch` for offline tests: records every request, answers from a handler. */

export interface Recorded {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: unknown;
  at: number;
}

export interface Reply {
  status?: number;
  body?: unknown;
  /** Sent as-is instead of JSON.stringify(body). */
  raw?: string;
  headers?: Record<string, string>;
}

export type Handler = (req: Recorded, n: number) => Reply | Error | Promise<Reply | Error>;

export interface FakeFetch {
  (input: string | URL | Request, init?: RequestInit): Promise<Response>;
  requests: Recorded[];
}

export function fakeFetch(handler: Handler = () => ({ body: {} })): FakeFetch {
  const requests: Recorded[] = [];
  const impl = (async (input: string | URL | Request, init: RequestInit = {}) => {
    const headers = { ...(init.headers as Record<string, string> | undefined) };
    const req: Recorded = {
      url: String(input),
      method: init.method ?? 'GET',
      headers,
      body: typeof init.body === 'string' ? JSON.parse(init.body) : undefined,
      at: Date.now(),
    };
    requests.push(req);
    const reply = await handler(req, requests.length);
    if (reply instanceof Error) throw reply;
    const text = reply.raw ?? (reply.body === undefined ? '' : JSON.stringify(reply.body));
    return new Response(text === '' ? null : text, {
      status: reply.status ?? 200,
      headers: { 'Content-Type': 'application/json', ...reply.headers },
    });
  }) as FakeFetch;
  impl.requests = requests;
  return impl;
}

/** The request's query string as a plain object. */
export function queryOf(req: Recorded): Record<string, string> {
  return Object.fromEntries(new URL(req.url).searchParams);
}

export function pathOf(req: Recorded): string {
  return new URL(req.url).pathname;
}
