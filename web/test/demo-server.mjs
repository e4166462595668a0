// The demo server (web/demo/serve.mjs) for the browser tests: started on
// an ephemeral port of 127.0.0.1, resolved once it prints its page's URL.

import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * Starts `serve.mjs 0 ...args`; resolves with the demo page's URL and a
 * `stop` that ends the server, or rejects when it exits or does not start
 * within `seconds`.
 * @param {string[]} args @param {number} seconds @param {string} what (for errors)
 * @returns {Promise<{ url: string, stop: () => void }>}
 */
export function startDemoServer(args, seconds, what) {
  const server = spawn(process.execPath, [join(ROOT, 'web/demo/serve.mjs'), '0', ...args],
    { stdio: ['ignore', 'pipe', 'inherit'] });
  const stop = () => {
    if (server.exitCode === null) server.kill('SIGTERM');
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      stop();
      reject(new Error(`${what} did not start in ${seconds} s`));
    }, seconds * 1000);
    let out = '';
    server.stdout.on('data', (chunk) => {
      out += chunk;
      const m = /demo: (http:\/\/127\.0\.0\.1:\d+\/web\/demo\/)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ url: m[1], stop });
      }
    });
    server.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited (${code}): ${out}`));
    });
  });
}
