"""The service emulator (``cloudbackup serve``): Starlette's TestClient for
the routes, and one run over real HTTP (uvicorn in a thread) driven by
:class:`cloudbackup.Client` as a user and as an agent."""

from __future__ import annotations

import json
import threading
import time
import warnings
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import httpx
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

from conftest import emulator_served  # noqa: E402

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


def _complete(api: Api, kind: str, id: str, agent: str, state: str = "completed") -> None:
    """The agent reports the job ``state`` with its times."""
    patch = [{"op": "replace", "path": "/state", "value": state},
             {"op": "add", "path": "/started_time", "value": "2026-12-05T10:00:00.000000Z"},
             {"op": "add", "path": "/ended_time", "value": "2026-12-05T10:00:14.500000Z"}]
    answer = api.call("PATCH", f"/{kind}s/{id}", patch, agent=agent)
    assert answer.status_code == 204, answer.text


def _shape(value: Any) -> Any:
    """The members of a JSON value, recursively (lists by their first item)."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(value[0])] if value else []
    return None


def test_activities_follow_the_jobs_changes(emulator: Emulator) -> None:
    api = Api(emulator)
    s = setup_restore(api)
    agent, config = s["agent"]["id"], s["config"]["id"]
    backup, restore = s["backup"]["id"], s["restore"]["id"]
    listed = api.call("GET", "/activities").json()
    core.parse_model("v2.ActivityList", listed)
    # Newest change first (sort_dir defaults to desc), each job once.
    assert [(a["type"], a["id"]) for a in listed["activities"]] == [("restore", restore), ("backup", backup)]
    assert [a["state"] for a in listed["activities"]] == ["start_requested", "start_requested"]
    # The sample's members, links included (a restore names its backup's configuration).
    wanted = sample("cbu-getProjectActivities_response.json")["activities"]
    assert _shape(listed["activities"][0]) == _shape(wanted[2])
    assert listed["activities"][0]["configuration"]["id"] == config
    assert listed["activities"][0]["links"][0]["rel"] == "restore"
    assert listed["activities"][0]["links"][0]["href"].endswith(f"/v2/{TENANT}/restores/{restore}")
    # A state change moves the job to the front, with its new state.
    _complete(api, "backup", backup, agent)
    listed = api.call("GET", "/activities").json()["activities"]
    assert [(a["id"], a["state"]) for a in listed] == [(backup, "completed"), (restore, "start_requested")]
    assert listed[0]["last_updated_time"] > listed[1]["last_updated_time"]
    cleanup = api.create("/cleanups", {"agent_id": agent, "state": "start_requested"}, "v2.Cleanup")
    other = api.create("/agents", agent_body("other"), "v2.Agent")["id"]
    # Paging by marker, both directions, through the next links.
    seen: List[str] = []
    query = "?limit=2"
    while True:
        page = api.call("GET", f"/agents/{agent}/activities{query}").json()
        core.parse_model("v2.ActivityList", page)
        seen += [a["id"] for a in page["activities"]]
        if not page["links"]:
            break
        assert page["links"][0]["rel"] == "next"
        query = page["links"][0]["href"].split("/activities", 1)[1]
    assert seen == [cleanup["id"], backup, restore]
    asc = api.call("GET", f"/agents/{agent}/activities?sort_dir=asc&limit=2&marker={restore}").json()
    assert [a["id"] for a in asc["activities"]] == [backup, cleanup["id"]]
    assert "configuration" not in asc["activities"][1]
    # A configuration's activities: its backups and their restores.
    mine = api.call("GET", f"/configurations/{config}/activities").json()["activities"]
    assert [a["id"] for a in mine] == [backup, restore]
    assert api.call("GET", f"/agents/{other}/activities").json() == {"activities": [], "links": []}
    assert api.call("GET", "/agents/nope/activities").status_code == 404
    assert api.call("GET", "/activities?sort_dir=sideways").status_code == 400


def test_agent_settings_name_its_vault_and_configurations(emulator: Emulator) -> None:
    api = Api(emulator)
    s = setup_restore(api)
    agent = s["agent"]
    settings = api.call("GET", f"/agents/{agent['id']}/configuration", agent=agent["id"]).json()
    core.parse_model("v2.AgentSettings", settings)
    # The sample's members, but for what the emulator cannot know: where
    # the agent keeps its vault (no storage URLs) and when it runs (no
    # schedule: manual runs, "times": null).
    wanted = sample("cbu-getAgentConfig_response.json")
    wanted["vaults"][0]["links"] = []
    wanted["configurations"][0]["times"] = None
    assert _shape(settings) == _shape(wanted)
    vault = settings["vaults"][0]
    assert vault["id"] == agent["vault"]["id"] and vault["encrypted"] is False
    assert [c["id"] for c in settings["configurations"]] == [s["config"]["id"]]
    assert settings["configurations"][0]["vault_id"] == vault["id"]
    assert settings["configurations"][0]["retention"] == {"days": 30}
    heartbeat = settings["system_preferences"]["events"]["rse"]["heartbeat"]
    assert heartbeat["interval_ms"]["active"] == 30000 and heartbeat["timeout_ms"]["active"] == 75000
    assert api.call("DELETE", f"/configurations/{s['config']['id']}").status_code == 204
    after = api.call("GET", f"/agents/{agent['id']}/configuration").json()
    assert after["configurations"] == [] and after["vaults"] == settings["vaults"]


def test_heartbeats_make_an_agent_online(tmp_path: Path) -> None:
    e = Emulator(str(tmp_path / "hb.sqlite3"), heartbeat_timeout=0.5)
    try:
        api = Api(e)
        s = setup_restore(api)
        agent, restore = s["agent"]["id"], s["restore"]["id"]

        def status() -> Dict[str, Any]:
            answer = api.call("GET", f"/agents/{agent}/status")
            assert answer.status_code == 200, answer.text
            got: Dict[str, Any] = answer.json()
            core.parse_model("v2.AgentStatus", got)
            return got

        assert status() == {"busy": False, "online": False}
        # The channel the agent's settings name (the reference's RSE).
        rse = api.call("GET", f"/agents/{agent}/configuration").json()["system_preferences"]["events"]["rse"]
        assert rse["host"] == "http://testserver"

        def beat(body: Any, as_agent: Optional[str] = agent) -> int:
            headers = {"X-Auth-Token": api.token}
            if as_agent is not None:
                headers["X-Agent-Id"] = as_agent
            code: int = api.http.post(rse["channel"], content=json.dumps(body), headers=headers).status_code
            return code

        assert beat({"event": "agent_heartbeat"}) == 202
        assert status() == {"busy": False, "online": True}
        # The heartbeat is in the agent's events, as the reference lists it.
        events = api.call("GET", f"/agents/{agent}/events").json()["events"]
        assert events[-1]["event"] == "agent_heartbeat" and events[-1]["agent"] == {"id": agent}
        # Only the agent itself, only heartbeats; the API's own event post
        # takes startup and shutdown only (the core's model, as the reference).
        assert beat({"event": "agent_heartbeat"}, as_agent=None) == 403
        assert beat({"event": "startup"}) == 400
        assert api.call("POST", f"/agents/{agent}/events", {"event": "agent_heartbeat"}, agent=agent).status_code == 400
        # Busy while a job is taken up and not ended (a start request is not).
        queued = [{"op": "replace", "path": "/state", "value": "queued"}]
        assert api.call("PATCH", f"/restores/{restore}", queued, agent=agent).status_code == 204
        assert status()["busy"] is True
        _complete(api, "restore", restore, agent)
        assert status()["busy"] is False
        # No heartbeat for longer than the timeout: offline; back with the next.
        time.sleep(0.7)
        assert status()["online"] is False
        assert api.call("POST", f"/agents/{agent}/events", {"event": "startup"}, agent=agent).status_code == 202
        assert status()["online"] is True
        # Saying it stops: offline at once.
        assert api.call("POST", f"/agents/{agent}/events", {"event": "shutdown"}, agent=agent).status_code == 202
        assert status()["online"] is False
        assert api.call("GET", "/agents/nope/status").status_code == 404
    finally:
        e.close()


def test_v1_ids_and_states_survive_a_restart(tmp_path: Path) -> None:
    db = str(tmp_path / "v1.sqlite3")
    first = Emulator(db)
    api = Api(first)
    s = setup_restore(api)
    agent, backup = s["agent"]["id"], s["backup"]["id"]
    _complete(api, "backup", backup, agent)
    available = api.http.get(f"/v1.0/{TENANT}/backup/availableforrestore", headers={"X-Auth-Token": api.token}).json()
    spec = {"BackupId": None, "BackupMachineId": available[0]["MachineAgentId"],
            "DestinationMachineId": available[0]["MachineAgentId"], "DestinationPath": "/tmp/r",
            "BackupDataCenter": "DFW", "OverwriteFiles": "false"}
    completed = api.http.get(f"/v1.0/{TENANT}/backup/completed/{available[0]['BackupConfigurationId']}",
                             headers={"X-Auth-Token": api.token}).json()
    spec["BackupId"] = completed[0]["BackupId"]
    created = api.http.put(f"/v1.0/{TENANT}/restore", content=json.dumps(spec), headers={"X-Auth-Token": api.token})
    assert created.status_code == 200, created.text
    restore_v1 = created.json()
    first.close()
    second = Emulator(db)
    try:
        http = TestClient(second.app)
        headers = {"X-Auth-Token": api.token}
        again = http.get(f"/v1.0/{TENANT}/restore/{restore_v1['RestoreId']}", headers=headers).json()
        assert again == restore_v1 and again["RestoreStateId"] == 0 and again["OverwriteFiles"] is False
        assert http.get(f"/v1.0/{TENANT}/backup/availableforrestore", headers=headers).json() == available
        # The next v1 id continues after the old ones.
        body = {"Action": "StartManual", "Id": available[0]["BackupConfigurationId"]}
        started = http.post(f"/v1.0/{TENANT}/backup/action-requested", content=json.dumps(body), headers=headers)
        assert started.status_code == 200, started.text
        assert started.json() > max(restore_v1["RestoreId"], completed[0]["BackupId"])
    finally:
        second.close()


def test_agent_tokens_reach_only_the_agents_own(emulator: Emulator) -> None:
    api = Api(emulator)
    s = setup_restore(api)
    # A second agent (registered with its own fingerprint) whose backup the
    # first agent restores.
    body = agent_body("source")
    body["host"]["fingerprint"] = "source-host"
    source = api.call("POST", "/agents", body).json()
    config_body = sample("cbu-postConfig_request.json")
    config_body["agent_id"] = source["id"]
    source_config = api.create("/configurations", config_body, "v2.Configuration")
    source_backup = api.create("/backups", {"configuration_id": source_config["id"], "state": "start_requested"},
                               "v2.Backup")
    agent = s["agent"]
    registered = api.call("POST", "/agents", agent_body("mine")).json()
    credentials = sample("cbu-postAgentTokens_request.json")
    credentials.update(project_id=TENANT, id=registered["id"], password=registered["password"])

    def authenticate(creds: Dict[str, Any]) -> Any:
        # No X-Auth-Token: the agent has none yet (the core's request says so).
        request = core.build_request("v2.agents.authenticate_agent", {"credentials": creds},
                                     token="unused", tenant_id=TENANT)
        assert not any(k == "X-Auth-Token" for k, _ in request["headers"])
        return api.http.post(request["path"], content=request["body"], headers=dict(request["headers"]))

    answer = authenticate(credentials)
    assert answer.status_code == 200, answer.text
    token = core.parse_response("v2.agents.authenticate_agent", 200, answer.content,
                                params={"credentials": credentials})["token"]["id"]
    assert authenticate({**credentials, "password": "wrong"}).status_code == 401
    assert authenticate({**credentials, "id": agent["id"]}).status_code == 401
    other_host = {**credentials, "host": {**credentials["host"], "fingerprint": "another host"}}
    conflict = authenticate(other_host)
    assert conflict.status_code == 409 and "fingerprint" in conflict.json()["message"]
    me = registered["id"]
    restore_body = sample("cbu-postRestore_request.json")
    restore_body.update(backup_id=source_backup["id"], destination_agent_id=me)
    mine = api.create("/restores", restore_body, "v2.Restore")

    def call(method: str, path: str, body: Any = None, agent_header: Optional[str] = None) -> Any:
        headers = {"X-Auth-Token": token}
        if agent_header is not None:
            headers["X-Agent-Id"] = agent_header
        content = None if body is None else json.dumps(body)
        return api.http.request(method, f"/v2/{TENANT}{path}", content=content, headers=headers)

    # Its own resources (no X-Agent-Id needed: the token says who it is).
    assert call("GET", f"/agents/{me}").status_code == 200
    assert call("GET", f"/restores/{mine['id']}").status_code == 200
    queued = [{"op": "replace", "path": "/state", "value": "queued"}]
    assert call("PATCH", f"/restores/{mine['id']}", queued).status_code == 204
    # ... and the backup its restore restores from, though another agent's.
    assert call("GET", f"/backups/{source_backup['id']}").status_code == 200
    # Another agent's resources: 403.
    assert call("GET", f"/agents/{agent['id']}").status_code == 403
    assert call("GET", f"/restores/{s['restore']['id']}").status_code == 403
    assert call("GET", f"/backups/{s['backup']['id']}").status_code == 403
    assert call("PATCH", f"/restores/{s['restore']['id']}", queued).status_code == 403
    assert call("GET", f"/agents/{agent['id']}/events").status_code == 403
    assert call("GET", f"/configurations/{s['config']['id']}").status_code == 403
    # Lists hold only its own.
    assert [a["id"] for a in call("GET", "/agents").json()["agents"]] == [me]
    assert [r["id"] for r in call("GET", "/restores").json()["restores"]] == [mine["id"]]
    assert call("GET", "/backups").json()["backups"] == []
    assert {e["agent"]["id"] for e in call("GET", "/events").json()["events"]} == {me}
    assert [a["id"] for a in call("GET", "/activities").json()["activities"]] == [mine["id"]]
    # Users' operations, and another agent's X-Agent-Id: 403.
    assert call("POST", "/agents", agent_body("rogue")).status_code == 403
    assert call("POST", "/backups", {"configuration_id": source_config["id"], "state": "start_requested"}).status_code == 403
    assert call("DELETE", f"/agents/{agent['id']}").status_code == 403
    assert call("GET", f"/agents/{me}", agent_header=agent["id"]).status_code == 403
    v1 = api.http.get(f"/v1.0/{TENANT}/backup/availableforrestore", headers={"X-Auth-Token": token})
    assert v1.status_code == 403
    # The user's token still reaches everything; a deleted agent's token is void.
    assert api.call("GET", f"/agents/{agent['id']}").status_code == 200
    assert api.call("DELETE", f"/agents/{me}").status_code == 204
    assert call("GET", "/agents").status_code == 401



@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    """The emulator on a free port of 127.0.0.1 (uvicorn in a thread)."""
    with emulator_served(Emulator(str(tmp_path / "served.sqlite3"))) as url:
        yield url


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


def test_v1_operations_through_the_client(served: str) -> None:
    """v1.0's seeds against the emulator, built and parsed by the core (the
    Client): what the client sends the emulator reads, and what the
    emulator answers the client parses."""
    identity = f"{served}/identity/v2.0"
    key = cloudbackup.AgentKey.generate(2048)
    with cloudbackup.Client(username="demo", api_key="any", identity_url=identity) as user:
        body = agent_body("v1 host")
        body["rsa_public_key"] = key.rsa_public_key()
        agent = user.call("v2.agents.register_agent", {"agent": body})
        config_body = sample("cbu-postConfig_request.json")
        config_body.update(agent_id=agent["id"], name="nightly")
        config = user.call("v2.configurations.create_configuration", {"body": config_body})
        # Nothing restorable yet.
        assert user.call("v1.backups.list_backups_available_for_restore", {}) == []

        with cloudbackup.Client(username="demo", api_key="any", identity_url=identity, agent_id=agent["id"]) as me:
            settings = me.call("v2.settings.get_agent_settings", {"agent_id": agent["id"]})
            assert settings["configurations"][0]["id"] == config["id"]
            # One backup run to completed by the agent (v2): restorable, and v1 lists it.
            first = user.call("v2.backups.start_backup", {"body": {"configuration_id": config["id"], "state": "start_requested"}})
            for patch in ([{"op": "replace", "path": "/state", "value": "in_progress"},
                           {"op": "add", "path": "/started_time", "value": "2026-12-05T10:00:00.000000Z"}],
                          [{"op": "replace", "path": "/state", "value": "completed"},
                           {"op": "add", "path": "/ended_time", "value": "2026-12-05T10:01:00.000000Z"},
                           {"op": "add", "path": "/snapshot_id", "value": 42}]):
                me.call("v2.backups.update_backup", {"backup_id": first["id"], "patch": patch})
            assert user.call("v2.backups.get_backup", {"backup_id": first["id"]})["restorable"] is True
            available = user.call("v1.backups.list_backups_available_for_restore", {})
            assert len(available) == 1
            entry = available[0]
            assert entry["BackupConfigurationName"] == "nightly" and entry["MachineName"] == "v1 host"
            assert entry["PublicKeyMod"] == key.rsa_public_key()["modulus"]
            # The newest restorable backup's ended_time, 2026-12-05T10:01:00Z.
            assert entry["LastSuccessfulBackupTime"] == "/Date(1796464860000)/"
            config_num, agent_num = int(entry["BackupConfigurationId"]), int(entry["MachineAgentId"])
            completed = user.call("v1.backups.list_completed_backups", {"backup_configuration_id": str(config_num)})
            assert [int(b["BackupConfigurationId"]) for b in completed] == [config_num]
            first_num = int(completed[0]["BackupId"])
            v1_backup = user.call("v1.backups.get_backup", {"backup_id": str(first_num)})
            assert v1_backup["CurrentState"] == "Completed" and int(v1_backup["SnapshotId"]) == 42

            # StartManual: a new backup for the agent; again while it waits: 400.
            num = user.call("v1.backups.request_backup_action", {"action": "StartManual", "id": config_num})
            assert isinstance(num, int) and num > first_num
            assert user.call("v1.backups.get_backup", {"backup_id": str(num)})["CurrentState"] == "StartRequested"
            events = me.call("v2.events.list_agent_events", {"agent_id": agent["id"]})["events"]
            assert events[-1]["event"] == "backup_start_request"
            with pytest.raises(cloudbackup.ApiError) as e:
                user.call("v1.backups.request_backup_action", {"action": "StartManual", "id": config_num})
            assert e.value.status == 400 and "still start_requested" in str(e.value)
            # StopManual of that backup: stop_requested, and the agent hears of it.
            assert user.call("v1.backups.request_backup_action", {"action": "StopManual", "id": num}) is None
            assert user.call("v1.backups.get_backup", {"backup_id": str(num)})["CurrentState"] == "StopRequested"
            assert me.call("v2.events.list_agent_events", {"agent_id": agent["id"]})["events"][-1]["event"] == \
                "backup_stop_request"
            # A finished backup cannot be stopped: the core's 409.
            with pytest.raises(cloudbackup.ApiError) as e:
                user.call("v1.backups.request_backup_action", {"action": "StopManual", "id": first_num})
            assert e.value.status == 409
            with pytest.raises(cloudbackup.ApiError) as e:
                user.call("v1.backups.request_backup_action", {"action": "StopManual", "id": 999_999_999})
            assert e.value.status == 404

            # A v1 restore: created in Creating, started with the password
            # encrypted for the destination agent.
            spec = {"BackupId": first_num, "BackupMachineId": agent_num, "DestinationMachineId": agent_num,
                    "DestinationPath": "/tmp/v1-restore", "BackupDataCenter": "DFW", "OverwriteFiles": True}
            created = user.call("v1.restores.create_restore", {"body": spec})
            assert created["RestoreStateId"] == 0 and created["BackupConfigurationName"] == "nightly"
            assert created["PublicKey"]["ModulusHex"] == key.rsa_public_key()["modulus"]
            assert created["BackupRestorePoint"] == "/Date(1796464860000)/"
            restore_num = int(created["RestoreId"])
            with pytest.raises(cloudbackup.ApiError) as e:
                user.call("v1.restores.create_restore", {"body": {**spec, "BackupMachineId": agent_num + 1000}})
            assert e.value.status == 400
            # A password with StopManual: refused before sending, and by the emulator alike.
            with pytest.raises(cloudbackup.InvalidArgument):
                user.call("v1.restores.request_restore_action",
                          {"body": {"Action": "StopManual", "Id": restore_num, "EncryptedPassword": "ab"}})
            raw = httpx.post(f"{served}/v1.0/{TENANT}/restore/action-requested",
                             json={"Action": "StopManual", "Id": restore_num, "EncryptedPassword": "ab"},
                             headers={"X-Auth-Token": user.authenticate().token})
            assert raw.status_code == 400 and "EncryptedPassword" in raw.json()["message"]
            password = cloudbackup.encrypt_password_for_agent(
                key.rsa_public_key()["modulus"], str(key.rsa_public_key()["exponent"]), "s3cret")
            assert user.call("v1.restores.request_restore_action",
                             {"body": {"Action": "StartManual", "Id": restore_num, "EncryptedPassword": password}}) is None
            got = user.call("v1.restores.get_restore", {"restore_id": str(restore_num)})
            assert got["RestoreStateId"] == 6
            start = me.call("v2.events.list_agent_events", {"agent_id": agent["id"]})["events"][-1]
            assert start["event"] == "restore_start_request"
            assert key.decrypt_password(start["encrypted_password_hex"]) == "s3cret"
            assert start["restore"]["destination_path"] == "/tmp/v1-restore" and start["backup"]["snapshot_id"] == 42
            restore_id = start["restore"]["id"]
            # The agent runs it (v2 patches); StopManual; the agent ends it.
            me.call("v2.restores.update_restore", {"restore_id": restore_id, "patch": [
                {"op": "replace", "path": "/state", "value": "in_progress"},
                {"op": "add", "path": "/started_time", "value": "2026-12-05T11:00:00.000000Z"}]})
            assert user.call("v1.restores.get_restore", {"restore_id": str(restore_num)})["RestoreStateId"] == 2
            assert user.call("v1.restores.request_restore_action",
                             {"body": {"Action": "StopManual", "Id": restore_num}}) is None
            assert me.call("v2.events.list_agent_events", {"agent_id": agent["id"]})["events"][-1]["event"] == \
                "restore_stop_request"
            me.call("v2.restores.update_restore", {"restore_id": restore_id, "patch": [
                {"op": "replace", "path": "/state", "value": "stopped"},
                {"op": "add", "path": "/ended_time", "value": "2026-12-05T11:00:14.000000Z"},
                {"op": "add", "path": "/files_restored", "value": 3},
                {"op": "add", "path": "/bytes_restored", "value": 1512}]})
            report = user.call("v1.restores.get_restore_report", {"restore_id": str(restore_num)})
            assert report["State"] == "Stopped" and report["Duration"] == "00:00:14"
            assert int(report["NumFilesRestored"]) == 3 and report["NumBytesRestored"] == "1512 bytes"
            assert int(report["RestoreDestinationMachineId"]) == agent_num
            # Ended: StartManual again is the core's 409.
            with pytest.raises(cloudbackup.ApiError) as e:
                user.call("v1.restores.request_restore_action",
                          {"body": {"Action": "StartManual", "Id": restore_num, "EncryptedPassword": None}})
            assert e.value.status == 409
            # The bodies carry the samples' members (v1 details add those the
            # reference's tables and the live service have beyond the example).
            v1_samples = SAMPLES.parent / "samples-v1"

            def v1_get(path: str) -> Any:
                answer = httpx.get(f"{served}/v1.0/{TENANT}/{path}", headers={"X-Auth-Token": user.authenticate().token})
                assert answer.status_code == 200, answer.text
                return answer.json()

            def members(name: str) -> set[str]:
                value = json.loads((v1_samples / name).read_text())
                return set((value[0] if isinstance(value, list) else value).keys())

            assert set(v1_get(f"restore/{restore_num}")) == members("getRestoreDetails_response.json") | {"MachineAgentId"}
            assert set(v1_get(f"restore/report/{restore_num}")) == members("getRestoreReport_response.json")
            assert set(v1_get("backup/availableforrestore")[0]) == members("getAvailableBackups_response.json")
            assert set(v1_get(f"backup/completed/{config_num}")[0]) == members("getCompletedBackups_response.json")
            assert set(v1_get(f"backup/{first_num}")) == members("getBackupDetails_response.json") | {
                "Datacenter", "BackupDatacenter", "SnapshotId"}
            # The activities saw every step.
            activities = user.call("v2.activities.list_project_activities", {})["activities"]
            assert [(a["type"], a["state"]) for a in activities][:2] == [("restore", "stopped"),
                                                                         ("backup", "stop_requested")]


def test_serve_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    from cloudbackup.cli import main

    with pytest.raises(SystemExit) as e:
        main(["serve", "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "--db FILE" in out and "--port N" in out and "/identity/v2.0" in out


# -- vault and browse requests -------------------------------------------------


def _sample_event(samples: str, name: str) -> Dict[str, Any]:
    """The event ``name`` of a sample event list."""
    found: Dict[str, Any] = next(e for e in sample(samples)["events"] if e["event"] == name)
    return found


def _accepted(answer: Any, path: str) -> str:
    """The request id of a 202: its ``Location`` names the request under
    ``path`` (the URL its result is read at), as the core reads it."""
    assert answer.status_code == 202, answer.text
    assert answer.content == b""
    location = answer.headers["location"]
    assert location.startswith(f"http://testserver/v2/{TENANT}{path}/")
    request_id = str(location).rsplit("/", 1)[1]
    assert core.parse_response("v2.browse.browse_host", 202, b"", params={"agent_id": "a", "body": {"path": "/"}},
                               headers=[("Location", location)])["request_id"] == request_id
    return request_id


def _last_event(api: Api, path: str, name: str) -> Dict[str, Any]:
    events = api.call("GET", f"{path}/events").json()["events"]
    core.parse_model("v2.EventList", {"events": events})
    found: Dict[str, Any] = [e for e in events if e["event"] == name][-1]
    return found


def test_vault_encryption_and_password_verification(tmp_path: Path) -> None:
    db = str(tmp_path / "vault.sqlite3")
    e = Emulator(db)
    api = Api(e)
    agent = api.create("/agents", agent_body(), "v2.Agent")["id"]
    base = f"/agents/{agent}"
    enc, ver = f"{base}/vault-encryption-requests", f"{base}/vault-password-verification-requests"
    verify_body = {**sample("cbu-postAgentVaultPasswordRequest_request.json"), "agent_id": None}
    # The samples' 403s: nothing to verify, no old password to change.
    refused = api.call("POST", ver, verify_body)
    assert (refused.status_code, refused.json()) == (403, {"message": "Encryption is not enabled for this agent's vault."})
    with_old = {**sample("cbu-postAgentVaultEncryptionRequest_request.json"), "old_encrypted_password_hex": "ab"}
    refused = api.call("POST", enc, with_old)
    assert (refused.status_code, refused.json()) == (
        403, {"message": "An old password was supplied, but the vault is unencrypted."})
    # The core's checks: a password that is not hex.
    assert api.call("POST", enc, {"old_encrypted_password_hex": None, "new_encrypted_password_hex": "xyz"}).status_code == 400

    request = _accepted(api.call("POST", enc, sample("cbu-postAgentVaultEncryptionRequest_request.json")), enc)
    event = _last_event(api, base, "vault_encryption_enable")
    assert _shape(event) == _shape(_sample_event("cbu-getAgentEvents_response.json", "vault_encryption_enable"))
    assert event["request_id"] == request
    assert api.call("GET", f"{enc}/{request}").status_code == 404
    report = sample("cbu-postAgentVaultEncryptionReport_request.json")
    assert api.call("POST", f"{enc}/{request}", report).status_code == 403
    assert api.call("POST", f"{enc}/{request}", {"action": "changed", "succeeded": True}, agent=agent).status_code == 400
    assert api.call("POST", f"{enc}/{request}", {"action": "disabled", "succeeded": True}, agent=agent).status_code == 400
    answer = api.call("POST", f"{enc}/{request}", report, agent=agent)
    assert (answer.status_code, answer.content) == (204, b"")
    assert api.call("POST", f"{enc}/{request}", report, agent=agent).status_code == 409
    assert api.call("POST", f"{enc}/nope", report, agent=agent).status_code == 404
    result = api.call("GET", f"{enc}/{request}")
    assert result.status_code == 200
    assert _shape(result.json()) == _shape(sample("cbu-getAgentVaultEncryptionReport_response.json"))
    core.parse_model("v2.VaultEncryptionResult", result.json())
    assert result.json()["succeeded"] is True and result.json()["request_id"] == request
    assert api.call("GET", base).json()["vault"]["encrypted"] is True

    # Encrypted now: a change needs the old password; the event carries both.
    assert api.call("POST", enc, sample("cbu-postAgentVaultEncryptionRequest_request.json")).status_code == 403
    change = _accepted(api.call("POST", enc, {"old_encrypted_password_hex": "01ab",
                                              "new_encrypted_password_hex": "02cd"}), enc)
    event = _last_event(api, base, "vault_encryption_change")
    assert _shape(event) == _shape(_sample_event("cbu-getAgentEvents_response.json", "vault_encryption_change"))
    assert (event["old_encrypted_password_hex"], event["new_encrypted_password_hex"]) == ("01ab", "02cd")
    assert api.call("POST", f"{enc}/{change}", report, agent=agent).status_code == 400
    assert api.call("POST", f"{enc}/{change}", {"action": "changed", "succeeded": False}, agent=agent).status_code == 204
    assert api.call("GET", f"{enc}/{change}").json()["event"] == "vault_encryption_changed"

    # Verification: the agent reports the password wrong.
    other = api.create("/agents", agent_body("other"), "v2.Agent")["id"]
    assert api.call("POST", ver, {**verify_body, "agent_id": other}).status_code == 403  # its vault: unencrypted
    assert api.call("POST", ver, {**verify_body, "agent_id": "nope"}).status_code == 400
    check = _accepted(api.call("POST", ver, verify_body), ver)
    event = _last_event(api, base, "vault_password_verify")
    assert _shape(event) == _shape(_sample_event("cbu-getAgentEvents_response.json", "vault_password_verify"))
    assert api.call("GET", f"{ver}/{check}").status_code == 404
    assert api.call("POST", f"{ver}/{check}", {"verified": False}, agent=other).status_code == 403
    answer = api.call("POST", f"{ver}/{check}", {"verified": False}, agent=agent)
    assert (answer.status_code, answer.content) == (204, b"")
    e.close()

    # The answers survive a restart.
    e = Emulator(db)
    try:
        http = TestClient(e.app)
        result = http.get(f"/v2/{TENANT}{ver}/{check}", headers={"X-Auth-Token": api.token})
        assert result.status_code == 200
        assert _shape(result.json()) == _shape(sample("cbu-getAgentVaultPasswordReport_response.json"))
        core.parse_model("v2.VaultPasswordResult", result.json())
        assert result.json()["valid"] is False and result.json()["event"] == "vault_password_verified"
    finally:
        e.close()


def test_browse_requests(emulator: Emulator) -> None:
    api = Api(emulator)
    s = setup_restore(api)
    agent, backup = s["agent"]["id"], s["backup"]["id"]
    other = api.create("/agents", agent_body("other"), "v2.Agent")["id"]
    rse = api.call("GET", f"/agents/{agent}/configuration").json()["system_preferences"]["events"]["rse"]

    def post(body: Any, as_agent: str = agent) -> Any:
        channel = rse["channel"].replace(agent, as_agent)
        return api.http.post(channel, content=json.dumps(body),
                             headers={"X-Auth-Token": api.token, "X-Agent-Id": as_agent})

    # A folder of the agent's host.
    hosts = f"/agents/{agent}/browse-requests"
    request = _accepted(api.call("POST", hosts, sample("cbu-postAgentBrowseRequest_request.json")), hosts)
    event = _last_event(api, f"/agents/{agent}", "host_browse")
    assert _shape(event) == _shape(_sample_event("cbu-getAgentEvents_response.json", "host_browse"))
    assert (event["request_id"], event["path"]) == (request, "/")
    assert api.call("GET", f"{hosts}/{request}").status_code == 404
    answer = {k: v for k, v in sample("cbu-getAgentBrowseResult_response.json").items()
              if k not in ("id", "time", "agent", "request_id")}
    assert post({**answer, "request_id": request}, as_agent=other).status_code == 404
    assert post({**answer, "request_id": request, "items": [{"name": "x"}]}).status_code == 400
    assert post({"event": "host_browsed", "succeeded": True}).status_code == 400
    assert post({**answer, "request_id": request}).status_code == 202
    assert post({**answer, "request_id": request}).status_code == 409
    result = api.call("GET", f"{hosts}/{request}")
    assert result.status_code == 200
    assert _shape(result.json()) == _shape(sample("cbu-getAgentBrowseResult_response.json"))
    assert result.json()["items"] == answer["items"] and result.json()["request_id"] == request
    core.parse_model("v2.BrowseResult", result.json())
    assert api.call("GET", f"/agents/{other}/browse-requests/{request}").status_code == 404

    # A folder of a backup: once it has a snapshot.
    backups = f"/backups/{backup}/browse-requests"
    body = {**sample("cbu-postBackupBrowseRequest_request.json"), "agent_id": agent}
    refused = api.call("POST", backups, body)
    assert refused.status_code == 403 and "no snapshot" in refused.json()["message"]
    snapshot = [{"op": "replace", "path": "/snapshot_id", "value": 4242}]
    assert api.call("PATCH", f"/backups/{backup}", snapshot, agent=agent).status_code == 204
    _complete(api, "backup", backup, agent)
    assert api.call("POST", backups, {**body, "agent_id": "nope"}).status_code == 400
    assert api.call("POST", "/backups/nope/browse-requests", body).status_code == 404
    request = _accepted(api.call("POST", backups, {**body, "encrypted_password_hex": "abcd"}), backups)
    event = _last_event(api, f"/backups/{backup}", "backup_browse")
    assert _shape(event) == _shape(_sample_event("cbu-getBackupEvents_response.json", "backup_browse"))
    assert event["backup"] == {"snapshot_id": 4242} and event["agent"]["id"] == agent
    assert event["agent"]["vault"] == {"id": s["agent"]["vault"]["id"], "encrypted": False}
    assert _last_event(api, f"/agents/{agent}", "backup_browse") == event
    assert api.call("GET", f"{backups}/{request}").status_code == 404
    # A host answer does not answer a backup browse.
    assert post({**answer, "request_id": request}).status_code == 404
    answer = {k: v for k, v in sample("cbu-getBackupBrowseResult_response.json").items()
              if k not in ("id", "time", "agent", "request_id")}
    assert post({**answer, "request_id": request}).status_code == 202
    result = api.call("GET", f"{backups}/{request}")
    assert result.status_code == 200
    assert _shape(result.json()) == _shape(sample("cbu-getBackupBrowseResult_response.json"))
    assert result.json()["event"] == "backup_browsed"


def test_moving_a_vault(emulator: Emulator) -> None:
    api = Api(emulator)
    s = setup_restore(api)
    source, backup = s["agent"], s["backup"]["id"]
    target = api.create("/agents", agent_body("target"), "v2.Agent")
    move = sample("cbu-postAgentVault_request.json")
    # Users move vaults; an agent's own token may not.
    credentials = sample("cbu-postAgentTokens_request.json")
    credentials.update(project_id=TENANT, id=target["id"], password=target["password"])
    token = api.http.post(f"/v2/{TENANT}/agents/tokens", json=credentials).json()["token"]["id"]
    refused = api.http.post(f"/v2/{TENANT}/agents/{target['id']}/vault", json={"source_agent_id": source["id"]},
                            headers={"X-Auth-Token": token})
    assert refused.status_code == 403 and "it is for users" in refused.json()["message"]
    answer = api.call("POST", f"/agents/{target['id']}/vault", {"source_agent_id": source["id"]})
    assert (answer.status_code, answer.content) == (204, b"")
    s2 = api.call("GET", f"/agents/{target['id']}").json()
    assert s2["vault"]["id"] == source["vault"]["id"]
    moved = api.call("GET", f"/agents/{source['id']}").json()
    assert moved["vault"]["id"] != source["vault"]["id"] and moved["vault"]["encrypted"] is False
    # The vault's backups went with it.
    assert api.call("GET", f"/backups/{backup}").json()["agent"]["id"] == target["id"]
    assert emulator.store.count("backup", TENANT, agent=target["id"]) == 1
    assert emulator.store.count("backup", TENANT, agent=source["id"]) == 0
    # The target now holds backups: it takes no other vault.
    third = api.create("/agents", agent_body("third"), "v2.Agent")
    refused = api.call("POST", f"/agents/{target['id']}/vault", {"source_agent_id": third["id"]})
    assert refused.status_code == 403 and "already holds backups" in refused.json()["message"]
    assert api.call("POST", f"/agents/{third['id']}/vault", move).status_code == 403  # not of the project
    assert api.call("POST", f"/agents/{third['id']}/vault", {"source_agent_id": third["id"]}).status_code == 400
    assert api.call("POST", "/agents/nope/vault", {"source_agent_id": third["id"]}).status_code == 404
    assert api.call("POST", f"/agents/{third['id']}/vault", {"source_agent_id": ""}).status_code == 400
    events = api.call("GET", f"/agents/{source['id']}/events").json()["events"]
    assert events[-1]["event"] == "configuration_changed"


def test_odd_requests_get_client_errors_never_a_500(emulator: Emulator) -> None:
    """Every route, given odd ids (not a UUID, a v1 number past SQLite's
    INTEGER), odd queries, odd bodies (not JSON, not UTF-8, nested 3,000
    deep, the wrong shapes) and odd agent headers, one at a time beside
    plausible values: the service answers with a 4xx (or a 2xx), never a
    server error. Nesting and huge v1 ids were 500s."""
    api = Api(emulator)
    s = setup_restore(api)
    api.http = TestClient(emulator.app, raise_server_exceptions=False)
    agent, ids = s["agent"]["id"], [s[k]["id"] for k in ("agent", "config", "backup", "restore")]
    odd_ids = ["x", "-1", "99999999999999999999999", "%FF", "a%2Fb", "\u0661\u0662"]
    queries = ["?limit=-1", "?limit=abc", "?limit=999999999999999999999", "?marker=zzz", "?limit=1.5", "?state=bogus"]
    bodies: List[bytes] = [
        b"", b"null", b"[]", b"{", b'"x"', b"1e999", b"\xff\xfe", b"[" * 3000 + b"]" * 3000,
        b'{"a":' * 3000 + b"1" + b"}" * 3000, json.dumps({"state": {"a": 1}, "agent_id": 5, "name": None}).encode(),
        json.dumps([{"op": "bogus"}, None]).encode(), json.dumps([{"op": "replace", "path": "/errors", "value": [1]}]).encode(),
    ]
    routes = [
        (m, str(getattr(r, "path")))
        for r in emulator.app.routes
        for m in sorted(getattr(r, "methods", None) or [])
        if m != "HEAD"
    ]
    assert len(routes) > 50
    failures: List[str] = []

    def send(method: str, path: str, query: str = "", body: Optional[bytes] = None, agent_id: Optional[str] = None) -> None:
        headers = {"X-Auth-Token": api.token}
        if agent_id is not None:
            headers["X-Agent-Id"] = agent_id
        answer = api.http.request(method, path + query, content=body, headers=headers)
        if answer.status_code >= 500:
            failures.append(f"{method} {path}{query} body={(body or b'')[:40]!r} agent={agent_id}: {answer.status_code}")

    for method, template in routes:
        with_body = method in ("POST", "PATCH", "PUT")
        plausible = json.dumps({}).encode() if with_body else None
        filled = [template.replace("{project}", TENANT).replace("{id}", i).replace("{agent}", i) for i in odd_ids + ids]
        for path in filled if "{id}" in template or "{agent}" in template else filled[:1]:
            send(method, path, body=plausible)
        real = template.replace("{project}", TENANT).replace("{id}", agent).replace("{agent}", agent)
        for query in queries if method == "GET" else []:
            send(method, real, query)
        for body in bodies if with_body else []:
            send(method, real, body=body)
        for agent_id in ("x", agent, "../" + "a" * 1000):
            send(method, real, body=plausible, agent_id=agent_id)
    assert failures == []
