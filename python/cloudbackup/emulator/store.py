"""The emulator's state in one SQLite file (stdlib :mod:`sqlite3`).

Resources are kept as the JSON the service answers with, one row each,
keyed by kind (``agent``, ``configuration``, ``backup``, ``restore``,
``cleanup``) and id, in creation order (``seq``), which is the order lists
page in. Events are rows of their own, numbered by SQLite (their ``id`` is
that number, as the service's events carry numeric ids), and indexed by the
resources they name so each resource's event list is one query. Tokens the
identity endpoint issued are kept too, and those agents were issued
(bound to their agent), so clients keep working across a restart of the
emulator.

Beside them: the activities (one row per backup, restore or cleanup,
moved to the front of the project's list each time the job changes: the
lists' order), the last heartbeat of each agent, and the numeric ids v1
gives the resources the v2 side names by UUID (allocated the first time v1
shows a resource, kept for good).

Every method takes the one connection's lock: the ASGI server may call from
several threads, and SQLite's own locking is per connection.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from typing import Any, Dict, List, Optional, Tuple

__all__ = ["Store", "EVENT_REFS", "V1_FIRST_ID"]

#: The resource references an event row is indexed by (``agent`` is the
#: agent the event is for, ``configuration`` etc. the resource it names).
EVENT_REFS = ("agent", "configuration", "backup", "restore", "cleanup")

#: The first number v1 ids are allocated from (v1's ids are integers of
#: about this size in the reference's samples).
V1_FIRST_ID = 100000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS resources (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    project TEXT NOT NULL,
    agent TEXT,
    body TEXT NOT NULL,
    private TEXT NOT NULL DEFAULT '{}',
    UNIQUE (kind, id)
);
CREATE INDEX IF NOT EXISTS resources_list ON resources (kind, project, seq);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    project TEXT NOT NULL,
    agent TEXT,
    configuration TEXT,
    backup TEXT,
    restore TEXT,
    cleanup TEXT,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS activities (
    id TEXT PRIMARY KEY,
    project TEXT NOT NULL,
    agent TEXT,
    configuration TEXT,
    rank INTEGER NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS activities_list ON activities (project, rank);
CREATE TABLE IF NOT EXISTS heartbeats (
    agent TEXT PRIMARY KEY,
    project TEXT NOT NULL,
    time REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS v1_ids (
    num INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    UNIQUE (kind, id)
);
CREATE TABLE IF NOT EXISTS agent_tokens (
    token TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    agent TEXT NOT NULL,
    expires REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS tokens (
    token TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    username TEXT NOT NULL,
    expires REAL NOT NULL
);
"""


