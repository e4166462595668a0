"""The service emulator (``cloudbackup serve``): Starlette's TestClient for
the routes, and one run over real HTTP (uvicorn in a thread) driven by
:class:`cloudbackup.Client` as a user and as an agent."""

from __future__ import annotations

import json
import socket
import threading
import time
import warnings
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import pytest

starlette = pytest.importorskip("starlette")
uvicorn = pytest.importorskip("uvicorn")

with warnings.catch_warnings():
    # Starlette 1.10 asks for httpx2 under its TestClient; httpx is what
    # cloudbackup.Client uses, and still works there.
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient  # noqa: E402

import cloudbackup  # noqa: E402
from cloudbackup import api as core  # noqa: E402
from cloudbackup.client import next_marker  # noqa: E402
from cloudbackup.emulator import Emulator  # noqa: E402

SAMPLES = Path(__file__).resolve().parent.parent.parent / "tests" / "data" / "rackspace" / "samples-v2"
TENANT = "123456"


def sample(name: str) -> Any:
    return json.loads((SAMPLES / name).read_text())


class Api:
    """A TestClient holding a token, as a user or (``agent``) as an agent."""

    def __init__(self, emulator: Emulator) -> None:
        self.http = TestClient(emulator.app)
        answer = self.http.post(
            "/identity/v2.0/tokens",
            json={"auth": {"RAX-KSKEY:apiKeyCredentials": {"username": "demo", "apiKey": "key"}}},
        )
        assert answer.status_code == 200, answer.text
        self.token = answer.json()["access"]["token"]["id"]

    def call(self, method: str, path: str, body: Any = None, agent: Optional[str] = None) -> Any:
        headers = {"X-Auth-Token": self.token}
        if agent is not None:
            headers["X-Agent-Id"] = agent
        content = None if body is None else json.dumps(body)
        return self.http.request(method, f"/v2/{TENANT}{path}", content=content, headers=headers)

    def create(self, path: str, body: Any, model: str) -> Dict[str, Any]:
        answer = self.call("POST", path, body)
        assert answer.status_code == 201, answer.text
        resource: Dict[str, Any] = answer.json()
        # What the emulator answers is what the core reads as the service's.
        core.parse_model(model, resource)
        assert answer.headers["location"].endswith(f"{path}/{resource['id']}")
        return resource


def agent_body(name: str = "Web Server") -> Dict[str, Any]:
    body: Dict[str, Any] = sample("cbu-postAgent_request.json")
    body["name"] = name
    return body


def setup_restore(api: Api) -> Dict[str, Any]:
    """An agent, its configuration, a backup and a restore of it."""
    agent = api.create("/agents", agent_body(), "v2.Agent")
    config_body = sample("cbu-postConfig_request.json")
    config_body["agent_id"] = agent["id"]
    config = api.create("/configurations", config_body, "v2.Configuration")
    backup = api.create("/backups", {"configuration_id": config["id"], "state": "start_requested"}, "v2.Backup")
    restore_body = sample("cbu-postRestore_request.json")
    restore_body["backup_id"] = backup["id"]
    restore_body["destination_agent_id"] = agent["id"]
    restore = api.create("/restores", restore_body, "v2.Restore")
    return {"agent": agent, "config": config, "backup": backup, "restore": restore}


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[Emulator]:
    e = Emulator(str(tmp_path / "state.sqlite3"))
    yield e
    e.close()


def test_a_token_is_required(emulator: Emulator) -> None:
    http = TestClient(emulator.app)
    answer = http.get(f"/v2/{TENANT}/agents")
    assert answer.status_code == 401
    assert "X-Auth-Token" in answer.json()["message"]
    assert http.get(f"/v2/{TENANT}/agents", headers={"X-Auth-Token": "forged"}).status_code == 401
    bad = http.post("/identity/v2.0/tokens", json={"auth": {}})
    assert bad.status_code == 400
    api = Api(emulator)
    assert api.call("GET", "/agents").status_code == 200
    other = api.http.get("/v2/999/agents", headers={"X-Auth-Token": api.token})
    assert other.status_code == 403


