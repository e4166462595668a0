// The transport: call() against a local server that answers like the service
// (test/service.mjs), Rackspace Identity, retries, paging, and a fetch or a
// Response passed in.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as cb from '../node.js';
import { fixture, fixtureJson } from './helpers.mjs';
import { API_KEY, PASSWORD, RESTORE_IDS, TENANT, USERNAME, startService } from './service.mjs';

const V1 = 'tests/data/rackspace/samples-v1/';
const V2 = 'tests/data/rackspace/samples-v2/';
const RESTORE_ID = 'e87e6f7d-d166-11e4-8689-c8e0eb190e3d';
const RESTORE = `/v2/${TENANT}/restores/${RESTORE_ID}`;

/**
 * Runs `fn` with a fresh service, stopped afterwards.
 * @param {(s: Awaited<ReturnType<typeof startService>>) => Promise<void>} fn
 * @param {Parameters<typeof startService>[0]} [options]
 */
async function withService(fn, options) {
  const service = await startService(options);
  try {
    await fn(service);
  } finally {
    await service.stop();
  }
}

/**
 * Asserts that `promise` rejects with exactly `cls` and `code`; returns the error.
 * @template {Error} E
 * @param {Promise<unknown>} promise @param {abstract new (...args: never[]) => E} cls @param {string} code
 * @returns {Promise<E & { code: string, details: Record<string, unknown> }>}
 */
async function rejectsExactly(promise, cls, code) {
  try {
    await promise;
  } catch (e) {
    assert.ok(e instanceof cls, `expected ${cls.name}, got ${String(e)}`);
    assert.equal(Object.getPrototypeOf(e), cls.prototype, `exactly ${cls.name}`);
    const err = /** @type {E & { code: string, details: Record<string, unknown> }} */ (e);
    assert.equal(err.code, code);
    return err;
  }
  assert.fail(`expected ${cls.name} (${code}), nothing was thrown`);
}

/** A sleep that waits for nothing and records what it was asked. */
function recordingSleep() {
  /** @type {number[]} */
  const delays = [];
  return { delays, sleep: async (/** @type {number} */ ms) => void delays.push(ms) };
}

/** @param {string} name @param {import('node:http').IncomingHttpHeaders} headers */
const header = (name, headers) => headers[name.toLowerCase()];

test('call with a token: GET through the global fetch, parsed by the core', async () => {
  await withService(async (s) => {
    // The service only knows the tokens Identity issued: get one first.
    const session = await new cb.RackspaceIdentity({ username: USERNAME, apiKey: API_KEY, identityUrl: s.identityUrl }).session();
    const restore = await cb.call('v2.restores.get_restore', { restore_id: RESTORE_ID },
      { baseUrl: s.url, auth: { token: session.token, tenantId: TENANT } });
    assert.deepEqual(restore, cb.parseModel('v2.Restore', fixture(V2 + 'cbu-getRestoreDetails_response.json')));
    const [seen] = s.seen('GET', RESTORE);
    assert.equal(header('X-Auth-Token', seen.headers), session.token);
    assert.equal(header('Accept', seen.headers), 'application/json');
    assert.equal(seen.body, '');
  });
});

test('call POSTs the body the core builds and returns the created resource', async () => {
  await withService(async (s) => {
    const { token } = await new cb.RackspaceIdentity({ username: USERNAME, apiKey: API_KEY, identityUrl: s.identityUrl }).session();
    const body = fixtureJson(V2 + 'cbu-postRestore_request.json');
    const auth = { token, tenantId: TENANT };
    const created = await cb.call('v2.restores.start_restore', { body }, { baseUrl: s.url, auth });
    assert.deepEqual(created, cb.parseModel('v2.Restore', fixture(V2 + 'cbu-postRestore_response.json')));
    const [seen] = s.seen('POST', `/v2/${TENANT}/restores`);
    const built = cb.buildRequest('v2.restores.start_restore', { body }, auth);
    assert.equal(seen.body, built.body);
    assert.equal(header('Content-Type', seen.headers), 'application/json');
    // A 204 without a body is null.
    const patch = [{ op: 'replace', path: '/state', value: 'stop_requested' }];
    assert.equal(await cb.call('v2.restores.update_restore', { restore_id: RESTORE_ID, patch }, { baseUrl: s.url, auth }), null);
    assert.equal(header('Content-Type', s.seen('PATCH', RESTORE)[0].headers), 'application/json-patch+json');
  });
});

test('an error status is the core\'s ApiError, not retried when it is final', async () => {
  await withService(async (s) => {
    const { token } = await new cb.RackspaceIdentity({ username: USERNAME, apiKey: API_KEY, identityUrl: s.identityUrl }).session();
    const e = await rejectsExactly(cb.call('v2.restores.get_restore', { restore_id: 'gone' },
      { baseUrl: s.url, auth: { token, tenantId: TENANT } }), cb.ApiError, 'api');
    assert.equal(e.details.status, 404);
    assert.equal(e.details.kind, 'not_found');
    assert.equal(e.details.message, 'Restore not found.');
    assert.equal(s.seen('GET', `/v2/${TENANT}/restores/gone`).length, 1);
  });
});

test('RackspaceIdentity: API key, the catalog\'s endpoint for the region, one token reused', async () => {
  await withService(async (s) => {
    const identity = new cb.RackspaceIdentity({ username: USERNAME, apiKey: API_KEY, identityUrl: s.identityUrl, region: 'iad' });
    const options = { auth: identity };
    for (let i = 0; i < 3; i++) {
      const r = /** @type {{ id: string }} */ (await cb.call('v2.restores.get_restore', { restore_id: RESTORE_ID }, options));
      assert.equal(r.id, RESTORE_ID);
    }
    // One token for the three calls, all sent to the IAD endpoint (its root, without /v1.0/123456).
    assert.equal(s.tokensIssued(), 1);
    assert.equal(identity.tokensIssued, 1);
    assert.equal(s.seen('GET', `/iad${RESTORE}`).length, 3);
    const [auth] = s.seen('POST', '/v2.0/tokens');
    assert.deepEqual(JSON.parse(auth.body), { auth: { 'RAX-KSKEY:apiKeyCredentials': { username: USERNAME, apiKey: API_KEY } } });
    assert.equal(header('Content-Type', auth.headers), 'application/json');
    const session = await identity.session();
    assert.equal(session.baseUrl, `${s.url}/iad`);
    assert.equal(session.endpoint, `${s.url}/iad/v1.0/${TENANT}`);
    assert.equal(session.region, 'IAD');
    assert.equal(session.tenantId, TENANT);
    assert.ok(session.expires instanceof Date && session.expires.getTime() > Date.now());
  });
});

test('RackspaceIdentity: password, the user\'s default region, renewal near expiry', async () => {
  await withService(async (s) => {
    let now = Date.now();
    const identity = new cb.RackspaceIdentity({ username: USERNAME, password: PASSWORD, identityUrl: s.identityUrl, now: () => now });
    const first = await identity.session();
    assert.equal(first.region, 'DFW');
    assert.equal(first.baseUrl, s.url);
    assert.deepEqual(JSON.parse(s.log[0].body), { auth: { passwordCredentials: { username: USERNAME, password: PASSWORD } } });
    await cb.call('v2.settings.ping', null, { auth: identity });
    assert.equal(s.tokensIssued(), 1);
    // 56 minutes later the token (1 h) is within the 5-minute margin: a new one.
    now += 56 * 60_000;
    await cb.call('v2.settings.ping', null, { auth: identity });
    assert.equal(s.tokensIssued(), 2);
    assert.equal(header('X-Auth-Token', s.seen('GET', `/v2/${TENANT}/ping`)[1].headers), 'token-2');
  });
});

test('RackspaceIdentity: a captured catalog with one region-less Cloud Backup endpoint, expiry with an offset', async () => {
  await withService(async (s) => {
    let now = Date.now();
    const identity = new cb.RackspaceIdentity({ username: USERNAME, apiKey: API_KEY, identityUrl: s.identityUrl, now: () => now });
    const session = await identity.session();
    // The user's default region is ORD; the only Cloud Backup entry has none.
    assert.equal(session.region, null);
    assert.equal(session.baseUrl, s.url);
    assert.equal(session.tenantId, '5701876');
    const expires = /** @type {Date} */ (session.expires).getTime();
    assert.ok(Math.abs(expires - (now + 3_600_000)) < 5000, `expires ${session.expires?.toISOString()}`);
    const request = cb.buildRequest('v1.configurations.list_backup_configurations', null, session);
    assert.equal(cb.fetchArgs(request, session.baseUrl)[0], `${s.url}/v1.0/5701876/backup-configuration`);
    // Reused within the hour, renewed once it is within the margin of the offset time.
    now += 50 * 60_000;
    await identity.session();
    assert.equal(s.tokensIssued(), 1);
    now += 6 * 60_000;
    await identity.session();
    assert.equal(s.tokensIssued(), 2);
  }, { identity: 'identity-tokens-global.json', offsetMinutes: -300 });
});

