// The transport of @cloudbackup/core (client.js): `call` and its helpers.
import type { HttpResponse, JsonValue, Request as CoreRequest } from './dist/cloudbackup_wasm.js';
import type { OperationName, OperationParams, States } from './operations.js';

/** What `call` needs of `fetch`: the global one fits, and so does a fake returning a `Response`. */
export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

/** Credentials given as they are: the token and the account (tenant / project id). */
export interface StaticAuth {
  /** `X-Auth-Token`. */
  token: string;
  /** The tenant id (v1) or project id (v2): the account number. */
  tenantId: string;
  /** An agent's id: sent as `X-Agent-Id` on every request (agents must send it). */
  agentId?: string;
  /** The service's root (e.g. `https://dfw.backup.api.rackspacecloud.com`), when `options.baseUrl` is not given. */
  baseUrl?: string;
}

/** What an `AuthProvider` hands `call` for one request. */
export interface AuthSession extends StaticAuth {
  /** When the token expires (null: not said). */
  expires?: Date | null;
  /** The catalog endpoint's region. */
  region?: string | null;
  /** The catalog endpoint's URL as listed (with the account path). */
  endpoint?: string;
}

/** Credentials that change: `call` asks for a session per request and, on a 401, invalidates it and asks once more. */
export interface AuthProvider {
  session(context?: { fetch?: FetchLike; signal?: AbortSignal }): Promise<AuthSession>;
  invalidate?(token: string): void;
}

/** One retry about to happen (for logs). */
export interface RetryInfo {
  /** The operation, or `identity authenticate`. */
  operation: string;
  /** The attempt that failed (1 = the first). */
  attempt: number;
  /** How long before the next one. */
  delayMs: number;
  /** Why: an `ApiError` (429, 503, 5xx), or fetch's own error. */
  error: Error;
}

/**
 * When to try again. 429 and 503 (and 413 with `Retry-After`) are retried for
 * any method, after `Retry-After` (seconds or an HTTP date) or else backoff;
 * 500, 502, 504 and network failures only for GET, HEAD, PUT and DELETE.
 */
export interface RetryOptions {
  /** Attempts in all, the first included (default 4; 1 = no retry). */
  attempts?: number;
  /** First backoff delay (default 500 ms), doubled each time. */
  baseDelayMs?: number;
  /** The longest wait (default 60 000 ms): a `Retry-After` beyond it is not waited for (the `ApiError` is thrown). */
  maxDelayMs?: number;
  /** Randomise backoff between half and all of it (default true). */
  jitter?: boolean;
  /** How to wait (default: a timer that the call's signal cancels). */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Told before each wait. */
  onRetry?: (info: RetryInfo) => void;
}

/** Options of `call`, `pages` and `paginate`. */
export interface CallOptions {
  /** Credentials, or a provider of them such as `RackspaceIdentity`. */
  auth: StaticAuth | AuthProvider;
  /** The service's root, e.g. `https://dfw.backup.api.rackspacecloud.com` (default: the auth's endpoint). */
  baseUrl?: string;
  /** The fetch to use (default: the global one). */
  fetch?: FetchLike;
  /** Retries (default `{}`: 4 attempts), or `false` for one attempt. */
  retry?: RetryOptions | false;
  /** Cancels the request and any wait. */
  signal?: AbortSignal;
}

/**
 * Calls `operation`: the core builds the request from `params`, fetch sends
 * it, the core parses the answer. Resolves to the operation's result in the
 * core's JSON shape (`null` for no content); rejects with the package's
 * errors (`ApiError` for an error status, `InvalidArgumentError` for bad
 * parameters, ...) or, when the network fails after the retries, fetch's own.
 */
export function call<O extends OperationName>(operation: O, params: OperationParams[O], options: CallOptions): Promise<JsonValue>;

/** The pages of a list: v2 lists follow their `next` marker until the last page; v1 lists are one page. */
export function pages<O extends OperationName>(operation: O, params: OperationParams[O], options: CallOptions): AsyncGenerator<JsonValue, void, undefined>;

