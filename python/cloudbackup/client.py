"""The HTTP transport for the Cloud Backup API, on httpx: :class:`Client`
(synchronous) and :class:`AsyncClient` (asyncio).

The core builds every request and parses every answer
(:func:`cloudbackup.build_request` / :func:`cloudbackup.parse_response`);
the client only adds what a transport must:

- **Authentication** with Rackspace Identity v2.0 (``POST
  {identity}/tokens`` with ``RAX-KSKEY:apiKeyCredentials`` — username and
  API key — or ``passwordCredentials``). The token is reused until shortly
  before it expires (``refresh_margin``), and a 401 from the service
  re-authenticates once and sends the request again. A token obtained
  elsewhere can be given instead (``token`` + ``tenant_id`` + ``base_url``);
  it is never refreshed.
- **The endpoint**: the Cloud Backup entry of the service catalog (type
  ``rax:backup``, name ``cloudBackup``) for ``region``, else for the user's
  default region (``RAX-AUTH:defaultRegion``), else the entry without a
  region; or an explicit ``base_url``. The catalog's ``publicURL`` ends in
  ``/v1.0/{tenant}``; the core's paths start with ``/v1.0/{tenant}/`` or
  ``/v2/{tenant}/``, so that suffix is cut and the tenant read from it.
- **Retries**, bounded by a :class:`cloudbackup.storage.RetryPolicy`
  (attempts, exponential backoff with full jitter, ``Retry-After`` in
  seconds or as an HTTP date, capped at ``max_retry_after``): 429 and 503
  for every method (the service did not act on the request), 413 when it
  carries ``Retry-After`` (rate limiting on some deployments), other 5xx
  (except 501) and transport errors after the request was sent only for
  idempotent methods (GET, PUT, DELETE: a POST that reached the service
  may have started a backup), connection failures for every method. When
  the attempts are used up the last answer is parsed, so the caller sees
  the core's :class:`~cloudbackup.ApiError` (``status``, ``retry_after``);
  a transport that never answered raises :class:`TransportError`.
- **Paging**: :meth:`Client.pages` and :meth:`Client.paginate` follow the
  ``links`` of v2 lists (``rel: next``; its ``marker`` query parameter is
  passed back to the core as ``page.marker``, keeping the caller's
  ``limit`` and ``sort_dir``) until a page has no next link or no items;
  v1 lists and unpaged v2 lists are one page.

Results are what :func:`cloudbackup.parse_response` returns (dicts and
lists in the core's JSON shapes, ``None`` for "no content"); errors are the
package's exceptions (:mod:`cloudbackup.errors`) plus :class:`TransportError`.

From the environment (:meth:`Client.from_env`, and ``cloudbackup api``):

=========================  =================================================
``RAX_USERNAME``           Rackspace user name
``RAX_API_KEY``            its API key (or ``RAX_PASSWORD``, its password)
``RAX_REGION``             region of the endpoint (``DFW``, ``ORD``, ``IAD``,
                           ``LON``, ``HKG``, ``SYD``); default: the user's
``RAX_AUTH_URL``           Identity v2.0 root (default
                           ``https://identity.api.rackspacecloud.com/v2.0``)
``CLOUDBACKUP_API_URL``    the Cloud Backup root instead of the catalog's
                           (e.g. ``https://dfw.backup.api.rackspacecloud.com``)
``CLOUDBACKUP_TOKEN``      a token obtained elsewhere (with
                           ``CLOUDBACKUP_TENANT_ID`` and ``CLOUDBACKUP_API_URL``)
``CLOUDBACKUP_TENANT_ID``  the tenant (project) id, when not from Identity
``CLOUDBACKUP_AGENT_ID``   an agent's id, sent as ``X-Agent-Id`` on every call
=========================  =================================================
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import threading
import time
import urllib.parse
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import (
    Any,
    AsyncIterator,
    Dict,
    Generic,
    Iterator,
    List,
    Mapping,
    Optional,
    Sequence,
    Set,
    Tuple,
    TypeVar,
    Union,
)

import httpx

from . import api
from .api import JsonInput
from .shapes import Request
from .errors import ApiError, Error, InvalidArgument, InvalidJson, NotFound
from .backend import RetryPolicy, parse_retry_after

__all__ = [
    "Client",
    "AsyncClient",
    "Session",
    "TransportError",
    "RetryPolicy",
    "DEFAULT_IDENTITY_URL",
    "ENVIRONMENT",
    "endpoint_from_catalog",
    "split_base_url",
    "parse_expires",
    "page_items",
    "next_marker",
]

#: Rackspace Identity v2.0, for US and UK accounts alike.
DEFAULT_IDENTITY_URL = "https://identity.api.rackspacecloud.com/v2.0"
#: The service catalog's type and name of Cloud Backup.
SERVICE_TYPE = "rax:backup"
SERVICE_NAME = "cloudBackup"
#: The environment variables :meth:`Client.from_env` reads, and what for.
ENVIRONMENT: Dict[str, str] = {
    "RAX_USERNAME": "Rackspace user name (Identity v2.0)",
    "RAX_API_KEY": "the user's API key",
    "RAX_PASSWORD": "the user's password (when there is no API key)",
    "RAX_REGION": "region of the Cloud Backup endpoint (default: the user's default region)",
    "RAX_AUTH_URL": f"Identity v2.0 root (default {DEFAULT_IDENTITY_URL})",
    "CLOUDBACKUP_API_URL": "Cloud Backup root, instead of the service catalog's",
    "CLOUDBACKUP_TOKEN": "a token obtained elsewhere (never refreshed)",
    "CLOUDBACKUP_TENANT_ID": "tenant (project) id, when it does not come from Identity",
    "CLOUDBACKUP_AGENT_ID": "an agent's id, sent as X-Agent-Id on every call",
}

#: Methods a second copy of which changes nothing more (RFC 9110 9.2.2);
#: PATCH and POST are not.
IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
#: Retried whatever the method: the service says it did not act.
ALWAYS_RETRIED = frozenset({429, 503})
#: The identity operation's name in errors.
IDENTITY_OPERATION = "identity authenticate"
#: The kinds of the core's ApiErrorKind, for identity errors.
_KINDS = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "over_limit",
    500: "internal_server_error",
    501: "not_implemented",
    503: "service_unavailable",
}

Timeout = Union[float, httpx.Timeout]


class TransportError(Error, ConnectionError):
    """The service could not be reached, or the connection failed before an
    answer came, on every attempt (``url``, ``reason``, ``attempts``).
    Raised by :class:`Client` only, never by the core."""

    code = "transport"
    url: str
    reason: str
    attempts: int


@dataclass(frozen=True, repr=False)
class Session:
    """What the client calls the service with: the token, the tenant
    (project) id, the Cloud Backup root URL, and when the token expires
    (``None``: not known, used until the service answers 401)."""

    token: str
    tenant_id: str
    base_url: str
    expires: Optional[datetime] = None
    #: The catalog region the endpoint was chosen for (``None``: explicit
    #: URL or a region-less entry).
    region: Optional[str] = None

    def expiring(self, margin: float, now: Optional[float] = None) -> bool:
        """Whether the token expires within ``margin`` seconds."""
        if self.expires is None:
            return False
        now = time.time() if now is None else now
        return self.expires.timestamp() - margin <= now

    def __repr__(self) -> str:
        return (
            f"Session(tenant_id={self.tenant_id!r}, base_url={self.base_url!r}, "
            f"region={self.region!r}, expires={self.expires!r}, token=...)"
        )


# -- endpoints and identity -------------------------------------------------------------

_VERSIONED = re.compile(r"^(?P<root>.*?)/(?:v1\.0|v2)(?:/(?P<tenant>[^/?#]+))?/*$")


def _url_argument(value: Any, name: str) -> str:
    """``value`` as the http(s) URL argument ``name`` must be: a TypeError
    for what is not a str, InvalidArgument naming it for a str that is not
    such a URL (found here, not as an httpx error at the first request)."""
    if not isinstance(value, str):
        raise TypeError(f"argument '{name}': '{type(value).__name__}' object is not a URL (a str)")
    ok = False
    reason = "is not an http or https URL with a host"
    try:
        url = httpx.URL(value.strip())
        ok = url.scheme in ("http", "https") and bool(url.host)
    except (httpx.InvalidURL, ValueError, TypeError) as e:
        reason = f"is not a URL ({e})"
    if not ok:
        raise InvalidArgument(f"invalid argument `{name}`: {value!r} {reason}", {"name": name, "reason": reason})
    return value


def split_base_url(url: str) -> Tuple[str, Optional[str]]:
    """The service root of ``url`` and the tenant it names, if any:
    ``https://dfw.backup.api.rackspacecloud.com/v1.0/123456`` gives
    ``("https://dfw.backup.api.rackspacecloud.com", "123456")``; a URL
    without a version suffix is the root itself (``None``)."""
    url = url.strip()
    m = _VERSIONED.match(url)
    if m is None:
        return url.rstrip("/"), None
    tenant = m.group("tenant")
    return m.group("root").rstrip("/"), urllib.parse.unquote(tenant) if tenant else None


def endpoint_from_catalog(
    catalog: Sequence[Mapping[str, Any]],
    region: Optional[str] = None,
    default_region: Optional[str] = None,
) -> Mapping[str, Any]:
    """The Cloud Backup endpoint of an Identity v2.0 service catalog: the
    one of ``region`` (case-insensitive; its absence is an error), else of
    ``default_region``, else the entry without a region, else the only one.

    Raises:
        NotFound: no Cloud Backup service, no endpoint for ``region``, or
            several regions and none chosen (the message lists them).
    """
    services = [
        s
        for s in catalog
        if isinstance(s, Mapping) and (s.get("type") == SERVICE_TYPE or s.get("name") == SERVICE_NAME)
    ]
    endpoints: List[Mapping[str, Any]] = [
        e
        for s in services
        for e in (s.get("endpoints") or [])
        if isinstance(e, Mapping) and isinstance(e.get("publicURL"), str)
    ]
    if not endpoints:
        raise NotFound(
            f"no Cloud Backup endpoint (type {SERVICE_TYPE!r}) in the service catalog",
            {"what": "endpoint", "id": SERVICE_TYPE},
        )
    regions = sorted({str(e["region"]).upper() for e in endpoints if e.get("region")})

    def of(name: str) -> Optional[Mapping[str, Any]]:
        return next((e for e in endpoints if str(e.get("region") or "").upper() == name.upper()), None)

    if region:
        found = of(region)
        if found is None:
            raise NotFound(
                f"no Cloud Backup endpoint for region {region!r} (the catalog has: {', '.join(regions) or 'none'})",
                {"what": "region", "id": region},
            )
        return found
    if default_region:
        found = of(default_region)
        if found is not None:
            return found
    generic = [e for e in endpoints if not e.get("region")]
    if generic:
        return generic[0]
    if len(endpoints) == 1:
        return endpoints[0]
    raise NotFound(
        f"choose a region for Cloud Backup (the catalog has: {', '.join(regions)})",
        {"what": "region", "id": ""},
    )


def parse_expires(text: Any) -> Optional[datetime]:
    """An Identity ``expires`` (``2014-07-22T07:11:19.488Z``,
    ``2013-04-23T09:45:24.000-05:00``) as an aware datetime; ``None`` when
    absent or unreadable."""
    if not isinstance(text, str):
        return None
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    # Python < 3.11 reads only 3 or 6 fraction digits.
    m = re.match(r"^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(.*)$", value)
    if m is not None and m.group(2) is not None:
        value = f"{m.group(1)}.{(m.group(2) + '000000')[:6]}{m.group(3)}"
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=timezone.utc)


def _error_message(body: bytes) -> Tuple[Optional[str], Optional[List[Any]]]:
    """The message and error list of an Identity error body
    (``{"unauthorized": {"code": 401, "message": "..."}}``)."""
    try:
        value = json.loads(body)
    except ValueError:
        text = body.decode("utf-8", "replace").strip()
        return (text[:500] or None), None

    def find(v: Any) -> Optional[str]:
        if isinstance(v, str):
            return v
        if isinstance(v, dict):
            m = find(v.get("message"))
            return m if m is not None else next((x for x in map(find, v.values()) if x is not None), None)
        return None

    errors = None
    if isinstance(value, dict):
        inner = [value] + [v for v in value.values() if isinstance(v, dict)]
        errors = next((d["errors"] for d in inner if isinstance(d.get("errors"), list)), None)
    return find(value), errors


def _identity_error(status: int, headers: Sequence[Tuple[str, str]], body: bytes) -> ApiError:
    """The :class:`ApiError` for an Identity answer that is not a token."""
    message, errors = _error_message(body)
    retry_after: Optional[Union[int, str]] = None
    for k, v in headers:
        if k.lower() == "retry-after":
            v = v.strip()
            retry_after = int(v) if v.isdigit() else v
            break
    kind = _KINDS.get(status, "other") if status >= 400 else "other"
    text = f"{IDENTITY_OPERATION} failed with HTTP {status} ({kind})"
    if message:
        text += f": {message}"
    return ApiError(
        text,
        {
            "operation": IDENTITY_OPERATION,
            "status": status,
            "kind": kind,
            "message": message,
            "errors": errors,
            "retry_after": retry_after,
        },
    )


def _session_from_access(
    answer: Any,
    *,
    region: Optional[str],
    base_url: Optional[str],
    tenant_id: Optional[str],
) -> Session:
    """The session an Identity v2.0 answer gives (``{"access": {"token",
    "serviceCatalog", "user"}}``)."""
    access = answer.get("access") if isinstance(answer, dict) else None
    token = access.get("token") if isinstance(access, dict) else None
    if not isinstance(access, dict) or not isinstance(token, dict) or not isinstance(token.get("id"), str):
        raise core_invalid_json(IDENTITY_OPERATION, "expected {\"access\": {\"token\": {\"id\": ...}}}")
    token_tenant = token.get("tenant", {}).get("id") if isinstance(token.get("tenant"), dict) else None
    chosen_region: Optional[str] = None
    if base_url is not None:
        root, url_tenant = split_base_url(base_url)
        tenant = tenant_id or url_tenant or token_tenant
    else:
        user = access.get("user")
        default_region = user.get("RAX-AUTH:defaultRegion") if isinstance(user, dict) else None
        endpoint = endpoint_from_catalog(access.get("serviceCatalog") or [], region, default_region)
        root, url_tenant = split_base_url(str(endpoint["publicURL"]))
        tenant = tenant_id or endpoint.get("tenantId") or url_tenant or token_tenant
        chosen_region = str(endpoint["region"]) if endpoint.get("region") else None
    if not tenant:
        raise InvalidArgument(
            "the tenant id is neither in the endpoint nor in the token: give tenant_id",
            {"name": "tenant_id", "reason": "unknown"},
        )
    return Session(
        token=token["id"],
        tenant_id=str(tenant),
        base_url=root,
        expires=parse_expires(token.get("expires")),
        region=chosen_region,
    )


def core_invalid_json(what: str, message: str) -> Error:
    """An :class:`~cloudbackup.InvalidJson` as the core words it."""
    return InvalidJson(f"invalid JSON for {what}: {message}", {"what": what})


# -- requests -------------------------------------------------------------------------


def _build(operation: str, params: Optional[JsonInput], session: Session, agent_id: Optional[str]) -> Request:
    """The core's request for ``operation``, for ``session``; the core puts
    ``X-Agent-Id`` on it when the client speaks for an agent."""
    return api.build_request(
        operation, params, token=session.token, tenant_id=session.tenant_id, agent_id=agent_id
    )


@dataclass
class _Prepared:
    """One HTTP exchange to make."""

    method: str
    url: str
    query: List[Tuple[str, str]]
    headers: List[Tuple[str, str]]
    content: Optional[bytes]


def _prepare(request: Mapping[str, Any], base_url: str, user_agent: str) -> _Prepared:
    """The httpx arguments for a request of the core's JSON form."""
    headers = [(str(k), str(v)) for k, v in request["headers"]]
    if not any(k.lower() == "user-agent" for k, _ in headers):
        headers.append(("User-Agent", user_agent))
    body = request.get("body")
    return _Prepared(
        method=str(request["method"]),
        # The path's ids are already percent-encoded by the core.
        url=base_url.rstrip("/") + str(request["path"]),
        query=[(str(k), str(v)) for k, v in request["query"]],
        headers=headers,
        content=None if body is None else str(body).encode("utf-8"),
    )


