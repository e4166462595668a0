// The demo console's server: serves web/ (the package and this page) and
// the repository's fixtures (tests/data, tests/golden) read-only from
// 127.0.0.1, plus a manifest of each golden vault (which objects it holds),
// so the page can restore from it. Usage:
//   node web/demo/serve.mjs [port]     (0 or absent: an ephemeral port)
// Prints "demo: http://127.0.0.1:<port>/web/demo/" once listening.
import { createServer } from 'node:http';
import { readFile, readdir, stat } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SERVED = ['web/', 'tests/data/', 'tests/golden/'];
const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json', '.wasm': 'application/wasm', '.css': 'text/css', '.txt': 'text/plain; charset=utf-8',
};

/** @param {string} dir */
async function names(dir) {
  try {
    return (await readdir(dir)).sort();
  } catch {
    return [];
  }
}

/** A vault directory's manifest: {config, bundles: [ids], index: [ids], snapshots: [ids]}. @param {string} rel */
async function manifest(rel) {
  const dir = join(ROOT, rel);
  return {
    base: `/${rel}/`,
    bundles: await names(join(dir, 'bundles')),
    index: await names(join(dir, 'index')),
    snapshots: await names(join(dir, 'snapshots')),
  };
}

const server = createServer(async (req, res) => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const path = decodeURIComponent(url.pathname);
  try {
    if (path === '/' || path === '/web/demo') {
      res.writeHead(302, { location: '/web/demo/' }).end();
      return;
    }
    const vaultMatch = /^\/api\/vaults\/(v\d+)$/.exec(path);
    if (vaultMatch) {
      const body = JSON.stringify(await manifest(`tests/golden/${vaultMatch[1]}/vault`));
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(body);
      return;
    }
    let rel = normalize(path.replace(/^\/+/, ''));
    if (rel.endsWith(sep) || path.endsWith('/')) rel = join(rel, 'index.html');
    if (rel.includes('..') || !SERVED.some((p) => rel.startsWith(p))) {
      res.writeHead(404).end('not found');
      return;
    }
    const file = join(ROOT, rel);
    if (!(await stat(file)).isFile()) throw new Error('not a file');
    const type = TYPES[/** @type {keyof typeof TYPES} */ (extname(file))] ?? 'application/octet-stream';
    res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store' }).end(await readFile(file));
  } catch {
    res.writeHead(404).end('not found');
  }
});

const port = Number(process.argv[2] ?? 0);
server.listen(port, '127.0.0.1', () => {
  const address = server.address();
  const actual = typeof address === 'object' && address ? address.port : port;
  console.log(`demo: http://127.0.0.1:${actual}/web/demo/`);
});
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => server.close(() => process.exit(0)));
