// Vault.openAsync / Vault.createAsync: the Argon2 key derivation (~250 ms
// with the default settings) runs in a short-lived Worker, so the calling
// thread keeps running; the vault is then opened on the calling thread
// with the master key the Worker derived (Vault.openWithKey: no Argon2).
//
// The Worker gets the WebAssembly.Module this thread compiled (no second
// download, nothing to serve: the inlined entry works too) and ends after
// its one answer, which also returns Argon2's memory (64 MiB by default)
// to the system: a wasm instance's memory never shrinks. The master key
// crosses back as 32 bytes in a transferred buffer, and is overwritten
// here as soon as the vault is open.
//
// Not an entry of the package: index.js installs these on Vault (a side
// effect, listed in package.json "sideEffects"); node.js swaps the
// browser's Worker for worker_threads.
import { Vault, __cbModule } from './dist/cloudbackup_wasm.js';
// Installs RestoreSession.prototype.feedAsync.
import './feed-async.js';
import { copyBytes } from './bytes.js';
import { CloudBackupError, makeError } from './errors.js';

/**
 * @typedef {import('./async-worker.js').Request} Request
 * @typedef {ReturnType<typeof import('./async-worker.js').handle>} Reply
 * @typedef {(request: Request) => Promise<Reply>} Runner
 */

/**
 * A browser's module Worker on async-worker.js. Written as bundlers expect
 * (`new Worker(new URL('./x.js', import.meta.url), { type: 'module' })`):
 * Vite, webpack 5 and Parcel bundle the Worker with its imports.
 * @type {Runner}
 */
let runner = (request) => new Promise((resolve, reject) => {
  /** @type {Worker} */
  let worker;
  try {
    worker = new Worker(new URL('./async-worker.js', import.meta.url), { type: 'module' });
  } catch (e) {
    // No Worker here (CommonJS in node), or a bundle that left the file out.
    reject(workerFailed(`could not be started (${e instanceof Error ? e.message : e})`));
    return;
  }
  worker.onmessage = (event) => {
    worker.terminate();
    resolve(event.data);
  };
  worker.onerror = (event) => {
    worker.terminate();
    reject(workerFailed(event.message || 'could not be started (its script did not load)'));
  };
  worker.onmessageerror = () => {
    worker.terminate();
    reject(workerFailed('its answer could not be read'));
  };
  post(worker, request, reject);
});

/**
 * Replaces how the Worker is run (node.js: worker_threads). Internal.
 * @param {Runner} run
 */
export function setRunner(run) {
  runner = run;
}

/** @param {string} reason @returns {CloudBackupError<string>} */
export function workerFailed(reason) {
  return makeError('invalid_state', `the key derivation Worker failed: ${reason}`, { session: 'worker', reason });
}

/**
 * Posts the request; an argument that cannot be cloned (a function, a
 * symbol) is an InvalidArgumentError, as any wrong type is.
 * @param {{ postMessage(message: unknown): void }} worker
 * @param {Request} request
 * @param {(e: unknown) => void} reject
 */
export function post(worker, request, reject) {
  try {
    worker.postMessage(request);
  } catch (e) {
    const reason = `must be bytes, a string or plain data (postMessage refused it: ${e instanceof Error ? e.message : e})`;
    reject(makeError('invalid_argument', `invalid argument \`arguments\`: ${reason}`, { name: 'arguments', reason }));
  }
}


/**
 * Runs `request` in a Worker and opens `config` with the key it answers.
 * @param {{ op: 'open', config: Uint8Array, password: string | Uint8Array }
 *   | { op: 'create', password: string | Uint8Array, settings?: unknown, kdf?: unknown }} request
 * @returns {Promise<Vault>}
 */
async function unlockInWorker(request) {
  const module = __cbModule();
  if (!module) {
    throw makeError('invalid_state', 'call init() first: the WebAssembly module of @cloudbackup/core is not loaded yet (browsers: await init() once)', { session: 'module', reason: 'is not initialised' });
  }
  const reply = await runner(/** @type {Request} */ ({ ...request, module }));
  if (!reply.ok) throw CloudBackupError.from(reply.error);
  try {
    return Vault.openWithKey(reply.config, reply.key);
  } finally {
    reply.key.fill(0);
  }
}

/**
 * Vault.open without blocking: Argon2 runs in a Worker.
 * @param {unknown} config @param {unknown} password
 * @returns {Promise<Vault>}
 */
function openAsync(config, password) {
  return unlockInWorker({ op: 'open', config: /** @type {Uint8Array} */ (copyBytes(config)), password: /** @type {string} */ (copyBytes(password)) });
}

/**
 * Vault.create without blocking: Argon2 runs in a Worker.
 * @param {unknown} password @param {unknown} [settings] @param {unknown} [kdf]
 * @returns {Promise<Vault>}
 */
function createAsync(password, settings, kdf) {
  return unlockInWorker({ op: 'create', password: /** @type {string} */ (copyBytes(password)), settings, kdf });
}

Object.defineProperties(Vault, {
  openAsync: { value: openAsync, writable: true, configurable: true },
  createAsync: { value: createAsync, writable: true, configurable: true },
});
