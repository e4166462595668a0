"""The C example agent's service loop (``agent run``, over libcurl): the
emulator in-process, the C agent a subprocess, a user driving backups and
restores through the service (and restores of a snapshot the Python tool
made), the agent's heartbeats, its own token, its shutdown event, jobs that
fail alone (also under valgrind) (skipped unless build/c/agent is built; or
set CLOUDBACKUP_C_AGENT)."""

from __future__ import annotations

import json
import os
import re
import signal
import shutil
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import pytest

pytest.importorskip("uvicorn")
pytest.importorskip("starlette")

import cloudbackup  # noqa: E402

from cloudbackup.emulator import Emulator  # noqa: E402
from conftest import FAST_KDF, emulator_served  # noqa: E402
from test_agent_loop import PASSWORD, SETTINGS, User, make_tree, quick, served, tree, wait_for  # noqa: E402,F401

REPO = Path(__file__).resolve().parents[2]
AGENT = Path(os.environ.get("CLOUDBACKUP_C_AGENT", REPO / "build" / "c" / "agent"))

pytestmark = pytest.mark.skipif(not AGENT.is_file(), reason=f"C agent not built ({AGENT})")


@contextmanager
def running_c_agent(api: str, tmp_path: Path, name: str = "c-agent", prefix: Optional[List[str]] = None,
                    **env: str) -> Iterator[Dict[str, Any]]:
    """The C agent (``prefix`` + its command: setpriv, say) polling ``api``
    with a vault of its own, with its id (from its state dir). The vault
    password is in its environment (as agentd's ``--password-file``); a
    request's encrypted password takes over."""
    vault = tmp_path / f"{name}-vault"
    if not vault.exists():  # else the same agent started again
        cloudbackup.StoredVault.init(str(vault), PASSWORD, SETTINGS, FAST_KDF)
    state = tmp_path / name
    proc = subprocess.Popen([*(prefix or []), str(AGENT), "run", "--api", api, "--username", "demo",
                             "--api-key", "key", "--vault", str(vault), "--state-dir", str(state), "--poll-ms", "100"],
                            env=dict(os.environ, CLOUDBACKUP_PASSWORD=PASSWORD, **env),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    info: Dict[str, Any] = {"killed": False}
    try:
        wait_for("the C agent's registration", lambda: (state / "agent.json").is_file() or proc.poll() is not None)
        assert proc.poll() is None, proc.communicate()[0]
        agent_id = json.loads((state / "agent.json").read_text())["id"]
        info.update(id=agent_id, vault=vault, proc=proc)
        yield info
    finally:
        proc.terminate()
        out = proc.communicate(timeout=10)[0]
        print(out)
    # A run the test killed ends by SIGKILL; every other run exits cleanly.
    assert proc.returncode == (-signal.SIGKILL if info["killed"] else 0), out


def configure(user: User, agent_id: str, src: Path, exclusions: Optional[List[Dict[str, str]]] = None) -> str:
    """A configuration of the agent backing ``src`` up; its id."""
    cfg = user.c.call("v2.configurations.create_configuration", {"body": {
        "agent_id": agent_id, "name": src.name, "inclusions": [{"type": "folder", "path": str(src)}],
        "exclusions": exclusions or [], "schedule": {"recurrence": ["RRULE:FREQ=DAILY"], "time_zone": "UTC"},
        "retention": {"days": 30}, "enabled": True, "notifications": [
            {"type": "email", "destination": "demo@example.com", "on_success": False, "on_failure": True}]}})
    return str(cfg["id"])


def request_backup(user: User, config_id: str) -> str:
    backup = user.c.call("v2.backups.start_backup", {"body": {"configuration_id": config_id,
                                                              "state": "start_requested"}})
    return str(backup["id"])


def backup_for(user: User, served: str, agent_id: str, vault: Path, src: Path) -> str:
    """A backup resource of the C agent whose snapshot the Python tool
    made: the test reports it as the agent would."""
    stored = cloudbackup.StoredVault.open(str(vault), PASSWORD)
    result = stored.backup(str(src))
    cfg = user.c.call("v2.configurations.create_configuration", {"body": {
        "agent_id": agent_id, "name": "src", "inclusions": [{"type": "folder", "path": str(src)}],
        "exclusions": [], "schedule": {"recurrence": ["RRULE:FREQ=DAILY"], "time_zone": "UTC"},
        "retention": {"days": 30}, "enabled": True, "notifications": [
            {"type": "email", "destination": "demo@example.com", "on_success": False, "on_failure": True}]}})
    backup = user.c.call("v2.backups.start_backup", {"body": {"configuration_id": cfg["id"], "state": "start_requested"}})
    as_agent = cloudbackup.Client(username="demo", api_key="key", identity_url=f"{served}/identity/v2.0",
                                  base_url=served, agent_id=agent_id)
    job = cloudbackup.JobReporter("backup", as_agent.call("v2.backups.get_backup", {"backup_id": backup["id"]}))
    now = "2026-12-05T04:00:00Z"
    for patch in (job.queued(), job.preparing(), job.started(now),
                  [{"op": "replace", "path": "/snapshot_id", "value": cloudbackup.snapshot_id_for(result.snapshot_id)}],
                  job.finished({}, None, now)):
        as_agent.call("v2.backups.update_backup", {"backup_id": backup["id"], "patch": patch})
    return str(backup["id"])


def test_the_c_agent_restores_and_stops(served: str, tmp_path: Path) -> None:
    """Restores of a snapshot the Python tool made into the C agent's
    vault, reported while the agent was away: started again, it leaves
    that backup as it is, restores it, and stops a restore on request."""
    src = tmp_path / "src"
    make_tree(src, files=8, size=400_000)
    user = User(served, src)
    with running_c_agent(served, tmp_path) as first:
        pass
    backup_id = backup_for(user, served, first["id"], first["vault"], src)
    # Restores slowed down (300 ms a range).
    with running_c_agent(served, tmp_path, CLOUDBACKUP_RANGE_DELAY_MS="300") as c_agent:
        assert c_agent["id"] == first["id"]
        dest = tmp_path / "restored"
        restore = user.restore(backup_id, c_agent["id"], dest)
        assert user.wait("restore", restore["id"], ["completed", "completed_with_errors", "failed"]) == "completed"
        assert tree(dest) == tree(src)
        got = user.c.call("v2.restores.get_restore", {"restore_id": restore["id"]})
        assert got["files_restored"] == 9 and got["bytes_restored"] == 8 * 400_000
        # The backup's start request, read on restart, found it completed: not run again.
        assert user.state("backup", backup_id) == "completed"
        assert len(cloudbackup.StoredVault.open(str(c_agent["vault"]), PASSWORD).snapshots()) == 1

        # A restore stopped by the user within seconds.
        slow = user.restore(backup_id, c_agent["id"], tmp_path / "stopped")
        user.wait("restore", slow["id"], ["in_progress"])
        user.c.call("v2.restores.update_restore", {"restore_id": slow["id"], "patch": [
            {"op": "replace", "path": "/state", "value": "stop_requested"}]})
        took = wait_for("stopped", lambda: user.state("restore", slow["id"]) == "stopped", timeout=10)
        assert took < 10


def test_the_c_agent_backs_up_and_restores(served: str, tmp_path: Path) -> None:
    """A backup requested through the service, run by the C agent from
    its configuration (one folder, an exclusion), reported completed with
    counters and its snapshot; its restore gives the tree back byte-exact."""
    src = tmp_path / "src"
    make_tree(src, files=8, size=400_000)
    (src / "sub" / "skip.tmp").write_bytes(b"excluded")
    user = User(served, src)
    with running_c_agent(served, tmp_path) as agent:
        config_id = configure(user, agent["id"], src, [{"type": "file", "path": str(src / "sub" / "skip.tmp")}])
        backup_id = request_backup(user, config_id)
        assert user.wait("backup", backup_id, ["completed", "completed_with_errors", "failed"]) == "completed"
        done = user.c.call("v2.backups.get_backup", {"backup_id": backup_id})
        assert isinstance(done["snapshot_id"], int)
        # 9 files (the excluded one not searched), 8 with content.
        assert done["files_searched"] == 9 and done["files_backed_up"] == 8
        assert done["bytes_searched"] == 8 * 400_000 and done["bytes_backed_up"] == 8 * 400_000
        assert done["started_time"] and done["ended_time"]
        # The snapshot is in the agent's vault, under the number reported, with those counters.
        stored = cloudbackup.StoredVault.open(str(agent["vault"]), PASSWORD)
        [snap] = stored.snapshots()
        assert cloudbackup.snapshot_id_for(snap.id) == done["snapshot_id"]
        for name in ("files_searched", "files_backed_up", "bytes_searched", "bytes_backed_up", "bytes_in_db"):
            assert done[name] == snap.counters[name], name

        dest = tmp_path / "restored"
        restore = user.restore(backup_id, agent["id"], dest)
        assert user.wait("restore", restore["id"], ["completed", "completed_with_errors", "failed"]) == "completed"
        (src / "sub" / "skip.tmp").unlink()
        assert tree(dest) == tree(src)


def test_the_c_agent_stops_a_backup_between_files(served: str, tmp_path: Path) -> None:
    """A backup slowed down (300 ms a file), stopped by the user: reported
    stopped within seconds, and no snapshot committed."""
    src = tmp_path / "many"
    make_tree(src, files=40, size=1000)
    user = User(served, src)
    with running_c_agent(served, tmp_path, CLOUDBACKUP_FILE_DELAY_MS="300") as agent:
        backup_id = request_backup(user, configure(user, agent["id"], src))
        user.wait("backup", backup_id, ["in_progress"])
        user.c.call("v2.backups.update_backup", {"backup_id": backup_id, "patch": [
            {"op": "replace", "path": "/state", "value": "stop_requested"}]})
        took = wait_for("stopped", lambda: user.state("backup", backup_id) == "stopped", timeout=10)
        assert took < 10
        assert cloudbackup.StoredVault.open(str(agent["vault"]), PASSWORD).snapshots() == []


def test_a_restarted_c_agent_ends_the_backup_a_killed_run_left(served: str, tmp_path: Path) -> None:
    """Killed (SIGKILL) mid-backup, the C agent leaves the backup
    in_progress; its next run reports it failed ("agent restarted"), never
    leaving it running, and a backup requested afterwards completes."""
    src = tmp_path / "many"
    make_tree(src, files=40, size=1000)
    user = User(served, src)
    with running_c_agent(served, tmp_path, CLOUDBACKUP_FILE_DELAY_MS="300") as agent:
        config_id = configure(user, agent["id"], src)
        backup_id = request_backup(user, config_id)
        user.wait("backup", backup_id, ["in_progress"])
        agent["proc"].kill()
        agent["killed"] = True
    assert user.state("backup", backup_id) == "in_progress"
    with running_c_agent(served, tmp_path):
        wait_for("failed", lambda: user.state("backup", backup_id) == "failed", timeout=10)
        ended = user.c.call("v2.backups.get_backup", {"backup_id": backup_id})
        assert ended["errors"]["diagnostics"] == "agent restarted: the job was interrupted"
        again = request_backup(user, config_id)
        assert user.wait("backup", again, ["completed", "completed_with_errors", "failed"]) == "completed"


def test_the_c_agent_sends_heartbeats(quick: str, tmp_path: Path) -> None:
    """The emulator asks for a heartbeat every 0.2 s and shows an agent
    offline 1 s after its last one: the C agent stays online."""
    user = User(quick, tmp_path)
    with running_c_agent(quick, tmp_path) as agent:
        def status() -> Dict[str, Any]:
            result: Dict[str, Any] = user.c.call("v2.agents.get_agent_status", {"agent_id": agent["id"]})
            return result

        wait_for("the C agent online", lambda: status()["online"])
        # Well past the timeout: only heartbeats keep it online (startup counted once).
        time.sleep(1.5)
        assert status() == {"busy": False, "online": True}
        beats = [e for e in user.c.call("v2.events.list_agent_events", {"agent_id": agent["id"]})["events"]
                 if e["event"] == "agent_heartbeat"]
        assert len(beats) >= 5


def _unreadable_prefix(tmp_path: Path) -> List[str]:
    """What makes the agent unable to read a mode-000 file: nothing for
    a user; as root, setpriv dropping the capabilities that override file
    modes (checked on a probe). Skips the test when nothing does."""
    if os.geteuid() != 0:
        return []
    probe = tmp_path / "probe"
    probe.write_bytes(b"x")
    probe.chmod(0)
    prefix = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]
    if shutil.which("setpriv") is None or subprocess.run(
            [*prefix, "cat", str(probe)], capture_output=True).returncode == 0:
        pytest.skip("running as root, and setpriv cannot make a file unreadable")
    probe.unlink()
    return prefix


