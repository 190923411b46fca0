/**
 * A tiny TCP proxy between the SDK and the server, to break event streams on purpose.
 *
 * `startProxy(server.baseUrl, { cutFirstAfter: 2 })` listens on 127.0.0.1:<free port>
 * and pipes every connection to the server, recording what the client sent. The first
 * connection is cut (both sockets destroyed) when the server starts sending its
 * `cutFirstAfter + 1`-th event: the client has been sent the response head, the opening
 * message and `cutFirstAfter` events (0: none), and the rest of what the server sent on
 * it is dropped. Events are the messages with a `data:` line; the opening message
 * (`retry:`, `id:`, `: connected`) is not one. Later connections are piped untouched.
 */

import { connect, createServer, type Socket } from 'node:net';

export interface RequestHead {
  /** Which connection (0, 1, …, in the order accepted) carried it. */
  connection: number;
  /** `GET /api/v1/events/stream?... HTTP/1.1` */
  line: string;
  /** Lowercased header names. */
  headers: Record<string, string>;
}

export interface CuttingProxy {
  url: string;
  /**
   * Connections accepted so far. Node's fetch (undici) may open a spare keep-alive
   * connection after one is torn down, without a request on it: count `requests()`.
   */
  connections(): number;
  /** Whether the first connection has been cut. */
  cut(): boolean;
  /** Every request head the client sent, in order. */
  requests(): RequestHead[];
  close(): Promise<void>;
}

const REQUEST_HEAD = /[A-Z]+ [^\r\n]+\r\n(?:[^\r\n]+\r\n)*\r\n/g;

export async function startProxy(upstream: string, options: { cutFirstAfter?: number } = {}): Promise<CuttingProxy> {
  const target = new URL(upstream);
  const sent: Buffer[][] = [];
  const sockets = new Set<Socket>();
  let wasCut = false;

  const server = createServer((client) => {
    const index = sent.length;
    const mine: Buffer[] = [];
    sent.push(mine);
    const server = connect(Number(target.port), target.hostname);
    for (const s of [client, server]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    const destroyBoth = () => {
      client.destroy();
      server.destroy();
    };
    client.on('close', destroyBoth);
    server.on('close', destroyBoth);
    client.on('data', (chunk: Buffer) => {
      mine.push(chunk);
      server.write(chunk);
    });
    const cutAfter = index === 0 ? options.cutFirstAfter : undefined;
    if (cutAfter === undefined) {
      server.on('data', (chunk: Buffer) => client.write(chunk));
      return;
    }
    let received = Buffer.alloc(0);
    let forwarded = 0;
    server.on('data', (chunk: Buffer) => {
      if (wasCut) return;
      received = Buffer.concat([received, chunk]);
      const cut = startOfEvent(received, cutAfter + 1);
      const stop = cut === undefined ? received.length : Math.max(cut, forwarded);
      client.write(received.subarray(forwarded, stop));
      forwarded = stop;
      if (cut !== undefined) {
        wasCut = true;
        // Once the client has the bytes, cut both sides.
        client.end(() => destroyBoth());
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('proxy did not listen');

  return {
    url: `http://127.0.0.1:${address.port}`,
    connections: () => sent.length,
    cut: () => wasCut,
    requests: () => {
      const heads: RequestHead[] = [];
      for (const [connection, chunks] of sent.entries()) {
        const text = Buffer.concat(chunks).toString('latin1');
        for (const match of text.matchAll(REQUEST_HEAD)) {
          const [line = '', ...rest] = match[0].split('\r\n');
          const headers: Record<string, string> = {};
          for (const header of rest) {
            const colon = header.indexOf(':');
            if (colon > 0) headers[header.slice(0, colon).trim().toLowerCase()] = header.slice(colon + 1).trim();
          }
          heads.push({ connection, line, headers });
        }
      }
      return heads;
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * Where the `n`-th event message (one with a `data:` line) starts in the raw response:
 * just past the blank line ending the message before it (or the head).
 */
function startOfEvent(data: Buffer, n: number): number | undefined {
  const head = data.indexOf('\r\n\r\n');
  if (head < 0) return undefined;
  const body = head + 4;
  let seen = 0;
  let previous = -1;
  for (let line = data.indexOf('\ndata:', body - 1); line >= 0; line = data.indexOf('\ndata:', line + 6)) {
    // The blank line ending the message before this one (the body may be chunked: chunk
    // sizes sit between messages, never inside one). lastIndexOf searches back from
    // `line`, so a blank line just before this `data:` line counts.
    const blank = data.lastIndexOf('\n\n', line);
    const start = blank < body ? body : blank + 2;
    if (start !== previous) {
      seen++;
      previous = start;
      if (seen === n) return start;
    }
  }
  return undefined;
}
