// The node side of the API comparison (tests/interop/README.md): reads the
// cases file (one case a line, tab-separated hex-encoded UTF-8 fields: op,
// then its arguments) and prints one JSON answer a line through the npm
// package: {"ok": true, "result"} or {"ok": false, "code", "message", "details"}.
//
//   node api-probe.mjs CASES > answers
import { readFileSync } from 'node:fs';
import * as cb from '../../web/node.js';

/** @type {Record<string, (a: string[]) => unknown>} */
const OPS = {
  model: (a) => cb.parseModel(a[0], a[1]),
  // JSON text, as the other probes pass it: the package takes a JS string as
  // JSON text, so a document that is itself a JSON string ("foo") can only
  // be passed as text ('"foo"').
  apply: (a) => cb.applyPatch(a[0], a[1]),
  validate: (a) => cb.validatePatch(/** @type {cb.PatchEndpoint} */ (a[0]), a[1], a[2], /** @type {cb.Actor} */ (a[3])),
  transition: (a) => cb.transition(/** @type {cb.Resource} */ (a[0]), a[1], a[2], /** @type {cb.Actor} */ (a[3])),
  actions: (a) => cb.allowedActions(/** @type {cb.Resource} */ (a[0]), a[1]),
  targets: (a) => cb.allowedTargets(/** @type {cb.Resource} */ (a[0]), a[1], /** @type {cb.Actor} */ (a[2])),
  // The API fidelity table (tests/data/api-fidelity).
  'fid-request': (a) =>
    cb.buildRequest(a[0], JSON.parse(a[1]), a[4] ? { token: a[2], tenantId: a[3], agentId: a[4] } : { token: a[2], tenantId: a[3] }),
  'fid-response': (a) => {
    /** @type {cb.HttpResponse} */
    const response = { status: Number(a[2]), body: a[4] };
    if (a[3] !== '') response.headers = JSON.parse(a[3]);
    return cb.parseResponse(a[0], JSON.parse(a[1]), response);
  },
  'fid-decrypt': (a) => cb.AgentKey.fromDer(new Uint8Array(Buffer.from(a[0], 'hex'))).decryptPassword(a[1]),
  'fid-pubkey': (a) => cb.AgentKey.fromDer(new Uint8Array(Buffer.from(a[0], 'hex'))).publicKey(),
  'fid-snapid': (a) => cb.snapshotIdFor(a[0]),
  'fid-snapprefix': (a) => cb.vaultSnapshotPrefix(Number(a[0])),
};

const out = [];
for (const line of readFileSync(process.argv[2], 'ascii').split('\n')) {
  if (!line) continue;
  const [op, ...args] = line.split('\t').map((x) => Buffer.from(x, 'hex').toString('utf8'));
  try {
    out.push(JSON.stringify({ ok: true, result: OPS[op](args) }));
  } catch (e) {
    if (!(e instanceof cb.CloudBackupError)) throw e;
    out.push(JSON.stringify({ ok: false, code: e.code, message: e.message, details: e.details }));
  }
}
process.stdout.write(out.join('\n') + '\n');