def test_the_c_agent_reports_unreadable_files(served: str, tmp_path: Path) -> None:
    """A file the agent cannot read: the rest is backed up, the backup ends
    completed_with_errors with the path in /errors (as agentd reports it)."""
    src = tmp_path / "src"
    make_tree(src, files=2, size=1000)
    secret = src / "secret.txt"
    secret.write_bytes(b"secret")
    secret.chmod(0)
    prefix = _unreadable_prefix(tmp_path)
    user = User(served, src)
    try:
        with running_c_agent(served, tmp_path, prefix=prefix) as agent:
            backup_id = request_backup(user, configure(user, agent["id"], src))
            assert user.wait("backup", backup_id, ["completed", "completed_with_errors", "failed"]) \
                == "completed_with_errors"
            done = user.c.call("v2.backups.get_backup", {"backup_id": backup_id})
            assert isinstance(done["snapshot_id"], int) and done["files_backed_up"] == 2  # the empty file has no content
            report = user.c.call("v2.backups.list_backup_errors", {"backup_id": backup_id})
            assert [(e["path"], e["type"], e["exception"]["description"]) for e in report["list"]] == [
                ("/secret.txt", "unreadable", "open: Permission denied")]
            # Exactly the report the core makes of the snapshot's errors (agentd's).
            [snap] = cloudbackup.StoredVault.open(str(agent["vault"]), PASSWORD).snapshots()
            assert {k: v for k, v in report.items() if k != "links"} == snap.error_report()
    finally:
        secret.chmod(0o600)


