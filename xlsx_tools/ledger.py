"""A round's ledger: an SQLite database of the roster, every file received and its result.

One database, ``DIR/round.sqlite``, in WAL mode with ``synchronous=FULL``: a
transaction that has committed survives the process being killed (and the
machine losing power), readers never wait for the writer, and a
``round receive`` from the command line can write while ``serve`` runs.

Tables:

``units``
    One row per unit: the roster's entries, in roster order, and the units first
    seen in a received file (``on_roster = 0``, 名单外). Its columns are named by
    the form's roles (``unit``, ``batch``, ``category``, ``recommending``: see
    :data:`xlsx_tools.form.ROLES`), never by a table's field ids; a roster entry
    also keeps what it pre-fills (``roster_values``, by field id) and the
    roster's columns that are not fields (``roster_extra``, as
    :attr:`~xlsx_tools.roster.RosterEntry.extra`), as JSON. ``pinned_version``
    is the version the clerk chose, when not the latest.
``versions``
    One row per distinct content received (the same bytes twice are one
    version; a file that cannot be read, one per name its senders gave it):
    its hash, where the store keeps it, the name its sender gave it,
    the unit it was placed on (NULL when it cannot be told) with the roles as
    placed, and validate's result (status, verdict, counts, the fill date and
    the JSON of ``validate --json``).
``receipts``
    One row per file received, in order: when, the sender's name, its size and
    hash, the version it is (``repeat = 1`` when those bytes came before), the
    receipt of the .zip it came in, and for a file that could not be kept
    (too large, a broken archive) why not.
``meta``
    The schema version and what the round was made from.

Rows come back as the dataclasses below. The ledger only stores and looks up;
what a status means is :mod:`xlsx_tools.round`'s business.
"""

from __future__ import annotations

import json
import sqlite3
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .writing import CannotWrite

__all__ = ["FILE_NAME", "SCHEMA_VERSION", "Ledger", "LedgerError", "ReceiptRow", "UnitRow", "VersionRow"]

FILE_NAME = "round.sqlite"
# 2: columns named by role (1 named them by the 2022 table's field ids).
# 3: versions.sender_key: an unreadable file is a version per sender's name (2 is brought up to it).
SCHEMA_VERSION = 3

SCHEMA = """
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE units (
    id                INTEGER PRIMARY KEY,
    unit              TEXT NOT NULL,
    unit_key          TEXT NOT NULL,      -- the name as names compare (roster.unit_key)
    batch             TEXT NOT NULL,
    category          TEXT,
    recommending      TEXT,
    on_roster         INTEGER NOT NULL,   -- 1: a roster row; 0: first seen in a file (名单外)
    roster_row        INTEGER,            -- its row in the roster file (the header is row 1)
    roster_values     TEXT,               -- JSON {field id: value it pre-fills}
    roster_extra      TEXT,               -- JSON {key: value}: the roster's columns that are not fields
    pinned_version    INTEGER REFERENCES versions(id),
    pinned_at         TEXT,
    UNIQUE (batch, unit_key)
);
CREATE TABLE versions (
    id                INTEGER PRIMARY KEY,
    sha256            TEXT NOT NULL,
    -- '' for a workbook (its bytes are all of it); the sender's name for a file that cannot be
    -- read: two senders' empty files are the same bytes, each its own return.
    sender_key        TEXT NOT NULL DEFAULT '',
    size              INTEGER NOT NULL,
    stored            TEXT NOT NULL,      -- its name in the store (files/)
    file_name         TEXT NOT NULL,      -- the sender's name, when first received
    unit_id           INTEGER REFERENCES units(id),
    batch             TEXT,               -- as placed: from the table, the file name or the roster
    unit              TEXT,
    category          TEXT,
    placed_by         TEXT,               -- table | name | roster, NULL when not placed
    status            TEXT NOT NULL,      -- validate's (accepted, warnings, explained, rejected, unreadable)
    verdict           TEXT NOT NULL,
    errors            INTEGER NOT NULL,
    warnings          INTEGER NOT NULL,
    reason            TEXT,               -- why it could not be read
    kind              TEXT,
    date              TEXT,               -- the fill date (the form's date role)
    sent_mtime        REAL,               -- the file's time as its sender had it
    result            TEXT NOT NULL,      -- validate's JSON for the file
    receipt_id        INTEGER NOT NULL,   -- the receipt that first brought it
    UNIQUE (sha256, sender_key)
);
CREATE INDEX versions_unit ON versions(unit_id);
CREATE TABLE receipts (
    id          INTEGER PRIMARY KEY,
    received_at TEXT NOT NULL,            -- ISO 8601, local time with offset
    batch_id    TEXT NOT NULL,            -- one receive, one drop in the browser, one API request
    source      TEXT NOT NULL,            -- cli | web | api
    file_name   TEXT NOT NULL,            -- the sender's name (never used as a path)
    size        INTEGER NOT NULL,
    sha256      TEXT,                     -- NULL when nothing could be hashed in full
    version_id  INTEGER REFERENCES versions(id),
    repeat      INTEGER NOT NULL DEFAULT 0,
    archive_id  INTEGER REFERENCES receipts(id),
    is_archive  INTEGER NOT NULL DEFAULT 0,
    kind        TEXT,                     -- why nothing was kept or unpacked
    note        TEXT
);
CREATE INDEX receipts_version ON receipts(version_id);
"""