def _identity_prepared(identity_url: str, body: Mapping[str, Any], user_agent: str) -> _Prepared:
    return _Prepared(
        method="POST",
        url=identity_url.rstrip("/") + "/tokens",
        query=[],
        headers=[
            ("Content-Type", "application/json"),
            ("Accept", "application/json"),
            ("User-Agent", user_agent),
        ],
        content=json.dumps(body).encode("utf-8"),
    )


def _retry_after(headers: httpx.Headers) -> Optional[float]:
    return parse_retry_after(headers.get("retry-after"))


def _status_retry(method: str, status: int, headers: httpx.Headers) -> Tuple[bool, Optional[float]]:
    """Whether an answer is worth another attempt, and the server's wait."""
    retry_after = _retry_after(headers)
    if status in ALWAYS_RETRIED:
        return True, retry_after
    if status == 413 and retry_after is not None:
        return True, retry_after
    if status >= 500 and status != 501 and method in IDEMPOTENT:
        return True, retry_after
    return False, None


def _transport_retry(method: str, error: httpx.TransportError) -> bool:
    """Whether a failed exchange may be tried again: always when nothing
    was sent, else only for idempotent methods."""
    if isinstance(error, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)):
        return True
    if isinstance(error, (httpx.UnsupportedProtocol, httpx.ProxyError)):
        return False
    return method in IDEMPOTENT