def test_a_failed_c_agent_job_ends_that_job_alone(served: str, tmp_path: Path) -> None:
    """A library error inside a job (the vault's config corrupted: the vault
    does not open; a restore of a snapshot removed from the vault) ends that
    job ``failed`` with the error as its diagnostics, as agentd reports a
    job's exception; the same agent process goes on and completes the next
    backup."""
    src = tmp_path / "src"
    make_tree(src, files=4, size=10_000)
    user = User(served, src)
    ended = ["completed", "completed_with_errors", "failed"]
    with running_c_agent(served, tmp_path) as agent:
        proc = agent["proc"]
        config_id = configure(user, agent["id"], src)
        config = agent["vault"] / "config"
        good = config.read_bytes()
        config.write_bytes(b"not a vault config")
        broken = request_backup(user, config_id)
        assert user.wait("backup", broken, ended) == "failed"
        errors = user.c.call("v2.backups.get_backup", {"backup_id": broken})["errors"]
        # What failed, as the agent's die() said it: the call, the library's status and message.
        assert errors["reason"] == "backup_failed" and errors["count"] == 1, errors
        assert errors["diagnostics"].startswith("open vault: CB_CORRUPT: corrupt vault config"), errors

        config.write_bytes(good)
        backup_id = request_backup(user, config_id)
        assert user.wait("backup", backup_id, ended) == "completed"
        [snap] = cloudbackup.StoredVault.open(str(agent["vault"]), PASSWORD).snapshots()
        (agent["vault"] / "snapshots" / snap.id).unlink()
        restore = user.restore(backup_id, agent["id"], tmp_path / "restored")
        assert user.wait("restore", restore["id"], ended) == "failed"
        errors = user.c.call("v2.restores.get_restore", {"restore_id": restore["id"]})["errors"]
        missing = re.search(r": CB_NOT_FOUND: snapshot ([0-9a-f]+) not found$", errors["diagnostics"])
        assert errors["reason"] == "restore_failed" and missing and snap.id.startswith(missing[1]), errors
        assert not list((agent["vault"] / "locks").iterdir())  # the restore's lock went with it

        again = request_backup(user, config_id)
        assert user.wait("backup", again, ended) == "completed"
        assert proc.poll() is None  # the agent that started: never restarted


