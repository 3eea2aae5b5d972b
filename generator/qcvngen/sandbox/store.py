"""The sandbox's state in SQLite (WAL): sessions, dossiers, progress, other pushes and receipts.

One connection guarded by a lock: SQLite serialises writers anyway, and a single connection makes
``:memory:`` behave like a file. Every push is one transaction, so a request is stored entirely or
not at all, exactly once. Everything a unit pushed is stored with its ``madonvi`` and every read on
a unit's behalf filters on it; only the views (``unit=None``) see all units.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

# The views' unit filter names at most this many units (a page stays bounded).
MAX_UNITS = 200

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (
    token TEXT PRIMARY KEY, username TEXT NOT NULL, madonvi TEXT NOT NULL, expires REAL NOT NULL,
    fingerprint TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_user ON sessions (username);
CREATE TABLE IF NOT EXISTS dossiers (
    madonvi TEXT NOT NULL, ma_ho_so TEXT NOT NULL, record TEXT NOT NULL,
    created REAL NOT NULL, updated REAL NOT NULL, versions INTEGER NOT NULL,
    PRIMARY KEY (madonvi, ma_ho_so)
);
CREATE TABLE IF NOT EXISTS progress (
    id INTEGER PRIMARY KEY, madonvi TEXT NOT NULL, ma_ho_so TEXT NOT NULL, record TEXT NOT NULL, received REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS progress_dossier ON progress (madonvi, ma_ho_so);
CREATE TABLE IF NOT EXISTS records (
    id INTEGER PRIMARY KEY, service TEXT NOT NULL, madonvi TEXT NOT NULL, record TEXT NOT NULL, received REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS records_service ON records (service, madonvi);
CREATE TABLE IF NOT EXISTS receipts (
    id INTEGER PRIMARY KEY, service TEXT NOT NULL, madonvi TEXT NOT NULL, records INTEGER NOT NULL,
    error_code TEXT NOT NULL, received REAL NOT NULL
);
"""


