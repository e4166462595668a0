// Copies of the package's byte arguments, for the helpers that keep or pass
// on what a caller may change once the call returns (async.js,
// feed-async.js, restore-stream.js). Not an entry of the package.

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
