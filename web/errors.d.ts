/** One entry of an API error's `errors` list, as the service sent it (a string, in the reference). */
export type ErrorListEntry = null | boolean | number | string | ErrorListEntry[] | { [member: string]: ErrorListEntry };

/** Stable error codes: the core's error classes (`ErrorCode` in core/src/error.rs). */
export type ErrorCode =
  | 'invalid_json' | 'invalid_value' | 'invalid_argument' | 'api' | 'unexpected_response'
  | 'transition' | 'patch_rejected' | 'patch_conflict' | 'patch_forbidden' | 'wrong_password'
  | 'corrupt' | 'foreign_vault' | 'unsupported_version' | 'not_found' | 'invalid_state' | 'locked';

/** The structured details of each code (the core's `Error::details()`). */
export interface ErrorDetails {
  invalid_json: { what: string; message: string };
  invalid_value: { field: string; reason: string };
  invalid_argument: { name: string; reason: string };
  api: {
    operation: string;
    status: number;
    kind: string;
    message: string | null;
    /** The body's list of individual errors (`{"message": "Validation failed.", "errors": [...]}`), or null. */
    errors: ErrorListEntry[] | null;
    /** Seconds, or an HTTP date, or null. */
    retry_after: number | string | null;
  };
  unexpected_response: { operation: string; status: number };
  transition: {
    resource: string;
    from: string;
    to: string;
    actor: string;
    rejection: 'terminal' | 'backward' | 'stop_pending' | 'not_started' | 'not_permitted';
    /** Whether the service answers 409 Conflict. */
    conflict: boolean;
  };
  patch_rejected: { index: number | null; path: string | null; reason: string };
  patch_conflict: { state: string; message: string };
  patch_forbidden: { message: string };
  wrong_password: Record<string, never>;
  corrupt: { object: string; reason: string };
  foreign_vault: { object: string };
  unsupported_version: { object: string; found: number; supported: number };
  not_found: { what: string; id: string };
  invalid_state: { session: string; reason: string };
  locked: {
    /** The id of the lock object in the way (`locks/<id>`), or of one's own lock when it is too old to act on. */
    lock: string;
    /** Who holds it, e.g. "backup (shared) by pid 4242 on web1 since 2026-12-04T12:00:00Z". */
    holder: string;
    /** Whether that lock is stale (its process is gone or it was not refreshed in time): `cloudbackup unlock` removes it. */
    stale: boolean;
  };
}

/** What `toJSON()` makes of an error: a plain object that survives `postMessage`, `structuredClone` and `JSON`. */
export interface CloudBackupErrorJSON<C extends string = ErrorCode> {
  name: string;
  code: C;
  message: string;
  details: C extends ErrorCode ? ErrorDetails[C] : Record<string, unknown>;
  /** The stack where the error was made (another thread's, after a transfer). */
  stack?: string;
}

/**
 * An error the package throws, of class `code`. After `e instanceof
 * CloudBackupError`, `e` is a union discriminated by `code`: test
 * `e.code === 'locked'` (or `instanceof LockedError`) and `e.details` is
 * typed for it.
 */
export interface CloudBackupError<C extends string = ErrorCode> extends Error {
  readonly code: C;
  readonly details: C extends ErrorCode ? ErrorDetails[C] : Record<string, unknown>;
  /** A plain object for `postMessage`/`structuredClone`/`JSON.stringify`; `CloudBackupError.from` makes the error again. */
  toJSON(): CloudBackupErrorJSON<C>;
}

/** Every error of a known code, discriminated by `code`. */
export type AnyCloudBackupError = { [C in ErrorCode]: CloudBackupError<C> }[ErrorCode];

