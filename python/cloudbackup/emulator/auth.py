"""A local Rackspace Identity v2.0: ``POST /identity/v2.0/tokens`` issues
tokens in Identity's shape (``{"access": {"token", "serviceCatalog",
"user"}}``) whose service catalog points Cloud Backup at this server, so
:class:`cloudbackup.Client` authenticates against the emulator unchanged
(``identity_url=f"{url}/identity/v2.0"``).

Credentials are ``RAX-KSKEY:apiKeyCredentials`` (username, apiKey) or
``passwordCredentials`` (username, password). With no user table every
non-empty pair is accepted (a development service, like LocalStack's);
with one, the secret must match (API key or password alike).
"""

from __future__ import annotations

import secrets
import time
from datetime import datetime, timezone
from typing import Any, Dict, Mapping, Optional, Tuple

from .store import Store

__all__ = ["IDENTITY_PATH", "REGIONS", "issue_token", "catalog_answer", "credentials_of"]

#: Where the identity endpoint listens.
IDENTITY_PATH = "/identity/v2.0/tokens"
#: The regions the catalog lists, each pointing at this server, so a client
#: configured for any real region (``RAX_REGION``) finds its endpoint.
REGIONS = ("DFW", "ORD", "IAD", "LON", "HKG", "SYD")


def credentials_of(body: Any) -> Optional[Tuple[str, str, str]]:
    """``(username, secret, method)`` of an Identity request body, method
    ``APIKEY`` or ``PASSWORD``; ``None`` when the body has neither form."""
    auth = body.get("auth") if isinstance(body, dict) else None
    if not isinstance(auth, dict):
        return None
    key = auth.get("RAX-KSKEY:apiKeyCredentials")
    if isinstance(key, dict) and isinstance(key.get("username"), str) and isinstance(key.get("apiKey"), str):
        return key["username"], key["apiKey"], "APIKEY"
    pw = auth.get("passwordCredentials")
    if isinstance(pw, dict) and isinstance(pw.get("username"), str) and isinstance(pw.get("password"), str):
        return pw["username"], pw["password"], "PASSWORD"
    return None


def issue_token(
    store: Store,
    body: Any,
    *,
    tenant: str,
    users: Optional[Mapping[str, str]],
    lifetime: float,
) -> Tuple[int, Dict[str, Any], Optional[Tuple[str, str, float]]]:
    """Checks an Identity request body: ``(status, error body, None)`` when
    refused, ``(200, {}, (token, username, expires))`` when a token was
    issued (and recorded in ``store``)."""
    creds = credentials_of(body)
    if creds is None:
        return 400, {"badRequest": {"code": 400, "message": "Invalid json request body"}}, None
    username, secret, _method = creds
    ok = bool(username) and bool(secret) and (users is None or users.get(username) == secret)
    if not ok:
        return (
            401,
            {"unauthorized": {"code": 401, "message": "Unable to authenticate user with credentials provided."}},
            None,
        )
    token = secrets.token_hex(16)
    expires = time.time() + lifetime
    store.add_token(token, tenant, username, expires)
    return 200, {}, (token, username, expires)


def catalog_answer(
    root: str, tenant: str, token: str, username: str, expires: float, method: str = "APIKEY"
) -> Dict[str, Any]:
    """The Identity v2.0 answer for a token: Cloud Backup (``rax:backup`` /
    ``cloudBackup``) at ``{root}/v1.0/{tenant}`` in every region of
    :data:`REGIONS` and without a region; default region DFW."""
    when = datetime.fromtimestamp(expires, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    public = f"{root.rstrip('/')}/v1.0/{tenant}"
    endpoints = [{"publicURL": public, "tenantId": tenant}] + [
        {"publicURL": public, "region": region, "tenantId": tenant} for region in REGIONS
    ]
    return {
        "access": {
            "token": {
                "id": token,
                "expires": when,
                "tenant": {"id": tenant, "name": tenant},
                "RAX-AUTH:authenticatedBy": [method],
            },
            "serviceCatalog": [{"name": "cloudBackup", "type": "rax:backup", "endpoints": endpoints}],
            "user": {
                "id": f"user-{username}",
                "name": username,
                "roles": [{"id": "3", "name": "identity:user-admin", "description": "User Admin Role."}],
                "RAX-AUTH:defaultRegion": "DFW",
            },
        }
    }
