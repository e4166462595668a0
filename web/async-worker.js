// The Worker behind Vault.createAsync / Vault.openAsync (web/async.js): runs
// the Argon2 half of opening or creating a vault off the caller's thread.
// One message in, one out, then the caller ends the Worker (node:
// async-worker-node.js around the same handle()). It loads no
// asset: the caller sends the module it has already compiled.
//
// in:  { module: WebAssembly.Module, op: 'open', config, password }
//      { module, op: 'create', password, settings, kdf }
// out: { ok: true, config: Uint8Array, key: Uint8Array }  (both transferred)
//      { ok: false, error: CloudBackupError#toJSON() }
import { initSync, Vault } from './dist/cloudbackup_wasm.js';
import { CloudBackupError, makeError } from './errors.js';

/**
 * @typedef {{ module: WebAssembly.Module, op: 'open', config: Uint8Array, password: string | Uint8Array }
 *   | { module: WebAssembly.Module, op: 'create', password: string | Uint8Array, settings?: unknown, kdf?: unknown }} Request
 */

/**
 * @param {Request} request
 * @returns {{ ok: true, config: Uint8Array, key: Uint8Array } | { ok: false, error: import('./errors.js').CloudBackupErrorJSON<string> }}
 */
export function handle(request) {
  try {
    initSync({ module: request.module });
    if (request.op === 'open') {
      return { ok: true, config: request.config, key: Vault.unlockKey(request.config, request.password) };
    }
    const vault = Vault.create(request.password, /** @type {never} */ (request.settings), /** @type {never} */ (request.kdf));
    try {
      return { ok: true, config: vault.config(), key: vault.masterKey() };
    } finally {
      vault.free();
    }
  } catch (e) {
    const error = e instanceof CloudBackupError ? e
      : makeError('invalid_state', `the key derivation Worker failed: ${e}`, { session: 'worker', reason: String(e) });
    return { ok: false, error: error.toJSON() };
  }
}

/** @param {ReturnType<typeof handle>} reply @returns {ArrayBuffer[]} */
export function transfers(reply) {
  return reply.ok ? [/** @type {ArrayBuffer} */ (reply.key.buffer), /** @type {ArrayBuffer} */ (reply.config.buffer)] : [];
}

// A browser's Worker (node's worker_threads run async-worker-node.js).
if (typeof self === 'object' && self !== null && 'importScripts' in self) {
  self.onmessage = (/** @type {MessageEvent<Request>} */ event) => {
    const reply = handle(event.data);
    self.postMessage(reply, { transfer: transfers(reply) });
  };
}
