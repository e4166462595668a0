// The worker_threads Worker behind RestoreWorker in node:
// restore-worker.js's serve() on every message.
import { parentPort } from 'node:worker_threads';
import { serve, transfers } from './restore-worker.js';

parentPort?.on('message', (/** @type {import('./restore-worker.js').Start | import('./restore-worker.js').Call} */ message) => {
  serve(message, (reply) => parentPort?.postMessage(reply, transfers(reply)));
});