def _transport_error(prepared: _Prepared, error: Exception, attempts: int) -> TransportError:
    reason = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    return TransportError(
        f"{prepared.method} {prepared.url} failed: {reason} (after {attempts} attempt{'s' * (attempts != 1)})",
        {"url": prepared.url, "reason": reason, "attempts": attempts},
    )


# -- paging ---------------------------------------------------------------------------


def page_items(result: Any) -> List[Any]:
    """The items of a list operation's result: the result itself for v1
    lists, the one list member besides ``links`` for v2 ones
    (``{"backups": [...], "links": [...]}``)."""
    if result is None:
        return []
    if isinstance(result, list):
        return result
    if isinstance(result, dict):
        lists = [v for k, v in result.items() if k != "links" and isinstance(v, list)]
        if len(lists) == 1:
            return list(lists[0])
    raise InvalidArgument(
        "the operation's result is not a list (give a list operation to paginate)",
        {"name": "operation", "reason": "not a list operation"},
    )


def next_marker(result: Any) -> Optional[str]:
    """The ``marker`` of a v2 list's ``rel: next`` link, if it has one."""
    if not isinstance(result, dict):
        return None
    for link in result.get("links") or []:
        if isinstance(link, dict) and link.get("rel") == "next" and isinstance(link.get("href"), str):
            query = urllib.parse.parse_qs(urllib.parse.urlsplit(link["href"]).query)
            markers = query.get("marker")
            if markers:
                return markers[-1]
    return None


