// The error classes as the package exports them (index.js and the
// "./errors" entry): errors.js without its internals (makeError, which the
// package installs as the wasm module's error factory).
// web/test/exports.test.mjs checks that nothing public of errors.js is missing here.
export {
  CloudBackupError,
  InvalidJsonError,
  InvalidValueError,
  InvalidArgumentError,
  ApiError,
  UnexpectedResponseError,
  TransitionError,
  PatchRejectedError,
  PatchConflictError,
  PatchForbiddenError,
  WrongPasswordError,
  CorruptError,
  ForeignVaultError,
  UnsupportedVersionError,
  NotFoundError,
  InvalidStateError,
  LockedError,
} from './errors.js';