test('RackspaceIdentity: concurrent calls share one token request', async () => {
  await withService(async (s) => {
    const identity = new cb.RackspaceIdentity({ username: USERNAME, apiKey: API_KEY, identityUrl: s.identityUrl });
    const results = await Promise.all(Array.from({ length: 5 }, () => cb.call('v2.settings.ping', {}, { auth: identity })));
    assert.deepEqual(results, [null, null, null, null, null]);
    assert.equal(s.tokensIssued(), 1);
    assert.equal(s.seen('GET', `/v2/${TENANT}/ping`).length, 5);
  });
});

test('401 then refresh: a revoked token is renewed once and the request repeated', async () => {
  await withService(async (s) => {
    const identity = new cb.RackspaceIdentity({ username: USERNAME, apiKey: API_KEY, identityUrl: s.identityUrl });
    await cb.call('v2.restores.get_restore', { restore_id: RESTORE_ID }, { auth: identity });
    s.revokeTokens();
    const r = /** @type {{ id: string }} */ (await cb.call('v2.restores.get_restore', { restore_id: RESTORE_ID }, { auth: identity }));
    assert.equal(r.id, RESTORE_ID);
    const gets = s.seen('GET', RESTORE).map((x) => header('X-Auth-Token', x.headers));
    assert.deepEqual(gets, ['token-1', 'token-1', 'token-2']);
    assert.equal(s.tokensIssued(), 2);
    // A 401 the new token does not cure is the service's answer: one refresh only.
    const stubborn = { session: async () => ({ token: 'never-valid', tenantId: TENANT, baseUrl: s.url }), invalidate: () => {} };
    const e = await rejectsExactly(cb.call('v2.settings.ping', null, { auth: stubborn }), cb.ApiError, 'api');
    assert.equal(e.details.status, 401);
    assert.equal(e.details.kind, 'unauthorized');
    assert.equal(s.seen('GET', `/v2/${TENANT}/ping`).length, 2);
    // With a plain token there is nothing to refresh: the 401 is thrown at once.
    await rejectsExactly(cb.call('v2.settings.ping', null, { baseUrl: s.url, auth: { token: 'token-1', tenantId: TENANT } }), cb.ApiError, 'api');
    assert.equal(s.seen('GET', `/v2/${TENANT}/ping`).length, 3);
  });
});

test('Identity refusals are typed: bad credentials, no endpoint for the region', async () => {
  await withService(async (s) => {
    const wrong = new cb.RackspaceIdentity({ username: USERNAME, apiKey: 'wrong', identityUrl: s.identityUrl });
    const e = await rejectsExactly(cb.call('v2.settings.ping', null, { auth: wrong }), cb.ApiError, 'api');
    assert.equal(e.details.operation, 'identity authenticate');
    assert.equal(e.details.status, 401);
    assert.equal(e.details.message, 'Unable to authenticate user with credentials provided.');
    assert.match(e.message, /^identity authenticate failed with HTTP 401 \(unauthorized\): Unable to authenticate/);
    assert.equal(s.seen('GET', `/v2/${TENANT}/ping`).length, 0);
    const syd = new cb.RackspaceIdentity({ username: USERNAME, apiKey: API_KEY, identityUrl: s.identityUrl, region: 'SYD' });
    const n = await rejectsExactly(syd.session(), cb.NotFoundError, 'not_found');
    assert.equal(n.details.id, 'rax:backup in SYD');
    assert.match(n.message, /regions: DFW, IAD/);
    const none = new cb.RackspaceIdentity({ username: USERNAME, apiKey: API_KEY, identityUrl: s.identityUrl, serviceType: 'rax:nothing', serviceName: 'nothing' });
    assert.match((await rejectsExactly(none.session(), cb.NotFoundError, 'not_found')).message, /no such service/);
    // A region-less catalog entry serves any region.
    const monitoring = new cb.RackspaceIdentity({ username: USERNAME, apiKey: API_KEY, identityUrl: s.identityUrl, serviceType: 'rax:monitor', region: 'LON' });
    assert.equal((await monitoring.session()).baseUrl, `${s.url}/monitoring`);
    // Not JSON, or no token in it.
    s.script('POST', '/v2.0/tokens', [{ status: 200, body: '<html>' }, { status: 200, body: '{"access": {}}' }]);
    const fresh = new cb.RackspaceIdentity({ username: USERNAME, apiKey: API_KEY, identityUrl: s.identityUrl });
    await rejectsExactly(fresh.session(), cb.InvalidJsonError, 'invalid_json');
    assert.match((await rejectsExactly(fresh.session(), cb.InvalidJsonError, 'invalid_json')).message, /access\.token\.id/);
  });
});

