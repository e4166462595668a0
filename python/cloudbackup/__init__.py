"""cloudbackup: the Cloud Backup core for Python.

One native module (``cloudbackup._native``, built from the Rust core) with
Pythonic wrappers:

- :mod:`cloudbackup.api`: the API layer: models to/from dicts and JSON, request builders
  and response parsers, lifecycle rules and allowed actions, JSON Patch
  validation, ``encrypt_password_for_agent``;
- :mod:`cloudbackup.agent`: an agent's RSA key (decrypting the vault
  passphrases users send it) and the service's ``snapshot_id``;
- :mod:`cloudbackup.engine`: vaults and keys, backup, restore and verify
  sessions (sans-IO);
- :mod:`cloudbackup.store`: a vault wherever it is stored (backup, restore,
  verify, gc), over :mod:`cloudbackup.storage` (a local directory, or an
  OpenStack Swift container with :mod:`cloudbackup.swift`);
- :mod:`cloudbackup.client`: the HTTP transport on httpx, :class:`Client`
  and :class:`AsyncClient` (Rackspace Identity, the service catalog,
  retries, paging), loaded on first use;
- :mod:`cloudbackup.errors`: one exception hierarchy rooted at :class:`Error`;
- the ``cloudbackup`` command line tool (:mod:`cloudbackup.cli`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import _native
from .agent import AgentKey, snapshot_id_for, vault_snapshot_prefix
from .api import (
    JobReporter,
    allowed_actions,
    allowed_targets,
    apply_patch,
    build_request,
    encrypt_password_for_agent,
    filter_globs,
    model_json,
    model_types,
    operations,
    parse_model,
    parse_response,
    transition,
    validate_patch,
)
from .engine import BackupFilter, BackupSession, BundleBytes, BundleData, Index, RestoreSession, Selector, Snapshot, Vault, Verifier
from .errors import (
    ApiError,
    Conflict,
    Error,
    Forbidden,
    ForeignVault,
    IntegrityError,
    InvalidArgument,
    InvalidJson,
    InvalidState,
    Locked,
    InvalidTransition,
    InvalidValue,
    NotFound,
    PatchRejected,
    StorageError,
    UnexpectedResponse,
    UnsupportedVersion,
    WrongPassword,
)
from .storage import LocalStorage, Storage, open_storage
from .store import LocalVault, StoredVault

if TYPE_CHECKING:
    from .client import AsyncClient, Client, Session, TransportError

__version__: str = _native.__version__
#: The vault format version this build writes and reads.
FORMAT_VERSION: int = _native.FORMAT_VERSION
#: The most threads a backup or restore session takes (``threads=``).
MAX_THREADS: int = _native.MAX_THREADS

__all__ = [
    "BackupFilter",
    "Selector",
    "__version__",
    "FORMAT_VERSION",
    "MAX_THREADS",
    "allowed_actions",
    "allowed_targets",
    "apply_patch",
    "build_request",
    "encrypt_password_for_agent",
    "filter_globs",
    "model_json",
    "model_types",
    "operations",
    "parse_model",
    "parse_response",
    "transition",
    "validate_patch",
    "JobReporter",
    "AgentKey",
    "snapshot_id_for",
    "vault_snapshot_prefix",
    "BackupSession",
    "BundleBytes",
    "BundleData",
    "Index",
    "RestoreSession",
    "Snapshot",
    "Vault",
    "Verifier",
    "LocalVault",
    "StoredVault",
    "Client",
    "AsyncClient",
    "Session",
    "TransportError",
    "Storage",
    "LocalStorage",
    "open_storage",
    "StorageError",
    "Error",
    "ApiError",
    "Conflict",
    "Forbidden",
    "ForeignVault",
    "IntegrityError",
    "InvalidArgument",
    "InvalidJson",
    "InvalidState",
    "Locked",
    "InvalidTransition",
    "InvalidValue",
    "NotFound",
    "PatchRejected",
    "UnexpectedResponse",
    "UnsupportedVersion",
    "WrongPassword",
]

#: Names of :mod:`cloudbackup.client`, imported (with httpx) on first use so
#: that the rest of the package does not need httpx.
_CLIENT_NAMES = {"Client", "AsyncClient", "Session", "TransportError"}


def __getattr__(name: str) -> Any:
    if name in _CLIENT_NAMES:
        from . import client

        return getattr(client, name)
    raise AttributeError(f"module 'cloudbackup' has no attribute {name!r}")
