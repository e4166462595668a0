// The declarations of public-errors.js: errors.d.ts without makeError.
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
export type {
  AnyCloudBackupError,
  CloudBackupErrorConstructor,
  CloudBackupErrorJSON,
  ErrorCode,
  ErrorDetails,
  ErrorListEntry,
} from './errors.js';
