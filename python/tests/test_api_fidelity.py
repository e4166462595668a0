"""The API fidelity table (tests/data/api-fidelity/cases.json, the same file
the Rust, node and interop tests run) through the Python package's public
API: every quirk case from real clients must hold. Prints ``api fidelity: N
quirk cases accepted``; the format is in tests/data/api-fidelity/README.md.
"""

from __future__ import annotations

import copy
import json
from typing import Any, Callable, Dict, List, Mapping

import pytest

import cloudbackup as cb
from conftest import DATA

FIXTURE: Dict[str, Any] = json.loads((DATA / "api-fidelity" / "cases.json").read_text(encoding="utf-8"))
CASES: List[Dict[str, Any]] = FIXTURE["cases"]
#: At least this many cases, as the issue asks.
MIN_CASES = 40
_MISSING = object()


def normalise(v: Any) -> Any:
    """Members whose value is ``None`` removed, at every depth."""
    if isinstance(v, dict):
        return {k: normalise(x) for k, x in v.items() if x is not None}
    if isinstance(v, list):
        return [normalise(x) for x in v]
    return v


def pointer(doc: Any, ptr: str) -> Any:
    """RFC 6901: the value at ``ptr``, or ``_MISSING``."""
    if ptr == "":
        return doc
    for raw in ptr.split("/")[1:]:
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(doc, dict) and token in doc:
            doc = doc[token]
        elif isinstance(doc, list) and token.isdigit() and int(token) < len(doc):
            doc = doc[int(token)]
        else:
            return _MISSING
    return doc


def agent_key(case: Dict[str, Any]) -> cb.AgentKey:
    return cb.AgentKey.from_der(bytes.fromhex(FIXTURE["keys"][case["key"]]["der_hex"]))


def request_outcome(req: Mapping[str, Any]) -> Dict[str, Any]:
    headers: Dict[str, List[str]] = {}
    for name, value in req["headers"]:
        headers.setdefault(name.lower(), []).append(value)
    body: Any = req["body"]
    if body is not None:
        try:
            body = json.loads(body)
        except ValueError:
            pass
    return {"method": req["method"], "path": req["path"], "query": req["query"], "headers": headers, "body": body}


def run(case: Dict[str, Any]) -> Any:
    """The case's result through the package's public API (raises cb.Error)."""
    kind = case["kind"]
    if kind == "model":
        return cb.parse_model(case["type"], json.dumps(case["body"]))
    if kind == "request":
        a = case["auth"]
        req = cb.build_request(
            case["operation"], case["params"], token=a["token"], tenant_id=a["tenant_id"], agent_id=a.get("agent_id")
        )
        return request_outcome(req)
    if kind == "response":
        headers = [tuple(h) for h in case["headers"]] if case.get("headers") is not None else None
        return cb.parse_response(case["operation"], case["status"], case["body"], params=case["params"], headers=headers)
    if kind == "transition":
        return cb.transition(case["resource"], case["from"], case["to"], case["actor"])
    if kind == "patch":
        return cb.validate_patch(case["endpoint"], case["resource"], case["patch"], case["actor"])
    if kind == "decrypt_password":
        return agent_key(case).decrypt_password(case["encrypted_password_hex"])
    if kind == "public_key":
        return agent_key(case).public_key()
    if kind == "snapshot_id":
        return cb.snapshot_id_for(case["vault_snapshot_id"])
    if kind == "snapshot_prefix":
        return cb.vault_snapshot_prefix(case["snapshot_id"])
    raise AssertionError(f"{case['name']}: unknown kind {kind}")


def check_pointers(expect: Dict[str, Any], value: Any, problems: List[str]) -> None:
    for ptr, want in expect.get("at", {}).items():
        got = pointer(value, ptr)
        if got is _MISSING:
            problems.append(f"{ptr} is missing, expected {want!r}")
        elif got != want or type(got) is not type(want):
            problems.append(f"{ptr} is {got!r}, expected {want!r}")
    for ptr in expect.get("absent", []):
        got = pointer(value, ptr)
        if got is not _MISSING:
            problems.append(f"{ptr} is {got!r}, expected it absent")


