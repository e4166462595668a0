// The generated operation and state types (operations.d.ts, operations.js)
// against the core they come from: not stale, and right when checked
// independently of the generator.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as cb from '../node.js';
import { generate } from '../scripts/gen-operations.mjs';

const dts = readFileSync(new URL('../operations.d.ts', import.meta.url), 'utf8');

/** The string literals of `export type NAME = ...;` in operations.d.ts. @param {string} name */
function union(name) {
  const m = new RegExp(`export type ${name} =([^;]*);`).exec(dts);
  assert.ok(m, `operations.d.ts declares ${name}`);
  return [...m[1].matchAll(/"([^"]+)"/g)].map((x) => x[1]);
}

test('operations.d.ts and operations.js are what the generator makes of this build', () => {
  const { files, warnings } = generate();
  assert.deepEqual(warnings, [], 'every parameter type is known to web/scripts/gen-operations.mjs');
  for (const [name, text] of Object.entries(files)) {
    const disk = readFileSync(new URL(`../${name}`, import.meta.url), 'utf8');
    assert.ok(disk === text, `web/${name} is stale: run node web/scripts/gen-operations.mjs (or make build-web)`);
  }
});

test('OperationName is exactly the core\'s operations, and OperationParams has each', () => {
  const names = cb.operations().map((o) => o.name);
  assert.deepEqual(union('OperationName'), names);
  for (const name of names) assert.ok(dts.includes(`  "${name}": `), `OperationParams has ${name}`);
  console.log(`client types: ${names.length} operation names, ${cb.PAGED_OPERATIONS.length} paged`);
});

test('PAGED_OPERATIONS are the operations that take page', () => {
  assert.deepEqual([...cb.PAGED_OPERATIONS], union('PagedOperationName'));
  const auth = { token: 't', tenantId: '1' };
  for (const op of cb.operations()) {
    let refusesPage = false;
    try {
      cb.buildRequest(op.name, { page: { limit: 1 } }, auth);
    } catch (e) {
      const d = /** @type {cb.InvalidArgumentError} */ (e).details;
      refusesPage = d.name === 'params.page' && /unknown field `page`/.test(d.reason);
    }
    assert.equal(!refusesPage, cb.PAGED_OPERATIONS.includes(/** @type {never} */ (op.name)), op.name);
  }
});

test('the state unions hold every state the lifecycle reaches', () => {
  /** @type {cb.Resource[]} */
  const resources = ['restore', 'backup', 'cleanup', 'logfile'];
  /** @type {cb.Actor[]} */
  const actors = ['user', 'agent', 'scheduler'];
  let total = 0;
  for (const resource of resources) {
    const name = `${resource[0].toUpperCase()}${resource.slice(1)}State`;
    const states = union(name);
    assert.ok(states.length >= 3, name);
    for (const state of states) {
      cb.allowedActions(resource, state);
      for (const actor of actors) {
        for (const target of cb.allowedTargets(resource, state, actor)) assert.ok(states.includes(target), `${name} lacks ${target}`);
      }
    }
    assert.throws(() => cb.allowedActions(resource, 'no_such_state'), cb.InvalidArgumentError);
    total += states.length;
  }
  console.log(`client types: ${total} states of ${resources.length} resources`);
});