test('429 with Retry-After in seconds: waits that long, then succeeds', async () => {
  await withService(async (s) => {
    const { token } = await new cb.RackspaceIdentity({ username: USERNAME, apiKey: API_KEY, identityUrl: s.identityUrl }).session();
    s.script('GET', RESTORE, [{ status: 429, headers: { 'Retry-After': '1' }, body: '{"message": "Too many requests."}' }]);
    /** @type {cb.RetryInfo[]} */
    const retries = [];
    const started = Date.now();
    const r = /** @type {{ id: string }} */ (await cb.call('v2.restores.get_restore', { restore_id: RESTORE_ID },
      { baseUrl: s.url, auth: { token, tenantId: TENANT }, retry: { onRetry: (info) => retries.push(info) } }));
    const waited = Date.now() - started;
    assert.equal(r.id, RESTORE_ID);
    assert.ok(waited >= 950, `waited ${waited} ms`);
    assert.equal(retries.length, 1);
    assert.equal(retries[0].delayMs, 1000);
    assert.equal(retries[0].attempt, 1);
    assert.ok(retries[0].error instanceof cb.ApiError);
    assert.equal(/** @type {cb.ApiError} */ (retries[0].error).details.retry_after, 1);
    assert.equal(s.seen('GET', RESTORE).length, 2);
  });
});

test('429 and 503 with Retry-After as an HTTP date', async () => {
  await withService(async (s) => {
    const { token } = await new cb.RackspaceIdentity({ username: USERNAME, apiKey: API_KEY, identityUrl: s.identityUrl }).session();
    const started = Date.now();
    const at = new Date(Math.ceil((started + 30_000) / 1000) * 1000);
    s.script('GET', RESTORE, [
      { status: 429, headers: { 'Retry-After': at.toUTCString() } },
      { status: 503, headers: { 'Retry-After': at.toUTCString() } },
    ]);
    const { delays, sleep } = recordingSleep();
    await cb.call('v2.restores.get_restore', { restore_id: RESTORE_ID }, { baseUrl: s.url, auth: { token, tenantId: TENANT }, retry: { sleep } });
    assert.equal(delays.length, 2);
    for (const d of delays) assert.ok(d > 25_000 && d <= at.getTime() - started, `delay ${d}`);
    assert.equal(s.seen('GET', RESTORE).length, 3);
    assert.equal(cb.retryAfterMs(at.toUTCString(), at.getTime() - 5000), 5000);
    assert.equal(cb.retryAfterMs('not a date'), null);
    // A header's own delay-seconds (Date.parse read "120" as the year 120:
    // a wait of 0), and values that are no delay at all.
    assert.equal(cb.retryAfterMs('120'), 120_000);
    assert.equal(cb.retryAfterMs(' 7 '), 7000);
    for (const value of [NaN, Infinity, undefined, null, {}, Symbol('s')]) {
      assert.throws(() => cb.retryAfterMs(/** @type {any} */ (value)), (/** @type {any} */ e) => e instanceof cb.InvalidArgumentError && e.details.name === 'value');
    }
    assert.throws(() => cb.retryAfterMs(1, NaN), (/** @type {any} */ e) => e instanceof cb.InvalidArgumentError && e.details.name === 'now');
    assert.throws(() => cb.listItems(/** @type {any} */ (Symbol('op')), []), (/** @type {any} */ e) => e instanceof cb.InvalidArgumentError && e.details.name === 'operation');
  });
});

