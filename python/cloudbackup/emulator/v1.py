"""The emulator's v1.0 operations (``/v1.0/{tenant}/...``) that the seeds
describe, over the same state as the v2 resources: a restore created or
started here is the v2 restore the agent runs, and a v2 backup is
restorable here once it completed.

- ``POST backup/action-requested``: StartManual (``Id``: a backup
  configuration) starts a backup and answers its id as a bare integer;
  StopManual (``Id``: a backup) asks it to stop (204).
- ``GET backup/availableforrestore``: the configurations with a restorable
  backup; ``GET backup/completed/{configurationId}``; ``GET backup/{id}``.
- ``PUT restore``: a restore in ``Creating`` (no event yet);
  ``POST restore/action-requested``: StartManual sends the agent its
  ``restore_start_request`` (with ``EncryptedPassword`` as
  ``encrypted_password_hex``), StopManual its stop request (204).
- ``GET restore/{id}`` and ``GET restore/report/{id}``.

v1 names resources by integers: each v2 resource gets one the first time
v1 shows it (:meth:`Store.v1_id`), kept across restarts. Bodies are read
with the core's v1 models and checked by the core's operations (what the
client checks before sending), and state changes go through the core's
lifecycle (:func:`cloudbackup.api.transition` as the ``user``): an illegal
one is the core's 409 (a terminal resource) or 400, with its message.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Dict, List, Mapping, Optional

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .. import api as core
from ..errors import InvalidTransition
from .app import RESTORABLE_STATES, Caller, ServiceError, _drop_none

if TYPE_CHECKING:
    from .app import Emulator

__all__ = ["V1Api", "RESTORE_STATE_IDS", "v1_state_name", "ms_date"]

#: v1's ``RestoreStateId`` of each restore state (the reference's table:
#: 0 Creating ... 9 Preparing).
RESTORE_STATE_IDS = {
    "creating": 0,
    "queued": 1,
    "in_progress": 2,
    "completed": 3,
    "stopped": 4,
    "failed": 5,
    "start_requested": 6,
    "stop_requested": 7,
    "completed_with_errors": 8,
    "preparing": 9,
}
#: v1's ``Flavor`` of every agent the emulator knows (the samples' value).
FLAVOR = "RaxCloudServer"


def v1_state_name(state: str) -> str:
    """A state's v1 name: the v2 name in PascalCase (``completed_with_errors``
    is ``CompletedWithErrors``)."""
    return "".join(part.capitalize() for part in state.split("_"))


def ms_date(iso: Any) -> Optional[str]:
    """An ISO 8601 time as v1 writes dates (``/Date(1357151359000)/``), or
    ``None`` for none."""
    if not isinstance(iso, str) or not iso:
        return None
    when = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return f"/Date({int(when.timestamp() * 1000)})/"


def _duration(start: Any, end: Any) -> Optional[str]:
    """``hh:mm:ss`` between two ISO 8601 times, or ``None``."""
    if not (isinstance(start, str) and isinstance(end, str)):
        return None
    seconds = int((datetime.fromisoformat(end.replace("Z", "+00:00"))
                   - datetime.fromisoformat(start.replace("Z", "+00:00"))).total_seconds())
    seconds = max(seconds, 0)
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _truthy(value: Any) -> bool:
    """A v1 boolean (``true`` or ``"true"``: the core keeps how it came)."""
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


#: The largest v1 id: SQLite's INTEGER (signed 64 bits) holds them.
_MAX_V1_ID = 2**63 - 1


def _number(value: Any, what: str) -> int:
    """A v1 id from a body (a number, or a string holding one)."""
    try:
        return int(str(value).strip())
    except ValueError:
        raise ServiceError(400, f"{what} must be an integer, not {value!r}.") from None


class V1Api:
    """The v1 routes of an :class:`~.app.Emulator` (its store, tokens and
    events)."""

    def __init__(self, emulator: "Emulator") -> None:
        self.e = emulator
        self.store = emulator.store

    def routes(self) -> List[Route]:
        p = "/v1.0/{project}"
        def h(handler: Callable[[Request, Caller], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
            # v1 is the users' API: an agent's token is refused.
            return self.e.handler(handler, user_only=True)

        return [
            Route(p + "/backup/action-requested", h(self.backup_action), methods=["POST"]),
            Route(p + "/backup/availableforrestore", h(self.available_for_restore), methods=["GET"]),
            Route(p + "/backup/completed/{id}", h(self.completed_backups), methods=["GET"]),
            Route(p + "/backup/{id}", h(self.get_backup), methods=["GET"]),
            Route(p + "/restore", h(self.create_restore), methods=["PUT"]),
            Route(p + "/restore/action-requested", h(self.restore_action), methods=["POST"]),
            Route(p + "/restore/report/{id}", h(self.restore_report), methods=["GET"]),
            Route(p + "/restore/{id}", h(self.get_restore), methods=["GET"]),
        ]

    # -- plumbing ----------------------------------------------------------------

    def _resolve(self, kind: str, caller: Caller, num: Any, status: int = 404) -> Dict[str, Any]:
        """The ``kind`` resource whose v1 id is ``num`` (``status`` when none)."""
        text = str(num).strip()
        # ASCII digits ("١٢".isdigit() too) within SQLite's INTEGER: a larger
        # number cannot be an id (and SQLite would refuse to look it up).
        digits = text.isascii() and text.isdigit() and int(text) <= _MAX_V1_ID
        id = self.store.v2_id(kind, int(text)) if digits else None
        found = None if id is None else self.store.get(kind, caller.project, id)
        if found is None:
            raise ServiceError(status, f"{v1_state_name(kind)} {text} not found.")
        return found

    def _num(self, kind: str, ref: Any) -> Optional[int]:
        """The v1 id of a v2 reference (``{"id": ...}``) or id, or ``None``."""
        id = ref.get("id") if isinstance(ref, Mapping) else ref
        return None if id is None else self.store.v1_id(kind, str(id))

    def _get(self, kind: str, caller: Caller, ref: Any) -> Dict[str, Any]:
        """The resource a v2 reference names (``{}`` when it is gone)."""
        id = ref.get("id") if isinstance(ref, Mapping) else ref
        return (self.store.get(kind, caller.project, str(id)) if id is not None else None) or {}

    @staticmethod
    def _key(agent: Mapping[str, Any]) -> Optional[Dict[str, Any]]:
        """The agent's RSA key in v1's form (``ModulusHex``, ``ExponentHex``)."""
        key = agent.get("rsa_public_key")
        if not isinstance(key, Mapping) or key.get("modulus") is None:
            return None
        return {"ModulusHex": key["modulus"], "ExponentHex": key.get("exponent")}

    def _transition(self, kind: str, job: Dict[str, Any], target: str) -> bool:
        """Moves ``job`` to ``target`` as the user by the core's lifecycle;
        whether it changed. A refusal is the core's 409 (terminal) or 400."""
        try:
            step = core.transition(kind, str(job.get("state")), target, "user")
        except InvalidTransition as e:
            raise ServiceError(409 if e.conflict else 400, str(e)) from None
        if not step["changed"]:
            return False
        job["state"] = step["state"]
        return True

    # -- backups -----------------------------------------------------------------

    async def backup_action(self, request: Request, caller: Caller) -> Response:
        """``POST backup/action-requested`` (the core's
        ``v1.BackupActionRequest``)."""
        body = await self.e._json(request)
        new = _drop_none(core.parse_model("v1.BackupActionRequest", body))
        self.e._check("v1.backups.request_backup_action", {"action": new["Action"], "id": new["Id"]})
        if new["Action"] == "StartManual":
            config = self._resolve("configuration", caller, new["Id"])
            latest = [b for b in self.store.all_of("backup", caller.project)
                      if (b.get("configuration") or {}).get("id") == config["id"]]
            # The core's lifecycle: a backup is still running while its
            # agent may still move it (a terminal state has no targets).
            if latest and core.allowed_targets("backup", str(latest[-1]["state"]), "agent"):
                raise ServiceError(400, f"StartManual: a backup of this configuration is still "
                                        f"{latest[-1]['state']}; stop it first.")
            id = str(uuid.uuid4())
            backup, agent_id, _ = self.e._new_backup(caller, id, {"configuration_id": config["id"]})
            self.store.insert("backup", caller.project, backup, agent=agent_id)
            self.e.record_activity(caller, "backup", backup)
            self.e._event(caller, "backup_start_request", agent_id, self.e._refs("backup", backup),
                          {"request_id": str(uuid.uuid4())})
            return Response(json.dumps(self.store.v1_id("backup", id)), media_type="application/json")
        backup = self._resolve("backup", caller, new["Id"])
        old = backup.get("state")
        if self._transition("backup", backup, "stop_requested"):
            self.store.update("backup", caller.project, backup)
            self.e.state_changed(caller, "backup", old, backup)
        return Response(status_code=204)

    def _restorable(self, caller: Caller, config_id: str) -> List[Dict[str, Any]]:
        """The configuration's backups a restore can use, oldest first."""
        return [b for b in self.store.all_of("backup", caller.project)
                if (b.get("configuration") or {}).get("id") == config_id and b.get("restorable")]

    async def available_for_restore(self, request: Request, caller: Caller) -> Response:
        """``GET backup/availableforrestore``: each configuration with a
        restorable backup, with its agent's key and newest such backup."""
        answer = []
        for config in self.store.all_of("configuration", caller.project):
            backups = self._restorable(caller, str(config["id"]))
            if config.get("deleted") or not backups:
                continue
            agent = self._get("agent", caller, config.get("agent"))
            key = self._key(agent) or {}
            answer.append({
                "BackupConfigurationId": self.store.v1_id("configuration", str(config["id"])),
                "BackupConfigurationName": config.get("name", ""),
                "MachineName": agent.get("name", ""),
                "MachineAgentId": self._num("agent", config.get("agent")),
                "IsEncrypted": bool((agent.get("vault") or {}).get("encrypted")),
                "PublicKeyHex": key.get("ExponentHex"),
                "PublicKeyMod": key.get("ModulusHex"),
                "Flavor": FLAVOR,
                "LastSuccessfulBackupTime": ms_date(backups[-1].get("ended_time")),
            })
        return JSONResponse(answer)

    async def completed_backups(self, request: Request, caller: Caller) -> Response:
        """``GET backup/completed/{configurationId}``: its restorable backups."""
        config = self._resolve("configuration", caller, request.path_params["id"])
        agent = self._get("agent", caller, config.get("agent"))
        answer = []
        for backup in self._restorable(caller, str(config["id"])):
            answer.append({
                "BackupId": self.store.v1_id("backup", str(backup["id"])),
                "BackupConfigurationId": self.store.v1_id("configuration", str(config["id"])),
                "BackupConfigurationName": config.get("name", ""),
                "MachineName": agent.get("name", ""),
                "MachineAgentId": self._num("agent", config.get("agent")),
                "CompletedTime": ms_date(backup.get("ended_time")) or "/Date(0)/",
                "BytesSearched": int(backup.get("bytes_searched") or 0),
                "NumErrors": int((backup.get("errors") or {}).get("count") or 0),
            })
        return JSONResponse(answer)

    async def get_backup(self, request: Request, caller: Caller) -> Response:
        """``GET backup/{id}``: a backup and its state, v1's way."""
        backup = self._resolve("backup", caller, request.path_params["id"])
        config = self._get("configuration", caller, backup.get("configuration"))
        agent = self._get("agent", caller, backup.get("agent"))
        region = (agent.get("vault") or {}).get("region")
        return JSONResponse({
            "BackupId": self.store.v1_id("backup", str(backup["id"])),
            "BackupConfigurationId": self._num("configuration", backup.get("configuration")),
            "CurrentState": v1_state_name(str(backup.get("state"))),
            "BackupConfigurationName": config.get("name", ""),
            "MachineAgentId": self._num("agent", backup.get("agent")),
            "MachineName": agent.get("name", ""),
            "Datacenter": (agent.get("host") or {}).get("region") or region,
            "BackupDatacenter": region,
            "StateChangeTime": ms_date(backup.get("ended_time") or backup.get("started_time")),
            "IsEncrypted": bool((agent.get("vault") or {}).get("encrypted")),
            "EncryptionKey": self._key(agent),
            "SnapshotId": backup.get("snapshot_id"),
        })

    # -- restores ----------------------------------------------------------------

    async def create_restore(self, request: Request, caller: Caller) -> Response:
        """``PUT restore`` (the core's ``v1.RestoreSpec``): a restore of a
        restorable backup to an agent, in ``Creating``; 200 with it."""
        body = await self.e._json(request)
        spec = _drop_none(core.parse_model("v1.RestoreSpec", body))
        self.e._check("v1.restores.create_restore", {"body": body})
        backup = self._resolve("backup", caller, spec["BackupId"], status=400)
        if not backup.get("restorable"):
            raise ServiceError(400, f"Backup {spec['BackupId']} cannot be restored from (it is {backup.get('state')}).")
        if _number(spec["BackupMachineId"], "BackupMachineId") != self._num("agent", backup.get("agent")):
            raise ServiceError(400, f"Backup {spec['BackupId']} was not made by agent {spec['BackupMachineId']}.")
        destination = self._resolve("agent", caller, spec["DestinationMachineId"], status=400)
        id = str(uuid.uuid4())
        restore, agent_id, _ = self.e._new_restore(caller, id, {
            "backup_id": backup["id"],
            "destination_agent_id": destination["id"],
            "destination_path": spec["DestinationPath"],
            "overwrite_files": _truthy(spec.get("OverwriteFiles")),
        })
        restore["state"] = "creating"
        self.store.insert("restore", caller.project, restore, agent=agent_id)
        self.e.record_activity(caller, "restore", restore)
        return JSONResponse(self._restore_v1(caller, restore))

    async def restore_action(self, request: Request, caller: Caller) -> Response:
        """``POST restore/action-requested`` (the core's
        ``v1.RestoreActionRequest``): StartManual moves a ``Creating``
        restore to ``StartRequested`` and tells its agent; StopManual asks a
        running one to stop. 204."""
        body = await self.e._json(request)
        new = _drop_none(core.parse_model("v1.RestoreActionRequest", body))
        self.e._check("v1.restores.request_restore_action", {"body": body})
        restore = self._resolve("restore", caller, new["Id"])
        old = restore.get("state")
        if new["Action"] == "StartManual":
            if self._transition("restore", restore, "start_requested"):
                self.store.update("restore", caller.project, restore)
                self.e.record_activity(caller, "restore", restore)
                password = new.get("EncryptedPassword")
                backup = self._get("backup", caller, restore.get("backup"))
                event = self.e.restore_start_event(
                    caller, restore, backup, None if password is None else "".join(str(password).split()))
                self.e._event(caller, "restore_start_request", self.e._owner("restore", restore),
                              self.e._refs("restore", restore), {"request_id": str(uuid.uuid4()), **event})
        elif self._transition("restore", restore, "stop_requested"):
            self.store.update("restore", caller.project, restore)
            self.e.state_changed(caller, "restore", old, restore)
        return Response(status_code=204)

    def _restore_v1(self, caller: Caller, restore: Mapping[str, Any]) -> Dict[str, Any]:
        """A restore as v1 shows it (the sample's members and order)."""
        backup = self._get("backup", caller, restore.get("backup"))
        config = self._get("configuration", caller, backup.get("configuration"))
        source = self._get("agent", caller, backup.get("agent"))
        destination = self._get("agent", caller, restore.get("destination_agent"))
        return {
            "RestoreId": self.store.v1_id("restore", str(restore["id"])),
            "BackupId": self._num("backup", restore.get("backup")),
            "DestinationMachineId": self._num("agent", restore.get("destination_agent")),
            "OverwriteFiles": bool(restore.get("overwrite_files")),
            "BackupConfigurationId": self._num("configuration", backup.get("configuration")),
            "BackupConfigurationName": config.get("name", ""),
            "BackupRestorePoint": ms_date(backup.get("ended_time")),
            "BackupMachineId": self._num("agent", backup.get("agent")),
            "MachineAgentId": self._num("agent", restore.get("destination_agent")),
            "BackupMachineName": source.get("name", ""),
            "BackupFlavor": FLAVOR,
            "DestinationMachineName": destination.get("name", ""),
            "DestinationPath": restore.get("destination_path", ""),
            "BackupDataCenter": (source.get("vault") or {}).get("region"),
            "IsEncrypted": bool((source.get("vault") or {}).get("encrypted")),
            "EncryptedPassword": None,
            "PublicKey": self._key(destination),
            "RestoreStateId": RESTORE_STATE_IDS[str(restore.get("state"))],
        }

    async def get_restore(self, request: Request, caller: Caller) -> Response:
        """``GET restore/{id}``."""
        return JSONResponse(self._restore_v1(caller, self._resolve("restore", caller, request.path_params["id"])))

    async def restore_report(self, request: Request, caller: Caller) -> Response:
        """``GET restore/report/{id}``: how the restore went (so far):
        times, counters, and the error report the agent sent."""
        restore = self._resolve("restore", caller, request.path_params["id"])
        found = self.store.get_with_private("restore", caller.project, str(restore["id"]))
        private = found[1] if found else {}
        backup = self._get("backup", caller, restore.get("backup"))
        config = self._get("configuration", caller, backup.get("configuration"))
        source = self._get("agent", caller, backup.get("agent"))
        destination = self._get("agent", caller, restore.get("destination_agent"))
        errors = restore.get("errors") or {}
        error_list = []
        for i, item in enumerate(private.get("errors") or []):
            exception = item.get("exception") or {}
            error_list.append({
                "BackupReportID": self._num("backup", restore.get("backup")),
                "ListIndex": item.get("index", i),
                "ErrorType": None,
                "ErrorDesc": exception.get("description") or item.get("type"),
                "ExceptionDesc": exception.get("description"),
                "ExceptionDetails": exception.get("details"),
                "ExceptionCode": exception.get("code"),
                "Path": item.get("path"),
            })
        return JSONResponse({
            "BackupConfigurationId": self._num("configuration", backup.get("configuration")),
            "BackupConfigurationName": config.get("name", ""),
            "BackupReportId": self._num("backup", restore.get("backup")),
            "RestorePoint": ms_date(backup.get("ended_time")),
            "StartTime": ms_date(restore.get("started_time")),
            "CompletedTime": ms_date(restore.get("ended_time")),
            "Duration": _duration(restore.get("started_time"), restore.get("ended_time")),
            "OriginatingComputerName": source.get("name", ""),
            "State": v1_state_name(str(restore.get("state"))),
            "NumFilesRestored": str(int(restore.get("files_restored") or 0)),
            "NumBytesRestored": f"{int(restore.get('bytes_restored') or 0)} bytes",
            "RestoreDestination": destination.get("name", ""),
            "RestoreDestinationMachineId": self._num("agent", restore.get("destination_agent")),
            "NumErrors": str(int(errors.get("count") or 0)),
            "Reason": errors.get("reason") or None,
            "Diagnostics": errors.get("diagnostics") or None,
            "ErrorList": error_list,
        })

