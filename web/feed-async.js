// RestoreSession.feedAsync: feed with each blob's AES-256-GCM opened by the
// host's WebCrypto. Not an entry of the package: async.js (so index.js and
// node.js) and the restore Worker (restore-worker.js) install it, a side
// effect listed in package.json "sideEffects".
import { RestoreSession } from './dist/cloudbackup_wasm.js';
import { makeError } from './errors.js';
import { copyBytes } from './bytes.js';

// WebCrypto (AES-NI in browsers and node) rather than the module's portable
// AES, which is most of a restore's time in wasm
// (docs/PERFORMANCE.md). The core still checks everything else: which
// blobs, their lengths, decompression and each blob's id; a blob WebCrypto
// refuses fails its files exactly as with feed. The session's data-blob key
// (it opens data blobs of this vault and nothing else) is imported once as a
// non-extractable CryptoKey, and its bytes overwritten.

/** Per session, its imported blob key, or null where WebCrypto cannot import it. @type {WeakMap<object, CryptoKey | null>} */
const blobKeys = new WeakMap();

/** Per session, the import of its blob key while it runs: calls made meanwhile wait for that one. @type {WeakMap<object, Promise<CryptoKey | null>>} */
const importing = new WeakMap();

/**
 * The session's blob key as a CryptoKey; null when this host's WebCrypto
 * has no AES-GCM (then feedAsync is feed). Imported once per session, also
 * when several calls ask before the first import is done: one copy of the
 * key's bytes leaves wasm, and WebCrypto imports it once.
 * @param {RestoreSession} session @param {SubtleCrypto} subtle
 * @returns {Promise<CryptoKey | null>}
 */
function blobKey(session, subtle) {
  const known = blobKeys.get(session);
  if (known !== undefined) return Promise.resolve(known);
  let pending = importing.get(session);
  if (pending === undefined) {
    pending = importKey(session, subtle).then((key) => {
      blobKeys.set(session, key);
      importing.delete(session);
      return key;
    }, (e) => {
      importing.delete(session); // the session finished: a later call says so again
      throw e;
    });
    importing.set(session, pending);
  }
  return pending;
}

/**
 * @param {RestoreSession} session @param {SubtleCrypto} subtle
 * @returns {Promise<CryptoKey | null>}
 */
async function importKey(session, subtle) {
  const raw = /** @type {Uint8Array<ArrayBuffer>} */ (/** @type {Internals} */ (/** @type {unknown} */ (session)).__blobKey());
  try {
    return await subtle.importKey('raw', raw, { name: 'AES-GCM' }, false, ['decrypt']);
  } catch {
    return null;
  } finally {
    raw.fill(0);
  }
}

/**
 * The internals of a session feedAsync calls (not in the public types).
 * @typedef {{
 *   __sealedBlobs(bundleId: unknown, offset: unknown, bytes: unknown): { token: number, parts: { nonce: Uint8Array<ArrayBuffer>, aad: Uint8Array<ArrayBuffer>, start: number, end: number, failed: boolean }[] },
 *   __openedBlobs(token: number, opened: (Uint8Array | null)[]): unknown,
 *   __abandonSealed(token: number, reason: string): void,
 *   __blobKey(): Uint8Array,
 *   feed(bundleId: unknown, offset: unknown, bytes: unknown): unknown,
 * }} Internals
 */

/** Per session, the turn of its last feedAsync: each opens its blobs in the core after the one before, so writes and failures land in call order, as with feed. @type {WeakMap<object, Promise<unknown>>} */
const turns = new WeakMap();

/**
 * @this {RestoreSession}
 * @param {unknown} bundleId @param {unknown} offset @param {unknown} bytes
 * @returns {Promise<unknown>}
 */
function feedAsync(bundleId, offset, bytes) {
  const session = /** @type {Internals} */ (/** @type {unknown} */ (this));
  const result = feedInTurn(session, bundleId, offset, bytes);
  turns.set(session, result.catch(() => {}));
  return result;
}

/**
 * @param {Internals} session @param {unknown} bundleId @param {unknown} offset @param {unknown} bytes
 * @returns {Promise<unknown>}
 */
async function feedInTurn(session, bundleId, offset, bytes) {
  const turn = turns.get(session);
  // Not in a page served over plain http (no crypto.subtle there).
  const subtle = globalThis.crypto?.subtle;
  // WebCrypto refuses views of a SharedArrayBuffer: those take feed's path.
  const shared = ArrayBuffer.isView(bytes) && !(bytes.buffer instanceof ArrayBuffer);
  let key = subtle && !shared ? blobKeys.get(session) : null;
  if (key === undefined && subtle) {
    // Until the key is imported (once, whichever call asks first), calls
    // await it: the caller may reuse its buffer as soon as this call
    // returns, so work on a copy.
    bytes = copyBytes(bytes);
    key = await blobKey(/** @type {RestoreSession} */ (/** @type {unknown} */ (session)), subtle);
  }
  if (!subtle || !key) {
    await turn;
    return session.feed(bundleId, offset, bytes);
  }
  // feed's checks and errors. Nothing awaits from the call (or the copy
  // above) to the last decrypt call, and WebCrypto copies what it is given
  // at the call: the bytes the core checked are the bytes opened.
  const { token, parts } = session.__sealedBlobs(bundleId, offset, bytes);
  const view = /** @type {Uint8Array<ArrayBuffer>} */ (ArrayBuffer.isView(bytes)
    ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    : new Uint8Array(/** @type {ArrayBuffer} */ (bytes)));
  /** @type {(Uint8Array | null)[]} */
  let opened;
  try {
    // A part that failed already (the bytes end before it) has nothing to
    // open: null, in its turn, so failures keep the range's order.
    opened = await Promise.all(parts.map((p) => p.failed ? null : subtle
      .decrypt({ name: 'AES-GCM', iv: p.nonce, additionalData: p.aad, tagLength: 128 }, key, view.subarray(p.start, p.end))
      .then((plain) => new Uint8Array(plain), (e) => {
        // OperationError: the tag does not verify (the blob fails its
        // files, as feed's would); a DOMException, not an Error subclass
        // in every engine. Anything else is this host's WebCrypto failing.
        if (e !== null && typeof e === 'object' && /** @type {{ name?: unknown }} */ (e).name === 'OperationError') return null;
        throw e;
      })));
  } catch (e) {
    const reason = `WebCrypto failed (${e instanceof Error || (e !== null && typeof e === 'object') ? /** @type {{ message?: unknown }} */ (e).message : e})`;
    await turn;
    // Its files fail rather than wait for content that will not come.
    try {
      session.__abandonSealed(token, reason);
    } catch {
      // The session finished meanwhile: finish failed them already.
    }
    throw makeError('invalid_state', `the restore session could not open a blob: ${reason}`, { session: 'restore', reason });
  }
  await turn;
  return session.__openedBlobs(token, opened);
}

Object.defineProperty(RestoreSession.prototype, 'feedAsync', { value: feedAsync, writable: true, configurable: true });