def _unwritable(path: Path) -> OSError | None:
    """Why the ledger or its folder cannot be written (the ledger writes beside itself), if so."""
    try:
        with open(path, "r+b"):
            pass
        with tempfile.TemporaryFile(dir=path.parent):
            pass
    except OSError as e:
        return e
    return None


def _sqlite_cause(e: sqlite3.Error) -> str:
    """What SQLite's error means, in the users' words (its own text is English)."""
    name = getattr(e, "sqlite_errorname", "") or ""
    if name.startswith("SQLITE_FULL") or "full" in str(e):
        return "磁盘空间已满"
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in str(e):
        return "另一个程序正在使用这个轮次文件夹"
    if name.startswith(("SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_PERM")):
        return "轮次文件夹不能写入"
    if name.startswith("SQLITE_IOERR"):
        return "读写磁盘时出错，可能是磁盘已满或文件大小受限"
    return "数据库出错"


class LedgerError(Exception):
    """A ledger that cannot be used (missing, of a newer version, not a ledger)."""


@dataclass(frozen=True)
class UnitRow:
    id: int
    unit: str
    unit_key: str
    batch: str
    category: str | None
    recommending: str | None
    on_roster: bool
    roster_row: int | None
    roster_values: dict[str, str]
    roster_extra: dict[str, str]
    pinned_version: int | None
    pinned_at: str | None


@dataclass(frozen=True)
class VersionRow:
    id: int
    sha256: str
    size: int
    stored: str
    file_name: str
    unit_id: int | None
    batch: str | None
    unit: str | None
    category: str | None
    placed_by: str | None
    status: str
    verdict: str
    errors: int
    warnings: int
    reason: str | None
    kind: str | None
    date: str | None
    sent_mtime: float | None
    result: str | None                  # None when listed without it (Ledger.result reads it)
    receipt_id: int
    # From the receipt that first brought it:
    received_at: str = ""
    batch_id: str = ""

    def result_dict(self) -> dict[str, Any]:
        if self.result is None:
            raise LookupError("listed without its result: read it with Ledger.result(id)")
        return json.loads(self.result)


@dataclass(frozen=True)
class ReceiptRow:
    id: int
    received_at: str
    batch_id: str
    source: str
    file_name: str
    size: int
    sha256: str | None
    version_id: int | None
    repeat: bool
    archive_id: int | None
    is_archive: bool
    kind: str | None
    note: str | None


_VERSION_COLUMNS = ("id, sha256, size, stored, file_name, unit_id, batch, unit, category, "
                    "placed_by, status, verdict, errors, warnings, reason, kind, date, sent_mtime, "
                    "result, receipt_id")
_VERSION_SELECT = ("SELECT " + ", ".join(f"v.{c.strip()}" for c in _VERSION_COLUMNS.split(","))
                   + ", r.received_at, r.batch_id FROM versions v JOIN receipts r ON r.id = v.receipt_id")
# The same without validate's JSON (NULL), for listing many versions: a version's result is read when shown.
_VERSION_LIST = _VERSION_SELECT.replace("v.result,", "NULL,")
_RECEIPT_COLUMNS = ("id, received_at, batch_id, source, file_name, size, sha256, version_id, repeat, "
                    "archive_id, is_archive, kind, note")


