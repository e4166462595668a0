// RestoreWorker: a RestoreSession in a Worker, so that a page restoring a
// snapshot stays responsive: decryption, decompression and verification
// (the restore's CPU work) run off the calling thread, and each call is a
// message answered in order. The page keeps the I/O: it fetches the
// bundles the plan names, feeds them, and writes what comes back.
//
// The Worker gets the WebAssembly.Module this thread compiled and the
// vault's master key (copied out of wasm memory, transferred, overwritten
// in the Worker once the vault is open there), then the stored snapshot and
// index deltas, which it opens itself.
//
// Not an entry of the package: index.js exports RestoreWorker; node.js
// swaps the browser's Worker for worker_threads.
import { Vault, __cbModule } from './dist/cloudbackup_wasm.js';
import { CloudBackupError, makeError } from './errors.js';
import { copyBytes } from './bytes.js';

/**
 * @typedef {import('./restore-worker.js').Start} Start
 * @typedef {import('./restore-worker.js').Call} Call
 * @typedef {import('./restore-worker.js').Reply} Reply
 * @typedef {{ post(message: Start | Call, transfer: ArrayBuffer[]): void, terminate(): void, hold?(busy: boolean): void }} Channel
 * @typedef {(onReply: (reply: Reply) => void, onFailure: (reason: string) => void) => Channel} Spawner
 */

/**
 * A browser's module Worker on restore-worker.js, written as bundlers
 * expect (Vite, webpack 5 and Parcel bundle it with its imports).
 * @type {Spawner}
 */
let spawn = (onReply, onFailure) => {
  /** @type {Worker} */
  let worker;
  try {
    worker = new Worker(new URL('./restore-worker.js', import.meta.url), { type: 'module' });
  } catch (e) {
    // No Worker here (CommonJS in node), or a bundle that left the file out.
    throw workerFailed(`could not be started (${e instanceof Error ? e.message : e})`);
  }
  worker.onmessage = (event) => onReply(event.data);
  worker.onerror = (event) => onFailure(event.message || 'could not be started (its script did not load)');
  worker.onmessageerror = () => onFailure('its answer could not be read');
  return {
    post: (message, transfer) => worker.postMessage(message, transfer),
    terminate: () => worker.terminate(),
  };
};

/**
 * Replaces how the Worker is started (node.js: worker_threads). Internal.
 * @param {Spawner} spawner
 */
export function setSpawner(spawner) {
  spawn = spawner;
}

/** @param {string} reason @returns {CloudBackupError<string>} */
function workerFailed(reason) {
  return makeError('invalid_state', `the restore Worker failed: ${reason}`, { session: 'worker', reason });
}

/** @param {string} name @param {string} reason @returns {CloudBackupError<string>} */
function invalidArgument(name, reason) {
  return makeError('invalid_argument', `invalid argument \`${name}\`: ${reason}`, { name, reason });
}

/**
 * A stored object `{ id, bytes }` checked and copied for the Worker.
 * @param {unknown} value @param {string} name
 * @returns {{ id: string, bytes: Uint8Array }}
 */
function storedObject(value, name) {
  const object = /** @type {{ id?: unknown, bytes?: unknown }} */ (value);
  if (typeof value !== 'object' || value === null || typeof object.id !== 'string'
    || !(ArrayBuffer.isView(object.bytes) || object.bytes instanceof ArrayBuffer)) {
    throw invalidArgument(name, 'must be a stored object {id: string, bytes: Bytes}');
  }
  return { id: object.id, bytes: /** @type {Uint8Array} */ (copyBytes(object.bytes)) };
}

/** Only `start` makes a RestoreWorker (its constructor takes this first). */
const STARTING = Symbol('RestoreWorker.start');

/** A RestoreSession running in a Worker: every method answers with a promise. */
export class RestoreWorker {
  /** @type {Channel | null} */
  #channel;
  /** @type {Map<number, { resolve: (value: unknown) => void, reject: (e: unknown) => void }>} */
  #pending = new Map();
  #nextId = 1;
  /** @type {CloudBackupError<string> | null} */
  #failure = null;

