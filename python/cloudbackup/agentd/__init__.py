"""``cloudbackup agent``: the reference agent loop. It registers with the
service once (its id, password and RSA key kept in a state directory, so a
restart is the same agent), polls its events, runs the backups and
restores users request against its vault with :class:`StoredVault`, and
reports each job with :class:`cloudbackup.JobReporter` (every patch the
core's, checked by the core's policy before it is sent).

A stop request reaches a running job through a watcher thread that reads
the job again every ``stop_check_interval`` seconds; the job is then
interrupted at its next vault read or write (the agent's storage wrapper
raises) or progress report, and reported ``stopped``.

While it runs, a heartbeat thread posts ``{"event": "agent_heartbeat"}``
every ``heartbeat_interval`` seconds on the agent's event channel, as the
reference's agents do: the service's agent settings (``GET
/agents/{id}/configuration``) name it (``system_preferences.events.rse``:
``host`` + ``channel``) and the interval (``heartbeat.interval_ms`` of the
``active`` mode), so the service shows the agent online (``GET
/agents/{id}/status``). ``startup`` and ``shutdown`` events (the API's)
mark its start and end.

It also answers the requests users make of it through the service: a
``vault_encryption_enable`` adds the password the service sends (encrypted
with the agent's RSA key) to the vault's key slots (``_change``: replaces
the old one by the new), a ``vault_password_verify`` tries to open the
vault with the password sent, each reported with the API's report
operation (a password that does not open the vault: ``verified: false``);
a ``host_browse`` lists a folder of the host and a ``backup_browse`` one of
a backup's snapshot in the vault (the backed-up host's paths), answered
with a ``host_browsed`` / ``backup_browsed`` event on the agent's channel
(``succeeded: false`` and no items for a path that is not there).

On start, jobs of this agent left ``queued``, ``preparing`` or
``in_progress`` by a killed agent are reported ``failed`` ("agent
restarted"), and those left ``stop_requested`` are reported ``stopped``:
nothing stays stuck. A restore started again resumes (files already
complete are kept).
"""

from __future__ import annotations

import base64
import json
import mimetypes
import os
import platform
import socket
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Dict, List, Mapping, Optional

from .. import __version__
from ..agent import AgentKey, snapshot_id_for, vault_snapshot_prefix
from ..api import JobReporter, filter_globs
from ..engine import BackupFilter, Buffer, Snapshot, relative_snapshot_path, unquote_path
from ..errors import ApiError, Error, WrongPassword
from ..locking import DEFAULT_RETRY_LOCK
from ..storage import LocalStorage, ObjectInfo, Storage, open_storage, write_atomic
from ..store import StoredVault

__all__ = ["Agent", "AgentConfig", "JobStopped", "DEFAULT_HEARTBEAT_INTERVAL"]

#: Seconds between heartbeats when neither the options nor the service's
#: settings say.
DEFAULT_HEARTBEAT_INTERVAL = 30.0
#: The v2 backup counters (the core's session has more).
BACKUP_COUNTERS = ("files_searched", "files_backed_up", "bytes_searched", "bytes_backed_up", "bytes_in_db")


class JobStopped(Exception):
    """Raised inside a running job (from the vault's storage or the
    progress callback) once a stop was requested: unwinds the backup or
    restore, which then leaves no partial file or committed snapshot."""


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _log(message: str) -> None:
    print(f"cloudbackup agent: {message}", file=sys.stderr, flush=True)


@dataclass
class AgentConfig:
    """What the agent is started with (``cloudbackup agent``'s options)."""

    #: The service root (``http://127.0.0.1:8080``); ``None``: Identity's catalog.
    api: Optional[str]
    #: Identity v2.0's root (``http://127.0.0.1:8080/identity/v2.0``).
    identity: str
    username: str
    api_key: str
    #: The vault: a directory or a Swift URL (:func:`open_storage`).
    vault: str
    #: Where the agent keeps its id, password, key and event marker.
    state_dir: str
    #: The vault password when a request does not carry one encrypted.
    password: Optional[str] = None
    #: Create the vault when there is none yet.
    init_vault: bool = False
    #: The agent's name when it registers (default: the host name).
    name: Optional[str] = None
    poll_interval: float = 1.0
    stop_check_interval: float = 0.5
    progress_interval: float = 1.0
    #: Seconds to wait before each vault read or write (demos and tests:
    #: a job slow enough to watch or to stop).
    storage_delay: float = 0.0
    #: Vault settings when it is created (chunker sizes, bundle size).
    vault_settings: Optional[Dict[str, Any]] = None
    #: Seconds between heartbeats; ``None``: the service's agent settings.
    heartbeat_interval: Optional[float] = None
    #: Key-derivation parameters of the passwords a vault encryption
    #: request adds (``None``: the engine's default).
    kdf: Optional[Dict[str, Any]] = None
    #: Seconds a backup or restore job waits for a busy vault's lock (a gc
    #: or prune running) before it fails: the core's default, as the C
    #: agent's ``agent run`` (``cloudbackup agent`` reads
    #: ``$CLOUDBACKUP_RETRY_LOCK``).
    retry_lock: float = DEFAULT_RETRY_LOCK


