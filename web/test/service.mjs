// A local HTTP server (node:http, 127.0.0.1, ephemeral port) that answers
// like the service for the client tests: Rackspace Identity v2.0 tokens with
// a service catalog (test/data/identity-tokens.json), and Cloud Backup
// answers from the shared sample bodies (tests/data/rackspace/), a v2 restore
// list paged by marker, 401 for a token it does not know, and scripted
// answers (429 with Retry-After, 503...) played before the normal ones.
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { fixture, fixtureJson } from './helpers.mjs';

const V1 = 'tests/data/rackspace/samples-v1/';
const V2 = 'tests/data/rackspace/samples-v2/';
export const TENANT = '123456';
export const USERNAME = 'demo';
export const API_KEY = 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee';
export const PASSWORD = 'correct horse';

/** The sample restore of the v2 reference; list pages are made of copies with other ids. */
const SAMPLE_RESTORE = /** @type {{ restores: Record<string, unknown>[] }} */ (fixtureJson(V2 + 'cbu-getRestores_response.json')).restores[0];
/** The ids of the restores the list serves, oldest first. */
export const RESTORE_IDS = ['r-01', 'r-02', 'r-03', 'r-04', 'r-05'];

/**
 * @typedef {{ method: string, path: string, query: URLSearchParams, headers: import('node:http').IncomingHttpHeaders, body: string }} Seen
 * @typedef {{ status: number, headers?: Record<string, string>, body?: string | Buffer }} Answer
 */

/**
 * `date` in ISO 8601 with a UTC offset of `minutes` (`2013-06-28T05:59:25.864-05:00`).
 * @param {Date} date @param {number} minutes
 */
