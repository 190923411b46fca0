// Offline tests of every resource method: HTTP method, path, and the camelCase →
// snake_case mapping of query and body, exactly as the published 0.1 client sends them.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { KaiCalls, KaiCallsError, SANDBOX_CALLERS, type Call } from '../dist/index.js';
import { fakeFetch, pathOf, queryOf, type Recorded } from './fake-fetch.js';

// These tests expect the default origin.
delete process.env.KAICALLS_BASE_URL;

async function one(
  call: (kai: KaiCalls) => Promise<unknown>,
  reply: unknown = {},
): Promise<Recorded> {
  const f = fakeFetch(() => ({ body: reply }));
  await call(new KaiCalls({ apiKey: 'kc_live_test', fetch: f }));
  assert.equal(f.requests.length, 1);
  return f.requests[0] as Recorded;
}

describe('calls', () => {
  test('create maps camelCase params to the snake_case body', async () => {
    const f = fakeFetch(() => ({ status: 201, body: { id: 'call-1', status: 'queued' } }));
    const kai = new KaiCalls({ apiKey: 'kc_live_test', fetch: f });
    const call = await kai.calls.create({
      agentId: 'agent-1',
      to: '+15125551234',
      name: 'John',
      firstMessage: 'Hey John',
      leadId: 'lead-1',
      maxDuration: 300,
    });
    assert.equal(call.id, 'call-1');
    const req = f.requests[0] as Recorded;
    assert.equal(req.url, 'https://www.kaicalls.com/api/v1/calls');
    assert.equal(req.method, 'POST');
    assert.equal(req.headers.Authorization, 'Bearer kc_live_test');
    assert.deepEqual(req.body, {
      agent_id: 'agent-1',
      to: '+15125551234',
      name: 'John',
      first_message: 'Hey John',
      lead_id: 'lead-1',
      max_duration: 300,
    });
  });

  test('create sends context, webhook_url, metadata and webhook_events', async () => {
    const req = await one((kai) =>
      kai.calls.create({
        agentId: 'a',
        to: '+15125551234',
        context: 'ctx',
        webhookUrl: 'https://example.com/h',
        metadata: { order: 'o-1' },
        webhookEvents: ['call.ringing'],
      }),
    );
    assert.deepEqual(req.body, {
      agent_id: 'a',
      to: '+15125551234',
      context: 'ctx',
      webhook_url: 'https://example.com/h',
      metadata: { order: 'o-1' },
      webhook_events: ['call.ringing'],
    });
  });

  test('get uses ?id= (no dynamic path segments); wait is passed through', async () => {
    let req = await one((kai) => kai.calls.get('call-1'));
    assert.equal(req.url, 'https://www.kaicalls.com/api/v1/calls?id=call-1');
    req = await one((kai) => kai.calls.get('call-1', { wait: 30 }));
    assert.deepEqual(queryOf(req), { id: 'call-1', wait: '30' });
  });

  test('list maps agentId and passes limit, status, after', async () => {
    const req = await one((kai) =>
      kai.calls.list({ limit: 10, agentId: 'a-1', status: 'completed', after: '2026-02-15T14:30:00.123456Z' }),
    );
    assert.equal(pathOf(req), '/api/v1/calls');
    assert.deepEqual(queryOf(req), {
      limit: '10',
      agent_id: 'a-1',
      status: 'completed',
      after: '2026-02-15T14:30:00.123456Z',
    });
  });

  test('end posts to /api/v1/calls/end?id=', async () => {
    const req = await one((kai) => kai.calls.end('call-9'), { id: 'call-9', status: 'completed' });
    assert.equal(req.method, 'POST');
    assert.equal(req.url, 'https://www.kaicalls.com/api/v1/calls/end?id=call-9');
    assert.equal(req.body, undefined);
  });

  test('wait polls until a terminal status', async () => {
    let n = 0;
    const f = fakeFetch(() => {
      n += 1;
      return { body: { id: 'call-1', status: n < 3 ? 'in_progress' : 'completed', summary: 'done' } };
    });
    const kai = new KaiCalls({ apiKey: 'k', fetch: f });
    const result = await kai.calls.wait('call-1', { intervalMs: 1 });
    assert.equal(result.status, 'completed');
    assert.equal(result.summary, 'done');
    assert.equal(n, 3);
  });

  test('wait gives up with wait_timeout and the last call', async () => {
    const f = fakeFetch(() => ({ body: { id: 'c', status: 'ringing' } }));
    const kai = new KaiCalls({ apiKey: 'k', fetch: f });
    await assert.rejects(kai.calls.wait('c', { intervalMs: 5, timeoutMs: 30 }), (err: unknown) => {
      assert.ok(err instanceof KaiCallsError);
      assert.equal(err.code, 'wait_timeout');
      assert.equal(err.status, 0);
      assert.deepEqual(err.body, { id: 'c', status: 'ringing' });
      return true;
    });
  });

  test('iterate follows the created_at cursor until has_more is false', async () => {
    // Only the fields iteration reads: the fake server answers partial calls.
    const all: Pick<Call, 'id' | 'status' | 'created_at'>[] = Array.from({ length: 7 }, (_, i) => ({
      id: `c${i}`,
      status: 'completed',
      created_at: `2026-01-01T00:00:0${9 - i}.000000Z`,
    }));
    const f = fakeFetch((req) => {
      const q = queryOf(req);
      const start = q.after ? all.findIndex((c) => c.created_at === q.after) + 1 : 0;
      const limit = Number(q.limit);
      const page = all.slice(start, start + limit);
      return { body: { calls: page, has_more: start + limit < all.length } };
    });
    const kai = new KaiCalls({ apiKey: 'k', fetch: f });
    const seen: string[] = [];
    for await (const call of kai.calls.iterate({ limit: 3, agentId: 'a' })) seen.push(call.id);
    assert.deepEqual(seen, all.map((c) => c.id));
    assert.equal(f.requests.length, 3);
    assert.deepEqual(
      f.requests.map((r) => queryOf(r)),
      [
        { limit: '3', agent_id: 'a' },
        { limit: '3', agent_id: 'a', after: all[2]?.created_at },
        { limit: '3', agent_id: 'a', after: all[5]?.created_at },
      ],
    );
  });

  test('iterate stops on an empty page even if has_more is true', async () => {
    const f = fakeFetch(() => ({ body: { calls: [], has_more: true } }));
    const seen: Call[] = [];
    for await (const call of new KaiCalls({ apiKey: 'k', fetch: f }).calls.iterate()) seen.push(call);
    assert.equal(seen.length, 0);
    assert.equal(f.requests.length, 1);
  });

  test('breaking out of iterate stops fetching', async () => {
    const f = fakeFetch((_r, n) => ({
      body: { calls: [{ id: `c${n}`, status: 'completed', created_at: `t${n}` }], has_more: true },
    }));
    for await (const call of new KaiCalls({ apiKey: 'k', fetch: f }).calls.iterate({ limit: 1 })) {
      if (call.id === 'c2') break;
    }
    assert.equal(f.requests.length, 2);
  });
});

