// The API fidelity table (tests/data/api-fidelity/cases.json, the same file
// the Rust, Python and interop tests run) through the npm package's public
// API: every quirk case from real clients must hold. Prints `api fidelity:
// N quirk cases accepted`; the format is in tests/data/api-fidelity/README.md.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as cb from '../node.js';
import { fixtureJson, throwsExactly } from './helpers.mjs';

/** @typedef {import('../index.js').JsonValue} JsonValue */
/**
 * @typedef {{ at?: Record<string, JsonValue>, absent?: string[] }} Pointers
 * @typedef {Pointers & { round_trip?: boolean, result?: JsonValue, error?: Pointers & { code: string } }} Expect
 * @typedef {{ name: string, category: string, source: string, kind: string, expect: Expect, [input: string]: any }} Case
 * @typedef {{ categories: Record<string, string>, keys: Record<string, { der_hex: string }>, cases: Case[] }} Fixture
 */

const FIXTURE = /** @type {Fixture} */ (fixtureJson('tests/data/api-fidelity/cases.json'));
const MIN_CASES = 40;
const MISSING = Symbol('missing');

/** Members whose value is null removed, at every depth. @param {unknown} v @returns {unknown} */
function normalise(v) {
  if (Array.isArray(v)) return v.map(normalise);
  if (v !== null && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v).filter(([, x]) => x !== null).map(([k, x]) => [k, normalise(x)]));
  }
  return v;
}

/** RFC 6901: the value at `ptr`, or MISSING. @param {unknown} doc @param {string} ptr @returns {unknown} */
function pointer(doc, ptr) {
  if (ptr === '') return doc;
  for (const raw of ptr.split('/').slice(1)) {
    const token = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    if (Array.isArray(doc) && /^\d+$/.test(token) && Number(token) < doc.length) doc = doc[Number(token)];
    else if (doc !== null && typeof doc === 'object' && !Array.isArray(doc) && Object.hasOwn(doc, token)) {
      doc = /** @type {Record<string, unknown>} */ (doc)[token];
    } else return MISSING;
  }
  return doc;
}

/** @param {unknown} a @param {unknown} b */
function same(a, b) {
  try {
    assert.deepStrictEqual(a, b);
    return true;
  } catch {
    return false;
  }
}

/** @param {Case} c */
function agentKey(c) {
  return cb.AgentKey.fromDer(new Uint8Array(Buffer.from(FIXTURE.keys[c.key].der_hex, 'hex')));
}

/** @param {cb.Request} req */
function requestOutcome(req) {
  /** @type {Record<string, string[]>} */
  const headers = {};
  for (const [name, value] of req.headers) (headers[name.toLowerCase()] ??= []).push(value);
  /** @type {unknown} */
  let body = req.body;
  if (typeof body === 'string') {
    try {
      body = JSON.parse(body);
    } catch {
      // form text stays text
    }
  }
  return { method: req.method, path: req.path, query: req.query, headers, body };
}

/** The case's result through the package's public API (throws its errors). @param {Case} c @returns {unknown} */
function run(c) {
  switch (c.kind) {
    case 'model':
      return cb.parseModel(c.type, JSON.stringify(c.body));
    case 'request': {
      /** @type {cb.Auth} */
      const auth = { token: c.auth.token, tenantId: c.auth.tenant_id };
      if (c.auth.agent_id !== undefined) auth.agentId = c.auth.agent_id;
      return requestOutcome(cb.buildRequest(c.operation, c.params, auth));
    }
    case 'response': {
      /** @type {cb.HttpResponse} */
      const response = { status: c.status, body: c.body };
      if (c.headers !== undefined && c.headers !== null) response.headers = c.headers;
      return cb.parseResponse(c.operation, c.params, response);
    }
    case 'transition':
      return cb.transition(c.resource, c.from, c.to, c.actor);
    case 'patch':
      return cb.validatePatch(c.endpoint, c.resource, c.patch, c.actor);
    case 'decrypt_password':
      return agentKey(c).decryptPassword(c.encrypted_password_hex);
    case 'public_key':
      return agentKey(c).publicKey();
    case 'snapshot_id':
      return cb.snapshotIdFor(c.vault_snapshot_id);
    case 'snapshot_prefix':
      return cb.vaultSnapshotPrefix(c.snapshot_id);
    default:
      throw new Error(`${c.name}: unknown kind ${c.kind}`);
  }
}

/** @param {Pointers} expect @param {unknown} value @param {string[]} problems */
function checkPointers(expect, value, problems) {
  for (const [ptr, want] of Object.entries(expect.at ?? {})) {
    const got = pointer(value, ptr);
    if (got === MISSING) problems.push(`${ptr} is missing, expected ${JSON.stringify(want)}`);
    else if (!same(got, want)) problems.push(`${ptr} is ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`);
  }
  for (const ptr of expect.absent ?? []) {
    const got = pointer(value, ptr);
    if (got !== MISSING) problems.push(`${ptr} is ${JSON.stringify(got)}, expected it absent`);
  }
}

