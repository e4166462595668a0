"""The emulator's HTTP routes (Starlette): the v2 resources of the Cloud
Backup API over the state in :mod:`.store`, behind the tokens of
:mod:`.auth`.

The emulator decides nothing the core decides: request bodies are read
with the core's models and checked by the core's operation (the same
validation the client runs before sending), and every PATCH goes through
:func:`cloudbackup.api.validate_patch` with the caller's actor (``agent``
when the request carries ``X-Agent-Id`` or a token issued to an agent,
else ``user``), so each 400, 403 and 409 is the one the core predicts,
with the core's reason as the answer's ``message`` (the service's error
shape, ``{"message": ...}``).
What remains here is storage, ids and times, links, paging, the events a
state change sends an agent (``restore_start_request``...), the activity
list every change of a job moves it to the front of, and the agents'
status from their heartbeats: online while the last is younger than
``heartbeat_timeout``. The reference's agents send heartbeats to the event
service their settings name (``system_preferences.events.rse``: host,
channel, heartbeat interval and timeout), not to the API, whose
``POST /agents/{id}/events`` takes only ``startup`` and ``shutdown``; the
emulator is that event service too (``POST /rse/{project}/{agent}`` with
``{"event": "agent_heartbeat"}``, which also lists the ``agent_heartbeat``
event in the agent's events as the reference shows it). The v1.0
operations are in :mod:`.v1`, over the same state.
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable, Dict, List, Mapping, Optional, Tuple

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .. import api as core
from ..errors import Conflict, Error, Forbidden, InvalidArgument, InvalidJson, InvalidValue, PatchRejected
from . import auth
from .store import Store

__all__ = ["Emulator", "ServiceError", "DEFAULT_TENANT"]

#: The tenant (project) id tokens are issued for.
DEFAULT_TENANT = "123456"
#: The page size when a list request gives no ``limit`` (the service's).
DEFAULT_LIMIT = 100
#: Seconds between an agent's heartbeats, as its settings tell it (the
#: reference's ``active`` mode sends one a second; an emulator needs fewer).
DEFAULT_HEARTBEAT_INTERVAL = 30.0
#: Seconds after its last heartbeat an agent is shown offline (the
#: reference's ``timeout_ms`` of the ``active`` mode: 75000).
DEFAULT_HEARTBEAT_TIMEOUT = 75.0
#: The event an agent posts on its channel (``rse.channel`` of its settings).
HEARTBEAT_EVENT = "agent_heartbeat"
#: Where an agent's channel is (``rse.channel``, under ``rse.host``: this server).
RSE_CHANNEL = "/rse/{project}/{agent}"
#: States of a job no agent has taken up yet (not "busy").
WAITING_STATES = ("creating", "start_requested", "start_scheduled")
#: States a backup can be restored from (``restorable``).
RESTORABLE_STATES = ("completed", "completed_with_errors")

#: The event a resource's new state sends its agent, per resource kind.
#: (The service has no restore_queued / restore_preparing events.)
STATE_EVENTS: Dict[str, Dict[str, str]] = {
    "backup": {
        "queued": "backup_queued",
        "preparing": "backup_preparing",
        "in_progress": "backup_in_progress",
        "completed": "backup_completed",
        "completed_with_errors": "backup_completed",
        "failed": "backup_failed",
        "missed": "backup_missed",
        "skipped": "backup_skipped",
        "stop_requested": "backup_stop_request",
        "stopped": "backup_stopped",
    },
    "restore": {
        "in_progress": "restore_in_progress",
        "completed": "restore_completed",
        "completed_with_errors": "restore_completed",
        "failed": "restore_failed",
        "stop_requested": "restore_stop_request",
        "stopped": "restore_stopped",
    },
    "cleanup": {
        "queued": "cleanup_queued",
        "in_progress": "cleanup_in_progress",
        "completed": "cleanup_completed",
        "completed_with_errors": "cleanup_completed",
        "failed": "cleanup_failed",
        "stop_requested": "cleanup_stop_request",
        "stopped": "cleanup_stopped",
    },
}

#: Collection name (in paths and list bodies) of each resource kind.
COLLECTIONS = {
    "agent": "agents",
    "configuration": "configurations",
    "backup": "backups",
    "restore": "restores",
    "cleanup": "cleanups",
}


class ServiceError(Exception):
    """An error answer: ``status`` and the service's ``{"message": ...}``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _status_of(error: Error) -> int:
    """The HTTP status the service answers for a core error."""
    if isinstance(error, Conflict):
        return 409
    if isinstance(error, Forbidden):
        return 403
    if isinstance(error, (PatchRejected, InvalidJson, InvalidArgument, InvalidValue)):
        return 400
    return 500


def _core_message(error: Error) -> str:
    """The service's message for a core error: its own words (a 409's and a
    403's ``details.message``, the service's text), else the core's message."""
    details = getattr(error, "details", None)
    if isinstance(error, (Conflict, Forbidden)) and isinstance(details, Mapping) and isinstance(details.get("message"), str):
        return str(details["message"])
    return str(error)


