// Vault.openAsync / Vault.createAsync (and, at the end, RestoreSession.feedAsync):
// the Argon2 key derivation (~250 ms
// with the default settings) runs in a short-lived Worker, so the calling
// thread keeps running; the vault is then opened on the calling thread
// with the master key the Worker derived (Vault.openWithKey: no Argon2).
//
// The Worker gets the WebAssembly.Module this thread compiled (no second
// download, nothing to serve: the inlined entry works too) and ends after
// its one answer, which also returns Argon2's memory (64 MiB by default)
// to the system: a wasm instance's memory never shrinks. The master key
// crosses back as 32 bytes in a transferred buffer, and is overwritten
// here as soon as the vault is open.
//
// Not an entry of the package: index.js installs these on Vault (a side
// effect, listed in package.json "sideEffects"); node.js swaps the
// browser's Worker for worker_threads.
import { RestoreSession, Vault, __cbModule } from './dist/cloudbackup_wasm.js';
import { CloudBackupError, makeError } from './errors.js';

/**
 * @typedef {import('./async-worker.js').Request} Request
 * @typedef {ReturnType<typeof import('./async-worker.js').handle>} Reply
 * @typedef {(request: Request) => Promise<Reply>} Runner
 */

/**
 * A browser's module Worker on async-worker.js. Written as bundlers expect
 * (`new Worker(new URL('./x.js', import.meta.url), { type: 'module' })`):
 * Vite, webpack 5 and Parcel bundle the Worker with its imports.
 * @type {Runner}
 */
let runner = (request) => new Promise((resolve, reject) => {
  /** @type {Worker} */
  let worker;
  try {
    worker = new Worker(new URL('./async-worker.js', import.meta.url), { type: 'module' });
  } catch (e) {
    // No Worker here (CommonJS in node), or a bundle that left the file out.
    reject(workerFailed(`could not be started (${e instanceof Error ? e.message : e})`));
    return;
  }
  worker.onmessage = (event) => {
    worker.terminate();
    resolve(event.data);
  };
  worker.onerror = (event) => {
    worker.terminate();
    reject(workerFailed(event.message || 'could not be started (its script did not load)'));
  };
  worker.onmessageerror = () => {
    worker.terminate();
    reject(workerFailed('its answer could not be read'));
  };
  post(worker, request, reject);
});

/**
 * Replaces how the Worker is run (node.js: worker_threads). Internal.
 * @param {Runner} run
 */
export function setRunner(run) {
  runner = run;
}

/** @param {string} reason @returns {CloudBackupError<string>} */
export function workerFailed(reason) {
  return makeError('invalid_state', `the key derivation Worker failed: ${reason}`, { session: 'worker', reason });
}

/**
 * Posts the request; an argument that cannot be cloned (a function, a
 * symbol) is an InvalidArgumentError, as any wrong type is.
 * @param {{ postMessage(message: unknown): void }} worker
 * @param {Request} request
 * @param {(e: unknown) => void} reject
 */
export function post(worker, request, reject) {
  try {
    worker.postMessage(request);
  } catch (e) {
    const reason = `must be bytes, a string or plain data (postMessage refused it: ${e instanceof Error ? e.message : e})`;
    reject(makeError('invalid_argument', `invalid argument \`arguments\`: ${reason}`, { name: 'arguments', reason }));
  }
}

/**
 * A copy of `bytes` when it is Bytes (this thread keeps its own, and the
 * copy is what the Worker gets); anything else as it is (the Worker's
 * argument checks answer it as the synchronous call would).
 * @param {unknown} bytes
 * @returns {unknown}
 */
export function copyBytes(bytes) {
  if (ArrayBuffer.isView(bytes)) return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength).slice();
  if (bytes instanceof ArrayBuffer) return new Uint8Array(bytes.slice(0));
  return bytes;
}

/**
 * Runs `request` in a Worker and opens `config` with the key it answers.
 * @param {{ op: 'open', config: Uint8Array, password: string | Uint8Array }
 *   | { op: 'create', password: string | Uint8Array, settings?: unknown, kdf?: unknown }} request
 * @returns {Promise<Vault>}
 */
async function unlockInWorker(request) {
  const module = __cbModule();
  if (!module) {
    throw makeError('invalid_state', 'call init() first: the WebAssembly module of @cloudbackup/core is not loaded yet (browsers: await init() once)', { session: 'module', reason: 'is not initialised' });
  }
  const reply = await runner(/** @type {Request} */ ({ ...request, module }));
  if (!reply.ok) throw CloudBackupError.from(reply.error);
  try {
    return Vault.openWithKey(reply.config, reply.key);
  } finally {
    reply.key.fill(0);
  }
}

/**
 * Vault.open without blocking: Argon2 runs in a Worker.
 * @param {unknown} config @param {unknown} password
 * @returns {Promise<Vault>}
 */