/** What is wrong with the case's outcome (empty: it holds). @param {Case} c @returns {string[]} */
function check(c) {
  const expect = c.expect;
  /** @type {string[]} */
  const problems = [];
  /** @type {unknown} */
  let result;
  try {
    result = run(c);
  } catch (e) {
    if (!(e instanceof cb.CloudBackupError)) throw e;
    if (expect.error === undefined) return [`refused: ${e.message}`];
    if (e.code !== expect.error.code) problems.push(`error ${e.code} (${e.message}), expected ${expect.error.code}`);
    checkPointers(expect.error, e.details, problems);
    return problems;
  }
  if (expect.error !== undefined) return [`accepted (${JSON.stringify(result)}), expected an error`];
  if (expect.round_trip && !same(normalise(result), normalise(c.body))) {
    problems.push(`round trip differs:\n  sent: ${JSON.stringify(c.body)}\n  back: ${JSON.stringify(result)}`);
  }
  if ('result' in expect && !same(result, expect.result)) {
    problems.push(`result is ${JSON.stringify(result)}, expected ${JSON.stringify(expect.result)}`);
  }
  checkPointers(expect, result, problems);
  return problems;
}

test('every quirk case holds in node', () => {
  const cases = FIXTURE.cases;
  assert.ok(cases.length >= MIN_CASES, `${cases.length} cases`);
  assert.equal(new Set(cases.map((c) => c.name)).size, cases.length, 'case names are unique');
  assert.deepEqual(new Set(cases.map((c) => c.category)), new Set(Object.keys(FIXTURE.categories)));
  const failures = [];
  for (const c of cases) {
    const problems = check(c);
    if (problems.length) failures.push(`${c.name} (${c.kind}):\n  ${problems.join('\n  ')}`);
  }
  assert.equal(failures.length, 0, `${failures.length} of ${cases.length} cases fail:\n${failures.join('\n')}`);
  console.log(`api fidelity: ${cases.length} quirk cases accepted`);
});

test('a wrong expectation is caught', () => {
  let tried = 0;
  for (const c of FIXTURE.cases) {
    const broken = /** @type {Case} */ (structuredClone(c));
    const expect = broken.expect;
    if (expect.at && Object.keys(expect.at).length) {
      expect.at = Object.fromEntries(Object.keys(expect.at).map((k) => [k, 'not this value']));
    } else if ('result' in expect) expect.result = 'not this value';
    else if (expect.error) delete expect.error;
    else continue;
    tried += 1;
    assert.ok(check(broken).length > 0, `${c.name}: a wrong expectation passed`);
  }
  assert.ok(tried >= MIN_CASES);
});

test('an API error carries the service\'s list of errors', () => {
  const body = JSON.stringify({ message: 'Validation failed.', errors: ['Name is required.', 'RSA public key is required.'] });
  const e = throwsExactly(() => cb.parseResponse('v2.agents.list_agents', null, { status: 400, body }), cb.ApiError, 'api');
  assert.deepEqual(e.details.errors, ['Name is required.', 'RSA public key is required.']);
  assert.match(e.message, /\[Name is required\.; RSA public key is required\.\]/);
  const none = throwsExactly(() => cb.parseResponse('v2.agents.list_agents', null, { status: 404, body: '{"message":"x"}' }), cb.ApiError, 'api');
  assert.equal(none.details.errors, null);
});

test('an agent key made in node decrypts what users encrypt for it', () => {
  const key = cb.AgentKey.generate(1024);
  assert.equal(key.bits, 1024);
  const pub = key.publicKey();
  assert.equal(pub.ExponentHex, '10001');
  assert.deepEqual(key.rsaPublicKey(), { modulus: pub.ModulusHex, exponent: '10001' });
  const hex = cb.encryptPasswordForAgent(pub.ModulusHex, pub.ExponentHex, 'pässword');
  const stored = cb.AgentKey.fromDer(key.toDer());
  assert.equal(stored.decryptPassword(hex), 'pässword');
  throwsExactly(() => cb.AgentKey.generate(1024).decryptPassword(hex), cb.InvalidValueError, 'invalid_value');
  throwsExactly(() => cb.AgentKey.generate(1000), cb.InvalidArgumentError, 'invalid_argument');
  throwsExactly(() => cb.AgentKey.fromDer(/** @type {any} */ ('text')), cb.InvalidArgumentError, 'invalid_argument');
  throwsExactly(() => cb.vaultSnapshotPrefix(0.5), cb.InvalidArgumentError, 'invalid_argument');
  key.free();
  stored.free();
});

test('an agent context sends X-Agent-Id on every request', () => {
  const agent = '8f135b4f-7a69-4b8a-947f-5e80d772fd97';
  for (const [op, params] of /** @type {[string, cb.JsonObject | null][]} */ ([['v1.agents.get_agent', { machine_agent_id: '1' }], ['v2.agents.list_agents', null]])) {
    const req = cb.buildRequest(op, params, { token: 't', tenantId: '1', agentId: agent });
    assert.deepEqual(req.headers.filter(([k]) => k === 'X-Agent-Id').map(([, v]) => v), [agent]);
  }
  const user = cb.buildRequest('v2.agents.list_agents', null, { token: 't', tenantId: '1' });
  assert.ok(user.headers.every(([k]) => k !== 'X-Agent-Id'));
  throwsExactly(() => cb.buildRequest('v2.agents.list_agents', null, { token: 't', tenantId: '1', agentId: ' ' }), cb.InvalidArgumentError, 'invalid_argument');
  throwsExactly(() => cb.buildRequest('v2.agents.list_agents', null, /** @type {any} */ ({ token: 't', tenantId: '1', agentId: 7 })), cb.InvalidArgumentError, 'invalid_argument');
});