def test_identity_checks_credentials_when_given_users(tmp_path: Path) -> None:
    e = Emulator(str(tmp_path / "s.db"), users={"demo": "right"})
    try:
        http = TestClient(e.app)
        wrong = http.post(
            "/identity/v2.0/tokens",
            json={"auth": {"RAX-KSKEY:apiKeyCredentials": {"username": "demo", "apiKey": "wrong"}}},
        )
        assert wrong.status_code == 401
        assert wrong.json()["unauthorized"]["code"] == 401
        right = http.post(
            "/identity/v2.0/tokens", json={"auth": {"passwordCredentials": {"username": "demo", "password": "right"}}}
        )
        assert right.status_code == 200
        catalog = right.json()["access"]["serviceCatalog"]
        assert catalog[0]["type"] == "rax:backup"
        assert catalog[0]["endpoints"][0]["publicURL"] == f"http://testserver/v1.0/{TENANT}"
    finally:
        e.close()


def test_create_list_get_with_paging(emulator: Emulator) -> None:
    api = Api(emulator)
    ids = [api.create("/agents", agent_body(f"host {i}"), "v2.Agent")["id"] for i in range(5)]
    got = api.call("GET", f"/agents/{ids[2]}")
    assert got.status_code == 200 and got.json()["name"] == "host 2"
    assert "password" not in got.json()
    seen: List[str] = []
    marker = None
    pages = 0
    while True:
        query = "?limit=2" + (f"&marker={marker}" if marker else "")
        page = api.call("GET", f"/agents{query}").json()
        core.parse_model("v2.AgentList", page)
        seen += [a["id"] for a in page["agents"]]
        pages += 1
        nexts = [link for link in page["links"] if link["rel"] == "next"]
        if not nexts:
            break
        marker = next_marker(page)
    assert seen == ids and pages == 3
    desc = api.call("GET", "/agents?sort_dir=desc&limit=100").json()
    assert [a["id"] for a in desc["agents"]] == ids[::-1]
    assert api.call("GET", "/agents?limit=0").status_code == 400
    assert api.call("GET", "/agents/nope").status_code == 404
    assert api.call("GET", "/agents/nope").json() == {"message": "Agent not found."}


def test_bad_bodies_get_the_cores_message(emulator: Emulator) -> None:
    api = Api(emulator)
    answer = api.call("POST", "/restores", {"backup_id": "x"})
    assert answer.status_code == 400
    with pytest.raises(cloudbackup.InvalidJson) as e:
        core.parse_model("v2.StartRestoreBody", {"backup_id": "x"})
    assert str(e.value) == answer.json()["message"]
    not_json = api.http.post(f"/v2/{TENANT}/agents", content=b"{'single': 'quotes'}", headers={"X-Auth-Token": api.token})
    assert not_json.status_code == 400


def test_a_restore_moves_through_its_lifecycle_by_agent_patches(emulator: Emulator) -> None:
    api = Api(emulator)
    s = setup_restore(api)
    agent, restore = s["agent"]["id"], s["restore"]["id"]
    events = api.call("GET", f"/agents/{agent}/events", agent=agent).json()["events"]
    start = [e for e in events if e["event"] == "restore_start_request"]
    assert len(start) == 1 and start[0]["restore"]["id"] == restore
    assert start[0]["restore"]["destination_path"] == "/tmp/restore"
    assert start[0]["backup"]["id"] == s["backup"]["id"]
    for state in ("queued", "preparing", "in_progress"):
        answer = api.call("PATCH", f"/restores/{restore}", [{"op": "replace", "path": "/state", "value": state}], agent=agent)
        assert answer.status_code == 204, answer.text
        assert api.call("GET", f"/restores/{restore}").json()["state"] == state
    final = sample("cbu-updateRestore_request.json")
    assert api.call("PATCH", f"/restores/{restore}", final, agent=agent).status_code == 204
    done = api.call("GET", f"/restores/{restore}").json()
    core.parse_model("v2.Restore", done)
    assert (done["state"], done["files_restored"], done["bytes_restored"]) == ("completed_with_errors", 2, 1512)
    assert done["errors"]["count"] == 1 and "list" not in done["errors"]
    report = api.call("GET", f"/restores/{restore}/errors").json()
    core.parse_model("v2.ErrorReport", report)
    assert report["list"][0]["path"] == "/usr/bin/h2xs"
    names = [e["event"] for e in api.call("GET", f"/restores/{restore}/events").json()["events"]]
    assert names == ["restore_start_request", "restore_in_progress", "restore_completed"]
    # Terminal: the core's 409, in the service's words (the sample's body).
    again = api.call("PATCH", f"/restores/{restore}", [{"op": "replace", "path": "/state", "value": "in_progress"}], agent=agent)
    assert again.status_code == 409
    assert again.json() == sample("cbu-updateRestore_response409.json")


