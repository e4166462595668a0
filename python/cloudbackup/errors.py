"""The exception hierarchy of :mod:`cloudbackup`.

Every error the core reports is a :class:`Error`. Errors caused by bad
input also derive from :class:`ValueError`, so ``except ValueError`` keeps
working for callers who do not know this package. Each exception carries
the core's stable ``code`` and its structured ``details`` (also set as
attributes, e.g. ``err.status`` of an :class:`ApiError`).
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Type, Union

__all__ = [
    "Error",
    "InvalidJson",
    "InvalidValue",
    "InvalidArgument",
    "ApiError",
    "UnexpectedResponse",
    "InvalidTransition",
    "PatchRejected",
    "Conflict",
    "Forbidden",
    "WrongPassword",
    "IntegrityError",
    "ForeignVault",
    "UnsupportedVersion",
    "NotFound",
    "InvalidState",
    "Locked",
    "StorageError",
]


class Error(Exception):
    """Root of every exception this package raises for the core.

    Attributes:
        code: the core's stable error code (``"invalid_json"``, ...).
        details: the error's fields, as the core reports them.
        message: the human-readable message.
    """

    code: str = "error"

    def __init__(self, message: str, details: Optional[Dict[str, Any]] = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: Dict[str, Any] = dict(details or {})
        for key, value in self.details.items():
            if key not in _RESERVED:
                setattr(self, _ALIASES.get(key, key), value)

    def __reduce__(self) -> Any:
        return (type(self), (self.message, self.details))


class InvalidJson(Error, ValueError):
    """Bytes that are not JSON, or JSON that does not fit the expected type."""

    code = "invalid_json"
    what: str


class InvalidValue(Error, ValueError):
    """A value (field, enum name, date, size, hex, id...) outside its domain."""

    code = "invalid_value"
    field: str
    reason: str


class InvalidArgument(Error, ValueError):
    """An argument that cannot be used (unknown name, empty token, ...)."""

    code = "invalid_argument"
    name: str
    reason: str


class ApiError(Error):
    """The service answered with an error status (``status``, ``kind``,
    ``message``, ``errors``, ``retry_after``). ``errors`` is the body's list
    of individual errors (``{"message": "Validation failed.", "errors":
    ["Name is required.", ...]}``), ``None`` when it had none."""

    code = "api"
    operation: str
    status: int
    kind: str
    errors: Optional[List[Any]]
    retry_after: Optional[Union[int, str]]


class UnexpectedResponse(Error):
    """The service answered with a status the operation does not define."""

    code = "unexpected_response"
    operation: str
    status: int


class InvalidTransition(Error, ValueError):
    """A lifecycle transition the rules refuse (``rejection``, ``conflict``)."""

    code = "transition"
    resource: str
    from_state: str
    to_state: str
    actor: str
    rejection: str
    conflict: bool


class PatchRejected(Error, ValueError):
    """A JSON Patch the endpoint's policy rejects (the service's 400)."""

    code = "patch_rejected"
    index: Optional[int]
    path: Optional[str]
    reason: str


class Conflict(Error, ValueError):
    """A JSON Patch that conflicts with the resource's state (409, ``state``)."""

    code = "patch_conflict"
    state: str


class Forbidden(Error, ValueError):
    """A JSON Patch forbidden in the resource's situation (403)."""

    code = "patch_forbidden"


class WrongPassword(Error, ValueError):
    """No key slot of the vault opens with the password."""

    code = "wrong_password"


class IntegrityError(Error, ValueError):
    """A vault object failed authentication, is truncated, or is not the
    object its id names (``object``, ``reason``): tampering or damage."""

    code = "corrupt"
    object: str
    reason: str


class ForeignVault(IntegrityError):
    """A vault object written for another vault."""

    code = "foreign_vault"


class UnsupportedVersion(Error):
    """A vault object of a format version this build cannot read."""

    code = "unsupported_version"
    object: str
    found: int
    supported: int


class NotFound(Error, LookupError):
    """Something the operation needs is missing (``what``, ``id``)."""

    code = "not_found"
    what: str
    id: str


class InvalidState(Error, RuntimeError):
    """A session used after it finished (or before, for what needs that)."""

    code = "invalid_state"


class Locked(Error):
    """Another process holds a lock on the vault that conflicts with the one
    wanted (``lock``: its id, ``holder``: who and since when, ``stale``:
    whether its process is gone or it was not refreshed in time, in which
    case ``cloudbackup unlock`` removes it)."""

    code = "locked"
    lock: str
    holder: str
    stale: bool


class StorageError(Error, OSError):
    """Where the vault is stored failed: a directory that cannot be written,
    a Swift request that failed for good (after retries), a bad checksum
    (``url``, ``object``, ``reason``; ``status`` for an HTTP status,
    ``errno`` for a local directory's system error). Raised
    by the host's storage layer (:mod:`cloudbackup.storage`), never by the
    core."""

    code = "storage"
    url: str
    object: str
    reason: str


# Detail names that would shadow the exception's own attributes: only in
# ``details`` (e.g. an API error's service message is ``details["message"]``).
_RESERVED = {"message", "code", "details", "args"}
# Detail names that are Python keywords.
_ALIASES = {"from": "from_state", "to": "to_state"}

_BY_CODE: Dict[str, Type[Error]] = {
    cls.code: cls
    for cls in (
        InvalidJson,
        InvalidValue,
        InvalidArgument,
        ApiError,
        UnexpectedResponse,
        InvalidTransition,
        PatchRejected,
        Conflict,
        Forbidden,
        WrongPassword,
        IntegrityError,
        ForeignVault,
        UnsupportedVersion,
        NotFound,
        InvalidState,
        Locked,
    )
}


def error_class(code: str) -> Type[Error]:
    """The exception class for a core error code (:class:`Error` for a code
    newer than this package)."""
    return _BY_CODE.get(code, Error)


def _from_core(code: str, message: str, details: Any) -> Error:
    """Builds the exception for an error of the native module (called by it
    with the error's details as a dict)."""
    if not isinstance(details, dict):
        details = {}
    err = error_class(code)(message, details)
    if type(err) is Error:
        err.code = code
    return err