def _params_dict(params: Optional[JsonInput]) -> Dict[str, Any]:
    if params is None:
        return {}
    if isinstance(params, (str, bytes, bytearray, memoryview)):
        text = bytes(params).decode("utf-8") if not isinstance(params, str) else params
        value = json.loads(text)
    else:
        value = params
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidArgument(
            "invalid argument `params`: must be a JSON object", {"name": "params", "reason": "must be a JSON object"}
        )
    return dict(value)


def _with_marker(params: Mapping[str, Any], marker: str) -> Dict[str, Any]:
    page = dict(params.get("page") or {})
    page["marker"] = marker
    return {**params, "page": page}


def _is_paged(operation: str, params: Mapping[str, Any]) -> bool:
    """Whether ``operation`` takes ``page`` (v2 list operations do): asks
    the core to build it, which needs no network."""
    try:
        api.build_request(operation, {**params, "page": dict(params.get("page") or {})}, token="t", tenant_id="t")
    except InvalidArgument as e:
        return not str(getattr(e, "name", "")).startswith("params.page")
    except Error:
        return True
    return True


class _Pager:
    """The paging rules, shared by both clients: from one page's result
    and parameters, the next page's parameters or ``None``."""

    def __init__(self, operation: str, params: Optional[JsonInput], max_pages: Optional[int]) -> None:
        self.operation = operation
        self.params = _params_dict(params)
        self.max_pages = max_pages
        self.pages = 0
        self.seen: Set[str] = set()
        self.paged: Optional[bool] = None

    def advance(self, result: Any) -> Optional[Dict[str, Any]]:
        self.pages += 1
        if self.max_pages is not None and self.pages >= self.max_pages:
            return None
        items = page_items(result)
        if not items:
            return None
        marker = next_marker(result)
        if marker is None and isinstance(result, dict) and "links" not in result:
            # "The links might not be present": a full page without any
            # links goes on from its last item's id.
            limit = (self.params.get("page") or {}).get("limit")
            last = items[-1]
            if limit is not None and len(items) >= int(limit) and isinstance(last, dict) and last.get("id"):
                marker = str(last["id"])
        if marker is None or marker in self.seen:
            return None
        if self.paged is None:
            self.paged = _is_paged(self.operation, self.params)
        if not self.paged:
            return None
        self.seen.add(marker)
        self.params = _with_marker(self.params, marker)
        return self.params


