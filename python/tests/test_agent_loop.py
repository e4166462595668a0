"""The whole loop in one process: the emulator (uvicorn in a thread), the
reference agent (``cloudbackup.agentd``, a thread, and a subprocess for the
crash) and a local vault, driven by :class:`cloudbackup.Client` as a user."""

from __future__ import annotations

import base64
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional

import pytest

uvicorn = pytest.importorskip("uvicorn")
pytest.importorskip("starlette")

import cloudbackup  # noqa: E402
from cloudbackup.agentd import Agent, AgentConfig  # noqa: E402
from cloudbackup.emulator import Emulator  # noqa: E402

from conftest import FAST_KDF, emulator_served  # noqa: E402

PASSWORD = "correct horse"
#: Small chunks and bundles: a few MB make many ranges (a restore slow
#: enough to stop, or to kill, with a storage delay).
SETTINGS = {"chunker": {"min_size": 16384, "avg_size": 65536, "max_size": 262144}, "zstd_level": 1,
            "bundle_size": 262144}



@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    """The emulator on a free port of 127.0.0.1."""
    with emulator_served(Emulator(str(tmp_path / "service.sqlite3"))) as url:
        yield url


def make_tree(root: Path, files: int, size: int) -> None:
    (root / "sub").mkdir(parents=True)
    for i in range(files):
        (root / ("sub" if i % 2 else ".") / f"f{i}.bin").write_bytes(os.urandom(size))
    (root / "empty").write_bytes(b"")


def tree(root: Path) -> Dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def wait_for(what: str, check: Callable[[], bool], timeout: float = 20.0) -> float:
    start = time.monotonic()
    while not check():
        assert time.monotonic() - start < timeout, f"timed out waiting for {what}"
        time.sleep(0.05)
    return time.monotonic() - start