class Store:
    """The sandbox's state in one SQLite file (or ``:memory:``): sessions, dossiers, records, receipts.

    One connection shared by the server's worker threads behind a lock; writes go through
    :meth:`transaction`, so a request's rows are stored all together or not at all.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        # A new file gets 16 KiB pages: a stored record (about 2 KB) fills a quarter of a 4 KiB page,
        # and a 1,000-record batch then costs 4-5x less to insert and commit. An existing file keeps
        # its page size (SQLite ignores this once the file has tables).
        self._db.execute("PRAGMA page_size=16384")
        if self.path != ":memory:":
            self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._drop_old_sessions()
        self._db.executescript(SCHEMA)
        self._key = self._secret()

    def _drop_old_sessions(self) -> None:
        """A state file from before session fingerprints: its sessions cannot be checked, so they go."""
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(sessions)")}
        if columns and "fingerprint" not in columns:
            self._db.execute("DROP TABLE sessions")

    def _secret(self) -> bytes:
        """This state file's own random key for account fingerprints (kept, so sessions survive a restart)."""
        with self.transaction() as db:
            db.execute("INSERT OR IGNORE INTO meta VALUES ('fingerprint_key', ?)", (secrets.token_hex(32),))
            return bytes.fromhex(db.execute("SELECT value FROM meta WHERE name = 'fingerprint_key'").fetchone()[0])

    def fingerprint(self, username: str, password: str, madonvi: str) -> str:
        """A keyed digest of an account as configured: a session carries the one it was issued under,
        so changing the account's password or unit (or removing it) ends its sessions."""
        text = f"{username}\0{password}\0{madonvi}".encode()
        return hmac.new(self._key, text, hashlib.sha256).hexdigest()

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """The connection inside ``BEGIN IMMEDIATE`` … ``COMMIT``; rolled back if the block raises."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        """Every row of one read-only statement (``params`` bound, never formatted in)."""
        with self._lock:
            return list(self._db.execute(sql, params))

    # -- sessions ------------------------------------------------------------------------
    def add_session(
        self, token: str, username: str, madonvi: str, ttl: float, fingerprint: str, max_per_account: int
    ) -> int:
        """Store a new session; the account's oldest live ones beyond ``max_per_account`` are ended.
        Returns how many were ended that way."""
        now = time.time()
        with self.transaction() as db:
            db.execute("DELETE FROM sessions WHERE expires < ?", (now,))
            evicted = db.execute(
                "DELETE FROM sessions WHERE username = ? AND rowid NOT IN "
                "(SELECT rowid FROM sessions WHERE username = ? ORDER BY rowid DESC LIMIT ?)",
                (username, username, max(max_per_account - 1, 0)),
            ).rowcount
            db.execute(
                "INSERT INTO sessions VALUES (?, ?, ?, ?, ?)", (token, username, madonvi, now + ttl, fingerprint)
            )
        return int(evicted)

    def session(self, token: str) -> tuple[str, str, str] | None:
        """(username, madonvi, fingerprint) of a live session."""
        rows = self.query(
            "SELECT username, madonvi, fingerprint FROM sessions WHERE token = ? AND expires >= ?", (token, time.time())
        )
        return (rows[0]["username"], rows[0]["madonvi"], rows[0]["fingerprint"]) if rows else None

    def live_sessions(self, username: str) -> int:
        """How many unexpired sessions ``username`` holds."""
        return int(
            self.query(
                "SELECT COUNT(*) AS n FROM sessions WHERE username = ? AND expires >= ?", (username, time.time())
            )[0]["n"]
        )

    def end_sessions(self, username: str, keep_fingerprint: str | None = None) -> None:
        """End the sessions of ``username`` except those issued under ``keep_fingerprint``."""
        with self.transaction() as db:
            db.execute("DELETE FROM sessions WHERE username = ? AND fingerprint IS NOT ?", (username, keep_fingerprint))

    def expire_sessions(self) -> None:
        """Expire every session now (a test's and an operator's way to force new logins)."""
        with self.transaction() as db:
            db.execute("UPDATE sessions SET expires = 0")

    # -- reads: a unit's own data, or every unit's (unit=None, for the views) --------------------
    def dossier_page(
        self, unit: str | None, after: int, limit: int, steps: int
    ) -> tuple[list[dict[str, Any]], int | None]:
        """At most ``limit`` dossiers of ``unit`` (every unit's when None) stored after position
        ``after``, oldest first, each with its latest ``steps`` progress steps and their count; and
        the position to continue from (None on the last page). Bounded whatever the store holds."""
        rows = self.query(
            "SELECT rowid AS position, * FROM dossiers WHERE rowid > ? AND (? IS NULL OR madonvi = ?)"
            " ORDER BY rowid LIMIT ?",
            (after, unit, unit, limit + 1),
        )
        out = []
        for row in rows[:limit]:
            where = (row["madonvi"], row["ma_ho_so"])
            latest = self.query(
                "SELECT record FROM progress WHERE madonvi = ? AND ma_ho_so = ? ORDER BY id DESC LIMIT ?",
                (*where, steps),
            )
            count = self.query("SELECT COUNT(*) AS n FROM progress WHERE madonvi = ? AND ma_ho_so = ?", where)
            out.append(
                {
                    "madonvi": row["madonvi"],
                    "MaHoSo": row["ma_ho_so"],
                    "record": json.loads(row["record"]),
                    "versions": row["versions"],
                    "updated": row["updated"],
                    "progress": [json.loads(step["record"]) for step in reversed(latest)],
                    "progress_count": int(count[0]["n"]),
                }
            )
        return out, (int(rows[limit - 1]["position"]) if len(rows) > limit else None)

    def receipt_page(self, unit: str | None, after: int, limit: int) -> tuple[list[dict[str, Any]], int | None]:
        """At most ``limit`` receipts (service, unit, count, error code) after position ``after``."""
        rows = self.query(
            "SELECT id, service, madonvi, records, error_code, received FROM receipts"
            " WHERE id > ? AND (? IS NULL OR madonvi = ?) ORDER BY id LIMIT ?",
            (after, unit, unit, limit + 1),
        )
        items = [{k: v for k, v in dict(row).items() if k != "id"} for row in rows[:limit]]
        return items, (int(rows[limit - 1]["id"]) if len(rows) > limit else None)

    def stored(self, service: str, unit: str | None) -> list[dict[str, Any]]:
        """The records of ``service`` that ``unit`` pushed (every unit's when None), oldest first."""
        rows = self.query(
            "SELECT record FROM records WHERE service = ? AND (? IS NULL OR madonvi = ?) ORDER BY id",
            (service, unit, unit),
        )
        return [json.loads(row["record"]) for row in rows]

    def record_page(
        self, service: str, unit: str | None, after: int, limit: int
    ) -> tuple[list[dict[str, Any]], int | None]:
        """At most ``limit`` records of ``service``, each labelled with its unit, after ``after``."""
        rows = self.query(
            "SELECT id, madonvi, record FROM records WHERE service = ? AND id > ? AND (? IS NULL OR madonvi = ?)"
            " ORDER BY id LIMIT ?",
            (service, after, unit, unit, limit + 1),
        )
        items = [{"madonvi": row["madonvi"], "record": json.loads(row["record"])} for row in rows[:limit]]
        return items, (int(rows[limit - 1]["id"]) if len(rows) > limit else None)

    def counts(self, unit: str | None = None) -> dict[str, int]:
        """Rows per table (dossiers, progress, records, receipts) of ``unit``, or of every unit when None."""
        # Table names are constants of this module, never request text.
        return {
            table: int(
                self.query(f"SELECT COUNT(*) AS n FROM {table} WHERE ? IS NULL OR madonvi = ?", (unit, unit))[0]["n"]
            )
            for table in ("dossiers", "progress", "records", "receipts")
        }

    def units(self) -> list[str]:
        """Every unit that pushed anything, sorted, at most MAX_UNITS (for the views' filter)."""
        rows = self.query(
            "SELECT madonvi FROM receipts UNION SELECT madonvi FROM dossiers ORDER BY madonvi LIMIT ?", (MAX_UNITS,)
        )
        return [str(row["madonvi"]) for row in rows]
