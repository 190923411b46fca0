/**
 * Runs the real KaiCalls server for integration tests: a temp dir, `admin bootstrap`
 * for a tenant, then `serve` on port 0, read back from the startup line.
 */

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const BIN = process.env.KAICALLS_BIN || '/work/target/debug/kaicalls';

export interface Bootstrap {
  user_id: string;
  business_id: string;
  agent_id: string;
  phone_number_id: string;
  phone_number: string;
  live_key: string;
  test_key: string;
  webhook_secret: string;
}

export interface TestServer {
  baseUrl: string;
  boot: Bootstrap;
  dir: string;
  /** The server's stderr so far (its request log), for failure messages. */
  log(): string;
  stop(): Promise<void>;
}

const STARTUP_TIMEOUT_MS = 20_000;

export async function startServer(extraEnv: Record<string, string> = {}): Promise<TestServer> {
  const dir = await mkdtemp(join(tmpdir(), 'kaicalls-ts-'));
  const env = {
    ...process.env,
    KAICALLS_DATABASE_URL: `sqlite://${join(dir, 'k.db')}`,
    KAICALLS_RECORDINGS_DIR: join(dir, 'rec'),
    KAICALLS_SIM_SPEED: '500',
    KAICALLS_ALLOW_PRIVATE_WEBHOOKS: 'true',
    KAICALLS_RATE_LIMIT_CALLS_PER_MIN: '100000',
    ...extraEnv,
  };
  const { stdout } = await run(
    BIN,
    [
      'admin', 'bootstrap',
      '--email', 'a@b.test',
      '--password', 'long-password-1',
      '--business', 'Smith Law',
      '--json',
    ],
    { env },
  );
  const boot = JSON.parse(stdout.trim()) as Bootstrap;

  const child = spawn(BIN, ['serve', '--bind', '127.0.0.1:0'], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-200_000);
  });

  try {
    const baseUrl = await listeningUrl(child, () => stderr);
    return {
      baseUrl,
      boot,
      dir,
      log: () => stderr,
      stop: async () => {
        await stopChild(child);
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await stopChild(child);
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

/** Resolves with the URL of the `KaiCalls listening on http://…` line on stdout. */
function listeningUrl(child: ChildProcess, stderr: () => string): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    const timer = setTimeout(
      () => fail(new Error(`server did not start within ${STARTUP_TIMEOUT_MS}ms\n${stderr()}`)),
      STARTUP_TIMEOUT_MS,
    );
    const onData = (chunk: string) => {
      buffered += chunk;
      const match = /KaiCalls listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(buffered);
      if (match?.[1]) {
        cleanup();
        // Keep draining stdout so the server never blocks on a full pipe.
        child.stdout?.resume();
        resolve(match[1]);
      }
    };
    const onExit = (code: number | null) =>
      fail(new Error(`server exited (${code}) before listening\n${stderr()}`));
    const fail = (err: Error) => {
      cleanup();
      reject(err);
    };
    const cleanup = () => {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.off('exit', onExit);
    };
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', onData);
    child.once('exit', onExit);
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

/** Polls `check` until it returns a value (not undefined) or the deadline passes. */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 20_000,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Runs `fn` over `items` with at most `concurrency` in flight; results in order. */
export async function mapLimit<T, R>(
  items: readonly T[],
  concurrency: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return results;
}
