// @cloudbackup/core/inline: the same package with the .wasm inside the
// JavaScript (base64), for bundlers and hosts that do not copy or serve
// assets (esbuild, rollup without a plugin, server-side bundles, Jest).
// `await init()` (or `initSync()` in a Worker or node) with no argument.
// The price: the bytes are a third larger before gzip, and cannot be
// compiled while they download (instantiateStreaming).
import { initWith, initSync as initSyncFrom, isLoaded } from './loader.js';
import base64 from './dist/wasm-inline.js';

export * from './index.js';

/** @returns {Uint8Array} the .wasm's bytes */
function wasmBytes() {
  const text = atob(base64);
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

/**
 * Loads the inlined module (idempotent; retried after a failure).
 * @returns {Promise<void>}
 */
export function init() {
  return initWith(wasmBytes);
}

/** Loads the inlined module synchronously (node, Workers; a page's main thread may refuse a module this size). */
export function initSync() {
  if (!isLoaded()) initSyncFrom(wasmBytes());
}

export default init;