def _now_iso() -> str:
    """Now, as the v2 resources spell times (ISO 8601, microseconds, Z)."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _drop_none(value: Any) -> Any:
    """``value`` without the ``None`` members the core's normal form adds
    for absent optionals (the service leaves them out)."""
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_none(v) for v in value]
    return value


@dataclass(frozen=True)
class Caller:
    """Who calls: the project, and the agent when ``X-Agent-Id`` names one
    or the token was issued to one (``token_agent``: then only that
    agent's resources are within reach)."""

    project: str
    root: str
    agent_id: Optional[str]
    token_agent: Optional[str] = None

    @property
    def actor(self) -> str:
        """The core's actor name: ``agent`` or ``user``."""
        return "agent" if self.agent_id is not None else "user"

    def href(self, *segments: str) -> str:
        """A v2 URL of this project on this server."""
        return "/".join([self.root, "v2", self.project, *segments])

    def link(self, rel: str, *segments: str) -> Dict[str, str]:
        return {"href": self.href(*segments), "rel": rel}


Handler = Callable[[Request], Awaitable[Response]]


class Emulator:
    """The service: its state (``db``: an SQLite file, or ``":memory:"``)
    and its ASGI application (:attr:`app`).

    Args:
        db: the SQLite file the state lives in (created when absent).
        tenant: the project id tokens are issued for.
        users: ``{username: api key or password}`` to accept; ``None``
            accepts any non-empty credentials.
        token_lifetime: seconds a token lives.
        heartbeat_interval: seconds between heartbeats, as the agents'
            settings (``GET /agents/{id}/configuration``) ask.
        heartbeat_timeout: seconds without a heartbeat after which
            ``GET /agents/{id}/status`` shows the agent offline.
    """

    def __init__(
        self,
        db: str = ":memory:",
        *,
        tenant: str = DEFAULT_TENANT,
        users: Optional[Mapping[str, str]] = None,
        token_lifetime: float = 86400.0,
        heartbeat_interval: float = DEFAULT_HEARTBEAT_INTERVAL,
        heartbeat_timeout: float = DEFAULT_HEARTBEAT_TIMEOUT,
    ) -> None:
        from .agent_requests import AgentRequests
        from .v1 import V1Api

        self.store = Store(db)
        self.tenant = tenant
        self.users = dict(users) if users is not None else None
        self.token_lifetime = token_lifetime
        self.heartbeat_interval = heartbeat_interval
        self.heartbeat_timeout = heartbeat_timeout
        self.v1 = V1Api(self)
        self.requests = AgentRequests(self)
        self.app = Starlette(routes=self._routes() + self.requests.routes() + self.v1.routes())

    def close(self) -> None:
        """Closes the database."""
        self.store.close()

    # -- plumbing ----------------------------------------------------------------

    def _routes(self) -> List[Route]:
        p = "/v2/{project}"
        r = [
            Route(auth.IDENTITY_PATH, self.identity, methods=["POST"]),
            Route(RSE_CHANNEL.format(project="{project}", agent="{id}"), self._h(self.rse_heartbeat), methods=["POST"]),
            Route(p + "/agents/tokens", self.authenticate_agent, methods=["POST"]),
            Route(p + "/agents", self._h(self.register_agent, user_only=True), methods=["POST"]),
            Route(p + "/agents", self._h(self.list_kind("agent")), methods=["GET"]),
            Route(p + "/agents/{id}", self._h(self.get_kind("agent")), methods=["GET"]),
            Route(p + "/agents/{id}", self._h(self.patch_kind("agent")), methods=["PATCH"]),
            Route(p + "/agents/{id}", self._h(self.delete_agent, user_only=True), methods=["DELETE"]),
            Route(p + "/agents/{id}/configurations", self._h(self.list_kind("configuration", by_agent=True)), methods=["GET"]),
            Route(p + "/agents/{id}/configuration", self._h(self.agent_settings), methods=["GET"]),
            Route(p + "/agents/{id}/status", self._h(self.agent_status), methods=["GET"]),
            Route(p + "/agents/{id}/activities", self._h(self.list_activities("agent")), methods=["GET"]),
            Route(p + "/activities", self._h(self.list_activities(None)), methods=["GET"]),
            Route(p + "/configurations/{id}/activities", self._h(self.list_activities("configuration")),
                  methods=["GET"]),
            Route(p + "/agents/{id}/events", self._h(self.list_events("agent")), methods=["GET"]),
            Route(p + "/agents/{id}/events", self._h(self.post_agent_event), methods=["POST"]),
            Route(p + "/configurations", self._h(self.create_configuration, user_only=True), methods=["POST"]),
            Route(p + "/configurations", self._h(self.list_kind("configuration")), methods=["GET"]),
            Route(p + "/configurations/{id}", self._h(self.get_kind("configuration")), methods=["GET"]),
            Route(p + "/configurations/{id}", self._h(self.patch_kind("configuration")), methods=["PATCH"]),
            Route(p + "/configurations/{id}", self._h(self.delete_configuration, user_only=True), methods=["DELETE"]),
            Route(p + "/configurations/{id}/events", self._h(self.list_events("configuration")), methods=["GET"]),
            Route(p + "/events", self._h(self.list_events(None)), methods=["GET"]),
        ]
        for kind in ("backup", "restore", "cleanup"):
            c = COLLECTIONS[kind]
            r += [
                Route(f"{p}/{c}", self._h(self.start_run(kind), user_only=True), methods=["POST"]),
                Route(f"{p}/{c}", self._h(self.list_kind(kind)), methods=["GET"]),
                Route(f"{p}/{c}/{{id}}", self._h(self.get_kind(kind)), methods=["GET"]),
                Route(f"{p}/{c}/{{id}}", self._h(self.patch_kind(kind)), methods=["PATCH"]),
                Route(f"{p}/{c}/{{id}}/errors", self._h(self.run_errors(kind)), methods=["GET"]),
                Route(f"{p}/{c}/{{id}}/events", self._h(self.list_events(kind)), methods=["GET"]),
            ]
        return r

    def handler(self, handler: Callable[[Request, Caller], Awaitable[Response]], *, user_only: bool = False) -> Handler:
        """``handler`` behind the token check (see :meth:`_h`), for :mod:`.v1`."""
        return self._h(handler, user_only=user_only)

    def _h(self, handler: Callable[[Request, Caller], Awaitable[Response]], *, user_only: bool = False) -> Handler:
        """``handler`` behind the token check, with the caller's identity,
        and with errors turned into the service's answers. ``user_only``:
        a token issued to an agent is refused (403)."""

        async def endpoint(request: Request) -> Response:
            try:
                caller = self._caller(request)
                if user_only and caller.token_agent is not None:
                    raise ServiceError(403, f"Agent {caller.token_agent} may not do this: it is for users.")
                return await handler(request, caller)
            except ServiceError as e:
                return JSONResponse({"message": e.message}, status_code=e.status)
            except Error as e:
                return JSONResponse({"message": _core_message(e)}, status_code=_status_of(e))

        return endpoint

    def _caller(self, request: Request) -> Caller:
        token = request.headers.get("x-auth-token")
        owner = self.store.token_owner(token, time.time()) if token else None
        if owner is None:
            raise ServiceError(401, "Authentication required: a valid X-Auth-Token is needed.")
        tenant, token_agent = owner
        project = str(request.path_params["project"])
        if project != tenant:
            raise ServiceError(403, f"The token is not valid for project {project}.")
        root = str(request.base_url).rstrip("/")
        agent_id = request.headers.get("x-agent-id")
        if token_agent is not None:
            if self.store.get("agent", project, token_agent) is None:
                raise ServiceError(401, f"Agent {token_agent} is no longer registered: its token is void.")
            if agent_id is not None and agent_id != token_agent:
                raise ServiceError(403, f"The token was issued to agent {token_agent}, not {agent_id} (X-Agent-Id).")
            agent_id = token_agent
        elif agent_id is not None and self.store.get("agent", project, agent_id) is None:
            raise ServiceError(403, f"Agent {agent_id} (X-Agent-Id) is not registered in project {project}.")
        return Caller(project=project, root=root, agent_id=agent_id, token_agent=token_agent)

    @staticmethod
    async def _json(request: Request) -> Any:
        raw = await request.body()
        try:
            return json.loads(raw)
        except ValueError as e:
            raise ServiceError(400, f"The request body is not JSON: {e}") from None
        except RecursionError:
            # Python's parser recurses per level: ~1,000 levels of [ or {.
            raise ServiceError(400, "The request body is not JSON the service reads: nested too deeply.") from None

    @staticmethod
    def _check(operation: str, params: Dict[str, Any]) -> None:
        """Runs the core's checks of ``operation``'s parameters (what the
        client runs before sending, beyond the model's shape: e.g. a
        restore's hex password), for their error. Called after the model
        parsed, so a body's shape is reported in the model's words."""
        core.build_request(operation, params, token="emulator", tenant_id="emulator")

    def _found(self, kind: str, caller: Caller, id: str) -> Tuple[Dict[str, Any], Dict[str, Any]]:
        found = self.store.get_with_private(kind, caller.project, id)
        if found is None:
            raise ServiceError(404, f"{kind.capitalize()} not found.")
        if caller.token_agent is not None and not self._within_reach(caller, kind, found[0]):
            raise ServiceError(403, f"Agent {caller.token_agent} may not access {kind} {id}: "
                                    f"it is agent {self._owner(kind, found[0])}'s.")
        return found

    def _within_reach(self, caller: Caller, kind: str, resource: Mapping[str, Any]) -> bool:
        """Whether the agent the token was issued to may read ``resource``:
        its own, or a backup one of its restores restores from."""
        me = caller.token_agent
        if self._owner(kind, resource) == me:
            return True
        if kind == "backup":
            return any((r.get("backup") or {}).get("id") == resource.get("id")
                       for r in self.store.all_of("restore", caller.project, agent=me))
        return False

    def _event(self, caller: Caller, name: str, agent_id: Optional[str], refs: Dict[str, Optional[str]],
               extra: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        body: Dict[str, Any] = {"time": _now_iso(), "event": name}
        if agent_id is not None:
            body["agent"] = {"id": agent_id}
        for key in ("configuration", "backup", "restore", "cleanup"):
            if refs.get(key) and key not in (extra or {}):
                body[key] = {"id": refs[key]}
        body.update(extra or {})
        return self.store.add_event(caller.project, body, {"agent": agent_id, **refs})

    def _page_args(self, request: Request, default_desc: bool = False) -> Tuple[Optional[str], int, bool]:
        q = request.query_params
        limit = DEFAULT_LIMIT
        if "limit" in q:
            text = q["limit"]
            if not text.isdigit() or not 1 <= int(text) <= 100:
                raise ServiceError(400, f"Invalid limit {text!r}: must be an integer in 1..100.")
            limit = int(text)
        sort_dir = q.get("sort_dir", "desc" if default_desc else "asc")
        if sort_dir not in ("asc", "desc"):
            raise ServiceError(400, f"Invalid sort_dir {sort_dir!r}: must be asc or desc.")
        return q.get("marker") or None, limit, sort_dir == "desc"

    @staticmethod
    def _links(caller: Caller, path: List[str], items: List[Dict[str, Any]], more: bool, limit: int,
               descending: bool) -> List[Dict[str, str]]:
        if not (more and items):
            return []
        query = f"?marker={items[-1]['id']}&limit={limit}&sort_dir={'desc' if descending else 'asc'}"
        return [{"href": caller.href(*path) + query, "rel": "next"}]

    # -- identity ----------------------------------------------------------------

    async def identity(self, request: Request) -> Response:
        """``POST /identity/v2.0/tokens`` (see :mod:`.auth`)."""
        try:
            body = json.loads(await request.body())
        except (ValueError, RecursionError):
            body = None
        status, error, issued = auth.issue_token(
            self.store, body, tenant=self.tenant, users=self.users, lifetime=self.token_lifetime
        )
        if issued is None:
            return JSONResponse(error, status_code=status)
        token, username, expires = issued
        creds = auth.credentials_of(body)
        method = creds[2] if creds else "APIKEY"
        root = str(request.base_url).rstrip("/")
        return JSONResponse(auth.catalog_answer(root, self.tenant, token, username, expires, method))

    # -- generic lists, details, patches ------------------------------------------

    def list_kind(self, kind: str, *, by_agent: bool = False) -> Callable[[Request, Caller], Awaitable[Response]]:
        """``GET`` a collection (or an agent's configurations), paged."""

        async def handler(request: Request, caller: Caller) -> Response:
            marker, limit, descending = self._page_args(request)
            # An agent's token lists only its own.
            agent = caller.token_agent
            path = [COLLECTIONS[kind]]
            if by_agent:
                agent = str(request.path_params["id"])
                self._found("agent", caller, agent)
                path = ["agents", agent, COLLECTIONS[kind]]
            items, more = self.store.page(kind, caller.project, marker=marker, limit=limit,
                                          descending=descending, agent=agent)
            links = self._links(caller, path, items, more, limit, descending)
            return JSONResponse({COLLECTIONS[kind]: items, "links": links})

        return handler

    def get_kind(self, kind: str) -> Callable[[Request, Caller], Awaitable[Response]]:
        """``GET`` one resource."""

        async def handler(request: Request, caller: Caller) -> Response:
            resource, _ = self._found(kind, caller, str(request.path_params["id"]))
            return JSONResponse(resource)

        return handler

    @staticmethod
    def _owner(kind: str, resource: Mapping[str, Any]) -> Optional[str]:
        """The agent a resource belongs to (the one that may patch it)."""
        if kind == "agent":
            return str(resource["id"])
        ref = resource.get("destination_agent" if kind == "restore" else "agent")
        return str(ref["id"]) if isinstance(ref, dict) and ref.get("id") is not None else None

    def patch_kind(self, kind: str) -> Callable[[Request, Caller], Awaitable[Response]]:
        """``PATCH`` a resource: the core validates the whole patch for the
        caller's actor and returns the new resource, stored as is (an
        ``/errors`` list goes to the run's error report); a new state sends
        its event to the resource's agent. 204."""

        async def handler(request: Request, caller: Caller) -> Response:
            resource, private = self._found(kind, caller, str(request.path_params["id"]))
            patch = await self._json(request)
            owner = self._owner(kind, resource)
            if caller.agent_id is not None and owner != caller.agent_id:
                raise ServiceError(403, f"Agent {caller.agent_id} may not modify this {kind}: it is agent {owner}'s.")
            vault_empty = None
            if kind == "agent":
                vault_empty = self.store.count("backup", caller.project, agent=str(resource["id"])) == 0
            patched = core.validate_patch(kind, resource, patch, caller.actor, vault_empty)
            if kind == "backup":
                patched["restorable"] = patched.get("state") in RESTORABLE_STATES
            errors = patched.get("errors")
            if kind in STATE_EVENTS and isinstance(errors, dict):
                if "list" in errors:
                    private = {**private, "errors": errors.get("list") or []}
                patched["errors"] = {
                    "count": errors.get("count", 0),
                    "reason": errors.get("reason", ""),
                    "diagnostics": errors.get("diagnostics", ""),
                    "links": [caller.link("full", COLLECTIONS[kind], str(resource["id"]), "errors")],
                }
            self.store.update(kind, caller.project, patched, private)
            if kind in STATE_EVENTS:
                self.state_changed(caller, kind, resource.get("state"), patched)
            if kind == "configuration":
                self._event(caller, "configuration_changed", owner, {"configuration": str(resource["id"])})
            return Response(status_code=204)

        return handler

    def state_changed(self, caller: Caller, kind: str, old: Any, job: Dict[str, Any]) -> None:
        """After a job (``kind``: backup, restore, cleanup) was stored as
        ``job``: its activity moves to the front, and a new state sends its
        event to the job's agent."""
        self.record_activity(caller, kind, job)
        new = job.get("state")
        if new != old and isinstance(new, str) and new in STATE_EVENTS[kind]:
            extra: Dict[str, Any] = {}
            if new == "stop_requested":
                extra["request_id"] = str(uuid.uuid4())
            self._event(caller, STATE_EVENTS[kind][new], self._owner(kind, job), self._refs(kind, job), extra)

    def record_activity(self, caller: Caller, kind: str, job: Mapping[str, Any]) -> None:
        """Stores the job's activity as the service lists it (the sample's
        shape: type, state, last change, agent, configuration, link)."""
        agent = self._owner(kind, job)
        config = self._configuration_of(caller, kind, job)
        id = str(job["id"])
        body: Dict[str, Any] = {
            "id": id,
            "type": kind,
            "last_updated_time": _now_iso(),
            "state": job.get("state"),
            "agent": {"id": agent, "links": [caller.link("full", "agents", str(agent))]},
        }
        if config is not None:
            body["configuration"] = {"id": config, "links": [caller.link("full", "configurations", config)]}
        body["links"] = [caller.link(kind, COLLECTIONS[kind], id)]
        self.store.record_activity(caller.project, body, agent=agent, configuration=config)

    def _configuration_of(self, caller: Caller, kind: str, job: Mapping[str, Any]) -> Optional[str]:
        """The backup configuration a job belongs to (a restore's: its
        backup's); ``None`` for cleanups."""
        if kind == "restore":
            backup = self.store.get("backup", caller.project, str((job.get("backup") or {}).get("id")))
            job = backup or {}
        config = job.get("configuration")
        return str(config["id"]) if isinstance(config, dict) and config.get("id") else None

    @staticmethod
    def _refs(kind: str, resource: Mapping[str, Any]) -> Dict[str, Optional[str]]:
        """The resources a run's events name (itself, its configuration)."""
        refs: Dict[str, Optional[str]] = {kind: str(resource["id"])}
        config = resource.get("configuration")
        if isinstance(config, dict) and config.get("id"):
            refs["configuration"] = str(config["id"])
        return refs

    def run_errors(self, kind: str) -> Callable[[Request, Caller], Awaitable[Response]]:
        """``GET .../errors``: a run's error report (count, reason,
        diagnostics, the list the agent sent)."""

        async def handler(request: Request, caller: Caller) -> Response:
            id = str(request.path_params["id"])
            resource, private = self._found(kind, caller, id)
            errors = resource.get("errors") or {}
            return JSONResponse({
                "count": errors.get("count", 0),
                "reason": errors.get("reason", ""),
                "diagnostics": errors.get("diagnostics", ""),
                "list": private.get("errors", []),
                "links": [caller.link("self", COLLECTIONS[kind], id, "errors")],
            })

        return handler

    def list_events(self, kind: Optional[str]) -> Callable[[Request, Caller], Awaitable[Response]]:
        """``GET .../events`` of the project, or of one resource, paged."""

        async def handler(request: Request, caller: Caller) -> Response:
            marker, limit, descending = self._page_args(request)
            ref = None if caller.token_agent is None else ("agent", caller.token_agent)
            path = ["events"]
            if kind is not None:
                id = str(request.path_params["id"])
                self._found(kind, caller, id)
                ref = (kind, id)
                path = [COLLECTIONS[kind], id, "events"]
            items, more = self.store.events_page(caller.project, ref=ref, marker=marker, limit=limit,
                                                 descending=descending)
            return JSONResponse({"events": items, "links": self._links(caller, path, items, more, limit, descending)})

        return handler

    async def post_agent_event(self, request: Request, caller: Caller) -> Response:
        """``POST /agents/{id}/events``: an agent's event (startup, shutdown),
        read with the core's model, stored in the agent's list. 202."""
        agent_id = str(request.path_params["id"])
        self._found("agent", caller, agent_id)
        body = await self._json(request)
        event = _drop_none(core.parse_model("v2.AgentEvent", body))
        self._check("v2.events.post_agent_event", {"agent_id": agent_id, "event": body})
        event.pop("id", None)
        event.setdefault("time", _now_iso())
        event.setdefault("agent", {"id": agent_id})
        self.store.add_event(caller.project, event, {"agent": agent_id})
        # Starting shows the agent alive; shutting down, gone at once.
        if event.get("event") == "startup":
            self.store.beat(caller.project, agent_id, time.time())
        elif event.get("event") == "shutdown":
            self.store.forget_beat(agent_id)
        return Response(status_code=202)

    async def rse_heartbeat(self, request: Request, caller: Caller) -> Response:
        """``POST`` on an agent's channel (:data:`RSE_CHANNEL`), by that
        agent (``X-Agent-Id``): ``{"event": "agent_heartbeat"}`` records the
        heartbeat and lists the event in the agent's events; a
        ``host_browsed`` or ``backup_browsed`` event answers a browse
        request (:meth:`.agent_requests.AgentRequests.browsed`). 202."""
        from .agent_requests import BROWSE_RESULTS

        agent_id = str(request.path_params["id"])
        self._found("agent", caller, agent_id)
        if caller.agent_id != agent_id:
            raise ServiceError(403, f"Only agent {agent_id} (X-Agent-Id) posts on its channel.")
        body = await self._json(request)
        if isinstance(body, dict) and body.get("event") in BROWSE_RESULTS:
            self.requests.browsed(caller, agent_id, body)
            return Response(status_code=202)
        if body != {"event": HEARTBEAT_EVENT}:
            raise ServiceError(400, f'An agent\'s channel takes {{"event": "{HEARTBEAT_EVENT}"}} or a browse '
                                    f'result (host_browsed, backup_browsed), not {json.dumps(body)[:200]}.')
        event = self._event(caller, HEARTBEAT_EVENT, agent_id, {})
        # As a client reads it in the agent's events.
        core.parse_model("v2.EventList", {"events": [event]})
        self.store.beat(caller.project, agent_id, time.time())
        return Response(status_code=202)

    # -- agents' status, settings and activities ---------------------------------

    async def agent_status(self, request: Request, caller: Caller) -> Response:
        """``GET /agents/{id}/status``: ``online`` while its last heartbeat
        (or ``startup`` event) is younger than ``heartbeat_timeout`` and it
        has not posted ``shutdown`` since; ``busy`` while one of its jobs is taken up and
        not ended."""
        agent_id = str(request.path_params["id"])
        self._found("agent", caller, agent_id)
        last = self.store.last_beat(agent_id)
        online = last is not None and time.time() - last <= self.heartbeat_timeout
        return JSONResponse({"busy": self.busy(caller, agent_id), "online": online})

    def busy(self, caller: Caller, agent_id: str) -> bool:
        """Whether a job of the agent is taken up and not ended (the core's
        lifecycle: a state the agent may still leave)."""
        for kind in ("backup", "restore", "cleanup"):
            for job in self.store.all_of(kind, caller.project, agent=agent_id):
                state = str(job.get("state"))
                if state not in WAITING_STATES and core.allowed_targets(kind, state, "agent"):
                    return True
        return False

    async def agent_settings(self, request: Request, caller: Caller) -> Response:
        """``GET /agents/{id}/configuration``: what the agent runs by (the
        sample's shape): its preferences (log level, heartbeat interval and
        timeout of this emulator), its vault, and its configurations, each
        naming that vault."""
        agent_id = str(request.path_params["id"])
        agent, _ = self._found("agent", caller, agent_id)
        vault = agent.get("vault") or {}

        def per_mode(value: int) -> Dict[str, int]:
            return {"idle": value, "active": value, "real_time": value}

        configurations = []
        for config in self.store.all_of("configuration", caller.project, agent=agent_id):
            if config.get("deleted"):
                continue
            days = (config.get("retention") or {}).get("days")
            configurations.append({
                "id": config["id"],
                "name": config.get("name", ""),
                "enabled": bool(config.get("enabled", True)),
                "vault_id": vault.get("id"),
                "retention": {"days": int(days) if isinstance(days, int) else 30},
                # Manual runs only: the emulator schedules nothing.
                "times": None,
                "inclusions": config.get("inclusions", []),
                "exclusions": config.get("exclusions", []),
            })
        return JSONResponse({
            "system_preferences": {
                "environment": {"minimum_disk_space_mb": {"backup": 100, "restore": 100, "cleanup": 100}},
                "logging": {"level": agent.get("log_level", "warn")},
                "events": {"rse": {
                    "host": caller.root,
                    "channel": RSE_CHANNEL.format(project=caller.project, agent=agent_id),
                    "polling": {"interval_ms": {"idle": 10000, "active": 1000, "real_time": 300},
                                "timeout_ms": {"idle": 90000, "active": 60000, "real_time": 40000}},
                    "heartbeat": {"interval_ms": per_mode(int(self.heartbeat_interval * 1000)),
                                  "timeout_ms": per_mode(int(self.heartbeat_timeout * 1000))},
                }},
                "backup_controls": {"disable_vss": 0},
            },
            "vaults": [{
                "id": vault.get("id"),
                "use_internal": bool(vault.get("use_internal", False)),
                "encrypted": bool(vault.get("encrypted", False)),
                "links": vault.get("links", []),
            }] if vault.get("id") else [],
            "configurations": configurations,
        })

    def list_activities(self, kind: Optional[str]) -> Callable[[Request, Caller], Awaitable[Response]]:
        """``GET .../activities`` of the project, an agent or a
        configuration: newest change first (``sort_dir`` defaults to
        ``desc`` here), paged by activity id."""

        async def handler(request: Request, caller: Caller) -> Response:
            marker, limit, descending = self._page_args(request, default_desc=True)
            path = ["activities"]
            agent, config = caller.token_agent, None
            if kind is not None:
                id = str(request.path_params["id"])
                self._found(kind, caller, id)
                path = [COLLECTIONS[kind], id, "activities"]
                if kind == "agent":
                    agent = id
                else:
                    config = id
            items, more = self.store.activities_page(caller.project, agent=agent, configuration=config,
                                                     marker=marker, limit=limit, descending=descending)
            return JSONResponse({"activities": items,
                                 "links": self._links(caller, path, items, more, limit, descending)})

        return handler

    # -- agents ------------------------------------------------------------------

    async def register_agent(self, request: Request, caller: Caller) -> Response:
        """``POST /agents``: registers an agent (body: the core's
        ``v2.NewAgent``); answers the agent with its password, 201."""
        body = await self._json(request)
        new = _drop_none(core.parse_model("v2.NewAgent", body))
        self._check("v2.agents.register_agent", {"agent": body})
        id = str(uuid.uuid4())
        host = dict(new.get("host") or {})
        fingerprint = host.pop("fingerprint", None)
        if isinstance(host.get("machine"), dict):
            host["machine"] = {**host["machine"], "links": []}
        vault_id = str(uuid.uuid4())
        agent: Dict[str, Any] = {
            "project_id": caller.project,
            "id": id,
            "name": new.get("name", ""),
            "version": new.get("version", ""),
            "host": host,
            "enabled": True,
            "rsa_public_key": new.get("rsa_public_key"),
            "vault": {
                "id": vault_id,
                "name": f"phoenix_{vault_id}",
                "flavor": "swift",
                "encrypted": False,
                "region": host.get("region") or "DFW",
                "use_internal": bool((new.get("vault") or {}).get("use_internal", False)),
                "links": [],
            },
            "log_level": "warn",
            "registered_time": datetime.now(timezone.utc).isoformat(),
            "links": [caller.link("self", "agents", id)]
            + [caller.link(rel, "agents", id, rel)
               for rel in ("activities", "configuration", "configurations", "events", "logfiles", "status")],
        }
        password = str(uuid.uuid4())
        self.store.insert("agent", caller.project, agent, agent=id,
                          private={"password": password, "fingerprint": fingerprint})
        self._event(caller, "agent_registered", id, {}, {
            "agent": {"id": id, "name": agent["name"], "host": {"os": host.get("os", {})}},
        })
        answer = {**agent, "password": password}
        # The sample's member order: the password right after the id.
        ordered = {k: answer[k] for k in ("project_id", "id", "password")}
        ordered.update({k: v for k, v in answer.items() if k not in ordered})
        return JSONResponse(ordered, status_code=201, headers={"Location": caller.href("agents", id)})

    async def authenticate_agent(self, request: Request) -> Response:
        """``POST /agents/tokens`` (no token needed; body: the core's
        ``v2.TokenRequest``): the agent's id and the password registration
        gave it, and the host fingerprint it registered with (else 409, as
        the reference says). The token (the sample's ``{"token": {"id",
        "expires"}}``) is the registering user's in the reference; here it
        is also bound to the agent: requests with it are that agent's
        (``X-Agent-Id`` may be left out, or must name it) and reach only
        its own resources (403 otherwise; users' operations too)."""
        try:
            project = str(request.path_params["project"])
            body = await self._json(request)
            new = core.parse_model("v2.TokenRequest", body)
            self._check("v2.agents.authenticate_agent", {"credentials": body})
            refused = ServiceError(401, "Unable to authenticate the agent with the credentials provided.")
            if project != self.tenant or new["project_id"] != project:
                raise refused
            found = self.store.get_with_private("agent", project, str(new["id"]))
            if found is None or found[1].get("password") != new["password"]:
                raise refused
            fingerprint = found[1].get("fingerprint")
            if fingerprint is not None and (new.get("host") or {}).get("fingerprint") != fingerprint:
                raise ServiceError(409, f"The host fingerprint does not match the one agent {new['id']} registered "
                                        "with: two agents may be authenticating as one.")
            token = secrets.token_hex(16)
            expires = time.time() + self.token_lifetime
            self.store.add_agent_token(token, project, str(new["id"]), expires)
            when = datetime.fromtimestamp(expires, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
            return JSONResponse({"token": {"id": token, "expires": when}})
        except ServiceError as e:
            return JSONResponse({"message": e.message}, status_code=e.status)
        except Error as e:
            return JSONResponse({"message": _core_message(e)}, status_code=_status_of(e))

    async def delete_agent(self, request: Request, caller: Caller) -> Response:
        """``DELETE /agents/{id}``: 204, or 404."""
        agent_id = str(request.path_params["id"])
        if not self.store.delete("agent", caller.project, agent_id):
            raise ServiceError(404, "Agent not found.")
        self.store.forget_beat(agent_id)
        return Response(status_code=204)

    # -- configurations ----------------------------------------------------------

    async def create_configuration(self, request: Request, caller: Caller) -> Response:
        """``POST /configurations`` (body: the core's
        ``v2.CreateConfigurationBody``) for an existing agent; 201."""
        body = await self._json(request)
        new = _drop_none(core.parse_model("v2.CreateConfigurationBody", body))
        self._check("v2.configurations.create_configuration", {"body": body})
        agent_id = str(new["agent_id"])
        if self.store.get("agent", caller.project, agent_id) is None:
            raise ServiceError(400, f"Agent {agent_id} is not registered.")
        id = str(uuid.uuid4())
        schedule = dict(new.get("schedule") or {})
        schedule.setdefault("start", datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
        config: Dict[str, Any] = {
            "project_id": caller.project,
            "id": id,
            "agent": {"id": agent_id, "links": [caller.link("full", "agents", agent_id)]},
            "name": new.get("name", ""),
            "enabled": new.get("enabled", True),
            "schedule": schedule,
            "retention": new.get("retention", {}),
            "inclusions": new.get("inclusions", []),
            "exclusions": new.get("exclusions", []),
            "notifications": new.get("notifications", []),
            "deleted": False,
            "backups": {"last_completed": None},
            "next": {"scheduled_time": None},
            "links": [caller.link("self", "configurations", id)]
            + [caller.link(rel, "configurations", id, rel) for rel in ("activities", "events")],
        }
        self.store.insert("configuration", caller.project, config, agent=agent_id)
        self._event(caller, "configuration_changed", agent_id, {"configuration": id})
        return JSONResponse(config, status_code=201, headers={"Location": caller.href("configurations", id)})

    async def delete_configuration(self, request: Request, caller: Caller) -> Response:
        """``DELETE /configurations/{id}``: 204, or 404; tells the agent."""
        id = str(request.path_params["id"])
        config, _ = self._found("configuration", caller, id)
        self.store.delete("configuration", caller.project, id)
        self._event(caller, "configuration_changed", self._owner("configuration", config), {"configuration": id})
        return Response(status_code=204)

    # -- backups, restores, cleanups ---------------------------------------------

    def start_run(self, kind: str) -> Callable[[Request, Caller], Awaitable[Response]]:
        """``POST /backups``, ``/restores``, ``/cleanups``: a new run in
        ``start_requested`` and its ``*_start_request`` event for the agent
        that is to run it; 201 with the resource."""
        model = {"backup": "v2.StartBackupBody", "restore": "v2.StartRestoreBody", "cleanup": "v2.StartCleanupBody"}[kind]
        operation = {"backup": "v2.backups.start_backup", "restore": "v2.restores.start_restore",
                     "cleanup": "v2.cleanups.start_cleanup"}[kind]
        build = {"backup": self._new_backup, "restore": self._new_restore, "cleanup": self._new_cleanup}[kind]

        async def handler(request: Request, caller: Caller) -> Response:
            body = await self._json(request)
            new = _drop_none(core.parse_model(model, body))
            self._check(operation, {"body": body})
            id = str(uuid.uuid4())
            resource, agent_id, event = build(caller, id, new)
            self.store.insert(kind, caller.project, resource, agent=agent_id)
            self.record_activity(caller, kind, resource)
            self._event(caller, f"{kind}_start_request", agent_id, self._refs(kind, resource),
                        {"request_id": str(uuid.uuid4()), **event})
            return JSONResponse(resource, status_code=201, headers={"Location": caller.href(COLLECTIONS[kind], id)})

        return handler

    @staticmethod
    def _errors(caller: Caller, collection: str, id: str) -> Dict[str, Any]:
        return {"count": 0, "reason": "", "diagnostics": "",
                "links": [caller.link("full", collection, id, "errors")]}

    @staticmethod
    def _run_links(caller: Caller, collection: str, id: str) -> List[Dict[str, str]]:
        return [caller.link("self", collection, id), caller.link("events", collection, id, "events")]

    def _new_backup(self, caller: Caller, id: str, new: Mapping[str, Any]) -> Tuple[Dict[str, Any], str, Dict[str, Any]]:
        config_id = str(new["configuration_id"])
        config = self.store.get("configuration", caller.project, config_id)
        if config is None:
            raise ServiceError(400, f"Configuration {config_id} does not exist.")
        agent_id = str(config["agent"]["id"])
        backup = {
            "project_id": caller.project,
            "id": id,
            "agent": {"id": agent_id, "links": [caller.link("full", "agents", agent_id)]},
            "configuration": {"id": config_id, "links": [caller.link("full", "configurations", config_id)]},
            "state": "start_requested",
            "started_time": None,
            "ended_time": None,
            "snapshot_id": None,
            "errors": self._errors(caller, "backups", id),
            "files_searched": 0,
            "files_backed_up": 0,
            "bytes_searched": 0,
            "bytes_backed_up": 0,
            "bytes_in_db": 0,
            "bandwidth_avg_bps": 0,
            "restorable": False,
            "links": self._run_links(caller, "backups", id),
        }
        return backup, agent_id, {}

    def _new_restore(self, caller: Caller, id: str, new: Mapping[str, Any]) -> Tuple[Dict[str, Any], str, Dict[str, Any]]:
        backup_id = str(new["backup_id"])
        backup = self.store.get("backup", caller.project, backup_id)
        if backup is None:
            raise ServiceError(400, f"Backup {backup_id} does not exist.")
        agent_id = str(new["destination_agent_id"])
        if self.store.get("agent", caller.project, agent_id) is None:
            raise ServiceError(400, f"Agent {agent_id} is not registered.")
        restore = {
            "project_id": caller.project,
            "id": id,
            "backup": {"id": backup_id, "links": [caller.link("full", "backups", backup_id)]},
            "destination_agent": {"id": agent_id, "links": [caller.link("full", "agents", agent_id)]},
            "destination_path": new.get("destination_path", ""),
            "overwrite_files": bool(new.get("overwrite_files", False)),
            "inclusions": new.get("inclusions", []),
            "exclusions": new.get("exclusions", []),
            "state": "start_requested",
            "started_time": None,
            "ended_time": None,
            "errors": self._errors(caller, "restores", id),
            "files_restored": 0,
            "bytes_restored": 0,
            "links": self._run_links(caller, "restores", id),
        }
        password = new.get("encrypted_password_hex")
        return restore, agent_id, self.restore_start_event(caller, restore, backup, password)

    def restore_start_event(self, caller: Caller, restore: Mapping[str, Any], backup: Mapping[str, Any],
                            encrypted_password_hex: Optional[str]) -> Dict[str, Any]:
        """The members of a ``restore_start_request`` beyond its name: what
        the agent needs to run it (the vault it reads, the snapshot, the
        selection, the vault password encrypted with its key)."""
        source = self.store.get("agent", caller.project, str(backup["agent"]["id"]))
        vault = (source or {}).get("vault") or {}
        event: Dict[str, Any] = {
            "source_agent": {"id": str(backup["agent"]["id"]),
                             "vault": {"id": vault.get("id"), "encrypted": bool(vault.get("encrypted"))}},
            "configuration": {"id": backup["configuration"]["id"]},
            "backup": {"id": str(backup["id"]), "snapshot_id": backup.get("snapshot_id")},
            "restore": {k: restore[k] for k in ("id", "destination_path", "overwrite_files", "inclusions", "exclusions")},
        }
        if encrypted_password_hex is not None:
            event["encrypted_password_hex"] = encrypted_password_hex
        return event

    def _new_cleanup(self, caller: Caller, id: str, new: Mapping[str, Any]) -> Tuple[Dict[str, Any], str, Dict[str, Any]]:
        agent_id = str(new["agent_id"])
        if self.store.get("agent", caller.project, agent_id) is None:
            raise ServiceError(400, f"Agent {agent_id} is not registered.")
        cleanup = {
            "project_id": caller.project,
            "id": id,
            "agent": {"id": agent_id, "links": [caller.link("full", "agents", agent_id)]},
            "state": "start_requested",
            "started_time": None,
            "ended_time": None,
            "snapshot_ids": [],
            "errors": self._errors(caller, "cleanups", id),
            "bytes_before": 0,
            "bytes_after": 0,
            "links": self._run_links(caller, "cleanups", id),
        }
        return cleanup, agent_id, {}