describe('campaigns', () => {
  test('list, get, update, contacts, addContacts and the actions: paths, ?id= and snake_case', async () => {
    let req = await one((kai) => kai.campaigns.list({ businessId: 'b', status: 'running', after: 't', limit: 5 }));
    assert.equal(pathOf(req), '/api/v1/campaigns');
    assert.deepEqual(queryOf(req), { business_id: 'b', status: 'running', after: 't', limit: '5' });
    req = await one((kai) => kai.campaigns.get('cp-1'));
    assert.equal(req.url, 'https://www.kaicalls.com/api/v1/campaigns?id=cp-1');
    assert.equal(req.method, 'GET');

    req = await one((kai) =>
      kai.campaigns.update('cp-1', {
        maxConcurrency: 2,
        callingWindow: { start: '09:00', quietDays: ['sun'] },
        retry: { retryOn: ['busy', 'no_answer'], spacingMinutes: 30 },
        voicemailAction: 'hang_up',
      }),
    );
    assert.equal(req.method, 'PATCH');
    assert.equal(req.url, 'https://www.kaicalls.com/api/v1/campaigns?id=cp-1');
    assert.deepEqual(req.body, {
      max_concurrency: 2,
      calling_window: { start: '09:00', quiet_days: ['sun'] },
      retry: { retry_on: ['busy', 'no_answer'], spacing_minutes: 30 },
      voicemail_action: 'hang_up',
    });
    assert.equal(req.headers['Idempotency-Key'], undefined);

    req = await one((kai) => kai.campaigns.contacts('cp-1', { state: 'skipped', after: 7, limit: 50 }));
    assert.equal(pathOf(req), '/api/v1/campaigns/contacts');
    assert.deepEqual(queryOf(req), { id: 'cp-1', state: 'skipped', after: '7', limit: '50' });

    req = await one((kai) =>
      kai.campaigns.addContacts('cp-1', {
        contacts: [{ key: 'k1', to: '+15125551234', leadId: 'l-1', variables: { firstName: 'Ann' } }],
        leadIds: ['l-2'],
        leadFilter: { status: ['new'], agentId: 'a', scoreGte: 50 },
      }),
    );
    assert.equal(req.method, 'POST');
    assert.equal(req.url, 'https://www.kaicalls.com/api/v1/campaigns/contacts?id=cp-1');
    assert.deepEqual(req.body, {
      // `variables` is the caller's data: its keys are sent as given.
      contacts: [{ key: 'k1', to: '+15125551234', lead_id: 'l-1', variables: { firstName: 'Ann' } }],
      lead_ids: ['l-2'],
      lead_filter: { status: ['new'], agent_id: 'a', score_gte: 50 },
    });

    for (const action of ['start', 'pause', 'resume', 'cancel'] as const) {
      req = await one((kai) => kai.campaigns[action]('cp-1'));
      assert.equal(req.method, 'POST');
      assert.equal(req.url, `https://www.kaicalls.com/api/v1/campaigns/${action}?id=cp-1`);
      assert.equal(req.body, undefined);
      assert.match(String(req.headers['Idempotency-Key']), /^[0-9a-f-]{36}$/);
    }

    req = await one((kai) => kai.calls.list({ campaignId: 'cp-1', limit: 10 }));
    assert.deepEqual(queryOf(req), { limit: '10', campaign_id: 'cp-1' });
  });

  test('create maps every setting, the contacts and the leads; the idempotency key is sent', async () => {
    const req = await one((kai) =>
      kai.campaigns.create(
        {
          name: 'Spring',
          agentId: 'agent-1',
          fromNumber: '+15125550000',
          context: 'ctx {{order}}',
          firstMessage: 'Hi {{name}}',
          variables: { order: 'o-1' },
          maxConcurrency: 5,
          startsAt: '2030-01-01T15:00:00Z',
          endsAt: '2030-01-02T15:00:00Z',
          callingWindow: { start: '09:00', end: '17:00', quietDays: ['sat', 'sun'] },
          retry: { maxAttempts: 2, retryOn: ['voicemail'], spacingMinutes: 60 },
          requireConsent: 'express',
          voicemailAction: 'leave_message',
          voicemailMessage: 'Call us back',
          contacts: [{ to: '+15125551234', name: 'Ann' }],
          leadIds: ['l-1'],
          leadFilter: { source: 'web', scoreLte: 10 },
          start: true,
        },
        { idempotencyKey: 'spring-2030' },
      ),
      { id: 'cp-1', status: 'scheduled' },
    );
    assert.equal(req.method, 'POST');
    assert.equal(req.url, 'https://www.kaicalls.com/api/v1/campaigns');
    assert.equal(req.headers['Idempotency-Key'], 'spring-2030');
    assert.deepEqual(req.body, {
      name: 'Spring',
      agent_id: 'agent-1',
      from_number: '+15125550000',
      context: 'ctx {{order}}',
      first_message: 'Hi {{name}}',
      variables: { order: 'o-1' },
      max_concurrency: 5,
      starts_at: '2030-01-01T15:00:00Z',
      ends_at: '2030-01-02T15:00:00Z',
      calling_window: { start: '09:00', end: '17:00', quiet_days: ['sat', 'sun'] },
      retry: { max_attempts: 2, retry_on: ['voicemail'], spacing_minutes: 60 },
      require_consent: 'express',
      voicemail_action: 'leave_message',
      voicemail_message: 'Call us back',
      contacts: [{ to: '+15125551234', name: 'Ann' }],
      lead_ids: ['l-1'],
      lead_filter: { source: 'web', score_lte: 10 },
      start: true,
    });
    const minimal = await one((kai) => kai.campaigns.create({ name: 'n', agentId: 'a' }));
    assert.deepEqual(minimal.body, { name: 'n', agent_id: 'a' });
    assert.match(String(minimal.headers['Idempotency-Key']), /^[0-9a-f-]{36}$/);
  });

  test('iterate pages by created_at; iterateContacts follows next_after', async () => {
    const f = fakeFetch((req) => {
      const q = queryOf(req);
      if (pathOf(req) === '/api/v1/campaigns') {
        return q.after === undefined
          ? { body: { campaigns: [{ id: 'c1', created_at: 't2' }], has_more: true } }
          : { body: { campaigns: [{ id: 'c2', created_at: 't1' }], has_more: false } };
      }
      const after = Number(q.after ?? 0);
      return {
        body: {
          contacts: [{ id: `k${after + 1}`, position: after + 1 }],
          has_more: after + 1 < 3,
          next_after: after + 1 < 3 ? after + 1 : null,
        },
      };
    });
    const kai = new KaiCalls({ apiKey: 'kc_live_test', fetch: f });
    const campaigns: string[] = [];
    for await (const c of kai.campaigns.iterate({ status: 'completed', limit: 1 })) campaigns.push(c.id);
    assert.deepEqual(campaigns, ['c1', 'c2']);
    assert.deepEqual(f.requests.map(queryOf), [
      { status: 'completed', limit: '1' },
      { status: 'completed', after: 't2', limit: '1' },
    ]);

    f.requests.length = 0;
    const contacts: string[] = [];
    for await (const c of kai.campaigns.iterateContacts('cp-1', { state: 'pending', limit: 1 })) contacts.push(c.id);
    assert.deepEqual(contacts, ['k1', 'k2', 'k3']);
    assert.deepEqual(f.requests.map(queryOf), [
      { id: 'cp-1', state: 'pending', limit: '1' },
      { id: 'cp-1', state: 'pending', after: '1', limit: '1' },
      { id: 'cp-1', state: 'pending', after: '2', limit: '1' },
    ]);
  });
});

