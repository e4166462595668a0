"""The HTTP transport (:class:`cloudbackup.Client`, :class:`AsyncClient`)
and ``cloudbackup api``, against a local server that answers like Identity
v2.0 and the Cloud Backup API with recorded bodies (tests/fake_service.py)."""

from __future__ import annotations

import asyncio
import email.utils
import json
import os
import socket
import subprocess
import sys
import time
from datetime import datetime, timezone
from typing import Any, Dict, Iterator, List, Optional

import pytest

import cloudbackup as cb
from cloudbackup.client import (
    DEFAULT_IDENTITY_URL,
    RetryPolicy,
    Session,
    endpoint_from_catalog,
    next_marker,
    page_items,
    parse_expires,
    split_base_url,
)
from conftest import REPO, run_cli
from fake_service import (
    API_KEY,
    IDENTITY_SAMPLE,
    PASSWORD,
    TENANT,
    USERNAME,
    Answer,
    FakeService,
    sample,
)

RESTORE_ID = "e87e6f7d-d166-11e4-8689-c8e0eb190e3d"
RESTORE_PATH = f"/v2/{TENANT}/restores/{RESTORE_ID}"
RESTORE = sample("v2/cbu-getRestoreDetails_response.json")
JSON_HEADERS = {"Content-Type": "application/json"}


