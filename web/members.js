// The wasm binding's hands for `validatePatch` on a resource object
// (bindings/wasm/src/members.rs): a member read, or the patched copy made,
// in one call each instead of one wasm-to-JS call per property. No rule
// lives here: the core decides which members are read and which are set.

/**
 * Whether `value` is a plain object (an object literal, `JSON.parse`
 * output): read member by member it gives what JSON would.
 * @param {unknown} value
 * @returns {value is Record<string, unknown>}
 */
export function isPlainObject(value) {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  try {
    const prototype = Object.getPrototypeOf(value);
    return (prototype === Object.prototype || prototype === null) && !('toJSON' in value);
  } catch {
    return false; // a Proxy whose trap throws: left to JSON, which says so
  }
}

/** The way to a member goes through an object JSON would read otherwise. */
const UNREADABLE = Symbol('unreadable');

/**
 * The value at `path` (a pointer of plain tokens, `/vault/region`) of a
 * plain object as JSON would find it: `undefined` when there is none.
 * @param {Record<string, unknown>} root
 * @param {string} path
 * @returns {unknown}
 */
function lookup(root, path) {
  if (path === '') return root;
  const cut = path.indexOf('/', 1);
  // Most rule paths are one token, and the root is known to be plain.
  if (cut < 0) return ownMember(root, path.slice(1));
  let value = ownMember(root, path.slice(1, cut));
  for (const token of path.slice(cut + 1).split('/')) {
    if (!isPlainObject(value)) {
      const object = typeof value === 'object' && value !== null && !Array.isArray(value);
      return object ? UNREADABLE : undefined;
    }
    value = ownMember(value, token);
  }
  return value;
}

/**
 * Member `key` of a plain object as JSON.stringify writes it: own and
 * enumerable, else `undefined`.
 * @param {Record<string, unknown>} object
 * @param {string} key
 * @returns {unknown}
 */
function ownMember(object, key) {
  return Object.prototype.propertyIsEnumerable.call(object, key) ? object[key] : undefined;
}

/**
 * The JSON text of the member at `path`; `undefined` when JSON would have
 * none; `''` when JSON would read the way there differently (the binding then
 * goes through the whole resource's JSON text).
 * @param {Record<string, unknown>} root
 * @param {string} path
 * @returns {string | undefined}
 */
export function memberJson(root, path) {
  try {
    const value = lookup(root, path);
    if (value === UNREADABLE) return '';
    return value === undefined ? undefined : JSON.stringify(value);
  } catch {
    return ''; // a getter or toJSON threw, or a BigInt
  }
}

/**
 * What is at `path`: 0 no object (nothing, an array, a scalar), 1 a plain
 * object, 2 an object JSON would read otherwise (see `memberJson`).
 * @param {Record<string, unknown>} root
 * @param {string} path
 * @returns {number}
 */
export function memberKind(root, path) {
  try {
    const value = lookup(root, path);
    if (value === UNREADABLE) return 2;
    if (isPlainObject(value)) return 1;
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? 2 : 0;
  } catch {
    return 2;
  }
}

/**
 * A shallow copy of `root` with the core's member edits set: `edits` is the
 * JSON text of `[parent, key, value]` triples, `parent` a pointer (`''`: the
 * resource). Each object an edit sets a member of is copied once; the rest
 * is shared with `root`. `undefined` if a member could not be read.
 * @param {Record<string, unknown>} root
 * @param {string} edits
 * @returns {Record<string, unknown> | undefined}
 */
export function withMembers(root, edits) {
  try {
    /** @type {Map<string, Record<string, unknown>>} */
    const copies = new Map([['', { ...root }]]);
    /** @param {string} path @returns {Record<string, unknown>} */
    const copied = (path) => {
      let copy = copies.get(path);
      if (copy === undefined) {
        const cut = path.lastIndexOf('/');
        const parent = copied(path.slice(0, cut));
        const key = path.slice(cut + 1);
        copy = { .../** @type {Record<string, unknown>} */ (parent[key]) };
        parent[key] = copy;
        copies.set(path, copy);
      }
      return copy;
    };
    for (const [parent, key, value] of /** @type {[string, string, unknown][]} */ (JSON.parse(edits))) {
      copied(parent)[key] = value;
    }
    return copies.get('');
  } catch {
    return undefined;
  }
}
