// The dashboard in a real browser: Debian's Chromium driven by playwright-core,
// against the real `kaicalls` binary (SQLite, the built-in simulator). One story, in
// order, as a newcomer lives it: sign up, sign out and in, create a key, use it over
// HTTP to place a test call, watch it complete in the list without a reload, open it
// (transcript, summary, quality bars, a recording that plays), see its webhook
// delivery and resend it, import leads from a CSV with a bad row, revoke the key and
// see the API refuse it, sign out. Every page is screenshotted at desktop and phone
// width (SCREENSHOTS dir) and checked with axe-core: no serious or critical
// violation, and no Content-Security-Policy violation in the console.
//
// Usage: node --test dashboard.test.mjs   (KAICALLS_BIN, SCREENSHOTS, CHROMIUM)

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdtempSync, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const BIN = process.env.KAICALLS_BIN;
const SHOTS = process.env.SCREENSHOTS || join(dirname(new URL(import.meta.url).pathname), '../../target/dashboard-screenshots');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const DESKTOP = { width: 1280, height: 860 };
const PHONE = { width: 390, height: 844 };

async function startServer() {
  const dir = mkdtempSync(join(tmpdir(), 'kaicalls-dashboard-'));
  const child = spawn(BIN, ['serve'], {
    env: {
      ...process.env,
      KAICALLS_BIND: '127.0.0.1:0',
      KAICALLS_DATABASE_URL: `sqlite://${join(dir, 'k.db')}`,
      KAICALLS_RECORDINGS_DIR: join(dir, 'recordings'),
      KAICALLS_SIM_SPEED: '20',
      RUST_LOG: 'warn',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stderr.on('data', (d) => { log += d; });
  const url = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`no startup line: ${out}${log}`)), 20000);
    child.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/listening on (http:\/\/[^\s]+)/);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
    child.on('exit', (code) => reject(new Error(`server exited ${code}: ${log}`)));
  });
  // The server's own origin is what its CSRF check compares with.
  return { url, child, log: () => log };
}

