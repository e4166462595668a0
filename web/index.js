// @cloudbackup/core for browsers and bundlers: call `await init()` once
// (it fetches cloudbackup_wasm_bg.wasm next to this file, or what you pass),
// then use the exports. Node: the "node" export condition loads node.js,
// which initialises synchronously.
import wasmInit, { initSync as wasmInitSync } from './dist/cloudbackup_wasm.js';

export * from './dist/cloudbackup_wasm.js';
export * from './errors.js';
export * from './client.js';
export * from './operations.js';

let ready = null;

/**
 * Loads the WebAssembly module (idempotent).
 * @param {import('./index.js').InitInput | Promise<import('./index.js').InitInput>} [input]
 */
export function init(input) {
  if (!ready) {
    ready = wasmInit(input === undefined ? undefined : { module_or_path: input }).then(() => {});
  }
  return ready;
}

/**
 * Loads the module synchronously from its bytes or a compiled module.
 * @param {BufferSource | WebAssembly.Module} module
 */
export function initSync(module) {
  if (!ready) {
    wasmInitSync({ module });
    ready = Promise.resolve();
  }
}
