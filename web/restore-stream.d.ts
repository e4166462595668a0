import type { Bytes, Create, Fetch, QuotedPath, RestoreOptions, RestoreReport, Vault, Write } from './dist/cloudbackup_wasm.js';

/** A stored object (a `StoredObject`, or its bytes as any `Bytes`). */
type Stored = { id: string; bytes: Bytes };

/**
 * A `RestoreSession` in a Worker (worker_threads in node): decryption,
 * decompression and verification run off the calling thread, which keeps
 * the I/O (fetching the bundles the plan names, writing what comes back).
 * Every method answers with a promise; calls may overlap and are answered in
 * order. Errors are the session's own `CloudBackupError` subclasses. Needs
 * the module loaded (`await init()`) and a host that can start the
 * package's Worker file (node, browsers unbundled, Vite, webpack 5).
 */
export declare class RestoreWorker implements Disposable {
  private constructor();
  /**
   * Starts a restore of `snapshot` in a new Worker. The vault's master key
   * is copied to the Worker (and wiped there once the vault is open); the
   * Worker opens the snapshot and the index deltas itself.
   */
  static start(vault: Vault, snapshot: Stored, index: Stored[], options?: RestoreOptions | null): Promise<RestoreWorker>;
  /** What to create (directories, files at their size, symlinks). */
  creates(): Promise<Create[]>;
  /** The folders a killed restore may have left temporaries in where this one writes, relative (`""`: the target). */
  leftoverDirs(): Promise<QuotedPath[]>;
  /** Which bundles and byte ranges to fetch, in order. */
  plan(): Promise<Fetch[]>;
  /** Feeds `bytes` (copied) fetched from bundle `bundleId` at `offset`: the verified writes. */
  feed(bundleId: string, offset: number, bytes: Bytes): Promise<Write[]>;
  /** The files whose content became complete since the last call. */
  takeCompleted(): Promise<QuotedPath[]>;
  /** The host could not create, write or move `path` into place. */
  failPath(path: QuotedPath | Bytes, error: string): Promise<void>;
  /** Reports bundle `bundleId` as missing: its files end up in the errors. */
  missing(bundleId: string): Promise<void>;
  /** Ends the session: what it restored, and which files failed. */
  finish(): Promise<RestoreReport>;
  /** The report of the finished session. */
  report(): Promise<RestoreReport>;
  /** After `finish`: the modes and times to apply, deepest first. */
  apply(): Promise<Create[]>;
  /** Ends the Worker; calls still waiting reject with `InvalidStateError`. Idempotent. */
  close(): void;
  [Symbol.dispose](): void;
}
