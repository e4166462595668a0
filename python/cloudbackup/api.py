"""The API layer: models, operations (request building and response
parsing), lifecycle and JSON Patch rules, an agent's job patches; the core's
by-name layer with Python values in and out (dicts, lists, str).
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from . import _native
from .shapes import OperationInfo, Request, TransitionStep

__all__ = [
    "JsonInput",
    "model_types",
    "parse_model",
    "model_json",
    "operations",
    "build_request",
    "parse_response",
    "transition",
    "allowed_actions",
    "allowed_targets",
    "validate_patch",
    "apply_patch",
    "filter_globs",
    "encrypt_password_for_agent",
    "JobReporter",
]

#: JSON given as text, as bytes-like, or as the decoded value (dict, list...).
JsonInput = Union[str, bytes, bytearray, memoryview, Mapping[str, Any], Sequence[Any]]


def _json_arg(value: JsonInput) -> Any:
    """A JSON argument for the native module, which takes JSON text (str or
    bytes-like) and Python values alike; a non-dict Mapping becomes a dict."""
    if isinstance(value, Mapping) and not isinstance(value, dict):
        return dict(value)
    return value


def model_types() -> List[str]:
    """The names of every model type (``"v1.Agent"``, ``"v2.Restore"``...);
    each also takes a ``[]`` suffix for a list of that type."""
    return _native.model_types()


def parse_model(type_name: str, data: JsonInput) -> Any:
    """Parses ``data`` as the model type ``type_name`` exactly as the core
    checks it, and returns its normal form as Python values (unknown members
    dropped, quirky values kept as they came, absent optionals as ``None``).

    Raises:
        InvalidArgument: unknown type name.
        InvalidJson: not JSON, or JSON that does not fit the type (the
            message names the offending member).
    """
    return _native.parse_model(type_name, _json_arg(data))


def model_json(type_name: str, data: JsonInput) -> str:
    """Like :func:`parse_model`, but returns the normal form as JSON text."""
    return _native.model_json(type_name, _json_arg(data))


def operations() -> List[OperationInfo]:
    """Every operation: ``{"name", "method", "path", "summary"}``."""
    return _native.operations()


def build_request(
    operation: str,
    params: Optional[JsonInput] = None,
    *,
    token: str,
    tenant_id: str,
    agent_id: Optional[str] = None,
) -> Request:
    """Builds the request of ``operation`` (e.g. ``"v2.restores.get_restore"``)
    from its parameters for the account ``token`` / ``tenant_id``:
    ``{"method", "path", "query", "headers", "body"}``. Send it with any
    HTTP client. An agent passes its ``agent_id``: every request then
    carries ``X-Agent-Id`` (and an operation's own agent parameter may be
    left out, or must name the same agent).

    Raises:
        InvalidArgument: unknown operation, unfit parameters, empty token or
            agent id, an agent parameter naming another agent.
        InvalidJson: parameters given as text that is not JSON.
    """
    params_arg = None if params is None else _json_arg(params)
    return _native.build_request(operation, params_arg, token, tenant_id, agent_id)


def parse_response(
    operation: str,
    status: int,
    body: Union[bytes, bytearray, memoryview, str] = b"",
    *,
    params: Optional[JsonInput] = None,
    headers: Optional[Sequence[Tuple[str, str]]] = None,
) -> Any:
    """Parses what the service answered to ``operation``: the result as
    Python values (``None`` for "no content").

    Raises:
        ApiError: an error status (``status``, ``message``, ``errors``: the
            body's list of errors or ``None``, ``retry_after``).
        UnexpectedResponse: a status the operation does not define.
        InvalidJson: a body that is not the JSON expected.
        InvalidArgument: unknown operation, bad parameters or headers.
    """
    if isinstance(body, str):
        # A lone surrogate goes through as the bytes it stands for, which
        # the core then refuses as a body that is not UTF-8 (InvalidJson).
        body = body.encode("utf-8", "surrogatepass")
    header_list = None if headers is None else [list(h) for h in headers]
    params_arg = None if params is None else _json_arg(params)
    return _native.parse_response(operation, params_arg, status, header_list, body)


def transition(resource: str, from_state: str, to_state: str, actor: str) -> TransitionStep:
    """Whether ``actor`` (``"user"``, ``"agent"``, ``"scheduler"``) may move a
    ``resource`` (``"restore"``, ``"backup"``, ``"cleanup"``, ``"logfile"``)
    from ``from_state`` to ``to_state``: ``{"changed": bool, "state": name}``.

    Raises:
        InvalidTransition: the rules refuse it (``rejection``, ``conflict``).
        InvalidArgument: an unknown name.
    """
    return _native.transition(resource, from_state, to_state, actor)


def allowed_actions(resource: str, state: str) -> List[str]:
    """The actions (``"start"``, ``"stop"``) a console may offer a user."""
    return _native.allowed_actions(resource, state)


def allowed_targets(resource: str, state: str, actor: str) -> List[str]:
    """The states ``actor`` may move ``resource`` to from ``state``."""
    return _native.allowed_targets(resource, state, actor)


def validate_patch(
    endpoint: str,
    resource: JsonInput,
    patch: JsonInput,
    actor: str,
    vault_empty: Optional[bool] = None,
) -> Any:
    """Validates a JSON Patch for the v2 PATCH ``endpoint`` (``"restore"``,
    ``"backup"``, ``"cleanup"``, ``"configuration"``, ``"agent"``,
    ``"logfile"``) against the current ``resource``, sent by ``actor``;
    returns the patched resource. All or nothing.

    Raises:
        PatchRejected: the service would answer 400 (``index``, ``path``,
            ``reason``).
        Conflict: 409 (``state``).
        Forbidden: 403.
        InvalidJson: resource or patch not JSON.
        InvalidArgument: unknown endpoint or actor.
    """
    return _native.validate_patch(endpoint, _json_arg(resource), _json_arg(patch), actor, vault_empty)


def apply_patch(document: JsonInput, patch: JsonInput) -> Any:
    """Applies an RFC 6902 JSON Patch to ``document`` (no endpoint policy),
    all or nothing; returns the new document.

    Raises:
        PatchRejected: a malformed patch or an operation that fails.
        InvalidJson: document or patch not JSON.
    """
    return _native.apply_patch(_json_arg(document), _json_arg(patch))


def filter_globs(filters: JsonInput) -> List[str]:
    """Patterns (docs/PATTERNS.md) equivalent to v2 path filters
    (``[{"type": "file"|"folder", "path": ...}]``): each path escaped; a
    folder pattern takes its subtree. For restore options and backups."""
    return _native.filter_globs(_json_arg(filters))


def encrypt_password_for_agent(modulus_hex: str, exponent_hex: str, passphrase: str) -> str:
    """Encrypts ``passphrase`` with an agent's RSA public key (hex as the
    service sends it), as ``EncryptedPassword`` / ``encrypted_password_hex``
    expect: PKCS#1 v1.5, lower-case hex.

    Raises:
        InvalidArgument: hex that is not hex, an empty or too long passphrase.
        InvalidValue: a key that is no usable RSA key.
    """
    return _native.encrypt_password_for_agent(modulus_hex, exponent_hex, passphrase)


class JobReporter:
    """The JSON Patches an agent sends about one job (a v2 backup, restore
    or cleanup) as it runs, each checked by the core's PATCH policy against
    the job as the agent knows it before it is handed out: send them as
    they come (``PATCH /v2/{project}/{kind}s/{id}``).

    ``resource``: the job as the service gave it (at least ``state``);
    ``endpoint``: ``"backup"``, ``"restore"`` or ``"cleanup"``; progress
    patches at most every ``progress_interval`` seconds (default 5).

    Raises (from every method): :class:`~cloudbackup.Conflict` (409) or
    :class:`~cloudbackup.PatchRejected` (400) for what the service would
    refuse, e.g. ``queued`` after ``in_progress``.
    """

    def __init__(self, endpoint: str, resource: JsonInput, progress_interval: Optional[float] = None) -> None:
        ns = None if progress_interval is None else int(progress_interval * 1_000_000_000)
        self._native = _native.JobReporter(endpoint, _json_arg(resource), ns)

    @property
    def state(self) -> str:
        """The job's state as the agent knows it."""
        return self._native.state()

    @property
    def resource(self) -> Dict[str, Any]:
        """The job as the agent knows it (the service's copy with the
        agent's patches applied)."""
        return self._native.resource()

    def observe(self, resource: JsonInput) -> None:
        """Takes the service's copy of the job (a GET, or an event's):
        how a user's stop request reaches the agent."""
        self._native.observe(_json_arg(resource))

    @property
    def stop_requested(self) -> bool:
        """Whether a user asked the job to stop."""
        return self._native.stop_requested()

    @property
    def is_finished(self) -> bool:
        """Whether the job has ended."""
        return self._native.is_finished()

    def queued(self) -> List[Dict[str, Any]]:
        """State ``queued``: the agent took the job up."""
        return self._native.queued()

    def preparing(self) -> List[Dict[str, Any]]:
        """State ``preparing`` (backups and restores)."""
        return self._native.preparing()

    def started(self, now: str) -> List[Dict[str, Any]]:
        """State ``in_progress`` with ``started_time`` (ISO-8601 ``now``)."""
        return self._native.started(now)

    def progress(self, counters: Mapping[str, int], now_ns: int) -> Optional[List[Dict[str, Any]]]:
        """The counters that changed (``{"files_restored": n, ...}``), or
        None when none did or the last progress was too recent."""
        return self._native.progress(list(counters.items()), now_ns)

    def finished(
        self, counters: Mapping[str, int], errors: Optional[JsonInput], now: str
    ) -> List[Dict[str, Any]]:
        """The end: ``stopped`` after a stop request, else
        ``completed_with_errors`` with ``errors`` (the per-file report)
        when given, else ``completed``; with the final counters and
        ``ended_time``."""
        native_errors = None if errors is None else _json_arg(errors)
        return self._native.finished(list(counters.items()), native_errors, now)

    def failed(self, message: str, now: str) -> List[Dict[str, Any]]:
        """State ``failed`` with ``/errors`` carrying ``message``."""
        return self._native.failed(message, now)

    def runs_on(self, agent_id: str) -> bool:
        """Whether agent ``agent_id`` runs this job (a backup's or
        cleanup's ``agent``, a restore's ``destination_agent``)."""
        return self._native.runs_on(agent_id)

    def recover(self, now: str) -> Optional[List[Dict[str, Any]]]:
        """What a restarted agent sends for a job a killed run of it left
        behind: ``failed`` (``INTERRUPTED``) when it was queued, preparing
        or in progress, ``stopped`` when a stop was requested, else None."""
        return self._native.recover(now)

