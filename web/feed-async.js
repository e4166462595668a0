// RestoreSession.feedAsync: feed with each blob's AES-256-GCM opened by the
// host's WebCrypto. Not an entry of the package: async.js (so index.js and
// node.js) and the restore Worker (restore-worker.js) install it, a side
// effect listed in package.json "sideEffects".
import { RestoreSession } from './dist/cloudbackup_wasm.js';
import { makeError } from './errors.js';

// WebCrypto (AES-NI in browsers and node) rather than the module's portable
// AES, which is most of a restore's time in wasm
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