def _unit(row: sqlite3.Row) -> UnitRow:
    return UnitRow(row["id"], row["unit"], row["unit_key"], row["batch"], row["category"],
                   row["recommending"], bool(row["on_roster"]), row["roster_row"],
                   json.loads(row["roster_values"] or "{}"), json.loads(row["roster_extra"] or "{}"),
                   row["pinned_version"], row["pinned_at"])


def _version(row: sqlite3.Row) -> VersionRow:
    return VersionRow(*row)


def _receipt(row: sqlite3.Row) -> ReceiptRow:
    d = dict(row)
    d["repeat"], d["is_archive"] = bool(d["repeat"]), bool(d["is_archive"])
    return ReceiptRow(**d)


class Ledger:
    """The round's database. Safe to use from several threads (a connection each)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    # -- connections ---------------------------------------------------------------

    @classmethod
    def create(cls, path: str | Path, meta: dict[str, str]) -> Ledger:
        path = Path(path)
        if path.exists():
            raise LedgerError(f"“{path}”已经存在。")
        ledger = cls(path)
        # A new round is made in a folder of its own and moved into place (round.init),
        # so a ledger cut short here is never seen.
        ledger._db().executescript(SCHEMA)
        with ledger.write() as db:
            db.executemany("INSERT INTO meta(key, value) VALUES (?, ?)",
                           [("schema", str(SCHEMA_VERSION)), *meta.items()])
        return ledger

    @classmethod
    def open(cls, path: str | Path) -> Ledger:
        path = Path(path)
        if not path.is_file():
            raise LedgerError(f"找不到轮次数据库“{path}”。")
        ledger = cls(path)
        try:
            version = int(ledger.meta().get("schema", "0"))
        except (sqlite3.DatabaseError, ValueError) as e:
            ledger.close()
            cause = _unwritable(path)
            if cause is not None:   # SQLite says so of a round it may read but not write (WAL)
                raise CannotWrite(path.parent, cause, "轮次文件夹") from None
            raise LedgerError(f"“{path}”不是 xlsx-tools 的轮次数据库，或已损坏。") from e
        if version > SCHEMA_VERSION:
            raise LedgerError(f"“{path}”由更新版本的 xlsx-tools 创建，请升级后再打开。")
        if version == 2:
            ledger._to_3()
            version = 3
        if version < SCHEMA_VERSION:
            raise LedgerError(f"“{path}”由较早的测试版 xlsx-tools 创建，这一版不能打开。请用 round init "
                              f"新建轮次文件夹，再用 round receive 收取原文件（都在旧文件夹的 files/ 中）。")
        return ledger

    def _to_3(self) -> None:
        """Schema 2 -> 3: versions rebuilt with sender_key (SQLite cannot drop a UNIQUE in place);
        an unreadable version keeps its own name as its key. One transaction, foreign keys off.
        Any command opening the round migrates it, a read-only one too: a failure (a full disk,
        a folder that cannot be written, another program holding the round) leaves the ledger
        as it was and is said as a LedgerError, not a traceback."""
        try:
            self._migrate_to_3()
        except sqlite3.Error as e:
            self.close()
            raise LedgerError(
                f"“{self.path}”是较早版本的轮次数据库，需要先升级为这一版的格式才能使用，但升级没有完成"
                f"（{_sqlite_cause(e)}）；数据库保持原样，没有改动。请腾出磁盘空间、确认轮次文件夹可以写入，"
                "关闭其他正在使用这个轮次文件夹的程序（如另一个 xlsx-tools 命令或网页界面），"
                "然后重试。") from None

    def _migrate_to_3(self) -> None:
        db = self._db()
        db.execute("PRAGMA foreign_keys=OFF")
        try:
            table = SCHEMA[SCHEMA.index("CREATE TABLE versions"):SCHEMA.index("CREATE INDEX versions_unit")]
            with self.write():
                # Read again under the write lock: another process opening the round at the
                # same time may have migrated it while this one waited.
                if db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()[0] != "2":
                    return
                db.execute(table.replace("CREATE TABLE versions", "CREATE TABLE versions_3", 1))
                db.execute(f"INSERT INTO versions_3({_VERSION_COLUMNS}, sender_key) SELECT "
                           f"{_VERSION_COLUMNS}, CASE WHEN reason IS NULL THEN '' ELSE file_name END"
                           " FROM versions")
                db.execute("DROP TABLE versions")
                db.execute("ALTER TABLE versions_3 RENAME TO versions")
                db.execute("CREATE INDEX versions_unit ON versions(unit_id)")
                db.execute("UPDATE meta SET value = '3' WHERE key = 'schema'")
        finally:
            db.execute("PRAGMA foreign_keys=ON")

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.execute("PRAGMA foreign_keys=ON")
            self._local.db = db
            with self._lock:
                self._all.append(db)
        return db

    def close(self) -> None:
        with self._lock:
            for db in self._all:
                db.close()
            self._all.clear()
        self._local = threading.local()

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; it has committed when the block ends without error."""
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            if db.in_transaction:     # SQLite has rolled back itself after a full disk or I/O error
                db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    @contextmanager
    def snapshot(self) -> Iterator[sqlite3.Connection]:
        """Reads that see one state of the ledger, however others write meanwhile."""
        db = self._db()
        db.execute("BEGIN")
        try:
            yield db
        finally:
            db.execute("COMMIT")

    def journal_mode(self) -> str:
        return self._db().execute("PRAGMA journal_mode").fetchone()[0]

    # -- meta ----------------------------------------------------------------------

    def meta(self) -> dict[str, str]:
        return {k: v for k, v in self._db().execute("SELECT key, value FROM meta")}

    def set_meta(self, key: str, value: str) -> None:
        with self.write() as db:
            db.execute("INSERT INTO meta(key, value) VALUES (?, ?) "
                       "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, value))

    # -- units ---------------------------------------------------------------------

    def add_roster_units(self, rows: list[dict[str, Any]]) -> None:
        """The roster's units: dicts of ``unit``, ``unit_key``, ``batch``, ``category``,
        ``recommending``, ``roster_row``, ``roster_values`` and ``roster_extra``."""
        with self.write() as db:
            db.executemany(
                "INSERT INTO units(unit, unit_key, batch, category, recommending, on_roster, roster_row, "
                "roster_values, roster_extra) VALUES (:unit, :unit_key, :batch, :category, :recommending, "
                "1, :roster_row, :roster_values, :roster_extra)",
                [{**r, "roster_values": json.dumps(r.get("roster_values") or {}, ensure_ascii=False),
                  "roster_extra": json.dumps(r.get("roster_extra") or {}, ensure_ascii=False)}
                 for r in rows])

    def units(self, db: sqlite3.Connection | None = None) -> list[UnitRow]:
        db = db or self._db()
        return [_unit(r) for r in db.execute("SELECT * FROM units ORDER BY on_roster DESC, "
                                             "roster_row, batch, unit_key, id")]

    def unit(self, unit_id: int, db: sqlite3.Connection | None = None) -> UnitRow | None:
        row = (db or self._db()).execute("SELECT * FROM units WHERE id = ?", (unit_id,)).fetchone()
        return _unit(row) if row else None

    @staticmethod
    def unit_for(db: sqlite3.Connection, batch: str, unit_key: str, unit: str,
                 category: str | None, recommending: str | None) -> int:
        """The unit (batch, key), added as one off the roster if there is none. Inside write()."""
        row = db.execute("SELECT id FROM units WHERE batch = ? AND unit_key = ?",
                         (batch, unit_key)).fetchone()
        if row:
            return row[0]
        cur = db.execute(
            "INSERT INTO units(unit, unit_key, batch, category, recommending, on_roster) "
            "VALUES (?, ?, ?, ?, ?, 0)", (unit, unit_key, batch, category, recommending))
        return cur.lastrowid

    def pin(self, unit_id: int, version_id: int | None, at: str | None) -> None:
        with self.write() as db:
            if version_id is not None:
                owner = db.execute("SELECT unit_id FROM versions WHERE id = ?", (version_id,)).fetchone()
                if owner is None or owner[0] != unit_id:
                    raise LedgerError(f"第 {version_id} 号文件不是这个单位的版本。")
            db.execute("UPDATE units SET pinned_version = ?, pinned_at = ? WHERE id = ?",
                       (version_id, at if version_id is not None else None, unit_id))

    # -- versions and receipts -------------------------------------------------------

    @staticmethod
    def version_by_sha(db: sqlite3.Connection, sha256: str, file_name: str | None = None
                       ) -> VersionRow | None:
        """The version of these bytes: a workbook whatever its name; with ``file_name``, a file
        that cannot be read only under that name (its sender_key)."""
        where = " WHERE v.sha256 = ?" + ("" if file_name is None else
                                          " AND v.sender_key IN ('', ?)") + " ORDER BY v.id"
        row = db.execute(_VERSION_SELECT + where, (sha256,) if file_name is None else
                         (sha256, file_name)).fetchone()
        return _version(row) if row else None

    @staticmethod
    def add_receipt(db: sqlite3.Connection, **values: Any) -> int:
        values.setdefault("repeat", 0)
        values.setdefault("is_archive", 0)
        columns = ", ".join(values)
        marks = ", ".join(f":{k}" for k in values)
        return db.execute(f"INSERT INTO receipts({columns}) VALUES ({marks})", values).lastrowid

    @staticmethod
    def add_version(db: sqlite3.Connection, **values: Any) -> int:
        columns = ", ".join(values)
        marks = ", ".join(f":{k}" for k in values)
        return db.execute(f"INSERT INTO versions({columns}) VALUES ({marks})", values).lastrowid

    @staticmethod
    def set_receipt_version(db: sqlite3.Connection, receipt_id: int, version_id: int) -> None:
        db.execute("UPDATE receipts SET version_id = ? WHERE id = ?", (version_id, receipt_id))

    def versions(self, db: sqlite3.Connection | None = None, unit_id: int | None = None,
                 unplaced: bool = False) -> list[VersionRow]:
        """Versions in the order received; all of them are listed without their result."""
        db = db or self._db()
        if unplaced:
            rows = db.execute(_VERSION_SELECT + " WHERE v.unit_id IS NULL ORDER BY v.receipt_id")
        elif unit_id is not None:
            rows = db.execute(_VERSION_SELECT + " WHERE v.unit_id = ? ORDER BY v.receipt_id", (unit_id,))
        else:
            rows = db.execute(_VERSION_LIST + " ORDER BY v.receipt_id")
        return [_version(r) for r in rows]

    def result(self, version_id: int) -> dict[str, Any]:
        """validate's JSON of one version."""
        row = self._db().execute("SELECT result FROM versions WHERE id = ?", (version_id,)).fetchone()
        if row is None:
            raise LookupError(f"no version {version_id}")
        return json.loads(row[0])

    def results(self, version_ids: list[int]) -> dict[int, dict[str, Any]]:
        """validate's JSON of several versions at once, by version id."""
        db = self._db()
        out: dict[int, dict[str, Any]] = {}
        for i in range(0, len(version_ids), 500):     # SQLite's limit on parameters
            part = version_ids[i:i + 500]
            rows = db.execute(f"SELECT id, result FROM versions WHERE id IN ({', '.join('?' * len(part))})",
                              part)
            out.update((r[0], json.loads(r[1])) for r in rows)
        return out

    def version(self, version_id: int, db: sqlite3.Connection | None = None) -> VersionRow | None:
        row = (db or self._db()).execute(_VERSION_SELECT + " WHERE v.id = ?", (version_id,)).fetchone()
        return _version(row) if row else None

    def receipts(self, db: sqlite3.Connection | None = None, version_ids: list[int] | None = None,
                 ids: list[int] | None = None) -> list[ReceiptRow]:
        db = db or self._db()
        sql = f"SELECT {_RECEIPT_COLUMNS} FROM receipts"
        args: list[int] = []
        if version_ids is not None:
            sql += f" WHERE version_id IN ({', '.join('?' * len(version_ids))})"
            args = list(version_ids)
        elif ids is not None:
            sql += f" WHERE id IN ({', '.join('?' * len(ids))})"
            args = list(ids)
        return [_receipt(r) for r in db.execute(sql + " ORDER BY id", args)]

    def counts(self) -> dict[str, int]:
        db = self._db()
        return {"units": db.execute("SELECT count(*) FROM units").fetchone()[0],
                "versions": db.execute("SELECT count(*) FROM versions").fetchone()[0],
                "receipts": db.execute("SELECT count(*) FROM receipts").fetchone()[0]}
