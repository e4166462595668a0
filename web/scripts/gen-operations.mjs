// Generates web/operations.d.ts and web/operations.js from the core, through
// the built package: the operation names (operations()), each operation's
// parameters with their types (what the core's parameter checks answer to
// probe values: field lists, "expected ..." types, enum names, missing
// fields) and the lifecycle states (the names allowedActions accepts).
// Nothing here is written by hand, so the types follow the core.
//
//   node web/scripts/gen-operations.mjs          writes both files
//   node web/scripts/gen-operations.mjs --check  exits 1 if they are stale
//
// scripts/build-web runs it after each build; web/test/client-types.test.mjs
// fails when the committed files differ from what it generates.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as cb from '../node.js';

/** @typedef {{ name: string, ts: string, optional: boolean, doc: string }} Field */
/** @typedef {{ name: string, method: string, path: string, summary: string, fields: Field[] }} Operation */

const AUTH = { token: 'probe', tenantId: '1' };
const PROBE = 'zz_probe';

/**
 * The error the core raises for `params` of `op`, or null when they build.
 * @param {string} op @param {import('../index.js').JsonObject} params
 * @returns {{ name: string, reason: string } | null}
 */
function failure(op, params) {
  try {
    cb.buildRequest(op, params, AUTH);
    return null;
  } catch (e) {
    if (!(e instanceof cb.CloudBackupError)) throw e;
    const d = /** @type {{ name?: string, field?: string, reason?: string }} */ (e.details);
    return { name: d.name ?? d.field ?? '', reason: (d.reason ?? e.message).replace(/ \(parameters of [^)]*\)$/, '') };
  }
}

/**
 * The member names the core lists for a struct when given an unknown one.
 * @param {string} op @param {(inner: import('../index.js').JsonObject) => import('../index.js').JsonObject} wrap @param {string} at
 */
function fieldNames(op, wrap, at) {
  const f = failure(op, wrap({ [PROBE]: 0 }));
  if (!f || f.name !== `${at}.${PROBE}`) throw new Error(`${op}: no unknown-field answer at ${at} (${JSON.stringify(f)})`);
  if (/there are no fields/.test(f.reason)) return [];
  const listed = f.reason.replace(/^unknown field `[^`]*`, /, '');
  return [...listed.matchAll(/`([A-Za-z0-9_]+)`/g)].map((m) => m[1]);
}

/** @param {string} s */
const quote = (s) => JSON.stringify(s);

/**
 * The TypeScript type of one member, from what the core answers to probes.
 * @param {string} op @param {(inner: import('../index.js').JsonObject) => import('../index.js').JsonObject} wrap
 * @param {string} at @param {string} name @param {string[]} warnings
 * @returns {{ ts: string, doc: string, placeholder: import('../index.js').JsonValue | undefined }}
 */
function memberType(op, wrap, at, name, warnings) {
  const path = `${at}.${name}`;
  /** @param {import('../index.js').JsonValue} value */
  const refused = (value) => {
    const f = failure(op, wrap({ [name]: value }));
    return f && f.name === path ? f.reason : null;
  };
  const onTrue = refused(true);
  if (onTrue === null) {
    if (refused('x') === null && refused(7) === null) return { ts: 'JsonValue', doc: '', placeholder: null };
    return { ts: 'boolean', doc: '', placeholder: true };
  }
  const expected = /expected (.*)$/.exec(onTrue)?.[1] ?? '';
  if (expected === 'a string') {
    const onText = refused('x');
    const names = onText && /^unknown (\w+) "x"; expected one of: (.*)$/.exec(onText);
    if (names) {
      const values = names[2].split(', ');
      return { ts: values.map(quote).join(' | '), doc: `A \`${names[1]}\` name`, placeholder: values[0] };
    }
    return { ts: 'string', doc: '', placeholder: 'x' };
  }
  if (/^[iuf](8|16|32|64|128|size)$/.test(expected)) return { ts: 'number', doc: '', placeholder: 1 };
  // v1 ids the service also sends as text ("11"): the core takes both.
  if (expected === 'an integer or a string holding an integer') {
    return { ts: 'number | string', doc: 'An integer, or its digits as a string', placeholder: 1 };
  }
  if (expected === 'a sequence') return { ts: 'JsonValue[]', doc: '', placeholder: [] };
  const struct = /^struct (\w+)$/.exec(expected);
  if (struct && struct[1] === 'Page') return { ts: 'PageParams', doc: '', placeholder: {} };
  if (struct) return { ts: 'JsonObject', doc: `The core's \`${struct[1]}\`, in its wire form`, placeholder: undefined };
  warnings.push(`${op}: ${path}: unknown expectation ${quote(onTrue)} (typed JsonValue; extend memberType)`);
  return { ts: 'JsonValue', doc: '', placeholder: undefined };
}

