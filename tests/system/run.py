"""The whole loop, headless (``make demo-system``, ``make test-system``):
the service emulator and the reference agent as subprocesses, a vault on
the Swift all-in-one (``ST_AUTH`` set, see scripts/swift-aio) or else a
local directory (said so in the output), and a user driving them with
:class:`cloudbackup.Client`: the agent online by its heartbeats, a
configuration, a backup, a restore compared byte-exactly, the same through
v1.0 (backups available for restore, a restore created and started with
its password as ``EncryptedPassword``, its report), a restore stopped by
the user, the activities of it all, and an agent killed mid-restore that
goes offline and whose restore ends ``failed`` once it is back.

Exit status 0 when every step held, 1 otherwise."""

from __future__ import annotations

import filecmp
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import cloudbackup

PASSWORD = "system demo passphrase"
#: Small chunks and bundles: a ~12 MB tree makes dozens of ranges, so a
#: restore with the agent's storage delay lasts long enough to stop.
SETTINGS = {"chunker": {"min_size": 16384, "avg_size": 65536, "max_size": 262144}, "zstd_level": 1,
            "bundle_size": 262144}
#: Seconds the agent waits before each vault read or write (--storage-delay).
DELAY = "0.05"
#: Heartbeats every half second; offline after 3 s without one (serve's
#: --heartbeat-interval and --heartbeat-timeout).
HEARTBEAT_INTERVAL = "0.5"
HEARTBEAT_TIMEOUT = "3"


def step(message: str) -> None:
    print(f"system: {message}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_for(what: str, check: Callable[[], bool], timeout: float = 30.0) -> None:
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > timeout:
            raise SystemExit(f"system: FAILED: timed out waiting for {what}")
        time.sleep(0.05)


def same_tree(a: Path, b: Path) -> bool:
    """Every file of ``a`` in ``b`` with the same bytes, and no more."""
    files_a = sorted(str(p.relative_to(a)) for p in a.rglob("*") if p.is_file())
    files_b = sorted(str(p.relative_to(b)) for p in b.rglob("*") if p.is_file())
    return files_a == files_b and all(filecmp.cmp(a / f, b / f, shallow=False) for f in files_a)


class System:
    def __init__(self, work: Path) -> None:
        self.work = work
        self.procs: List[subprocess.Popen[bytes]] = []
        self.port = free_port()
        self.api = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "CLOUDBACKUP_PASSWORD": PASSWORD}
        self.env.setdefault("CLOUDBACKUP_CACHE_DIR", str(work / "cache"))
        self.agent: Optional[subprocess.Popen[bytes]] = None

    def spawn(self, *args: str) -> subprocess.Popen[bytes]:
        log = open(self.work / f"{args[0]}-{len(self.procs)}.log", "wb")
        proc = subprocess.Popen([sys.executable, "-m", "cloudbackup", *args], env=self.env,
                                stdout=log, stderr=subprocess.STDOUT)
        self.procs.append(proc)
        return proc

    def start_agent(self, vault: str) -> subprocess.Popen[bytes]:
        self.agent = self.spawn("agent", "--api", self.api, "--username", "demo", "--api-key", "demo-key",
                                "--vault", vault, "--state-dir", str(self.work / "agent-state"), "--name",
                                "system-agent", "--poll-interval", "0.2", "--storage-delay", DELAY)
        return self.agent

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


def vault_location(work: Path) -> str:
    """A fresh vault: in a new container of the Swift all-in-one when it
    is configured and answers, else a local directory."""
    if os.environ.get("ST_AUTH"):
        url = f"swift://cloudbackup-system-{uuid.uuid4().hex[:8]}/vault"
        try:
            cloudbackup.StoredVault.init(url, PASSWORD, SETTINGS)
            step(f"vault on the Swift all-in-one: {url}")
            return url
        except Exception as e:  # noqa: BLE001 - the fallback says why
            step(f"vault: Swift all-in-one not usable ({type(e).__name__}: {e}); FALLBACK to a local directory")
    else:
        step("vault: Swift all-in-one not configured (ST_AUTH unset); FALLBACK to a local directory")
    path = str(work / "vault")
    cloudbackup.StoredVault.init(path, PASSWORD, SETTINGS)
    return path


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="cloudbackup-system-"))
    system = System(work)
    try:
        return run(system, work)
    finally:
        system.close()
        if os.environ.get("CLOUDBACKUP_SYSTEM_KEEP") != "1":
            shutil.rmtree(work, ignore_errors=True)