test('503 then success: backoff, bounded attempts; what each method may retry', async () => {
  await withService(async (s) => {
    const { token } = await new cb.RackspaceIdentity({ username: USERNAME, apiKey: API_KEY, identityUrl: s.identityUrl }).session();
    const options = { baseUrl: s.url, auth: { token, tenantId: TENANT } };
    const { delays, sleep } = recordingSleep();
    const retry = { sleep, baseDelayMs: 100, jitter: false };
    s.script('GET', RESTORE, [{ status: 503 }, { status: 502 }, { status: 503 }]);
    const r = /** @type {{ id: string }} */ (await cb.call('v2.restores.get_restore', { restore_id: RESTORE_ID }, { ...options, retry }));
    assert.equal(r.id, RESTORE_ID);
    assert.deepEqual(delays, [100, 200, 400]);

    // Four 503s: the fourth attempt's error is thrown.
    s.script('GET', RESTORE, [{ status: 503 }, { status: 503 }, { status: 503 }, { status: 503, body: '{"message": "down"}' }]);
    const before = s.seen('GET', RESTORE).length;
    const e = await rejectsExactly(cb.call('v2.restores.get_restore', { restore_id: RESTORE_ID }, { ...options, retry }), cb.ApiError, 'api');
    assert.equal(e.details.status, 503);
    assert.equal(e.details.message, 'down');
    assert.equal(s.seen('GET', RESTORE).length - before, 4);

    // A POST is retried after 503 (not served) but not after 500 (it may have been).
    const start = `/v1.0/${TENANT}/backup/action-requested`;
    const params = /** @type {const} */ ({ action: 'StartManual', id: 148325 });
    s.script('POST', start, [{ status: 503 }]);
    assert.equal(await cb.call('v1.backups.request_backup_action', params, { ...options, retry }), 368785);
    assert.equal(s.seen('POST', start).length, 2);
    s.script('POST', start, [{ status: 500 }]);
    const f = await rejectsExactly(cb.call('v1.backups.request_backup_action', params, { ...options, retry }), cb.ApiError, 'api');
    assert.equal(f.details.kind, 'internal_server_error');
    assert.equal(s.seen('POST', start).length, 3);
    // A GET is retried after 500; retry: false makes one attempt.
    s.script('GET', RESTORE, [{ status: 500 }]);
    await cb.call('v2.restores.get_restore', { restore_id: RESTORE_ID }, { ...options, retry });
    s.script('GET', RESTORE, [{ status: 503 }]);
    await rejectsExactly(cb.call('v2.restores.get_restore', { restore_id: RESTORE_ID }, { ...options, retry: false }), cb.ApiError, 'api');
    // A Retry-After beyond maxDelayMs is not waited for.
    s.script('GET', RESTORE, [{ status: 503, headers: { 'Retry-After': '3600' } }]);
    const n = delays.length;
    const late = await rejectsExactly(cb.call('v2.restores.get_restore', { restore_id: RESTORE_ID }, { ...options, retry }), cb.ApiError, 'api');
    assert.equal(late.details.retry_after, 3600);
    assert.equal(delays.length, n);
  });
});

test('an abort cancels the wait for Retry-After', async () => {
  await withService(async (s) => {
    const { token } = await new cb.RackspaceIdentity({ username: USERNAME, apiKey: API_KEY, identityUrl: s.identityUrl }).session();
    s.script('GET', RESTORE, [{ status: 429, headers: { 'Retry-After': '30' } }]);
    const controller = new AbortController();
    const started = Date.now();
    const pending = cb.call('v2.restores.get_restore', { restore_id: RESTORE_ID },
      { baseUrl: s.url, auth: { token, tenantId: TENANT }, signal: controller.signal, retry: { onRetry: () => controller.abort() } });
    await assert.rejects(pending, (/** @type {Error} */ e) => e.name === 'AbortError');
    assert.ok(Date.now() - started < 5000);
  });
});

