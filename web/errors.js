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

/** @type {Record<string, string>} */
const NAMES = {
  invalid_json: 'InvalidJsonError',
  invalid_value: 'InvalidValueError',
  invalid_argument: 'InvalidArgumentError',
  api: 'ApiError',
  unexpected_response: 'UnexpectedResponseError',
  transition: 'TransitionError',
  patch_rejected: 'PatchRejectedError',
  patch_conflict: 'PatchConflictError',
  patch_forbidden: 'PatchForbiddenError',
  wrong_password: 'WrongPasswordError',
  corrupt: 'CorruptError',
  foreign_vault: 'ForeignVaultError',
  unsupported_version: 'UnsupportedVersionError',
  not_found: 'NotFoundError',
  invalid_state: 'InvalidStateError',
  locked: 'LockedError',
};

/** @param {string} code */
function classFor(code) {
  return class extends CloudBackupError {
    /** @param {string} message @param {Record<string, unknown>} details */
    constructor(message, details) {
      super(code, message, details);
    }
  };
}

// Named classes (so `err.name` and stack traces read well).
export const InvalidJsonError = named(classFor('invalid_json'), NAMES.invalid_json);
export const InvalidValueError = named(classFor('invalid_value'), NAMES.invalid_value);
export const InvalidArgumentError = named(classFor('invalid_argument'), NAMES.invalid_argument);
export const ApiError = named(classFor('api'), NAMES.api);
export const UnexpectedResponseError = named(classFor('unexpected_response'), NAMES.unexpected_response);
export const TransitionError = named(classFor('transition'), NAMES.transition);
export const PatchRejectedError = named(classFor('patch_rejected'), NAMES.patch_rejected);
export const PatchConflictError = named(classFor('patch_conflict'), NAMES.patch_conflict);
export const PatchForbiddenError = named(classFor('patch_forbidden'), NAMES.patch_forbidden);
export const WrongPasswordError = named(classFor('wrong_password'), NAMES.wrong_password);
export const CorruptError = named(classFor('corrupt'), NAMES.corrupt);
export const ForeignVaultError = named(classFor('foreign_vault'), NAMES.foreign_vault);
export const UnsupportedVersionError = named(classFor('unsupported_version'), NAMES.unsupported_version);
export const NotFoundError = named(classFor('not_found'), NAMES.not_found);
export const InvalidStateError = named(classFor('invalid_state'), NAMES.invalid_state);
export const LockedError = named(classFor('locked'), NAMES.locked);

/**
 * @template {Function} T
 * @param {T} cls @param {string} name @returns {T}
 */
function named(cls, name) {
  Object.defineProperty(cls, 'name', { value: name });
  return cls;
}

/** @type {Record<string, new (message: string, details: Record<string, unknown>) => CloudBackupError>} */
const BY_CODE = {
  invalid_json: InvalidJsonError,
  invalid_value: InvalidValueError,
  invalid_argument: InvalidArgumentError,
  api: ApiError,
  unexpected_response: UnexpectedResponseError,
  transition: TransitionError,
  patch_rejected: PatchRejectedError,
  patch_conflict: PatchConflictError,
  patch_forbidden: PatchForbiddenError,
  wrong_password: WrongPasswordError,
  corrupt: CorruptError,
  foreign_vault: ForeignVaultError,
  unsupported_version: UnsupportedVersionError,
  not_found: NotFoundError,
  invalid_state: InvalidStateError,
  locked: LockedError,
};

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