def _children(pid: int) -> List[int]:
    """The processes whose parent is ``pid`` (from /proc)."""
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            if f"\nPPid:\t{pid}\n" in status.read_text():
                found.append(int(status.parent.name))
        except OSError:
            pass  # gone meanwhile
    return found


def test_a_crashed_c_agent_job_ends_that_job_alone(served: str, tmp_path: Path) -> None:
    """A job's process that dies without a word (killed mid-backup: a crash,
    say) leaves the agent running: it reports that backup failed with how
    the process ended, and the next backup completes."""
    src = tmp_path / "many"
    make_tree(src, files=40, size=1000)
    user = User(served, src)
    ended = ["completed", "completed_with_errors", "failed"]
    with running_c_agent(served, tmp_path, CLOUDBACKUP_FILE_DELAY_MS="100") as agent:
        config_id = configure(user, agent["id"], src)
        backup_id = request_backup(user, config_id)
        user.wait("backup", backup_id, ["in_progress"])
        [job] = _children(agent["proc"].pid)
        os.kill(job, signal.SIGKILL)
        assert user.wait("backup", backup_id, ended) == "failed"
        errors = user.c.call("v2.backups.get_backup", {"backup_id": backup_id})["errors"]
        assert errors["diagnostics"] == "the job's process ended by signal 9 (Killed)", errors
        assert user.wait("backup", request_backup(user, config_id), ended, timeout=30) == "completed"
        assert agent["proc"].poll() is None


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="no valgrind")
def test_a_failed_c_agent_job_leaks_nothing(served: str, tmp_path: Path) -> None:
    """The agent under valgrind (its own process; a job's process dies with
    the job's memory): a job that fails, one that completes, then SIGTERM;
    any definite leak or memory error makes the agent's exit status 99
    instead of 0."""
    src = tmp_path / "src"
    make_tree(src, files=2, size=1000)
    user = User(served, src)
    with running_c_agent(served, tmp_path) as first:  # registers (the RSA key, not under valgrind)
        pass
    config = first["vault"] / "config"
    good = config.read_bytes()
    config.write_bytes(b"not a vault config")
    valgrind = ["valgrind", "--quiet", "--leak-check=full", "--show-leak-kinds=definite,indirect",
                "--errors-for-leak-kinds=definite,indirect", "--error-exitcode=99", "--child-silent-after-fork=yes",
                f"--suppressions={REPO / 'bindings' / 'c' / 'tests' / 'valgrind.supp'}"]
    ended = ["completed", "completed_with_errors", "failed"]
    with running_c_agent(served, tmp_path, prefix=valgrind) as agent:
        config_id = configure(user, agent["id"], src)
        assert user.wait("backup", request_backup(user, config_id), ended, timeout=120) == "failed"
        config.write_bytes(good)
        assert user.wait("backup", request_backup(user, config_id), ended, timeout=120) == "completed"