class Sleeps:
    """A sleep that records the waits instead of waiting."""

    def __init__(self) -> None:
        self.waits: List[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def svc() -> Iterator[FakeService]:
    with FakeService() as service:
        yield service


def client(svc: FakeService, sleeps: Optional[Sleeps] = None, **kwargs: Any) -> cb.Client:
    retry = RetryPolicy(attempts=kwargs.pop("attempts", 4), base_delay=0.5, max_delay=4.0, sleep=sleeps or Sleeps())
    kwargs.setdefault("username", USERNAME)
    if "password" not in kwargs:
        kwargs.setdefault("api_key", API_KEY)
    return cb.Client(identity_url=svc.identity_url, retry=retry, **kwargs)


def expected_restore() -> Any:
    """The recorded restore as the core parses it, for comparing results."""
    return cb.parse_model("v2.Restore", RESTORE)


# -- endpoints ------------------------------------------------------------------------


def test_catalog_endpoints_by_region_default_and_generic() -> None:
    catalog = json.loads(IDENTITY_SAMPLE.read_text())["access"]["serviceCatalog"]
    assert endpoint_from_catalog(catalog, "ord")["publicURL"] == "https://ord.backup.api.rackspacecloud.com/v1.0/123456"
    assert endpoint_from_catalog(catalog, None, "SYD")["region"] == "SYD"
    # No region and no default: the region-less entry (not the volume or compute service).
    assert endpoint_from_catalog(catalog)["publicURL"] == "https://backup.api.rackspacecloud.com/v1.0/123456"
    # A default region the catalog lacks falls back to the region-less entry too.
    assert "region" not in endpoint_from_catalog(catalog, None, "LON")
    with pytest.raises(cb.NotFound) as e:
        endpoint_from_catalog(catalog, "LON")
    assert "DFW, HKG, IAD, ORD, SYD" in str(e.value) and e.value.id == "LON"
    regional = [dict(s, endpoints=[x for x in s["endpoints"] if x.get("region")]) for s in catalog]
    with pytest.raises(cb.NotFound, match="choose a region"):
        endpoint_from_catalog(regional)
    with pytest.raises(cb.NotFound, match="no Cloud Backup endpoint"):
        endpoint_from_catalog([s for s in catalog if s["type"] != "rax:backup"])


def test_base_urls_lose_their_version_and_tenant() -> None:
    assert split_base_url("https://dfw.backup.api.rackspacecloud.com/v1.0/123456") == (
        "https://dfw.backup.api.rackspacecloud.com",
        "123456",
    )
    assert split_base_url("https://dfw.backup.api.rackspacecloud.com/v2/1234/") == (
        "https://dfw.backup.api.rackspacecloud.com",
        "1234",
    )
    assert split_base_url("http://h:8/prefix/v2") == ("http://h:8/prefix", None)
    assert split_base_url("http://h:8/prefix/") == ("http://h:8/prefix", None)


def test_token_expiry_forms() -> None:
    utc = timezone.utc
    # As the Cloud Backup guide prints it, and as an older client's docs show Identity's answer.
    assert parse_expires("2014-07-22T07:11:19.488Z") == datetime(2014, 7, 22, 7, 11, 19, 488000, utc)
    assert parse_expires("2013-04-23T09:45:24.000-05:00") == datetime(2013, 4, 23, 14, 45, 24, tzinfo=utc)
    assert parse_expires("2015-01-01T00:00:00.1234567Z") == datetime(2015, 1, 1, 0, 0, 0, 123456, utc)
    assert parse_expires("2015-01-01T00:00:00") == datetime(2015, 1, 1, tzinfo=utc)
    assert parse_expires("tomorrow") is None and parse_expires(None) is None
    session = Session("t", "1", "http://h", expires=datetime(2015, 1, 1, tzinfo=utc))
    assert session.expiring(60, now=datetime(2014, 12, 31, 23, 59, 30, tzinfo=utc).timestamp())
    assert not session.expiring(10, now=datetime(2014, 12, 31, 23, 59, 30, tzinfo=utc).timestamp())
    assert not Session("t", "1", "http://h").expiring(10**9)


# -- identity -------------------------------------------------------------------------


def test_api_key_authentication_region_and_token_reuse(svc: FakeService) -> None:
    svc.script("GET", RESTORE_PATH, Answer(200, RESTORE, JSON_HEADERS))
    with client(svc, region="ord") as c:
        assert c.call("v2.restores.get_restore", {"restore_id": RESTORE_ID}) == expected_restore()
        assert c.call("v2.restores.get_restore", {"restore_id": RESTORE_ID})["state"] == "completed_with_errors"
        session = c.session
    assert session is not None and session.tenant_id == TENANT and session.region == "ORD"
    assert session.base_url == f"{svc.url}/ord" and session.expires is not None
    assert "tok-" not in repr(session) and API_KEY not in repr(c)
    (auth,) = svc.requests("identity")
    assert auth.json() == {"auth": {"RAX-KSKEY:apiKeyCredentials": {"username": USERNAME, "apiKey": API_KEY}}}
    assert auth.header("Content-Type") == "application/json"
    calls = svc.requests()
    assert [(s.region, s.method, s.path) for s in calls] == [("ord", "GET", RESTORE_PATH)] * 2
    assert {s.header("X-Auth-Token") for s in calls} == {"tok-1"}
    assert all(s.header("Accept") == "application/json" for s in calls)
    assert all((s.header("User-Agent") or "").startswith("cloudbackup-python/") for s in calls)
    assert c.stats["authentications"] == 1 and c.stats["requests"] == 3


def test_password_credentials_and_the_users_default_region(svc: FakeService) -> None:
    svc.script("GET", RESTORE_PATH, Answer(200, RESTORE, JSON_HEADERS))
    with client(svc, password=PASSWORD) as c:
        c.call("v2.restores.get_restore", {"restore_id": RESTORE_ID})
        assert c.session is not None and c.session.region == "DFW"
    (auth,) = svc.requests("identity")
    assert auth.json() == {"auth": {"passwordCredentials": {"username": USERNAME, "password": PASSWORD}}}
    assert [s.region for s in svc.requests()] == ["dfw"]


def test_an_explicit_base_url_overrides_the_catalog(svc: FakeService) -> None:
    svc.script("GET", RESTORE_PATH, Answer(200, RESTORE, JSON_HEADERS))
    with client(svc, base_url=f"{svc.url}/lon/v1.0/{TENANT}") as c:
        c.call("v2.restores.get_restore", {"restore_id": RESTORE_ID})
    assert [(s.region, s.path) for s in svc.requests()] == [("lon", RESTORE_PATH)]


def test_bad_credentials_are_an_api_error_from_identity(svc: FakeService) -> None:
    with client(svc, api_key="wrong") as c, pytest.raises(cb.ApiError) as e:
        c.call("v2.settings.ping")
    assert e.value.status == 401 and e.value.kind == "unauthorized"
    assert e.value.operation == "identity authenticate"
    assert e.value.details["message"] == "Unable to authenticate user with credentials provided."
    assert len(svc.requests("identity")) == 1 and svc.requests() == []


def test_a_region_the_catalog_lacks_is_not_found(svc: FakeService) -> None:
    with client(svc, region="lon") as c, pytest.raises(cb.NotFound) as e:
        c.call("v2.settings.ping")
    assert e.value.what == "region" and "ORD" in str(e.value)


def test_identity_503_is_retried(svc: FakeService) -> None:
    svc.identity_script.append(Answer(503, b'{"serviceUnavailable": {"code": 503}}', {"Retry-After": "3"}))
    sleeps = Sleeps()
    svc.script("GET", f"/v2/{TENANT}/ping", Answer(204))
    with client(svc, sleeps) as c:
        assert c.call("v2.settings.ping") is None
    assert sleeps.waits == [3.0] and len(svc.requests("identity")) == 2


def test_401_authenticates_again_once_and_resends(svc: FakeService) -> None:
    svc.script("GET", RESTORE_PATH, Answer(200, RESTORE, JSON_HEADERS))
    with client(svc) as c:
        c.call("v2.restores.get_restore", {"restore_id": RESTORE_ID})
        svc.revoke_tokens()  # the token went stale on the service's side
        assert c.call("v2.restores.get_restore", {"restore_id": RESTORE_ID}) == expected_restore()
        assert c.stats["reauthentications"] == 1
    tokens = [s.header("X-Auth-Token") for s in svc.requests()]
    assert tokens == ["tok-1", "tok-1", "tok-2"]
    assert len(svc.requests("identity")) == 2


def test_a_second_401_is_the_callers(svc: FakeService) -> None:
    svc.script("GET", RESTORE_PATH, Answer(401, b'{"message": "Token rejected"}', JSON_HEADERS))
    with client(svc) as c, pytest.raises(cb.ApiError) as e:
        c.call("v2.restores.get_restore", {"restore_id": RESTORE_ID})
    assert e.value.status == 401 and e.value.operation == "get restore"
    assert e.value.details["message"] == "Token rejected"
    assert len(svc.requests()) == 2 and len(svc.requests("identity")) == 2


def test_tokens_are_renewed_before_they_expire(svc: FakeService) -> None:
    svc.token_lifetime = 30
    svc.script("GET", f"/v2/{TENANT}/ping", Answer(204))
    with client(svc, refresh_margin=60) as c:
        for _ in range(3):
            c.call("v2.settings.ping")
    assert [s.header("X-Auth-Token") for s in svc.requests()] == ["tok-1", "tok-2", "tok-3"]
    with client(svc, refresh_margin=5) as c:
        for _ in range(3):
            c.call("v2.settings.ping")
    assert {s.header("X-Auth-Token") for s in svc.requests()[3:]} == {"tok-4"}


def test_a_token_given_is_used_as_is(svc: FakeService) -> None:
    svc.valid_tokens.add("given")
    svc.script("GET", RESTORE_PATH, Answer(200, RESTORE, JSON_HEADERS))
    with cb.Client(token="given", tenant_id=TENANT, base_url=svc.url) as c:
        assert c.call("v2.restores.get_restore", {"restore_id": RESTORE_ID})["id"] == RESTORE_ID
        svc.revoke_tokens()
        with pytest.raises(cb.ApiError) as e:
            c.call("v2.restores.get_restore", {"restore_id": RESTORE_ID})
        assert e.value.status == 401
    assert svc.requests("identity") == [] and len(svc.requests()) == 2
    # The tenant may come from the URL.
    assert cb.Client(token="t", base_url=f"{svc.url}/v2/42").session == Session("t", "42", svc.url)


def test_the_package_loads_httpx_only_for_the_client() -> None:
    code = (
        "import sys; import cloudbackup, cloudbackup.cli; "
        "assert 'httpx' not in sys.modules and 'cloudbackup.client' not in sys.modules; "
        "cloudbackup.Client; assert 'httpx' in sys.modules; print(cloudbackup.TransportError.code)"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == "transport", r.stderr


def test_incomplete_credentials_are_refused() -> None:
    with pytest.raises(cb.InvalidArgument, match="RAX_USERNAME"):
        cb.Client()
    with pytest.raises(cb.InvalidArgument, match="API key or a password"):
        cb.Client(username="u")
    with pytest.raises(cb.InvalidArgument, match="base_url"):
        cb.Client(token="t", tenant_id="1")
    with pytest.raises(cb.InvalidArgument, match="tenant_id"):
        cb.Client(token="t", base_url="http://127.0.0.1:9")


# -- requests -------------------------------------------------------------------------


def test_requests_are_sent_as_the_core_builds_them(svc: FakeService) -> None:
    body = sample("v2/cbu-postRestore_request.json")
    svc.script("POST", f"/v2/{TENANT}/restores", Answer(201, sample("v2/cbu-postRestore_response.json"), JSON_HEADERS))
    odd = "a/b c?"
    svc.script("GET", f"/v2/{TENANT}/restores/a%2Fb%20c%3F", Answer(404, b'{"message": "Restore not found."}'))
    with client(svc) as c:
        params = {"body": json.loads(body)}
        built = cb.build_request("v2.restores.start_restore", params, token="tok-1", tenant_id=TENANT)
        started = c.call("v2.restores.start_restore", params)
        assert started == cb.parse_response(
            "v2.restores.start_restore", 201, sample("v2/cbu-postRestore_response.json"), params=params
        )
        with pytest.raises(cb.ApiError) as e:
            c.call("v2.restores.get_restore", {"restore_id": odd})
        assert e.value.status == 404 and e.value.details["message"] == "Restore not found."
    post, get = svc.requests()
    assert post.method == built["method"] and post.path == built["path"]
    assert post.body.decode() == built["body"] and json.loads(post.body) == json.loads(body)
    for name, value in built["headers"]:
        assert post.header(name) == value
    # The id's "/", " " and "?" stay in the path segment.
    assert get.path == f"/v2/{TENANT}/restores/a%2Fb%20c%3F"


def test_query_parameters_and_v1_bodies(svc: FakeService) -> None:
    svc.script("PUT", f"/v1.0/{TENANT}/agent/logging", Answer(200))
    with client(svc) as c:
        assert c.call("v1.agents.change_log_level", {"machine_agent_id": 42, "level": "Debug"}) is None
        c.call("v2.events.list_project_events", {"page": {"limit": 3, "sort_dir": "desc"}})
    form, events = svc.requests()
    assert form.body == b"MachineAgentId=42&LoggingLevelId=5"
    assert events.query == {"limit": ["3"], "sort_dir": ["desc"]}


def test_an_agent_names_itself_on_every_request(svc: FakeService) -> None:
    agent = "8f135b4f-7a69-4b8a-947f-5e80d772fd97"
    svc.script("GET", RESTORE_PATH, Answer(200, RESTORE, JSON_HEADERS))
    svc.script("PATCH", RESTORE_PATH, Answer(204))
    svc.script("PUT", f"/v1.0/{TENANT}/agent/logging", Answer(200))
    patch = json.loads(sample("v2/cbu-updateRestore_request.json"))
    with client(svc, agent_id=agent) as c:
        c.call("v2.restores.get_restore", {"restore_id": RESTORE_ID})
        c.call("v2.restores.update_restore", {"restore_id": RESTORE_ID, "patch": patch, "agent_id": agent})
        c.call("v1.agents.change_log_level", {"machine_agent_id": 42, "level": "Debug"})
    for seen in svc.requests():
        assert [v for k, v in seen.headers.items() if k == "x-agent-id"] == [agent], seen.path
    assert svc.requests("identity")[0].header("X-Agent-Id") is None


# -- retries --------------------------------------------------------------------------


def test_429_waits_retry_after_seconds(svc: FakeService) -> None:
    svc.script(
        "GET",
        RESTORE_PATH,
        Answer(429, b'{"message": "Too many requests."}', {"Retry-After": "7"}),
        Answer(200, RESTORE, JSON_HEADERS),
    )
    sleeps = Sleeps()
    with client(svc, sleeps) as c:
        assert c.call("v2.restores.get_restore", {"restore_id": RESTORE_ID}) == expected_restore()
        assert c.stats["retry_after_honoured"] == 1 and c.stats["retries"] == 1
    assert sleeps.waits == [7.0] and len(svc.requests()) == 2


def test_retry_after_as_an_http_date(svc: FakeService) -> None:
    when = email.utils.formatdate(time.time() + 5, usegmt=True)
    svc.script("GET", RESTORE_PATH, Answer(503, b"", {"Retry-After": when}), Answer(200, RESTORE, JSON_HEADERS))
    sleeps = Sleeps()
    with client(svc, sleeps) as c:
        c.call("v2.restores.get_restore", {"restore_id": RESTORE_ID})
    (wait,) = sleeps.waits
    assert 3.0 <= wait <= 5.0


def test_retry_after_is_really_waited(svc: FakeService) -> None:
    svc.script("GET", RESTORE_PATH, Answer(503, b"", {"Retry-After": "1"}), Answer(200, RESTORE, JSON_HEADERS))
    with cb.Client(username=USERNAME, api_key=API_KEY, identity_url=svc.identity_url) as c:
        c.authenticate()
        start = time.monotonic()
        c.call("v2.restores.get_restore", {"restore_id": RESTORE_ID})
        assert time.monotonic() - start >= 0.95


def test_503_then_success_even_for_a_post(svc: FakeService) -> None:
    svc.script(
        "POST",
        f"/v2/{TENANT}/restores",
        Answer(503, b'{"message": "Service unavailable."}'),
        Answer(503, b""),
        Answer(201, sample("v2/cbu-postRestore_response.json"), JSON_HEADERS),
    )
    sleeps = Sleeps()
    with client(svc, sleeps) as c:
        params = {"body": json.loads(sample("v2/cbu-postRestore_request.json"))}
        assert c.call("v2.restores.start_restore", params)["state"] == "start_requested"
    # No Retry-After: exponential backoff with full jitter, base 0.5.
    assert len(sleeps.waits) == 2 and 0 <= sleeps.waits[0] <= 0.5 and 0 <= sleeps.waits[1] <= 1.0
    assert len(svc.requests()) == 3


def test_other_5xx_are_retried_only_when_repeating_is_harmless(svc: FakeService) -> None:
    svc.script("GET", RESTORE_PATH, Answer(502, b"Bad gateway"), Answer(200, RESTORE, JSON_HEADERS))
    svc.script("POST", f"/v2/{TENANT}/restores", Answer(500, b'{"message": "Internal error."}'))
    with client(svc) as c:
        assert c.call("v2.restores.get_restore", {"restore_id": RESTORE_ID})["id"] == RESTORE_ID
        with pytest.raises(cb.ApiError) as e:
            c.call("v2.restores.start_restore", {"body": json.loads(sample("v2/cbu-postRestore_request.json"))})
    assert e.value.status == 500 and e.value.kind == "internal_server_error"
    assert [s.method for s in svc.requests()] == ["GET", "GET", "POST"]


def test_attempts_are_bounded_and_the_last_answer_raised(svc: FakeService) -> None:
    svc.script("GET", RESTORE_PATH, Answer(503, b'{"message": "Down for maintenance."}', {"Retry-After": "2"}))
    sleeps = Sleeps()
    with client(svc, sleeps, attempts=3) as c, pytest.raises(cb.ApiError) as e:
        c.call("v2.restores.get_restore", {"restore_id": RESTORE_ID})
    assert e.value.status == 503 and e.value.retry_after == 2
    assert e.value.details["message"] == "Down for maintenance."
    assert sleeps.waits == [2.0, 2.0] and len(svc.requests()) == 3


def test_retry_after_is_capped(svc: FakeService) -> None:
    svc.script("GET", RESTORE_PATH, Answer(429, b"", {"Retry-After": "86400"}), Answer(200, RESTORE, JSON_HEADERS))
    sleeps = Sleeps()
    with client(svc, sleeps) as c:
        c.call("v2.restores.get_restore", {"restore_id": RESTORE_ID})
    assert sleeps.waits == [60.0]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def test_an_unreachable_service_is_a_transport_error() -> None:
    sleeps = Sleeps()
    url = f"http://127.0.0.1:{closed_port()}"
    retry = RetryPolicy(attempts=3, sleep=sleeps)
    with cb.Client(token="t", tenant_id=TENANT, base_url=url, retry=retry) as c:
        with pytest.raises(cb.TransportError) as e:
            c.call("v2.restores.start_restore", {"body": json.loads(sample("v2/cbu-postRestore_request.json"))})
    # Nothing was sent: retried even for a POST.
    assert e.value.attempts == 3 and len(sleeps.waits) == 2
    assert "ConnectError" in e.value.reason and e.value.url == f"{url}/v2/{TENANT}/restores"
    assert isinstance(e.value, ConnectionError) and e.value.code == "transport"


def test_timeouts(svc: FakeService) -> None:
    slow = Answer(200, RESTORE, JSON_HEADERS, delay=1.0)
    svc.script("GET", RESTORE_PATH, slow)
    svc.script("POST", f"/v2/{TENANT}/restores", slow)
    sleeps = Sleeps()
    with client(svc, sleeps, attempts=2, timeout=0.3) as c:
        c.authenticate()
        with pytest.raises(cb.TransportError, match="ReadTimeout") as e:
            c.call("v2.restores.get_restore", {"restore_id": RESTORE_ID})
        assert e.value.attempts == 2
        with pytest.raises(cb.TransportError) as e:
            c.call("v2.restores.start_restore", {"body": json.loads(sample("v2/cbu-postRestore_request.json"))})
        # The POST may have reached the service: not sent twice.
        assert e.value.attempts == 1
    assert [s.method for s in svc.requests()] == ["GET", "GET", "POST"]


# -- paging ---------------------------------------------------------------------------


def test_paging_over_three_pages(svc: FakeService) -> None:
    recorded = json.loads(sample("v2/cbu-getEvents_response.json"))
    with client(svc) as c:
        pages = list(c.pages("v2.events.list_project_events", {"page": {"limit": 5, "sort_dir": "asc"}}))
        items = list(c.paginate("v2.events.list_project_events", {"page": {"limit": 5, "sort_dir": "asc"}}))
    assert [len(p["events"]) for p in pages] == [5, 5, 4]
    assert items == cb.parse_model("v2.EventList", {"events": recorded["events"]})["events"]
    assert len({e["id"] for e in items}) == 14
    queries = [s.query for s in svc.requests()[:3]]
    ids = [e["id"] for e in recorded["events"]]
    assert queries == [
        {"limit": ["5"], "sort_dir": ["asc"]},
        {"marker": [ids[4]], "limit": ["5"], "sort_dir": ["asc"]},
        {"marker": [ids[9]], "limit": ["5"], "sort_dir": ["asc"]},
    ]
    assert len(svc.requests()) == 6


def test_paging_stops_on_an_empty_page_or_a_repeated_marker(svc: FakeService) -> None:
    svc.next_link_on_last_page = True
    with client(svc) as c:
        assert len(list(c.paginate("v2.events.list_project_events", {"page": {"limit": 7}}))) == 14
        assert len(svc.requests()) == 3  # 7, 7, then an empty page
        assert len(list(c.paginate("v2.events.list_project_events", {"page": {"limit": 7}}, max_pages=1))) == 7
    event = dict(svc.events[0], id="1")
    loop = {"events": [event], "links": [{"rel": "next", "href": "https://x/v2/events?marker=1"}]}
    svc.script("GET", f"/v2/{TENANT}/events", Answer(200, json.dumps(loop).encode()))
    with client(svc) as c:
        pages = list(c.pages("v2.events.list_project_events"))
    assert len(pages) == 2  # the service sent marker 1 twice: no third request


def test_v1_lists_and_unpaged_v2_lists_are_one_page(svc: FakeService) -> None:
    activity = sample("v1/getUserActivity_response.json")
    agents = sample("v2/cbu-getProjectAgents_response.json")
    svc.script("GET", f"/v1.0/{TENANT}/activity", Answer(200, activity, JSON_HEADERS))
    svc.script("GET", f"/v2/{TENANT}/agents", Answer(200, agents, JSON_HEADERS))
    with client(svc) as c:
        assert list(c.paginate("v1.activity.list_user_activity")) == cb.parse_response(
            "v1.activity.list_user_activity", 200, activity
        )
        assert list(c.paginate("v2.agents.list_agents")) == cb.parse_model("v2.AgentList", agents)["agents"]
        with pytest.raises(cb.InvalidArgument, match="not a list"):
            svc.script("GET", RESTORE_PATH, Answer(200, RESTORE, JSON_HEADERS))
            list(c.paginate("v2.restores.get_restore", {"restore_id": RESTORE_ID}))
    assert len(svc.requests()) == 3


def test_page_helpers() -> None:
    recorded = json.loads(sample("v2/cbu-getRestores_response.json"))
    assert next_marker(recorded) == RESTORE_ID
    assert page_items(recorded) == recorded["restores"]
    assert next_marker({"links": [{"rel": "previous", "href": "https://h/x?marker=1"}]}) is None
    assert page_items(None) == [] and page_items([1, 2]) == [1, 2]


# -- async ----------------------------------------------------------------------------


def test_the_async_client(svc: FakeService) -> None:
    """Identity, a 429 with Retry-After, a 401 and three pages, asynchronously."""
    svc.script("GET", RESTORE_PATH, Answer(429, b"", {"Retry-After": "4"}), Answer(200, RESTORE, JSON_HEADERS))
    sleeps = Sleeps()

    async def main() -> Dict[str, Any]:
        retry = RetryPolicy(attempts=3, sleep=sleeps)
        async with cb.AsyncClient(
            username=USERNAME, api_key=API_KEY, identity_url=svc.identity_url, region="IAD", retry=retry
        ) as c:
            restore = await c.call("v2.restores.get_restore", {"restore_id": RESTORE_ID})
            svc.revoke_tokens()
            items = [e async for e in c.paginate("v2.events.list_project_events", {"page": {"limit": 5}})]
            return {"restore": restore, "items": items, "stats": dict(c.stats)}

    out = asyncio.run(main())
    assert out["restore"] == expected_restore() and len(out["items"]) == 14
    assert sleeps.waits == [4.0]
    assert out["stats"]["reauthentications"] == 1 and out["stats"]["authentications"] == 2
    assert {s.region for s in svc.requests()} == {"iad"}
    assert [s.header("X-Auth-Token") for s in svc.requests()] == ["tok-1", "tok-1", "tok-1", "tok-2", "tok-2", "tok-2"]


def test_the_async_client_really_waits(svc: FakeService) -> None:
    svc.script("GET", RESTORE_PATH, Answer(503, b"", {"Retry-After": "1"}), Answer(200, RESTORE, JSON_HEADERS))

    async def main() -> float:
        async with cb.AsyncClient(username=USERNAME, api_key=API_KEY, identity_url=svc.identity_url) as c:
            await c.authenticate()
            start = time.monotonic()
            await c.call("v2.restores.get_restore", {"restore_id": RESTORE_ID})
            return time.monotonic() - start

    assert asyncio.run(main()) >= 0.95


def test_a_lent_httpx_client_is_used_and_left_open(svc: FakeService) -> None:
    import httpx

    svc.script("GET", f"/v2/{TENANT}/ping", Answer(204))
    sent: List[str] = []
    with httpx.Client(event_hooks={"request": [lambda r: sent.append(f"{r.method} {r.url.path}")]}) as http:
        with client(svc, http=http) as c:
            c.call("v2.settings.ping")
        assert not http.is_closed
    assert sent == ["POST /identity/v2.0/tokens", f"GET /dfw/v2/{TENANT}/ping"]


# -- the environment and the command line ---------------------------------------------


def service_env(svc: FakeService) -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAX_", "CLOUDBACKUP_"))}
    env.update(RAX_USERNAME=USERNAME, RAX_API_KEY=API_KEY, RAX_AUTH_URL=svc.identity_url, RAX_REGION="syd")
    return env


def test_from_env(svc: FakeService) -> None:
    env = service_env(svc)
    c = cb.Client.from_env(env)
    assert c.identity_url == svc.identity_url and c.region == "syd" and c.can_reauthenticate
    assert cb.Client.from_env(env, region="ord").region == "ord"
    token_env = {"CLOUDBACKUP_TOKEN": "t", "CLOUDBACKUP_API_URL": f"{svc.url}/v2/77", "CLOUDBACKUP_AGENT_ID": "a1"}
    c = cb.Client.from_env(token_env)
    assert not c.can_reauthenticate and c.agent_id == "a1" and c.session == Session("t", "77", svc.url)
    assert cb.Client.from_env({}, token="t", tenant_id="1", base_url=svc.url).identity_url == DEFAULT_IDENTITY_URL


def test_cli_api_calls_an_operation(svc: FakeService) -> None:
    svc.script("GET", RESTORE_PATH, Answer(200, RESTORE, JSON_HEADERS))
    env = service_env(svc)
    r = run_cli(["api", "v2.restores.get_restore", "--param", f"restore_id={RESTORE_ID}", "--json"], env)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"operation": "v2.restores.get_restore", "result": expected_restore()}
    r = run_cli(["api", "v2.restores.get_restore", "-p", f"restore_id={RESTORE_ID}"], env)
    assert r.returncode == 0 and json.loads(r.stdout) == expected_restore() and "\n  " in r.stdout
    assert [s.region for s in svc.requests()] == ["syd", "syd"]


def test_cli_api_bodies_json_params_and_pages(svc: FakeService, tmp_path: Any) -> None:
    env = service_env(svc)
    svc.script("POST", f"/v2/{TENANT}/restores", Answer(201, sample("v2/cbu-postRestore_response.json"), JSON_HEADERS))
    body = sample("v2/cbu-postRestore_request.json").decode()
    r = run_cli(["api", "v2.restores.start_restore", "--body", "-", "--json"], env, stdin=body)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["result"]["state"] == "start_requested"
    assert json.loads(svc.requests()[-1].body) == json.loads(body)
    patch = tmp_path / "patch.json"
    patch.write_bytes(sample("v2/cbu-updateRestore_request.json"))
    svc.script("PATCH", RESTORE_PATH, Answer(204))
    r = run_cli(["api", "v2.restores.update_restore", "-p", f"restore_id={RESTORE_ID}", "--body", str(patch)], env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "null"
    assert svc.requests()[-1].header("Content-Type") == "application/json-patch+json"
    assert json.loads(svc.requests()[-1].body) == json.loads(patch.read_text())
    svc.script("PUT", f"/v1.0/{TENANT}/agent/logging", Answer(200))
    r = run_cli(["api", "v1.agents.change_log_level", "-p", "machine_agent_id:=42", "-p", "level=Debug"], env)
    assert r.returncode == 0, r.stderr
    assert svc.requests()[-1].body == b"MachineAgentId=42&LoggingLevelId=5"
    r = run_cli(["api", "v2.events.list_project_events", "-p", "page.limit:=6", "--all", "--json"], env)
    assert r.returncode == 0, r.stderr
    assert len(json.loads(r.stdout)["result"]) == 14
    assert [s.query.get("limit") for s in svc.requests()[-3:]] == [["6"]] * 3


def test_cli_api_list_and_errors(svc: FakeService) -> None:
    env = service_env(svc)
    r = run_cli(["api", "--list", "--json"], env)
    assert r.returncode == 0 and json.loads(r.stdout)["operations"] == cb.operations()
    r = run_cli(["api", "--list"], env)
    assert len(r.stdout.splitlines()) == len(cb.operations())
    assert any(line.split()[:2] == ["v2.restores.get_restore", "GET"] for line in r.stdout.splitlines())
    # A 404, as a JSON error.
    r = run_cli(["api", "v2.restores.get_restore", "-p", "restore_id=nope", "--json"], env)
    assert r.returncode == 1
    error = json.loads(r.stdout)["error"]
    assert error["type"] == "ApiError" and error["details"]["status"] == 404
    # No credentials.
    bare = {k: v for k, v in env.items() if not k.startswith("RAX_")}
    r = run_cli(["api", "v2.settings.ping"], bare)
    assert r.returncode == 1 and "RAX_USERNAME" in r.stderr
    # Bad usage.
    for args in (["api"], ["api", "v2.settings.ping", "-p", "novalue"], ["api", "v2.settings.ping", "-p", "a:={"]):
        r = run_cli(args, env)
        assert r.returncode == 2, (args, r.stderr)
    r = run_cli(["api", "v2.settings.ping", "--body", "-"], env, stdin="{}")
    assert r.returncode == 2 and "takes no body" in r.stderr
    r = run_cli(["api", "v2.restores.get_restor", "-p", "restore_id=x"], env)
    assert r.returncode == 1 and "did you mean v2.restores.get_restore" in r.stderr


def test_readme_client_example(svc: FakeService) -> None:
    svc.script("GET", RESTORE_PATH, Answer(200, RESTORE, JSON_HEADERS))
    text = (REPO / "README.md").read_text()
    block = text.split("<!-- python-client -->", 1)[1].split("```python", 1)[1].split("```", 1)[0]
    r = subprocess.run([sys.executable, "-c", block], env=service_env(svc), capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "completed_with_errors"
    assert lines[1] == "14 events"
    assert lines[2].startswith("404 ")


def test_the_example_runs(svc: FakeService) -> None:
    svc.script("GET", RESTORE_PATH, Answer(200, RESTORE, JSON_HEADERS))
    example = REPO / "python" / "examples" / "api_client.py"
    r = subprocess.run(
        [sys.executable, str(example), RESTORE_ID, "5"], env=service_env(svc), capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 0, r.stderr
    assert f"restore {RESTORE_ID}: completed_with_errors" in r.stdout
    assert "events: 14 over 3 pages" in r.stdout


def test_urls_that_are_not_http_urls_are_refused_when_the_client_is_made() -> None:
    """A base or Identity URL that is no http(s) URL fails at construction,
    naming the argument (a non-str was an AttributeError, a malformed one an
    httpx error at the first request)."""
    for url in ("x", "ftp://h/v2/1", "http://[::1/v2/1", "\udcff", ""):
        with pytest.raises(cb.InvalidArgument, match="^invalid argument `base_url`: ") as e:
            cb.Client(token="t", base_url=url)
        assert e.value.details["name"] == "base_url"
        with pytest.raises(cb.InvalidArgument, match="^invalid argument `identity_url`: "):
            cb.AsyncClient(username="u", api_key="k", identity_url=url)
    odds: List[object] = [1, 1.5, [], {}, b"http://h"]
    for odd in odds:
        with pytest.raises(TypeError, match="^argument 'base_url': "):
            cb.Client(token="t", base_url=odd)  # type: ignore[arg-type]
    assert cb.Client(token="t", base_url=" https://h.example/v2/123 ").session is not None