test('sleep waits, stops on an abort, and refuses a delay or signal it cannot honour', async () => {
  await cb.sleep(0);
  const controller = new AbortController();
  const waiting = cb.sleep(60_000, controller.signal);
  controller.abort();
  await assert.rejects(waiting, (/** @type {Error} */ e) => e.name === 'AbortError');
  // 2^31 ms and more: setTimeout would run them at once.
  for (const ms of [-1, NaN, Infinity, 2 ** 31, '10', undefined, null, 10n]) {
    const e = await rejectsExactly(cb.sleep(/** @type {any} */ (ms)), cb.InvalidArgumentError, 'invalid_argument');
    assert.equal(e.details.name, 'ms', String(ms));
  }
  // Not a signal: refused before any timer is set (one whose callback
  // then met it would throw where nothing can catch it).
  for (const signal of [{}, { aborted: false }, 'x', 1]) {
    const e = await rejectsExactly(cb.sleep(10, /** @type {any} */ (signal)), cb.InvalidArgumentError, 'invalid_argument');
    assert.equal(e.details.name, 'signal');
  }
  const e = await rejectsExactly(cb.call('v2.settings.ping', null, { auth: { token: 't', tenantId: TENANT }, baseUrl: 'http://127.0.0.1:9', signal: /** @type {any} */ ({ aborted: false }) }),
    cb.InvalidArgumentError, 'invalid_argument');
  assert.equal(e.details.name, 'options.signal');
});

test('network failures: idempotent requests are retried, then fetch\'s error is thrown', async () => {
  // A port nothing listens on (a service started and stopped).
  const gone = await startService();
  await gone.stop();
  const { delays, sleep } = recordingSleep();
  const options = { baseUrl: gone.url, auth: { token: 't', tenantId: TENANT }, retry: { sleep, attempts: 3 } };
  await assert.rejects(cb.call('v2.settings.ping', null, options), TypeError);
  assert.equal(delays.length, 2);
  await assert.rejects(cb.call('v2.restores.start_restore', { body: fixtureJson(V2 + 'cbu-postRestore_request.json') }, options), TypeError);
  assert.equal(delays.length, 2);
});

test('paging over 3 pages by marker; pages() and paginate()', async () => {
  await withService(async (s) => {
    const identity = new cb.RackspaceIdentity({ username: USERNAME, apiKey: API_KEY, identityUrl: s.identityUrl });
    const ids = [];
    for await (const item of cb.paginate('v2.restores.list_restores', { page: { limit: 2 } }, { auth: identity })) {
      const restore = /** @type {{ id: string, state: string }} */ (item);
      assert.equal(restore.state, 'completed_with_errors');
      ids.push(restore.id);
    }
    assert.deepEqual(ids, RESTORE_IDS);
    const requests = s.seen('GET', `/v2/${TENANT}/restores`);
    assert.deepEqual(requests.map((r) => r.query.get('marker')), [null, 'r-02', 'r-04']);
    assert.deepEqual(requests.map((r) => r.query.get('limit')), ['2', '2', '2']);
    // pages(): the page objects, sort order kept from page to page.
    const pages = [];
    for await (const page of cb.pages('v2.restores.list_restores', { page: { limit: 2, sort_dir: 'desc' } }, { auth: identity })) pages.push(page);
    assert.equal(pages.length, 3);
    assert.deepEqual(pages.flatMap((p) => cb.listItems('v2.restores.list_restores', p).map((r) => /** @type {{ id: string }} */ (r).id)),
      [...RESTORE_IDS].reverse());
    assert.deepEqual(s.seen('GET', `/v2/${TENANT}/restores`).slice(3).map((r) => r.query.get('sort_dir')), ['desc', 'desc', 'desc']);
    // One page when it holds everything.
    let count = 0;
    for await (const page of cb.pages('v2.restores.list_restores', null, { auth: identity })) count += cb.listItems('x', page).length;
    assert.equal(count, 5);
    assert.equal(s.tokensIssued(), 1);
  });
});