function openAsync(config, password) {
  return unlockInWorker({ op: 'open', config: /** @type {Uint8Array} */ (copyBytes(config)), password: /** @type {string} */ (copyBytes(password)) });
}

/**
 * Vault.create without blocking: Argon2 runs in a Worker.
 * @param {unknown} password @param {unknown} [settings] @param {unknown} [kdf]
 * @returns {Promise<Vault>}
 */
function createAsync(password, settings, kdf) {
  return unlockInWorker({ op: 'create', password: /** @type {string} */ (copyBytes(password)), settings, kdf });
}

Object.defineProperties(Vault, {
  openAsync: { value: openAsync, writable: true, configurable: true },
  createAsync: { value: createAsync, writable: true, configurable: true },
});

// RestoreSession.feedAsync: feed with each blob's AES-256-GCM opened by the
// host's WebCrypto (AES-NI in browsers and node) instead of the module's
// portable AES, which is most of a restore's time in wasm
// (docs/PERFORMANCE.md). The core still checks everything else: which
// blobs, their lengths, decompression and each blob's id; a blob WebCrypto
// refuses fails its files exactly as with feed. The session's data-blob key
// (it opens data blobs of this vault and nothing else) is imported once as a
// non-extractable CryptoKey, and its bytes overwritten.

/** Per session, its imported blob key, or null where WebCrypto cannot import it. @type {WeakMap<object, CryptoKey | null>} */
const blobKeys = new WeakMap();

/**
 * The session's blob key as a CryptoKey; null when this host's WebCrypto
 * has no AES-GCM (then feedAsync is feed).
 * @param {RestoreSession} session @param {SubtleCrypto} subtle
 * @returns {Promise<CryptoKey | null>}
 */
async function blobKey(session, subtle) {
  const known = blobKeys.get(session);
  if (known !== undefined) return known;
  const raw = /** @type {Uint8Array<ArrayBuffer>} */ (session.__blobKey());
  /** @type {CryptoKey | null} */
  let key = null;
  try {
    key = await subtle.importKey('raw', raw, { name: 'AES-GCM' }, false, ['decrypt']);
  } catch {
    key = null;
  } finally {
    raw.fill(0);
  }
  blobKeys.set(session, key);
  return key;
}

/**
 * @this {RestoreSession}
 * @param {unknown} bundleId @param {unknown} offset @param {unknown} bytes
 * @returns {Promise<unknown>}
 */
async function feedAsync(bundleId, offset, bytes) {
  // Not in a page served over plain http (no crypto.subtle there).
  const subtle = globalThis.crypto?.subtle;
  // WebCrypto refuses views of a SharedArrayBuffer: those take feed's path.
  const shared = ArrayBuffer.isView(bytes) && !(bytes.buffer instanceof ArrayBuffer);
  const key = subtle && !shared ? await blobKey(this, subtle) : null;
  if (!subtle || !key) return this.feed(/** @type {string} */ (bundleId), /** @type {number} */ (offset), /** @type {Uint8Array} */ (bytes));
  // The same argument checks and errors as feed; from here to the last
  // decrypt call nothing awaits, so WebCrypto copies the bytes the core
  // checked before the caller can change them.
  const { token, parts } = /** @type {{ token: number, parts: { nonce: Uint8Array<ArrayBuffer>, aad: Uint8Array<ArrayBuffer>, start: number, end: number, failed: boolean }[] }} */ (
    this.__sealedBlobs(/** @type {string} */ (bundleId), /** @type {number} */ (offset), /** @type {Uint8Array} */ (bytes)));
  const view = /** @type {Uint8Array<ArrayBuffer>} */ (ArrayBuffer.isView(bytes)
    ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    : new Uint8Array(/** @type {ArrayBuffer} */ (bytes)));
  // A part that failed already (the bytes end before it) has nothing to
  // open: null, in its turn, so failures keep the range's order.
  const opened = await Promise.all(parts.map((p) => p.failed ? null : subtle
    .decrypt({ name: 'AES-GCM', iv: p.nonce, additionalData: p.aad, tagLength: 128 }, key, view.subarray(p.start, p.end))
    .then((plain) => new Uint8Array(plain), (e) => {
      // OperationError: the tag does not verify (the blob fails its files,
      // as feed's would). Anything else is this host's WebCrypto failing.
      // (a DOMException; not an Error subclass in every engine).
      if (e !== null && typeof e === 'object' && /** @type {{ name?: unknown }} */ (e).name === 'OperationError') return null;
      throw makeError('invalid_state', `WebCrypto could not open a blob: ${e instanceof Error ? e.message : e}`, { session: 'restore', reason: 'WebCrypto failed' });
    })));
  return this.__openedBlobs(token, opened);
}

Object.defineProperty(RestoreSession.prototype, 'feedAsync', { value: feedAsync, writable: true, configurable: true });
