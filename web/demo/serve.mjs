// The demo console's server: serves web/ (the package and this page) and
// the repository's fixtures (tests/data, tests/golden) read-only from
// 127.0.0.1, plus a manifest of each golden vault (which objects it holds),
// so the page can restore from it. Usage:
//   node web/demo/serve.mjs [port] [--python PY] [--no-agent]
//     port          0 or absent: an ephemeral port
//     --python PY   live: starts `PY -m cloudbackup serve` (the emulator) with
//                   a temporary database, seeds it and plays its agent
//                   (live.mjs), starts `cloudbackup agent` if the CLI has it
//                   (unless --no-agent), and forwards /identity/, /v2/ and
//                   /v1.0/ to the emulator, so the page calls it from its own
//                   origin (no CORS needed). Without it the page shows the
//                   static samples.
// Prints "demo: http://127.0.0.1:<port>/web/demo/" once listening (and the
// emulator's address before, when live).
import { createServer, request as httpRequest } from 'node:http';
import { readFile, readdir, stat } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { seedAndSimulate, startAgent, startEmulator, USER } from './live.mjs';

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

const argv = process.argv.slice(2);
const option = (/** @type {string} */ name) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv.splice(i, 2)[1] : undefined;
};
const flag = (/** @type {string} */ name) => {
  const i = argv.indexOf(name);
  return i >= 0 && argv.splice(i, 1).length > 0;
};
const python = option('--python');
const noAgent = flag('--no-agent');
const port = Number(argv[0] ?? 0);

/** What the page learns from GET /api/demo: whether it is live, as whom, and which agents run. */
let demo = /** @type {Record<string, unknown>} */ ({ live: false });
/** @type {(() => void | Promise<void>)[]} */
const cleanups = [];
/** The emulator's address when live. @type {URL | null} */
let emulator = null;
if (python) {
  const started = await startEmulator(python, ROOT);
  cleanups.push(started.stop);
  emulator = new URL(started.url);
  console.log(`demo: emulator at ${started.url} (cloudbackup serve)`);
  const sim = await seedAndSimulate(ROOT, started.url, { log: (line) => console.log(line) });
  cleanups.unshift(sim.stop);
  const agent = noAgent
    ? { running: false, note: '`cloudbackup agent` not started (--no-agent): only the simulated agent runs', stop: () => {} }
    : await startAgent(python, ROOT, started.url);
  cleanups.unshift(agent.stop);
  console.log(`demo: ${agent.note}`);
  demo = { live: true, user: USER, identity: '/identity/v2.0', seeded: sim.seeded,
    agents: { simulated: sim.seeded.agentId, real: agent.running, note: agent.note } };
}

/** Forwards a request to the emulator as it came (the Host header kept, so its links name this server). @param {import('node:http').IncomingMessage} req @param {import('node:http').ServerResponse} res @param {URL} to */
function forward(req, res, to) {
  const upstream = httpRequest({ host: to.hostname, port: to.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
    res.writeHead(answer.statusCode ?? 502, answer.headers);
    answer.pipe(res);
  });
  upstream.on('error', (e) => {
    if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ message: `demo proxy: the emulator did not answer (${e.message})` }));
  });
  req.pipe(upstream);
}

const server = createServer(async (req, res) => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const path = decodeURIComponent(url.pathname);
  if (emulator && /^\/(identity|v2|v1\.0)\//.test(url.pathname)) {
    forward(req, res, emulator);
    return;
  }
  try {
    if (path === '/api/demo') {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(demo));
      return;
    }
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

server.listen(port, '127.0.0.1', () => {
  const address = server.address();
  const actual = typeof address === 'object' && address ? address.port : port;
  console.log(`demo: http://127.0.0.1:${actual}/web/demo/`);
});
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, async () => {
    for (const cleanup of cleanups) await cleanup();
    server.close(() => process.exit(0));
    server.closeAllConnections();
  });
}