# -- the clients ----------------------------------------------------------------------


def _user_agent() -> str:
    from . import __version__

    return f"cloudbackup-python/{__version__} httpx/{httpx.__version__}"


H = TypeVar("H", httpx.Client, httpx.AsyncClient)


class _Base(Generic[H]):
    """Configuration and token state shared by :class:`Client` and
    :class:`AsyncClient` (whose httpx client is of type ``H``)."""

    def __init__(
        self,
        *,
        username: Optional[str] = None,
        api_key: Optional[str] = None,
        password: Optional[str] = None,
        region: Optional[str] = None,
        base_url: Optional[str] = None,
        token: Optional[str] = None,
        tenant_id: Optional[str] = None,
        agent_id: Optional[str] = None,
        identity_url: str = DEFAULT_IDENTITY_URL,
        timeout: Timeout = 30.0,
        retry: Optional[RetryPolicy] = None,
        refresh_margin: float = 60.0,
        user_agent: Optional[str] = None,
        http: Optional[H] = None,
    ) -> None:
        if username is not None and api_key is None and password is None:
            raise InvalidArgument(
                "invalid argument `api_key`: a username needs an API key or a password",
                {"name": "api_key", "reason": "a username needs an API key or a password"},
            )
        if username is None and (api_key is not None or password is not None):
            raise InvalidArgument(
                "invalid argument `username`: an API key or password needs a username",
                {"name": "username", "reason": "an API key or password needs a username"},
            )
        if username is None and token is None:
            raise InvalidArgument(
                "invalid argument `username`: give username and api_key (or password), or token, "
                "tenant_id and base_url (from the environment: RAX_USERNAME and RAX_API_KEY)",
                {"name": "username", "reason": "no credentials"},
            )
        if base_url is not None:
            _url_argument(base_url, "base_url")
        _url_argument(identity_url, "identity_url")
        self._static: Optional[Session] = None
        if username is None:
            assert token is not None
            if base_url is None:
                raise InvalidArgument(
                    "invalid argument `base_url`: a token without Identity credentials needs the service's URL",
                    {"name": "base_url", "reason": "required with a token"},
                )
            root, url_tenant = split_base_url(base_url)
            tenant = tenant_id or url_tenant
            if not tenant:
                raise InvalidArgument(
                    "invalid argument `tenant_id`: required with a token (or in base_url: .../v2/TENANT)",
                    {"name": "tenant_id", "reason": "required with a token"},
                )
            self._static = Session(token=token, tenant_id=tenant, base_url=root)
        self._username = username
        self._api_key = api_key
        self._password = password
        self.region = region
        self._base_url = base_url
        self._tenant_id = tenant_id
        self.agent_id = agent_id
        self.identity_url = identity_url
        self.timeout: Timeout = timeout
        self.retry = retry if retry is not None else RetryPolicy(attempts=5, base_delay=0.5, max_delay=8.0)
        self.refresh_margin = refresh_margin
        self.user_agent = user_agent or _user_agent()
        self._session: Optional[Session] = self._static
        self._stats_lock = threading.Lock()
        #: One authentication at a time (the synchronous client's threads).
        self._thread_lock = threading.Lock()
        #: Counters for reports and tests: ``requests`` sent to the service,
        #: ``retries`` made, waits that came from ``Retry-After``
        #: (``retry_after_honoured``), ``authentications`` with Identity and
        #: ``reauthentications`` after a 401.
        self.stats: Dict[str, int] = {
            "requests": 0,
            "retries": 0,
            "retry_after_honoured": 0,
            "authentications": 0,
            "reauthentications": 0,
        }
        self._owns_http = http is None
        self._http: H = http if http is not None else self._new_http()

    def _new_http(self) -> H:
        """The httpx client made when none is lent."""
        raise NotImplementedError  # pragma: no cover

    @classmethod
    def _env_kwargs(cls, environ: Optional[Mapping[str, str]], overrides: Dict[str, Any]) -> Dict[str, Any]:
        env = os.environ if environ is None else environ

        def get(name: str) -> Optional[str]:
            value = env.get(name)
            return value if value else None

        kwargs: Dict[str, Any] = {
            "username": get("RAX_USERNAME"),
            "api_key": get("RAX_API_KEY"),
            "password": None if get("RAX_API_KEY") else get("RAX_PASSWORD"),
            "region": get("RAX_REGION"),
            "base_url": get("CLOUDBACKUP_API_URL"),
            "token": get("CLOUDBACKUP_TOKEN"),
            "tenant_id": get("CLOUDBACKUP_TENANT_ID"),
            "agent_id": get("CLOUDBACKUP_AGENT_ID"),
        }
        if get("RAX_AUTH_URL"):
            kwargs["identity_url"] = get("RAX_AUTH_URL")
        if kwargs["username"] is not None:
            kwargs["token"] = None
        kwargs.update({k: v for k, v in overrides.items() if v is not None})
        return kwargs

    @property
    def session(self) -> Optional[Session]:
        """The current session (``None`` before the first authentication)."""
        return self._session

    @property
    def can_reauthenticate(self) -> bool:
        """Whether the client holds Identity credentials (else its token is
        used as given and a 401 is the caller's)."""
        return self._username is not None

    def _count(self, name: str, n: int = 1) -> None:
        with self._stats_lock:
            self.stats[name] += n

    def _identity_body(self) -> Dict[str, Any]:
        if self._api_key is not None:
            return {"auth": {"RAX-KSKEY:apiKeyCredentials": {"username": self._username, "apiKey": self._api_key}}}
        return {"auth": {"passwordCredentials": {"username": self._username, "password": self._password}}}

    def _needs_auth(self) -> bool:
        s = self._session
        return s is None or (self.can_reauthenticate and s.expiring(self.refresh_margin))

    def _identity_answer(self, status: int, headers: httpx.Headers, body: bytes) -> Session:
        if status not in (200, 203):
            raise _identity_error(status, list(headers.multi_items()), body)
        try:
            answer = json.loads(body)
        except ValueError as e:
            raise core_invalid_json(IDENTITY_OPERATION, str(e)) from None
        return _session_from_access(answer, region=self.region, base_url=self._base_url, tenant_id=self._tenant_id)

    def _delay(self, attempt: int, retry_after: Optional[float]) -> float:
        self._count("retries")
        if retry_after is not None:
            self._count("retry_after_honoured")
        return self.retry.delay(attempt, retry_after)

    def __repr__(self) -> str:
        who = f"username={self._username!r}" if self._username else "token=..."
        return f"{type(self).__name__}({who}, region={self.region!r}, session={self._session!r})"