def test_patches_the_core_rejects(emulator: Emulator) -> None:
    api = Api(emulator)
    s = setup_restore(api)
    agent, restore = s["agent"]["id"], s["restore"]["id"]
    resource = api.call("GET", f"/restores/{restore}").json()
    # A user may not report progress: 400 with the core's reason.
    patch = [{"op": "replace", "path": "/state", "value": "queued"}]
    answer = api.call("PATCH", f"/restores/{restore}", patch)
    assert answer.status_code == 400
    with pytest.raises(cloudbackup.PatchRejected) as e:
        core.validate_patch("restore", resource, patch, "user")
    assert answer.json()["message"] == str(e.value)
    # A path no restore patch may touch, and all or nothing.
    mixed = [{"op": "replace", "path": "/state", "value": "queued"}, {"op": "replace", "path": "/destination_path", "value": "/x"}]
    assert api.call("PATCH", f"/restores/{restore}", mixed, agent=agent).status_code == 400
    assert api.call("GET", f"/restores/{restore}").json()["state"] == "start_requested"
    # A user-only field (the agent's /enabled) sent by the agent: the core
    # rejects it as a patch (400, its reason), not as forbidden.
    enabled = [{"op": "replace", "path": "/enabled", "value": False}]
    by_agent = api.call("PATCH", f"/agents/{agent}", enabled, agent=agent)
    assert by_agent.status_code == 400
    assert "may not change /enabled" in by_agent.json()["message"]
    assert api.call("PATCH", f"/agents/{agent}", enabled).status_code == 204
    assert api.call("GET", f"/agents/{agent}").json()["enabled"] is False
    # The vault's region once the vault holds a backup: the core's 403, in
    # the sample's words.
    region = [{"op": "replace", "path": "/vault/region", "value": "ORD"}]
    forbidden = api.call("PATCH", f"/agents/{agent}", region)
    assert forbidden.status_code == 403
    assert forbidden.json() == sample("cbu-updateAgent_response2.json")
    # Another agent may not patch this agent's restore.
    other = api.create("/agents", agent_body("other"), "v2.Agent")["id"]
    assert api.call("PATCH", f"/restores/{restore}", patch, agent=other).status_code == 403
    # An X-Agent-Id that names no agent.
    assert api.call("GET", "/restores", agent="ghost").status_code == 403


def test_a_user_stop_request_reaches_the_agent(emulator: Emulator) -> None:
    api = Api(emulator)
    s = setup_restore(api)
    agent, restore = s["agent"]["id"], s["restore"]["id"]
    stop = [{"op": "replace", "path": "/state", "value": "stop_requested"}]
    assert api.call("PATCH", f"/restores/{restore}", stop).status_code == 204
    events = api.call("GET", f"/agents/{agent}/events", agent=agent).json()["events"]
    assert events[-1]["event"] == "restore_stop_request" and events[-1]["restore"]["id"] == restore
    # After a stop request the agent may only end it.
    back = [{"op": "replace", "path": "/state", "value": "in_progress"}]
    assert api.call("PATCH", f"/restores/{restore}", back, agent=agent).status_code == 400
    end = [{"op": "replace", "path": "/state", "value": "stopped"}]
    assert api.call("PATCH", f"/restores/{restore}", end, agent=agent).status_code == 204


