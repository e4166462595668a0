export * from './dist/public.js';
export * from './public-errors.js';
export * from './client.js';
export * from './operations.js';
import type { InitInput } from './dist/cloudbackup_wasm.js';
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
