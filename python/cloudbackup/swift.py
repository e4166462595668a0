"""A vault in an OpenStack Swift (Cloud Files) container, through
python-swiftclient (``pip install cloudbackup[swift]``).

URL: ``swift://container/prefix`` (the prefix may be empty or hold
slashes); objects are ``<prefix>/config``, ``<prefix>/bundles/<id>``...
Credentials come from the environment, as the ``swift`` command reads them:

- v1 auth (tempauth, Cloud Files' legacy endpoint): ``ST_AUTH``, ``ST_USER``,
  ``ST_KEY``;
- Keystone: ``OS_AUTH_URL``, ``OS_USERNAME``, ``OS_PASSWORD`` and the usual
  ``OS_PROJECT_NAME``/``OS_TENANT_NAME``, ``OS_USER_DOMAIN_NAME``,
  ``OS_PROJECT_DOMAIN_NAME``, ``OS_REGION_NAME``, ``OS_IDENTITY_API_VERSION``
  (Keystone needs python-keystoneclient too);
- or a token already obtained: ``OS_STORAGE_URL`` with ``OS_AUTH_TOKEN``.

Each request is retried by :class:`~cloudbackup.backend.RetryPolicy` on
connection errors, 5xx, 408, 429 and 498, waiting the server's Retry-After
when it sends one. Uploads carry their MD5 as ``ETag`` so Swift refuses a
body that arrived damaged (422), and the returned ETag is checked too; a
Swift PUT is atomic, so no reader ever sees part of an object.
"""

from __future__ import annotations

import calendar
import hashlib
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Tuple, TypeVar

from .backend import ObjectInfo, RetryPolicy, Retryable, check_kind, check_name, is_object_id, is_temporary, parse_retry_after
from .engine import Buffer
from .errors import InvalidArgument, NotFound, StorageError

__all__ = ["SwiftStorage", "swift_auth_from_env"]

T = TypeVar("T")

#: Statuses worth another attempt: the server or a proxy was busy, timed
#: out, or rate-limited us.
RETRY_STATUSES = frozenset({408, 429, 498, 500, 502, 503, 504})


def swift_auth_from_env(env: Dict[str, str], url: str) -> Dict[str, Any]:
    """The keyword arguments of ``swiftclient.Connection`` from ``ST_*`` or
    ``OS_*`` variables.

    Raises:
        InvalidArgument: neither set is complete (naming what is missing).
    """
    if env.get("OS_STORAGE_URL") and env.get("OS_AUTH_TOKEN"):
        return {"preauthurl": env["OS_STORAGE_URL"], "preauthtoken": env["OS_AUTH_TOKEN"]}
    st = [k for k in ("ST_AUTH", "ST_USER", "ST_KEY") if env.get(k)]
    if st:
        missing = [k for k in ("ST_AUTH", "ST_USER", "ST_KEY") if not env.get(k)]
        if missing:
            raise InvalidArgument(
                f"invalid argument `vault`: {url}: Swift credentials incomplete: "
                f"{', '.join(missing)} not set (have {', '.join(st)})",
                {"name": "vault", "reason": f"missing {', '.join(missing)}"},
            )
        return {"authurl": env["ST_AUTH"], "user": env["ST_USER"], "key": env["ST_KEY"], "auth_version": "1"}
    if env.get("OS_AUTH_URL"):
        missing = [k for k in ("OS_USERNAME", "OS_PASSWORD") if not env.get(k)]
        if missing:
            raise InvalidArgument(
                f"invalid argument `vault`: {url}: Swift credentials incomplete: "
                f"{', '.join(missing)} not set (OS_AUTH_URL is)",
                {"name": "vault", "reason": f"missing {', '.join(missing)}"},
            )
        os_options = {
            "project_name": env.get("OS_PROJECT_NAME") or env.get("OS_TENANT_NAME"),
            "tenant_name": env.get("OS_TENANT_NAME") or env.get("OS_PROJECT_NAME"),
            "user_domain_name": env.get("OS_USER_DOMAIN_NAME"),
            "project_domain_name": env.get("OS_PROJECT_DOMAIN_NAME"),
            "region_name": env.get("OS_REGION_NAME"),
        }
        return {
            "authurl": env["OS_AUTH_URL"],
            "user": env["OS_USERNAME"],
            "key": env["OS_PASSWORD"],
            "auth_version": env.get("OS_IDENTITY_API_VERSION", "3"),
            "os_options": {k: v for k, v in os_options.items() if v},
        }
    raise InvalidArgument(
        f"invalid argument `vault`: {url}: no Swift credentials: set ST_AUTH, ST_USER and ST_KEY "
        "(v1 auth), or OS_AUTH_URL, OS_USERNAME and OS_PASSWORD (Keystone), "
        "or OS_STORAGE_URL and OS_AUTH_TOKEN",
        {"name": "vault", "reason": "no Swift credentials in the environment"},
    )