def test_configurations_and_cleanups(emulator: Emulator) -> None:
    api = Api(emulator)
    s = setup_restore(api)
    agent, config = s["agent"]["id"], s["config"]["id"]
    assert api.call("PATCH", f"/configurations/{config}", sample("cbu-updateConfiguration_request.json")).status_code == 204
    rename = [{"op": "replace", "path": "/name", "value": "nightly"}]
    assert api.call("PATCH", f"/configurations/{config}", rename, agent=agent).status_code == 400
    assert api.call("PATCH", f"/configurations/{config}", rename).status_code == 204
    listed = api.call("GET", f"/agents/{agent}/configurations").json()
    core.parse_model("v2.ConfigurationList", listed)
    assert [c["name"] for c in listed["configurations"]] == ["nightly"]
    cleanup = api.create("/cleanups", {"agent_id": agent, "state": "start_requested"}, "v2.Cleanup")
    done = sample("cbu-updateCleanup_request.json")
    assert api.call("PATCH", f"/cleanups/{cleanup['id']}", done, agent=agent).status_code == 204
    again = api.call("PATCH", f"/cleanups/{cleanup['id']}", done, agent=agent)
    assert again.status_code == 409
    assert again.json() == sample("cbu-updateCleanup_response409.json")
    assert api.call("DELETE", f"/configurations/{config}").status_code == 204
    assert api.call("GET", f"/configurations/{config}").status_code == 404


def test_state_survives_a_restart(tmp_path: Path) -> None:
    db = str(tmp_path / "state.sqlite3")
    first = Emulator(db)
    api = Api(first)
    s = setup_restore(api)
    token = api.token
    first.close()
    second = Emulator(db)
    try:
        http = TestClient(second.app)
        got = http.get(f"/v2/{TENANT}/restores/{s['restore']['id']}", headers={"X-Auth-Token": token})
        assert got.status_code == 200
        assert got.json()["state"] == "start_requested"
        events = http.get(f"/v2/{TENANT}/events", headers={"X-Auth-Token": token}).json()["events"]
        assert [e["event"] for e in events].count("restore_start_request") == 1
        # New ids continue after the old ones.
        api2 = Api(second)
        api2.create("/agents", agent_body("after"), "v2.Agent")
        after = api2.call("GET", "/events").json()["events"]
        assert int(after[-1]["id"]) > int(events[-1]["id"])
    finally:
        second.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    """The emulator on a free port of 127.0.0.1 (uvicorn in a thread)."""
    emulator = Emulator(str(tmp_path / "served.sqlite3"))
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(emulator.app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)
    emulator.close()


def test_the_client_over_http(served: str) -> None:
    identity = f"{served}/identity/v2.0"
    with cloudbackup.Client(username="demo", api_key="any", identity_url=identity) as user:
        agent = user.call("v2.agents.register_agent", {"agent": agent_body()})
        assert agent["name"] == "Web Server"
        config_body = sample("cbu-postConfig_request.json")
        config_body["agent_id"] = agent["id"]
        config = user.call("v2.configurations.create_configuration", {"body": config_body})
        backup = user.call("v2.backups.start_backup", {"body": {"configuration_id": config["id"], "state": "start_requested"}})
        restore_body = sample("cbu-postRestore_request.json")
        restore_body.update(backup_id=backup["id"], destination_agent_id=agent["id"])
        restores = [user.call("v2.restores.start_restore", {"body": restore_body}) for _ in range(3)]
        listed = list(user.paginate("v2.restores.list_restores", {"page": {"limit": 2}}))
        assert [r["id"] for r in listed] == [r["id"] for r in restores]
        with cloudbackup.Client(username="demo", api_key="any", identity_url=identity, agent_id=agent["id"]) as me:
            events = list(me.paginate("v2.events.list_agent_events", {"agent_id": agent["id"], "page": {"limit": 2}}))
            wanted = [e["restore"]["id"] for e in events if e["event"] == "restore_start_request"]
            assert wanted == [r["id"] for r in restores]
            rid = restores[0]["id"]
            for state in ("queued", "in_progress", "completed"):
                me.call("v2.restores.update_restore", {
                    "restore_id": rid, "patch": [{"op": "replace", "path": "/state", "value": state}],
                })
            assert user.call("v2.restores.get_restore", {"restore_id": rid})["state"] == "completed"
            with pytest.raises(cloudbackup.ApiError) as e:
                me.call("v2.restores.update_restore", {
                    "restore_id": rid, "patch": [{"op": "replace", "path": "/state", "value": "failed"}],
                })
            assert e.value.status == 409
            assert "already in a state of" in str(e.value)


def test_serve_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    from cloudbackup.cli import main

    with pytest.raises(SystemExit) as e:
        main(["serve", "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "--db FILE" in out and "--port N" in out and "/identity/v2.0" in out