class Store:
    """The emulator's persistent state; ``path`` is the SQLite file
    (``":memory:"`` for a state that dies with the process)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()
        # One connection shared by the server's threads, under _lock.
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL" if path != ":memory:" else "PRAGMA journal_mode=MEMORY")
        self._db.executescript(_SCHEMA)
        # The first event id: large, like the service's, and distinct from seq 1.
        with self._lock:
            if self._db.execute("SELECT COUNT(*) FROM sqlite_sequence WHERE name = 'events'").fetchone()[0] == 0:
                self._db.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('events', 5650000000)")
            if self._db.execute("SELECT COUNT(*) FROM sqlite_sequence WHERE name = 'v1_ids'").fetchone()[0] == 0:
                self._db.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('v1_ids', ?)", (V1_FIRST_ID - 1,))

    def close(self) -> None:
        """Closes the database (the state stays in the file)."""
        with self._lock:
            self._db.close()

    # -- resources ---------------------------------------------------------------

    def insert(
        self,
        kind: str,
        project: str,
        body: Dict[str, Any],
        *,
        agent: Optional[str] = None,
        private: Optional[Dict[str, Any]] = None,
    ) -> None:
        """Stores a new resource ``body`` (its ``id`` member is the key);
        ``agent`` is the agent it belongs to (for per-agent lists) and
        ``private`` what the service keeps but does not show (an agent's
        password, a run's error list)."""
        with self._lock:
            self._db.execute(
                "INSERT INTO resources (kind, id, project, agent, body, private) VALUES (?, ?, ?, ?, ?, ?)",
                (kind, str(body["id"]), project, agent, json.dumps(body), json.dumps(private or {})),
            )

    def get(self, kind: str, project: str, id: str) -> Optional[Dict[str, Any]]:
        """The resource, or ``None``."""
        found = self.get_with_private(kind, project, id)
        return None if found is None else found[0]

    def get_with_private(self, kind: str, project: str, id: str) -> Optional[Tuple[Dict[str, Any], Dict[str, Any]]]:
        """The resource and its private part, or ``None``."""
        with self._lock:
            row = self._db.execute(
                "SELECT body, private FROM resources WHERE kind = ? AND project = ? AND id = ?", (kind, project, id)
            ).fetchone()
        if row is None:
            return None
        return json.loads(row[0]), json.loads(row[1])

    def update(self, kind: str, project: str, body: Dict[str, Any], private: Optional[Dict[str, Any]] = None) -> None:
        """Replaces a resource's body (and its private part, when given)."""
        with self._lock:
            if private is None:
                self._db.execute(
                    "UPDATE resources SET body = ? WHERE kind = ? AND project = ? AND id = ?",
                    (json.dumps(body), kind, project, str(body["id"])),
                )
            else:
                self._db.execute(
                    "UPDATE resources SET body = ?, private = ? WHERE kind = ? AND project = ? AND id = ?",
                    (json.dumps(body), json.dumps(private), kind, project, str(body["id"])),
                )

    def reassign(self, kind: str, project: str, old_agent: str, new_agent: str) -> int:
        """Gives ``new_agent`` the resources of ``kind`` ``old_agent`` had
        (for per-agent lists; the bodies are the caller's to update);
        returns how many."""
        with self._lock:
            cur = self._db.execute("UPDATE resources SET agent = ? WHERE kind = ? AND project = ? AND agent = ?",
                                   (new_agent, kind, project, old_agent))
        return cur.rowcount

    def delete(self, kind: str, project: str, id: str) -> bool:
        """Removes a resource; whether it was there."""
        with self._lock:
            cur = self._db.execute("DELETE FROM resources WHERE kind = ? AND project = ? AND id = ?", (kind, project, id))
        return cur.rowcount > 0

    def count(self, kind: str, project: str, *, agent: Optional[str] = None) -> int:
        """How many resources of ``kind`` (of ``agent``, when given)."""
        sql = "SELECT COUNT(*) FROM resources WHERE kind = ? AND project = ?"
        args: List[Any] = [kind, project]
        if agent is not None:
            sql += " AND agent = ?"
            args.append(agent)
        with self._lock:
            n: int = self._db.execute(sql, args).fetchone()[0]
        return n

    def page(
        self,
        kind: str,
        project: str,
        *,
        marker: Optional[str],
        limit: int,
        descending: bool = False,
        agent: Optional[str] = None,
    ) -> Tuple[List[Dict[str, Any]], bool]:
        """Up to ``limit`` resources after the one whose id is ``marker``
        (from the start when ``None`` or unknown), in creation order (or
        its reverse), and whether more follow."""
        where = "kind = ? AND project = ?"
        args: List[Any] = [kind, project]
        if agent is not None:
            where += " AND agent = ?"
            args.append(agent)
        return self._paged("resources", "seq", where, args, "kind = ? AND project = ? AND id = ?",
                           (kind, project, marker), marker=marker, limit=limit, descending=descending)

    def all_of(self, kind: str, project: str, *, agent: Optional[str] = None) -> List[Dict[str, Any]]:
        """Every resource of ``kind`` (of ``agent``, when given), in creation order."""
        sql = "SELECT body FROM resources WHERE kind = ? AND project = ?"
        args: List[Any] = [kind, project]
        if agent is not None:
            sql += " AND agent = ?"
            args.append(agent)
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY seq", args).fetchall()
        return [json.loads(r[0]) for r in rows]

    # -- activities --------------------------------------------------------------

    def record_activity(self, project: str, body: Dict[str, Any], *, agent: Optional[str],
                        configuration: Optional[str]) -> None:
        """Stores a job's activity (``body``: the service's shape, its ``id``
        the job's), ahead of every other: the newest change lists first."""
        with self._lock:
            rank = self._db.execute("SELECT COALESCE(MAX(rank), 0) + 1 FROM activities").fetchone()[0]
            self._db.execute(
                "INSERT OR REPLACE INTO activities (id, project, agent, configuration, rank, body) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (str(body["id"]), project, agent, configuration, rank, json.dumps(body)),
            )

    def activities_page(
        self,
        project: str,
        *,
        agent: Optional[str] = None,
        configuration: Optional[str] = None,
        marker: Optional[str],
        limit: int,
        descending: bool = True,
    ) -> Tuple[List[Dict[str, Any]], bool]:
        """Up to ``limit`` activities of the project (of ``agent`` or
        ``configuration``, when given) after the activity ``marker``, newest
        change first unless ``descending`` is false, and whether more follow."""
        where = "project = ?"
        args: List[Any] = [project]
        for column, value in (("agent", agent), ("configuration", configuration)):
            if value is not None:
                where += f" AND {column} = ?"
                args.append(value)
        return self._paged("activities", "rank", where, args, "project = ? AND id = ?", (project, marker),
                           marker=marker, limit=limit, descending=descending)

    def _paged(
        self,
        table: str,
        order_by: str,
        where: str,
        args: List[Any],
        marker_where: str,
        marker_args: Tuple[Any, ...],
        *,
        marker: Optional[str],
        limit: int,
        descending: bool,
    ) -> Tuple[List[Dict[str, Any]], bool]:
        """Up to ``limit`` bodies of ``table`` matching ``where``, ordered by
        ``order_by``, after the row ``marker_where`` finds (from the start
        when there is no marker or it is unknown), and whether more follow.
        Table and column names come from this module, never from a request."""
        with self._lock:
            if marker is not None:
                row = self._db.execute(
                    f"SELECT {order_by} FROM {table} WHERE {marker_where}", marker_args
                ).fetchone()
                if row is not None:
                    where += f" AND {order_by} {'<' if descending else '>'} ?"
                    args = [*args, row[0]]
            order = "DESC" if descending else "ASC"
            rows = self._db.execute(
                f"SELECT body FROM {table} WHERE {where} ORDER BY {order_by} {order} LIMIT ?", (*args, limit + 1)
            ).fetchall()
        return [json.loads(r[0]) for r in rows[:limit]], len(rows) > limit

    # -- heartbeats --------------------------------------------------------------

    def beat(self, project: str, agent: str, when: float) -> None:
        """Records that ``agent`` was alive at ``when`` (Unix time)."""
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO heartbeats (agent, project, time) VALUES (?, ?, ?)",
                             (agent, project, when))

    def forget_beat(self, agent: str) -> None:
        """Forgets an agent's last heartbeat (it said it stops)."""
        with self._lock:
            self._db.execute("DELETE FROM heartbeats WHERE agent = ?", (agent,))

    def last_beat(self, agent: str) -> Optional[float]:
        """When the agent last showed it was alive (Unix time), or ``None``."""
        with self._lock:
            row = self._db.execute("SELECT time FROM heartbeats WHERE agent = ?", (agent,)).fetchone()
        return None if row is None else float(row[0])

    # -- v1 ids ------------------------------------------------------------------

    def v1_id(self, kind: str, id: str) -> int:
        """The v1 number of the resource ``kind``/``id`` (allocated on first use)."""
        with self._lock:
            row = self._db.execute("SELECT num FROM v1_ids WHERE kind = ? AND id = ?", (kind, id)).fetchone()
            if row is None:
                cur = self._db.execute("INSERT INTO v1_ids (kind, id) VALUES (?, ?)", (kind, id))
                num = cur.lastrowid
            else:
                num = row[0]
        return int(num or 0)

    def v2_id(self, kind: str, num: int) -> Optional[str]:
        """The id of the ``kind`` resource whose v1 number is ``num``, or ``None``."""
        with self._lock:
            row = self._db.execute("SELECT id FROM v1_ids WHERE kind = ? AND num = ?", (kind, num)).fetchone()
        return None if row is None else str(row[0])

    # -- events ------------------------------------------------------------------

    def add_event(self, project: str, body: Dict[str, Any], refs: Dict[str, Optional[str]]) -> Dict[str, Any]:
        """Stores an event (``body`` without ``id``), indexed by ``refs``
        (keys of :data:`EVENT_REFS`); returns it with its new ``id`` first."""
        columns = [k for k in EVENT_REFS if refs.get(k)]
        with self._lock:
            cur = self._db.execute(
                f"INSERT INTO events (project, body{''.join(', ' + c for c in columns)}) "
                f"VALUES (?, ?{', ?' * len(columns)})",
                (project, "{}", *[refs[c] for c in columns]),
            )
            event = {"id": str(cur.lastrowid), **body}
            self._db.execute("UPDATE events SET body = ? WHERE id = ?", (json.dumps(event), cur.lastrowid))
        return event

    def events_page(
        self,
        project: str,
        *,
        ref: Optional[Tuple[str, str]],
        marker: Optional[str],
        limit: int,
        descending: bool = False,
    ) -> Tuple[List[Dict[str, Any]], bool]:
        """Up to ``limit`` events of the project (naming ``ref``, a pair of
        a key of :data:`EVENT_REFS` and an id, when given) after the event
        ``marker``, and whether more follow."""
        where = "project = ?"
        args: List[Any] = [project]
        if ref is not None:
            if ref[0] not in EVENT_REFS:
                raise ValueError(f"unknown event reference {ref[0]!r}")
            where += f" AND {ref[0]} = ?"
            args.append(ref[1])
        if marker is not None and marker.isdigit():
            where += " AND id < ?" if descending else " AND id > ?"
            args.append(int(marker))
        order = "DESC" if descending else "ASC"
        with self._lock:
            rows = self._db.execute(
                f"SELECT body FROM events WHERE {where} ORDER BY id {order} LIMIT ?", (*args, limit + 1)
            ).fetchall()
        return [json.loads(r[0]) for r in rows[:limit]], len(rows) > limit

    # -- tokens ------------------------------------------------------------------

    def add_token(self, token: str, tenant: str, username: str, expires: float) -> None:
        """Records a token the identity endpoint issued (``expires``: Unix time)."""
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO tokens (token, tenant, username, expires) VALUES (?, ?, ?, ?)",
                (token, tenant, username, expires),
            )

    def add_agent_token(self, token: str, tenant: str, agent: str, expires: float) -> None:
        """Records a token issued to an agent (``POST /agents/tokens``)."""
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO agent_tokens (token, tenant, agent, expires) VALUES (?, ?, ?, ?)",
                (token, tenant, agent, expires),
            )

    def token_owner(self, token: str, now: float) -> Optional[Tuple[str, Optional[str]]]:
        """The tenant of a live token and the agent it was issued to
        (``None`` for a user's token); ``None`` when unknown or expired."""
        tenant = self.token_tenant(token, now)
        if tenant is not None:
            return tenant, None
        with self._lock:
            row = self._db.execute("SELECT tenant, agent, expires FROM agent_tokens WHERE token = ?",
                                   (token,)).fetchone()
        if row is None or row[2] <= now:
            return None
        return str(row[0]), str(row[1])

    def token_tenant(self, token: str, now: float) -> Optional[str]:
        """The tenant of a live token, or ``None`` (unknown or expired)."""
        with self._lock:
            row = self._db.execute("SELECT tenant, expires FROM tokens WHERE token = ?", (token,)).fetchone()
        if row is None or row[1] <= now:
            return None
        tenant: str = row[0]
        return tenant