def check(case: Dict[str, Any]) -> List[str]:
    """What is wrong with the case's outcome (empty: it holds)."""
    expect = case["expect"]
    problems: List[str] = []
    try:
        result = run(case)
    except cb.Error as e:
        want = expect.get("error")
        if want is None:
            return [f"refused: {e}"]
        if e.code != want["code"]:
            problems.append(f"error {e.code} ({e}), expected {want['code']}")
        check_pointers(want, e.details, problems)
        return problems
    if "error" in expect:
        return [f"accepted ({result!r}), expected an error"]
    if expect.get("round_trip") and normalise(result) != normalise(case["body"]):
        problems.append(f"round trip differs:\n  sent: {case['body']}\n  back: {result}")
    if "result" in expect and (result != expect["result"] or type(result) is not type(expect["result"])):
        problems.append(f"result is {result!r}, expected {expect['result']!r}")
    check_pointers(expect, result, problems)
    return problems


def test_every_quirk_case_holds_in_python(summary: Callable[[str], None]) -> None:
    assert len(CASES) >= MIN_CASES
    names = [c["name"] for c in CASES]
    assert len(set(names)) == len(names), "case names are unique"
    categories = set(FIXTURE["categories"])
    assert {c["category"] for c in CASES} == categories, "every category has a case, and only those"
    failures = []
    for case in CASES:
        problems = check(case)
        if problems:
            failures.append(f"{case['name']} ({case['kind']}):\n  " + "\n  ".join(problems))
    assert not failures, f"{len(failures)} of {len(CASES)} cases fail:\n" + "\n".join(failures)
    summary(f"api fidelity: {len(CASES)} quirk cases accepted")


def test_a_wrong_expectation_is_caught() -> None:
    """The checks are not vacuous: breaking a case's expectation fails it."""
    tried = 0
    for case in CASES:
        broken = copy.deepcopy(case)
        expect = broken["expect"]
        if expect.get("at"):
            expect["at"] = {k: "not this value" for k in expect["at"]}
        elif "result" in expect:
            expect["result"] = "not this value"
        elif "error" in expect:
            del expect["error"]
        else:
            continue
        tried += 1
        assert check(broken), f"{case['name']}: a wrong expectation passed"
    assert tried >= MIN_CASES


def test_api_errors_expose_their_list_as_an_attribute() -> None:
    body = json.dumps({"message": "Validation failed.", "errors": ["Name is required.", "RSA public key is required."]})
    with pytest.raises(cb.ApiError) as info:
        cb.parse_response("v2.agents.list_agents", 400, body)
    assert info.value.errors == ["Name is required.", "RSA public key is required."]
    assert info.value.details["errors"] == info.value.errors
    assert "[Name is required.; RSA public key is required.]" in str(info.value)
    with pytest.raises(cb.ApiError) as none:
        cb.parse_response("v2.agents.list_agents", 404, '{"message": "gone"}')
    assert none.value.errors is None


def test_an_agent_key_made_in_python_decrypts_what_users_encrypt() -> None:
    key = cb.AgentKey.generate(1024)
    assert key.bits == 1024
    public = key.public_key()
    assert public["ExponentHex"] == "10001" and len(public["ModulusHex"]) == 256
    assert key.rsa_public_key() == {"modulus": public["ModulusHex"], "exponent": "10001"}
    hex_ = cb.encrypt_password_for_agent(public["ModulusHex"], public["ExponentHex"], "pässword")
    stored = cb.AgentKey.from_der(bytearray(key.to_der()))
    assert stored.decrypt_password(hex_) == "pässword"
    with pytest.raises(cb.InvalidValue):
        cb.AgentKey.generate(1024).decrypt_password(hex_)
    with pytest.raises(cb.InvalidArgument) as bad:
        cb.AgentKey.generate(1000)
    assert bad.value.name == "bits"
    with pytest.raises(TypeError):
        cb.AgentKey.from_der("not bytes")  # type: ignore[arg-type]


def test_the_agent_id_goes_on_every_request() -> None:
    agent = "8f135b4f-7a69-4b8a-947f-5e80d772fd97"
    for op, params in [("v1.agents.get_agent", {"machine_agent_id": "1"}), ("v2.agents.list_agents", None)]:
        req = cb.build_request(op, params, token="t", tenant_id="1", agent_id=agent)
        assert [v for k, v in req["headers"] if k == "X-Agent-Id"] == [agent]
    req = cb.build_request("v2.agents.list_agents", None, token="t", tenant_id="1")
    assert all(k != "X-Agent-Id" for k, _ in req["headers"])
    with pytest.raises(cb.InvalidArgument):
        cb.build_request("v2.agents.list_agents", None, token="t", tenant_id="1", agent_id=" ")
