// Bundler test (not a node:test file: `make test-web-bundlers`): packs the
// package, installs the tarball into a scratch project (what users install),
// and there
//   - builds a page with Vite (default entry, `import init`) and with esbuild
//     (@cloudbackup/core/inline), serves each, and runs it in Chromium;
//   - runs the same Vite page on Vite's dev server (optimizeDeps.exclude, as
//     the README says);
//   - requires the package from CommonJS as Jest would (no ESM loading).
// Prints the time of each step. Always stops the servers and the browser.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import * as esbuild from 'esbuild';
import * as vite from 'vite';

const WEB = fileURLToPath(new URL('../../', import.meta.url));
const FIXTURES = fileURLToPath(new URL('./', import.meta.url));
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const TIMEOUT = 30_000;

/** @template T @param {string} label @param {() => Promise<T> | T} step @returns {Promise<T>} */
async function timed(label, step) {
  const t0 = performance.now();
  const value = await step();
  console.log(`bundlers: ${label} ${((performance.now() - t0) / 1000).toFixed(2)} s`);
  return value;
}

/** Serves `dir` on 127.0.0.1 (ephemeral port). @param {string} dir @returns {Promise<{ url: string, close: () => void }>} */
function serve(dir) {
  /** @type {Record<string, string>} */
  const types = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm' };
  const server = createServer((req, res) => {
    const path = normalize(join(dir, decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)));
    const file = path.endsWith('/') ? join(path, 'index.html') : path;
    try {
      if (!file.startsWith(dir) || !statSync(file).isFile()) throw new Error('not a file');
      res.writeHead(200, { 'Content-Type': types[extname(file)] ?? 'application/octet-stream' }).end(readFileSync(file));
    } catch {
      res.writeHead(404).end();
    }
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => {
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    resolve({ url: `http://127.0.0.1:${port}/`, close: () => server.close() });
  }));
}

const scratch = mkdtempSync(join(tmpdir(), 'cloudbackup-bundlers-'));
/** @type {import('playwright-core').Browser | null} */
let browser = null;
/** @type {(() => void)[]} */
const cleanup = [];
try {
  await timed('npm pack + install into a scratch project', () => {
    const name = execFileSync('npm', ['pack', '--silent', '--pack-destination', scratch], { cwd: WEB, encoding: 'utf8' }).trim();
    writeFileSync(join(scratch, 'package.json'), '{"name": "scratch", "version": "1.0.0", "private": true, "type": "module"}\n');
    execFileSync('npm', ['install', '--silent', '--no-audit', '--no-fund', '--offline', join(scratch, name)], { cwd: scratch, stdio: 'inherit' });
    for (const dir of ['vite', 'esbuild', 'cjs']) cpSync(join(FIXTURES, dir), join(scratch, dir), { recursive: true });
    cpSync(join(FIXTURES, 'check.js'), join(scratch, 'check.js'));
  });

  const viteRoot = join(scratch, 'vite');
  const viteConfig = join(viteRoot, 'vite.config.mjs');
  await timed('vite build', () => vite.build({ root: viteRoot, configFile: viteConfig }));
  const esbuildRoot = join(scratch, 'esbuild');
  await timed('esbuild bundle (@cloudbackup/core/inline)', () => esbuild.build({
    entryPoints: [join(esbuildRoot, 'main.js')], bundle: true, format: 'esm', outdir: join(esbuildRoot, 'out'),
    absWorkingDir: esbuildRoot, logLevel: 'warning',
  }));

  browser = await timed('chromium launch', () => chromium.launch({
    executablePath: CHROMIUM, headless: true, timeout: TIMEOUT,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  }));
  const open = browser;

  /** Opens `url`, waits for the page's result and checks it. @param {string} label @param {string} url */
  const runPage = (label, url) => timed(`${label}: page in Chromium`, async () => {
    const page = await open.newPage();
    page.setDefaultTimeout(TIMEOUT);
    /** @type {string[]} */
    const problems = [];
    page.on('pageerror', (e) => problems.push(String(e)));
    page.on('response', (r) => { if (r.status() >= 400) problems.push(`${r.status()} ${r.url()}`); });
    await page.goto(url);
    await page.waitForSelector('body[data-result]', { state: 'attached' });
    const result = JSON.parse(await page.evaluate(() => document.body.dataset.result ?? '{}'));
    await page.close();
    assert.deepEqual(problems, []);
    assert.equal(result.error, undefined, result.error);
    assert.equal(result.beforeInit, 'InvalidStateError: true', 'a call before init() throws InvalidStateError');
    assert.deepEqual(result.actions, ['stop']);
    assert.equal(result.patch, 'PatchRejectedError patch_rejected true');
    assert.equal(result.reopened, true);
    console.log(`bundlers: ${label}: @cloudbackup/core ${result.version}, init ${result.initMs} ms, "call init() first" before, calls, typed errors and a vault after`);
  });

  const viteOut = await serve(join(viteRoot, 'dist'));
  cleanup.push(viteOut.close);
  await runPage('vite build', viteOut.url);
  const esbuildOut = await serve(esbuildRoot);
  cleanup.push(esbuildOut.close);
  await runPage('esbuild', esbuildOut.url);

  const dev = await timed('vite dev server start', async () => {
    const server = await vite.createServer({ root: viteRoot, configFile: viteConfig, server: { host: '127.0.0.1', port: 0 } });
    await server.listen();
    return server;
  });
  cleanup.push(() => void dev.close());
  await runPage('vite dev server', dev.resolvedUrls?.local[0] ?? '');

  await timed('CommonJS (Jest-style)', () => {
    execFileSync(process.execPath, ['--no-experimental-require-module', join(scratch, 'cjs', 'jest-style.cjs')], { cwd: scratch, stdio: 'inherit' });
  });
} finally {
  for (const stop of cleanup) stop();
  await browser?.close().catch(() => {});
  rmSync(scratch, { recursive: true, force: true });
}
