// @cloudbackup/core/api for node: the API module is loaded synchronously on
// import (`init()` exists and resolves at once).
import { readFileSync } from 'node:fs';
import { initSync } from './api.js';

initSync(readFileSync(new URL('./dist/cloudbackup_api_bg.wasm', import.meta.url)));

export * from './api.js';
export { default } from './api.js';
