// @cloudbackup/core for node: the module is loaded synchronously on import,
// so everything is usable at once (`init()` exists and resolves at once).
import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { initSync } from './index.js';
import { setRunner, workerFailed, post } from './async.js';
import { setSpawner } from './restore-stream.js';

initSync(readFileSync(new URL('./dist/cloudbackup_wasm_bg.wasm', import.meta.url)));

// Vault.openAsync / createAsync run their Worker with worker_threads.
setRunner((request) => new Promise((resolve, reject) => {
  const worker = new Worker(new URL('./async-worker-node.js', import.meta.url));
  let settled = false;
  /** @param {() => void} settle */
  const end = (settle) => {
    if (settled) return;
    settled = true;
    settle();
    void worker.terminate();
  };
  worker.once('message', (reply) => end(() => resolve(reply)));
  worker.once('error', (e) => end(() => reject(workerFailed(e.message))));
  worker.once('exit', (code) => end(() => reject(workerFailed(`it exited (code ${code}) without an answer`))));
  post(worker, request, (e) => end(() => reject(e)));
}));

// RestoreWorker runs its Worker with worker_threads.
setSpawner((onReply, onFailure) => {
  const worker = new Worker(new URL('./restore-worker-node.js', import.meta.url));
  // Only a Worker with calls to answer keeps node running.
  worker.unref();
  worker.on('message', onReply);
  worker.once('error', (e) => onFailure(e.message));
  worker.on('messageerror', () => onFailure('its answer could not be read'));
  worker.once('exit', (code) => onFailure(`it exited (code ${code})`));
  return {
    post: (message, transfer) => worker.postMessage(message, transfer),
    terminate: () => void worker.terminate(),
    hold: (busy) => (busy ? worker.ref() : worker.unref()),
  };
});

export * from './index.js';
export { default } from './index.js';