test('paging stops on a repeated marker; a v1 list is one page', async () => {
  await withService(async (s) => {
    const identity = new cb.RackspaceIdentity({ username: USERNAME, apiKey: API_KEY, identityUrl: s.identityUrl });
    // The reference's sample always links to a next page with the same marker.
    const sample = fixture(V2 + 'cbu-getRestores_response.json');
    s.script('GET', `/v2/${TENANT}/restores`, [1, 2, 3].map(() => ({ status: 200, body: sample })));
    let pages = 0;
    for await (const page of cb.pages('v2.restores.list_restores', {}, { auth: identity })) {
      assert.equal(cb.listItems('v2.restores.list_restores', page).length, 1);
      pages++;
    }
    assert.equal(pages, 2);
    const v1 = [];
    for await (const config of cb.paginate('v1.configurations.list_backup_configurations', null, { auth: identity })) v1.push(config);
    assert.deepEqual(v1, cb.parseModel('v1.BackupConfiguration[]', fixture(V1 + 'getAllBackupConfigforUser-response.json')));
    assert.equal(s.seen('GET', `/v1.0/${TENANT}/backup-configuration`).length, 1);
    // Not a list.
    await assert.rejects(async () => {
      for await (const x of cb.paginate('v2.settings.ping', null, { auth: identity })) void x;
    }, (/** @type {Error} */ e) => e instanceof cb.InvalidArgumentError && /does not answer a list/.test(e.message));
  });
});

test('a fetch passed in is used for the service and for Identity', async () => {
  await withService(async (s) => {
    /** @type {string[]} */
    const urls = [];
    /** @type {cb.FetchLike} */
    const fetch = (url, init) => {
      urls.push(`${init.method} ${url}`);
      return globalThis.fetch(url, init);
    };
    const identity = new cb.RackspaceIdentity({ username: USERNAME, apiKey: API_KEY, identityUrl: s.identityUrl });
    await cb.call('v2.restores.list_restores', { page: { limit: 3, sort_dir: 'asc' } }, { auth: identity, fetch });
    assert.deepEqual(urls, [`POST ${s.identityUrl}/tokens`, `GET ${s.url}/v2/${TENANT}/restores?limit=3&sort_dir=asc`]);
  });
});

test('a fake fetch answering a Response: no server at all', async () => {
  /** @type {[string, RequestInit][]} */
  const calls = [];
  /** @type {cb.FetchLike} */
  const fetch = async (url, init) => {
    calls.push([url, init]);
    if (calls.length === 1) return new Response('{"message": "slow down"}', { status: 429, headers: { 'Retry-After': '0' } });
    return new Response(fixture(V2 + 'cbu-getRestoreDetails_response.json'), { status: 200, headers: { 'Content-Type': 'application/json' } });
  };
  const auth = { token: 'tok', tenantId: TENANT, agentId: 'agent-7' };
  const r = /** @type {{ id: string }} */ (await cb.call('v2.restores.get_restore', { restore_id: 'a/b c' }, { baseUrl: 'https://backup.invalid/', auth, fetch }));
  assert.equal(r.id, RESTORE_ID);
  assert.equal(calls.length, 2);
  const [url, init] = calls[0];
  assert.equal(url, `https://backup.invalid/v2/${TENANT}/restores/a%2Fb%20c`);
  const headers = new Headers(init.headers);
  assert.equal(headers.get('x-auth-token'), 'tok');
  // The agent's id set once on the auth goes with every request.
  assert.equal(headers.get('x-agent-id'), 'agent-7');
  assert.equal(init.body, undefined);
});

test('a Response passed in is parsed by the core', async () => {
  const ok = new Response(fixture(V2 + 'cbu-getRestoreDetails_response.json'), { status: 200 });
  assert.deepEqual(await cb.parseFetchResponse('v2.restores.get_restore', { restore_id: RESTORE_ID }, ok),
    cb.parseModel('v2.Restore', fixture(V2 + 'cbu-getRestoreDetails_response.json')));
  const busy = new Response('{"message": "Service Unavailable"}', { status: 503, headers: { 'retry-after': 'Wed, 21 Oct 2026 07:28:00 GMT' } });
  const e = await rejectsExactly(cb.parseFetchResponse('v2.restores.get_restore', { restore_id: RESTORE_ID }, busy), cb.ApiError, 'api');
  assert.equal(e.details.retry_after, 'Wed, 21 Oct 2026 07:28:00 GMT');
  assert.equal(e.details.kind, 'service_unavailable');
  const html = new Response('<html>', { status: 200 });
  await rejectsExactly(cb.parseFetchResponse('v2.restores.get_restore', { restore_id: RESTORE_ID }, html), cb.InvalidJsonError, 'invalid_json');
  const moved = new Response(null, { status: 302 });
  await rejectsExactly(cb.parseFetchResponse('v2.restores.get_restore', { restore_id: RESTORE_ID }, moved), cb.UnexpectedResponseError, 'unexpected_response');
  const read = await cb.readResponse(new Response('abc', { status: 201, headers: { 'X-A': '1' } }));
  assert.equal(read.status, 201);
  assert.deepEqual(read.headers.find(([k]) => k === 'x-a'), ['x-a', '1']);
  assert.deepEqual([...read.body], [97, 98, 99]);
  await rejectsExactly(cb.parseFetchResponse('v2.settings.ping', null, /** @type {Response} */ (/** @type {unknown} */ ({ status: 200 }))),
    cb.InvalidArgumentError, 'invalid_argument');
});

