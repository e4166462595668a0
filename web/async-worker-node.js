// The worker_threads Worker behind Vault.createAsync / Vault.openAsync in
// node: async-worker.js's handle() on the one message it gets.
import { parentPort } from 'node:worker_threads';
import { handle, transfers } from './async-worker.js';

parentPort?.once('message', (/** @type {import('./async-worker.js').Request} */ request) => {
  const reply = handle(request);
  parentPort?.postMessage(reply, transfers(reply));
});
