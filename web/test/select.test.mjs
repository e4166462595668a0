// Selection with restic's pattern meaning (docs/PATTERNS.md): restore
// inclusions/exclusions on the golden vault, and the backup walker's filter.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as cb from '../node.js';
import { ROOT } from './helpers.mjs';
import { openVault } from './vault.mjs';

const GOLDEN = fileURLToPath(new URL('tests/golden/v1/', ROOT));

/** The paths a restore of the golden snapshot with `options` creates. @param {import('../node.js').RestoreOptions} options */
function created(options) {
  const v = openVault(GOLDEN + 'vault', new Uint8Array(readFileSync(GOLDEN + 'PASSWORD')));
  const session = new cb.RestoreSession(v.vault, v.snapshots[0], v.index, options);
  const paths = [...session.creates()].map((c) => c.path);
  session.free();
  return paths;
}

test('restore patterns: /data is the subtree, a name matches at any depth, folders above come along', () => {
  assert.deepEqual(created({ inclusions: ['/data/notes.txt'] }), ['/data', '/data/notes.txt']);
  assert.deepEqual(created({ inclusions: ['/data'], exclusions: ['*.bin', 'copy-*', 'latest', 'empty'] }),
    ['/data', '/data/notes.txt', '/data/zeros']);
  assert.deepEqual(created({ iinclusions: ['NOTES.TXT'] }), ['/data', '/data/notes.txt']);
  assert.throws(() => created({ exclusions: ['ok', 'a['] }), (e) => e instanceof cb.InvalidArgumentError && /exclusions\[1\]/.test(String(e)));
});

test('BackupFilter answers the walker: patterns, tag files, one file system', () => {
  const f = new cb.BackupFilter({
    exclude: ['*.log', '/build'], iexclude: ['*.TMP'], exclusions: [{ type: 'folder', path: '/var/cache/' }],
    exclude_if_present: ['.nobackup', 'CACHEDIR.TAG:Signature'], one_file_system: true,
  });
  assert.equal(f.visit('/a/deep/x.log', false, 1, 1), 'skip');
  assert.equal(f.visit('/build', true, 1, 1), 'skip');
  assert.equal(f.visit('/src/build', true, 1, 1), 'keep');
  assert.equal(f.visit('/a/b.tmp', false, 1, 1), 'skip');
  assert.equal(f.visit('/var/cache/apt', true, 1, 1), 'skip');
  assert.equal(f.visit('/mnt', true, 2, 1), 'keep_empty');
  assert.equal(f.visit(new Uint8Array([47, 0xff, 46, 108, 111, 103]), false, 1, 1), 'skip', 'bytes that are not UTF-8');
  assert.deepEqual(f.tagFiles(), [{ name: '.nobackup', headerLen: 0 }, { name: 'CACHEDIR.TAG', headerLen: 9 }]);
  assert.equal(f.tagConfirms(1, new TextEncoder().encode('Signature: 8a47')), true);
  assert.equal(f.tagConfirms(1, new TextEncoder().encode('nope')), false);
  assert.equal(f.excludedByTags(['.nobackup'], 'data'), true);
  assert.equal(f.excludedByTags(['.nobackup'], '.nobackup'), false);
  f.free();
  const all = new cb.BackupFilter();
  assert.equal(all.visit('/mnt', true, 2, 1), 'keep');
  all.free();
  assert.throws(() => new cb.BackupFilter({ exclude: ['[x'] }), (e) => e instanceof cb.InvalidArgumentError && /exclude\[0\]/.test(String(e)));
  assert.deepEqual(cb.readPatternFile('# c\n\n  $HOME/x  \n$$y\n${NONE}z\n', { HOME: '/home/bob' }), ['/home/bob/x', '$y', 'z']);
  assert.deepEqual(cb.filterGlobs([{ type: 'folder', path: '/web/' }, { type: 'file', path: '/a[1]' }]), ['/web', '/a\\[1\\]']);
});
