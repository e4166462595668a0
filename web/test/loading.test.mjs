// Loading the package: the browser entry before and after init() ("call
// init() first", a failed init() retried, the default export), what the
// entries export (no internals; nothing public of errors.js left out), the
// inlined entry, and package.json's metadata.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as browser from '../index.js';
import defaultInit from '../index.js';

const WASM = readFileSync(new URL('../dist/cloudbackup_wasm_bg.wasm', import.meta.url));
const read = (/** @type {string} */ path) => readFileSync(new URL(path, import.meta.url), 'utf8');

// Runs first (node:test runs a file's tests in order): nothing is loaded yet in this process.
test('before init() every call throws InvalidStateError "call init() first"; a failed init() can be retried', async () => {
  const notLoaded = (/** @type {unknown} */ e) => e instanceof browser.InvalidStateError && e instanceof browser.CloudBackupError
    && e.code === 'invalid_state' && /call init\(\) first/.test(e.message)
    && JSON.stringify(e.details) === '{"session":"module","reason":"is not initialised"}';
  assert.throws(() => browser.allowedActions('restore', 'in_progress'), notLoaded);
  assert.throws(() => browser.version(), notLoaded);
  assert.throws(() => new browser.LockTable(1n, 'h'), notLoaded);
  assert.throws(() => browser.Vault.create('pw', null, { memory_kib: 8, iterations: 1, parallelism: 1 }), notLoaded);
  // node's fetch has no file: URLs, so this init() fails ...
  await assert.rejects(browser.init(new URL('../dist/cloudbackup_wasm_bg.wasm', import.meta.url)));
  assert.throws(() => browser.version(), notLoaded);
  // ... and the next one, with the bytes, loads it (the failure was not kept).
  assert.equal(defaultInit, browser.init);
  await defaultInit(WASM);
  assert.deepEqual(browser.allowedActions('restore', 'in_progress'), ['stop']);
  // Idempotent: the same promise, nothing reloaded.
  assert.equal(browser.init(), browser.init(WASM));
  await browser.init();
  // Errors thrown by the module are the package's classes once it is loaded.
  assert.throws(() => browser.allowedActions('restore', 'sleeping'), browser.InvalidArgumentError);
});

/** Names a module's source exports (`export class|function|const X`, `export { A, B }`). @param {string} source */
function exportedNames(source) {
  const names = [...source.matchAll(/^export (?:declare )?(?:async )?(?:class|function\*?|const|let) (\w+)/gm)].map((m) => m[1]);
  for (const m of source.matchAll(/^export (?:type )?\{([^}]*)\}/gm)) {
    names.push(...m[1].split(',').map((s) => s.trim().split(/\s+as\s+/).pop() ?? '').filter(Boolean));
  }
  return names;
}

test('the entries export no internals, and everything public of errors.js and the glue', async () => {
  /** @type {Record<string, Record<string, unknown>>} */
  const entries = { index: browser, node: await import('../node.js'), inline: await import('../inline.js'),
    errors: await import('../public-errors.js') };
  for (const [name, mod] of Object.entries(entries)) {
    for (const internal of ['makeError', '__setErrorFactory', 'initWith', 'isLoaded', '__cbModule', 'setRunner']) {
      assert.ok(!(internal in mod), `${name} exports ${internal}`);
    }
  }
  const errorNames = exportedNames(read('../errors.js')).filter((n) => n !== 'makeError');
  assert.ok(errorNames.length >= 17);
  for (const n of errorNames) {
    for (const [name, mod] of Object.entries(entries)) assert.ok(n in mod, `${name} does not export ${n}`);
  }
  // The types too: public-errors.d.ts names every declaration of errors.d.ts but makeError.
  const declared = exportedNames(read('../errors.d.ts').replace(/^export type (\w+)/gm, 'export const $1'));
  const published = exportedNames(read('../public-errors.d.ts'));
  for (const n of declared.filter((d) => d !== 'makeError')) assert.ok(published.includes(n), `public-errors.d.ts lacks ${n}`);
  const glue = exportedNames(read('../dist/cloudbackup_wasm.js')).filter((n) => !['initSync', 'default', '__cbModule'].includes(n));
  for (const n of glue) assert.ok(n in browser && n in entries.inline && n in entries.node, `${n} is not exported`);
  for (const [name, mod] of Object.entries(entries).slice(0, 3)) {
    assert.equal(typeof mod.default, 'function', `${name} has a default export`);
    assert.equal(mod.default, mod.init, `${name}'s default export is init`);
  }
});

test('the inlined entry loads from its own bytes; package.json names every file it ships', async () => {
  const inline = await import('../inline.js');
  await inline.init();
  inline.initSync();
  assert.match(inline.version(), /^\d+\.\d+\.\d+$/);
  const pkg = JSON.parse(read('../package.json'));
  assert.equal(pkg.engines.node, '>=20');
  assert.ok(pkg.repository && pkg.homepage && pkg.bugs && pkg.keywords.length > 0);
  assert.equal(pkg.main, './dist/inline.cjs');
  assert.ok(pkg.files.includes('LICENSE') && read('../LICENSE') === read('../../LICENSE'), 'web/LICENSE is the repository\'s');
  /** @param {unknown} target @returns {string[]} */
  const targets = (target) => typeof target === 'string' ? [target] : Object.values(target ?? {}).flatMap(targets);
  for (const file of targets(pkg.exports).concat(pkg.main, pkg.module, pkg.types)) {
    assert.ok(pkg.files.includes(file.replace(/^\.\//, '')) || file === './package.json', `${file} is not in "files"`);
  }
});
