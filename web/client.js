// The transport of @cloudbackup/core: `call(operation, params, options)`
// builds the request with the core (buildRequest), sends it with the
// standard fetch (global, or the one passed in), and parses the answer with
// the core (parseResponse): the typed result, or the package's typed error.
// Around that, only transport: Rackspace Identity v2.0 tokens and the
// service catalog, Retry-After and backoff, one token refresh on 401, and
// paging by marker. Every rule about the service's answers stays in the core.
import { buildRequest, parseResponse } from './dist/cloudbackup_wasm.js';
import { ApiError, CloudBackupError, InvalidArgumentError, InvalidJsonError, NotFoundError, UnexpectedResponseError } from './errors.js';
import { PAGED_OPERATIONS } from './operations.js';

/** @typedef {import('./dist/cloudbackup_wasm.js').JsonValue} JsonValue */
/** @typedef {import('./dist/cloudbackup_wasm.js').JsonObject} JsonObject */
/** @typedef {import('./dist/cloudbackup_wasm.js').Request} CoreRequest */
/** @typedef {import('./dist/cloudbackup_wasm.js').HttpResponse} HttpResponse */
/** @typedef {import('./client.js').FetchLike} FetchLike */
/** @typedef {import('./client.js').StaticAuth} StaticAuth */
/** @typedef {import('./client.js').AuthSession} AuthSession */
/** @typedef {import('./client.js').AuthProvider} AuthProvider */
/** @typedef {import('./client.js').CallOptions} CallOptions */
/** @typedef {import('./client.js').RetryOptions} RetryOptions */
/** @typedef {import('./client.js').RetryInfo} RetryInfo */
/** @typedef {import('./client.js').IdentityOptions} IdentityOptions */
/**
 * @typedef {{ attempts: number, baseDelayMs: number, maxDelayMs: number, jitter: boolean,
 *   sleep: (ms: number, signal?: AbortSignal) => Promise<void>, onRetry: ((info: RetryInfo) => void) | null }} Policy
 */

/** Where Rackspace Identity v2.0 answers. */
export const IDENTITY_URL = 'https://identity.api.rackspacecloud.com/v2.0';

/** Methods a retry cannot apply twice: they may be retried after any failure. */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'PUT', 'DELETE']);

const DEFAULT_RETRY = Object.freeze({ attempts: 4, baseDelayMs: 500, maxDelayMs: 60_000, jitter: true });

/**
 * The package's error for a bad argument (`name`), as the core words it.
 * @param {string} name @param {string} reason
 */
function argumentError(name, reason) {
  return new InvalidArgumentError(`invalid argument \`${name}\`: ${reason}`, { name, reason });
}

