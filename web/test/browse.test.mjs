// Browsing a snapshot in the page, without restoring it: Snapshot.ls, find
// and diff (the core's engine::browse, as the CLI's ls, find and diff).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as cb from '../node.js';

const CHEAP = { memory_kib: 8, iterations: 1, parallelism: 1 };
const text = (/** @type {string} */ s) => new TextEncoder().encode(s);

/** One backup of `files` (path -> content) into `vault`; its snapshot. */
function backUp(/** @type {cb.Vault} */ vault, /** @type {Record<string, string>} */ files) {
  const backup = new cb.BackupSession(vault, new cb.Index());
  backup.addDir('/docs', 0o755, 1);
  for (const [path, content] of Object.entries(files)) {
    backup.startFile(path, 0o644, 1);
    backup.write(text(content));
    backup.finishFile();
  }
  backup.finish({ time: 1 });
  const s = backup.takeSnapshot();
  assert.ok(s);
  return cb.Snapshot.open(vault, s.id, s.bytes);
}

test('ls lists a folder (or everything below it), find matches entries, diff gives the changes', () => {
  const vault = cb.Vault.create('pw', null, CHEAP);
  const one = backUp(vault, { '/docs/a.txt': 'alpha', '/docs/deep/b.log': 'beta', '/top.log': 'top' });
  assert.deepEqual(one.ls('/').map((e) => e.path), ['/docs', '/top.log']);
  assert.deepEqual(one.ls('/docs').map((e) => [e.path, e.synthetic ?? false]), [
    ['/docs/a.txt', false],
    ['/docs/deep', true],
  ]);
  assert.deepEqual(one.ls(text('/docs'), true).map((e) => e.path), ['/docs/a.txt', '/docs/deep/b.log']);
  assert.deepEqual(one.find(['*.LOG'], true).map((e) => e.path), ['/docs/deep/b.log', '/top.log']);
  assert.throws(() => one.ls('/nothing'), cb.NotFoundError);
  assert.throws(() => one.ls(/** @type {never} */ (42)), cb.InvalidArgumentError);
  assert.throws(() => one.ls('/docs', /** @type {never} */ ('yes')), cb.InvalidArgumentError);
  assert.throws(() => one.find([]), cb.InvalidArgumentError);
  assert.throws(() => one.find(['[']), cb.InvalidValueError);

  const two = backUp(vault, { '/docs/a.txt': 'alpha, longer', '/new.log': 'n' });
  const d = one.diff(two);
  assert.deepEqual(
    d.changes.map((c) => [c.change, c.path]),
    [
      ['modified', '/docs/a.txt'],
      ['removed', '/docs/deep/b.log'],
      ['added', '/new.log'],
      ['removed', '/top.log'],
    ],
  );
  assert.equal(d.totals.bytes_added, 'alpha, longer'.length - 'alpha'.length + 1);
  assert.throws(() => one.diff(/** @type {never} */ (vault)), cb.InvalidArgumentError);
});
