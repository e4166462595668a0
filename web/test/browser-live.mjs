// Browser test of the live console (not a node:test file: run by `make
// test-web-live`): starts the demo server with the emulator
// (`serve.mjs 0 --python PY --no-agent`: `cloudbackup serve`, seeded, its
// agent simulated), loads the console in Debian's chromium with
// playwright-core, and checks: the seeded restores are listed, a running
// restore's counters grow, Start adds a restore, Stop moves it to
// stop_requested (then the agent to stopped), and a PATCH the core refuses
// is sent anyway and the server answers the status and message the core
// predicted. PY: $CLOUDBACKUP_PYTHON, else the repository's .venv.
// Saves a screenshot under build/web/. Always stops the server and the browser.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { startDemoServer } from './demo-server.mjs';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SHOTS = join(ROOT, 'build/web');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const PYTHON = process.env.CLOUDBACKUP_PYTHON ?? join(ROOT, '.venv/bin/python');
const TIMEOUT = 15_000;
const started = performance.now();

const { url, stop } = await startDemoServer(['--python', PYTHON, '--no-agent'], 30, 'live demo server');
/** @type {import('playwright-core').Browser | null} */
let browser = null;
let checks = 0;
try {
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: TIMEOUT,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  const page = await browser.newPage();
  page.setDefaultTimeout(TIMEOUT);
  /** @type {string[]} */
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(url);
  await page.waitForSelector('body[data-ready="yes"]');
  assert.match((await page.locator('#live-status').textContent()) ?? '', /^Live: signed in as demo/);

  // The seeded restores: one completed, one stopped, one the agent runs.
  const rows = page.locator('#restores tbody tr');
  assert.equal(await rows.count(), 3);
  const states = await page.locator('#restores tbody tr td.state').allTextContents();
  assert.deepEqual(states.slice(0, 2), ['completed', 'stopped']);
  assert.ok(['start_requested', 'queued', 'preparing', 'in_progress', 'completed'].includes(states[2]), states[2]);
  assert.equal(await page.locator('#backups tbody tr').count(), 2);
  checks++;

  // Its progress, as the page polls it: the files count grows.
  const running = /** @type {string} */ (await rows.nth(2).getAttribute('data-id'));
  const filesOf = async () => Number(/^(\d+) files/.exec((await page.locator(`#restores tr[data-id="${running}"] td.progress`).textContent()) ?? '')?.[1]);
  const before = await filesOf();
  await page.waitForFunction(([id, n]) => {
    const text = document.querySelector(`#restores tr[data-id="${id}"] td.progress`)?.textContent ?? '';
    return Number(/^(\d+) files/.exec(text)?.[1]) > Number(n);
  }, [running, String(before)]);
  console.log(`live: restore ${running} went from ${before} to ${await filesOf()} files while watched`);
  checks++;

  // Start: a fourth restore, listed.
  await page.click('#start-restore');
  await page.waitForFunction(() => document.querySelectorAll('#restores tbody tr').length === 4);
  const added = /** @type {string} */ (await rows.nth(3).getAttribute('data-id'));
  assert.match((await page.locator('#action-log').textContent()) ?? '', new RegExp(`restore ${added}: started`));
  checks++;

  // Stop it: stop_requested at once, then the agent's stopped.
  await page.click(`#restores tr[data-id="${added}"] button[data-action="stop"]`);
  await page.waitForSelector(`#restores tr[data-id="${added}"][data-state="stop_requested"]`);
  assert.match((await page.locator('#action-log').textContent()) ?? '', /-> stop_requested \(PATCH accepted\)/);
  await page.waitForSelector(`#restores tr[data-id="${added}"][data-state="stopped"]`);
  checks++;

  // A PATCH the core refuses, sent anyway: a stop request for the completed
  // restore. The core predicts a conflict; the server answers 409 with the
  // same message.
  const completed = /** @type {string} */ (await rows.nth(0).getAttribute('data-id'));
  await page.selectOption('#patch-target', completed);
  await page.selectOption('#patch-actor', 'user');
  await page.fill('#patch-text', '[{"op": "replace", "path": "/state", "value": "stop_requested"}]');
  await page.click('#patch-send');
  await page.waitForSelector('#patch-server[data-status]');
  assert.equal(await page.locator('#patch-verdict .verdict').textContent(), 'refused: patch_conflict');
  assert.equal(await page.locator('#patch-server').getAttribute('data-status'), '409');
  assert.equal(await page.locator('#patch-server').getAttribute('data-match'), 'yes');
  const body409 = JSON.parse((await page.locator('#patch-server .body').textContent()) ?? '');
  assert.ok((await page.locator('#patch-verdict .reason').textContent())?.includes(body409.message), body409.message);
  console.log(`live: refused stop of a completed restore: predicted patch_conflict, server 409 ${JSON.stringify(body409)}`);
  checks++;

  // A user reporting progress on the running restore: 400 with the core's reason.
  await page.evaluate(() => {
    const el = document.getElementById('patch-server');
    if (el) delete el.dataset.status;
  });
  await page.selectOption('#patch-target', running);
  await page.fill('#patch-text', '[{"op": "replace", "path": "/files_restored", "value": 3}]');
  await page.click('#patch-send');
  await page.waitForSelector('#patch-server[data-status]');
  const status = await page.locator('#patch-server').getAttribute('data-status');
  assert.equal(status, '400');
  assert.equal(await page.locator('#patch-verdict .verdict').textContent(), 'refused: patch_rejected');
  assert.equal(await page.locator('#patch-server').getAttribute('data-match'), 'yes');
  const body2 = JSON.parse((await page.locator('#patch-server .body').textContent()) ?? '');
  console.log(`live: a user's counter patch: server ${status} ${JSON.stringify(body2)}`);
  checks++;

  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, 'demo-live.png'), fullPage: true });
  assert.deepEqual(errors, []);
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  console.log(`browser live test: ${checks} checks passed in ${await browser.version()} against cloudbackup serve in ${seconds} s (screenshot: build/web/demo-live.png)`);
} finally {
  await browser?.close().catch(() => {});
  stop();
}
