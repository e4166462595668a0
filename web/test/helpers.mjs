// Shared by the node tests: the repository's fixtures, and an assertion that
// a call throws the exact error class with its code.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';

/** The repository root (web/test/../..). */
export const ROOT = new URL('../../', import.meta.url);

/** @param {string} path relative to the repository root */
export function fixture(path) {
  return readFileSync(new URL(path, ROOT));
}

/** @param {string} path relative to the repository root */
export function fixtureJson(path) {
  return JSON.parse(fixture(path).toString('utf8'));
}

/** @param {string} path relative to the repository root */
export function list(path) {
  return readdirSync(new URL(path, ROOT)).sort();
}

/**
 * Asserts that `fn` throws an instance of `cls` with `code`; returns it.
 * @template {Error} E
 * @param {() => unknown} fn
 * @param {abstract new (...args: never[]) => E} cls
 * @param {string} code
 * @returns {E & { code: string, details: Record<string, unknown> }}
 */
export function throwsExactly(fn, cls, code) {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof cls, `expected ${cls.name}, got ${String(e)}`);
    assert.equal(Object.getPrototypeOf(e), cls.prototype, `exactly ${cls.name}`);
    const err = /** @type {E & { code: string, details: Record<string, unknown> }} */ (e);
    assert.equal(err.code, code);
    assert.equal(typeof err.details, 'object');
    return err;
  }
  assert.fail(`expected ${cls.name} (${code}), nothing was thrown`);
}
