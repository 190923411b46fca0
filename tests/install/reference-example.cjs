// The API reference's "SDKs / JavaScript / TypeScript" example as a CommonJS script
// (`require`), run by tests/install/typescript.sh in a project that installed the
// `kaicalls` package.
//
// The example's placeholders come from the environment: KAICALLS_API_KEY (a kc_test_
// key, so the server's simulator takes the calls), KAICALLS_AGENT_ID, and a lead made
// here for KAICALLS_BUSINESS_ID. The SDK reads the server's address from
// KAICALLS_BASE_URL itself, as the example builds its client from the key alone.
'use strict';

const assert = require('node:assert/strict');
const { KaiCalls } = require('kaicalls');

const apiKey = process.env.KAICALLS_API_KEY;
const agentId = process.env.KAICALLS_AGENT_ID;
assert.match(String(apiKey), /^kc_test_/, 'KAICALLS_API_KEY must be a test key');
assert.ok(agentId && process.env.KAICALLS_BUSINESS_ID && process.env.KAICALLS_BASE_URL);

// `require` picked the CommonJS build.
assert.match(require.resolve('kaicalls'), /[\\/]dist[\\/]cjs[\\/]index\.js$/);

async function main() {
  const setup = new KaiCalls({ apiKey });
  const lead = await setup.leads.create({
    businessId: process.env.KAICALLS_BUSINESS_ID,
    name: 'John Smith',
    phone: '+15125551234',
    source: 'install test (cjs)',
  });
  const leadId = lead.id;

  let simple;
  // ---- the reference's example, its ids substituted. It declares `const call` twice,
  // ---- a SyntaxError in one scope, so the first one is in a block. CommonJS has no
  // ---- top-level await: the whole script is in an async main().
  const kai = new KaiCalls({ apiKey: apiKey });

  {
  // Simple call
  const call = await kai.calls.create({
    agentId: agentId,
    to: '+15125551234',
    name: 'John Smith',
  });
  simple = call;
  }

  // Full call with lead linking and custom opening
  const call = await kai.calls.create({
    agentId: agentId,
    to: '+15125551234',
    name: 'John Smith',
    leadId: leadId,
    context: 'Following up on car accident case',
    firstMessage: 'Hey John, this is Kai — do you have a minute?',
  });

  const result = await kai.calls.get(call.id);
  console.log(result.summary);
  // ---- end of the example

  for (const placed of [simple, call]) {
    assert.equal(typeof placed.id, 'string');
    assert.equal(placed.status, 'queued');
    assert.equal(placed.mode, 'test');
    assert.equal(placed.agent_id, agentId);
    assert.equal(placed.to, '+15125551234');
  }
  assert.notEqual(simple.id, call.id);
  assert.equal(result.id, call.id);
  assert.equal(result.lead_id, leadId);
  assert.equal(result.context, 'Following up on car accident case');
  assert.equal(result.first_message, 'Hey John, this is Kai — do you have a minute?');

  // The summary is there once the call has ended (the simulator runs fast here).
  const done = await kai.calls.wait(call.id, { intervalMs: 100, timeoutMs: 60_000 });
  assert.equal(done.status, 'completed', `call ended as ${done.status} (${done.ended_reason})`);
  assert.ok(typeof done.summary === 'string' && done.summary.trim(), 'no summary');
  console.log(`cjs: call ${done.id} ${done.status}: ${done.summary}`);
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
