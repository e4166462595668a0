// @cloudbackup/core/api for browsers and bundlers: the API layer alone
// (model, operations' requests and responses, lifecycle rules, JSON Patch
// validation) in its own, much smaller WebAssembly module
// (dist/cloudbackup_api_bg.wasm, no backup engine). Call `await init()`
// once, as with the whole package. Node: the "node" condition loads
// api-node.js, initialised on import.
import wasmInit, { initSync as wasmInitSync } from './dist/cloudbackup_api.js';
import { createLoader } from './create-loader.js';

const loader = createLoader(wasmInit, wasmInitSync);

export * from './dist/api-public.js';
export * from './public-errors.js';
/**
 * Loads the API module. Idempotent: later calls return the same promise;
 * after a failure the next call tries again.
 */
export const init = loader.init;
/** Loads the API module synchronously from its bytes or a compiled module. */
export const initSync = loader.initSync;
export default init;
