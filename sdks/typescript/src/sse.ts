/**
 * A Server-Sent Events parser, as the WHATWG HTML standard defines the format.
 *
 * `SSEDecoder.feed` takes the body's text as it arrives (chunks of any size) and returns
 * each complete message:
 *
 * - lines end with `\r\n`, `\n` or `\r` (a `\r\n` split across two chunks ends one line,
 *   not two); a byte order mark at the start is dropped;
 * - `field: value` (one space after the colon is dropped), `field` alone means an empty
 *   value; lines starting with `:` are comments (the server's `: connected` and
 *   `: heartbeat`) and are skipped; unknown fields are ignored;
 * - `data` lines accumulate, joined with `\n`; a blank line ends the message, which is
 *   dispatched only if it carried data;
 * - `id` sets the last event id (kept for the following messages, as the standard says;
 *   an id containing NUL is ignored); `retry` with only digits sets `retry` (ms).
 *
 * A message that sets a (non-empty) `id` but carries no data dispatches no event, yet it
 * moves the last event id, which a reconnection sends as `Last-Event-ID`: the server's
 * opening message names the stream's starting point this way. `feed` leaves such
 * messages out; `messages` returns them too, in order, as `IdOnly`.
 *
 * An unfinished message is never returned: when a connection drops mid-message the
 * decoder is thrown away, and the message arrives again after the reconnect.
 */

/** One dispatched message. */
export interface ServerSentEvent {
  /** The `event` field, `message` when not given. */
  event: string;
  /** The `data` lines, joined with `\n`. */
  data: string;
  /** The last event id seen (null when none). */
  id: string | null;
}

/** A message with an `id` and no data (no event): the id it set. */
export class IdOnly {
  constructor(readonly id: string) {}
}

const EOL = /\r\n|\r|\n/g;

export class SSEDecoder {
  /** The last `id` field seen (the standard's "last event ID buffer"). */
  lastEventId: string | null = null;
  /** The last valid `retry` field, in milliseconds. */
  retry: number | null = null;

  private buffer = '';
  private started = false;
  /** The previous chunk ended with `\r`: a `\n` opening this one belongs to it. */
  private afterCr = false;
  private data: string[] = [];
  private event = '';
  /** The current message has an `id` field (of its own, not carried over). */
  private hasId = false;

  /** The events (messages with data) that `chunk` completed. */
  feed(chunk: string): ServerSentEvent[] {
    return this.messages(chunk).filter((m): m is ServerSentEvent => !(m instanceof IdOnly));
  }

  /** The messages `chunk` completed: events, and `id`-only messages. */
  messages(chunk: string): (ServerSentEvent | IdOnly)[] {
    let text = chunk;
    if (text === '') return [];
    if (!this.started) {
      this.started = true;
      if (text.startsWith('\ufeff')) text = text.slice(1);
    }
    if (this.afterCr) {
      this.afterCr = false;
      if (text.startsWith('\n')) text = text.slice(1);
    }
    const buffer = this.buffer + text;
    const events: (ServerSentEvent | IdOnly)[] = [];
    let start = 0;
    EOL.lastIndex = 0;
    for (let match = EOL.exec(buffer); match !== null; match = EOL.exec(buffer)) {
      const event = this.line(buffer.slice(start, match.index));
      if (event) events.push(event);
      start = match.index + match[0].length;
      if (match[0] === '\r' && start === buffer.length) this.afterCr = true;
    }
    this.buffer = buffer.slice(start);
    return events;
  }

  private line(line: string): ServerSentEvent | IdOnly | undefined {
    if (line === '') return this.dispatch();
    if (line.startsWith(':')) return undefined;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'data':
        this.data.push(value);
        break;
      case 'event':
        this.event = value;
        break;
      case 'id':
        if (!value.includes('\0')) {
          this.lastEventId = value;
          this.hasId = true;
        }
        break;
      case 'retry':
        if (/^[0-9]+$/.test(value)) this.retry = Number(value);
        break;
      default:
        break;
    }
    return undefined;
  }

  private dispatch(): ServerSentEvent | IdOnly | undefined {
    const { data, event, hasId } = this;
    this.data = [];
    this.event = '';
    this.hasId = false;
    if (data.length === 0) return hasId && this.lastEventId ? new IdOnly(this.lastEventId) : undefined;
    return { event: event || 'message', data: data.join('\n'), id: this.lastEventId || null };
  }
}
