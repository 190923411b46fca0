// The Server-Sent Events parser (`SSEDecoder`), fed the way a socket would.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { IdOnly, SSEDecoder, type ServerSentEvent } from '../dist/index.js';

function feedAll(...chunks: string[]): [ServerSentEvent[], SSEDecoder] {
  const decoder = new SSEDecoder();
  const events: ServerSentEvent[] = [];
  for (const chunk of chunks) events.push(...decoder.feed(chunk));
  return [events, decoder];
}

describe('SSEDecoder', () => {
  test("the server's wire format", () => {
    const event = { id: 'evt_1', type: 'call.completed', data: { call_id: 'c1' } };
    const [events, decoder] = feedAll(
      `retry: 2000\n: connected\n\nid: evt_1\nevent: call.completed\ndata: ${JSON.stringify(event)}\n\n: heartbeat\n\n`,
    );
    assert.deepEqual(events, [{ event: 'call.completed', data: JSON.stringify(event), id: 'evt_1' }]);
    assert.deepEqual(JSON.parse(events[0]!.data), event);
    assert.equal(decoder.retry, 2000);
    assert.equal(decoder.lastEventId, 'evt_1');
  });

  test('multi-line data is joined with newlines', () => {
    const [events] = feedAll('data: first\ndata: second\ndata:\ndata:  indented\n\n');
    assert.deepEqual(events, [{ event: 'message', data: 'first\nsecond\n\n indented', id: null }]);
  });

  test('CRLF and lone CR line endings', () => {
    const [events, decoder] = feedAll(
      'retry: 1500\r\nid: a\r\nevent: x\r\ndata: 1\r\ndata: 2\r\n\r\n',
      'id: b\rdata: 3\r\r',
      'id: c\ndata: 4\n\n',
    );
    assert.deepEqual(
      events.map((e) => [e.id, e.event, e.data]),
      [
        ['a', 'x', '1\n2'],
        ['b', 'message', '3'],
        ['c', 'message', '4'],
      ],
    );
    assert.equal(decoder.retry, 1500);
  });

  test('a CRLF split across chunks ends one line, not two', () => {
    // Were the "\n" after a chunk-final "\r" another line end, "data: a" would be
    // dispatched on its own, before "data: b".
    const [events] = feedAll('data: a\r', '\ndata: b\r', '\n\r', '\n');
    assert.deepEqual(events.map((e) => e.data), ['a\nb']);
  });

  test('comments are skipped; a message without data is not dispatched', () => {
    const [events, decoder] = feedAll(': connected\n\n: heartbeat\n\n:\n\nid: evt_9\nevent: ping\n\nevent: x\ndata: y\n\n');
    assert.deepEqual(events, [{ event: 'x', data: 'y', id: 'evt_9' }]);
    assert.equal(decoder.lastEventId, 'evt_9');
  });

  test('a comment between fields does not end the message', () => {
    const [events] = feedAll('data: a\n: heartbeat\ndata: b\n\n');
    assert.deepEqual(events.map((e) => e.data), ['a\nb']);
  });

  test('retry needs digits only', () => {
    for (const [line, expected] of [
      ['retry: 3000', 3000],
      ['retry:250', 250],
      ['retry: 2.5', null],
      ['retry: soon', null],
      ['retry: -1', null],
    ] as const) {
      const [, decoder] = feedAll(`${line}\n\n`);
      assert.equal(decoder.retry, expected, line);
    }
  });

  test('fields without a colon or a space, and unknown fields', () => {
    const [events] = feedAll('data\ndata:x\ndata: y\nfoo: bar\nDATA: no\n\n');
    assert.deepEqual(events.map((e) => e.data), ['\nx\ny']);
  });

  test('ids carry over; ids with NUL are ignored; an empty id resets', () => {
    const [events] = feedAll('id: 1\ndata: a\n\ndata: b\n\nid: 2\0x\ndata: c\n\nid\ndata: d\n\n');
    assert.deepEqual(
      events.map((e) => [e.id, e.data]),
      [
        ['1', 'a'],
        ['1', 'b'],
        ['1', 'c'],
        [null, 'd'],
      ],
    );
  });

  test('a message arriving character by character is held until its blank line', () => {
    const wire = 'id: evt_1\nevent: call.queued\ndata: {"a": "é ✓"}\n\n';
    const decoder = new SSEDecoder();
    const got: ServerSentEvent[] = [];
    for (let i = 0; i < wire.length; i++) {
      got.push(...decoder.feed(wire[i]!));
      if (i < wire.length - 1) assert.deepEqual(got, [], `dispatched early at ${i}`);
    }
    assert.deepEqual(got, [{ event: 'call.queued', data: '{"a": "é ✓"}', id: 'evt_1' }]);
  });

  test('a leading byte order mark is dropped once', () => {
    const [events] = feedAll('\ufeffdata: a\n\n', '\ufeffdata: b\n\n');
    assert.deepEqual(events.map((e) => e.data), ['a']);
  });

  test('an unfinished message at the end is never returned', () => {
    const [events] = feedAll('data: complete\n\ndata: cut off');
    assert.deepEqual(events.map((e) => e.data), ['complete']);
  });

  test('messages() also returns id-only messages, in order', () => {
    const decoder = new SSEDecoder();
    const wire = 'retry: 2000\nid: evt_0\n: connected\n\nid: evt_1\ndata: a\n\n: heartbeat\n\n';
    assert.deepEqual(decoder.messages(wire), [new IdOnly('evt_0'), { event: 'message', data: 'a', id: 'evt_1' }]);
    // Only a message with an id field of its own: not a carried-over id, an empty one (a
    // reset) or one with NUL.
    assert.deepEqual(decoder.messages('event: ping\n\nid\n\nid: x\0y\n\n: c\n\n'), []);
    assert.equal(decoder.lastEventId, '');
    assert.deepEqual(decoder.messages('id: evt_2\n'), []); // not ended yet
    assert.deepEqual(decoder.messages('\n'), [new IdOnly('evt_2')]);
  });

  test('feed() leaves id-only messages out', () => {
    const [events, decoder] = feedAll('retry: 2000\nid: evt_0\n: connected\n\n', 'data: a\n\n');
    assert.deepEqual(events, [{ event: 'message', data: 'a', id: 'evt_0' }]);
    assert.equal(decoder.lastEventId, 'evt_0');
  });
});
