// The API reference's "SDKs / JavaScript / TypeScript" example as TypeScript compiled
// to CommonJS, type-checked (not run) by tests/install/typescript.sh against the
// installed package's `require` types. Its duplicate `const call` is renamed.
import { KaiCalls, KaiCallsError, type Call } from 'kaicalls';

async function main(): Promise<void> {
  const kai = new KaiCalls({ apiKey: 'kc_live_xxx' });

  // Simple call
  const call: Call = await kai.calls.create({
    agentId: 'uuid-abc123',
    to: '+15125551234',
    name: 'John Smith',
  });

  // Full call with lead linking and custom opening
  const full = await kai.calls.create({
    agentId: 'uuid-abc123',
    to: '+15125551234',
    name: 'John Smith',
    leadId: 'uuid-lead123',
    context: 'Following up on car accident case',
    firstMessage: 'Hey John, this is Kai — do you have a minute?',
  });

  const result = await kai.calls.get(full.id);
  const summary: string | null | undefined = result.summary;
  console.log(call.id, summary, KaiCallsError.name);
}

void main();