class _JobStorage:
    """The vault's storage as a job sees it: raises :class:`JobStopped` at
    the next operation once the job is to stop, after ``delay`` seconds."""

    def __init__(self, inner: Storage, delay: float) -> None:
        self.inner = inner
        self.url = inner.url
        self.delay = delay
        self.stop: Optional[threading.Event] = None

    def _gate(self) -> None:
        if self.delay:
            time.sleep(self.delay)
        if self.stop is not None and self.stop.is_set():
            raise JobStopped("stop requested")

    def get(self, name: str) -> bytes:
        self._gate()
        return self.inner.get(name)

    def get_range(self, name: str, offset: int, length: int) -> bytes:
        self._gate()
        return self.inner.get_range(name, offset, length)

    def put(self, name: str, data: Buffer) -> None:
        self._gate()
        self.inner.put(name, data)

    def list(self, kind: str) -> List[ObjectInfo]:
        return self.inner.list(kind)

    def delete(self, name: str) -> None:
        self.inner.delete(name)

    def exists(self, name: str) -> bool:
        return self.inner.exists(name)

    def create(self) -> None:
        self.inner.create()


class _Job:
    """One running job: its reporter (shared with the stop watcher under a
    lock), its counters, and the stop flag."""

    def __init__(self, agent: "Agent", kind: str, resource: Mapping[str, Any]) -> None:
        self.agent = agent
        self.kind = kind
        self.id = str(resource["id"])
        self.reporter = JobReporter(kind, dict(resource), agent.config.progress_interval)
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.counters: Dict[str, int] = {}
        self._watching = threading.Event()

    def send(self, make: Callable[[JobReporter], Optional[List[Dict[str, Any]]]]) -> None:
        """Sends the patch ``make`` builds (none: nothing to send)."""
        with self.lock:
            patch = make(self.reporter)
        if patch:
            self.agent.patch(self.kind, self.id, patch)

    def observe(self) -> None:
        """Reads the job again; a stop request sets :attr:`stop`."""
        resource = self.agent.get(self.kind, self.id)
        with self.lock:
            self.reporter.observe(resource)
            if self.reporter.stop_requested:
                self.stop.set()

    def progress(self, counters: Mapping[str, int]) -> None:
        """Reports counters (throttled by the reporter); raises
        :class:`JobStopped` once a stop was requested."""
        if self.stop.is_set():
            raise JobStopped("stop requested")
        self.counters.update(counters)
        try:
            self.send(lambda r: r.progress(self.counters, time.monotonic_ns()))
        except (ApiError, Error):
            # Refused: most likely a stop request came in between.
            self.observe()
            if self.stop.is_set():
                raise JobStopped("stop requested") from None
            raise

    def watch(self) -> threading.Thread:
        """Starts the stop watcher (ends with :meth:`unwatch`)."""

        def run() -> None:
            while not self._watching.wait(self.agent.config.stop_check_interval):
                try:
                    self.observe()
                except Exception as e:  # noqa: BLE001 - a missed read is retried
                    _log(f"{self.kind} {self.id}: could not read it again: {e}")
                if self.stop.is_set():
                    return

        thread = threading.Thread(target=run, name=f"watch-{self.id}", daemon=True)
        thread.start()
        return thread

    def unwatch(self, thread: threading.Thread) -> None:
        self._watching.set()
        thread.join()