describe('inbound calls', () => {
  test("calls.list sends direction; iterate keeps it on every page", async () => {
    const req = await one((kai) => kai.calls.list({ direction: 'inbound', limit: 5 }));
    assert.equal(pathOf(req), '/api/v1/calls');
    assert.deepEqual(queryOf(req), { direction: 'inbound', limit: '5' });

    const f = fakeFetch((_r, n) => ({
      body: { calls: [{ id: `c${n}`, status: 'completed', created_at: `t${n}` }], has_more: n < 2 },
    }));
    const ids: string[] = [];
    for await (const c of new KaiCalls({ apiKey: 'k', fetch: f }).calls.iterate({ direction: 'outbound' })) ids.push(c.id);
    assert.deepEqual(ids, ['c1', 'c2']);
    assert.deepEqual(f.requests.map(queryOf), [{ direction: 'outbound' }, { direction: 'outbound', after: 't1' }]);
  });

  test('agents.update maps the inbound fields to snake_case (nested hours and destinations as the API names them)', async () => {
    const req = await one((kai) =>
      kai.agents.update({
        id: 'a',
        inboundPrompt: 'ip',
        outboundPrompt: 'op',
        inboundGreeting: 'Hi from {{business_name}}',
        outboundFirstMessage: 'of',
        businessHours: { timezone: 'America/Chicago', days: ['mon', 'tue'], open: '08:00', close: '18:00' },
        afterHoursAction: 'transfer',
        transferDestinations: [
          { number: '+15125550111', name: 'Front desk', reasons: ['billing'], when: 'business_hours' },
          { number: '+15125550112' },
        ],
        transferEnabled: true,
        transferPhoneNumber: '+15125550113',
      }),
    );
    assert.equal(req.method, 'PATCH');
    assert.equal(req.url, 'https://www.kaicalls.com/api/v1/agents');
    assert.deepEqual(req.body, {
      id: 'a',
      inbound_prompt: 'ip',
      outbound_prompt: 'op',
      inbound_greeting: 'Hi from {{business_name}}',
      outbound_first_message: 'of',
      business_hours: { timezone: 'America/Chicago', days: ['mon', 'tue'], open: '08:00', close: '18:00' },
      after_hours_action: 'transfer',
      transfer_destinations: [
        { number: '+15125550111', name: 'Front desk', reasons: ['billing'], when: 'business_hours' },
        { number: '+15125550112' },
      ],
      transfer_enabled: true,
      transfer_phone_number: '+15125550113',
    });
    // `{}`: the server's default hours (weekdays 09:00–17:00).
    const defaults = await one((kai) => kai.agents.update({ id: 'a', businessHours: {} }));
    assert.deepEqual(defaults.body, { id: 'a', business_hours: {} });
  });

  test('voicemails: list maps businessId; iterate pages by created_at', async () => {
    const req = await one((kai) => kai.voicemails.list({ businessId: 'b', after: 't', limit: 10 }), {
      voicemails: [],
      has_more: false,
    });
    assert.equal(req.method, 'GET');
    assert.equal(pathOf(req), '/api/v1/voicemails');
    assert.deepEqual(queryOf(req), { business_id: 'b', after: 't', limit: '10' });
    assert.equal((await one((kai) => kai.voicemails.list())).url, 'https://www.kaicalls.com/api/v1/voicemails');

    const f = fakeFetch((_r, n) => ({
      body: { voicemails: [{ id: `v${n}`, created_at: `t${n}` }], has_more: n < 3 },
    }));
    const ids: string[] = [];
    for await (const v of new KaiCalls({ apiKey: 'k', fetch: f }).voicemails.iterate({ limit: 1 })) ids.push(v.id);
    assert.deepEqual(ids, ['v1', 'v2', 'v3']);
    assert.deepEqual(f.requests.map(queryOf), [{ limit: '1' }, { limit: '1', after: 't1' }, { limit: '1', after: 't2' }]);
  });

  test('staffAlerts: settings, updateSettings (snake_case body), list, iterate', async () => {
    let req = await one((kai) => kai.staffAlerts.settings());
    assert.equal(req.url, 'https://www.kaicalls.com/api/v1/staff-alerts/settings');
    req = await one((kai) => kai.staffAlerts.settings({ businessId: 'b' }));
    assert.equal(req.url, 'https://www.kaicalls.com/api/v1/staff-alerts/settings?business_id=b');

    req = await one((kai) =>
      kai.staffAlerts.updateSettings({
        businessId: 'b',
        enabled: false,
        emails: ['ops@example.com'],
        webhookUrl: 'https://example.com/alerts',
        events: ['new_lead', 'voicemail'],
      }),
    );
    assert.equal(req.method, 'PATCH');
    assert.equal(req.url, 'https://www.kaicalls.com/api/v1/staff-alerts/settings');
    assert.deepEqual(req.body, {
      business_id: 'b',
      enabled: false,
      emails: ['ops@example.com'],
      webhook_url: 'https://example.com/alerts',
      events: ['new_lead', 'voicemail'],
    });
    req = await one((kai) => kai.staffAlerts.updateSettings({ webhookUrl: '' }));
    assert.deepEqual(req.body, { webhook_url: '' }, 'only what is given; "" removes the webhook');

    req = await one((kai) => kai.staffAlerts.list({ businessId: 'b', callId: 'c', after: 't', limit: 5 }));
    assert.equal(pathOf(req), '/api/v1/staff-alerts');
    assert.deepEqual(queryOf(req), { business_id: 'b', call_id: 'c', after: 't', limit: '5' });

    const f = fakeFetch((_r, n) => ({
      body: { alerts: [{ id: `a${n}`, created_at: `t${n}` }], has_more: n < 2 },
    }));
    const ids: string[] = [];
    for await (const a of new KaiCalls({ apiKey: 'k', fetch: f }).staffAlerts.iterate({ callId: 'c' })) ids.push(a.id);
    assert.deepEqual(ids, ['a1', 'a2']);
    assert.deepEqual(f.requests.map(queryOf), [{ call_id: 'c' }, { call_id: 'c', after: 't1' }]);
  });

  test('sandbox.ring posts {to, from} with an idempotency key (generated, or the one given)', async () => {
    let req = await one((kai) => kai.sandbox.ring({ to: '+15125550100', from: SANDBOX_CALLERS.leavesVoicemail }), {
      id: 'c',
      direction: 'inbound',
    });
    assert.equal(req.method, 'POST');
    assert.equal(req.url, 'https://www.kaicalls.com/api/v1/sandbox/inbound-calls');
    assert.deepEqual(req.body, { to: '+15125550100', from: '+15005550102' });
    assert.match(String(req.headers['Idempotency-Key']), /^[0-9a-f-]{36}$/);
    req = await one((kai) => kai.sandbox.ring({ to: '+1', from: '+2' }, { idempotencyKey: 'ring-1' }));
    assert.equal(req.headers['Idempotency-Key'], 'ring-1');
    assert.deepEqual(SANDBOX_CALLERS, {
      hangsUp: '+15005550100',
      wantsAHuman: '+15005550101',
      leavesVoicemail: '+15005550102',
      optsOut: '+15005550103',
      wantsACallback: '+15005550104',
    });
  });
});