  /** @param {symbol} starting `STARTING` (only `start` has it) @param {Spawner} spawner @hideconstructor */
  constructor(starting, spawner) {
    if (starting !== STARTING) {
      const reason = 'has no public constructor';
      throw makeError('invalid_state', `RestoreWorker ${reason}: use await RestoreWorker.start(vault, snapshot, index)`, { session: 'RestoreWorker', reason });
    }
    this.#channel = spawner((reply) => this.#answer(reply), (reason) => this.#fail(workerFailed(reason)));
  }

  /**
   * Starts a restore of `snapshot` in a new Worker.
   * @param {Vault} vault the open vault (its master key is copied to the Worker)
   * @param {{ id: string, bytes: import('./dist/cloudbackup_wasm.js').Bytes }} snapshot the stored snapshot object
   * @param {{ id: string, bytes: import('./dist/cloudbackup_wasm.js').Bytes }[]} index the stored index deltas that place its blobs
   * @param {import('./dist/cloudbackup_wasm.js').RestoreOptions | null} [options]
   * @returns {Promise<RestoreWorker>}
   */
  static async start(vault, snapshot, index, options) {
    const module = __cbModule();
    if (!module) {
      throw makeError('invalid_state', 'call init() first: the WebAssembly module of @cloudbackup/core is not loaded yet (browsers: await init() once)', { session: 'module', reason: 'is not initialised' });
    }
    if (!(vault instanceof Vault)) throw invalidArgument('vault', 'must be a Vault');
    if (!Array.isArray(index)) throw invalidArgument('index', 'must be an array of stored index objects {id, bytes}');
    // Everything checked and copied before the key leaves wasm memory.
    const config = vault.config();
    const stored = storedObject(snapshot, 'snapshot');
    const deltas = index.map((delta, i) => storedObject(delta, `index[${i}]`));
    const key = vault.masterKey();
    try {
      const restore = new RestoreWorker(STARTING, spawn);
      /** @type {Start} */
      const start = { id: 0, module, config, key, snapshot: stored, index: deltas, options: options ?? undefined };
      // The copies are the Worker's: transferred, not copied again.
      const transfer = [key, stored.bytes, ...deltas.map((d) => d.bytes)].map((b) => /** @type {ArrayBuffer} */ (b.buffer));
      try {
        await restore.#send(start, transfer);
      } catch (e) {
        restore.close();
        throw e;
      }
      return restore;
    } finally {
      // Once it crossed, the buffer went with it (detached: nothing to wipe).
      if (key.buffer.byteLength > 0) key.fill(0);
    }
  }

