"""A fault-injecting WSGI filter for the Swift all-in-one of
scripts/swift-aio (never for a real proxy): lets a test make the proxy
answer some requests with an error, as a busy Cloud Files endpoint does.

Loaded into the proxy pipeline with ``paste.filter_factory =
swift_faults:filter_factory`` (scripts/ on the proxy's PYTHONPATH). It runs
inside Swift, under Debian's python3, so it uses only the standard library.

Control, on the proxy's own port:

- ``POST /__faults__`` with JSON ``{"method": "PUT", "contains": "/bundles/",
  "count": 2, "status": 503, "retry_after": "1"}`` arms a rule: the next
  ``count`` requests whose method matches and whose path contains
  ``contains`` get ``status`` (with ``Retry-After`` when given) instead of
  reaching Swift; with ``"delay": SECONDS`` the answer comes only after that
  long (a stalled upload, during which a test can kill its client);
- ``GET /__faults__`` returns ``{"armed": [...], "injected": N}``;
- ``DELETE /__faults__`` disarms every rule and zeroes the count.
"""

from __future__ import annotations

import json
import time
from typing import Any, Callable, Dict, Iterable, List

CONTROL = "/__faults__"

try:  # Swift's proxy runs on eventlet: a green sleep stalls one request only.
    from eventlet import sleep
except ImportError:  # pragma: no cover - outside Swift
    sleep = time.sleep

StartResponse = Callable[..., Any]
App = Callable[[Dict[str, Any], StartResponse], Iterable[bytes]]


class FaultFilter:
    """The middleware: rules in memory (the AIO proxy runs one process,
    ``workers = 0``, so one state is the whole server's)."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.rules: List[Dict[str, Any]] = []
        self.injected = 0

    def _reply(self, start_response: StartResponse, status: str, body: Dict[str, Any]) -> List[bytes]:
        data = json.dumps(body).encode()
        start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
        return [data]

    def __call__(self, environ: Dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = str(environ.get("PATH_INFO", ""))
        method = str(environ.get("REQUEST_METHOD", "GET"))
        if path == CONTROL:
            if method == "POST":
                length = int(environ.get("CONTENT_LENGTH") or 0)
                rule = json.loads(environ["wsgi.input"].read(length) or b"{}")
                rule.setdefault("count", 1)
                rule.setdefault("status", 503)
                self.rules.append(rule)
            elif method == "DELETE":
                self.rules.clear()
                self.injected = 0
            return self._reply(start_response, "200 OK", {"armed": self.rules, "injected": self.injected})
        for rule in self.rules:
            if rule["count"] <= 0:
                continue
            if rule.get("method") not in (None, method):
                continue
            if str(rule.get("contains", "")) not in path:
                continue
            rule["count"] -= 1
            self.injected += 1
            if rule.get("delay"):
                sleep(float(rule["delay"]))
            # Drain the body so the client's keep-alive connection stays usable.
            length = int(environ.get("CONTENT_LENGTH") or 0)
            stream = environ.get("wsgi.input")
            while length > 0 and stream is not None:
                piece = stream.read(min(length, 1 << 16))
                if not piece:
                    break
                length -= len(piece)
            status = int(rule["status"])
            body = f"injected {status}\n".encode()
            headers = [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))]
            if rule.get("retry_after") is not None:
                headers.append(("Retry-After", str(rule["retry_after"])))
            start_response(f"{status} Injected", headers)
            return [body]
        return self.app(environ, start_response)


def filter_factory(global_conf: Dict[str, Any], **local_conf: Any) -> Callable[[App], FaultFilter]:
    """The PasteDeploy entry point."""
    return FaultFilter