def run(system: System, work: Path) -> int:
    step(f"starting the emulator on {system.api} (state in {work / 'service.sqlite3'})")
    system.spawn("serve", "--port", str(system.port), "--db", str(work / "service.sqlite3"), "--log-level", "warning",
                 "--heartbeat-interval", HEARTBEAT_INTERVAL, "--heartbeat-timeout", HEARTBEAT_TIMEOUT)
    user = cloudbackup.Client(username="demo", api_key="demo-key", identity_url=f"{system.api}/identity/v2.0",
                              base_url=system.api)

    def up() -> bool:
        try:
            user.call("v2.agents.list_agents", {})
            return True
        except Exception:  # noqa: BLE001 - not listening yet
            return False

    user.retry.attempts = 1
    wait_for("the emulator", up)
    vault = vault_location(work)
    src = work / "data"
    (src / "docs").mkdir(parents=True)
    for i in range(12):
        (src / ("docs" if i % 2 else ".") / f"file{i}.bin").write_bytes(os.urandom(1_000_000))
    (src / "docs" / "readme.txt").write_text("the whole loop\n")
    step(f"source tree: {src} (13 files, ~12 MB)")

    step("starting the agent")
    system.start_agent(vault)
    wait_for("the agent to register", lambda: any(a["name"] == "system-agent"
                                                  for a in user.call("v2.agents.list_agents", {})["agents"]))
    agent = next(a for a in user.call("v2.agents.list_agents", {})["agents"] if a["name"] == "system-agent")
    step(f"agent {agent['id']} registered")

    def online() -> bool:
        return bool(user.call("v2.agents.get_agent_status", {"agent_id": agent["id"]})["online"])

    wait_for("the agent online", online)
    step(f"agent online (a heartbeat every {HEARTBEAT_INTERVAL} s on the channel its settings name)")

    def state(kind: str, id: str) -> str:
        return str(user.call(f"v2.{kind}s.get_{kind}", {f"{kind}_id": id})["state"])

    def until(kind: str, id: str, states: List[str], timeout: float = 30.0) -> str:
        wait_for(f"{kind} {id} in {states}", lambda: state(kind, id) in states, timeout)
        return state(kind, id)

    config = user.call("v2.configurations.create_configuration", {"body": {
        "agent_id": agent["id"], "name": "system demo", "enabled": True,
        "schedule": {"recurrence": ["RRULE:FREQ=DAILY"], "time_zone": "UTC"}, "retention": {"days": 30},
        "inclusions": [{"type": "folder", "path": str(src)}], "exclusions": [],
        "notifications": [{"type": "email", "destination": "ops@example.com", "on_success": False, "on_failure": True}],
    }})
    step(f"configuration {config['id']} created")
    backup = user.call("v2.backups.start_backup", {"body": {"configuration_id": config["id"], "state": "start_requested"}})
    step(f"backup {backup['id']} requested")
    end = until("backup", backup["id"], ["completed", "completed_with_errors", "failed", "stopped"])
    done = user.call("v2.backups.get_backup", {"backup_id": backup["id"]})
    step(f"backup {end}: snapshot_id {done['snapshot_id']}, {done['files_searched']} files, "
         f"{done['bytes_searched']} bytes searched")
    if end != "completed":
        raise SystemExit("system: FAILED: the backup did not complete")

    key = agent["rsa_public_key"]
    encrypted = cloudbackup.encrypt_password_for_agent(key["modulus"], str(key["exponent"]), PASSWORD)

    def restore(dest: Path) -> Dict[str, Any]:
        body = {"backup_id": backup["id"], "destination_agent_id": agent["id"], "destination_path": str(dest),
                "overwrite_files": False, "encrypted_password_hex": encrypted,
                "inclusions": [{"type": "folder", "path": str(src)}], "exclusions": []}
        result: Dict[str, Any] = user.call("v2.restores.start_restore", {"body": body})
        return result

    dest = work / "restored"
    first = restore(dest)
    step(f"restore {first['id']} requested into {dest} (vault password sent encrypted with the agent's key)")
    end = until("restore", first["id"], ["completed", "completed_with_errors", "failed", "stopped"])
    got = user.call("v2.restores.get_restore", {"restore_id": first["id"]})
    step(f"restore {end}: {got['files_restored']} files, {got['bytes_restored']} bytes")
    if end != "completed" or not same_tree(src, dest):
        raise SystemExit("system: FAILED: the restored tree differs from the source")
    step("backup and restore through the emulator, agent and vault: byte-exact")

    # The same restore through v1.0: the configuration is available for
    # restore, its completed backup is listed, a restore is created
    # (Creating) and started with the password as EncryptedPassword.
    available = user.call("v1.backups.list_backups_available_for_restore", {})
    entry = next(a for a in available if a["BackupConfigurationName"] == "system demo")
    completed = user.call("v1.backups.list_completed_backups",
                          {"backup_configuration_id": str(entry["BackupConfigurationId"])})
    agent_num = int(entry["MachineAgentId"])
    v1_dest = work / "restored-v1"
    created = user.call("v1.restores.create_restore", {"body": {
        "BackupId": int(completed[-1]["BackupId"]), "BackupMachineId": agent_num, "DestinationMachineId": agent_num,
        "DestinationPath": str(v1_dest), "BackupDataCenter": "DFW", "OverwriteFiles": False}})
    v1_key = created["PublicKey"]
    user.call("v1.restores.request_restore_action", {"body": {
        "Action": "StartManual", "Id": int(created["RestoreId"]),
        "EncryptedPassword": cloudbackup.encrypt_password_for_agent(
            str(v1_key["ModulusHex"]), str(v1_key["ExponentHex"]), PASSWORD)}})
    step(f"v1.0: restore {created['RestoreId']} created from backup {completed[-1]['BackupId']} "
         f"and started (StartManual)")
    wait_for("the v1 restore to end", lambda: int(user.call(
        "v1.restores.get_restore", {"restore_id": str(created["RestoreId"])})["RestoreStateId"]) in (3, 4, 5, 8))
    report = user.call("v1.restores.get_restore_report", {"restore_id": str(created["RestoreId"])})
    step(f"v1.0: restore report {report['State']}: {report['NumFilesRestored']} files, "
         f"{report['NumBytesRestored']}, {report['NumErrors']} errors, in {report['Duration']}")
    if report["State"] != "Completed" or not same_tree(src, v1_dest):
        raise SystemExit("system: FAILED: the v1.0 restore did not complete byte-exactly")

    slow = restore(work / "stopped")
    until("restore", slow["id"], ["in_progress"])
    asked = time.monotonic()
    user.call("v2.restores.update_restore", {"restore_id": slow["id"],
                                             "patch": [{"op": "replace", "path": "/state", "value": "stop_requested"}]})
    step(f"restore {slow['id']}: stop requested while in_progress")
    end = until("restore", slow["id"], ["stopped", "completed", "completed_with_errors", "failed"], timeout=15)
    took = time.monotonic() - asked
    if end != "stopped" or took >= 10:
        raise SystemExit(f"system: FAILED: the stop request ended the restore {end} after {took:.1f} s")
    step(f"stop request honoured in {took:.1f} s")
    activities = user.call("v2.activities.list_agent_activities", {"agent_id": agent["id"]})["activities"]
    step("activities, newest first: " + ", ".join(f"{a['type']} {a['state']}" for a in activities))

    crash = restore(work / "crashed")
    until("restore", crash["id"], ["in_progress"])
    assert system.agent is not None
    system.agent.send_signal(signal.SIGKILL)
    system.agent.wait(10)
    killed = time.monotonic()
    step(f"agent killed (SIGKILL) while restore {crash['id']} was {state('restore', crash['id'])}")
    wait_for("the killed agent offline", lambda: not online(), timeout=15)
    step(f"agent offline {time.monotonic() - killed:.1f} s later (no heartbeat for {HEARTBEAT_TIMEOUT} s)")
    system.start_agent(vault)
    end = until("restore", crash["id"], ["failed", "completed", "stopped"])
    step(f"agent restarted: restore {crash['id']} reported {end}, not left in_progress")
    if end != "failed":
        raise SystemExit("system: FAILED: the interrupted restore was not reported failed")
    again = restore(work / "crashed")
    end = until("restore", again["id"], ["completed", "completed_with_errors", "failed", "stopped"])
    if end != "completed" or not same_tree(src, work / "crashed"):
        raise SystemExit("system: FAILED: the restore started again did not complete byte-exactly")
    step(f"restore {again['id']} started again into the same place: completed, byte-exact")
    user.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
