"""Models, operations, lifecycle and patch rules, over the shared fixtures."""

from __future__ import annotations

import json
import re
import types
from typing import Any, Callable, Dict, List, Tuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cloudbackup as cb
from conftest import DATA, REPO

SAMPLES = DATA / "rackspace"
RESTORE_SAMPLE = (SAMPLES / "samples-v2" / "cbu-getRestoreDetails_response.json").read_bytes()


def sample_table() -> Dict[str, str]:
    """Sample file -> model type, read from the Rust tests' tables (one
    mapping for every language)."""
    table: Dict[str, str] = {}
    tables = REPO / "core" / "tests" / "samples"
    for rust, folder in [
        ("v1_table.rs", "samples-v1"),
        ("v2_agents_table.rs", "samples-v2"),
        ("v2_jobs_table.rs", "samples-v2"),
    ]:
        text = (tables / rust).read_text()
        for name, type_name in re.findall(r'\(\s*"([^"]+\.json)",\s*"([^"]+)",?\s*\)', text):
            table[f"{folder}/{name}"] = type_name
    return table


def normalise(value: Any) -> Any:
    """As the Rust sample test: nulls dropped from objects, for comparing."""
    if isinstance(value, dict):
        return {k: normalise(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [normalise(v) for v in value]
    return value


def same_objects(a: Any, b: Any) -> bool:
    """Equal, with the same types at every level and dict keys in the same order."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same_objects(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same_objects(x, y) for x, y in zip(a, b))
    return bool(a == b)


def test_every_rackspace_sample_round_trips_or_is_rejected(summary: Callable[[str], None]) -> None:
    table = sample_table()
    files = sorted(SAMPLES.glob("samples-v*/*.json"))
    assert len(files) == 110
    valid = ok = invalid = rejected = 0
    for path in files:
        name = f"{path.parent.name}/{path.name}"
        type_name = table[name]
        raw = path.read_bytes()
        try:
            original = json.loads(raw)
        except ValueError:
            invalid += 1
            with pytest.raises(cb.InvalidJson) as err:
                cb.parse_model(type_name, raw)
            assert err.value.code == "invalid_json"
            rejected += 1
            continue
        valid += 1
        back = cb.parse_model(type_name, raw)
        assert normalise(back) == normalise(original), name
        assert cb.parse_model(type_name, back) == back  # normal form is stable
        # The objects the native module makes are exactly what decoding its
        # JSON text gives: same types (int/float/None...), same key order.
        assert same_objects(back, json.loads(cb.model_json(type_name, raw))), name
        ok += 1
    summary(f"rackspace samples: {ok} of {valid} valid samples round-tripped")
    summary(f"rackspace samples: {rejected} of {invalid} invalid samples rejected with an error")
    assert (ok, valid, rejected, invalid) == (108, 108, 2, 2)


def json_patch_cases() -> List[Tuple[str, Dict[str, Any]]]:
    cases = []
    for suite in ["tests.json", "spec_tests.json"]:
        for i, case in enumerate(json.loads((DATA / "json-patch-tests" / suite).read_text())):
            if case.get("disabled") or "doc" not in case:
                continue
            cases.append((f"{suite}#{i}", case))
    return cases


def test_json_patch_conformance_suite(summary: Callable[[str], None]) -> None:
    passed = failed = 0
    for name, case in json_patch_cases():
        try:
            got = cb.apply_patch(case["doc"], case["patch"])
        except cb.Error:
            ok = "error" in case
        else:
            ok = "error" not in case and ("expected" not in case or got == case["expected"])
        if ok:
            passed += 1
        else:
            failed += 1
            print("failed:", name, case.get("comment"))
    summary(f"json-patch-tests: {passed} passed, {failed} failed")
    assert failed == 0 and passed == 108


def test_model_types_and_bytes_like_inputs() -> None:
    types = cb.model_types()
    assert "v2.Restore" in types and "v1.Agent" in types
    body = RESTORE_SAMPLE
    expected = json.loads(body)["id"]
    for given_ in (body, bytearray(body), memoryview(body), body.decode(), json.loads(body)):
        restore = cb.parse_model("v2.Restore", given_)
        assert restore["id"] == expected
    assert json.loads(cb.model_json("v2.Restore", body)) == cb.parse_model("v2.Restore", body)


def test_model_errors() -> None:
    with pytest.raises(cb.InvalidArgument) as unknown:
        cb.parse_model("v2.Restor", b"{}")
    assert unknown.value.name == "type_name" or "Restor" in str(unknown.value)
    with pytest.raises(cb.InvalidJson) as bad:
        cb.parse_model("v2.Restore", b"{not json")
    assert isinstance(bad.value, ValueError) and bad.value.what == "v2.Restore"
    with pytest.raises(cb.InvalidJson) as unfit:
        cb.parse_model("v2.Restore", {**json.loads(RESTORE_SAMPLE), "state": 12})
    assert "state" in str(unfit.value)
    with pytest.raises(cb.InvalidJson):
        cb.parse_model("v2.Restore", 12)  # type: ignore[arg-type]  # JSON, not a Restore
    with pytest.raises(TypeError):
        cb.parse_model("v2.Restore", object())  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        cb.transition("restore", 1, "queued", "agent")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        cb._native.parse_model("v2.Restore", object())  # type: ignore[arg-type]
    # The native module takes JSON text, bytes-like JSON and Python values
    # alike, and hands back Python values (no JSON text to decode).
    as_text = cb._native.parse_model("v2.Restore", RESTORE_SAMPLE.decode("utf-8"))
    assert as_text == cb._native.parse_model("v2.Restore", RESTORE_SAMPLE)
    assert as_text == cb._native.parse_model("v2.Restore", json.loads(RESTORE_SAMPLE))
    assert isinstance(as_text, dict)


def test_build_request_and_parse_response() -> None:
    ops = {o["name"]: o for o in cb.operations()}
    assert ops["v2.restores.get_restore"]["method"] == "GET"
    req = cb.build_request(
        "v2.restores.get_restore", {"restore_id": "e87e6f7d"}, token="tok", tenant_id="123456"
    )
    assert req["method"] == "GET" and req["path"].endswith("/restores/e87e6f7d")
    assert ["X-Auth-Token", "tok"] in req["headers"]
    body = RESTORE_SAMPLE
    restore = cb.parse_response(
        "v2.restores.get_restore", 200, body, params={"restore_id": "e87e6f7d"}
    )
    assert restore["id"]


def test_api_errors_carry_details() -> None:
    params = {"restore_id": "e87e6f7d"}
    with pytest.raises(cb.ApiError) as nf:
        cb.parse_response("v2.restores.get_restore", 404, b'{"message": "Restore not found."}', params=params)
    e = nf.value
    assert not isinstance(e, ValueError)
    assert (e.code, e.status, e.details["message"]) == ("api", 404, "Restore not found.")
    with pytest.raises(cb.ApiError) as busy:
        cb.parse_response(
            "v2.restores.get_restore", 503, b"{}", params=params, headers=[("Retry-After", "120")]
        )
    assert busy.value.retry_after == 120
    with pytest.raises(cb.UnexpectedResponse) as odd:
        cb.parse_response("v2.restores.get_restore", 302, b"", params=params)
    assert odd.value.status == 302
    with pytest.raises(cb.InvalidJson):
        cb.parse_response("v2.restores.get_restore", 200, b"{oops", params=params)
    with pytest.raises(cb.InvalidArgument):
        cb.build_request("v2.restores.get_restore", {"restore_id": "x"}, token="", tenant_id="1")
    with pytest.raises(cb.InvalidArgument):
        cb.build_request("v2.nope", None, token="t", tenant_id="1")
    with pytest.raises(cb.InvalidJson):
        cb.build_request("v2.restores.get_restore", "{bad", token="t", tenant_id="1")


def test_lifecycle() -> None:
    assert cb.transition("restore", "queued", "in_progress", "agent") == {
        "changed": True,
        "state": "in_progress",
    }
    assert cb.transition("restore", "Queued", "queued", "agent")["changed"] is False
    with pytest.raises(cb.InvalidTransition) as back:
        cb.transition("restore", "in_progress", "queued", "agent")
    assert isinstance(back.value, ValueError)
    assert (back.value.rejection, back.value.conflict) == ("backward", False)
    assert (back.value.from_state, back.value.to_state, back.value.actor) == ("in_progress", "queued", "agent")
    with pytest.raises(cb.InvalidTransition) as done:
        cb.transition("restore", "completed", "queued", "agent")
    assert done.value.conflict is True
    assert "stop" in cb.allowed_actions("restore", "in_progress")
    assert "completed" in cb.allowed_targets("restore", "in_progress", "agent")
    with pytest.raises(cb.InvalidArgument):
        cb.allowed_actions("restore", "sleeping")


def restore_resource(state: str) -> Dict[str, Any]:
    return {
        "id": "e87e6f7d",
        "state": state,
        "started_time": None,
        "ended_time": None,
        "errors": None,
        "files_restored": 0,
        "bytes_restored": 0,
    }


def test_patch_validation() -> None:
    sample = (SAMPLES / "samples-v2" / "cbu-updateRestore_request.json").read_bytes()
    patched = cb.validate_patch("restore", restore_resource("in_progress"), sample, "agent")
    assert patched["state"] == "completed_with_errors"
    with pytest.raises(cb.PatchRejected) as rej:
        cb.validate_patch(
            "restore",
            restore_resource("queued"),
            [{"op": "add", "path": "/files_restored", "value": 1}, {"op": "remove", "path": "/errors"}],
            "agent",
        )
    assert isinstance(rej.value, ValueError) and rej.value.index == 1
    assert "`remove` is not allowed" in rej.value.reason
    with pytest.raises(cb.Conflict) as conflict:
        cb.validate_patch(
            "restore",
            restore_resource("completed"),
            [{"op": "replace", "path": "/state", "value": "queued"}],
            "agent",
        )
    assert conflict.value.state == "completed" and isinstance(conflict.value, ValueError)
    with pytest.raises(cb.InvalidJson):
        cb.validate_patch("restore", b"{", b"[]", "agent")
    with pytest.raises(cb.InvalidArgument):
        cb.validate_patch("restore", restore_resource("queued"), [], "robot")


def test_encrypt_password_for_agent() -> None:
    text = (SAMPLES / "samples-v2" / "cbu-getAgentDetails_response.json").read_text()
    found = re.search(r'"modulus": "([0-9A-F]+)"', text)
    assert found is not None
    mod_hex = found.group(1)
    out = cb.encrypt_password_for_agent(mod_hex, "10001", "my passphrase")
    assert re.fullmatch(r"[0-9a-f]+", out) and len(out) == len(mod_hex)
    assert out != cb.encrypt_password_for_agent(mod_hex, "10001", "my passphrase")  # random padding
    with pytest.raises(cb.InvalidArgument):
        cb.encrypt_password_for_agent("xyz", "10001", "p")
    with pytest.raises(cb.InvalidArgument):
        cb.encrypt_password_for_agent(mod_hex, "10001", "")


def test_filter_globs() -> None:
    globs = cb.filter_globs([{"type": "folder", "path": "/etc"}, {"type": "file", "path": "/a.txt"}])
    assert globs and all(isinstance(g, str) for g in globs)
    with pytest.raises(cb.InvalidJson):
        cb.filter_globs("[{")


def test_errors_hierarchy() -> None:
    for cls in [cb.PatchRejected, cb.InvalidTransition, cb.Conflict, cb.IntegrityError, cb.WrongPassword, cb.InvalidJson]:
        assert issubclass(cls, cb.Error) and issubclass(cls, ValueError)
    assert issubclass(cb.Error, Exception) and not issubclass(cb.Error, ValueError)
    codes = set(cb._native.error_codes())
    from cloudbackup.errors import error_class

    assert all(error_class(c) is not cb.Error for c in codes)


def _doc_table(text: str, first_header: str) -> List[List[str]]:
    """The rows of the markdown table whose header starts with ``first_header``
    (cells without their backticks)."""
    rows: List[List[str]] = []
    inside = False
    for line in text.splitlines():
        if line.startswith(f"| {first_header} |"):
            inside = True
            continue
        if inside and line.startswith("|---"):
            continue
        if inside and line.startswith("|"):
            rows.append([c.strip().split(" (")[0].strip("`") for c in line.strip("|").split("|")])
        elif inside:
            break
    return rows


def test_error_names_match_docs_and_js() -> None:
    """One documented name per core error code in every binding: the table in
    docs/ERRORS.md lists each code of the core once, with the Python class
    that code raises, the class web/errors.js throws and the C constant."""
    from cloudbackup.errors import error_class

    repo = REPO
    rows = _doc_table((repo / "docs" / "ERRORS.md").read_text(), "code | C")
    codes = cb._native.error_codes()
    assert [r[0] for r in rows] == codes, "docs/ERRORS.md lists every core code once, in order"
    js = (repo / "web" / "errors.js").read_text()
    declared = re.findall(r"^export const (\w+Error) = errorClass\('(\w+)', '(\w+Error)'\);$", js, re.M)
    assert all(ident == name for ident, _, name in declared), "each class's name is its identifier"
    js_names = {code: name for _, code, name in declared}
    header = (repo / "include" / "cloudbackup.h").read_text()
    for code, c_name, py_name, js_name, _ in rows:
        cls = error_class(code)
        assert cls.__name__ == py_name and cls.code == code and getattr(cb, py_name) is cls
        assert js_names.get(code) == js_name, f"{code}: web/errors.js names {js_names.get(code)}"
        assert re.search(rf"\b{c_name} = \d+", header), c_name
    assert set(js_names) == set(codes), "web/errors.js has a class for every core code, and no other"
    host_only = {r[0]: r[1] for r in _doc_table((repo / "docs" / "ERRORS.md").read_text(), "code | Python")}
    assert host_only == {"storage": "StorageError", "transport": "TransportError"}
    assert cb.StorageError.code == "storage" and cb.TransportError.code == "transport"
    assert not set(host_only) & set(codes)


# JSON numbers cross the core as 64-bit integers (or floats beyond).
INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
names = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=0x2FFF), max_size=20)


@settings(max_examples=60, deadline=None)
@given(restore_id=names, files=st.integers(min_value=0, max_value=2**53), state=st.sampled_from(
    ["queued", "preparing", "in_progress", "completed", "failed", "stopped"]))
def test_property_restore_model_round_trips(restore_id: str, files: int, state: str) -> None:
    value = {**json.loads(RESTORE_SAMPLE), "id": restore_id, "state": state, "files_restored": files}
    once = cb.parse_model("v2.Restore", value)
    assert cb.parse_model("v2.Restore", once) == once
    assert once["id"] == restore_id and once["state"] == state


@settings(max_examples=60, deadline=None)
@given(doc=st.dictionaries(st.text(alphabet="abc", min_size=1, max_size=3), INT64, max_size=5),
       key=st.text(alphabet="abc", min_size=1, max_size=3), value=INT64)
def test_property_patch_add_then_remove_is_identity(doc: Dict[str, int], key: str, value: int) -> None:
    added = cb.apply_patch(doc, [{"op": "add", "path": "/" + key, "value": value}])
    assert added[key] == value
    if key not in doc:
        assert cb.apply_patch(added, [{"op": "remove", "path": "/" + key}]) == doc


def test_job_reporter_drives_a_restore_the_service_accepts() -> None:
    """The agent's patches come from the core and pass the core's policy
    the service (and the emulator) applies: each one moves the sample's
    restore on, a stop request ends it stopped, and a late patch is a 409."""
    from cloudbackup import Conflict, JobReporter

    resource = json.loads((DATA / "rackspace" / "samples-v2" / "cbu-getRestoreDetails_response.json").read_text())
    resource.update(state="start_requested", errors=None, started_time=None, ended_time=None)
    job = JobReporter("restore", resource, progress_interval=0)
    service = resource
    for patch in (job.queued(), job.preparing(), job.started("2026-12-05T04:00:00Z")):
        service = cb.validate_patch("restore", service, patch, "agent")
    progress = job.progress({"files_restored": 3, "bytes_restored": 3000}, 1)
    assert progress is not None
    service = cb.validate_patch("restore", service, progress, "agent")
    assert job.progress({"files_restored": 3, "bytes_restored": 3000}, 2) is None, "nothing changed"
    # A user's stop, seen when the agent reads the restore again.
    service = cb.validate_patch("restore", service, [{"op": "replace", "path": "/state", "value": "stop_requested"}], "user")
    job.observe(service)
    assert job.stop_requested
    end = job.finished({"files_restored": 4, "bytes_restored": 4000}, None, "2026-12-05T04:00:05Z")
    service = cb.validate_patch("restore", service, end, "agent")
    assert service["state"] == "stopped" and service["files_restored"] == 4
    assert job.is_finished and job.resource == service
    with pytest.raises(Conflict):
        job.failed("too late", "2026-12-05T04:00:06Z")


def test_job_reporter_recovers_what_a_killed_agent_left() -> None:
    """A restarted agent's rule, from the core: only its own jobs, running
    ones end failed (accepted by the service's policy), a requested stop
    ends stopped, the rest is left alone."""
    from cloudbackup import JobReporter

    resource = json.loads((DATA / "rackspace" / "samples-v2" / "cbu-getRestoreDetails_response.json").read_text())
    resource.update(state="in_progress", errors=None, ended_time=None, destination_agent={"id": 42, "links": []})
    job = JobReporter("restore", resource)
    assert job.runs_on("42") and not job.runs_on("43")
    patch = job.recover("2026-12-05T04:00:00Z")
    assert patch is not None
    service = cb.validate_patch("restore", resource, patch, "agent")
    assert service["state"] == "failed"
    assert service["errors"]["diagnostics"] == "agent restarted: the job was interrupted"
    assert job.recover("2026-12-05T04:00:01Z") is None, "ended: nothing more"
    stopping = JobReporter("backup", {"state": "stop_requested", "ended_time": None})
    end = stopping.recover("2026-12-05T04:00:00Z")
    assert end is not None and end[0]["value"] == "stopped"
    assert JobReporter("backup", {"state": "start_requested"}).recover("2026-12-05T04:00:00Z") is None


def test_native_classes_are_the_public_ones() -> None:
    """Where the Python layer would only forward calls, the native class is
    the public one (no wrapper object in between)."""
    assert cb.AgentKey is cb._native.AgentKey and cb.Selector is cb._native.Selector
    assert cb.Vault is cb._native.Vault
    from cloudbackup.engine import Lock, LockTable

    assert Lock is cb._native.Lock and LockTable is cb._native.LockTable
    assert Lock.new("gc", True, "h", 7, 0).exclusive and not Lock("backup", False, "h", 7, 0).exclusive
    # A password is text (UTF-8) or bytes-like; settings and KDF any mapping.
    kdf = types.MappingProxyType({"memory_kib": 64, "iterations": 1, "parallelism": 1})
    vault = cb.Vault.create("pässword", kdf=kdf)
    assert cb.Vault.open(vault.config(), "pässword".encode("utf-8")).vault_id == vault.vault_id
    assert vault.vault_id == vault.info()["vault_id"] and len(vault.vault_id) == 32
    assert vault.key_slots()[0]["kdf"] == dict(kdf)
    with pytest.raises(cb.WrongPassword):
        cb.Vault.open(vault.config(), bytearray(b"wrong"))
    with pytest.raises(TypeError):
        cb.Vault.open(vault.config(), 12)  # type: ignore[arg-type]
    key = cb.AgentKey.generate(1024)
    assert isinstance(key, cb.AgentKey) and repr(key) == "<AgentKey 1024 bits>"
    assert cb.AgentKey.from_der(key.to_der()).public_key() == key.public_key()
    assert cb.Selector(include=["/etc"], iexclude=["*.BAK"]).selects("/etc/hosts")
    assert not cb.Selector(include=["/etc"], iexclude=["*.BAK"]).selects("/etc/x.bak")
    with pytest.raises(TypeError):
        cb.Selector(["/etc"])  # type: ignore[call-arg]  # keyword arguments only, as before