describe('other resources', () => {
  test('recordings.get maps callId', async () => {
    const req = await one((kai) => kai.recordings.get('call-1'));
    assert.equal(req.url, 'https://www.kaicalls.com/api/v1/recordings?call_id=call-1');
  });

  test('transcripts.list maps agentId; iterate pages by created_at', async () => {
    const req = await one((kai) => kai.transcripts.list({ limit: 5, agentId: 'a', after: 't', days: 7 }));
    assert.equal(pathOf(req), '/api/v1/transcripts');
    assert.deepEqual(queryOf(req), { limit: '5', agent_id: 'a', after: 't', days: '7' });

    const f = fakeFetch((_r, n) => ({
      body: { transcripts: [{ call_id: `c${n}`, created_at: `t${n}` }], has_more: n < 2 },
    }));
    const ids: string[] = [];
    for await (const t of new KaiCalls({ apiKey: 'k', fetch: f }).transcripts.iterate()) ids.push(t.call_id);
    assert.deepEqual(ids, ['c1', 'c2']);
    assert.equal(queryOf(f.requests[1] as Recorded).after, 't1');
  });

  test('agents: list, get, create, update, versions', async () => {
    let req = await one((kai) => kai.agents.list(), { agents: [] });
    assert.equal(req.url, 'https://www.kaicalls.com/api/v1/agents');
    req = await one((kai) => kai.agents.get('ag-1'));
    assert.equal(req.url, 'https://www.kaicalls.com/api/v1/agents?id=ag-1');
    req = await one((kai) =>
      kai.agents.create({
        businessId: 'b',
        name: 'Ava',
        systemPrompt: 'Be kind',
        firstMessage: 'Hi',
        voice: { voiceId: 'v' },
        model: { model: 'm' },
        metadata: { k: 1 },
      }),
    );
    assert.equal(req.method, 'POST');
    assert.deepEqual(req.body, {
      business_id: 'b',
      name: 'Ava',
      system_prompt: 'Be kind',
      first_message: 'Hi',
      voice: { voiceId: 'v' },
      model: { model: 'm' },
      metadata: { k: 1 },
    });
    req = await one((kai) =>
      kai.agents.update({ id: 'agent-1', inboundPrompt: 'New prompt', vapiConfig: { endCallPhrases: ['goodbye'] } }),
    );
    assert.equal(req.method, 'PATCH');
    assert.deepEqual(req.body, {
      id: 'agent-1',
      inbound_prompt: 'New prompt',
      vapi_config: { endCallPhrases: ['goodbye'] },
    });
    req = await one((kai) =>
      kai.agents.update({
        id: 'a',
        name: 'n',
        systemPrompt: 's',
        outboundPrompt: 'o',
        smsPrompt: 'sp',
        firstMessage: 'f',
        outboundFirstMessage: 'of',
        outboundLlm: 'ol',
        smsLlm: 'sl',
        maxDuration: 120,
        transferEnabled: false,
        transferPhoneNumber: '+15125550100',
        vapiAssistantId: 'va',
      }),
    );
    assert.deepEqual(req.body, {
      id: 'a',
      name: 'n',
      system_prompt: 's',
      outbound_prompt: 'o',
      sms_prompt: 'sp',
      first_message: 'f',
      outbound_first_message: 'of',
      outbound_llm: 'ol',
      sms_llm: 'sl',
      max_duration: 120,
      transfer_enabled: false,
      transfer_phone_number: '+15125550100',
      vapi_assistant_id: 'va',
    });
    req = await one((kai) => kai.agents.versions({ agentId: 'a', version: 2, limit: 5 }));
    assert.deepEqual(queryOf(req), { agent_id: 'a', version: '2', limit: '5' });
  });

  test('leads: list joins statuses with commas and maps every filter', async () => {
    const req = await one((kai) =>
      kai.leads.list({
        status: ['new', 'contacted'],
        source: 'web',
        agentId: 'a',
        phone: '+15125551234',
        email: 'e@x.test',
        createdAfter: 'ca',
        createdBefore: 'cb',
        updatedAfter: 'ua',
        updatedBefore: 'ub',
        scoreGte: 10,
        scoreLte: 90,
        limit: 10,
      }),
    );
    assert.deepEqual(queryOf(req), {
      status: 'new,contacted',
      source: 'web',
      agent_id: 'a',
      phone: '+15125551234',
      email: 'e@x.test',
      created_after: 'ca',
      created_before: 'cb',
      updated_after: 'ua',
      updated_before: 'ub',
      score_gte: '10',
      score_lte: '90',
      limit: '10',
    });
    assert.match(req.url, /phone=%2B15125551234/);
  });

  test('leads: get, create (mapped), update (sent as given), audit', async () => {
    let req = await one((kai) => kai.leads.get('l-1'));
    assert.equal(req.url, 'https://www.kaicalls.com/api/v1/leads?id=l-1');
    req = await one((kai) =>
      kai.leads.create({
        businessId: 'b',
        firstName: 'Ann',
        lastName: 'Lee',
        phone: '+15125551234',
        sourceUrl: 'https://x',
        sourcePage: '/p',
        eventDate: '2026-01-01',
        eventType: 'wedding',
        agentId: 'a',
        timezone: 'America/Chicago',
      }),
    );
    assert.deepEqual(req.body, {
      business_id: 'b',
      first_name: 'Ann',
      last_name: 'Lee',
      phone: '+15125551234',
      source_url: 'https://x',
      source_page: '/p',
      event_date: '2026-01-01',
      event_type: 'wedding',
      agent_id: 'a',
      timezone: 'America/Chicago',
    });
    req = await one((kai) => kai.leads.update({ id: 'l-1', first_name: 'Ann', notes: null, skip: undefined }));
    assert.equal(req.method, 'PATCH');
    assert.deepEqual(req.body, { id: 'l-1', first_name: 'Ann', notes: null });
    req = await one((kai) => kai.leads.audit({ windowHours: 24, stalledDays: 3, hotScore: 80, asOf: 'now' }));
    assert.deepEqual(queryOf(req), { window_hours: '24', stalled_days: '3', hot_score: '80', as_of: 'now' });
  });

  test('phoneNumbers: list, available, assign, release', async () => {
    let req = await one((kai) => kai.phoneNumbers.list({ businessId: 'b', phoneNumber: '+15125550100' }));
    assert.equal(pathOf(req), '/api/v1/phone-numbers');
    assert.deepEqual(queryOf(req), { business_id: 'b', phone_number: '+15125550100' });
    req = await one((kai) => kai.phoneNumbers.available({ country: 'US', areaCode: '512', capability: 'sms', limit: 3 }));
    assert.deepEqual(queryOf(req), { country: 'US', area_code: '512', capability: 'sms', limit: '3' });
    req = await one((kai) => kai.phoneNumbers.assign({ phoneNumber: '+15125550100', businessId: 'b', agentId: 'a' }));
    assert.equal(req.method, 'POST');
    assert.deepEqual(req.body, { phone_number: '+15125550100', business_id: 'b', agent_id: 'a' });
    req = await one((kai) => kai.phoneNumbers.release({ phoneNumber: '+15125550100' }));
    assert.equal(req.method, 'DELETE');
    assert.equal(req.body, undefined);
    assert.equal(req.url, 'https://www.kaicalls.com/api/v1/phone-numbers?phone_number=%2B15125550100');
  });

  test('webhooks: list, create, delete, test, rotateSecret, secret, rotateBusinessSecret', async () => {
    let req = await one((kai) => kai.webhooks.list({ businessId: 'b' }));
    assert.equal(req.url, 'https://www.kaicalls.com/api/v1/webhooks?business_id=b');
    req = await one((kai) =>
      kai.webhooks.create({
        webhookUrl: 'https://example.com/h',
        businessId: 'b',
        events: ['call.completed'],
        description: 'CRM',
        id: 'w-1',
        isActive: false,
      }),
    );
    assert.deepEqual(req.body, {
      webhook_url: 'https://example.com/h',
      business_id: 'b',
      events: ['call.completed'],
      description: 'CRM',
      id: 'w-1',
      is_active: false,
    });
    req = await one((kai) => kai.webhooks.delete({ id: 'w-1', businessId: 'b' }));
    assert.equal(req.method, 'DELETE');
    assert.deepEqual(queryOf(req), { id: 'w-1', business_id: 'b' });
    req = await one((kai) => kai.webhooks.test({ id: 'w-1', data: { x: 1 } }));
    assert.equal(pathOf(req), '/api/v1/webhooks/test');
    assert.deepEqual(req.body, { id: 'w-1', data: { x: 1 } });
    req = await one((kai) => kai.webhooks.rotateSecret({ id: 'w-1', businessId: 'b' }));
    assert.equal(pathOf(req), '/api/v1/webhooks/rotate-secret');
    assert.deepEqual(req.body, { id: 'w-1', business_id: 'b' });
    req = await one((kai) => kai.webhooks.secret());
    assert.equal(req.url, 'https://www.kaicalls.com/api/v1/webhooks/secret');
    req = await one((kai) => kai.webhooks.rotateBusinessSecret({ businessId: 'b' }));
    assert.equal(req.method, 'POST');
    assert.equal(req.url, 'https://www.kaicalls.com/api/v1/webhooks/secret/rotate?business_id=b');
  });

  test('events: list, deliveries, replay, backfill', async () => {
    let req = await one((kai) =>
      kai.events.list({
        businessId: 'b',
        eventId: 'e',
        eventType: 'call.completed',
        objectType: 'call',
        objectId: 'c',
        status: 's',
        from: 'f',
        to: 't',
        limit: 5,
      }),
    );
    assert.deepEqual(queryOf(req), {
      business_id: 'b',
      event_id: 'e',
      event_type: 'call.completed',
      object_type: 'call',
      object_id: 'c',
      status: 's',
      from: 'f',
      to: 't',
      limit: '5',
    });
    req = await one((kai) =>
      kai.events.deliveries({ businessId: 'b', eventId: 'e', webhookId: 'w', callId: 'c', status: 'failed', limit: 2 }),
    );
    assert.equal(pathOf(req), '/api/v1/event-deliveries');
    assert.deepEqual(queryOf(req), { business_id: 'b', event_id: 'e', webhook_id: 'w', call_id: 'c', status: 'failed', limit: '2' });
    req = await one((kai) =>
      kai.events.replay({ businessId: 'b', eventIds: ['e1', 'e2'], filter: { event_type: 'call.completed' } }),
    );
    assert.deepEqual(req.body, { business_id: 'b', event_ids: ['e1', 'e2'], filter: { event_type: 'call.completed' } });
    req = await one((kai) => kai.events.backfill({ from: 'f', to: 't', eventType: 'x' }));
    assert.deepEqual(req.body, { from: 'f', to: 't', event_type: 'x' });
  });

  test('account and discovery', async () => {
    let req = await one((kai) => kai.account.balance());
    assert.equal(req.url, 'https://www.kaicalls.com/api/v1/balance');
    req = await one((kai) => kai.account.usage({ start: '2026-01-01', end: '2026-02-01', limit: 5 }));
    assert.deepEqual(queryOf(req), { start: '2026-01-01', end: '2026-02-01', limit: '5' });
    req = await one((kai) => kai.discovery.openapi());
    assert.equal(req.url, 'https://www.kaicalls.com/api/v1/openapi.json');
    req = await one((kai) => kai.openapi());
    assert.equal(req.url, 'https://www.kaicalls.com/api/v1/openapi.json');
    req = await one((kai) => kai.discovery.health());
    assert.equal(req.url, 'https://www.kaicalls.com/api/v1/health');
    req = await one((kai) => kai.discovery.capabilities({ businessId: 'b' }));
    assert.equal(req.url, 'https://www.kaicalls.com/api/v1/capabilities?business_id=b');
    req = await one((kai) => kai.discovery.schemas({ name: 'Call' }));
    assert.equal(req.url, 'https://www.kaicalls.com/api/v1/schemas?name=Call');
  });

  test('hosted-platform resources keep the published wire format', async () => {
    let req = await one((kai) => kai.sms.send({ to: '+15125551234', fromAgentId: 'agent-1', message: 'Hi!' }), {
      success: true,
    });
    assert.deepEqual(req.body, { to: '+15125551234', from_agent_id: 'agent-1', message: 'Hi!' });
    req = await one((kai) => kai.workspaces.create({ name: 'w', externalRef: 'x' }));
    assert.deepEqual(req.body, { name: 'w', external_ref: 'x' });
    req = await one((kai) => kai.analytics.calls({ days: 7, groupBy: 'week', agentId: 'a' }));
    assert.deepEqual(queryOf(req), { days: '7', group_by: 'week', agent_id: 'a' });
    req = await one((kai) => kai.evals.run({ evalId: 'e', wait: true, maxWaitMs: 10 }));
    assert.deepEqual(req.body, { eval_id: 'e', wait: true, max_wait_ms: 10 });
    req = await one((kai) => kai.communicationRuns.pause('r-1'));
    assert.deepEqual(req.body, { id: 'r-1', action: 'pause' });
  });

  test('signup sends no Authorization and maps its params', async () => {
    const f = fakeFetch(() => ({
      status: 201,
      body: { api_key: 'kc_live_new', business_id: 'biz-1', agent_id: null, phone_number: null },
    }));
    const result = await KaiCalls.signup({ businessName: 'Smith Law', email: 'a@b.com', planId: 'starter' }, { fetch: f });
    assert.equal(result.api_key, 'kc_live_new');
    const req = f.requests[0] as Recorded;
    assert.deepEqual(req.body, { business_name: 'Smith Law', email: 'a@b.com', plan_id: 'starter' });
    assert.equal(req.headers.Authorization, undefined);
  });
});
