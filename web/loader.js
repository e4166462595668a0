// Loading the WebAssembly module, shared by the entries (index.js, node.js,
// inline.js; api.js loads its own module with create-loader.js too). Not an entry of the package (the exports map leaves it out).
import wasmInit, { initSync as wasmInitSync } from './dist/cloudbackup_wasm.js';
import { createLoader } from './create-loader.js';

const main = createLoader(wasmInit, wasmInitSync);

/** Whether the module is loaded (init() resolved or initSync() returned). */
export const isLoaded = main.isLoaded;
/**
 * Loads the WebAssembly module. Idempotent: later calls return the same
 * promise; after a failure (a 404, a network error) the next call tries again.
 */
export const init = main.init;
/** init() whose input is made only when loading starts. */
export const initWith = main.initWith;
/** Loads the module synchronously from its bytes or a compiled module. */
export const initSync = main.initSync;
