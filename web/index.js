// @cloudbackup/core for browsers and bundlers: call `await init()` once
// (it fetches cloudbackup_wasm_bg.wasm next to this file, or what you pass),
// then use the exports. Node: the "node" export condition loads node.js,
// which initialises synchronously; bundlers that do not copy assets:
// @cloudbackup/core/inline (inline.js).
import { init } from './loader.js';
// Installs Vault.openAsync and Vault.createAsync.
import './async.js';

export * from './dist/public.js';
export * from './public-errors.js';
export * from './client.js';
export * from './operations.js';
export { RestoreWorker } from './restore-stream.js';
export { init, initSync } from './loader.js';
export default init;