/** @param {unknown} v @returns {v is Record<string, unknown>} */
function isObject(v) {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Refuses members of `value` not in `known` (a misspelt option is a bug, not a default).
 * @param {Record<string, unknown>} value @param {string} name @param {string[]} known
 */
function onlyKnown(value, name, known) {
  for (const key of Object.keys(value)) {
    if (value[key] !== undefined && !known.includes(key)) {
      throw argumentError(`${name}.${key}`, `unknown option; expected one of: ${known.join(', ')}`);
    }
  }
}

/** @param {unknown} v @param {string} name @returns {string} */
function text(v, name) {
  if (typeof v !== 'string' || v.trim() === '') throw argumentError(name, 'must be a non-empty string');
  return v;
}

/** @param {unknown} v @param {string} name @returns {string | undefined} */
function optionalText(v, name) {
  return v === undefined || v === null ? undefined : text(v, name);
}

/**
 * A base URL without its trailing slashes; it must be absolute http(s).
 * @param {unknown} v @param {string} name
 */
function baseUrlOf(v, name) {
  const s = text(v, name);
  /** @type {URL} */
  let url;
  try {
    url = new URL(s);
  } catch {
    throw argumentError(name, `${JSON.stringify(s)} is not an absolute URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw argumentError(name, `${JSON.stringify(s)} is not an http(s) URL`);
  }
  if (url.search || url.hash) throw argumentError(name, 'must not have a query or a fragment');
  return s.replace(/\/+$/, '');
}

/** @param {unknown} v @param {string} name @returns {FetchLike} */
function fetchOf(v, name) {
  if (v === undefined || v === null) {
    if (typeof globalThis.fetch !== 'function') throw argumentError(name, 'no global fetch here: pass one');
    return (input, init) => globalThis.fetch(input, init);
  }
  if (typeof v !== 'function') throw argumentError(name, 'must be a function like fetch');
  return /** @type {FetchLike} */ (v);
}

/**
 * An AbortSignal (or an object with its members: another realm's, a
 * polyfill's), else undefined for none.
 * @param {unknown} v @param {string} [name] @returns {AbortSignal | undefined}
 */
function signalOf(v, name = 'options.signal') {
  if (v === undefined || v === null) return undefined;
  const signal = /** @type {AbortSignal} */ (v);
  if (typeof v !== 'object' || typeof signal.aborted !== 'boolean'
    || typeof signal.addEventListener !== 'function' || typeof signal.removeEventListener !== 'function') {
    throw argumentError(name, 'must be an AbortSignal');
  }
  return signal;
}

/** The longest wait setTimeout keeps (2^31 - 1 ms, ~24.8 days): it runs a longer one at once. */
const MAX_SLEEP_MS = 2 ** 31 - 1;

/**
 * Waits `ms`, or rejects with the signal's reason when it aborts first.
 * @param {number} ms @param {AbortSignal} [signal] @returns {Promise<void>}
 */
export function sleep(ms, signal) {
  // Checked before the timer is set: a timer whose callback then meets a
  // bad signal would throw where no caller can catch it.
  if (typeof ms !== 'number' || !(ms >= 0 && ms <= MAX_SLEEP_MS)) {
    return Promise.reject(argumentError('ms', `must be a number of milliseconds from 0 to ${MAX_SLEEP_MS}`));
  }
  try {
    signal = signalOf(signal, 'signal');
  } catch (e) {
    return Promise.reject(e);
  }
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * The retry policy from `options.retry` (false: a single attempt).
 * @param {unknown} v @returns {Policy}
 */
function policyOf(v) {
  /** @type {Policy} */
  const policy = { ...DEFAULT_RETRY, sleep, onRetry: null };
  if (v === undefined || v === null || v === true) return policy;
  if (v === false) return { ...policy, attempts: 1 };
  if (!isObject(v)) throw argumentError('options.retry', 'must be an object or false');
  onlyKnown(v, 'options.retry', ['attempts', 'baseDelayMs', 'maxDelayMs', 'jitter', 'sleep', 'onRetry']);
  /** @param {'attempts' | 'baseDelayMs' | 'maxDelayMs'} key @param {number} min */
  const count = (key, min) => {
    const n = v[key];
    if (n === undefined) return policy[key];
    if (typeof n !== 'number' || !Number.isInteger(n) || n < min) {
      throw argumentError(`options.retry.${key}`, `must be a whole number >= ${min}`);
    }
    return n;
  };
  /** @param {'sleep' | 'onRetry'} key */
  const fn = (key) => {
    const f = v[key];
    if (f !== undefined && typeof f !== 'function') throw argumentError(`options.retry.${key}`, 'must be a function');
    return f;
  };
  if (v.jitter !== undefined && typeof v.jitter !== 'boolean') throw argumentError('options.retry.jitter', 'must be a boolean');
  return {
    attempts: count('attempts', 1),
    baseDelayMs: count('baseDelayMs', 0),
    maxDelayMs: count('maxDelayMs', 0),
    jitter: v.jitter === undefined ? policy.jitter : v.jitter,
    sleep: /** @type {Policy['sleep'] | undefined} */ (fn('sleep')) ?? sleep,
    onRetry: /** @type {Policy['onRetry'] | undefined} */ (fn('onRetry')) ?? null,
  };
}

/**
 * The delay in ms a `Retry-After` value asks for (the core reads it into
 * `details.retry_after`: seconds, or an HTTP date kept as sent; a header's
 * own text works too); null when the date cannot be read.
 * @param {number | string} value @param {number} now
 */
export function retryAfterMs(value, now = Date.now()) {
  if (typeof now !== 'number' || !Number.isFinite(now)) {
    throw argumentError('now', 'must be a time in ms since the epoch (a finite number)');
  }
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw argumentError('value', 'must be a finite number of seconds or an HTTP date');
    return Math.max(0, value * 1000);
  }
  if (typeof value !== 'string') throw argumentError('value', 'must be seconds (a number) or an HTTP date (a string)');
  // The header's delay-seconds (RFC 9110 10.2.3): Date.parse would read
  // "120" as a day in the year 120.
  const text = value.trim();
  if (/^[0-9]+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

/**
 * Exponential backoff before attempt `attempt + 1`: base * 2^(attempt-1),
 * at most maxDelayMs; with jitter, between half and all of it.
 * @param {number} attempt @param {Policy} policy
 */
function backoff(attempt, policy) {
  const full = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return policy.jitter ? full / 2 + (Math.random() * full) / 2 : full;
}

/** A failure of fetch itself (no answer): not an error of the package, not an abort. @param {unknown} e */
function isNetworkError(e) {
  return !(e instanceof CloudBackupError) && !(isObject(e) && e.name === 'AbortError');
}

/**
 * How long to wait before trying again after `error` on attempt `attempt`,
 * or null to give up: 429 and 503 (and 413 with Retry-After, the older rate
 * limit) for any method, after Retry-After or else backoff; 500, 502, 504
 * and network failures only for idempotent methods; never beyond the
 * attempts or when the wait would exceed maxDelayMs.
 * @param {unknown} error @param {string} method @param {number} attempt @param {Policy} policy
 * @returns {number | null}
 */
function retryDelay(error, method, attempt, policy) {
  if (attempt >= policy.attempts) return null;
  if (!(error instanceof ApiError)) {
    return isNetworkError(error) && IDEMPOTENT.has(method) ? backoff(attempt, policy) : null;
  }
  const { status, retry_after: retryAfter } = error.details;
  const throttled = status === 429 || status === 503 || (status === 413 && retryAfter !== null);
  const failed = (status === 500 || status === 502 || status === 504) && IDEMPOTENT.has(method);
  if (!throttled && !failed) return null;
  const asked = retryAfter === null || retryAfter === undefined ? null : retryAfterMs(retryAfter);
  const delay = asked ?? backoff(attempt, policy);
  return delay > policy.maxDelayMs ? null : delay;
}

/** A failure that must not be retried by the caller's loop (it was retried where it happened). */
class Final {
  /** @param {unknown} error */
  constructor(error) {
    this.error = error;
  }
}

/**
 * Runs `attempt` until it succeeds or `retryDelay` gives up.
 * @template T
 * @param {Policy} policy @param {string} method @param {string} operation
 * @param {AbortSignal | undefined} signal @param {() => Promise<T>} attempt @returns {Promise<T>}
 */
async function retrying(policy, method, operation, signal, attempt) {
  for (let n = 1; ; n++) {
    try {
      return await attempt();
    } catch (e) {
      if (e instanceof Final) throw e.error;
      if (signal?.aborted) throw e;
      const delay = retryDelay(e, method, n, policy);
      if (delay === null) throw e;
      policy.onRetry?.({ operation, attempt: n, delayMs: delay, error: /** @type {Error} */ (e) });
      await policy.sleep(delay, signal);
    }
  }
}

/** @param {string} s RFC 3986 unreserved characters stay, as the core encodes. */
function encodeQueryPart(s) {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/**
 * The URL and init of a standard fetch for a request the core built:
 * `fetch(...fetchArgs(buildRequest(op, params, auth), baseUrl))`.
 * @param {CoreRequest} request @param {string} baseUrl @param {AbortSignal} [signal]
 * @returns {[string, RequestInit]}
 */
export function fetchArgs(request, baseUrl, signal) {
  if (!isObject(request) || typeof request.path !== 'string' || typeof request.method !== 'string'
    || !Array.isArray(request.headers) || !Array.isArray(request.query)) {
    throw argumentError('request', 'must be a request built by buildRequest');
  }
  const query = request.query.map(([k, v]) => `${encodeQueryPart(k)}=${encodeQueryPart(v)}`).join('&');
  const url = `${baseUrlOf(baseUrl, 'baseUrl')}${request.path}${query ? `?${query}` : ''}`;
  /** @type {RequestInit} */
  const init = { method: request.method, headers: request.headers.map(([k, v]) => /** @type {[string, string]} */ ([k, v])) };
  if (request.body !== null && request.body !== undefined) init.body = request.body;
  if (signal) init.signal = signal;
  return [url, init];
}

/**
 * What a standard `Response` carries, as the core reads it (status, headers, body bytes).
 * @param {Response} response @returns {Promise<HttpResponse>}
 */
export async function readResponse(response) {
  if (!isObject(response) || typeof response.status !== 'number' || typeof response.arrayBuffer !== 'function') {
    throw argumentError('response', 'must be a fetch Response (status, headers, arrayBuffer())');
  }
  /** @type {[string, string][]} */
  const headers = [];
  response.headers?.forEach((value, name) => headers.push([name, value]));
  const body = new Uint8Array(await response.arrayBuffer());
  return { status: response.status, headers, body };
}

/**
 * Parses a standard `Response` (from any fetch) for `operation` with the
 * core: its typed result, or the package's typed error.
 * @param {string} operation @param {JsonObject | null | undefined} params @param {Response} response
 * @returns {Promise<JsonValue>}
 */
export async function parseFetchResponse(operation, params, response) {
  return parseResponse(operation, params ?? null, await readResponse(response));
}

/** @param {unknown} auth @returns {auth is AuthProvider} */
function isProvider(auth) {
  return isObject(auth) && typeof auth.session === 'function';
}

/**
 * A session's members, checked.
 * @param {unknown} s @param {string} name @returns {AuthSession}
 */
function sessionOf(s, name) {
  if (!isObject(s)) throw argumentError(name, 'must be an object {token, tenantId, agentId?}');
  return {
    token: text(s.token, `${name}.token`),
    tenantId: text(s.tenantId, `${name}.tenantId`),
    agentId: optionalText(s.agentId, `${name}.agentId`),
    baseUrl: s.baseUrl === undefined || s.baseUrl === null ? undefined : baseUrlOf(s.baseUrl, `${name}.baseUrl`),
  };
}

/**
 * The request of `operation` for a session: the core builds it, `X-Agent-Id`
 * included when the session speaks for an agent.
 * @param {string} operation @param {JsonObject | null} params @param {AuthSession} session
 */
function requestFor(operation, params, session) {
  /** @type {import('./dist/cloudbackup_wasm.js').Auth} */
  const auth = { token: session.token, tenantId: session.tenantId };
  if (session.agentId !== undefined) auth.agentId = session.agentId;
  return buildRequest(operation, params, auth);
}

/**
 * Checks `call`'s options.
 * @param {unknown} options
 */
function callOptions(options) {
  if (!isObject(options)) throw argumentError('options', 'must be an object {auth, baseUrl?, fetch?, retry?, signal?}');
  onlyKnown(options, 'options', ['auth', 'baseUrl', 'fetch', 'retry', 'signal']);
  const auth = options.auth;
  return {
    provider: isProvider(auth) ? auth : null,
    /** The credentials as given (checked), when they are not a provider. */
    fixed: isProvider(auth) ? null : sessionOf(auth, 'options.auth'),
    baseUrl: options.baseUrl === undefined || options.baseUrl === null ? undefined : baseUrlOf(options.baseUrl, 'options.baseUrl'),
    fetch: fetchOf(options.fetch, 'options.fetch'),
    policy: policyOf(options.retry),
    signal: signalOf(options.signal),
  };
}

/**
 * Calls `operation` of the service: builds its request with the core,
 * sends it with fetch, parses the answer with the core.
 * @param {string} operation @param {JsonObject | null | undefined} params @param {CallOptions} options
 * @returns {Promise<JsonValue>}
 */
export async function call(operation, params, options) {
  const opts = callOptions(options);
  const p = params ?? null;
  const { provider, fixed } = opts;
  // Checked before anything is sent: a bad operation or parameter never reaches the network.
  const method = requestFor(operation, p, fixed ?? { token: 'check', tenantId: 'check' }).method;
  let refreshed = false;
  return retrying(opts.policy, method, operation, opts.signal, async () => {
    for (;;) {
      /** @type {AuthSession} */
      let session;
      try {
        session = fixed ?? sessionOf(await /** @type {AuthProvider} */ (provider).session({ fetch: opts.fetch, signal: opts.signal }), 'session');
      } catch (e) {
        throw new Final(e);
      }
      const baseUrl = opts.baseUrl ?? session.baseUrl;
      if (baseUrl === undefined) throw new Final(argumentError('options.baseUrl', 'required unless the auth gives an endpoint'));
      const request = requestFor(operation, p, session);
      const response = await readResponse(await opts.fetch(...fetchArgs(request, baseUrl, opts.signal)));
      if (response.status === 401 && provider && !refreshed) {
        // The token expired or was revoked: one new one, then the same request.
        refreshed = true;
        provider.invalidate?.(session.token);
        continue;
      }
      return parseResponse(operation, p, response);
    }
  });
}

/**
 * The next marker of a v2 list page (`links` with `rel: next`), or null.
 * @param {JsonValue} page
 */
function nextMarker(page) {
  if (!isObject(page) || !Array.isArray(page.links)) return null;
  for (const link of page.links) {
    if (isObject(link) && link.rel === 'next' && typeof link.href === 'string') {
      try {
        return new URL(link.href, 'http://base.invalid/').searchParams.get('marker');
      } catch {
        return null;
      }
    }
  }
  return null;
}

/**
 * The items of a list result: the array itself (v1), or the one array member
 * besides `links` (v2: `restores`, `backups`, `events`...).
 * @param {string} operation @param {JsonValue} page @returns {JsonValue[]}
 */
export function listItems(operation, page) {
  if (typeof operation !== 'string') throw argumentError('operation', 'must be an operation name (a string)');
  if (Array.isArray(page)) return page;
  if (isObject(page)) {
    const lists = Object.entries(page).filter(([k, v]) => k !== 'links' && Array.isArray(v));
    if (lists.length === 1) return /** @type {JsonValue[]} */ (lists[0][1]);
  }
  throw argumentError('operation', `${operation} does not answer a list`);
}

/**
 * The pages of a list operation: v2 lists follow their `next` link's marker
 * (same limit and sort), until there is none, a page is empty, or a marker
 * repeats; other lists (v1) are one page.
 * @param {string} operation @param {JsonObject | null | undefined} params @param {CallOptions} options
 * @returns {AsyncGenerator<JsonValue, void, undefined>}
 */
export async function* pages(operation, params, options) {
  /** @type {JsonObject} */
  let p = params ?? {};
  const paged = PAGED_OPERATIONS.includes(/** @type {never} */ (operation));
  /** @type {Set<string>} */
  const seen = new Set();
  for (;;) {
    const page = await call(operation, p, options);
    yield page;
    const marker = paged ? nextMarker(page) : null;
    if (marker === null || seen.has(marker) || listItems(operation, page).length === 0) return;
    seen.add(marker);
    const current = isObject(p.page) ? p.page : {};
    p = { ...p, page: { ...current, marker } };
  }
}

/**
 * Every item of a list operation, page after page (see `pages`).
 * @param {string} operation @param {JsonObject | null | undefined} params @param {CallOptions} options
 * @returns {AsyncGenerator<JsonValue, void, undefined>}
 */
export async function* paginate(operation, params, options) {
  for await (const page of pages(operation, params, options)) yield* listItems(operation, page);
}

/**
 * The error for an Identity answer with an error status: the core reads
 * the status, message and Retry-After as for any service answer.
 * @param {HttpResponse} response
 */
function identityError(response) {
  const label = 'identity authenticate';
  if (response.status < 400) {
    return new UnexpectedResponseError(`unexpected HTTP ${response.status} from ${label}`, { operation: label, status: response.status });
  }
  // Any operation reads an error status the same way; ping's name is replaced.
  try {
    parseResponse('v2.settings.ping', null, response);
  } catch (e) {
    if (e instanceof ApiError) {
      return new ApiError(`${label}${e.message.slice(e.details.operation.length)}`, { ...e.details, operation: label });
    }
    return e;
  }
  return new UnexpectedResponseError(`unexpected HTTP ${response.status} from ${label}`, { operation: label, status: response.status });
}

/**
 * The service's root from a catalog URL: the account path the core adds
 * itself (`/v1.0/123456`, `/v2/123456`) is cut off.
 * @param {string} publicUrl @param {string} tenantId
 */
function serviceRoot(publicUrl, tenantId) {
  const url = new URL(publicUrl);
  const segments = url.pathname.split('/').filter(Boolean);
  if (segments.length && decodeURIComponent(segments[segments.length - 1]) === tenantId) segments.pop();
  if (segments.length && /^v\d+(\.\d+)?$/.test(segments[segments.length - 1])) segments.pop();
  return `${url.origin}${segments.map((s) => `/${s}`).join('')}`;
}

/**
 * Reads an Identity v2.0 token answer: the token, its expiry, and the
 * Cloud Backup endpoint for `region`.
 * @param {Uint8Array} body @param {{ region?: string, serviceType: string, serviceName: string, urlType: 'publicURL' | 'internalURL' }} want
 * @param {string | undefined} agentId
 */
function readAccess(body, want, agentId) {
  const what = 'identity response';
  /** @param {string} message */
  const bad = (message) => new InvalidJsonError(`invalid JSON for ${what}: ${message}`, { what, message });
  /** @type {unknown} */
  let json;
  try {
    json = JSON.parse(new TextDecoder().decode(body));
  } catch (e) {
    throw bad(String(/** @type {Error} */ (e).message));
  }
  const access = isObject(json) ? json.access : undefined;
  const token = isObject(access) ? access.token : undefined;
  if (!isObject(access) || !isObject(token) || typeof token.id !== 'string' || token.id === '') {
    throw bad('no `access.token.id`');
  }
  const expires = typeof token.expires === 'string' ? new Date(token.expires) : null;
  const tokenTenant = isObject(token.tenant) && typeof token.tenant.id === 'string' ? token.tenant.id : undefined;
  const catalog = Array.isArray(access.serviceCatalog) ? access.serviceCatalog : [];
  const service = catalog.find((s) => isObject(s) && s.type === want.serviceType)
    ?? catalog.find((s) => isObject(s) && s.name === want.serviceName);
  const endpoints = isObject(service) && Array.isArray(service.endpoints) ? service.endpoints.filter(isObject) : [];
  const user = isObject(access.user) ? access.user : {};
  const region = want.region ?? (typeof user['RAX-AUTH:defaultRegion'] === 'string' ? user['RAX-AUTH:defaultRegion'] : undefined);
  const regionOf = (/** @type {Record<string, unknown>} */ e) => (typeof e.region === 'string' ? e.region : null);
  const endpoint = (region ? endpoints.find((e) => regionOf(e)?.toUpperCase() === region.toUpperCase()) : undefined)
    ?? endpoints.find((e) => regionOf(e) === null)
    ?? (want.region === undefined && endpoints.length === 1 ? endpoints[0] : undefined);
  if (!endpoint || typeof endpoint[want.urlType] !== 'string') {
    const regions = endpoints.map(regionOf).filter((r) => r !== null);
    const id = `${want.serviceType}${want.region ? ` in ${want.region}` : ''}`;
    const has = service ? `regions: ${regions.join(', ') || 'none'}` : 'no such service';
    throw new NotFoundError(`service catalog endpoint ${id} not found (${has})`, { what: 'service catalog endpoint', id });
  }
  const tenantId = typeof endpoint.tenantId === 'string' ? endpoint.tenantId : tokenTenant;
  if (!tenantId) throw bad('no tenant id (`access.token.tenant.id` or the endpoint\'s `tenantId`)');
  const url = /** @type {string} */ (endpoint[want.urlType]);
  /** @type {AuthSession} */
  const session = {
    token: token.id,
    tenantId,
    baseUrl: serviceRoot(url, tenantId),
    expires: expires && !Number.isNaN(expires.getTime()) ? expires : null,
    region: regionOf(endpoint),
    endpoint: url,
  };
  if (agentId !== undefined) session.agentId = agentId;
  return session;
}

/**
 * Rackspace Identity v2.0 for `call`: a token for a username and API key
 * (or password), reused until it nears its expiry, renewed when `call` sees
 * a 401, and the Cloud Backup endpoint of a region from the service catalog.
 */
export class RackspaceIdentity {
  /** @type {Required<Pick<IdentityOptions, 'identityUrl' | 'serviceType' | 'serviceName' | 'urlType' | 'expiryMarginMs'>> & { username: string, credentials: JsonObject, region?: string, agentId?: string, fetch?: FetchLike, policy: Policy, now: () => number }} */
  #options;
  /** @type {AuthSession | null} */
  #session = null;
  /** @type {Promise<AuthSession> | null} */
  #pending = null;
  /** How many tokens this object obtained (for logs and tests). */
  tokensIssued = 0;

  /** @param {IdentityOptions} options */
  constructor(options) {
    if (!isObject(options)) throw argumentError('options', 'must be an object {username, apiKey | password, region?}');
    onlyKnown(options, 'options', ['username', 'apiKey', 'password', 'region', 'identityUrl', 'serviceType',
      'serviceName', 'urlType', 'agentId', 'fetch', 'retry', 'expiryMarginMs', 'now']);
    const username = text(options.username, 'options.username');
    const apiKey = optionalText(options.apiKey, 'options.apiKey');
    const password = optionalText(options.password, 'options.password');
    if ((apiKey === undefined) === (password === undefined)) {
      throw argumentError('options', 'give exactly one of apiKey and password');
    }
    const urlType = options.urlType ?? 'publicURL';
    if (urlType !== 'publicURL' && urlType !== 'internalURL') throw argumentError('options.urlType', 'must be publicURL or internalURL');
    const margin = options.expiryMarginMs ?? 300_000;
    if (typeof margin !== 'number' || !(margin >= 0)) throw argumentError('options.expiryMarginMs', 'must be a number >= 0');
    if (options.now !== undefined && typeof options.now !== 'function') throw argumentError('options.now', 'must be a function');
    this.#options = {
      username,
      credentials: apiKey !== undefined
        ? { 'RAX-KSKEY:apiKeyCredentials': { username, apiKey } }
        : { passwordCredentials: { username, password: /** @type {string} */ (password) } },
      region: optionalText(options.region, 'options.region'),
      agentId: optionalText(options.agentId, 'options.agentId'),
      identityUrl: baseUrlOf(options.identityUrl ?? IDENTITY_URL, 'options.identityUrl'),
      serviceType: optionalText(options.serviceType, 'options.serviceType') ?? 'rax:backup',
      serviceName: optionalText(options.serviceName, 'options.serviceName') ?? 'cloudBackup',
      urlType,
      expiryMarginMs: margin,
      fetch: options.fetch === undefined ? undefined : fetchOf(options.fetch, 'options.fetch'),
      policy: policyOf(options.retry),
      now: options.now ?? Date.now,
    };
  }

  /**
   * A valid session: the one held while it is more than `expiryMarginMs`
   * from expiry, else a new token (concurrent callers share one request).
   * @param {{ fetch?: FetchLike, signal?: AbortSignal }} [context]
   * @returns {Promise<AuthSession>}
   */
  session(context = {}) {
    const held = this.#session;
    if (held && (held.expires === null || held.expires === undefined
      || held.expires.getTime() - this.#options.expiryMarginMs > this.#options.now())) {
      return Promise.resolve(held);
    }
    if (!this.#pending) {
      this.#pending = this.authenticate(context).finally(() => {
        this.#pending = null;
      });
    }
    return this.#pending;
  }

  /** Forgets the session if it holds `token` (or whatever it holds, without one): the next call authenticates. @param {string} [token] */
  invalidate(token) {
    if (token === undefined || this.#session?.token === token) this.#session = null;
  }

  /**
   * Asks Identity for a new token now (`POST {identityUrl}/tokens`) and holds it.
   * @param {{ fetch?: FetchLike, signal?: AbortSignal }} [context]
   * @returns {Promise<AuthSession>}
   */
  async authenticate(context = {}) {
    const o = this.#options;
    const send = o.fetch ?? fetchOf(context.fetch, 'fetch');
    const signal = context.signal;
    const body = JSON.stringify({ auth: o.credentials });
    const session = await retrying(o.policy, 'POST', 'identity authenticate', signal, async () => {
      /** @type {RequestInit} */
      const init = {
        method: 'POST',
        headers: [['Content-Type', 'application/json'], ['Accept', 'application/json']],
        body,
      };
      if (signal) init.signal = signal;
      const response = await readResponse(await send(`${o.identityUrl}/tokens`, init));
      if (response.status < 200 || response.status > 299) throw identityError(response);
      return readAccess(/** @type {Uint8Array} */ (response.body), o, o.agentId);
    });
    this.#session = session;
    this.tokensIssued++;
    return session;
  }
}
