"""The emulator's vault and browse operations: moving a vault to another
agent, and the three-step requests a user makes of an agent (vault
encryption, vault password verification, host and backup browses).

A three-step request goes: the user posts it (202, ``Location`` naming the
request), the service sends the agent its event (``vault_encryption_enable``
or ``_change``, ``vault_password_verify``, ``host_browse``,
``backup_browse``, the samples' shapes), the agent answers, and the user
reads the answer (``GET`` of the ``Location``: 404 until the agent has
answered, then the result event of the samples: ``vault_encryption_enabled``,
``vault_password_verified``, ``host_browsed``, ``backup_browsed``).

The vault reports have their operations in the API (``POST
.../vault-encryption-requests/{id}`` and ``.../vault-password-verification-
requests/{id}``, 204). The browse results have none there (the reference
documents none), so, as with its heartbeats, the agent posts ``{"event": "host_browsed", "request_id", "succeeded", "path",
"items"}`` (or ``backup_browsed``) on its channel (``POST
/rse/{project}/{agent}``), read with the core's ``v2.BrowseResult``.

Bodies are read with the core's models and checked by the core's
operations, as in :mod:`.app`; the requests are rows of the resources table
(kinds :data:`REQUEST_KINDS`), so they survive a restart.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Dict, List, Mapping, Optional

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .. import api as core
from .app import RESTORABLE_STATES, Caller, ServiceError, _drop_none, _now_iso

if TYPE_CHECKING:
    from .app import Emulator

__all__ = ["AgentRequests", "REQUEST_KINDS", "BROWSE_RESULTS"]

#: The stored kind of each request collection (``{collection}`` of
#: ``/agents/{id}/{collection}`` or ``/backups/{id}/browse-requests``).
REQUEST_KINDS = {
    "vault-encryption-requests": "vault_encryption_request",
    "vault-password-verification-requests": "vault_password_request",
    "agent browse-requests": "host_browse_request",
    "backup browse-requests": "backup_browse_request",
}
#: The result event an agent posts on its channel for each browse kind.
BROWSE_RESULTS = {"host_browsed": "host_browse_request", "backup_browsed": "backup_browse_request"}
#: An encryption request's event, and the action its report must name.
ENCRYPTION_ACTIONS = {"vault_encryption_enable": "enabled", "vault_encryption_change": "changed"}


class AgentRequests:
    """The routes of this module over an :class:`~.app.Emulator`'s state."""

    def __init__(self, emulator: "Emulator") -> None:
        self.e = emulator

    def routes(self) -> List[Route]:
        p = "/v2/{project}"
        h = self.e.handler
        enc, ver = "/agents/{id}/vault-encryption-requests", "/agents/{id}/vault-password-verification-requests"
        return [
            Route(p + "/agents/{id}/vault", h(self.move_vault, user_only=True), methods=["POST"]),
            Route(p + enc, h(self.request_encryption, user_only=True), methods=["POST"]),
            Route(p + enc + "/{request_id}", h(self.report_encryption), methods=["POST"]),
            Route(p + enc + "/{request_id}", h(self.result("vault-encryption-requests")), methods=["GET"]),
            Route(p + ver, h(self.request_verification, user_only=True), methods=["POST"]),
            Route(p + ver + "/{request_id}", h(self.report_verification), methods=["POST"]),
            Route(p + ver + "/{request_id}", h(self.result("vault-password-verification-requests")),
                  methods=["GET"]),
            Route(p + "/agents/{id}/browse-requests", h(self.browse_host, user_only=True), methods=["POST"]),
            Route(p + "/agents/{id}/browse-requests/{request_id}", h(self.result("agent browse-requests")),
                  methods=["GET"]),
            Route(p + "/backups/{id}/browse-requests", h(self.browse_backup, user_only=True), methods=["POST"]),
            Route(p + "/backups/{id}/browse-requests/{request_id}", h(self.result("backup browse-requests")),
                  methods=["GET"]),
        ]

    # -- plumbing ----------------------------------------------------------------

    def _new(self, caller: Caller, collection: str, owner: str, agent_id: str, body: Dict[str, Any]) -> str:
        """Stores a new request of ``collection`` under ``owner`` (an agent's
        or a backup's id) for ``agent_id`` to answer; returns its id."""
        id = str(uuid.uuid4())
        self.e.store.insert(REQUEST_KINDS[collection], caller.project,
                            {"id": id, "owner": owner, "agent_id": agent_id, **body, "result": None},
                            agent=agent_id)
        return id

    @staticmethod
    def _accepted(caller: Caller, *path: str) -> Response:
        """202 with the request's URL (the reference's ``Location``, whose
        last segment is the request's id; here the URL the result is read at)."""
        return Response(status_code=202, headers={"Location": caller.href(*path)})

    def _request(self, caller: Caller, collection: str, owner: str, request_id: str) -> Dict[str, Any]:
        found = self.e.store.get(REQUEST_KINDS[collection], caller.project, request_id)
        if found is None or found.get("owner") != owner:
            raise ServiceError(404, "Request not found.")
        return found

    def _reporting(self, caller: Caller, collection: str, request: Request) -> Dict[str, Any]:
        """The request an agent reports on: its own (``X-Agent-Id`` or its
        token), not answered yet (else 409)."""
        agent_id = str(request.path_params["id"])
        self.e._found("agent", caller, agent_id)
        if caller.agent_id != agent_id:
            raise ServiceError(403, f"Only agent {agent_id} (X-Agent-Id) reports on its requests.")
        found = self._request(caller, collection, agent_id, str(request.path_params["request_id"]))
        if found["result"] is not None:
            raise ServiceError(409, f"Request {found['id']} was already reported.")
        return found

    def _answer(self, caller: Caller, collection: str, found: Dict[str, Any], name: str,
                members: Dict[str, Any], model: str) -> None:
        """Stores the request's result: the event ``name`` with ``members``
        (after its ``request_id``), as the core reads it (``model``); it is
        also listed in the agent's events."""
        extra = {"request_id": found["id"], **members}
        probe = {"id": "0", "time": _now_iso(), "event": name, "agent": {"id": found["agent_id"]}, **extra}
        core.parse_model(model, probe)
        event = self.e._event(caller, name, str(found["agent_id"]), {}, extra)
        self.e.store.update(REQUEST_KINDS[collection], caller.project, {**found, "result": event})

    def result(self, collection: str) -> Callable[[Request, Caller], Awaitable[Response]]:
        """``GET .../{collection}/{request_id}``: the agent's answer, 404
        until it answered."""

        async def handler(request: Request, caller: Caller) -> Response:
            owner = str(request.path_params["id"])
            self.e._found("backup" if collection.startswith("backup ") else "agent", caller, owner)
            found = self._request(caller, collection, owner, str(request.path_params["request_id"]))
            if found["result"] is None:
                raise ServiceError(404, f"Request {found['id']} has no answer yet: the agent has not reported.")
            return JSONResponse(found["result"])

        return handler

    @staticmethod
    def _vault(agent: Mapping[str, Any]) -> Dict[str, Any]:
        vault = agent.get("vault")
        return dict(vault) if isinstance(vault, dict) else {}

    # -- moving a vault ------------------------------------------------------------

    async def move_vault(self, request: Request, caller: Caller) -> Response:
        """``POST /agents/{id}/vault`` (body: ``v2.MoveVault``): the agent
        takes over the source agent's vault and its backups; the source gets
        a new, empty vault. 403 for an encrypted vault, an agent not of the
        project, or a target whose vault holds backups; both agents get
        ``configuration_changed`` (their settings name another vault). 204."""
        agent_id = str(request.path_params["id"])
        target, _ = self.e._found("agent", caller, agent_id)
        body = await self.e._json(request)
        new = core.parse_model("v2.MoveVault", body)
        self.e._check("v2.vault.move_vault", {"agent_id": agent_id, "body": body})
        source_id = str(new["source_agent_id"])
        if source_id == agent_id:
            raise ServiceError(400, f"Agent {agent_id} already has its own vault.")
        source = self.e.store.get("agent", caller.project, source_id)
        if source is None:
            raise ServiceError(403, f"Agent {source_id} is not an agent of project {caller.project}.")
        vault = self._vault(source)
        if vault.get("encrypted"):
            raise ServiceError(403, "The vault is encrypted: an encrypted vault cannot be moved.")
        if self.e.store.count("backup", caller.project, agent=agent_id):
            raise ServiceError(403, f"The vault of agent {agent_id} already holds backups.")
        fresh = str(uuid.uuid4())
        source = {**source, "vault": {**vault, "id": fresh, "name": f"phoenix_{fresh}", "encrypted": False}}
        target = {**target, "vault": {**vault, "use_internal": self._vault(target).get("use_internal", False)}}
        self.e.store.update("agent", caller.project, source)
        self.e.store.update("agent", caller.project, target)
        for backup in self.e.store.all_of("backup", caller.project, agent=source_id):
            backup["agent"] = {"id": agent_id, "links": [caller.link("full", "agents", agent_id)]}
            self.e.store.update("backup", caller.project, backup)
        self.e.store.reassign("backup", caller.project, source_id, agent_id)
        for id in (agent_id, source_id):
            self.e._event(caller, "configuration_changed", id, {})
        return Response(status_code=204)

    # -- vault encryption -----------------------------------------------------------

    async def request_encryption(self, request: Request, caller: Caller) -> Response:
        """``POST /agents/{id}/vault-encryption-requests`` (body:
        ``v2.VaultEncryptionRequest``): ``vault_encryption_enable`` (no old
        password) or ``vault_encryption_change`` to the agent; 403 when the
        old password does not match the vault's state (the sample's message
        for an unencrypted vault). 202."""
        agent_id = str(request.path_params["id"])
        agent, _ = self.e._found("agent", caller, agent_id)
        body = await self.e._json(request)
        new = core.parse_model("v2.VaultEncryptionRequest", body)
        self.e._check("v2.vault.request_vault_encryption", {"agent_id": agent_id, "body": body})
        encrypted = bool(self._vault(agent).get("encrypted"))
        old = new.get("old_encrypted_password_hex")
        if old is not None and not encrypted:
            raise ServiceError(403, "An old password was supplied, but the vault is unencrypted.")
        if old is None and encrypted:
            raise ServiceError(403, "The vault is encrypted already: the old password is needed to change it.")
        name = "vault_encryption_change" if encrypted else "vault_encryption_enable"
        id = self._new(caller, "vault-encryption-requests", agent_id, agent_id, {"action": ENCRYPTION_ACTIONS[name]})
        members: Dict[str, Any] = {"request_id": id}
        if encrypted:
            members.update(old_encrypted_password_hex=old, new_encrypted_password_hex=new["new_encrypted_password_hex"])
        else:
            members["encrypted_password_hex"] = new["new_encrypted_password_hex"]
        self.e._event(caller, name, agent_id, {}, members)
        return self._accepted(caller, "agents", agent_id, "vault-encryption-requests", id)

    async def report_encryption(self, request: Request, caller: Caller) -> Response:
        """``POST .../vault-encryption-requests/{request_id}`` by the agent
        (body: ``v2.VaultEncryptionReport``; ``action`` must be the
        request's); a success marks the vault encrypted. 204."""
        found = self._reporting(caller, "vault-encryption-requests", request)
        body = await self.e._json(request)
        report = core.parse_model("v2.VaultEncryptionReport", body)
        self.e._check("v2.vault.report_vault_encryption", {
            "agent_id": found["agent_id"], "request_id": found["id"], "body": body, "caller_agent_id": caller.agent_id})
        if report["action"] != found["action"]:
            raise ServiceError(400, f"Request {found['id']} is to have encryption {found['action']}, "
                                    f"not {report['action']}.")
        succeeded = bool(report["succeeded"])
        self._answer(caller, "vault-encryption-requests", found, f"vault_encryption_{found['action']}",
                     {"succeeded": succeeded}, "v2.VaultEncryptionResult")
        if succeeded:
            agent = self.e.store.get("agent", caller.project, str(found["agent_id"]))
            if agent is not None:
                agent["vault"] = {**self._vault(agent), "encrypted": True}
                self.e.store.update("agent", caller.project, agent)
        return Response(status_code=204)

    # -- vault password verification -----------------------------------------------

    async def request_verification(self, request: Request, caller: Caller) -> Response:
        """``POST /agents/{id}/vault-password-verification-requests`` (body:
        ``v2.VaultPasswordRequest``; ``agent_id``: the vault's agent, ``null``
        for this one): ``vault_password_verify`` to the agent; 403 (the
        sample's) when that vault is not encrypted. 202."""
        agent_id = str(request.path_params["id"])
        agent, _ = self.e._found("agent", caller, agent_id)
        body = await self.e._json(request)
        new = core.parse_model("v2.VaultPasswordRequest", body)
        self.e._check("v2.vault.request_password_verification", {"agent_id": agent_id, "body": body})
        vault_agent = agent
        if new.get("agent_id") not in (None, agent_id):
            other = self.e.store.get("agent", caller.project, str(new["agent_id"]))
            if other is None:
                raise ServiceError(400, f"Agent {new['agent_id']} is not registered.")
            vault_agent = other
        if not self._vault(vault_agent).get("encrypted"):
            raise ServiceError(403, "Encryption is not enabled for this agent's vault.")
        id = self._new(caller, "vault-password-verification-requests", agent_id, agent_id,
                       {"vault_agent_id": vault_agent["id"]})
        self.e._event(caller, "vault_password_verify", agent_id, {},
                      {"request_id": id, "encrypted_password_hex": new["encrypted_password_hex"]})
        return self._accepted(caller, "agents", agent_id, "vault-password-verification-requests", id)

    async def report_verification(self, request: Request, caller: Caller) -> Response:
        """``POST .../vault-password-verification-requests/{request_id}`` by
        the agent (body: ``v2.VaultPasswordReport``). 204."""
        found = self._reporting(caller, "vault-password-verification-requests", request)
        body = await self.e._json(request)
        report = core.parse_model("v2.VaultPasswordReport", body)
        self.e._check("v2.vault.report_password_verification", {
            "agent_id": found["agent_id"], "request_id": found["id"], "body": body, "caller_agent_id": caller.agent_id})
        self._answer(caller, "vault-password-verification-requests", found, "vault_password_verified",
                     {"valid": bool(report["verified"])}, "v2.VaultPasswordResult")
        return Response(status_code=204)

    # -- browses ----------------------------------------------------------------------

    async def browse_host(self, request: Request, caller: Caller) -> Response:
        """``POST /agents/{id}/browse-requests`` (body: ``v2.HostBrowseRequest``):
        ``host_browse`` to the agent. 202."""
        agent_id = str(request.path_params["id"])
        self.e._found("agent", caller, agent_id)
        body = await self.e._json(request)
        new = _drop_none(core.parse_model("v2.HostBrowseRequest", body))
        self.e._check("v2.browse.browse_host", {"agent_id": agent_id, "body": body})
        id = self._new(caller, "agent browse-requests", agent_id, agent_id, {"path": new["path"]})
        self.e._event(caller, "host_browse", agent_id, {}, {"request_id": id, **new})
        return self._accepted(caller, "agents", agent_id, "browse-requests", id)

    async def browse_backup(self, request: Request, caller: Caller) -> Response:
        """``POST /backups/{id}/browse-requests`` (body:
        ``v2.BackupBrowseRequest``): ``backup_browse`` to the agent named,
        as the sample shows it (the vault to read under ``agent``, the
        backup by ``snapshot_id``, the password encrypted for that agent);
        403 while the backup is not restorable (no snapshot yet). 202."""
        backup_id = str(request.path_params["id"])
        backup, _ = self.e._found("backup", caller, backup_id)
        body = await self.e._json(request)
        new = _drop_none(core.parse_model("v2.BackupBrowseRequest", body))
        self.e._check("v2.browse.browse_backup", {"backup_id": backup_id, "body": body})
        agent_id = str(new["agent_id"])
        if self.e.store.get("agent", caller.project, agent_id) is None:
            raise ServiceError(400, f"Agent {agent_id} is not registered.")
        if backup.get("state") not in RESTORABLE_STATES or backup.get("snapshot_id") is None:
            raise ServiceError(403, f"Backup {backup_id} is {backup.get('state')}: it has no snapshot to browse.")
        source = self.e.store.get("agent", caller.project, str(backup["agent"]["id"])) or {}
        vault = self._vault(source)
        id = self._new(caller, "backup browse-requests", backup_id, agent_id, {"path": new["path"]})
        event: Dict[str, Any] = {
            "agent": {"id": agent_id, "vault": {"id": vault.get("id"), "encrypted": bool(vault.get("encrypted"))}},
            "configuration": {"id": backup["configuration"]["id"]},
            "backup": {"snapshot_id": backup["snapshot_id"]},
            "request_id": id,
            "path": new["path"],
        }
        for key in ("path_encoded", "encrypted_password_hex"):
            if new.get(key) is not None:
                event[key] = new[key]
        self.e._event(caller, "backup_browse", agent_id, {"backup": backup_id}, event)
        return self._accepted(caller, "backups", backup_id, "browse-requests", id)

    def browsed(self, caller: Caller, agent_id: str, body: Mapping[str, Any]) -> None:
        """A browse result the agent posted on its channel (``host_browsed``
        or ``backup_browsed``, for a request of its own not answered yet),
        stored as the request's answer (read with ``v2.BrowseResult``)."""
        name = str(body.get("event"))
        request_id = body.get("request_id")
        if not isinstance(request_id, str):
            raise ServiceError(400, f"A {name} event names its request (request_id).")
        kind = BROWSE_RESULTS[name]
        found = self.e.store.get(kind, caller.project, request_id)
        if found is None or found.get("agent_id") != agent_id:
            raise ServiceError(404, "Request not found.")
        if found["result"] is not None:
            raise ServiceError(409, f"Request {request_id} was already reported.")
        members = {k: v for k, v in body.items() if k not in ("id", "time", "event", "agent", "request_id")}
        probe = {"id": "0", "time": _now_iso(), "event": name, "agent": {"id": agent_id},
                 "request_id": request_id, **members}
        result = _drop_none(core.parse_model("v2.BrowseResult", probe))
        members = {k: result[k] for k in ("succeeded", "path", "path_encoded", "items") if k in result}
        collection = "backup browse-requests" if name == "backup_browsed" else "agent browse-requests"
        self._answer(caller, collection, found, name, members, "v2.BrowseResult")
