// The generated response types (src/models.ts, written by sdks/codegen/generate.py from
// the server's openapi.json): the committed file is what the generator writes, and the
// types are closed, so reading a field the document does not name fails `tsc`.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';

const sdk = fileURLToPath(new URL('..', import.meta.url)); // sdks/typescript (from dist-test/)
const repo = join(sdk, '..', '..');
const openapi = join(repo, 'openapi.json');
const generator = join(repo, 'sdks', 'codegen', 'generate.py');
const committed = join(sdk, 'src', 'models.ts');

describe('generated models', () => {
  test('src/models.ts is what openapi.json generates', (t) => {
    if (!existsSync(openapi) || !existsSync(generator)) {
      t.skip(`not in the repository (no ${openapi} / ${generator})`);
      return;
    }
    const out = mkdtempSync(join(tmpdir(), 'kaicalls-models-'));
    try {
      const run = spawnSync(
        process.env.PYTHON ?? 'python3',
        [generator, '--openapi', openapi, '--out-dir', out],
        { encoding: 'utf8' },
      );
      assert.equal(run.status, 0, `generate.py failed: ${run.error ?? ''}${run.stderr}`);
      const fresh = readFileSync(join(out, 'models.ts'));
      assert.ok(
        fresh.equals(readFileSync(committed)),
        'sdks/typescript/src/models.ts is not what openapi.json generates: ' +
          'run `python3 sdks/codegen/generate.py` (from the repository root) and commit the result',
      );
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  test('tsc rejects a misspelt field and accepts the documented one', () => {
    // Inside the package folder, so `import ... from 'kaicalls'` resolves to this package
    // (its built dist/ types) exactly as in a user's project.
    const dir = mkdtempSync(join(sdk, 'dist-test', 'typecheck-'));
    try {
      writeFileSync(
        join(dir, 'tsconfig.json'),
        JSON.stringify({
          extends: '../../tsconfig.json',
          compilerOptions: { noEmit: true, rootDir: '.', declaration: false, declarationMap: false },
          include: ['*.ts'],
        }),
      );
      writeFileSync(
        join(dir, 'good.ts'),
        [
          "import type { KaiCalls } from 'kaicalls';",
          // The names earlier versions exported still exist.
          'import type {',
          '  Agent, BusinessBalance, Call, CallDetail, CallEvent, CallList, CallStatus, EventDelivery,',
          '  KaiEvent, Lead, PhoneNumber, Recording, Transcript, TranscriptList, TranscriptTurn,',
          '  UsageRow, WebhookSubscription,',
          "} from 'kaicalls';",
          '',
          'export async function summary(kai: KaiCalls): Promise<string | null> {',
          "  const call: CallDetail = await kai.calls.get('c1');",
          '  const listed: Call[] = (await kai.calls.list()).calls;',
          '  const status: CallStatus | undefined = listed[0]?.status;',
          '  const empathy: number | undefined = call.quality_dimensions?.empathy;',
          '  const turn: TranscriptTurn | undefined = call.transcript[0];',
          '  console.log(status, empathy, turn?.text, call.from);',
          '  return call.summary;',
          '}',
          '',
          'export type Old = [Agent, BusinessBalance, CallEvent, CallList, EventDelivery, KaiEvent, Lead,',
          '  PhoneNumber, Recording, Transcript, TranscriptList, UsageRow, WebhookSubscription];',
          '',
        ].join('\n'),
      );
      writeFileSync(
        join(dir, 'bad.ts'),
        [
          "import type { KaiCalls } from 'kaicalls';",
          '',
          'export async function show(kai: KaiCalls): Promise<void> {',
          "  const call = await kai.calls.get('c1');",
          '  console.log(call.sumary);',
          '}',
          '',
        ].join('\n'),
      );
      const tsc = join(sdk, 'node_modules', 'typescript', 'bin', 'tsc');
      const run = spawnSync(process.execPath, [tsc, '-p', dir, '--pretty', 'false'], {
        cwd: dir,
        encoding: 'utf8',
      });
      const errors = run.stdout.split('\n').filter((line) => line.includes('error TS'));
      assert.notEqual(run.status, 0, run.stdout + run.stderr);
      assert.deepEqual(
        errors,
        [
          "bad.ts(5,20): error TS2551: Property 'sumary' does not exist on type 'CallDetail'. " +
            "Did you mean 'summary'?",
        ],
        run.stdout + run.stderr,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
