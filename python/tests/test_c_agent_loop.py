"""The C example agent's service loop (``agent run``, over libcurl): the
emulator in-process, the C agent a subprocess, a user driving restores of a
snapshot the Python tool made (skipped unless build/c/agent is built; or
set CLOUDBACKUP_C_AGENT)."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any, Dict, Iterator

import pytest

pytest.importorskip("uvicorn")
pytest.importorskip("starlette")

import cloudbackup  # noqa: E402

from conftest import FAST_KDF  # noqa: E402
from test_agent_loop import PASSWORD, SETTINGS, User, make_tree, served, tree, wait_for  # noqa: E402,F401

REPO = Path(__file__).resolve().parents[2]
AGENT = Path(os.environ.get("CLOUDBACKUP_C_AGENT", REPO / "build" / "c" / "agent"))

pytestmark = pytest.mark.skipif(not AGENT.is_file(), reason=f"C agent not built ({AGENT})")


@pytest.fixture
def c_agent(served: str, tmp_path: Path) -> Iterator[Dict[str, Any]]:
    """The C agent polling the emulator, with its id (from its state dir)."""
    vault = tmp_path / "vault"
    cloudbackup.StoredVault.init(str(vault), PASSWORD, SETTINGS, FAST_KDF)
    state = tmp_path / "c-agent"
    env = dict(os.environ, CLOUDBACKUP_RANGE_DELAY_MS="300")
    proc = subprocess.Popen([str(AGENT), "run", "--api", served, "--username", "demo", "--api-key", "key",
                             "--vault", str(vault), "--state-dir", str(state), "--poll-ms", "100"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    wait_for("the C agent's registration", lambda: (state / "agent.json").is_file() or proc.poll() is not None)
    assert proc.poll() is None, proc.communicate()[0]
    agent_id = json.loads((state / "agent.json").read_text())["id"]
    yield {"id": agent_id, "vault": vault, "proc": proc}
    proc.terminate()
    out = proc.communicate(timeout=10)[0]
    print(out)


def backup_for(user: User, served: str, agent_id: str, vault: Path, src: Path) -> str:
    """A backup resource of the C agent whose snapshot the Python tool
    made: the test reports it as the agent would (the C agent ignores
    backup requests for now)."""
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


def test_the_c_agent_restores_and_stops(served: str, c_agent: Dict[str, Any], tmp_path: Path) -> None:
    src = tmp_path / "src"
    make_tree(src, files=8, size=400_000)
    user = User(served, src)
    backup_id = backup_for(user, served, c_agent["id"], c_agent["vault"], src)

    dest = tmp_path / "restored"
    restore = user.restore(backup_id, c_agent["id"], dest)
    assert user.wait("restore", restore["id"], ["completed", "completed_with_errors", "failed"]) == "completed"
    assert tree(dest) == tree(src)
    got = user.c.call("v2.restores.get_restore", {"restore_id": restore["id"]})
    assert got["files_restored"] == 9 and got["bytes_restored"] == 8 * 400_000

    # A restore slowed down (300 ms a range), stopped by the user within seconds.
    slow = user.restore(backup_id, c_agent["id"], tmp_path / "stopped")
    user.wait("restore", slow["id"], ["in_progress"])
    user.c.call("v2.restores.update_restore", {"restore_id": slow["id"], "patch": [
        {"op": "replace", "path": "/state", "value": "stop_requested"}]})
    took = wait_for("stopped", lambda: user.state("restore", slow["id"]) == "stopped", timeout=10)
    assert took < 10