def parse_swift_url(url: str) -> Tuple[str, str]:
    """``swift://container/prefix`` as ``(container, prefix)`` (prefix without
    leading or trailing slashes, possibly empty).

    Raises:
        InvalidArgument: no container, or a container name Swift refuses.
    """
    rest = url[len("swift://") :]
    container, _, prefix = rest.partition("/")
    prefix = prefix.strip("/")
    if not container:
        raise InvalidArgument(
            f"invalid argument `vault`: {url!r}: no container (use swift://container/prefix)",
            {"name": "vault", "reason": "no container"},
        )
    if len(container) > 256 or "?" in container or "#" in container:
        raise InvalidArgument(
            f"invalid argument `vault`: {url!r}: {container!r} is not a valid container name",
            {"name": "vault", "reason": "invalid container name"},
        )
    if "//" in prefix or any(part in (".", "..") for part in prefix.split("/")):
        raise InvalidArgument(
            f"invalid argument `vault`: {url!r}: the prefix has empty, . or .. parts",
            {"name": "vault", "reason": "invalid prefix"},
        )
    return container, prefix


class SwiftStorage:
    """A vault under ``prefix`` in a Swift container (thread-safe: one
    HTTP connection per thread, sharing one token)."""

    def __init__(
        self,
        url: str,
        container: str,
        prefix: str,
        auth: Dict[str, Any],
        *,
        retry: Optional[RetryPolicy] = None,
        timeout: float = 60.0,
    ) -> None:
        try:
            import swiftclient  # noqa: F401
        except ImportError:
            raise InvalidArgument(
                f"invalid argument `vault`: {url}: Swift vaults need python-swiftclient "
                "(pip install 'cloudbackup[swift]')",
                {"name": "vault", "reason": "python-swiftclient not installed"},
            ) from None
        self.url = url
        self.container = container
        self.prefix = prefix
        self.retry = retry or RetryPolicy()
        self._auth = auth
        self._timeout = timeout
        self._local = threading.local()
        self._token_lock = threading.Lock()
        self._token: Optional[Tuple[str, str]] = None
        if "preauthurl" in auth:
            self._token = (str(auth["preauthurl"]), str(auth["preauthtoken"]))

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        retry: Optional[RetryPolicy] = None,
        env: Optional[Dict[str, str]] = None,
    ) -> "SwiftStorage":
        """The storage of ``swift://container/prefix``, credentials from
        ``env`` (default: ``os.environ``)."""
        import os

        container, prefix = parse_swift_url(url)
        auth = swift_auth_from_env(dict(os.environ) if env is None else env, url)
        return cls(url, container, prefix, auth, retry=retry)

    # -- plumbing ---------------------------------------------------------

    def _object(self, name: str) -> str:
        check_name(name)
        return f"{self.prefix}/{name}" if self.prefix else name

    def _conn(self) -> Any:
        """This thread's connection, authenticated once for all threads
        (tempauth and Keystone both hand out tokens valid for hours)."""
        import swiftclient

        conn = getattr(self._local, "conn", None)
        if conn is None:
            with self._token_lock:
                if self._token is None:
                    first = swiftclient.Connection(retries=0, timeout=self._timeout, **self._auth)
                    self._token = self._call_raw("auth", lambda: first.get_auth())
                url, token = self._token
            kwargs = {k: v for k, v in self._auth.items() if k not in ("preauthurl", "preauthtoken")}
            conn = swiftclient.Connection(
                retries=0, timeout=self._timeout, preauthurl=url, preauthtoken=token, **kwargs
            )
            self._local.conn = conn
        return conn

    def _call_raw(self, what: str, op: Callable[[], T]) -> T:
        """One attempt, with errors sorted into retryable and final ones."""
        from requests.exceptions import RequestException
        from swiftclient.exceptions import ClientException

        try:
            return op()
        except ClientException as e:
            status = e.http_status
            if status == 404:
                raise NotFound(
                    f"object {what} not found in {self.url}", {"what": "object", "id": what}
                ) from None
            if status in RETRY_STATUSES or status is None:
                headers = getattr(e, "http_response_headers", None) or {}
                retry_after = parse_retry_after(
                    next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
                )
                raise Retryable(f"HTTP {status} {e.http_reason or e.msg}".strip(), retry_after) from None
            raise StorageError(
                f"storage error: {self.url}: {what}: HTTP {status} {e.http_reason or e.msg}",
                {"url": self.url, "object": what, "reason": str(e.msg), "status": status},
            ) from None
        except (RequestException, OSError) as e:
            # The connection may be half-used: start a new one next time.
            self._local.conn = None
            raise Retryable(f"connection error: {e}") from None

    def _call(self, what: str, op: Callable[[Any], T]) -> T:
        """``op(connection)`` under the retry policy."""
        return self.retry.run(what, self.url, lambda: self._call_raw(what, lambda: op(self._conn())))

    # -- the Storage interface -----------------------------------------------

    def get(self, name: str) -> bytes:
        """The whole object (see :meth:`Storage.get`)."""
        obj = self._object(name)
        _headers, body = self._call(name, lambda c: c.get_object(self.container, obj))
        data: bytes = body
        return data

    def get_range(self, name: str, offset: int, length: int) -> bytes:
        """A ranged GET (see :meth:`Storage.get_range`)."""
        obj = self._object(name)
        rng = {"Range": f"bytes={offset}-{offset + length - 1}"}

        def fetch() -> bytes:
            headers, body = self._call_raw(
                name, lambda: self._conn().get_object(self.container, obj, headers=rng)
            )
            data: bytes = body
            if len(data) != length:
                # The object itself ends sooner (Content-Range names its
                # size): hand back what there is, the core reports it. Else
                # a short body is a broken transfer, worth a retry.
                total = str(headers.get("content-range", "")).rpartition("/")[2]
                if total.isdigit() and int(total) < offset + length:
                    return data
                raise Retryable(f"short read ({len(data)} of {length} bytes at {offset})")
            return data

        return self.retry.run(name, self.url, fetch)

    def put(self, name: str, data: Buffer) -> None:
        """A PUT with the body's MD5 as ETag: Swift refuses a damaged body
        and stores atomically; the ETag it returns is checked as well."""
        obj = self._object(name)
        md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()

        def upload() -> None:
            etag = self._call_raw(
                name,
                lambda: self._conn().put_object(
                    self.container,
                    obj,
                    contents=data,
                    content_length=len(data),
                    etag=md5,
                    content_type="application/octet-stream",
                ),
            )
            if str(etag).strip('"') != md5:
                raise Retryable(f"ETag {etag} is not the MD5 {md5} of what was sent")

        self.retry.run(name, self.url, upload)

    def list(self, kind: str) -> List[ObjectInfo]:
        """The objects of ``kind`` (full listing, paged by swiftclient)."""
        check_kind(kind)
        base = f"{self.prefix}/" if self.prefix else ""
        want = f"{base}{kind}/"
        try:
            _headers, listing = self._call(
                kind, lambda c: c.get_container(self.container, prefix=want, full_listing=True)
            )
        except NotFound:
            return []
        out = []
        for item in listing:
            full = str(item["name"])
            object_id = full[len(want) :]
            if not (is_object_id(object_id) or is_temporary(object_id)):
                continue
            out.append(ObjectInfo(f"{kind}/{object_id}", int(item.get("bytes", 0)), _swift_time(item)))
        out.sort(key=lambda o: o.name)
        return out

    def delete(self, name: str) -> None:
        """A DELETE (404 is fine: someone removed it first)."""
        obj = self._object(name)
        try:
            self._call(name, lambda c: c.delete_object(self.container, obj))
        except NotFound:
            pass

    def exists(self, name: str) -> bool:
        """A HEAD."""
        obj = self._object(name)
        try:
            self._call(name, lambda c: c.head_object(self.container, obj))
        except NotFound:
            return False
        return True

    def create(self) -> None:
        """Creates the container (a PUT is idempotent in Swift)."""
        self._call("container " + self.container, lambda c: c.put_container(self.container))


def _swift_time(item: Dict[str, Any]) -> float:
    """A listing's ``last_modified`` (UTC, ISO 8601 without zone) in Unix
    seconds; now when absent, so an unknown age never counts as old."""
    text = item.get("last_modified")
    if not text:
        return time.time()
    base, _, frac = str(text).partition(".")
    try:
        parsed = time.strptime(base, "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        return time.time()
    return calendar.timegm(parsed) + (float("0." + frac) if frac.isdigit() else 0.0)
