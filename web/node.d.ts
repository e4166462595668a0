export * from './dist/public.js';
export * from './public-errors.js';
export * from './client.js';
export * from './operations.js';
export { RestoreWorker } from './restore-stream.js';
import type { Bytes, InitInput, KdfParams, Password, Vault, VaultSettings, Write } from './dist/cloudbackup_wasm.js';
export type { InitInput };

/**
 * Loads the WebAssembly module (browsers: call once before anything else; node: already done).
 * Later calls return the same promise; after a failure the next call tries again.
 * Anything used before it has resolved throws `InvalidStateError` ("call init() first").
 */
export function init(input?: InitInput | Promise<InitInput>): Promise<void>;
/** Loads the module synchronously from its bytes or a compiled module. */
export function initSync(module: BufferSource | WebAssembly.Module): void;
export default init;

// Vault.openAsync and Vault.createAsync (async.js installs them).
declare module './dist/cloudbackup_wasm.js' {
  namespace Vault {
    /**
     * `Vault.open` without blocking the calling thread: Argon2 runs in a
     * short-lived Worker (worker_threads in node), which sends the vault's
     * master key back as bytes; the vault is opened here with it
     * (`Vault.openWithKey`) and those bytes are overwritten. Rejects with the
     * errors `open` throws (`WrongPasswordError`, `CorruptError`, ...).
     * Needs the module loaded (`await init()`) and a host that can start the
     * package's Worker file (node, browsers unbundled, Vite, webpack 5).
     */
    function openAsync(config: Bytes, password: Password): Promise<Vault>;
    /** `Vault.create` without blocking the calling thread (see `openAsync`). */
    function createAsync(password: Password, settings?: VaultSettings | null, kdf?: KdfParams | null): Promise<Vault>;
  }
}

// RestoreSession.feedAsync (feed-async.js installs it).
declare module './dist/cloudbackup_wasm.js' {
  interface RestoreSession {
    /**
     * `feed` with each blob's AES-256-GCM opened by the host's WebCrypto
     * (`crypto.subtle`: AES-NI in browsers and node) instead of the module's
     * portable AES, most of a restore's time in wasm. Same arguments, checks,
     * writes, failures and report as `feed`; where WebCrypto is missing (a
     * page served over plain http) it is `feed`. The session's data-blob key
     * (it opens this vault's data blobs, nothing else) is imported once as a
     * non-extractable key. Ranges may be fed one after another or several at
     * once: the core takes their blobs back in call order, so writes and
     * failures are those of `feed` calls in that order. The bytes are read
     * during the call (the buffer may be reused once it returns). `finish()`
     * while calls are pending fails the files of the blobs still being opened,
     * and those calls reject with `InvalidStateError`.
     */
    feedAsync(bundleId: string, offset: number, bytes: Bytes): Promise<Write[]>;
  }
}