class Running:
    """An agent started, with its loop on a thread: ``halt`` ends the loop
    (no shutdown event: its heartbeats just stop), ``close`` also closes it."""

    def __init__(self, config: AgentConfig) -> None:
        self.agent = Agent(config)
        self.agent.start()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self.agent.run, args=(self._stop,), daemon=True)
        self._thread.start()

    def alive(self) -> bool:
        """Whether the loop still runs."""
        return self._thread.is_alive()

    def halt(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def close(self) -> None:
        self.halt()
        self.agent.close()


class User:
    def __init__(self, api: str, src: Path) -> None:
        self.src = src
        self.c = cloudbackup.Client(username="demo", api_key="key", identity_url=f"{api}/identity/v2.0", base_url=api)

    def state(self, kind: str, id: str) -> str:
        return str(self.c.call(f"v2.{kind}s.get_{kind}", {f"{kind}_id": id})["state"])

    def wait(self, kind: str, id: str, states: List[str], timeout: float = 20.0) -> str:
        wait_for(f"{kind} {id} in {states}", lambda: self.state(kind, id) in states, timeout)
        return self.state(kind, id)

    def back_up(self, agent_id: str) -> Dict[str, Any]:
        """A configuration of :attr:`src` for the agent, and a backup of it run to ``completed``."""
        cfg = self.c.call("v2.configurations.create_configuration", {"body": {
            "agent_id": agent_id, "name": "src", "inclusions": [{"type": "folder", "path": str(self.src)}],
            "exclusions": [], "schedule": {"recurrence": ["RRULE:FREQ=DAILY"], "time_zone": "UTC"},
            "retention": {"days": 30}, "enabled": True, "notifications": [
                {"type": "email", "destination": "demo@example.com", "on_success": False, "on_failure": True}]}})
        backup: Dict[str, Any] = self.c.call("v2.backups.start_backup", {"body": {
            "configuration_id": cfg["id"], "state": "start_requested"}})
        assert self.wait("backup", backup["id"], ["completed", "completed_with_errors", "failed"]) == "completed"
        return backup

    def restore(self, backup_id: str, agent_id: str, dest: Path) -> Dict[str, Any]:
        agent = self.c.call("v2.agents.get_agent", {"agent_id": agent_id})
        key = agent["rsa_public_key"]
        body = {"backup_id": backup_id, "destination_agent_id": agent_id, "destination_path": str(dest),
                "overwrite_files": False, "inclusions": [{"type": "folder", "path": str(self.src)}], "exclusions": [],
                "encrypted_password_hex": cloudbackup.encrypt_password_for_agent(
                    key["modulus"], str(key["exponent"]), PASSWORD)}
        result: Dict[str, Any] = self.c.call("v2.restores.start_restore", {"body": body})
        return result


def test_backup_restore_stop_and_crash(served: str, tmp_path: Path) -> None:
    vault_dir = tmp_path / "vault"
    cloudbackup.StoredVault.init(str(vault_dir), PASSWORD, SETTINGS, FAST_KDF)
    src = tmp_path / "src"
    make_tree(src, files=8, size=400_000)
    config = AgentConfig(api=served, identity=f"{served}/identity/v2.0", username="demo", api_key="key",
                         vault=str(vault_dir), state_dir=str(tmp_path / "agent-a"), password=PASSWORD,
                         name="agent-a", poll_interval=0.1, stop_check_interval=0.2, progress_interval=0.2)
    running = Running(config)
    agent = running.agent
    user = User(served, src)
    try:
        # A backup of the configuration's folder, run to completed.
        backup = user.back_up(agent.id)
        done = user.c.call("v2.backups.get_backup", {"backup_id": backup["id"]})
        assert isinstance(done["snapshot_id"], int) and done["files_searched"] == 9
        assert done["bytes_searched"] == 8 * 400_000

        # A backup while a gc holds the vault waits for it (the agent's
        # retry_lock: the core's default, 60 s) instead of failing at once.
        holding = threading.Event()

        def hold_exclusively() -> None:
            with cloudbackup.StoredVault.open(str(vault_dir), PASSWORD).lock("gc", exclusive=True):
                holding.set()
                time.sleep(1.5)

        holder = threading.Thread(target=hold_exclusively)
        holder.start()
        assert holding.wait(10)
        user.back_up(agent.id)  # asserts it completed
        holder.join()

        # Its restore, byte-exact.
        dest = tmp_path / "restored"
        restore = user.restore(backup["id"], agent.id, dest)
        assert user.wait("restore", restore["id"], ["completed", "completed_with_errors", "failed"]) == "completed"
        assert tree(dest) == tree(src)
        got = user.c.call("v2.restores.get_restore", {"restore_id": restore["id"]})
        assert got["files_restored"] == 9 and got["bytes_restored"] == 8 * 400_000

        # A slow restore, stopped by the user within seconds.
        agent.storage.delay = 0.1
        slow = user.restore(backup["id"], agent.id, tmp_path / "stopped")
        user.wait("restore", slow["id"], ["in_progress"])
        time.sleep(0.3)
        asked = time.monotonic()
        user.c.call("v2.restores.update_restore", {"restore_id": slow["id"],
                                                   "patch": [{"op": "replace", "path": "/state", "value": "stop_requested"}]})
        assert user.wait("restore", slow["id"], ["stopped", "completed", "failed"], timeout=10) == "stopped"
        assert time.monotonic() - asked < 10
        agent.storage.delay = 0.0
    finally:
        running.close()

    # An agent killed mid-restore, then restarted: the restore ends failed.
    # The agent imports the package this test imported (the source tree, or
    # an installed wheel).
    env = {**os.environ, "CLOUDBACKUP_PASSWORD": PASSWORD, "PYTHONPATH": str(Path(cloudbackup.__file__).parents[1])}
    args = [sys.executable, "-m", "cloudbackup", "agent", "--api", served, "--username", "demo", "--api-key", "key",
            "--vault", str(vault_dir), "--state-dir", str(tmp_path / "agent-b"), "--name", "agent-b",
            "--poll-interval", "0.1"]
    log = open(tmp_path / "agent-b.log", "wb")
    first = subprocess.Popen(args + ["--storage-delay", "0.1"], env=env, stderr=log)
    try:
        wait_for("agent-b to register", lambda: (tmp_path / "agent-b" / "agent.json").exists())
        agents = user.c.call("v2.agents.list_agents", {})["agents"]
        b = next(a["id"] for a in agents if a["name"] == "agent-b")
        killed_dest = tmp_path / "killed"
        crash = user.restore(backup["id"], b, killed_dest)
        user.wait("restore", crash["id"], ["in_progress"])
        time.sleep(0.3)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    assert user.state("restore", crash["id"]) == "in_progress"
    second = subprocess.Popen(args, env=env, stderr=log)
    try:
        assert user.wait("restore", crash["id"], ["failed", "completed", "stopped"], timeout=15) == "failed"
        report = user.c.call("v2.restores.list_restore_errors", {"restore_id": crash["id"]})
        assert "agent restarted" in str(report)
        # Started again, it resumes into the same place and completes.
        again = user.restore(backup["id"], b, killed_dest)
        assert user.wait("restore", again["id"], ["completed", "completed_with_errors", "failed"]) == "completed"
        assert tree(killed_dest) == tree(src)
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(10)
        log.close()
    user.c.close()


@pytest.fixture
def quick(tmp_path: Path) -> Iterator[str]:
    """The emulator asking for a heartbeat every 0.2 s, offline after 1 s."""
    with emulator_served(Emulator(str(tmp_path / "quick.sqlite3"), heartbeat_interval=0.2, heartbeat_timeout=1.0)) as url:
        yield url


def test_heartbeats_and_a_v1_restore(quick: str, tmp_path: Path) -> None:
    """The agent's heartbeats (at the interval its settings ask) show it
    online, and a restore created and started through v1.0 (the password
    as EncryptedPassword) is run by the v2 agent and reported back in v1."""
    vault_dir = tmp_path / "vault"
    cloudbackup.StoredVault.init(str(vault_dir), PASSWORD, SETTINGS, FAST_KDF)
    src = tmp_path / "src"
    make_tree(src, files=4, size=50_000)
    config = AgentConfig(api=quick, identity=f"{quick}/identity/v2.0", username="demo", api_key="key",
                         vault=str(vault_dir), state_dir=str(tmp_path / "agent-h"), password=PASSWORD,
                         name="agent-h", poll_interval=0.1, stop_check_interval=0.2, progress_interval=0.2)
    running = Running(config)
    agent = running.agent
    assert agent.heartbeat_interval == 0.2
    # The agent calls with a token issued to it (POST /agents/tokens), not the user's.
    assert agent.client.agent_id == agent.id and not agent.client.can_reauthenticate
    user = User(quick, src)

    def status() -> Dict[str, Any]:
        result: Dict[str, Any] = user.c.call("v2.agents.get_agent_status", {"agent_id": agent.id})
        return result

    try:
        wait_for("the agent online", lambda: status()["online"])
        # Still online well past the timeout: the heartbeats keep coming.
        time.sleep(1.5)
        assert status() == {"busy": False, "online": True}
        beats = [e for e in user.c.call("v2.events.list_agent_events", {"agent_id": agent.id})["events"]
                 if e["event"] == "agent_heartbeat"]
        assert len(beats) >= 5

        backup = user.back_up(agent.id)

        # From here the password comes only with the request.
        agent.config.password = None
        available = user.c.call("v1.backups.list_backups_available_for_restore", {})
        assert [a["BackupConfigurationName"] for a in available] == ["src"]
        agent_num = int(available[0]["MachineAgentId"])
        completed = user.c.call("v1.backups.list_completed_backups",
                                {"backup_configuration_id": str(available[0]["BackupConfigurationId"])})
        dest = tmp_path / "restored"
        created = user.c.call("v1.restores.create_restore", {"body": {
            "BackupId": int(completed[0]["BackupId"]), "BackupMachineId": agent_num, "DestinationMachineId": agent_num,
            "DestinationPath": str(dest), "BackupDataCenter": "DFW", "OverwriteFiles": False}})
        assert created["RestoreStateId"] == 0
        key = created["PublicKey"]
        encrypted = cloudbackup.encrypt_password_for_agent(str(key["ModulusHex"]), str(key["ExponentHex"]), PASSWORD)
        user.c.call("v1.restores.request_restore_action", {"body": {
            "Action": "StartManual", "Id": int(created["RestoreId"]), "EncryptedPassword": encrypted}})

        def v1_state() -> int:
            got = user.c.call("v1.restores.get_restore", {"restore_id": str(created["RestoreId"])})
            return int(got["RestoreStateId"])

        wait_for("the v1 restore to end", lambda: v1_state() in (3, 4, 5, 8))
        assert v1_state() == 3  # Completed
        assert tree(dest) == tree(src)
        report = user.c.call("v1.restores.get_restore_report", {"restore_id": str(created["RestoreId"])})
        assert report["State"] == "Completed" and int(report["NumFilesRestored"]) == 5
        assert report["NumBytesRestored"] == f"{4 * 50_000} bytes" and int(report["NumErrors"]) == 0
        activities = user.c.call("v2.activities.list_agent_activities", {"agent_id": agent.id})["activities"]
        assert [(a["type"], a["state"]) for a in activities] == [("restore", "completed"), ("backup", "completed")]
        assert status()["busy"] is False

        # Heartbeats stop (the loop ends, no shutdown yet): offline after the timeout.
        running.halt()
        assert status()["online"] is True
        waited = wait_for("the agent offline", lambda: not status()["online"], timeout=5)
        assert waited < 2.5
    finally:
        running.close()
        user.c.close()


def test_an_expired_agent_token_is_renewed(tmp_path: Path) -> None:
    """Tokens live 1.5 s: the agent's expires while it runs; the next poll
    gets 401, the agent authenticates again and goes on (a backup requested
    afterwards completes)."""
    served = contextlib.ExitStack()
    api = served.enter_context(emulator_served(Emulator(str(tmp_path / "short.sqlite3"), token_lifetime=1.5)))
    vault_dir = tmp_path / "vault"
    cloudbackup.StoredVault.init(str(vault_dir), PASSWORD, SETTINGS, FAST_KDF)
    src = tmp_path / "src"
    make_tree(src, files=2, size=10_000)
    running = Running(AgentConfig(api=api, identity=f"{api}/identity/v2.0", username="demo", api_key="key",
                                  vault=str(vault_dir), state_dir=str(tmp_path / "agent"), password=PASSWORD,
                                  name="agent-t", poll_interval=0.1, heartbeat_interval=0.2))
    agent = running.agent
    first = agent.client
    user = User(api, src)
    try:
        wait_for("a new agent token", lambda: agent.client is not first, timeout=10)
        backup = user.back_up(agent.id)
    finally:
        running.close()
        user.c.close()
        served.close()


def test_vault_requests_and_browses(served: str, tmp_path: Path) -> None:
    """Vault encryption (enable, change), password verification (a wrong
    password reported as wrong) and browses of the host and of a backup,
    each asked by a user through the emulator and answered by the agent."""
    vault_dir = tmp_path / "vault"
    cloudbackup.StoredVault.init(str(vault_dir), PASSWORD, SETTINGS, FAST_KDF)
    src = tmp_path / "src"
    make_tree(src, files=4, size=1000)
    os.symlink("f0.bin", src / "link")
    (src / os.fsdecode(b"caf\xe9.txt")).write_bytes(b"x")
    config = AgentConfig(api=served, identity=f"{served}/identity/v2.0", username="demo", api_key="key",
                         vault=str(vault_dir), state_dir=str(tmp_path / "agent-v"), password=PASSWORD,
                         name="agent-v", poll_interval=0.1, kdf=FAST_KDF)
    running = Running(config)
    agent = running.agent
    user = User(served, src)
    key = user.c.call("v2.agents.get_agent", {"agent_id": agent.id})["rsa_public_key"]

    def sealed(password: str) -> str:
        return cloudbackup.encrypt_password_for_agent(key["modulus"], str(key["exponent"]), password)

    def answer(operation: str, params: Dict[str, Any]) -> Dict[str, Any]:
        """The result of a request, once the agent has answered (404 till then)."""
        got: Dict[str, Any] = {}

        def ready() -> bool:
            try:
                got.update(user.c.call(operation, params))
                return True
            except cloudbackup.ApiError as e:
                assert e.status == 404, e
                return False

        wait_for(operation, ready)
        return got

    def encrypt(old: Any, new: str) -> Dict[str, Any]:
        accepted = user.c.call("v2.vault.request_vault_encryption", {"agent_id": agent.id, "body": {
            "old_encrypted_password_hex": old and sealed(old), "new_encrypted_password_hex": sealed(new)}})
        return answer("v2.vault.get_vault_encryption_result",
                      {"agent_id": agent.id, "request_id": accepted["request_id"]})

    def verify(password: str) -> bool:
        accepted = user.c.call("v2.vault.request_password_verification", {"agent_id": agent.id, "body": {
            "encrypted_password_hex": sealed(password), "agent_id": None}})
        result = answer("v2.vault.get_password_verification_result",
                        {"agent_id": agent.id, "request_id": accepted["request_id"]})
        assert result["event"] == "vault_password_verified" and result["request_id"] == accepted["request_id"]
        return bool(result["valid"])

    def browse_host(path: str, encoded: Optional[bytes] = None) -> Dict[str, Any]:
        body: Dict[str, Any] = {"path": path}
        if encoded is not None:
            body["path_encoded"] = base64.b64encode(encoded).decode()
        accepted = user.c.call("v2.browse.browse_host", {"agent_id": agent.id, "body": body})
        return answer("v2.browse.get_host_browse_result", {"agent_id": agent.id, "request_id": accepted["request_id"]})

    try:
        # Enabling encryption gives the user's password a key slot; the
        # agent's own keeps working.
        enabled = encrypt(None, "user secret")
        assert (enabled["event"], enabled["succeeded"]) == ("vault_encryption_enabled", True)
        assert user.c.call("v2.agents.get_agent", {"agent_id": agent.id})["vault"]["encrypted"] is True
        cloudbackup.StoredVault.open(str(vault_dir), "user secret")
        cloudbackup.StoredVault.open(str(vault_dir), PASSWORD)
        assert verify("user secret") is True
        assert verify("not the password") is False
        # A change: the old password must open the vault.
        failed = encrypt("not the password", "other")
        assert (failed["event"], failed["succeeded"]) == ("vault_encryption_changed", False)
        changed = encrypt("user secret", "user secret 2")
        assert changed["succeeded"] is True
        assert verify("user secret") is False and verify("user secret 2") is True

        # The host's folder, as the sample lists items.
        listed = browse_host(str(src))
        assert (listed["event"], listed["succeeded"], listed["path"]) == ("host_browsed", True, str(src))
        items = {i["name"]: i for i in listed["items"]}
        assert sorted(items) == ["caf\ufffd.txt", "empty", "f0.bin", "f2.bin", "link", "sub"]  # before d\xff
        # A name that is not UTF-8: also in base64.
        assert items["caf\ufffd.txt"] == {"name": "caf\ufffd.txt", "name_encoded": "Y2Fm6S50eHQ=", "bytes": 1,
                                          "mime_type": "text/plain"}
        assert items["f0.bin"]["bytes"] == 1000 and items["f0.bin"]["mime_type"] == "application/octet-stream"
        assert items["link"] == {"name": "link", "bytes": 0, "mime_type": "application/x-symlink-file"}
        assert items["sub"]["mime_type"] == "application/x-directory"
        missing = browse_host(str(src / "nope"))
        assert (missing["succeeded"], missing["items"], missing["path"]) == (False, [], str(src / "nope"))
        for path in ("relative", "", str(src) + "/../src"):
            assert browse_host(path)["succeeded"] is False, path
        assert browse_host(str(src) + "/")["items"] == listed["items"]
        # A path that is not UTF-8 comes in base64 (path_encoded), and is echoed.
        (src / os.fsdecode(b"d\xff")).mkdir()
        (src / os.fsdecode(b"d\xff") / "in.txt").write_bytes(b"yz")
        encoded = browse_host(str(src) + "/d?", os.fsencode(src) + b"/d\xff")
        assert encoded["path_encoded"] == base64.b64encode(os.fsencode(src) + b"/d\xff").decode()
        assert encoded["items"] == [{"name": "in.txt", "bytes": 2, "mime_type": "text/plain"}]

        # A backup's folder, by the backed-up host's paths, with the password sent.
        backup = user.back_up(agent.id)
        agent.config.password = None

        def browse_backup(path: str, password: str = "user secret 2") -> Dict[str, Any]:
            accepted = user.c.call("v2.browse.browse_backup", {"backup_id": backup["id"], "body": {
                "agent_id": agent.id, "encrypted_password_hex": sealed(password), "path": path}})
            return answer("v2.browse.get_backup_browse_result",
                          {"backup_id": backup["id"], "request_id": accepted["request_id"]})

        listed = browse_backup(str(src))
        assert (listed["event"], listed["succeeded"]) == ("backup_browsed", True)
        assert listed["items"] == browse_host(str(src))["items"]
        assert {i["name"]: i["bytes"] for i in listed["items"]}["f2.bin"] == 1000
        sub = browse_backup(str(src / "sub") + "/")
        assert [i["name"] for i in sub["items"]] == ["f1.bin", "f3.bin"]
        above = browse_backup(str(src.parent))
        assert above["items"] == [{"name": "src", "bytes": 0, "mime_type": "application/x-directory"}]
        top = browse_backup("/")
        assert top["items"] == [{"name": str(src).split("/")[1], "bytes": 0, "mime_type": "application/x-directory"}]
        for path in (str(src / "nope"), str(src / "f0.bin"), "/elsewhere", "relative", str(src) + "/./sub"):
            missing = browse_backup(path)
            assert (missing["succeeded"], missing["items"], missing["path"]) == (False, [], path), path
        assert browse_backup(str(src), password="wrong")["succeeded"] is False

        # An agent without a vault yet (--init, no password of its own):
        # enabling encryption creates the vault with the user's password.
        fresh = Agent(AgentConfig(api=served, identity=f"{served}/identity/v2.0", username="demo", api_key="key",
                                  vault=str(tmp_path / "new-vault"), state_dir=str(tmp_path / "agent-n"),
                                  init_vault=True, name="agent-n", kdf=FAST_KDF, vault_settings=SETTINGS))
        fresh.start()
        try:
            fkey = user.c.call("v2.agents.get_agent", {"agent_id": fresh.id})["rsa_public_key"]
            sealed_new = cloudbackup.encrypt_password_for_agent(fkey["modulus"], str(fkey["exponent"]), "first")
            accepted = user.c.call("v2.vault.request_vault_encryption", {"agent_id": fresh.id, "body": {
                "old_encrypted_password_hex": None, "new_encrypted_password_hex": sealed_new}})
            assert fresh.poll() >= 1
            result = user.c.call("v2.vault.get_vault_encryption_result",
                                 {"agent_id": fresh.id, "request_id": accepted["request_id"]})
            assert (result["event"], result["succeeded"]) == ("vault_encryption_enabled", True)
            cloudbackup.StoredVault.open(str(tmp_path / "new-vault"), "first")
        finally:
            fresh.close()
    finally:
        running.close()
        user.c.close()


def test_the_agent_waits_out_a_service_outage(tmp_path: Path) -> None:
    """The service goes away for a while (its process restarted, its state
    kept): the agent's loop goes on, and it runs the backup requested once
    the service is back."""
    db = str(tmp_path / "service.sqlite3")
    vault_dir = tmp_path / "vault"
    cloudbackup.StoredVault.init(str(vault_dir), PASSWORD, SETTINGS, FAST_KDF)
    src = tmp_path / "src"
    make_tree(src, files=3, size=20_000)
    first = emulator_served(Emulator(db))
    api = first.__enter__()
    port = int(api.rsplit(":", 1)[1])
    running = Running(AgentConfig(api=api, identity=f"{api}/identity/v2.0", username="demo", api_key="key",
                                  vault=str(vault_dir), state_dir=str(tmp_path / "agent-o"), password=PASSWORD,
                                  name="agent-o", poll_interval=0.1, heartbeat_interval=0.2))
    try:
        first.__exit__(None, None, None)
        time.sleep(1.5)  # polls and heartbeats with no answer
        assert running.alive(), "the agent's loop ended while the service was away"
        with emulator_served(Emulator(db), port=port):
            user = User(api, src)
            user.back_up(running.agent.id)
            user.c.close()
    finally:
        running.close()