@contextmanager
def recording(emulator: Emulator) -> Iterator[List[Dict[str, Any]]]:
    """``emulator``'s application wrapped: each request's method, path,
    ``X-Agent-Id``, the owner of its token then (``(project, agent id or
    None)``, None for no valid token) and its answer's status."""
    seen: List[Dict[str, Any]] = []
    inner = emulator.app

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await inner(scope, receive, send)
            return
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        token = headers.get("x-auth-token")
        entry = {"method": scope["method"], "path": scope["path"], "agent": headers.get("x-agent-id"),
                 "owner": emulator.store.token_owner(token, time.time()) if token else None, "status": None}
        seen.append(entry)

        async def sent(message: Any) -> None:
            if message["type"] == "http.response.start":
                entry["status"] = message["status"]
            await send(message)

        await inner(scope, receive, sent)

    emulator.app = app  # type: ignore[assignment]
    yield seen


def test_the_c_agent_calls_with_its_own_token(tmp_path: Path) -> None:
    """Registered as the user, the C agent takes a token of its own (``POST
    /agents/tokens``) and every request it makes as the agent carries it
    (the emulator binds it to the agent: its resources only); tokens live
    1.5 s, so it renews its token on a 401 and the backup requested
    afterwards completes."""
    emulator = Emulator(str(tmp_path / "short.sqlite3"), token_lifetime=1.5)
    src = tmp_path / "src"
    make_tree(src, files=2, size=10_000)
    with recording(emulator) as seen, emulator_served(emulator) as api:
        user = User(api, src)
        with running_c_agent(api, tmp_path) as agent:
            time.sleep(2.5)  # its first token expired
            backup_id = request_backup(user, configure(user, agent["id"], src))
            assert user.wait("backup", backup_id, ["completed", "completed_with_errors", "failed"]) == "completed"
    me = agent["id"]
    [registration] = [r for r in seen if r["method"] == "POST" and r["path"].endswith("/agents")]
    assert registration["owner"] == (emulator.tenant, None)  # the user's token
    tokens = [r for r in seen if r["path"].endswith("/agents/tokens")]
    assert len(tokens) >= 2 and all(r["status"] == 200 for r in tokens)  # the first, and renewed
    as_agent = [r for r in seen if r["agent"] == me]
    assert {r["path"].rsplit("/", 1)[-1] for r in as_agent} >= {"events", "configuration", "backups"}
    # Each one with the agent's own token, but those refused for an expired one (then renewed).
    assert all(r["owner"] == (emulator.tenant, me) for r in as_agent if r["status"] != 401), \
        [r for r in as_agent if r["owner"] != (emulator.tenant, me)]
    assert any(r["status"] == 401 for r in as_agent)


