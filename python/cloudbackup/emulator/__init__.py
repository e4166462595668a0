"""``cloudbackup serve``: a local Cloud Backup service for developing and
testing consoles and agents without the real one (as LocalStack or Azurite
are for their clouds).

- :mod:`.app`: the HTTP routes (Starlette), every rule from the core;
- :mod:`.agent_requests`: vault moves, and what users ask of agents
  (vault encryption, password verification, host and backup browses);
- :mod:`.v1`: the v1.0 operations of the seeds over the same state;
- :mod:`.store`: the state, in one SQLite file that survives a restart;
- :mod:`.auth`: a local Rackspace Identity v2.0 issuing tokens whose
  service catalog points at the emulator.

Starlette and uvicorn are the ``serve`` extra (``pip install
cloudbackup[serve]``); importing this package without them fails with an
ImportError naming the extra.
"""

from __future__ import annotations

from .app import DEFAULT_HEARTBEAT_INTERVAL, DEFAULT_HEARTBEAT_TIMEOUT, DEFAULT_TENANT, Emulator, ServiceError
from .store import Store

__all__ = ["Emulator", "ServiceError", "Store", "DEFAULT_TENANT", "serve"]


def serve(host: str = "127.0.0.1", port: int = 8080, db: str = "cloudbackup-emulator.sqlite3",
          *, tenant: str = DEFAULT_TENANT, log_level: str = "info",
          heartbeat_interval: float = DEFAULT_HEARTBEAT_INTERVAL,
          heartbeat_timeout: float = DEFAULT_HEARTBEAT_TIMEOUT) -> None:
    """Runs the emulator with uvicorn until interrupted; its state is in
    ``db``. Clients authenticate at ``http://{host}:{port}/identity/v2.0``
    with any user name and API key. Agents are told to send a heartbeat
    every ``heartbeat_interval`` seconds and shown offline after
    ``heartbeat_timeout`` without one."""
    import uvicorn

    emulator = Emulator(db, tenant=tenant, heartbeat_interval=heartbeat_interval,
                        heartbeat_timeout=heartbeat_timeout)
    try:
        uvicorn.run(emulator.app, host=host, port=port, log_level=log_level)
    finally:
        emulator.close()