class Agent:
    """The agent: :meth:`start` registers (or loads its identity) and
    recovers jobs a killed run left behind; :meth:`run` polls events until
    ``stop`` is set."""

    def __init__(self, config: AgentConfig) -> None:
        from ..client import Client  # httpx: only the agent needs it

        self.config = config
        os.makedirs(config.state_dir, mode=0o700, exist_ok=True)
        self._state_file = os.path.join(config.state_dir, "agent.json")
        self._key_file = os.path.join(config.state_dir, "agent-key.der")
        self.key = self._load_key()
        self.state: Dict[str, Any] = {}
        if os.path.exists(self._state_file):
            with open(self._state_file, encoding="utf-8") as f:
                self.state = dict(json.load(f))
        self._client_class = Client
        #: Clients :meth:`connect` replaced (closed with the agent).
        self._retired: List[Any] = []
        self._connect_lock = threading.Lock()
        self.user = Client(username=config.username, api_key=config.api_key,
                           identity_url=config.identity, base_url=config.api)
        self.client = self.user
        self.storage = _JobStorage(open_storage(config.vault), config.storage_delay)
        self.heartbeat_interval = config.heartbeat_interval or DEFAULT_HEARTBEAT_INTERVAL
        #: The agent's event channel (from its settings, on :meth:`start`).
        self.heartbeat_url: Optional[str] = None

    # -- identity ------------------------------------------------------------

    def _load_key(self) -> AgentKey:
        if os.path.exists(self._key_file):
            with open(self._key_file, "rb") as f:
                return AgentKey.from_der(f.read())
        key = AgentKey.generate(2048)
        write_atomic(self._key_file, key.to_der())
        os.chmod(self._key_file, 0o600)
        return key

    def _save_state(self) -> None:
        write_atomic(self._state_file, json.dumps(self.state).encode())
        os.chmod(self._state_file, 0o600)

    @property
    def id(self) -> str:
        """The agent's id (after :meth:`start`)."""
        return str(self.state["id"])

    def register(self) -> None:
        """Registers with the service unless the state directory already
        holds this agent's id (and the service still knows it)."""
        if self.state.get("id"):
            try:
                self.user.call("v2.agents.get_agent", {"agent_id": self.state["id"]})
                return
            except ApiError as e:
                if e.status != 404:
                    raise
                _log(f"agent {self.state['id']} is no longer registered: registering again")
        fingerprint = str(uuid.uuid4())
        body = {
            "name": self._name(),
            "version": __version__,
            "host": {
                "flavor": "nova",
                "region": "DFW",
                "machine": {"id": str(uuid.uuid5(uuid.NAMESPACE_DNS, socket.gethostname()))},
                **self._host(fingerprint),
            },
            "rsa_public_key": self.key.rsa_public_key(),
            "vault": {"use_internal": False},
        }
        answer = self.user.call("v2.agents.register_agent", {"agent": body})
        self.state = {"id": answer["id"], "password": answer.get("password"), "fingerprint": fingerprint,
                      "marker": None}
        self._save_state()
        _log(f"registered as agent {answer['id']}")

    def _name(self) -> str:
        return self.config.name or socket.gethostname()

    @staticmethod
    def _host(fingerprint: str) -> Dict[str, Any]:
        """The host as registration and authentication describe it."""
        uname = platform.uname()
        return {
            "os": {"name": uname.system, "version": uname.release, "architecture": "64-bit"},
            "fingerprint": fingerprint,
            "addresses": [{"version": 4, "addr": "127.0.0.1"}],
        }

    def connect(self) -> None:
        """The agent's own client (:attr:`client`): with a token issued to
        the agent (``POST /agents/tokens``: its id, the password
        registration gave it, its host fingerprint), and ``X-Agent-Id``.
        Where the service issues none (or the state directory predates the
        fingerprint), the user's credentials with ``X-Agent-Id``. A 409
        (another host authenticates as this agent) is raised."""
        old = self.client
        self.client = self._agent_token_client() or self._client_class(
            username=self.config.username, api_key=self.config.api_key,
            identity_url=self.config.identity, base_url=self.config.api, agent_id=self.id,
        )
        if old is not self.user:
            self._retired.append(old)

    def _agent_token_client(self) -> Any:
        """A client with the agent's own token, or ``None`` (see :meth:`connect`)."""
        if not (self.state.get("password") and self.state.get("fingerprint")):
            return None
        session = self.user.session or self.user.authenticate()
        credentials = {"project_id": session.tenant_id, "id": self.id, "password": self.state["password"],
                       "name": self._name(), "version": __version__, "host": self._host(self.state["fingerprint"])}
        try:
            answer = self.user.call("v2.agents.authenticate_agent", {"credentials": credentials})
        except ApiError as e:
            if e.status == 409:
                raise
            _log(f"no agent token ({e.status}: {e}): the user's credentials with X-Agent-Id")
            return None
        return self._client_class(token=str(answer["token"]["id"]), tenant_id=session.tenant_id,
                                  base_url=session.base_url, agent_id=self.id)

    def start(self) -> None:
        """Registers (or reloads), switches to the agent's own calls
        (:meth:`connect`), tells the service it started, and ends the jobs
        a killed run left behind."""
        self.register()
        self.connect()
        self.client.call("v2.events.post_agent_event", {"agent_id": self.id, "event": {"event": "startup"}})
        self._read_settings()
        self.recover()

    def _read_settings(self) -> None:
        """Reads the agent's settings: where its event channel is, and the
        heartbeat interval (the options' wins; else the ``active`` mode's,
        else :data:`DEFAULT_HEARTBEAT_INTERVAL`). Without settings no
        heartbeat is sent (the service cannot be told)."""
        interval: Optional[float] = None
        try:
            settings = self.client.call("v2.settings.get_agent_settings", {"agent_id": self.id})
            rse = settings["system_preferences"]["events"]["rse"]
            self.heartbeat_url = str(rse["host"]).rstrip("/") + "/" + str(rse["channel"]).lstrip("/")
            ms = rse["heartbeat"]["interval_ms"]["active"]
            if isinstance(ms, int) and ms > 0:
                interval = ms / 1000.0
        except Exception as e:  # noqa: BLE001 - the agent works without heartbeats
            _log(f"agent settings not read ({type(e).__name__}: {e}): no heartbeats")
        self.heartbeat_interval = self.config.heartbeat_interval or interval or DEFAULT_HEARTBEAT_INTERVAL

    def _reconnect(self, refused: Any = None) -> None:
        """A new agent client after a 401 (unless another thread already
        replaced ``refused``, the client that got it)."""
        with self._connect_lock:
            if refused is not None and self.client is not refused:
                return
            try:
                self.connect()
            except Exception as e:  # noqa: BLE001 - tried again at the next 401
                _log(f"could not authenticate again: {type(e).__name__}: {e}")

    def heartbeat(self) -> None:
        """Posts one ``agent_heartbeat`` on the agent's event channel (as
        the agent: its token and ``X-Agent-Id``)."""
        if self.heartbeat_url is None:
            return
        self.post_event({"event": "agent_heartbeat"})

    def post_event(self, body: Mapping[str, Any]) -> None:
        """Posts an event on the agent's channel (as the agent: its token
        and ``X-Agent-Id``); raises :class:`Error` unless it is accepted
        (202), or when the settings named no channel."""
        import httpx

        url = self.heartbeat_url
        if url is None:
            raise Error(f"no event channel (agent settings not read): {body.get('event')} not sent")

        def post(token: str) -> httpx.Response:
            return httpx.post(url, json=dict(body), timeout=30.0, headers={
                "X-Auth-Token": token, "X-Agent-Id": self.id, "User-Agent": f"cloudbackup-agent/{__version__}"})

        client = self.client
        answer = post((client.session or client.authenticate()).token)
        if answer.status_code == 401 and client.can_reauthenticate:
            # The user's token expired: a new one, once (an agent token is
            # renewed by the polling loop).
            answer = post(client.authenticate().token)
        if answer.status_code == 401 and body.get("event") != "agent_heartbeat":
            # The agent's token expired: a new one, once.
            self._reconnect(client)
            client = self.client
            answer = post((client.session or client.authenticate()).token)
        if answer.status_code != 202:
            raise Error(f"{body.get('event')} refused: {answer.status_code} {answer.text[:200]}")

    def _heartbeats(self, stop: threading.Event) -> threading.Thread:
        """Starts the heartbeat thread (one now, then every interval, until
        ``stop``); a failed post is logged and the next one tried."""

        def run() -> None:
            while not stop.is_set():
                try:
                    self.heartbeat()
                except Exception as e:  # noqa: BLE001 - the service may be away for a while
                    _log(f"heartbeat not sent: {type(e).__name__}: {e}")
                stop.wait(self.heartbeat_interval)

        thread = threading.Thread(target=run, name="heartbeat", daemon=True)
        thread.start()
        return thread

    def close(self) -> None:
        """Tells the service the agent stops; closes the connections."""
        try:
            if self.state.get("id") and self.client is not self.user:
                self.client.call("v2.events.post_agent_event", {"agent_id": self.id, "event": {"event": "shutdown"}})
        except Exception as e:  # noqa: BLE001 - best effort on the way out
            _log(f"shutdown event not sent: {e}")
        if self.client is not self.user:
            self.client.close()
        for retired in self._retired:
            retired.close()
        self.user.close()

    # -- service calls ---------------------------------------------------------

    def call(self, operation: str, params: Dict[str, Any]) -> Any:
        """An agent's call; a 401 (its token expired mid-job) authenticates
        again and sends it once more."""
        client = self.client
        try:
            return client.call(operation, params)
        except ApiError as e:
            if e.status != 401:
                raise
            self._reconnect(client)
            return self.client.call(operation, params)

    def get(self, kind: str, id: str) -> Dict[str, Any]:
        """The service's copy of a job."""
        result: Dict[str, Any] = self.call(f"v2.{kind}s.get_{kind}", {f"{kind}_id": id})
        return result

    def patch(self, kind: str, id: str, patch: List[Dict[str, Any]]) -> None:
        """PATCHes a job."""
        self.call(f"v2.{kind}s.update_{kind}", {f"{kind}_id": id, "patch": patch})

    def recover(self) -> None:
        """Ends this agent's jobs a killed run left running: ``failed``
        ("agent restarted"), or ``stopped`` when a stop was requested."""
        for kind in ("backup", "restore"):
            for job in list(self.client.paginate(f"v2.{kind}s.list_{kind}s", {"page": {"limit": 100}})):
                reporter = JobReporter(kind, job)
                if not reporter.runs_on(self.id):
                    continue
                state = reporter.state
                patch = reporter.recover(_now())
                if patch is None:
                    continue
                self.patch(kind, str(job["id"]), patch)
                _log(f"{kind} {job['id']} was {state} when the agent stopped: reported {patch[0]['value']}")

    # -- events ----------------------------------------------------------------

    def poll(self) -> int:
        """Reads the events since the last one seen and handles them in
        order; returns how many. The marker is saved before a job runs, so
        a killed job is not started again by its old event (recover ends it)."""
        params: Dict[str, Any] = {"agent_id": self.id, "page": {"limit": 100}}
        if self.state.get("marker"):
            params["page"]["marker"] = self.state["marker"]
        events = list(self.client.paginate("v2.events.list_agent_events", params))
        for event in events:
            self.state["marker"] = str(event["id"])
            self._save_state()
            self.handle(event)
        return len(events)

    def handle(self, event: Mapping[str, Any]) -> None:
        """Runs what one event asks for."""
        name = event.get("event")
        try:
            if name == "backup_start_request":
                self.run_backup(str(event["backup"]["id"]), event)
            elif name == "restore_start_request":
                self.run_restore(str(event["restore"]["id"]), event)
            elif name in ("vault_encryption_enable", "vault_encryption_change"):
                self.encrypt_vault(event)
            elif name == "vault_password_verify":
                self.verify_password(event)
            elif name in ("host_browse", "backup_browse"):
                self.browse(event)
        except Exception as e:  # noqa: BLE001 - one bad job does not end the agent
            _log(f"{name} {event.get('id')}: {type(e).__name__}: {e}")

    def run(self, stop: threading.Event) -> None:
        """Polls every ``poll_interval`` seconds until ``stop`` is set,
        sending heartbeats meanwhile (also while a job runs)."""
        heartbeats = self._heartbeats(stop)
        try:
            while not stop.is_set():
                try:
                    self.poll()
                except ApiError as e:
                    _log(f"polling events failed: {e}")
                    if e.status == 401:
                        # The agent's token expired (or was revoked): a new one.
                        self._reconnect(None)
                except Exception as e:  # noqa: BLE001 - the service may be away for a while
                    _log(f"polling events failed: {type(e).__name__}: {e}")
                stop.wait(self.config.poll_interval)
        finally:
            stop.set()
            heartbeats.join()

    # -- jobs ------------------------------------------------------------------

    def _password(self, event: Mapping[str, Any]) -> str:
        hex_ = event.get("encrypted_password_hex")
        if isinstance(hex_, str) and hex_:
            return self.key.decrypt_password(hex_)
        if self.config.password is None:
            raise Error("no vault password: none in the request, and neither --password-file nor CLOUDBACKUP_PASSWORD")
        return self.config.password

    def _cache(self) -> Optional[bool]:
        """The vault's metadata cache: none for a local vault (the wrapper
        hides that it is local), else the default."""
        return False if isinstance(self.storage.inner, LocalStorage) else None

    def _vault(self, password: str) -> StoredVault:
        if self.config.init_vault:
            return StoredVault.open_or_init(self.storage, password, self.config.vault_settings, cache=self._cache())
        return StoredVault.open(self.storage, password, cache=self._cache())

    def _run(self, kind: str, id: str, work: Callable[[_Job], Optional[Any]]) -> Optional[str]:
        """Runs a job through queued, preparing and in_progress to its end
        (``work`` returns the ``/errors`` report or None); returns the final
        state, or None when the job was no longer to run."""
        job = _Job(self, kind, self.get(kind, id))
        if job.reporter.is_finished or job.reporter.state not in ("start_requested", "stop_requested"):
            _log(f"{kind} {id} is {job.reporter.state}: not run")
            return None
        if job.reporter.stop_requested:
            job.send(lambda r: r.finished({}, None, _now()))
            return "stopped"
        job.send(lambda r: r.queued())
        watcher = job.watch()
        self.storage.stop = job.stop
        try:
            job.send(lambda r: r.preparing())
            job.send(lambda r: r.started(_now()))
            errors = work(job)
            if job.stop.is_set():
                raise JobStopped("stop requested")
            job.send(lambda r: r.finished(job.counters, errors, _now()))
        except JobStopped:
            job.send(lambda r: r.finished(job.counters, None, _now()))
        except Exception as e:  # noqa: BLE001 - reported as the job's failure
            _log(f"{kind} {id} failed: {type(e).__name__}: {e}")
            job.observe()
            job.send(lambda r: r.finished(job.counters, None, _now()) if r.stop_requested else r.failed(str(e), _now()))
        finally:
            self.storage.stop = None
            job.unwatch(watcher)
        with job.lock:
            state = job.reporter.state
        _log(f"{kind} {id}: {state}")
        return state

    def run_backup(self, backup_id: str, event: Mapping[str, Any]) -> Optional[str]:
        """Backs up the configuration's inclusions into the vault."""
        backup = self.get("backup", backup_id)
        config = self.call("v2.configurations.get_configuration",
                                  {"configuration_id": backup["configuration"]["id"]})
        folders = [str(i["path"]) for i in config.get("inclusions") or []]
        if len(folders) != 1 or not os.path.isdir(folders[0]):
            # One source tree per snapshot (the vault's); several
            # inclusions would be several snapshots, not done yet.
            raise Error(f"backup {backup_id}: the configuration must include exactly one folder, not {folders}")
        source = os.path.abspath(folders[0])
        exclusions = self._relative_filters(config.get("exclusions") or [], source)

        def work(job: _Job) -> Optional[Any]:
            vault = self._vault(self._password(event))
            searched = 0

            def progress(n: int) -> None:
                nonlocal searched
                searched += n
                job.progress({"bytes_searched": searched})

            result = vault.backup(source, progress=progress, retry_lock=self.config.retry_lock,
                                  selection=BackupFilter(exclude=exclusions) if exclusions else None)
            job.counters.update({k: int(v) for k, v in result.counters.items() if k in BACKUP_COUNTERS})
            self.patch("backup", job.id, [{"op": "replace", "path": "/snapshot_id",
                                           "value": snapshot_id_for(result.snapshot_id)}])
            snapshot = Snapshot.open(vault.vault, result.snapshot_id, vault.read("snapshots", result.snapshot_id))
            return snapshot.error_report()

        return self._run("backup", backup_id, work)

    @staticmethod
    def _relative_filters(filters: List[Mapping[str, Any]], root: str) -> List[str]:
        """The v2 path filters under ``root`` as snapshot patterns (the
        snapshot names ``root`` ``/``)."""
        relative = []
        for f in filters:
            path = os.path.abspath(str(f["path"]))
            if path.startswith(root.rstrip("/") + "/"):
                relative.append({"type": f.get("type", "file"), "path": "/" + os.path.relpath(path, root)})
        return filter_globs(relative) if relative else []

    @staticmethod
    def _covers(filters: List[Mapping[str, Any]], root: str) -> bool:
        """Whether a folder filter names ``root`` or a folder above it."""
        under = root.rstrip("/") + "/"
        return any(f.get("type") == "folder" and under.startswith(os.path.abspath(str(f["path"])).rstrip("/") + "/")
                   for f in filters)

    def run_restore(self, restore_id: str, event: Mapping[str, Any]) -> Optional[str]:
        """Restores the backup's snapshot into the restore's destination."""
        restore = self.get("restore", restore_id)
        backup = self.get("backup", str(restore["backup"]["id"]))
        snapshot_id = backup.get("snapshot_id")
        if snapshot_id is None:
            snapshot_id = (event.get("backup") or {}).get("snapshot_id")

        def work(job: _Job) -> Optional[Any]:
            if snapshot_id is None:
                raise Error(f"backup {backup['id']} has no snapshot to restore")
            vault = self._vault(self._password(event))
            snap = vault.snapshot(vault_snapshot_prefix(int(snapshot_id)))
            include = exclude = None
            if restore.get("inclusions") or restore.get("exclusions"):
                # The filters name the backed-up host's paths: under the
                # snapshot's root (decoding the snapshot only then).
                root = str((snap.data.get("paths") or ["/"])[0])
                inclusions = restore.get("inclusions") or []
                if not self._covers(inclusions, root):
                    include = self._relative_filters(inclusions, root) or None
                exclude = self._relative_filters(restore.get("exclusions") or [], root) or None
            written = 0

            def progress(n: int) -> None:
                nonlocal written
                written += n
                job.progress({"bytes_restored": written})

            result = vault.restore(snap.id, str(restore["destination_path"]), include=include, exclude=exclude,
                                   overwrite=bool(restore.get("overwrite_files")), progress=progress, resume=True,
                                   retry_lock=self.config.retry_lock)
            report = result.report
            job.counters.update({"files_restored": int(report.get("files_restored", 0)),
                                 "bytes_restored": int(report.get("bytes_restored", result.bytes_written))})
            errors = report.get("errors")
            return errors if errors and (errors.get("list") or errors.get("count")) else None

        return self._run("restore", restore_id, work)

    # -- requests: vault encryption, password verification, browses -------------

    def _open_vault(self, password: str) -> Optional[StoredVault]:
        """The vault opened with ``password``, or ``None`` when it does not
        open with it (other failures are raised)."""
        try:
            return StoredVault.open(self.storage, password, cache=self._cache())
        except WrongPassword:
            return None

    def encrypt_vault(self, event: Mapping[str, Any]) -> bool:
        """Answers ``vault_encryption_enable`` (the password sent is added
        to the vault's key slots, opened with the agent's own password; or
        the vault is created with it, with ``init_vault``) or
        ``vault_encryption_change`` (the old password's slot gets the new
        one); reports ``succeeded`` and returns it. The engine's vaults are
        always encrypted, so enabling is giving the user's password a key."""
        request_id = str(event["request_id"])
        change = event.get("event") == "vault_encryption_change"
        succeeded = False
        try:
            if change:
                old = self.key.decrypt_password(str(event["old_encrypted_password_hex"]))
                new = self.key.decrypt_password(str(event["new_encrypted_password_hex"]))
                vault = self._open_vault(old)
                if vault is not None:
                    vault.vault.change_password(old, new, self.config.kdf)
                    vault.save_config()
                    succeeded = True
                    if old == self.config.password:
                        _log("the vault password changed was the agent's own: the new one is needed to back up")
            else:
                new = self.key.decrypt_password(str(event["encrypted_password_hex"]))
                succeeded = self._enable(new)
        except Exception as e:  # noqa: BLE001 - reported as not succeeded
            _log(f"vault encryption request {request_id}: {type(e).__name__}: {e}")
        self.call("v2.vault.report_vault_encryption", {
            "agent_id": self.id, "request_id": request_id, "caller_agent_id": self.id,
            "body": {"action": "changed" if change else "enabled", "succeeded": succeeded}})
        _log(f"vault encryption request {request_id}: {'succeeded' if succeeded else 'failed'}")
        return succeeded

    def _enable(self, new: str) -> bool:
        if not self.storage.exists("config"):
            if not self.config.init_vault:
                return False
            StoredVault.init(self.storage, new, self.config.vault_settings, self.config.kdf, cache=self._cache())
            return True
        if self._open_vault(new) is not None:
            return True
        if self.config.password is None:
            return False
        vault = self._open_vault(self.config.password)
        if vault is None:
            return False
        vault.vault.add_password(new, self.config.kdf)
        vault.save_config()
        return True

    def verify_password(self, event: Mapping[str, Any]) -> bool:
        """Answers ``vault_password_verify``: whether the password sent
        opens the vault; reported, and returned."""
        request_id = str(event["request_id"])
        verified = False
        try:
            verified = self._open_vault(self.key.decrypt_password(str(event["encrypted_password_hex"]))) is not None
        except Exception as e:  # noqa: BLE001 - reported as not verified
            _log(f"vault password verification {request_id}: {type(e).__name__}: {e}")
        self.call("v2.vault.report_password_verification", {
            "agent_id": self.id, "request_id": request_id, "caller_agent_id": self.id,
            "body": {"verified": verified}})
        return verified

    def browse(self, event: Mapping[str, Any]) -> Dict[str, Any]:
        """Answers ``host_browse`` (a folder of this host) or
        ``backup_browse`` (a folder of the backup's snapshot, named by the
        backed-up host's path) with the ``host_browsed`` /
        ``backup_browsed`` event on the agent's channel; returns it. A path
        that is not there, not absolute, or a vault that does not open is
        ``succeeded: false`` with no items."""
        host = event.get("event") == "host_browse"
        path = str(event.get("path", ""))
        encoded = event.get("path_encoded")
        items: List[Dict[str, Any]] = []
        succeeded = False
        try:
            target: Any = path
            if isinstance(encoded, str) and encoded:
                target = base64.b64decode(encoded)
            items = self._host_items(target) if host else self._backup_items(target, event)
            succeeded = True
        except Exception as e:  # noqa: BLE001 - reported as not succeeded
            _log(f"{event.get('event')} {event.get('request_id')} of {path!r}: {type(e).__name__}: {e}")
        answer: Dict[str, Any] = {"event": "host_browsed" if host else "backup_browsed",
                                  "request_id": str(event["request_id"]), "succeeded": succeeded, "path": path}
        if isinstance(encoded, str) and encoded:
            answer["path_encoded"] = encoded
        answer["items"] = items
        self.post_event(answer)
        return answer

    @staticmethod
    def _item(name: Any, size: int, kind: str) -> Dict[str, Any]:
        """A browse item (the sample's: name, bytes, MIME type; a name that
        is not UTF-8 also base64 in ``name_encoded``)."""
        raw = os.fsencode(name) if isinstance(name, str) else bytes(name)
        item: Dict[str, Any] = {"name": raw.decode("utf-8", "replace")}
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            item["name_encoded"] = base64.b64encode(raw).decode()
        if kind == "dir":
            mime = "application/x-directory"
        elif kind == "symlink":
            mime = "application/x-symlink-file"
        else:
            mime = mimetypes.guess_type(item["name"])[0] or "application/octet-stream"
        item.update(bytes=size if kind == "file" else 0, mime_type=mime)
        return item

    @staticmethod
    def _folder(path: Any) -> bytes:
        """The folder a browse names (``str`` or ``bytes``), checked as the
        core checks snapshot paths (absolute, no ``.`` or ``..``, no empty
        component), without its trailing ``/``."""
        raw = os.fsencode(path) if isinstance(path, str) else bytes(path)
        trimmed = raw.rstrip(b"/")
        if not trimmed and raw.startswith(b"/"):
            return b"/"
        relative_snapshot_path(trimmed)
        return trimmed

    def _host_items(self, path: Any) -> List[Dict[str, Any]]:
        items = []
        with os.scandir(self._folder(path)) as entries:
            for entry in entries:
                if entry.is_symlink():
                    kind, size = "symlink", 0
                elif entry.is_dir():
                    kind, size = "dir", 0
                else:
                    kind, size = "file", entry.stat().st_size
                items.append(self._item(entry.name, size, kind))
        return sorted(items, key=lambda i: str(i["name"]))

    def _backup_items(self, path: Any, event: Mapping[str, Any]) -> List[Dict[str, Any]]:
        wanted = self._folder(path)
        snapshot_id = (event.get("backup") or {}).get("snapshot_id")
        if snapshot_id is None:
            raise Error("the request names no snapshot")
        vault = self._open_vault(self._password(event))
        if vault is None:
            raise Error("the vault password does not open the vault")
        snap = vault.snapshot(vault_snapshot_prefix(int(snapshot_id)))
        # The snapshot names the backed-up folder "/": the host's path is
        # under it, or a folder above it (which holds the next folder down).
        root = unquote_path(str((snap.data.get("paths") or ["/"])[0])).rstrip(b"/") or b"/"
        if wanted == root:
            inner = b"/"
        elif root == b"/":
            inner = wanted
        elif wanted.startswith(root + b"/"):
            inner = wanted[len(root):]
        elif wanted == b"/" or root.startswith(wanted + b"/"):
            below = root[len(wanted):].lstrip(b"/").split(b"/")[0]
            return [self._item(below, 0, "dir")]
        else:
            raise Error(f"{path!r} is not in the backup (of {root!r})")
        listed = snap.ls(inner)
        if len(listed) == 1 and unquote_path(listed[0]["path"]) == inner and listed[0]["kind"] != "dir":
            raise Error(f"{path!r} is a {listed[0]['kind']}, not a folder")
        return sorted((self._item(os.path.basename(unquote_path(e["path"])), int(e["size"]), str(e["kind"]))
                       for e in listed), key=lambda i: str(i["name"]))
