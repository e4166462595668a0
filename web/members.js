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
 * Whether `value` is JSON data that JSON.stringify writes and JSON.parse
 * reads back as an equal value: null, a boolean, a string, a finite number
 * (not -0), and arrays (without holes) and plain objects (see
 * `isPlainObject`) of them, not nested deeper than 64.
 * @param {unknown} value
 * @param {number} [depth]
 * @returns {boolean}
 */
function isJsonData(value, depth = 0) {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(value) && !Object.is(value, -0);
    case 'object': {
      if (value === null) return true;
      if (depth >= 64) return false;
      if (Array.isArray(value)) {
        if ('toJSON' in value) return false;
        for (let i = 0; i < value.length; i++) {
          if (!isJsonData(value[i], depth + 1)) return false; // a hole reads as undefined
        }
        return true;
      }
      if (!isPlainObject(value)) return false;
      for (const key in value) {
        // Own members only: JSON.stringify writes those.
        if (Object.prototype.hasOwnProperty.call(value, key) && !isJsonData(/** @type {Record<string, unknown>} */ (value)[key], depth + 1)) return false;
      }
      return true;
    }
    default:
      return false;
  }
}

/**
 * The UTF-8 bytes of `value`'s JSON text (a string is taken as JSON text
 * already), for the core; `undefined` when there is none to give (null,
 * undefined, a value JSON cannot write): the binding then says why.
 * @param {unknown} value
 * @returns {Uint8Array | undefined}
 */
export function jsonBytes(value) {
  if (value === undefined || value === null) return undefined;
  try {
    const text = typeof value === 'string' ? value : JSON.stringify(value);
    return typeof text === 'string' ? encoder.encode(text) : undefined;
  } catch {
    return undefined;
  }
}

const encoder = new TextEncoder();

/**
 * A shallow copy of `root` with the core's member edits set: `edits` is the
 * JSON text of `[parent, key, index]` triples, `parent` a pointer (`''`: the
 * resource), `index` the operation of `patch` (an array, or its JSON text)
 * whose value the member takes. An operation's own value is taken when it
 * is JSON data (`isJsonData`), shared as fast-json-patch shares it; else a
 * copy as JSON reads the patch. Each object an edit sets a member of is
 * copied once; the rest is shared with `root`. `undefined` if a member could
 * not be read.
 * @param {Record<string, unknown>} root
 * @param {string} edits
 * @param {unknown} patch
 * @returns {Record<string, unknown> | undefined}
 */
export function withMembers(root, edits, patch) {
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
    const own = Array.isArray(patch) && !('toJSON' in patch) ? patch : undefined;
    /** @type {{ value: unknown }[] | undefined} the patch as JSON reads it, made when first needed */
    let read;
    /** @param {number} index @returns {unknown} */
    const valueOf = (index) => {
      const op = own?.[index];
      if (isPlainObject(op) && Object.prototype.propertyIsEnumerable.call(op, 'value') && isJsonData(op.value)) {
        return op.value;
      }
      read ??= JSON.parse(typeof patch === 'string' ? patch : JSON.stringify(patch));
      return /** @type {{ value: unknown }[]} */ (read)[index].value;
    };
    for (const [parent, key, index] of /** @type {[string, string, number][]} */ (JSON.parse(edits))) {
      copied(parent)[key] = valueOf(index);
    }
    return copies.get('');
  } catch {
    return undefined;
  }
}