/**
 * The members of a struct at `at` with their types and whether each may be left out.
 * @param {string} op @param {(inner: import('../index.js').JsonObject) => import('../index.js').JsonObject} wrap
 * @param {string} at @param {string[]} warnings @returns {Field[]}
 */
function members(op, wrap, at, warnings) {
  const names = fieldNames(op, wrap, at);
  const typed = names.map((name) => ({ name, ...memberType(op, wrap, at, name, warnings) }));
  // An Option member takes null.
  const optionals = new Set(typed.filter((m) => {
    const f = failure(op, wrap({ [m.name]: null }));
    return !(f && f.name === `${at}.${m.name}`);
  }).map((m) => m.name));
  // The others: ask which are missing, filling each one named in turn; a
  // member never named once all are filled has a default.
  /** @type {Set<string>} */
  const required = new Set();
  /** @type {import('../index.js').JsonObject} */
  const filled = {};
  let settled = false;
  for (let i = 0; i <= names.length; i++) {
    const f = failure(op, wrap(filled));
    const missing = f && f.name === at ? /^missing field `(\w+)`$/.exec(f.reason) : null;
    if (!missing) {
      settled = true;
      break;
    }
    required.add(missing[1]);
    const placeholder = typed.find((m) => m.name === missing[1])?.placeholder;
    if (placeholder === undefined) break;
    filled[missing[1]] = placeholder;
  }
  return typed.map((m) => ({
    name: m.name,
    ts: m.ts,
    doc: m.doc,
    // Unsettled (a member before it could not be filled): required unless it takes null.
    optional: optionals.has(m.name) || (settled && !required.has(m.name)),
  }));
}

/** The lifecycle states per resource, as the core names them. @returns {[string, string[]][]} */
function states() {
  /** @param {() => unknown} fn */
  const listed = (fn) => {
    try {
      fn();
    } catch (e) {
      const m = e instanceof cb.InvalidArgumentError ? /expected one of: (.*)$/.exec(String(e.details.reason)) : null;
      if (m) return m[1].split(', ');
    }
    throw new Error('the core did not list the accepted names');
  };
  const resources = listed(() => cb.allowedActions(/** @type {cb.Resource} */ ('\u0000'), 'x'));
  return resources.map((r) => [r, listed(() => cb.allowedActions(/** @type {cb.Resource} */ (r), '\u0000'))]);
}

/** @param {string} s */
const typeName = (s) => s.replace(/(^|_)([a-z])/g, (_, __, c) => c.toUpperCase());

