// The worker_threads Worker behind RestoreWorker in node:
// restore-worker.js's handle() on every message.
import { parentPort } from 'node:worker_threads';
import { handle, transfers } from './restore-worker.js';

parentPort?.on('message', (/** @type {import('./restore-worker.js').Start | import('./restore-worker.js').Call} */ message) => {
  const reply = handle(message);
  parentPort?.postMessage(reply, transfers(reply));
});