export function isoWithOffset(date, minutes) {
  const local = new Date(date.getTime() + minutes * 60_000).toISOString().replace(/Z$/, '');
  const sign = minutes < 0 ? '-' : '+';
  const abs = Math.abs(minutes);
  return `${local}${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

/**
 * Starts the service. `expiresInMs` is the lifetime of the tokens it issues;
 * `identity` the answer's template under test/data/, `offsetMinutes` the UTC
 * offset its `expires` is written with.
 * @param {{ expiresInMs?: number, identity?: string, offsetMinutes?: number }} [options]
 */
export async function startService(options = {}) {
  /** @type {Seen[]} */
  const log = [];
  /** @type {Set<string>} */
  const valid = new Set();
  /** @type {Map<string, Answer[]>} */
  const scripted = new Map();
  let issued = 0;
  let expiresInMs = options.expiresInMs ?? 3_600_000;
  const identityTemplate = readFileSync(new URL(`./data/${options.identity ?? 'identity-tokens.json'}`, import.meta.url), 'utf8');
  const offset = options.offsetMinutes ?? 0;

  /** @param {Seen} req @param {string} base @returns {Answer} */
  function identity(req, base) {
    if (req.method !== 'POST' || req.path !== '/v2.0/tokens') return notFound();
    /** @type {any} */
    let body;
    try {
      body = JSON.parse(req.body);
    } catch {
      return json(400, { badRequest: { code: 400, message: 'Invalid json request body' } });
    }
    const key = body?.auth?.['RAX-KSKEY:apiKeyCredentials'];
    const pw = body?.auth?.passwordCredentials;
    const ok = (key && key.username === USERNAME && key.apiKey === API_KEY)
      || (pw && pw.username === USERNAME && pw.password === PASSWORD);
    if (!ok) {
      return json(401, { unauthorized: { code: 401, message: 'Unable to authenticate user with credentials provided.' } });
    }
    const token = `token-${++issued}`;
    valid.add(token);
    const text = identityTemplate
      .replaceAll('{{token}}', token)
      .replaceAll('{{expires}}', isoWithOffset(new Date(Date.now() + expiresInMs), offset))
      .replaceAll('{{base}}', base);
    return { status: 200, headers: { 'Content-Type': 'application/json' }, body: text };
  }

  /** @param {Seen} req @returns {Answer} */
  function backup(req) {
    const token = req.headers['x-auth-token'];
    if (typeof token !== 'string' || !valid.has(token)) {
      return json(401, { unauthorized: { code: 401, message: 'The token is not valid.' } });
    }
    // An IAD endpoint lives under /iad (see the catalog).
    const path = req.path.replace(/^\/iad(?=\/)/, '');
    const v2 = `/v2/${TENANT}`;
    const v1 = `/v1.0/${TENANT}`;
    if (req.method === 'GET' && path === `${v2}/restores`) return restorePage(req.query);
    if (req.method === 'GET' && path === `${v2}/restores/${SAMPLE_RESTORE.id}`) return sample(V2 + 'cbu-getRestoreDetails_response.json');
    if (req.method === 'GET' && path.startsWith(`${v2}/restores/`)) return json(404, { message: 'Restore not found.' });
    if (req.method === 'POST' && path === `${v2}/restores`) return sample(V2 + 'cbu-postRestore_response.json', 201);
    if (req.method === 'PATCH' && path.startsWith(`${v2}/restores/`)) return { status: 204 };
    if (req.method === 'GET' && path === `${v2}/ping`) return { status: 204 };
    if (req.method === 'GET' && path === `${v1}/backup-configuration`) return sample(V1 + 'getAllBackupConfigforUser-response.json');
    if (req.method === 'POST' && path === `${v1}/backup/action-requested`) {
      return { status: 200, headers: { 'Content-Type': 'application/json' }, body: fixture(V1 + 'startBackupManually_response.txt') };
    }
    return notFound();
  }

  /** @param {URLSearchParams} query @returns {Answer} */
  function restorePage(query) {
    const limit = Number(query.get('limit') ?? '100');
    const desc = query.get('sort_dir') === 'desc';
    const ids = desc ? [...RESTORE_IDS].reverse() : RESTORE_IDS;
    const marker = query.get('marker');
    const start = marker === null ? 0 : ids.indexOf(marker) + 1;
    if (marker !== null && start === 0) return json(400, { message: `Invalid marker ${marker}.` });
    const slice = ids.slice(start, start + limit);
    const href = (/** @type {string} */ m) => `https://backup.invalid/v2/restores?marker=${m}${desc ? '&sort_dir=desc' : ''}`;
    /** @type {{ href: string, rel: string }[]} */
    const links = [];
    if (start + limit < ids.length) links.push({ href: href(slice[slice.length - 1]), rel: 'next' });
    if (start > 0) links.push({ href: href(ids[start - 1]), rel: 'previous' });
    return json(200, { restores: slice.map((id) => ({ ...SAMPLE_RESTORE, id })), links });
  }

  const server = createServer((request, response) => {
    /** @type {Buffer[]} */
    const chunks = [];
    request.on('data', (c) => chunks.push(c));
    request.on('end', () => {
      const url = new URL(request.url ?? '/', 'http://127.0.0.1');
      /** @type {Seen} */
      const seen = {
        method: request.method ?? '',
        path: url.pathname,
        query: url.searchParams,
        headers: request.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      log.push(seen);
      const queue = scripted.get(`${seen.method} ${seen.path}`);
      const base = `http://127.0.0.1:${port()}`;
      const answer = queue?.shift() ?? (seen.path.startsWith('/v2.0/') ? identity(seen, base) : backup(seen));
      response.writeHead(answer.status, answer.headers ?? {});
      response.end(answer.body ?? '');
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(undefined)));
  const port = () => {
    const address = server.address();
    return typeof address === 'object' && address ? address.port : 0;
  };
  const url = `http://127.0.0.1:${port()}`;
  return {
    /** The service's root. */
    url,
    /** Identity's root (`${url}/v2.0`). */
    identityUrl: `${url}/v2.0`,
    /** Every request received, in order. */
    log,
    /** Requests to `path` (and `method`). @param {string} method @param {string} path */
    seen: (method, path) => log.filter((r) => r.method === method && r.path === path),
    /** Answers `method path` with `answers` first, in order. @param {string} method @param {string} path @param {Answer[]} answers */
    script(method, path, answers) {
      scripted.set(`${method} ${path}`, [...answers]);
    },
    /** Forgets every token issued (as if they had expired or been revoked). */
    revokeTokens: () => valid.clear(),
    /** The lifetime of the tokens issued from now on. @param {number} ms */
    setTokenLifetime(ms) {
      expiresInMs = ms;
    },
    /** How many tokens Identity issued. */
    tokensIssued: () => issued,
    stop: () => new Promise((resolve) => {
      server.close(() => resolve(undefined));
      server.closeAllConnections();
    }),
  };
}

/** @param {number} status @param {unknown} value @returns {Answer} */
function json(status, value) {
  return { status, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(value) };
}

/** @param {string} path @param {number} [status] @returns {Answer} */
function sample(path, status = 200) {
  return { status, headers: { 'Content-Type': 'application/json' }, body: fixture(path) };
}

/** @returns {Answer} */
function notFound() {
  return json(404, { message: 'Not found.' });
}