/** Both files' text, and what could not be typed. */
export function generate() {
  /** @type {string[]} */
  const warnings = [];
  /** @type {Operation[]} */
  const ops = cb.operations().map((o) => ({
    name: o.name,
    method: o.method,
    path: o.path,
    summary: o.summary,
    fields: members(o.name, (inner) => inner, 'params', warnings),
  }));
  const firstPaged = ops.find((o) => o.fields.some((f) => f.name === 'page'));
  if (!firstPaged) throw new Error('no operation takes `page`');
  const page = members(firstPaged.name, (inner) => ({ page: inner }), 'params.page', warnings);
  const lifecycle = states();
  const paged = ops.filter((o) => o.fields.some((f) => f.name === 'page')).map((o) => o.name);

  /** @param {Field[]} fields @param {string} indent */
  const shape = (fields, indent) => `{${fields.map((f) =>
    `${f.doc ? `\n${indent}  /** ${f.doc}. */` : ''}\n${indent}  ${f.name}${f.optional ? '?' : ''}: ${f.ts};`).join('')}\n${indent}}`;
  const lines = [
    '// Generated by web/scripts/gen-operations.mjs from the core (its operation',
    '// registry, parameter checks and lifecycle names): do not edit. `make build-web`',
    '// regenerates it; web/test/client-types.test.mjs fails when it is stale.',
    "import type { JsonObject, JsonValue } from './dist/cloudbackup_wasm.js';",
    '',
    `/** The ${ops.length} operations of the core, \`version.module.operation\` (\`operations()\` lists them). */`,
    `export type OperationName =\n${ops.map((o) => `  | ${quote(o.name)}`).join('\n')};`,
    '',
    '/** The operations that take `page`: v2 lists, paged by marker (`pages()`, `paginate()`). */',
    `export type PagedOperationName =\n${paged.map((n) => `  | ${quote(n)}`).join('\n')};`,
    '',
    '/** Paging of v2 lists (the core\'s `Page`). */',
    `export interface PageParams ${shape(page, '')}`,
    '',
    '/** Parameters that may be left out whole (`{}`, `null` or `undefined`). */',
    'export type NoParams = Record<string, never> | null | undefined;',
    '',
    '/** The parameters of each operation (the core\'s JSON parameters: snake_case members, bodies in their wire form). */',
    'export interface OperationParams {',
    ...ops.map((o) => {
      const doc = `  /** ${o.method} \`${o.path}\`: ${o.summary}. */`;
      if (o.fields.length === 0) return `${doc}\n  ${quote(o.name)}: NoParams;`;
      const loose = o.fields.every((f) => f.optional) ? ' | null | undefined' : '';
      return `${doc}\n  ${quote(o.name)}: ${shape(o.fields, '  ')}${loose};`;
    }),
    '}',
    '',
    ...lifecycle.flatMap(([resource, names]) => [
      `/** The states of a ${resource} (v2 wire names). */`,
      `export type ${typeName(resource)}State = ${names.map(quote).join(' | ')};`,
    ]),
    '',
    '/** The states of each resource with a lifecycle. */',
    'export interface States {',
    ...lifecycle.map(([resource]) => `  ${resource}: ${typeName(resource)}State;`),
    '}',
    '',
    '/** The operations that take `page`, at run time. */',
    'export const PAGED_OPERATIONS: readonly PagedOperationName[];',
    '',
  ];
  const js = [
    '// Generated by web/scripts/gen-operations.mjs from the core: do not edit.',
    '',
    '/** The operations that take `page` (v2 lists, paged by marker). */',
    `export const PAGED_OPERATIONS = Object.freeze([\n${paged.map((n) => `  ${quote(n)},`).join('\n')}\n]);`,
    '',
  ];
  return { files: { 'operations.d.ts': lines.join('\n'), 'operations.js': js.join('\n') }, warnings };
}

/** @param {string} name */
const target = (name) => fileURLToPath(new URL(`../${name}`, import.meta.url));

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { files, warnings } = generate();
  for (const w of warnings) console.error(`gen-operations: warning: ${w}`);
  const check = process.argv.includes('--check');
  let stale = 0;
  for (const [name, text] of Object.entries(files)) {
    /** @type {string | null} */
    let old = null;
    try {
      old = readFileSync(target(name), 'utf8');
    } catch {
      old = null;
    }
    if (old === text) continue;
    stale++;
    if (check) console.error(`gen-operations: web/${name} is stale: run node web/scripts/gen-operations.mjs`);
    else writeFileSync(target(name), text);
  }
  if (check && stale) process.exit(1);
  console.log(`gen-operations: web/operations.d.ts, web/operations.js ${check ? 'checked' : stale ? 'written' : 'up to date'}`);
}