class Client(_Base[httpx.Client]):
    """A synchronous Cloud Backup client on :class:`httpx.Client`.

    Args (all keyword-only):
        username, api_key, password: Identity v2.0 credentials (an API key,
            or else a password).
        region: the catalog endpoint's region (case-insensitive); default:
            the user's default region, else the region-less endpoint.
        base_url: the service root instead of the catalog's; a
            ``/v1.0/TENANT`` or ``/v2/TENANT`` suffix is cut and names the
            tenant.
        token, tenant_id: a token obtained elsewhere (with ``base_url``),
            used as is, without Identity; ``tenant_id`` also overrides the
            catalog's tenant.
        agent_id: send ``X-Agent-Id`` on every request (an agent's calls).
        identity_url: Identity's root (:data:`DEFAULT_IDENTITY_URL`).
        timeout: httpx's timeout (seconds, or an :class:`httpx.Timeout`).
        retry: attempts and waits (a :class:`~cloudbackup.storage.RetryPolicy`;
            default 5 attempts, backoff from 0.5 s to 8 s).
        refresh_margin: renew the token this many seconds before it expires.
        user_agent: the ``User-Agent`` header (``cloudbackup-python/VERSION``).
        http: an httpx client of your own (proxies, certificates, event
            hooks...); :meth:`close` leaves it open.

    Use it as a context manager, or call :meth:`close`. Thread-safe: one
    authentication at a time, shared by all threads.

    Raises (from every call): the core's exceptions for what it builds and
    parses (:class:`~cloudbackup.ApiError` with ``status`` and
    ``retry_after``, :class:`~cloudbackup.UnexpectedResponse`,
    :class:`~cloudbackup.InvalidJson`, :class:`~cloudbackup.InvalidArgument`),
    an :class:`~cloudbackup.ApiError` of operation ``identity authenticate``
    when Identity refuses the credentials, :class:`~cloudbackup.NotFound`
    when the catalog has no endpoint for the region, and
    :class:`TransportError` when the service cannot be reached.
    """

    def _new_http(self) -> httpx.Client:
        return httpx.Client(timeout=self.timeout)

    @classmethod
    def from_env(cls, environ: Optional[Mapping[str, str]] = None, **overrides: Any) -> "Client":
        """A client configured from the environment (see :data:`ENVIRONMENT`);
        keyword arguments (those of the constructor) that are not ``None``
        override it."""
        return cls(**cls._env_kwargs(environ, overrides))

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Closes the connections (of an httpx client the client made)."""
        if self._owns_http:
            self._http.close()

    # -- authentication ----------------------------------------------------------

    def authenticate(self) -> Session:
        """Authenticates with Identity now (again) and returns the session.

        Raises:
            ApiError: Identity refused (``status`` 401 for bad credentials).
            NotFound: no Cloud Backup endpoint for the region.
            TransportError: Identity could not be reached.
        """
        if not self.can_reauthenticate:
            assert self._session is not None
            return self._session
        with self._thread_lock:
            return self._authenticate_locked()

    def _authenticate_locked(self) -> Session:
        prepared = _identity_prepared(self.identity_url, self._identity_body(), self.user_agent)
        response = self._exchange(prepared)
        self._count("authentications")
        self._session = self._identity_answer(response.status_code, response.headers, response.content)
        return self._session

    def _current(self) -> Session:
        if self._needs_auth():
            with self._thread_lock:
                if self._needs_auth():
                    self._authenticate_locked()
        assert self._session is not None
        return self._session

    def _invalidate(self, stale: Session) -> None:
        with self._thread_lock:
            if self._session is stale:
                self._session = None

    # -- exchanges ---------------------------------------------------------------

    def _exchange(self, prepared: _Prepared) -> httpx.Response:
        """Sends ``prepared``, retrying as the policy allows; returns the
        last answer (an error status too)."""
        attempts = max(1, self.retry.attempts)
        for attempt in range(attempts):
            last = attempt + 1 >= attempts
            try:
                self._count("requests")
                response = self._http.request(
                    prepared.method,
                    prepared.url,
                    params=tuple(prepared.query) if prepared.query else None,
                    headers=prepared.headers,
                    content=prepared.content,
                    timeout=self.timeout,
                )
            except httpx.TransportError as e:
                if last or not _transport_retry(prepared.method, e):
                    raise _transport_error(prepared, e, attempt + 1) from e
                self.retry.sleep(self._delay(attempt, None))
                continue
            retry, retry_after = _status_retry(prepared.method, response.status_code, response.headers)
            if not retry or last:
                return response
            response.close()
            self.retry.sleep(self._delay(attempt, retry_after))
        raise AssertionError("unreachable")  # pragma: no cover

    def call(self, operation: str, params: Optional[JsonInput] = None) -> Any:
        """Calls ``operation`` (e.g. ``"v2.restores.get_restore"``, see
        :func:`cloudbackup.operations`) with its parameters and returns the
        parsed result (``None`` for "no content").

        The core builds the request; after a 401 the client authenticates
        again once and sends it anew (built with the new token).
        """
        reauthenticated = False
        while True:
            session = self._current()
            request = _build(operation, params, session, self.agent_id)
            response = self._exchange(_prepare(request, session.base_url, self.user_agent))
            if response.status_code == 401 and self.can_reauthenticate and not reauthenticated:
                reauthenticated = True
                self._count("reauthentications")
                self._invalidate(session)
                continue
            return api.parse_response(
                operation,
                response.status_code,
                response.content,
                params=params,
                headers=list(response.headers.multi_items()),
            )

    def pages(
        self, operation: str, params: Optional[JsonInput] = None, *, max_pages: Optional[int] = None
    ) -> Iterator[Any]:
        """Each page's result of a list operation, following v2 ``next``
        links (see the module documentation); v1 lists are one page."""
        pager = _Pager(operation, params, max_pages)
        current: Optional[Dict[str, Any]] = pager.params
        while current is not None:
            result = self.call(operation, current)
            yield result
            current = pager.advance(result)

    def paginate(
        self, operation: str, params: Optional[JsonInput] = None, *, max_pages: Optional[int] = None
    ) -> Iterator[Any]:
        """Every item of a list operation, over all its pages."""
        for result in self.pages(operation, params, max_pages=max_pages):
            yield from page_items(result)


class AsyncClient(_Base[httpx.AsyncClient]):
    """:class:`Client` on :class:`httpx.AsyncClient`: the same arguments and
    rules, with ``await client.call(...)``, ``async for`` over
    :meth:`pages` and :meth:`paginate`, and ``async with``. The waits
    between attempts are ``asyncio.sleep``, unless the retry policy's
    ``sleep`` was replaced (tests record the waits so), which is then
    called instead."""

    _auth_lock: Optional[asyncio.Lock] = None

    def _new_http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(timeout=self.timeout)

    @classmethod
    def from_env(cls, environ: Optional[Mapping[str, str]] = None, **overrides: Any) -> "AsyncClient":
        """As :meth:`Client.from_env`."""
        return cls(**cls._env_kwargs(environ, overrides))

    async def _sleep(self, seconds: float) -> None:
        if self.retry.sleep is time.sleep:
            await asyncio.sleep(seconds)
        else:
            self.retry.sleep(seconds)

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Closes the connections (of an httpx client the client made)."""
        if self._owns_http:
            await self._http.aclose()

    def _lock(self) -> asyncio.Lock:
        if self._auth_lock is None:
            self._auth_lock = asyncio.Lock()
        return self._auth_lock

    async def authenticate(self) -> Session:
        """As :meth:`Client.authenticate`."""
        if not self.can_reauthenticate:
            assert self._session is not None
            return self._session
        async with self._lock():
            return await self._authenticate_locked()

    async def _authenticate_locked(self) -> Session:
        prepared = _identity_prepared(self.identity_url, self._identity_body(), self.user_agent)
        response = await self._exchange(prepared)
        self._count("authentications")
        self._session = self._identity_answer(response.status_code, response.headers, response.content)
        return self._session

    async def _current(self) -> Session:
        if self._needs_auth():
            async with self._lock():
                if self._needs_auth():
                    await self._authenticate_locked()
        assert self._session is not None
        return self._session

    async def _exchange(self, prepared: _Prepared) -> httpx.Response:
        attempts = max(1, self.retry.attempts)
        for attempt in range(attempts):
            last = attempt + 1 >= attempts
            try:
                self._count("requests")
                response = await self._http.request(
                    prepared.method,
                    prepared.url,
                    params=tuple(prepared.query) if prepared.query else None,
                    headers=prepared.headers,
                    content=prepared.content,
                    timeout=self.timeout,
                )
            except httpx.TransportError as e:
                if last or not _transport_retry(prepared.method, e):
                    raise _transport_error(prepared, e, attempt + 1) from e
                await self._sleep(self._delay(attempt, None))
                continue
            retry, retry_after = _status_retry(prepared.method, response.status_code, response.headers)
            if not retry or last:
                return response
            await response.aclose()
            await self._sleep(self._delay(attempt, retry_after))
        raise AssertionError("unreachable")  # pragma: no cover

    async def call(self, operation: str, params: Optional[JsonInput] = None) -> Any:
        """As :meth:`Client.call`."""
        reauthenticated = False
        while True:
            session = await self._current()
            request = _build(operation, params, session, self.agent_id)
            response = await self._exchange(_prepare(request, session.base_url, self.user_agent))
            if response.status_code == 401 and self.can_reauthenticate and not reauthenticated:
                reauthenticated = True
                self._count("reauthentications")
                if self._session is session:
                    self._session = None
                continue
            return api.parse_response(
                operation,
                response.status_code,
                response.content,
                params=params,
                headers=list(response.headers.multi_items()),
            )

    async def pages(
        self, operation: str, params: Optional[JsonInput] = None, *, max_pages: Optional[int] = None
    ) -> AsyncIterator[Any]:
        """As :meth:`Client.pages`."""
        pager = _Pager(operation, params, max_pages)
        current: Optional[Dict[str, Any]] = pager.params
        while current is not None:
            result = await self.call(operation, current)
            yield result
            current = pager.advance(result)

    async def paginate(
        self, operation: str, params: Optional[JsonInput] = None, *, max_pages: Optional[int] = None
    ) -> AsyncIterator[Any]:
        """As :meth:`Client.paginate`."""
        async for result in self.pages(operation, params, max_pages=max_pages):
            for item in page_items(result):
                yield item
