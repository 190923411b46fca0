// Offline tests of verifyWebhook (Standard Webhooks v1).

import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, test } from 'node:test';

import { signWebhook, verifyWebhook, WebhookVerificationError } from '../dist/index.js';

// The example from the Standard Webhooks specification.
const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const ID = 'msg_p5jXN8AQM9LWM0D4loKWxJek';
const TS = 1614265330;
const BODY = '{"test": 2432232314}';
const SIG = 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=';
const AT = TS * 1000;

const headers = (signature = SIG, timestamp = String(TS)) => ({
  'webhook-id': ID,
  'webhook-timestamp': timestamp,
  'webhook-signature': signature,
});

function rejects(fn: () => unknown, reason: RegExp) {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof WebhookVerificationError, String(err));
    assert.match(err.message, reason);
    return true;
  });
}

describe('verifyWebhook', () => {
  test('signWebhook reproduces the specification test vector', () => {
    assert.equal(signWebhook(SECRET, ID, TS, BODY), SIG);
  });

  test('accepts a valid delivery and returns the parsed payload', () => {
    assert.deepEqual(verifyWebhook(BODY, headers(), SECRET, { now: AT }), { test: 2432232314 });
  });

  test('accepts Buffer bodies, Headers objects and mixed-case header names', () => {
    assert.ok(verifyWebhook(Buffer.from(BODY), new Headers(headers()), SECRET, { now: AT }));
    const upper = { 'Webhook-Id': ID, 'Webhook-Timestamp': String(TS), 'Webhook-Signature': SIG };
    assert.ok(verifyWebhook(BODY, upper, SECRET, { now: AT }));
  });

  test('accepts when any of several signatures matches (secret rotation)', () => {
    const other = signWebhook('whsec_' + Buffer.from('other key').toString('base64'), ID, TS, BODY);
    assert.ok(verifyWebhook(BODY, headers(`${other} v1a,xyz ${SIG}`), SECRET, { now: AT }));
  });

  test('the key is the base64-decoded part after whsec_', () => {
    const key = Buffer.from('MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'base64');
    const mac = createHmac('sha256', key).update(`${ID}.${TS}.${BODY}`).digest('base64');
    assert.equal(`v1,${mac}`, SIG);
  });

  test('rejects a changed body', () => {
    rejects(() => verifyWebhook('{"test": 2432232315}', headers(), SECRET, { now: AT }), /No matching signature/);
  });

  test('rejects a wrong secret', () => {
    const wrong = 'whsec_' + Buffer.from('not the secret').toString('base64');
    rejects(() => verifyWebhook(BODY, headers(), wrong, { now: AT }), /No matching signature/);
  });

  test('rejects a stale timestamp, even when correctly signed', () => {
    rejects(() => verifyWebhook(BODY, headers(), SECRET, { now: AT + 301_000 }), /too old/);
    rejects(() => verifyWebhook(BODY, headers(), SECRET), /too old/); // 2021 vs now
  });

  test('toleranceSeconds widens or narrows the window', () => {
    assert.ok(verifyWebhook(BODY, headers(), SECRET, { now: AT + 3_600_000, toleranceSeconds: 3601 }));
    rejects(() => verifyWebhook(BODY, headers(), SECRET, { now: AT + 11_000, toleranceSeconds: 10 }), /too old/);
  });

  test('rejects a timestamp from the future', () => {
    rejects(() => verifyWebhook(BODY, headers(), SECRET, { now: AT - 301_000 }), /too new/);
  });

  test('rejects a tampered timestamp', () => {
    rejects(() => verifyWebhook(BODY, headers(SIG, String(TS + 1)), SECRET, { now: AT }), /No matching signature/);
  });

  test('rejects missing headers and malformed signatures', () => {
    rejects(() => verifyWebhook(BODY, { 'webhook-id': ID, 'webhook-timestamp': String(TS) }, SECRET, { now: AT }), /Missing/);
    rejects(() => verifyWebhook(BODY, headers(SIG, 'yesterday'), SECRET, { now: AT }), /Invalid webhook-timestamp/);
    rejects(() => verifyWebhook(BODY, headers('v1,'), SECRET, { now: AT }), /No matching signature/);
    rejects(() => verifyWebhook(BODY, headers('v2,' + SIG.slice(3)), SECRET, { now: AT }), /No matching signature/);
  });
});
