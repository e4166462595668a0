// The Worker behind RestoreWorker (web/restore-stream.js): one
// RestoreSession, whose decryption (WebCrypto's, by feedAsync),
// decompression and verification run off the page's thread. The page sends
// the module it compiled and the stored objects; then method calls,
// answered in order (node:
// restore-worker-node.js around the same serve()).
//
// in:  { id: 0, module, config, key, snapshot: {id, bytes}, index: [{id, bytes}], options }
//      { id, method: 'feed' | 'plan' | ..., args: unknown[] }
// out: { id, ok: true, value }  (the writes' data buffers transferred)
//      { id, ok: false, error: CloudBackupError#toJSON() }
import { initSync, Index, RestoreSession, Snapshot, Vault } from './dist/cloudbackup_wasm.js';
import { CloudBackupError, makeError } from './errors.js';
// Installs RestoreSession.prototype.feedAsync: `feed` calls are answered by
// it, each blob's AES-GCM opened by the Worker's WebCrypto.
import './feed-async.js';

/**
 * @typedef {{ id: 0, module: WebAssembly.Module, config: Uint8Array, key: Uint8Array,
 *   snapshot: { id: string, bytes: Uint8Array }, index: { id: string, bytes: Uint8Array }[], options?: unknown }} Start
 * @typedef {{ id: number, method: Method, args: unknown[] }} Call
 * @typedef {'creates' | 'leftoverDirs' | 'plan' | 'feed' | 'takeCompleted' | 'failPath' | 'missing' | 'finish' | 'report' | 'apply'} Method
 * @typedef {{ id: number, ok: true, value: unknown } | { id: number, ok: false, error: import('./errors.js').CloudBackupErrorJSON<string> }} Reply
 */

/** The methods a page may call: RestoreSession's own. @type {ReadonlySet<string>} */
export const METHODS = new Set(['creates', 'leftoverDirs', 'plan', 'feed', 'takeCompleted', 'failPath', 'missing', 'finish', 'report', 'apply']);

/** @type {RestoreSession | null} */
let session = null;

/** The reply to the last message taken: each waits for the one before, so replies go out in order. @type {Promise<void>} */
let last = Promise.resolve();

/**
 * Takes one message and sends its reply with `send` once the replies to
 * every earlier message have gone out.
 * @param {Start | Call} message @param {(reply: Reply) => void} send
 */
export function serve(message, send) {
  last = last.then(() => handle(message)).catch((/** @type {unknown} */ e) => /** @type {Reply} */ ({
    // handle() answers every failure itself; this is for one it cannot word.
    id: 'id' in message ? message.id : 0, ok: false,
    error: makeError('invalid_state', 'the restore Worker failed', { session: 'worker', reason: typeof e }).toJSON(),
  })).then((reply) => {
    try {
      send(reply);
    } catch (e) {
      // A reply that cannot be posted still answers its call (and the
      // next calls are answered: the chain never stays rejected).
      try {
        const reason = e instanceof Error ? e.message : typeof e;
        const error = makeError('invalid_state', `the restore Worker could not send its reply: ${reason}`, { session: 'worker', reason });
        send({ id: reply.id, ok: false, error: error.toJSON() });
      } catch {
        // Nothing more to say on a channel that refuses an error.
      }
    }
  });
}

/**
 * Answers one message: the start, or a call on the session (`feed` by
 * `feedAsync`).
 * @param {Start | Call} message
 * @returns {Promise<Reply>}
 */
export async function handle(message) {
  try {
    if ('module' in message) {
      let vault;
      try {
        initSync({ module: message.module });
        vault = Vault.openWithKey(message.config, message.key);
      } finally {
        message.key.fill(0);
      }
      const index = new Index();
      for (const delta of message.index) index.loadDelta(vault, delta.id, delta.bytes);
      const snapshot = Snapshot.open(vault, message.snapshot.id, message.snapshot.bytes);
      session = new RestoreSession(vault, snapshot, index, /** @type {never} */ (message.options));
      snapshot.free();
      index.free();
      vault.free();
      return { id: 0, ok: true, value: null };
    }
    if (session === null) throw makeError('invalid_state', 'the restore Worker has no session', { session: 'worker', reason: 'is not started' });
    if (!METHODS.has(message.method)) {
      throw makeError('invalid_argument', `invalid argument \`method\`: not a RestoreSession method: ${message.method}`, { name: 'method', reason: 'is not a RestoreSession method' });
    }
    const method = /** @type {(...args: unknown[]) => unknown} */ (message.method === 'feed' ? session.feedAsync : session[message.method]);
    return { id: message.id, ok: true, value: (await method.apply(session, message.args)) ?? null };
  } catch (e) {
    const error = e instanceof CloudBackupError ? e
      : makeError('invalid_state', `the restore Worker failed: ${e}`, { session: 'worker', reason: String(e) });
    return { id: message.id, ok: false, error: error.toJSON() };
  }
}

/**
 * The buffers a reply can give away: the data of `feed`'s writes.
 * @param {Reply} reply
 * @returns {ArrayBuffer[]}
 */
export function transfers(reply) {
  if (!reply.ok || !Array.isArray(reply.value)) return [];
  /** @type {ArrayBuffer[]} */
  const out = [];
  for (const item of reply.value) {
    if (item !== null && typeof item === 'object' && item.data instanceof Uint8Array) out.push(/** @type {ArrayBuffer} */ (item.data.buffer));
  }
  return out;
}

// A browser's Worker (node's worker_threads run restore-worker-node.js).
if (typeof self === 'object' && self !== null && 'importScripts' in self) {
  self.onmessage = (/** @type {MessageEvent<Start | Call>} */ event) => {
    serve(event.data, (reply) => self.postMessage(reply, { transfer: transfers(reply) }));
  };
}
