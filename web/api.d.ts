export * from './dist/api-public.js';
export * from './public-errors.js';
import type { InitInput } from './dist/cloudbackup_api.js';
export type { InitInput };

/**
 * Loads the API module (dist/cloudbackup_api_bg.wasm; browsers: call once before anything
 * else; node: already done). Later calls return the same promise; after a failure the next
 * call tries again. Anything used before it has resolved throws `InvalidStateError`.
 */
export function init(input?: InitInput | Promise<InitInput>): Promise<void>;
/** Loads the API module synchronously from its bytes or a compiled module. */
export function initSync(module: BufferSource | WebAssembly.Module): void;
export default init;
