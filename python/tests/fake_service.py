"""A local HTTP server that answers like Rackspace Identity v2.0 and the
Cloud Backup API, for the transport's tests (stdlib ``http.server`` in a
thread, on 127.0.0.1 only).

- ``POST /identity/v2.0/tokens`` checks the credentials and answers the
  recorded catalog (``tests/data/identity-v2.0-tokens.json``) with a fresh
  token (``tok-1``, ``tok-2``...) and its endpoints' hosts replaced by this
  server's: ``https://dfw.backup.api.rackspacecloud.com`` becomes
  ``{url}/dfw``, the region-less ``https://backup.api.rackspacecloud.com``
  becomes ``{url}/global``.
- Every other request needs a live ``X-Auth-Token`` (else 401, as the
  service answers a stale token) and is answered from a script of recorded
  answers per method and path (the last one repeats), or by the built-in
  ``GET /v2/{tenant}/events``, which pages the recorded event list by
  ``marker`` and ``limit`` and links the next page as the service does.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Dict, List, Optional, Set, Tuple

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent.parent
SAMPLES = REPO / "tests" / "data" / "rackspace"
IDENTITY_SAMPLE = TESTS / "data" / "identity-v2.0-tokens.json"
TENANT = "123456"
USERNAME = "demo"
API_KEY = "0123456789abcdef"
PASSWORD = "hunter2"
REGIONS = ("dfw", "ord", "iad", "lon", "hkg", "syd", "global")


def sample(name: str) -> bytes:
    """A recorded body: ``v2/cbu-getRestoreDetails_response.json``."""
    version, file = name.split("/", 1)
    return (SAMPLES / f"samples-{version}" / file).read_bytes()


@dataclass
class Answer:
    """One scripted answer."""

    status: int
    body: bytes = b""
    headers: Dict[str, str] = field(default_factory=dict)
    #: Seconds to wait before answering (for timeouts).
    delay: float = 0.0


@dataclass
class Seen:
    """One request the server received."""

    method: str
    path: str
    query: Dict[str, List[str]]
    headers: Dict[str, str]
    body: bytes
    #: The endpoint's region prefix (``dfw``, ``global``...), "" for none.
    region: str = ""

    def header(self, name: str) -> Optional[str]:
        return self.headers.get(name.lower())

    def json(self) -> Any:
        return json.loads(self.body)


class FakeService:
    """The server; use as a context manager."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seen: List[Seen] = []
        self.scripts: Dict[Tuple[str, str], List[Answer]] = {}
        self.valid_tokens: Set[str] = set()
        self.issued = 0
        #: Seconds a new token lives.
        self.token_lifetime = 86400.0
        #: Answers Identity gives before its normal one (e.g. a 503).
        self.identity_script: List[Answer] = []
        #: The events the built-in list pages over (recorded, 14 of them).
        self.events: List[Any] = json.loads(sample("v2/cbu-getEvents_response.json"))["events"]
        #: Whether the last page still carries a next link.
        self.next_link_on_last_page = False
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        setattr(self.server, "service", self)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.identity_url = f"{self.url}/identity/v2.0"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)

    def __enter__(self) -> "FakeService":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)

    # -- set-up ------------------------------------------------------------------

    def script(self, method: str, path: str, *answers: Answer) -> None:
        """Answers for ``method path`` (path without the region prefix),
        in order; the last one repeats."""
        with self.lock:
            self.scripts[(method, path)] = list(answers)

    def revoke_tokens(self) -> None:
        """Every token issued so far is stale from now on."""
        with self.lock:
            self.valid_tokens.clear()

    # -- what was seen -----------------------------------------------------------

    def requests(self, kind: str = "service") -> List[Seen]:
        """The requests received: ``"service"`` ones, ``"identity"`` ones or ``"all"``."""
        with self.lock:
            seen = list(self.seen)
        if kind == "all":
            return seen
        identity = [s for s in seen if s.path.startswith("/identity/")]
        return identity if kind == "identity" else [s for s in seen if s not in identity]

    # -- answers -----------------------------------------------------------------

    def identity_answer(self, body: bytes) -> Answer:
        with self.lock:
            if self.identity_script:
                return self.identity_script.pop(0)
        try:
            auth = json.loads(body)["auth"]
        except (ValueError, KeyError, TypeError):
            return Answer(400, b'{"badRequest": {"code": 400, "message": "Invalid json request body"}}')
        key = auth.get("RAX-KSKEY:apiKeyCredentials") or {}
        pw = auth.get("passwordCredentials") or {}
        ok = (key.get("username") == USERNAME and key.get("apiKey") == API_KEY) or (
            pw.get("username") == USERNAME and pw.get("password") == PASSWORD
        )
        if not ok:
            return Answer(
                401,
                b'{"unauthorized": {"code": 401, "message": "Unable to authenticate user with credentials provided."}}',
            )
        with self.lock:
            self.issued += 1
            token = f"tok-{self.issued}"
            self.valid_tokens.add(token)
            lifetime = self.token_lifetime
        text = IDENTITY_SAMPLE.read_text()
        for region in REGIONS[:-1]:
            text = text.replace(f"https://{region}.backup.api.rackspacecloud.com", f"{self.url}/{region}")
        text = text.replace("https://backup.api.rackspacecloud.com", f"{self.url}/global")
        answer = json.loads(text)
        expires = datetime.now(timezone.utc) + timedelta(seconds=lifetime)
        answer["access"]["token"]["id"] = token
        answer["access"]["token"]["expires"] = expires.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        if "passwordCredentials" in auth:
            answer["access"]["token"]["RAX-AUTH:authenticatedBy"] = ["PASSWORD"]
        return Answer(200, json.dumps(answer).encode(), {"Content-Type": "application/json"})

    def service_answer(self, seen: Seen) -> Answer:
        token = seen.header("X-Auth-Token")
        with self.lock:
            live = token in self.valid_tokens
            script = self.scripts.get((seen.method, seen.path))
            answer = None
            if script:
                answer = script.pop(0) if len(script) > 1 else script[0]
        if not live:
            return Answer(401, b'{"message": "Authentication required"}', {"Content-Type": "application/json"})
        if answer is not None:
            return answer
        if seen.method == "GET" and seen.path == f"/v2/{TENANT}/events":
            return self.events_page(seen)
        return Answer(404, b'{"message": "Not found."}', {"Content-Type": "application/json"})

    def events_page(self, seen: Seen) -> Answer:
        """The recorded events from after ``marker``, ``limit`` at most
        (default 100), with a next link when more follow."""
        markers = seen.query.get("marker")
        marker = markers[-1] if markers else None
        limit = int((seen.query.get("limit") or ["100"])[-1])
        ids = [e["id"] for e in self.events]
        start = ids.index(marker) + 1 if marker in ids else 0
        page = self.events[start : start + limit]
        links = []
        more = start + limit < len(self.events)
        if page and (more or self.next_link_on_last_page):
            extra = "".join(f"&{k}={v[-1]}" for k, v in sorted(seen.query.items()) if k != "marker")
            links.append({"href": f"{self.url}/v2/events?marker={page[-1]['id']}{extra}", "rel": "next"})
        if start > 0:
            links.append({"href": f"{self.url}/v2/events?marker={ids[start - 1]}&sort_dir=asc", "rel": "previous"})
        body = {"events": page, "links": links}
        return Answer(200, json.dumps(body).encode(), {"Content-Type": "application/json"})


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _handle(self) -> None:
        service: FakeService = getattr(self.server, "service")
        split = urllib.parse.urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path = split.path
        region = ""
        first = path.split("/")[1] if path.count("/") >= 1 else ""
        if first in REGIONS:
            region = first
            path = path[len(first) + 1 :]
        seen = Seen(
            method=self.command,
            path=path,
            query=urllib.parse.parse_qs(split.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            region=region,
        )
        with service.lock:
            service.seen.append(seen)
        if path == "/identity/v2.0/tokens" and self.command == "POST":
            answer = service.identity_answer(body)
        else:
            answer = service.service_answer(seen)
        if answer.delay:
            time.sleep(answer.delay)
        try:
            self.send_response(answer.status)
            for k, v in answer.headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            if answer.body:
                self.wfile.write(answer.body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle
