// Makes the errors wasm-bindgen's glue throws by itself the package's
// classes (web/errors.js), like every other failure: a freed object used
// (wasm-bindgen: Error "null pointer passed to rust") is an
// InvalidStateError, an object of the wrong class passed (Error "expected
// instance of Vault") an InvalidArgumentError naming the argument. free()
// twice does nothing (as `using` and Symbol.dispose expect).
//
// Run by scripts/build-web on the fresh glue: node patch-glue.mjs <glue.js>.
// Every rewrite must apply (a wasm-bindgen upgrade that changes the glue
// fails the build here rather than silently losing the classes).
import { readFileSync, writeFileSync } from 'node:fs';

const file = process.argv[2];
if (!file) throw new Error('usage: node patch-glue.mjs <cloudbackup_wasm.js>');
let glue = readFileSync(file, 'utf8');

/**
 * Replaces `from` (a string: once; a global RegExp: every match) and
 * insists it matched.
 * @param {string} what @param {string | RegExp} from @param {string} to
 */
function rewrite(what, from, to) {
  const before = glue;
  glue = glue.replace(from, to);
  if (glue === before) throw new Error(`patch-glue: ${what}: not found in ${file} (wasm-bindgen changed its glue?)`);
}

// A glue without classes (@cloudbackup/core/api's) has no class checks and
// no free(): only the runtime's throw is rewritten there.
const hasClasses = /^export class /m.test(glue);
/** rewrite() where the glue has classes. @param {string} what @param {string | RegExp} from @param {string} to */
const rewriteClasses = (what, from, to) => {
  if (hasClasses) rewrite(what, from, to);
};

// The argument's name at every class check (`_assertClass(vault, Vault)`).
rewriteClasses('class checks', /_assertClass\((\w+), (\w+)\);/g, "_assertClass($1, $2, '$1');");
rewriteClasses(
  'the class check',
  'function _assertClass(instance, klass) {\n    if (!(instance instanceof klass)) {\n        throw new Error(`expected instance of ${klass.name}`);\n    }\n}',
  `function _assertClass(instance, klass, name) {
    if (!(instance instanceof klass)) {
        const reason = \`must be a \${klass.name}, got \${__cbDescribe(instance)}\`;
        throw __cbMakeError('invalid_argument', \`invalid argument \\\`\${name}\\\`: \${reason}\`, { name, reason });
    }
    if (instance.__wbg_ptr === 0) {
        const reason = 'was freed (free() was called on it, or a call consumed it)';
        throw __cbMakeError('invalid_state', \`the \${klass.name} \\\`\${name}\\\` \${reason}\`, { session: klass.name, reason });
    }
}

/** What a value is, for a message: \`an Index\`, \`a string\`, \`null\`. */
function __cbDescribe(value) {
    if (value === null || value === undefined) return String(value);
    if (typeof value !== 'object') return \`a \${typeof value}\`;
    const name = Array.isArray(value) ? 'Array' : value.constructor?.name;
    if (!name || name === 'Object') return 'an object';
    return /^[AEIOU]/.test(name) ? \`an \${name}\` : \`a \${name}\`;
}`,
);
rewrite(
  "the runtime's throw",
  /(__wbindgen_throw_\w+: function\(arg0, arg1\) \{\n\s+)throw new Error\(getStringFromWasm0\(arg0, arg1\)\);/,
  '$1throw __cbRuntimeError(getStringFromWasm0(arg0, arg1));',
);
// free() twice: the second does nothing.
rewriteClasses(
  'free()',
  /(free\(\) \{\n(\s+)const ptr = this\.__destroy_into_raw\(\);\n)/g,
  '$1$2if (ptr === 0) return;\n',
);
// `new Vault()` (a class made only by its static methods): wasm-bindgen
// gives it no constructor, so it made an empty object whose first call
// said it "was freed". Now the constructor says what to call instead.
// (__wrap makes instances with Object.create: it never runs this.)
if (hasClasses) {
  let added = 0;
  glue = glue.replace(/^export class (\w+) \{\n([\s\S]*?)^\}$/gm, (whole, name, body) => {
    if (/^    constructor\(/m.test(body)) return whole;
    // The static methods that return one (`return Vault.__wrap(...)`).
    const makers = [...body.matchAll(/^    static (?!__)(\w+)\([^)]*\) \{\n([\s\S]*?)^    \}$/gm)]
      .filter((m) => m[2].includes(`${name}.__wrap(`)).map((m) => `${name}.${m[1]}()`);
    if (makers.length === 0) return whole;
    const use = makers.length === 1 ? makers[0] : `${makers.slice(0, -1).join(', ')} or ${makers.at(-1)}`;
    added++;
    return `export class ${name} {
    constructor() {
        const reason = 'has no public constructor';
        throw __cbMakeError('invalid_state', \`${name} \${reason}: use ${use}\`, { session: '${name}', reason });
    }
${body}}`;
  });
  if (added === 0) throw new Error(`patch-glue: no class without a constructor in ${file} (wasm-bindgen changed its glue?)`);
}
// Used by the runtime's throw, in every glue (appended: declarations hoist).
const RUNTIME_ERROR = `
/** The package's error for a message of wasm-bindgen's runtime checks. */
function __cbRuntimeError(message) {
    if (message === 'null pointer passed to rust') {
        const reason = 'was freed (free() was called on it, or a call consumed it)';
        return __cbMakeError('invalid_state', \`this object \${reason}\`, { session: 'object', reason });
    }
    // Re-entry while in use, ownership taken while borrowed...
    return __cbMakeError('invalid_state', message, { session: 'object', reason: message });
}
`;
glue = `import { makeError as __cbMakeError } from '../errors.js';\n${glue}${RUNTIME_ERROR}`;
writeFileSync(file, glue);
