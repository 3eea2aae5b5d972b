"""The sandbox's state in SQLite (WAL): sessions, dossiers, progress, other pushes and receipts.

One connection guarded by a lock: SQLite serialises writers anyway, and a single connection makes
``:memory:`` behave like a file. Every push is one transaction, so a request is stored entirely or
not at all, exactly once.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (token TEXT PRIMARY KEY, username TEXT NOT NULL, madonvi TEXT NOT NULL, expires REAL NOT NULL);
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
    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        if self.path != ":memory:":
            self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return list(self._db.execute(sql, params))

    # -- sessions ------------------------------------------------------------------------
    def add_session(self, token: str, username: str, madonvi: str, ttl: float) -> None:
        now = time.time()
        with self.transaction() as db:
            db.execute("DELETE FROM sessions WHERE expires < ?", (now,))
            db.execute("INSERT INTO sessions VALUES (?, ?, ?, ?)", (token, username, madonvi, now + ttl))

    def session(self, token: str) -> tuple[str, str] | None:
        rows = self.query("SELECT username, madonvi FROM sessions WHERE token = ? AND expires >= ?", (token, time.time()))
        return (rows[0]["username"], rows[0]["madonvi"]) if rows else None

    def expire_sessions(self) -> None:
        with self.transaction() as db:
            db.execute("UPDATE sessions SET expires = 0")

    # -- views -----------------------------------------------------------------------------
    def dossiers(self) -> list[dict[str, Any]]:
        out = []
        for row in self.query("SELECT * FROM dossiers ORDER BY created, ma_ho_so"):
            steps = self.query(
                "SELECT record, received FROM progress WHERE madonvi = ? AND ma_ho_so = ? ORDER BY id",
                (row["madonvi"], row["ma_ho_so"]),
            )
            out.append(
                {
                    "madonvi": row["madonvi"],
                    "MaHoSo": row["ma_ho_so"],
                    "record": json.loads(row["record"]),
                    "versions": row["versions"],
                    "progress": [json.loads(step["record"]) for step in steps],
                }
            )
        return out

    def receipts(self) -> list[dict[str, Any]]:
        return [dict(row) for row in self.query("SELECT service, madonvi, records, error_code, received FROM receipts ORDER BY id")]

    def stored(self, service: str) -> list[dict[str, Any]]:
        return [json.loads(row["record"]) for row in self.query("SELECT record FROM records WHERE service = ? ORDER BY id", (service,))]

    def counts(self) -> dict[str, int]:
        return {
            "dossiers": self.query("SELECT COUNT(*) AS n FROM dossiers")[0]["n"],
            "progress": self.query("SELECT COUNT(*) AS n FROM progress")[0]["n"],
            "records": self.query("SELECT COUNT(*) AS n FROM records")[0]["n"],
            "receipts": self.query("SELECT COUNT(*) AS n FROM receipts")[0]["n"],
        }
