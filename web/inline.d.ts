export * from './index.js';

/**
 * Loads the inlined WebAssembly module (no fetch, nothing to serve).
 * Later calls return the same promise; after a failure the next call tries again.
 */
export function init(): Promise<void>;
/** Loads the inlined module synchronously (node and Workers: a page's main thread may refuse a module this size). */
export function initSync(): void;
export default init;