  /**
   * @param {Start | Call} message @param {ArrayBuffer[]} transfer
   * @returns {Promise<any>}
   */
  #send(message, transfer) {
    return new Promise((resolve, reject) => {
      if (this.#failure !== null) return reject(this.#failure);
      if (this.#channel === null) {
        return reject(makeError('invalid_state', 'the RestoreWorker is closed', { session: 'restore', reason: 'is closed' }));
      }
      this.#pending.set(message.id, { resolve, reject });
      if (this.#pending.size === 1) this.#channel.hold?.(true);
      try {
        this.#channel.post(message, transfer);
      } catch (e) {
        this.#pending.delete(message.id);
        if (this.#pending.size === 0) this.#channel.hold?.(false);
        reject(invalidArgument('arguments', `must be bytes, strings or plain data (postMessage refused them: ${e instanceof Error ? e.message : e})`));
      }
    });
  }

  /** @param {import('./restore-worker.js').Method} method @param {unknown[]} args @param {ArrayBuffer[]} [transfer] */
  #call(method, args, transfer = []) {
    return this.#send({ id: this.#nextId++, method, args }, transfer);
  }

  /** @param {Reply} reply */
  #answer(reply) {
    const waiting = this.#pending.get(reply.id);
    if (waiting === undefined) return;
    this.#pending.delete(reply.id);
    if (this.#pending.size === 0) this.#channel?.hold?.(false);
    if (reply.ok) waiting.resolve(reply.value);
    else waiting.reject(CloudBackupError.from(reply.error));
  }

  /** @param {CloudBackupError<string>} error */
  #fail(error) {
    this.#failure ??= error;
    for (const waiting of this.#pending.values()) waiting.reject(error);
    this.#pending.clear();
    this.#channel?.terminate();
    this.#channel = null;
  }

  /** What to create (directories, files at their size, symlinks). @returns {Promise<import('./dist/cloudbackup_wasm.js').Create[]>} */
  creates() { return this.#call('creates', []); }

  /**
   * The folders a killed restore may have left temporaries in where this
   * one writes, relative to the target (`""`: the target itself, first); see
   * RestoreSession.leftoverDirs.
   * @returns {Promise<import('./dist/cloudbackup_wasm.js').QuotedPath[]>}
   */
  leftoverDirs() { return this.#call('leftoverDirs', []); }

  /** Which bundles and byte ranges to fetch, in order. @returns {Promise<import('./dist/cloudbackup_wasm.js').Fetch[]>} */
  plan() { return this.#call('plan', []); }

  /**
   * Feeds `bytes` fetched from bundle `bundleId` at `offset` (copied to the
   * Worker; calls may overlap: they are answered in order); resolves to the
   * verified writes, whose data buffers are this thread's.
   * @param {string} bundleId @param {number} offset @param {import('./dist/cloudbackup_wasm.js').Bytes} bytes
   * @returns {Promise<import('./dist/cloudbackup_wasm.js').Write[]>}
   */
  feed(bundleId, offset, bytes) {
    let copy;
    try {
      copy = copyBytes(bytes);
    } catch (e) {
      return Promise.reject(invalidArgument('bytes', `could not be read (${e instanceof Error ? e.message : e})`));
    }
    const transfer = copy instanceof Uint8Array ? [/** @type {ArrayBuffer} */ (copy.buffer)] : [];
    return this.#call('feed', [bundleId, offset, copy], transfer);
  }

  /** The files whose content became complete since the last call. @returns {Promise<import('./dist/cloudbackup_wasm.js').QuotedPath[]>} */
  takeCompleted() { return this.#call('takeCompleted', []); }

  /**
   * The host could not create, write or move `path` into place.
   * @param {import('./dist/cloudbackup_wasm.js').QuotedPath | import('./dist/cloudbackup_wasm.js').Bytes} path @param {string} error
   * @returns {Promise<void>}
   */
  failPath(path, error) {
    let copy;
    try {
      copy = copyBytes(path);
    } catch (e) {
      return Promise.reject(invalidArgument('path', `could not be read (${e instanceof Error ? e.message : e})`));
    }
    return this.#call('failPath', [copy, error]);
  }

  /** Reports bundle `bundleId` as missing. @param {string} bundleId @returns {Promise<void>} */
  missing(bundleId) { return this.#call('missing', [bundleId]); }

  /** Ends the session: what it restored, and which files failed. @returns {Promise<import('./dist/cloudbackup_wasm.js').RestoreReport>} */
  finish() { return this.#call('finish', []); }

  /** The report of the finished session. @returns {Promise<import('./dist/cloudbackup_wasm.js').RestoreReport>} */
  report() { return this.#call('report', []); }

  /** After `finish`: the modes and times to apply, deepest first. @returns {Promise<import('./dist/cloudbackup_wasm.js').Create[]>} */
  apply() { return this.#call('apply', []); }

  /** Ends the Worker; calls still waiting reject with InvalidStateError. Idempotent. */
  close() {
    if (this.#channel === null) return;
    this.#fail(makeError('invalid_state', 'the RestoreWorker is closed', { session: 'restore', reason: 'is closed' }));
  }
}
// `using restore = await RestoreWorker.start(...)` closes it (as the
// package's classes free themselves), where the host has Symbol.dispose.
if (Symbol.dispose) Object.defineProperty(RestoreWorker.prototype, Symbol.dispose, { value: RestoreWorker.prototype.close, writable: true, configurable: true });
