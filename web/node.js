// @cloudbackup/core for node: the module is loaded synchronously on import,
// so everything is usable at once (`init()` exists and resolves at once).
import { readFileSync } from 'node:fs';
import { initSync } from './index.js';

initSync(readFileSync(new URL('./dist/cloudbackup_wasm_bg.wasm', import.meta.url)));

export * from './index.js';
export { default } from './index.js';
