// Error classes of @cloudbackup/core: one per stable code of the core's
// error enum (Error::code().as_str()). Every failure of the package throws
// one of these, with `code` and structured `details` (Error::details() of
// the core).

/** Base class of every error the package throws. */
export class CloudBackupError extends Error {
  /**
   * @param {string} code
   * @param {string} message
   * @param {Record<string, unknown>} details
   */
  constructor(code, message, details) {
    super(message);
    this.name = new.target.name;
    /** @readonly */
    this.code = code;
    /** @readonly */
    this.details = details;
  }

  /**
   * A plain object (`{name, code, message, details, stack}`) that survives
   * `postMessage`, `structuredClone` and `JSON.stringify` (which drop or
   * cannot carry an Error's own members); `CloudBackupError.from` makes
   * the error again.
   * @returns {{ name: string, code: string, message: string, details: Record<string, unknown>, stack?: string }}
   */
  toJSON() {
    /** @type {{ name: string, code: string, message: string, details: Record<string, unknown>, stack?: string }} */
    const out = { name: this.name, code: this.code, message: this.message, details: this.details };
    if (typeof this.stack === 'string') out.stack = this.stack;
    return out;
  }

  /**
   * The error of the class of `value.code` again, from what `toJSON()`
   * made (after `postMessage`, `structuredClone` or `JSON.parse`):
   * `instanceof` and `details` work as on the original. An error that is
   * already a CloudBackupError of this realm is returned as it is.
   * @param {unknown} value
   * @returns {CloudBackupError}
   */
  static from(value) {
    if (value instanceof CloudBackupError) return value;
    const v = /** @type {{ code?: unknown, message?: unknown, details?: unknown }} */ (
      typeof value === 'object' && value !== null ? value : {}
    );
    const details = v.details ?? {};
    if (typeof v.code !== 'string' || typeof v.message !== 'string' || typeof details !== 'object') {
      const reason = `must be what a CloudBackupError's toJSON() returns ({code, message, details}), got ${
        value instanceof Error ? `an ${value.name} without code (post error.toJSON(), not the error)` : describe(value)
      }`;
      throw makeError('invalid_argument', `invalid argument \`value\`: ${reason}`, { name: 'value', reason });
    }
    return makeError(v.code, v.message, /** @type {Record<string, unknown>} */ (details));
  }
}

/** @param {unknown} value */
function describe(value) {
  if (value === null || value === undefined) return String(value);
  if (typeof value !== 'object') return `a ${typeof value}`;
  return Array.isArray(value) ? 'an array' : 'an object without a string code and message';
}

/**
 * The class of each code, filled in as the classes below are declared (each
 * code is named once, in its declaration).
 * @type {Record<string, new (message: string, details: Record<string, unknown>) => CloudBackupError>}
 */
const BY_CODE = {};

/**
 * The class of errors with `code`, called `name` (given as a string so
 * `err.name` and stack traces read well even after minification).
 * @param {string} code @param {string} name
 */
function errorClass(code, name) {
  const cls = class extends CloudBackupError {
    /** @param {string} message @param {Record<string, unknown>} details */
    constructor(message, details) {
      super(code, message, details);
    }
  };
  Object.defineProperty(cls, 'name', { value: name });
  BY_CODE[code] = cls;
  return cls;
}

export const InvalidJsonError = errorClass('invalid_json', 'InvalidJsonError');
export const InvalidValueError = errorClass('invalid_value', 'InvalidValueError');
export const InvalidArgumentError = errorClass('invalid_argument', 'InvalidArgumentError');
export const ApiError = errorClass('api', 'ApiError');
export const UnexpectedResponseError = errorClass('unexpected_response', 'UnexpectedResponseError');
export const TransitionError = errorClass('transition', 'TransitionError');
export const PatchRejectedError = errorClass('patch_rejected', 'PatchRejectedError');
export const PatchConflictError = errorClass('patch_conflict', 'PatchConflictError');
export const PatchForbiddenError = errorClass('patch_forbidden', 'PatchForbiddenError');
export const WrongPasswordError = errorClass('wrong_password', 'WrongPasswordError');
export const CorruptError = errorClass('corrupt', 'CorruptError');
export const ForeignVaultError = errorClass('foreign_vault', 'ForeignVaultError');
export const UnsupportedVersionError = errorClass('unsupported_version', 'UnsupportedVersionError');
export const NotFoundError = errorClass('not_found', 'NotFoundError');
export const InvalidStateError = errorClass('invalid_state', 'InvalidStateError');
export const LockedError = errorClass('locked', 'LockedError');

/**
 * The error of class `code` (the wasm module makes every error it throws
 * with this; not part of the public API). A code newer than this file
 * gives a plain CloudBackupError.
 * @param {string} code @param {string} message @param {Record<string, unknown> | null} details
 * @returns {CloudBackupError}
 */
export function makeError(code, message, details) {
  const cls = BY_CODE[code];
  const d = details ?? {};
  return cls ? new cls(message, d) : new CloudBackupError(code, message, d);
}
