export * from './dist/cloudbackup_wasm.js';
export * from './errors.js';
export * from './client.js';
export * from './operations.js';
import type { InitInput } from './dist/cloudbackup_wasm.js';

/** Loads the WebAssembly module (browsers: call once before anything else; node: already done). */
export function init(input?: InitInput | Promise<InitInput>): Promise<void>;
/** Loads the module synchronously from its bytes or a compiled module. */
export function initSync(module: BufferSource | WebAssembly.Module): void;