/** Every item of a list, page after page (see `pages`). */
export function paginate<O extends OperationName>(operation: O, params: OperationParams[O], options: CallOptions): AsyncGenerator<JsonValue, void, undefined>;

/** The items of a list result: a v1 array, or a v2 page's one array member besides `links`. */
export function listItems(operation: string, page: JsonValue): JsonValue[];

/** Parses a standard `Response` from any fetch for `operation`, with the core. */
export function parseFetchResponse<O extends OperationName>(operation: O, params: OperationParams[O], response: Response): Promise<JsonValue>;

/** A `Response`'s status, headers and body bytes, as `parseResponse` takes them. */
export function readResponse(response: Response): Promise<HttpResponse & { headers: [string, string][]; body: Uint8Array }>;

/** The arguments of a standard fetch for a request the core built: `fetch(...fetchArgs(buildRequest(op, params, auth), baseUrl))`. */
export function fetchArgs(request: CoreRequest, baseUrl: string, signal?: AbortSignal): [string, RequestInit];

/** The delay a `Retry-After` value asks for, in ms: seconds (a number, or the header's digits) or an HTTP date (null: a date that cannot be read). */
export function retryAfterMs(value: number | string, now?: number): number | null;

/** Waits `ms`; rejects with the signal's reason if it aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void>;

/** Rackspace Identity v2.0's address (`POST {IDENTITY_URL}/tokens`). */
export const IDENTITY_URL: 'https://identity.api.rackspacecloud.com/v2.0';

/** Options of `RackspaceIdentity`: a username with exactly one of `apiKey` and `password`. */
export type IdentityOptions = {
  username: string;
  /** The Cloud Backup region (`DFW`, `IAD`, ...; default: the user's default region). */
  region?: string;
  /** Identity's root (default `IDENTITY_URL`). */
  identityUrl?: string;
  /** The catalog's service type (default `rax:backup`), then its name (default `cloudBackup`). */
  serviceType?: string;
  serviceName?: string;
  /** Which of the endpoint's URLs (default `publicURL`; `internalURL` is ServiceNet). */
  urlType?: 'publicURL' | 'internalURL';
  /** An agent's id, sent as `X-Agent-Id`. */
  agentId?: string;
  /** The fetch for Identity (default: the call's, else the global one). */
  fetch?: FetchLike;
  /** Retries of the token request (429, 503). */
  retry?: RetryOptions | false;
  /** A token is renewed this long before it expires (default 300 000 ms). */
  expiryMarginMs?: number;
  /** The clock (default `Date.now`). */
  now?: () => number;
} & ({ apiKey: string; password?: undefined } | { password: string; apiKey?: undefined });

/**
 * Rackspace Identity v2.0 as an `AuthProvider`: a token for a username and
 * API key (or password), reused until it nears its expiry and renewed on a
 * 401, and the Cloud Backup endpoint of the region from the service catalog.
 */
export class RackspaceIdentity implements AuthProvider {
  constructor(options: IdentityOptions);
  /** The held session while it is valid, else a new token (concurrent callers share one request). */
  session(context?: { fetch?: FetchLike; signal?: AbortSignal }): Promise<AuthSession & { expires: Date | null; region: string | null; endpoint: string; baseUrl: string }>;
  /** Forgets the session if it holds `token` (or in any case, without one). */
  invalidate(token?: string): void;
  /** Asks Identity for a new token now (`POST {identityUrl}/tokens`). */
  authenticate(context?: { fetch?: FetchLike; signal?: AbortSignal }): Promise<AuthSession & { expires: Date | null; region: string | null; endpoint: string; baseUrl: string }>;
  /** How many tokens it obtained. */
  tokensIssued: number;
}

/** The states of `resource` (`StateOf<'restore'>` is `RestoreState`). */
export type StateOf<R extends keyof States> = States[R];
