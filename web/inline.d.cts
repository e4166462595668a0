// The declarations of @cloudbackup/core (and /inline) as CommonJS sees it:
// dist/inline.cjs, loaded on require (init() resolves at once).
export * from './inline.js';
export { default } from './inline.js';