test('fetchArgs: the core\'s request as a standard fetch, query encoded as the core encodes it', async () => {
  await withService(async (s) => {
    const { token } = await new cb.RackspaceIdentity({ username: USERNAME, apiKey: API_KEY, identityUrl: s.identityUrl }).session();
    const request = cb.buildRequest('v2.restores.list_restores', { page: { marker: "r-02", limit: 1 } }, { token, tenantId: TENANT });
    const [url, init] = cb.fetchArgs(request, `${s.url}//`);
    assert.equal(url, `${s.url}/v2/${TENANT}/restores?marker=r-02&limit=1`);
    const result = await cb.parseFetchResponse('v2.restores.list_restores', {}, await fetch(url, init));
    assert.deepEqual(cb.listItems('v2.restores.list_restores', result).map((r) => /** @type {{ id: string }} */ (r).id), ['r-03']);
    const odd = cb.buildRequest('v2.restores.list_restores', { page: { marker: "a b&c=d/e!'()*" } }, { token, tenantId: TENANT });
    assert.equal(cb.fetchArgs(odd, 'https://h')[0], `https://h/v2/${TENANT}/restores?marker=a%20b%26c%3Dd%2Fe%21%27%28%29%2A`);
  });
});

test('bad input fails before anything is sent, with exact classes', async () => {
  await withService(async (s) => {
    const options = { baseUrl: s.url, auth: { token: 't', tenantId: TENANT } };
    const unknown = await rejectsExactly(cb.call(/** @type {never} */ ('v2.restores.get_restor'), /** @type {never} */ ({}), options),
      cb.InvalidArgumentError, 'invalid_argument');
    assert.match(unknown.message, /v2\.restores\.get_restore/);
    const missing = await rejectsExactly(cb.call('v2.restores.get_restore', /** @type {never} */ ({}), options), cb.InvalidArgumentError, 'invalid_argument');
    assert.match(missing.message, /restore_id/);
    const misspelt = await rejectsExactly(cb.call('v2.settings.ping', null, /** @type {never} */ ({ ...options, retries: 3 })),
      cb.InvalidArgumentError, 'invalid_argument');
    assert.equal(misspelt.details.name, 'options.retries');
    const noBase = await rejectsExactly(cb.call('v2.settings.ping', null, { auth: { token: 't', tenantId: TENANT } }), cb.InvalidArgumentError, 'invalid_argument');
    assert.equal(noBase.details.name, 'options.baseUrl');
    const relative = await rejectsExactly(cb.call('v2.settings.ping', null, { ...options, baseUrl: '/v2' }), cb.InvalidArgumentError, 'invalid_argument');
    assert.equal(relative.details.name, 'options.baseUrl');
    const noToken = await rejectsExactly(cb.call('v2.settings.ping', null, { baseUrl: s.url, auth: /** @type {never} */ ({ tenantId: TENANT }) }),
      cb.InvalidArgumentError, 'invalid_argument');
    assert.equal(noToken.details.name, 'options.auth.token');
    const badRetry = await rejectsExactly(cb.call('v2.settings.ping', null, { ...options, retry: { attempts: 0 } }), cb.InvalidArgumentError, 'invalid_argument');
    assert.equal(badRetry.details.name, 'options.retry.attempts');
    assert.equal(s.log.length, 0);
    assert.throws(() => new cb.RackspaceIdentity(/** @type {never} */ ({ username: USERNAME })), cb.InvalidArgumentError);
    assert.throws(() => new cb.RackspaceIdentity(/** @type {never} */ ({ username: USERNAME, apiKey: 'k', password: 'p' })), cb.InvalidArgumentError);
  });
});
