// Loading the WebAssembly module, shared by the entries (index.js, node.js,
// inline.js). Not an entry of the package (the exports map leaves it out).
import wasmInit, { initSync as wasmInitSync } from './dist/cloudbackup_wasm.js';

/** @type {Promise<void> | null} */
let ready = null;
let loaded = false;

/** Whether the module is loaded (init() resolved or initSync() returned). */
export function isLoaded() {
  return loaded;
}

/**
 * Loads the WebAssembly module. Idempotent: later calls return the same
 * promise; after a failure (a 404, a network error) the next call tries again.
 * @param {import('./index.js').InitInput | Promise<import('./index.js').InitInput>} [input]
 * @returns {Promise<void>}
 */
export function init(input) {
  return initWith(() => input);
}

/**
 * init() whose input is made only when loading starts (inline.js: the
 * base64 is decoded once, not on every call).
 * @param {() => import('./index.js').InitInput | Promise<import('./index.js').InitInput> | undefined} input
 * @returns {Promise<void>}
 */
export function initWith(input) {
  if (!ready) {
    const loading = Promise.resolve()
      .then(() => {
        const source = input();
        return wasmInit(source === undefined ? undefined : { module_or_path: source });
      })
      .then(() => {
        loaded = true;
      });
    // A rejected promise is not kept: the caller sees the error, the next init() retries.
    loading.catch(() => {
      if (ready === loading) ready = null;
    });
    ready = loading;
  }
  return ready;
}

/**
 * Loads the module synchronously from its bytes or a compiled module
 * (a page's main thread may refuse to compile a module this size: use it in
 * Workers and node).
 * @param {BufferSource | WebAssembly.Module} module
 */
export function initSync(module) {
  if (!loaded) {
    wasmInitSync({ module });
    loaded = true;
    ready = Promise.resolve();
  }
}