/** The class `CloudBackupError`: base of every error class of the package. */
export interface CloudBackupErrorConstructor {
  new <C extends ErrorCode>(code: C, message: string, details: ErrorDetails[C]): CloudBackupError<C>;
  readonly prototype: AnyCloudBackupError;
  /**
   * The error of the class of `value.code` again, from what `toJSON()`
   * made (after `postMessage`, `structuredClone` or `JSON.parse`): the
   * right subclass, with `code`, `message` and `details`. Anything else
   * throws `InvalidArgumentError`.
   */
  from(value: CloudBackupErrorJSON<string> | CloudBackupError<string>): AnyCloudBackupError;
}

/** Base class of every error the package throws. */
export const CloudBackupError: CloudBackupErrorConstructor;

type ErrorClass<C extends ErrorCode> = {
  new (message: string, details: ErrorDetails[C]): CloudBackupError<C>;
  readonly prototype: CloudBackupError<C>;
};

/** A body was not JSON, or not the JSON expected (details name the member). */
export const InvalidJsonError: ErrorClass<'invalid_json'>;
export type InvalidJsonError = CloudBackupError<'invalid_json'>;
/** A value was out of its domain. */
export const InvalidValueError: ErrorClass<'invalid_value'>;
export type InvalidValueError = CloudBackupError<'invalid_value'>;
/** An argument was unusable (unknown name, wrong type, out of range). */
export const InvalidArgumentError: ErrorClass<'invalid_argument'>;
export type InvalidArgumentError = CloudBackupError<'invalid_argument'>;
/** The service answered with an error status. */
export const ApiError: ErrorClass<'api'>;
export type ApiError = CloudBackupError<'api'>;
/** The service answered with a status the operation does not define. */
export const UnexpectedResponseError: ErrorClass<'unexpected_response'>;
export type UnexpectedResponseError = CloudBackupError<'unexpected_response'>;
/** A lifecycle transition was refused. */
export const TransitionError: ErrorClass<'transition'>;
export type TransitionError = CloudBackupError<'transition'>;
/** A JSON Patch was malformed or not allowed by the endpoint (400). */
export const PatchRejectedError: ErrorClass<'patch_rejected'>;
export type PatchRejectedError = CloudBackupError<'patch_rejected'>;
/** A JSON Patch conflicts with the resource's state (409). */
export const PatchConflictError: ErrorClass<'patch_conflict'>;
export type PatchConflictError = CloudBackupError<'patch_conflict'>;
/** A JSON Patch is forbidden in this situation (403). */
export const PatchForbiddenError: ErrorClass<'patch_forbidden'>;
export type PatchForbiddenError = CloudBackupError<'patch_forbidden'>;
/** No key slot opens with the password. */
export const WrongPasswordError: ErrorClass<'wrong_password'>;
export type WrongPasswordError = CloudBackupError<'wrong_password'>;
/** A vault object failed authentication or does not match its id. */
export const CorruptError: ErrorClass<'corrupt'>;
export type CorruptError = CloudBackupError<'corrupt'>;
/** A vault object belongs to another vault. */
export const ForeignVaultError: ErrorClass<'foreign_vault'>;
export type ForeignVaultError = CloudBackupError<'foreign_vault'>;
/** A vault object uses a newer format. */
export const UnsupportedVersionError: ErrorClass<'unsupported_version'>;
export type UnsupportedVersionError = CloudBackupError<'unsupported_version'>;
/** An object the operation needs is missing. */
export const NotFoundError: ErrorClass<'not_found'>;
export type NotFoundError = CloudBackupError<'not_found'>;
/** A finished session was used. */
export const InvalidStateError: ErrorClass<'invalid_state'>;
export type InvalidStateError = CloudBackupError<'invalid_state'>;
/** Another process holds a lock of the vault that conflicts with the one wanted (or one's own lock is too old to act on). */
export const LockedError: ErrorClass<'locked'>;
export type LockedError = CloudBackupError<'locked'>;

/** The error of class `code` (used by the wasm module; internal, not part of the API). */
export function makeError(code: string, message: string, details: Record<string, unknown> | null): CloudBackupError<string>;
