// Browser test (not a node:test file: run by `make test-web`): starts the
// demo server on 127.0.0.1 (ephemeral port), drives Debian's chromium with
// playwright-core, and checks the demo: the buttons a restore in
// `in_progress` allows, an invalid patch rejected with its reason, and a
// file restored in the page whose bytes match the golden copy. Saves a
// screenshot under build/web/. Always stops the server and the browser.
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { startDemoServer } from './demo-server.mjs';
import { pageRestore } from './page-restore.mjs';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SHOTS = join(ROOT, 'build/web');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const TIMEOUT = 30_000;

const { url, stop } = await startDemoServer([], 10, 'demo server');
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
    // playwright gives every launch a fresh --user-data-dir of its own (a temp dir it removes).
  });
  const page = await browser.newPage();
  page.setDefaultTimeout(TIMEOUT);
  /** @type {string[]} */
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(url);
  await page.waitForSelector('body[data-ready="yes"]');

  // A restore in in_progress offers only Stop.
  const row = page.locator('#restores tbody tr').first();
  await row.locator('select.simulate').selectOption('in_progress');
  assert.equal(await row.locator('td.state').textContent(), 'in_progress');
  assert.deepEqual(await row.locator('td.actions button').allTextContents(), ['Stop']);
  checks++;
  // ... and a completed one offers nothing, a Creating-like start_requested offers Stop.
  await row.locator('select.simulate').selectOption('completed');
  assert.deepEqual(await row.locator('td.actions button').allTextContents(), []);
  await row.locator('select.simulate').selectOption('in_progress');
  checks++;

  // An invalid patch (an agent moving in_progress back to queued) is refused with its reason.
  await page.fill('#patch-text', '[{"op": "replace", "path": "/state", "value": "queued"}]');
  await page.click('#patch-validate');
  assert.equal(await page.locator('#patch-verdict .verdict').textContent(), 'refused: patch_rejected');
  const reason = await page.locator('#patch-verdict .reason').textContent();
  assert.match(reason ?? '', /PatchRejectedError/);
  assert.match(reason ?? '', /queued/);
  checks++;
  // A valid one is accepted.
  await page.fill('#patch-text', '[{"op": "replace", "path": "/state", "value": "completed"}]');
  await page.click('#patch-validate');
  assert.equal(await page.locator('#patch-verdict .verdict').textContent(), 'accepted');
  checks++;

  // Restore in the browser: a wrong password first, then the right one.
  await page.fill('#vault-password', 'not it');
  await page.click('#vault-open');
  await page.waitForSelector('#vault-files .bad');
  assert.match((await page.locator('#vault-files .bad').textContent()) ?? '', /WrongPasswordError/);
  checks++;
  const password = readFileSync(join(ROOT, 'tests/golden/v1/PASSWORD'), 'utf8');
  await page.fill('#vault-password', password);
  await page.click('#vault-open');
  await page.click('#vault-files button[data-path="/data/random.bin"]');
  await page.waitForSelector('#download');
  const restored = await page.evaluate(() => Array.from(/** @type {{ restored: Uint8Array }} */ (/** @type {unknown} */ (window)).restored));
  const expected = readFileSync(join(ROOT, 'tests/golden/v1/expected/data/random.bin'));
  assert.equal(restored.length, expected.length);
  assert.ok(Buffer.from(restored).equals(expected), 'restored bytes differ from the golden copy');
  // The download link carries the same bytes.
  const downloaded = await page.evaluate(async () => {
    const a = /** @type {HTMLAnchorElement} */ (document.getElementById('download'));
    return Array.from(new Uint8Array(await (await fetch(a.href)).arrayBuffer()));
  });
  assert.ok(Buffer.from(downloaded).equals(expected));
  checks++;

  // The client with the browser's own fetch and Response: call() builds the
  // request, the fetch passed in serves the sample body from the demo server,
  // the core parses it; a 503 first is retried.
  const called = await page.evaluate(async () => {
    const served = '/web/index.js';
    const cb = /** @type {typeof import('../index.js')} */ (await import(served));
    /** @type {string[]} */
    const urls = [];
    /** @type {import('../client.js').FetchLike} */
    const sampleFetch = async (url, init) => {
      urls.push(`${init.method} ${url}`);
      if (urls.length === 1) return new Response('{"message": "busy"}', { status: 503, headers: { 'Retry-After': '0' } });
      return fetch('/tests/data/rackspace/samples-v2/cbu-getRestoreDetails_response.json');
    };
    const restore = /** @type {{ id: string, state: string }} */ (await cb.call('v2.restores.get_restore', { restore_id: 'e87e6f7d' },
      { baseUrl: location.origin, auth: { token: 'tok', tenantId: '123456' }, fetch: sampleFetch }));
    return { urls, id: restore.id, state: restore.state };
  });
  assert.equal(called.id, 'e87e6f7d-d166-11e4-8689-c8e0eb190e3d');
  assert.equal(called.state, 'completed_with_errors');
  assert.equal(called.urls.length, 2);
  assert.match(called.urls[1], /^GET http:\/\/127\.0\.0\.1:\d+\/v2\/123456\/restores\/e87e6f7d$/);
  checks++;

  // Vault.createAsync / openAsync: Argon2 (the default settings) in a module
  // Worker started from the package's own file; the page's timers keep
  // firing meanwhile; a wrong password arrives as WrongPasswordError.
  const asynced = await page.evaluate(async () => {
    const served = '/web/index.js';
    const cb = /** @type {typeof import('../index.js')} */ (await import(served));
    await cb.init();
    const vault = await cb.Vault.createAsync('pw');
    const config = vault.config();
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    const start = performance.now();
    const opened = await cb.Vault.openAsync(config, 'pw');
    const ms = performance.now() - start;
    clearInterval(timer);
    let wrong = '';
    try {
      await cb.Vault.openAsync(config, 'nope');
    } catch (e) {
      wrong = `${e instanceof cb.WrongPasswordError} ${/** @type {Error} */ (e).name}`;
    }
    return { same: opened.info().vault_id === vault.info().vault_id, ticks, ms, wrong };
  });
  assert.equal(asynced.same, true);
  assert.equal(asynced.wrong, 'true WrongPasswordError');
  assert.ok(asynced.ticks >= 5, `${asynced.ticks} timer ticks during openAsync (${asynced.ms.toFixed(0)} ms)`);
  console.log(`browser: openAsync ${asynced.ms.toFixed(0)} ms (default Argon2 in a Worker), ${asynced.ticks} timer ticks meanwhile`);
  checks++;

  // RestoreWorker: a snapshot backed up in the page, restored through a
  // module Worker started from the package's file; the page's timers keep
  // firing and the files come back byte for byte.
  const inWorker = await page.evaluate(async () => {
    const served = '/web/index.js';
    const cb = /** @type {typeof import('../index.js')} */ (await import(served));
    await cb.init();
    const vault = cb.Vault.create('pw', null, { memory_kib: 8, iterations: 1, parallelism: 1 });
    const backup = new cb.BackupSession(vault, new cb.Index());
    const data = new Uint8Array(8 << 20);
    let x = 7;
    for (let i = 0; i < data.length; i++) {
      x = (x * 1103515245 + 12345) >>> 0;
      data[i] = x >>> 24;
    }
    backup.startFile('/big.bin', 0o644, 1_700_000_000);
    backup.write(data);
    backup.finishFile();
    backup.finish({ time: 1_700_000_100 });
    /** @type {Map<string, Uint8Array>} */
    const bundles = new Map();
    for (const b of backup.takeBundles()) bundles.set(b.id, b.bytes);
    const index = backup.takeIndex();
    const snapshot = backup.takeSnapshot();
    if (!index || !snapshot) throw new Error('no index or snapshot');
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    const start = performance.now();
    const restore = await cb.RestoreWorker.start(vault, snapshot, [index]);
    const out = new Uint8Array(data.length);
    /** @type {Promise<import('../index.js').Write[]>[]} */
    const fed = [];
    for (const fetch of await restore.plan()) {
      const bytes = /** @type {Uint8Array} */ (bundles.get(fetch.bundle));
      const ranges = fetch.ranges.length ? fetch.ranges : [{ offset: 0, length: bytes.length }];
      for (const r of ranges) fed.push(restore.feed(fetch.bundle, r.offset, bytes.subarray(r.offset, r.offset + r.length)));
    }
    for (const writes of await Promise.all(fed)) for (const w of writes) for (const p of w.places) out.set(w.data, p.offset);
    const report = await restore.finish();
    restore.close();
    const ms = performance.now() - start;
    clearInterval(timer);
    let same = out.length === data.length;
    for (let i = 0; same && i < data.length; i++) same = out[i] === data[i];
    return { same, files: report.files_restored, ticks, ms };
  });
  assert.equal(inWorker.same, true);
  assert.equal(inWorker.files, 1);
  assert.ok(inWorker.ticks >= 2, `${inWorker.ticks} timer ticks during the Worker restore (${inWorker.ms.toFixed(0)} ms)`);
  console.log(`browser: RestoreWorker restored 8 MiB in ${inWorker.ms.toFixed(0)} ms, ${inWorker.ticks} timer ticks meanwhile`);
  checks++;

  // feedAsync: the browser's WebCrypto opens the blobs; the same bytes as
  // feed, and a flipped byte fails the same file with the same report, on
  // the page and through a RestoreWorker.
  const webCrypto = await page.evaluate(pageRestore, { mib: 16, runs: 3 });
  assert.equal(webCrypto.clean.same, true);
  assert.deepEqual(webCrypto.clean, webCrypto.cleanSync);
  assert.equal(webCrypto.bad.same, false);
  assert.match(webCrypto.bad.report, /authentication failed/);
  assert.deepEqual(webCrypto.bad, webCrypto.badSync);
  assert.deepEqual(webCrypto.cleanWorker, webCrypto.cleanSync);
  assert.deepEqual(webCrypto.badWorker, webCrypto.badSync);
  // Printed, not asserted (timings are for benchmarks): docs/PERFORMANCE.md quotes them.
  console.log(`browser: restore of 16 MiB (half noise, half text): feed ${(webCrypto.mb / webCrypto.msSync * 1000).toFixed(0)} MB/s, `
    + `feedAsync (WebCrypto) ${(webCrypto.mb / webCrypto.ms * 1000).toFixed(0)} MB/s, `
    + `RestoreWorker ${(webCrypto.mb / webCrypto.msWorker * 1000).toFixed(0)} MB/s after its start (${webCrypto.startMs.toFixed(0)} ms) (best of 3); `
    + 'a flipped byte reported as feed reports it, in the page and through the Worker');
  checks++;

  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, 'demo.png'), fullPage: true });
  assert.deepEqual(errors, []);
  console.log(`browser test: ${checks} checks passed in ${await browser.version()} (screenshot: build/web/demo.png, restored ${expected.length} bytes byte-exactly)`);
} finally {
  await browser?.close().catch(() => {});
  stop();
}
