// The browser half of bench.mjs's restore figures: test/page-restore.mjs in
// Chromium (driven by playwright-core, as test/browser.mjs does), on a page
// of the demo server. Not a test: the outcomes are checked by the page (a
// restore that differs throws) and by test/browser.mjs.
import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { startDemoServer } from '../test/demo-server.mjs';
import { pageRestore } from '../test/page-restore.mjs';

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

/**
 * MB/s of a restore of `mib` MiB in Chromium, best of `runs` each way, or
 * `{ missing }` saying why where there is no Chromium to run.
 * @param {number} mib @param {number} runs
 * @returns {Promise<{ version: string, feed: number, feedAsync: number, worker: number } | { missing: string }>}
 */
export async function browserRestore(mib, runs) {
  if (!existsSync(CHROMIUM)) return { missing: `no Chromium at ${CHROMIUM} (CHROMIUM=...)` };
  const { url, stop } = await startDemoServer([], 10, 'demo server');
  /** @type {import('playwright-core').Browser | null} */
  let browser = null;
  try {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync'],
    });
    const page = await browser.newPage();
    page.setDefaultTimeout(120_000);
    await page.goto(url);
    await page.waitForSelector('body[data-ready="yes"]');
    const r = await page.evaluate(pageRestore, { mib, runs });
    const mbs = (/** @type {number} */ ms) => r.mb / ms * 1000;
    return { version: browser.version(), feed: mbs(r.msSync), feedAsync: mbs(r.ms), worker: mbs(r.msWorker) };
  } finally {
    await browser?.close().catch(() => {});
    stop();
  }
}