/** A webhook receiver that records every request. */
async function startReceiver() {
  const received = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      received.push({ headers: req.headers, body: JSON.parse(body || 'null') });
      res.writeHead(200).end('ok');
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${server.address().port}/hooks`, received, close: () => server.close() };
}

async function eventually(what, probe, ms = 30000) {
  const deadline = Date.now() + ms;
  let last;
  while (Date.now() < deadline) {
    try {
      const v = await probe();
      if (v) return v;
    } catch (e) { last = e; }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${last}` : ''}`);
}

test('the dashboard, from sign-up to sign-out', { timeout: 240000 }, async (t) => {
  assert.ok(BIN, 'KAICALLS_BIN is the kaicalls binary');
  mkdirSync(SHOTS, { recursive: true });
  const server = await startServer();
  const receiver = await startReceiver();
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  t.after(async () => {
    await browser.close();
    receiver.close();
    server.child.kill('SIGTERM');
  });
  const context = await browser.newContext({ viewport: DESKTOP });
  const page = await context.newPage();
  const problems = [];
  page.on('console', (m) => {
    if (m.type() === 'error' && !/ERR_INCOMPLETE_CHUNKED_ENCODING|net::ERR_ABORTED/.test(m.text())) problems.push(m.text());
  });
  page.on('pageerror', (e) => problems.push(String(e)));
  const checked = [];
  let shot = 0;

  /** Screenshots at both widths and an axe check: no serious or critical violation. */
  async function look(name) {
    shot += 1;
    const n = String(shot).padStart(2, '0');
    await page.setViewportSize(DESKTOP);
    await page.screenshot({ path: join(SHOTS, `${n}-${name}-desktop.png`), fullPage: true });
    await page.setViewportSize(PHONE);
    await page.screenshot({ path: join(SHOTS, `${n}-${name}-phone.png`), fullPage: true });
    // Nothing wider than the phone's screen but what scrolls inside its own box.
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 1, `${name}: the page is ${overflow}px wider than a phone`);
    await page.setViewportSize(DESKTOP);
    await page.evaluate(AXE);
    const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
    const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
    assert.deepEqual(
      bad.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((x) => x.target.join(' ')).join(', ')}`),
      [],
      `${name}: accessibility violations`,
    );
    assert.deepEqual(problems, [], `${name}: console errors`);
    checked.push(name);
  }

  // Sign up.
  await page.goto(`${server.url}/signup`);
  await look('signup');
  await page.getByLabel('Email').fill('owner@browser.test');
  await page.getByLabel('Password (at least 8 characters)').fill('correct horse battery');
  await page.getByLabel('Business name').fill('Browser Law');
  await page.getByLabel('Time zone').selectOption('America/Chicago');
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.getByRole('heading', { name: 'Welcome to KaiCalls' }).waitFor();
  const signupKey = (await page.locator('#new-key').textContent()).trim();
  assert.match(signupKey, /^kc_test_[A-Za-z0-9]{32,}$/);
  await look('welcome');

  // Sign out, and in again.
  await page.goto(`${server.url}/dashboard`);
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL(/\/login/);
  await look('login');
  await page.getByLabel('Email').fill('owner@browser.test');
  await page.getByLabel('Password').fill('wrong password!');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('alert').filter({ hasText: 'Invalid email or password' }).waitFor();
  // The refused sign-in page is a 401, which the console reports: expected here.
  problems.length = 0;
  await page.getByLabel('Password').fill('correct horse battery');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${server.url}/dashboard`);
  await page.getByRole('heading', { name: 'Overview' }).waitFor();
  await look('overview-empty');

  // Create a key (the reference's default scopes are ticked).
  await page.getByRole('link', { name: 'API keys' }).click();
  assert.equal(await page.getByRole('checkbox', { name: 'calls:write' }).isChecked(), true);
  assert.equal(await page.getByRole('checkbox', { name: 'webhooks:write' }).isChecked(), false);
  await page.getByLabel('Name').fill('Browser test key');
  await page.getByLabel('Mode').selectOption('test');
  await page.getByRole('button', { name: 'Create key' }).click();
  await page.getByRole('heading', { name: 'Your new key' }).waitFor();
  const key = (await page.locator('#new-key').textContent()).trim();
  assert.match(key, /^kc_test_/);
  await look('keys-created');

  // The calls list is open while the key places a call over HTTP.
  await page.getByRole('link', { name: 'Calls', exact: true }).click();
  await page.waitForURL(/\/dashboard\/calls$/);
  await page.locator('#live[data-streaming="open"]').waitFor();
  await page.evaluate(() => { window.__noReload = 'still here'; });
  const agents = await (await fetch(`${server.url}/api/v1/agents`, { headers: { Authorization: `Bearer ${key}` } })).json();
  const made = await fetch(`${server.url}/api/v1/calls`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ agent_id: agents.agents[0].id, to: '+15125551234', name: 'Jane Browser', context: 'Confirm Tuesday 2pm', webhook_url: receiver.url }),
  });
  assert.equal(made.status, 201);
  const call = await made.json();
  const row = page.locator(`tr[data-call-id="${call.id}"]`);
  await row.waitFor({ timeout: 15000 });
  await row.locator('.status-completed').waitFor({ timeout: 60000 });
  assert.equal(await page.evaluate(() => window.__noReload), 'still here', 'the list updated without a reload');
  await look('calls');

  // The call page: transcript, summary, quality bars, a recording that plays.
  await row.getByRole('link').click();
  await page.waitForURL(new RegExp(`/dashboard/calls/${call.id}$`));
  assert.ok((await page.locator('#transcript p').count()) >= 2, 'a transcript');
  assert.match(await page.locator('#transcript').textContent(), /Agent: .*Customer: /s, 'both voices');
  assert.ok((await page.locator('#summary').textContent()).trim().length > 10, 'a summary');
  assert.equal(await page.locator('#quality meter').count(), 4, 'four quality bars');
  const duration = await page.locator('audio#recording').evaluate((audio) => new Promise((resolve, reject) => {
    if (audio.readyState >= 1 && audio.duration > 0) return resolve(audio.duration);
    audio.addEventListener('loadedmetadata', () => resolve(audio.duration));
    audio.addEventListener('error', () => reject(new Error(`audio error ${audio.error && audio.error.code}`)));
    audio.load();
  }));
  assert.ok(duration > 1, `the recording has a duration (${duration})`);
  await page.locator('audio#recording').evaluate((a) => a.play().then(() => a.pause()));

  // Its webhook delivery, with every attempt; resending it sends the same webhook-id.
  await eventually('the delivery on the page', async () => {
    await page.reload();
    return (await page.locator('#deliveries .status-succeeded').count()) > 0;
  });
  await eventually('the first delivery', () => receiver.received.some((r) => r.body && r.body.event === 'call.completed'));
  const first = receiver.received.find((r) => r.body.event === 'call.completed');
  await look('call');
  await page.getByRole('button', { name: 'Resend call.completed' }).click();
  await page.getByRole('status').filter({ hasText: 'queued for delivery again' }).waitFor();
  await eventually('the resent delivery', () => receiver.received.filter((r) => r.body && r.body.event === 'call.completed').length === 2);
  const again = receiver.received.filter((r) => r.body.event === 'call.completed')[1];
  assert.equal(again.headers['webhook-id'], first.headers['webhook-id']);

  // Leads from a CSV, one bad row reported.
  await page.getByRole('link', { name: 'Leads' }).click();
  await page.locator('#csv').fill('name,phone,email,score\nAda Lovelace,+15125550101,ada@example.com,80\nBad Number,12345,bad@example.com,10\nGrace Hopper,+15125550102,grace@example.com,90\n');
  await page.getByRole('button', { name: 'Import leads' }).click();
  const report = page.locator('#import-report');
  await report.waitFor();
  assert.match(await report.textContent(), /2 lead\(s\) imported, 1 row\(s\) refused/);
  assert.match(await report.locator('tbody tr').first().textContent(), /^3.*phone/);
  assert.equal(await page.locator('#leads tbody tr').count(), 2);
  await look('leads-imported');
  await page.getByRole('link', { name: 'Ada Lovelace' }).click();
  await page.getByRole('heading', { name: 'Lead Ada Lovelace' }).waitFor();
  await look('lead');

  // The other pages.
  await page.goto(`${server.url}/dashboard`);
  await page.locator('#calls-per-day').waitFor();
  // The finished call shows in the outcomes per day, named in the chart's text.
  assert.match(await page.locator('#outcomes-per-day title').textContent(), /: 1 /);
  await look('overview');
  await page.goto(`${server.url}/dashboard/calls/new`);
  await look('place-call');
  await page.goto(`${server.url}/dashboard/agents`);
  await look('agents');
  await page.getByRole('link', { name: 'Kai', exact: true }).click();
  await page.getByRole('heading', { name: 'Agent Kai' }).waitFor();
  await look('agent');
  await page.goto(`${server.url}/dashboard/webhooks`);
  await look('webhooks');
  await page.goto(`${server.url}/dashboard/settings`);
  await look('settings');

  // The do-not-call list: a number added here is refused to every key, and the
  // refusal is listed beside it; removing it needs a reason.
  await page.getByRole('link', { name: 'Do not call' }).click();
  await page.getByLabel('Phone number (E.164)').fill('+15125550199');
  await page.getByLabel('Reason').fill('asked by letter');
  await page.getByRole('button', { name: 'Add to the list' }).click();
  await page.getByRole('status').filter({ hasText: 'on the do-not-call list' }).waitFor();
  assert.match(await page.locator('#dnc tbody').textContent(), /\+15125550199.*api.*asked by letter/s);
  const blocked = await fetch(`${server.url}/api/v1/calls`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ agent_id: agents.agents[0].id, to: '+15125550199' }),
  });
  assert.equal(blocked.status, 403);
  assert.equal((await blocked.json()).error.code, 'dnc_blocked');
  await page.reload();
  assert.match(await page.locator('#refusals tbody').textContent(), /\+15125550199.*dnc/s);
  await look('dnc');
  await page.getByPlaceholder('Why it may be called').fill('consent renewed');
  await page.getByRole('button', { name: 'Remove +15125550199' }).click();
  await page.getByRole('status').filter({ hasText: 'off the list' }).waitFor();
  assert.equal(await page.locator('#dnc').count(), 0, 'the list is empty again');

  // Campaigns: one from a CSV (an invalid row is skipped with its reason), started
  // from its page, watched to the end live; a second one canceled as a draft.
  await page.getByRole('link', { name: 'Campaigns' }).click();
  await page.getByLabel('Name', { exact: true }).fill('Browser reminders');
  await page.getByLabel('CSV', { exact: true }).fill('to,name,appointment\n+15125556001,Ann,Tuesday\n+15125556002,Bob,Friday\nnot-a-number,Cy,Monday');
  await page.getByLabel('Calls at once').fill('1');
  await page.getByRole('button', { name: 'Create campaign' }).click();
  await page.getByRole('status').filter({ hasText: 'Campaign created' }).waitFor();
  assert.match(await page.locator('#campaign-h').textContent(), /Browser reminders.*draft/s);
  assert.match(await page.locator('#contacts tbody').textContent(), /not-a-number.*skipped.*invalid_number/s);
  await page.getByRole('button', { name: 'Start' }).click();
  await page.getByRole('status').filter({ hasText: 'The campaign is dialing' }).waitFor();
  // The live region follows the event stream until the campaign completes.
  await page.locator('#campaign-h', { hasText: 'completed' }).waitFor({ timeout: 30000 });
  assert.match(await page.locator('#campaign-counts tbody').textContent(), /3\s*0\s*0\s*2/);
  assert.match(await page.locator('#skip-reasons').textContent(), /invalid_number 1/);
  await page.locator('#contacts a', { hasText: 'call 1' }).first().waitFor();
  await look('campaign');
  await page.getByRole('link', { name: 'Campaigns' }).click();
  assert.match(await page.locator('#campaigns tbody').textContent(), /Browser reminders.*completed/s);
  await look('campaigns');
  await page.getByLabel('Name', { exact: true }).fill('Never mind');
  await page.getByLabel('CSV', { exact: true }).fill('to\n+15125556003');
  await page.getByRole('button', { name: 'Create campaign' }).click();
  await page.getByRole('status').filter({ hasText: 'Campaign created' }).waitFor();
  page.once('dialog', (d) => d.accept());
  await page.getByRole('button', { name: 'Cancel' }).click();
  await page.getByRole('status').filter({ hasText: 'Canceled' }).waitFor();
  assert.match(await page.locator('#campaign-h').textContent(), /canceled/);

  // Inbound: staff alert settings, a sandbox caller who leaves a voicemail (the
  // call's page opens), the voicemail with a player, the calls list by direction.
  await page.getByRole('link', { name: 'Inbound' }).click();
  await page.getByLabel('Email recipients (comma separated)').fill('intake@smithlaw.test, front@smithlaw.test');
  await page.getByRole('button', { name: 'Save alert settings' }).click();
  await page.getByRole('status').filter({ hasText: 'Saved' }).waitFor();
  assert.equal(await page.getByLabel('Email recipients (comma separated)').inputValue(), 'intake@smithlaw.test, front@smithlaw.test');
  await page.getByLabel('Caller').selectOption('+15005550102');
  await page.getByRole('button', { name: 'Ring' }).click();
  await page.waitForURL(/\/dashboard\/calls\/[0-9a-f-]+$/);
  await page.getByText('completed', { exact: false }).first().waitFor({ timeout: 30000 });
  await page.getByRole('link', { name: 'Inbound' }).click();
  await page.locator('ul.voicemails blockquote', { hasText: 'car accident' }).waitFor({ timeout: 30000 });
  assert.equal(await page.locator('ul.voicemails audio').count(), 1);
  assert.match(await page.locator('#inbound-calls tbody').textContent(), /\+15005550102/);
  assert.match(await page.locator('#staff-alerts tbody').textContent(), /voicemail.*intake@smithlaw\.test/s);
  await look('inbound');
  await page.goto(`${server.url}/dashboard/calls?direction=inbound`);
  assert.match(await page.locator('#calls tbody').textContent(), /inbound.*\+15005550102/s);

  // Revoke the key; the API refuses it at once.
  await page.goto(`${server.url}/dashboard/keys`);
  page.once('dialog', (d) => d.accept());
  await page.getByRole('button', { name: 'Revoke Browser test key' }).click();
  await page.getByRole('status').filter({ hasText: 'The key is revoked' }).waitFor();
  const refused = await fetch(`${server.url}/api/v1/calls`, { headers: { Authorization: `Bearer ${key}` } });
  assert.equal(refused.status, 401);
  await look('keys-revoked');

  // Sign out: the dashboard asks to sign in again.
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL(/\/login/);
  await page.goto(`${server.url}/dashboard/calls`);
  await page.waitForURL(/\/login\?next=%2Fdashboard%2Fcalls/);

  console.log(`pages checked (axe, desktop + phone screenshots in ${SHOTS}): ${checked.join(', ')}`);
});
