// The json-patch-tests suite (tests.json + spec_tests.json) through the
// wasm API's applyPatch: a case with `error` must throw (an exact class of
// the package) and leave the document alone, a case with `expected` must
// produce it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as cb from '../node.js';
import { fixtureJson } from './helpers.mjs';

/** @typedef {{ doc: unknown, patch: unknown, expected?: unknown, error?: string, disabled?: boolean, comment?: string }} Case */

/** @param {Case} c @returns {string | null} why it failed */
function run(c) {
  const before = JSON.stringify(c.doc);
  try {
    const out = cb.applyPatch(/** @type {import('../node.js').JsonValue} */ (c.doc), /** @type {import('../node.js').JsonValue} */ (c.patch));
    if (c.error !== undefined) return `should have failed: ${c.error}`;
    if (c.expected !== undefined) {
      try {
        assert.deepStrictEqual(out, c.expected);
      } catch {
        return `got ${JSON.stringify(out)}, expected ${JSON.stringify(c.expected)}`;
      }
    }
    return null;
  } catch (e) {
    if (c.error === undefined) return `unexpected error: ${String(e)}`;
    if (!(e instanceof cb.CloudBackupError)) return `not a CloudBackupError: ${String(e)}`;
    if (JSON.stringify(c.doc) !== before) return 'failed but changed the document';
    return null;
  }
}

test('json-patch-tests through the wasm API', () => {
  let passed = 0;
  let failed = 0;
  /** @type {string[]} */
  const failures = [];
  for (const file of ['tests/data/json-patch-tests/tests.json', 'tests/data/json-patch-tests/spec_tests.json']) {
    for (const c of /** @type {Case[]} */ (fixtureJson(file)).filter((c) => c.disabled !== true)) {
      const why = run(c);
      if (why === null) passed++;
      else {
        failed++;
        failures.push(`${c.comment ?? JSON.stringify(c.patch)}: ${why}`);
      }
    }
  }
  console.log(`json-patch-tests: ${passed} passed, ${failed} failed`);
  assert.deepEqual(failures, []);
  assert.equal(passed, 108);
});