def test_the_c_agent_says_shutdown_when_stopped(served: str, tmp_path: Path) -> None:
    """SIGTERM: the C agent posts its ``shutdown`` event before it exits,
    so the service shows it offline at once (not after the 75 s heartbeat
    timeout)."""
    user = User(served, tmp_path)
    with running_c_agent(served, tmp_path) as agent:
        def online() -> bool:
            return bool(user.c.call("v2.agents.get_agent_status", {"agent_id": agent["id"]})["online"])

        wait_for("the C agent online", online)
        agent["proc"].send_signal(signal.SIGTERM)
        assert agent["proc"].wait(10) == 0
        assert not online()
        events = user.c.call("v2.events.list_agent_events", {"agent_id": agent["id"]})["events"]
        assert [e["event"] for e in events if e["event"] in ("startup", "shutdown")] == ["startup", "shutdown"]


def test_the_c_agent_waits_out_a_service_outage(tmp_path: Path) -> None:
    """The service goes away for a while (its process restarted, its state
    kept): the C agent keeps polling instead of exiting, and runs the
    backup requested once the service is back."""
    db = str(tmp_path / "service.sqlite3")
    src = tmp_path / "src"
    make_tree(src, files=3, size=20_000)
    first = emulator_served(Emulator(db))
    api = first.__enter__()
    port = int(api.rsplit(":", 1)[1])
    with running_c_agent(api, tmp_path) as agent:
        user = User(api, src)
        wait_for("the C agent's first polls", lambda: bool(
            user.c.call("v2.events.list_agent_events", {"agent_id": agent["id"]})["events"]))
        user.c.close()
        first.__exit__(None, None, None)
        time.sleep(1.5)  # fifteen polls with no answer
        assert agent["proc"].poll() is None, "the C agent exited while the service was away"
        with emulator_served(Emulator(db), port=port):
            user = User(api, src)
            config = configure(user, agent["id"], src)
            backup = request_backup(user, config)
            assert user.wait("backup", backup, ["completed", "failed"], timeout=30) == "completed"
            user.c.close()


def test_a_deleted_c_agent_registers_again(served: str, tmp_path: Path) -> None:
    """The agent was deleted from the service while it was stopped: started
    again with the same state directory, it registers anew (as agentd does)
    and takes the new id's jobs."""
    src = tmp_path / "src"
    make_tree(src, files=2, size=10_000)
    user = User(served, src)
    with running_c_agent(served, tmp_path) as agent:
        old = agent["id"]
    user.c.call("v2.agents.delete_agent", {"agent_id": old})
    with running_c_agent(served, tmp_path) as agent:
        state = tmp_path / "c-agent" / "agent.json"
        wait_for("the C agent's new registration", lambda: json.loads(state.read_text())["id"] != old)
        new = json.loads(state.read_text())["id"]
        assert user.c.call("v2.agents.get_agent", {"agent_id": new})["id"] == new
        backup = request_backup(user, configure(user, new, src))
        assert user.wait("backup", backup, ["completed", "failed"], timeout=30) == "completed"
    user.c.close()
