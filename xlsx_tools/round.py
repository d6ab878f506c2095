"""A round of returns kept in one folder: the form, the roster, a ledger and every file received.

    rnd = Round.init("2022年评估", roster="名单.csv")      # or Round.open("2022年评估")
    rnd.receive(["回收", "某省.zip"])                     # files, folders, .zip archives
    [(u.unit, u.status) for u in rnd.units()]               # 未提交 / 通过 / ... / 待确认
    rnd.pin(unit_id, version_id)                            # the clerk chooses a version
    rnd.merge()                                             # summaries of each unit's chosen version

The folder holds:

``form.toml``, ``roster.csv`` (or ``.xlsx``)
    copies of the form definition and the roster the round was made with;
``round.sqlite``
    the ledger (:mod:`xlsx_tools.ledger`);
``files/``
    every file received, named by the SHA-256 of its content, never overwritten
    or deleted (:mod:`xlsx_tools.store`);
``annotated/``, ``workbooks/``, ``summaries/``
    what is made from them on request: annotated copies, the blank and
    pre-filled workbooks, and each build of the summaries;
``previous/``
    last round's summaries (``汇总-*.csv``), when the round was made with one:
    then every file is validated against them (as ``validate --previous``), the
    summaries compare with them (as ``merge --previous``) and the pre-filled
    workbooks show them in their 上年 cells (as ``generate --previous``).

Receiving a file: its bytes go to the store (temporary file, fsync, rename),
it is validated under the name its sender gave it, placed on a roster unit as
merge places it (:func:`xlsx_tools.merge.place_file`), and only then recorded
in one ledger transaction. The same bytes received again are one version. A
unit's latest version is the one received last; when one receiving brought
several different files for a unit, the latest of them is taken as merge's M01
takes one, and the unit shows 待确认 until the clerk pins a version. As M01, a
readable version comes first: when the latest is unreadable beside a readable
one, the latest readable is taken and the unit shows 待确认 too.

The round knows the form's roles (unit, batch, category, recommending unit,
fill date: :data:`xlsx_tools.form.ROLES`), never a table's field ids: the
ledger, :class:`Unit` and the JSON name them so, as ``validate --json`` does.
What the roster says beyond the roles is kept as the roster read it: the other
values it pre-fills, and its columns that are not fields
(:attr:`~xlsx_tools.roster.RosterEntry.extra`, such as a contact's phone).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO, Self

from .archive import is_archive_name, unpack
from .form import Form, load_form
from .ledger import FILE_NAME as LEDGER_FILE
from .ledger import Ledger, LedgerError, ReceiptRow, UnitRow, VersionRow
from .catalogue import status_word
from .merge import (
    growth_rate,
    ST_ACCEPTED,
    ST_FAILED,
    ST_MISSING,
    ST_UNREADABLE,
    ST_WARNINGS,
    MergeResult,
    RosterIndex,
    choice_rank,
    merge_results,
    place_file,
    write_outputs,
)
from .previous import PreviousError, PreviousRound, last_round
from .roster import RosterEntry, read_roster, unit_key
from .store import Store, Stored, sender_name, too_large_reason
from .validate import UNREADABLE, FileResult, find_files, validate_file
from .writing import CannotWrite, write_file

__all__ = [
    "ANNOTATED",
    "FILES",
    "FORM_FILE",
    "PREVIOUS",
    "STATUSES",
    "ST_ACCEPTED",
    "ST_EXPLAINED",
    "ST_FAILED",
    "ST_MISSING",
    "ST_RECEIVED_BEFORE",
    "ST_TO_CONFIRM",
    "ST_UNREADABLE",
    "ST_WARNINGS",
    "SUMMARIES",
    "TO_REMIND",
    "WORKBOOKS",
    "Receipt",
    "Round",
    "RoundError",
    "Unit",
    "Version",
    "YearOnYear",
    "extra_columns",
    "display",
]

# A unit's status, a version's and a receipt's: the words of every command
# (catalogue.toml's [statuses]), merge's where they mean the same.
ST_EXPLAINED = status_word("explained")   # only warnings, each explained by the filler
ST_TO_CONFIRM = status_word("to_confirm")             # a unit: several files at once, one taken
ST_RECEIVED_BEFORE = status_word("received_before")   # a receipt: the same bytes again
STATUSES = (ST_MISSING, ST_ACCEPTED, ST_WARNINGS, ST_EXPLAINED, ST_FAILED, ST_UNREADABLE, ST_TO_CONFIRM)
# Who the 催报 list names: not returned, or must send again.
TO_REMIND = (ST_MISSING, ST_FAILED, ST_UNREADABLE)
_BY_STATUS = {"accepted": ST_ACCEPTED, "warnings": ST_WARNINGS, "explained": ST_EXPLAINED,
              "rejected": ST_FAILED, "unreadable": ST_UNREADABLE}

FORM_FILE = "form.toml"
ROSTER_STEM = "roster"
FILES = "files"
SUMMARIES = "summaries"
ANNOTATED = "annotated"
WORKBOOKS = "workbooks"
PREVIOUS = "previous"
_BUILDING = ".building-"
SOURCES = ("cli", "web", "api")


class RoundError(Exception):
    """A round that cannot be made or opened; the message is for the clerk, in Chinese."""


def now() -> str:
    return dt.datetime.now().astimezone().isoformat(timespec="seconds")


def new_batch_id() -> str:
    return uuid.uuid4().hex[:16]


# -- what the round shows ---------------------------------------------------------

def display(form: Form, role: str, value: str | None) -> str:
    """A role's value as the table shows it: a choice with its field's ``suffix`` (a category
    "X" as "X类" where the definition says so), anything else as it is."""
    if not value:
        return ""
    f = form.role_field(role)
    return f.shown(value) if f is not None and value in f.choices else value


def extra_columns(form: Form, units: Iterable[Unit]) -> dict[str, str]:
    """The roster's columns that are not fields and that some of ``units`` has a value in,
    key -> header: those the definition declares (``[[roster.columns]]`` with a ``key``), in
    its order, then any other column a roster carried, under its own header."""
    have = {k for u in units for k in u.extra}
    declared = {c.key: c.header for c in form.roster_columns if c.key}
    out = {k: h for k, h in declared.items() if k in have}
    for u in units:
        out.update((k, k) for k in u.extra if k not in out)
    return out


def file_status(v: VersionRow) -> str:
    """The round's word for one version: 通过, 有警告, 已说明, 不通过 or 无法读取."""
    if v.reason is not None:
        return ST_UNREADABLE
    return _BY_STATUS.get(v.status, ST_FAILED)


@dataclass(frozen=True)
class YearOnYear:
    """One numeric field of a file beside last year's value (the unit page's 上年 column)."""
    field: str                        # field id
    title: str                        # the field's title, as reports name it
    value: object                     # this year's (a JSON number, or None when left empty)
    previous: object                  # last year's
    growth: float | None              # (this - last) / last; None when either is missing or last is 0

    def to_dict(self) -> dict[str, Any]:
        return {"field": self.field, "title": self.title, "value": self.value,
                "previous": self.previous, "growth": self.growth}


def year_on_year(form: Form, result: dict[str, Any] | None) -> list[YearOnYear]:
    """validate's JSON of a file as this year beside last year: each numeric field with a
    previous value, in the definition's order; [] for a file with none."""
    previous = (result or {}).get("previous") or {}
    values = (result or {}).get("values") or {}
    return [YearOnYear(f.id, form.field_title(f.id), values.get(f.id), previous[f.id],
                       growth_rate(_number(values.get(f.id)), _number(previous[f.id])))
            for f in form.fields if f.numeric and previous.get(f.id) is not None]


def _number(value: object) -> Decimal | None:
    return None if value is None or isinstance(value, bool) else Decimal(str(value))


@dataclass
class Version:
    """One distinct file of a unit (or of no unit), as the round shows it."""
    row: VersionRow
    number: int | None = None         # 第 n 版 of its unit, in the order received
    chosen: bool = False
    pinned: bool = False
    receipts: list[ReceiptRow] = field(default_factory=list)
    ledger: Ledger | None = field(default=None, repr=False)   # reads the result of a listed version

    id = property(lambda self: self.row.id)
    sha256 = property(lambda self: self.row.sha256)
    file_name = property(lambda self: self.row.file_name)
    received_at = property(lambda self: self.row.received_at)
    unit_id = property(lambda self: self.row.unit_id)
    errors = property(lambda self: self.row.errors)
    warnings = property(lambda self: self.row.warnings)
    reason = property(lambda self: self.row.reason)

    @property
    def status(self) -> str:
        return file_status(self.row)

    @property
    def readable(self) -> bool:
        return self.row.reason is None

    def result(self) -> dict[str, Any]:
        """validate's JSON for the file (``validate --json``'s entry)."""
        if self.row.result is None and self.ledger is not None:
            return self.ledger.result(self.id)
        return self.row.result_dict()

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "number": self.number, "file_name": self.file_name,
                "sha256": self.sha256, "size": self.row.size, "received_at": self.received_at,
                "status": self.status, "verdict": self.row.verdict, "errors": self.errors,
                "warnings": self.warnings, "reason": self.reason, "unit_id": self.unit_id,
                "chosen": self.chosen, "pinned": self.pinned,
                "times_received": len(self.receipts) or 1}


@dataclass
class Unit:
    """A platform of the roster (or one first seen in a file), its versions and status."""
    row: UnitRow
    status: str
    note: str
    versions: list[Version]
    chosen: Version | None
    # The roster's columns that are not fields (contacts and the like), those with a value.
    extra: dict[str, str]
    # The version taken when none is pinned (Round.default_rule says how it is told).
    default: Version | None = None

    # The roles, as validate's results name them.
    id = property(lambda self: self.row.id)
    unit = property(lambda self: self.row.unit)
    batch = property(lambda self: self.row.batch)
    category = property(lambda self: self.row.category)
    recommending = property(lambda self: self.row.recommending)
    on_roster = property(lambda self: self.row.on_roster)

    @property
    def pinned(self) -> bool:
        return self.row.pinned_version is not None

    @property
    def to_remind(self) -> bool:
        return self.status in TO_REMIND

    def to_dict(self, with_versions: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id, "unit": self.unit, "batch": self.batch, "category": self.category,
            "recommending": self.recommending, "on_roster": self.on_roster,
            "roster_row": self.row.roster_row, "status": self.status, "note": self.note,
            "pinned": self.pinned, "roster_values": self.row.roster_values, "extra": self.extra,
            "chosen_version": self.chosen.id if self.chosen else None,
            "default_version": self.default.id if self.default else None,
        }
        if with_versions:
            out["versions"] = [v.to_dict() for v in self.versions]
        return out


@dataclass
class Receipt:
    """What receiving one file gave: its record, and the version it is (if any)."""
    row: ReceiptRow
    version: Version | None
    reason: str | None = None         # why nothing of it could be kept or unpacked
    archive_name: str | None = None   # the .zip it came in
    unit: UnitRow | None = None
    unit_status: str | None = None    # its unit's status once it was recorded (待确认 ...)

    @property
    def repeat(self) -> bool:
        return self.row.repeat

    @property
    def status(self) -> str:
        """The file's word: its version's, 已收到过 for bytes received before, 无法读取 if not kept."""
        if self.version is None:
            return ST_UNREADABLE
        return ST_RECEIVED_BEFORE if self.repeat else self.version.status

    @property
    def file_name(self) -> str:
        return self.row.file_name

    def listing_key(self, form: Form) -> tuple:
        """Its place in a listing (:meth:`Form.listing_key`): by the unit its version is on,
        by its name where none (a file not kept), then its archive and name."""
        v = self.version.row if self.version is not None else None
        parts = {} if v is not None and v.batch else form.name_parts(self.file_name)
        batch = v.batch if v is not None and v.batch else parts.get("batch")
        category = (v.category if v is not None else None) or parts.get("category")
        unit = (self.unit.unit if self.unit is not None else v.unit if v is not None else None)
        return form.listing_key(batch, category, unit or parts.get("unit") or "\uffff",
                                self.archive_name or "", self.file_name)

    def to_dict(self) -> dict[str, Any]:
        """validate's JSON for the file, plus ``version`` (and ``receipt``)."""
        shown = f"{self.archive_name}/{self.file_name}" if self.archive_name else self.file_name
        if self.version is not None:
            out = self.version.result()
            out["file"] = shown
        else:
            out = {"file": shown, "status": "unreadable", "verdict": UNREADABLE, "unit": None,
                   "batch": None, "category": None, "recommending": None,
                   "findings": [{"code": self.row.kind, "severity": "error", "fields": [], "cells": [],
                                 "message": self.reason}],
                   "values": {}, "reason": self.reason, "kind": self.row.kind}
        out["version"] = None if self.version is None else {
            **self.version.to_dict(), "repeat": self.repeat, "round_status": self.status,
            "unit": None if self.unit is None else {"id": self.unit.id, "unit": self.unit.unit,
                                                    "batch": self.unit.batch, "status": self.unit_status}}
        out["receipt"] = {"id": self.row.id, "received_at": self.row.received_at,
                          "size": self.row.size, "sha256": self.row.sha256, "archive": self.archive_name,
                          "note": self.row.note}
        return out


# -- the round ----------------------------------------------------------------------

class Round:
    """A round's folder. Make one with :meth:`init`, use one with :meth:`open`."""

    def __init__(self, folder: Path, form: Form, ledger: Ledger):
        self.folder = folder
        self.form = form
        self.ledger = ledger
        self.store = Store(folder / FILES)
        meta = ledger.meta()
        self.roster_path = folder / meta["roster_file"]
        self.created_at = meta.get("created_at", "")
        self._roster: list[RosterEntry] | None = None
        self._index: RosterIndex | None = None
        self._previous: PreviousRound | None | bool = False   # False: not read yet
        self._stamper = None     # write.Stamper, made on the first pre-filled workbook

    # -- making and opening ----------------------------------------------------------

    @classmethod
    def init(cls, folder: str | Path, roster: str | Path, form: Form | str | Path | None = None,
             previous: str | Path | None = None) -> Round:
        """Make the round's folder: copies of the form and roster, the ledger, the store.

        Raises :class:`~xlsx_tools.roster.RosterError` for a bad roster and
        :class:`RoundError` for a folder that is not empty or a ``previous``
        without summaries; nothing is left behind then.
        """
        folder = Path(folder)
        form = form if isinstance(form, Form) else load_form(form) if form else load_form()
        roster = Path(roster)
        if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
            raise RoundError(f"“{folder}”已经存在且不是空文件夹。请换一个新的文件夹名。")
        if form.source is None:
            raise RoundError("轮次文件夹要保存表单定义的副本：请给出表单定义文件（.toml），"
                             "而不是文字或字典。")
        entries = read_roster(roster, form)
        previous_files = _previous_summaries(Path(previous)) if previous is not None else []
        # Refused now, not at receiving; kept for the opened round (the folder gets a copy).
        last = _read_previous(previous_files[0].parent, form, entries) if previous_files else None
        folder.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
        try:
            shutil.copyfile(form.source, work / FORM_FILE)
            roster_copy = ROSTER_STEM + (roster.suffix.lower() if roster.suffix.lower() in
                                         (".csv", ".xlsx", ".xlsm", ".txt", ".tsv") else ".csv")
            shutil.copyfile(roster, work / roster_copy)
            if previous_files:
                (work / PREVIOUS).mkdir()
                for p in previous_files:
                    shutil.copyfile(p, work / PREVIOUS / p.name)
            Store(work / FILES).create()
            ledger = Ledger.create(work / LEDGER_FILE, {
                "form_id": form.id, "form_version": str(form.version), "created_at": now(),
                "roster_file": roster_copy, "roster_name": roster.name,
                "previous": str(previous) if previous is not None else ""})
            ledger.add_roster_units(_roster_units(entries))
            ledger.close()
            if folder.exists():
                folder.rmdir()
            os.replace(work, folder)
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
        rnd = cls.open(folder)
        if previous_files:
            rnd._previous = last
        return rnd

    @classmethod
    def open(cls, folder: str | Path) -> Round:
        """Open a round's folder; clears what a killed process left half-written."""
        folder = Path(folder)
        if not (folder / LEDGER_FILE).is_file():
            raise RoundError(f"“{folder}”不是轮次文件夹（没有 {LEDGER_FILE}）。"
                             f"请先用 xlsx-tools round init 创建。")
        try:
            ledger = Ledger.open(folder / LEDGER_FILE)
        except LedgerError as e:
            raise RoundError(str(e)) from e
        try:
            form = load_form(folder / FORM_FILE)
        except Exception as e:
            raise RoundError(f"无法载入轮次文件夹中的表单定义 {FORM_FILE}：{e}") from e
        rnd = cls(folder, form, ledger)
        rnd.store.clean_incoming()
        for p in (folder / SUMMARIES).glob(_BUILDING + "*"):
            shutil.rmtree(p, ignore_errors=True)
        return rnd

    def close(self) -> None:
        self.ledger.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def name(self) -> str:
        return self.folder.resolve().name

    @property
    def roster(self) -> list[RosterEntry]:
        if self._roster is None:
            self._roster = read_roster(self.roster_path, self.form)
        return self._roster

    @property
    def previous(self) -> PreviousRound | None:
        """Last round's values (``previous/``), renamed units found by the roster's column of
        last year's names; None for a round made without them."""
        if self._previous is False:
            folder = self.folder / PREVIOUS
            self._previous = _read_previous(folder, self.form, self.roster) if folder.is_dir() else None
        return self._previous

    def year_on_year(self, version: Version | None) -> list[YearOnYear]:
        """The version's numbers beside last year's (:func:`year_on_year`)."""
        return year_on_year(self.form, version.result()) if version is not None and version.readable else []

    @property
    def _roster_index(self) -> RosterIndex:
        if self._index is None:
            self._index = RosterIndex(self.roster)
        return self._index

    # -- receiving ---------------------------------------------------------------------

    def receive(self, paths: Iterable[str | Path], *, source: str = "cli",
                batch_id: str | None = None) -> list[Receipt]:
        """Receive files, every candidate under folders (validate's rules), and .zip archives.

        One call is one receiving: several different files for one unit among
        them are told apart as merge's M01 does, and the unit shows 待确认.
        """
        batch_id = batch_id or new_batch_id()
        out: list[Receipt] = []
        for path, _shown in find_files(paths):
            try:
                with open(path, "rb") as fh:
                    mtime = os.fstat(fh.fileno()).st_mtime
                    out += self.receive_stream(fh, path.name, source=source, batch_id=batch_id, mtime=mtime)
            except OSError as e:
                out.append(self._refusal(path.name, 0, None, "unreadable",
                                         f"无法读取这个文件（{e.strerror or type(e).__name__}）。",
                                         source, batch_id))
        return out

    def receive_stream(self, stream: BinaryIO, file_name: str, *, source: str = "api",
                       batch_id: str | None = None, mtime: float | None = None) -> list[Receipt]:
        """Receive one file read from ``stream`` (to its end), named ``file_name`` by its sender."""
        name = sender_name(file_name)
        stored = self.store.put(stream, name)
        return self.receive_stored(stored, name, source=source, batch_id=batch_id or new_batch_id(),
                                   mtime=mtime)

    def receive_stored(self, stored: Stored, file_name: str, *, source: str, batch_id: str,
                       mtime: float | None = None) -> list[Receipt]:
        """Record a file already in the store (:meth:`Store.incoming`): one receipt, or one per
        member of a .zip."""
        if source not in SOURCES:
            raise ValueError(f"source must be one of {SOURCES}")
        name = sender_name(file_name)
        if stored.too_large:
            return [self._refusal(name, stored.size, None, "too_large", too_large_reason(stored.size),
                                  source, batch_id)]
        if is_archive_name(name):
            unpacked = unpack(self.store.path(stored.stored), self.store)
            if unpacked.kind != "workbook":
                return self._receive_archive(stored, name, unpacked, source, batch_id)
        return [self._receive_workbook(stored, name, source, batch_id, mtime)]

    def _refusal(self, name: str, size: int, sha: str | None, kind: str, reason: str, source: str,
                 batch_id: str, archive_id: int | None = None, is_archive: bool = False) -> Receipt:
        with self.ledger.write() as db:
            rid = self.ledger.add_receipt(db, received_at=now(), batch_id=batch_id, source=source,
                                          file_name=name, size=size, sha256=sha, kind=kind, note=reason,
                                          archive_id=archive_id, is_archive=int(is_archive))
            row = self.ledger.receipts(db, ids=[rid])[0]
        return Receipt(row, None, reason=reason)

    def _receive_archive(self, stored: Stored, name: str, unpacked, source: str,
                         batch_id: str) -> list[Receipt]:
        if unpacked.reason:
            return [self._refusal(name, stored.size, stored.sha256, unpacked.kind, unpacked.reason,
                                  source, batch_id, is_archive=True)]
        with self.ledger.write() as db:
            archive_id = self.ledger.add_receipt(db, received_at=now(), batch_id=batch_id, source=source,
                                                 file_name=name, size=stored.size, sha256=stored.sha256,
                                                 is_archive=1, note=unpacked.note)
        out = []
        for m in unpacked.members:
            if m.stored is None:
                r = self._refusal(m.name, 0, None, m.kind, m.reason, source, batch_id, archive_id)
            else:
                r = self._receive_workbook(m.stored, m.name, source, batch_id, m.mtime, archive_id)
            r.archive_name = name
            out.append(r)
        return out

    def _receive_workbook(self, stored: Stored, name: str, source: str, batch_id: str,
                          mtime: float | None, archive_id: int | None = None) -> Receipt:
        with self.ledger.snapshot() as db:
            known = self.ledger.version_by_sha(db, stored.sha256, name)
        placed = None if known else self._validate_and_place(stored, name, mtime)
        with self.ledger.write() as db:
            known = self.ledger.version_by_sha(db, stored.sha256, name)   # another may have come meanwhile
            rid = self.ledger.add_receipt(
                db, received_at=now(), batch_id=batch_id, source=source, file_name=name,
                size=stored.size, sha256=stored.sha256, version_id=known.id if known else None,
                repeat=int(known is not None), archive_id=archive_id,
                note=(f"与 {_shown_time(known.received_at)} 收到的“{known.file_name}”内容相同，"
                      f"不另算版本。{known.reason or ''}") if known else None)
            if known is None:
                placed = placed or self._validate_and_place(stored, name, mtime)
                result, batch, unit, cat, how = placed
                unit_id = None
                if batch and unit:
                    unit_id = self.ledger.unit_for(db, batch, unit_key(unit), unit, cat,
                                                   _text(result.recommending))
                vid = self.ledger.add_version(
                    db, sha256=stored.sha256, sender_key="" if result.readable else name,
                    size=stored.size, stored=stored.stored, file_name=name,
                    unit_id=unit_id, batch=batch, unit=unit, category=cat,
                    placed_by=how if batch else None, status=result.status, verdict=result.verdict,
                    errors=result.errors, warnings=result.warnings, reason=result.reason, kind=result.kind,
                    date=result.date.isoformat() if result.date else None,
                    sent_mtime=mtime, result=_json(result.to_dict()), receipt_id=rid)
                self.ledger.set_receipt_version(db, rid, vid)
            row = self.ledger.receipts(db, ids=[rid])[0]
            version = self.ledger.version(row.version_id, db)
            unit_row = self.ledger.unit(version.unit_id, db) if version.unit_id else None
        # What the file made of its unit (a second file at once leaves it 待确认), and its number there.
        after = self.unit(unit_row.id) if unit_row is not None else None
        number = next((v.number for v in after.versions if v.id == version.id), None) if after else None
        return Receipt(row, Version(version, number=number, ledger=self.ledger), unit=unit_row,
                       unit_status=after.status if after is not None else None)

    def _validate_and_place(self, stored: Stored, name: str, mtime: float | None):
        path = self.store.path(stored.stored)
        try:
            result = validate_file(path, self.form, shown=name, file_name=name, previous=self.previous)
        except Exception as e:  # noqa: BLE001 - one odd file never stops receiving
            result = FileResult(file=name, path=path, status="unreadable", verdict=UNREADABLE,
                                reason=f"校验这个文件时出错（{type(e).__name__}），无法校验。",
                                kind="unreadable", file_name=name)
        result.mtime = mtime
        batch, unit, cat, how = place_file(self.form, result, self._roster_index.by_unit)
        return result, batch, unit, cat, how

    # -- looking ---------------------------------------------------------------------------

    def units(self) -> list[Unit]:
        """Every unit in roster order, then those off the roster, with status and versions."""
        with self.ledger.snapshot() as db:
            rows = self.ledger.units(db)
            versions = self.ledger.versions(db)
            receipts = self.ledger.receipts(db)
        by_unit: dict[int, list[VersionRow]] = {}
        for v in versions:
            if v.unit_id is not None:
                by_unit.setdefault(v.unit_id, []).append(v)
        by_version: dict[int, list[ReceiptRow]] = {}
        for r in receipts:
            if r.version_id is not None:
                by_version.setdefault(r.version_id, []).append(r)
        return [self._unit_view(row, by_unit.get(row.id, []), by_version) for row in rows]

    def unit(self, unit_id: int) -> Unit | None:
        with self.ledger.snapshot() as db:
            row = self.ledger.unit(unit_id, db)
            if row is None:
                return None
            versions = self.ledger.versions(db, unit_id=unit_id)
            receipts = self.ledger.receipts(db, version_ids=[v.id for v in versions])
        by_version: dict[int, list[ReceiptRow]] = {}
        for r in receipts:
            by_version.setdefault(r.version_id, []).append(r)
        return self._unit_view(row, versions, by_version)

    def _unit_view(self, row: UnitRow, versions: list[VersionRow],
                   receipts: dict[int, list[ReceiptRow]]) -> Unit:
        shown = [Version(v, number=i + 1, receipts=receipts.get(v.id, []), ledger=self.ledger)
                 for i, v in enumerate(in_order(versions))]
        extra = {k: v for k, v in row.roster_extra.items() if v}
        if not shown:
            note = "名单内单位，尚未收到文件。"
            return Unit(row, ST_MISSING, note, [], None, extra)
        last = shown[-1]
        together = [v for v in shown if v.row.batch_id == last.row.batch_id]
        # The default: the latest received, or M01's choice among several received at once;
        # readable first, as M01: an unreadable file never silently replaces a readable one.
        # (in_order puts M01's choice last among them: the default is the last received.)
        default = last
        if not default.readable:
            default = next((v for v in reversed(shown) if v.readable), default)
        # Newer unreadable versions beside the readable default (maybe a correction saved wrongly).
        newer = [v for v in shown if v.number > default.number and not v.readable]
        pinned = next((v for v in shown if v.id == row.pinned_version), None)
        if pinned is not None:
            chosen, status = pinned, pinned.status
            note = f"已选定采用第 {pinned.number} 版。"
            if pinned is not last:
                note += f"另有较新的第 {last.number} 版，未采用。"
        elif len(together) > 1 and any(v is default for v in together):
            chosen, status = default, ST_TO_CONFIRM
            note = (f"同一次收到该单位 {len(together)} 个不同的文件，默认采用“{chosen.file_name}”"
                    f"（{self._m01_words()}）。请确认采用哪一份。")
        elif newer:
            chosen, status = default, ST_TO_CONFIRM
            note = (f"较新收到的{'、'.join(f'第 {v.number} 版“{v.file_name}”' for v in newer)}无法读取，"
                    f"默认采用可以读取的第 {default.number} 版“{default.file_name}”。"
                    "如较新的文件是改正后的版本，请让单位重新发送 .xlsx 文件；请确认采用哪一份。")
        else:
            chosen, status = default, default.status
            note = "" if len(shown) == 1 else f"采用最新收到的第 {default.number} 版。"
        chosen.chosen = True
        if pinned is not None:
            pinned.pinned = True
        if status == ST_UNREADABLE and chosen.reason:
            note = (note + chosen.reason).strip()
        elif status == ST_FAILED:
            note = (note + f"有 {chosen.errors} 项错误，请按标注副本修改后重新提交。").strip()
        if not row.on_roster:
            note = ("不在名单内（名单外），请核实。" + note).strip()
        return Unit(row, status, note, shown, chosen, extra, default)

    def _m01_words(self) -> str:
        date_label = self.form.column_header("date") or "日期"
        return f"{date_label}最晚的一份，相同时取文件修改时间最晚的"

    @property
    def default_rule(self) -> str:
        """Which version a unit takes when the clerk has pinned none, as the pages say it."""
        return (f"最新收到的可以读取的版本；同一次收到几个不同的文件时，采用其中{self._m01_words()}"
                "（无法读取的文件只在没有可读取的版本时采用）")

    def unplaced(self) -> list[Version]:
        """Versions that could not be placed on any unit (no batch or unit could be told)."""
        with self.ledger.snapshot() as db:
            versions = self.ledger.versions(db, unplaced=True)
            receipts = self.ledger.receipts(db, version_ids=[v.id for v in versions])
        by_version: dict[int, list[ReceiptRow]] = {}
        for r in receipts:
            by_version.setdefault(r.version_id, []).append(r)
        return [Version(v, receipts=by_version.get(v.id, []), ledger=self.ledger) for v in versions]

    def receipts(self) -> list[Receipt]:
        """Every file received, in order, with the version each is (if any): receivings in the
        order they began, the files of one by name (an archive before its members), not by
        which of them happened to finish first."""
        with self.ledger.snapshot() as db:
            receipts = self.ledger.receipts(db)
            versions = {v.id: v for v in self.ledger.versions(db)}
            units = {u.id: u for u in self.ledger.units(db)}
        names = {r.id: r.file_name for r in receipts if r.is_archive}
        numbers: dict[int, int] = {}
        seen: dict[int, int] = {}
        for v in in_order(list(versions.values())):       # as the unit page numbers them
            if v.unit_id is not None:
                seen[v.unit_id] = numbers[v.id] = seen.get(v.unit_id, 0) + 1
        out = []
        for r in _listed(receipts):
            v = versions.get(r.version_id) if r.version_id else None
            out.append(Receipt(r, Version(v, number=numbers.get(v.id), ledger=self.ledger) if v else None,
                               reason=r.note if v is None and not r.is_archive else None,
                               archive_name=names.get(r.archive_id) if r.archive_id else None,
                               unit=units.get(v.unit_id) if v and v.unit_id else None))
        return out

    def roster_facts(self, unit: Unit) -> list[tuple[str, str]]:
        """What the roster says of a unit besides its roles, as (column header, value): the other
        fields it pre-fills, then its columns that are not fields."""
        roles = {self.form.role(r) for r in ("unit", "batch", "category", "recommending")}
        out = [(c.header, unit.row.roster_values.get(c.field, "")) for c in self.form.roster_columns
               if c.field and c.field not in roles]
        out += [(extra_columns(self.form, [unit])[k], v) for k, v in unit.extra.items()]
        return [(h, v) for h, v in out if v]

    def version(self, version_id: int) -> Version | None:
        row = self.ledger.version(version_id)
        return Version(row, ledger=self.ledger) if row else None

    def version_by_sha(self, sha256: str) -> Version | None:
        with self.ledger.snapshot() as db:
            row = self.ledger.version_by_sha(db, sha256)
        return Version(row, ledger=self.ledger) if row else None

    def chosen_results(self, units: Iterable[Unit]) -> dict[int, dict[str, Any]]:
        """validate's JSON of each unit's chosen version (read at once), by unit id; a unit
        with none is left out."""
        chosen = {u.id: u.chosen.id for u in units if u.chosen is not None}
        results = self.ledger.results(list(chosen.values()))
        return {unit_id: results[vid] for unit_id, vid in chosen.items()}

    def counts(self, units: list[Unit] | None = None) -> dict[str, int]:
        """Units per status, every status present (0 when none)."""
        out = {s: 0 for s in STATUSES}
        for u in units if units is not None else self.units():
            out[u.status] += 1
        return out

    # -- choosing ------------------------------------------------------------------------

    def pin(self, unit_id: int, version_id: int | None) -> None:
        """Use ``version_id`` for the unit from now on; None: its latest again."""
        if self.ledger.unit(unit_id) is None:
            raise RoundError(f"没有第 {unit_id} 号单位。")
        try:
            self.ledger.pin(unit_id, version_id, now())
        except LedgerError as e:
            raise RoundError(str(e)) from e

    choose = pin

    # -- what is made from the files -----------------------------------------------------

    def stored_path(self, version: Version) -> Path:
        return self.store.path(version.row.stored)

    def chosen_files(self) -> list[FileResult]:
        """Each unit's chosen version, then the files no unit could be told for, validated afresh."""
        return [r for r, _received in self._chosen_and_received()]

    def _chosen_and_received(self) -> list[tuple[FileResult, int]]:
        """:meth:`chosen_files`, each with the files received it stands for: every receipt
        of its unit's versions (the same file sent again too), as 收件记录 lists them."""
        chosen = [(u.chosen, u.versions) for u in self.units() if u.chosen is not None]
        chosen += [(v, [v]) for v in self.unplaced()]
        return [(self._result(v), sum(len(x.receipts) or 1 for x in versions)) for v, versions in chosen]

    def _result(self, v: Version) -> FileResult:
        r = validate_file(self.stored_path(v), self.form, shown=v.file_name, file_name=v.file_name,
                          previous=self.previous)
        r.mtime = v.row.sent_mtime
        return r

    def merge(self, out_dir: str | Path | None = None) -> tuple[MergeResult, Path]:
        """Summaries of each unit's chosen version; into ``out_dir``, or a new build under summaries/."""
        chosen = self._chosen_and_received()
        result = merge_results([r for r, _ in chosen], self.form, self.roster,
                               received={r.file: n for r, n in chosen})
        result.previous = self.previous      # 上年 columns, prev_ in the CSV, the charts against last year
        if out_dir is not None:
            write_outputs(result, out_dir)
            return result, Path(out_dir)
        base = self.folder / SUMMARIES
        work = None
        try:
            base.mkdir(exist_ok=True)
            work = Path(tempfile.mkdtemp(prefix=_BUILDING, dir=base))
            write_outputs(result, work)
            stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
            target, n = base / stamp, 1
            while target.exists():
                n += 1
                target = base / f"{stamp}-{n}"
            os.replace(work, target)
        except BaseException as e:
            if work is not None:
                shutil.rmtree(work, ignore_errors=True)
            if isinstance(e, CannotWrite):   # said of summaries/, never of the build's temporary name
                raise e.naming(base) from None
            if isinstance(e, OSError):
                raise CannotWrite(base, e, "汇总文件夹") from None
            raise
        result.outputs = [target / p.relative_to(work) for p in result.outputs]   # subfolders kept
        return result, target

    def summary_builds(self) -> list[Path]:
        """The builds of the summaries, newest first."""
        base = self.folder / SUMMARIES
        if not base.is_dir():
            return []
        return sorted((p for p in base.iterdir() if p.is_dir() and not p.name.startswith(".")),
                      key=lambda p: p.name, reverse=True)

    def annotated_copy(self, version: Version) -> Path | None:
        """The version marked up with its findings (made once, kept in annotated/); None if it has none."""
        from .report import annotate_workbook

        if not version.readable or not (version.errors or version.warnings):
            return None
        target = self.folder / ANNOTATED / f"{version.sha256}.xlsx"
        if not target.exists():
            annotate_workbook(self.form, self._result(version), target)
        return target

    def blank_workbook(self) -> Path:
        """The blank workbook of the round's form (made once, kept in workbooks/)."""
        from .write import blank_file_name, write_workbook

        target = self.folder / WORKBOOKS / blank_file_name(self.form)
        if not target.exists():
            write_file(target, lambda p: write_workbook(p, self.form))
        return target

    def prefilled_workbook(self, unit: Unit) -> tuple[Path, str] | None:
        """A roster unit's pre-filled workbook and the name to give it; None for a unit off the roster.
        With last round's values (``previous/``) it shows the unit's beside each numeric input."""
        from .write import Stamper, roster_workbooks, write_bytes

        entry = next((e for e in self.roster if e.row == unit.row.roster_row), None) \
            if unit.on_roster else None
        if entry is None:
            return None
        [made] = roster_workbooks(self.form, [entry], self.previous)
        target = self.folder / WORKBOOKS / f"unit-{unit.id}.xlsx"
        if not target.exists():
            # Stamped into the form built once, as generate --roster does: a page that
            # offers every unit's workbook in one .zip makes them all at once.
            if self._stamper is None:
                self._stamper = Stamper(self.form)
            write_bytes(target, self._stamper.workbook(made))
        return target, made.file_name


# -- helpers ---------------------------------------------------------------------------

def _json(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False)


def _text(value: object) -> str | None:
    return (value.strip() or None) if isinstance(value, str) else None


def _shown_time(iso: str) -> str:
    return iso[:16].replace("T", " ")


def in_order(versions: list[VersionRow]) -> list[VersionRow]:
    """Versions as they are numbered: receivings in the order they began; the different files
    of one receiving (dropped together, sent as several requests) as M01 ranks them, its
    choice last, then by content: the same files give the same numbers, whichever finished
    first, and the default of a receiving is its last version."""
    first: dict[str, int] = {}
    for i, v in enumerate(versions):
        first.setdefault(v.batch_id, i)

    def key(v: VersionRow) -> tuple:
        return (first[v.batch_id], choice_rank(_as_result(v)), v.sha256)
    return sorted(versions, key=key)


def _listed(receipts: list[ReceiptRow]) -> list[ReceiptRow]:
    """Receipts in the order of their receivings, one receiving's by name (an archive, then
    its members), so that the record of one upload does not follow which file finished first."""
    first: dict[str, int] = {}
    names = {r.id: r.file_name for r in receipts if r.is_archive}
    for i, r in enumerate(receipts):
        first.setdefault(r.batch_id, i)

    def key(r: ReceiptRow) -> tuple:
        top = names.get(r.archive_id, r.file_name) if r.archive_id else r.file_name
        return (first[r.batch_id], top, r.archive_id is not None, r.file_name, r.id)
    return sorted(receipts, key=key)


def _as_result(v: VersionRow) -> FileResult:
    """Enough of a FileResult for merge's M01 choice (status, fill date, time, name)."""
    fill = dt.date.fromisoformat(v.date) if v.date else None
    return FileResult(file=v.file_name, path=Path(v.sha256), status=v.status, verdict=v.verdict,
                      date=fill, mtime=v.sent_mtime, file_name=v.file_name)


def _roster_units(entries: list[RosterEntry]) -> list[dict[str, Any]]:
    """The ledger's rows for the roster's entries, by role."""
    return [{"unit": e.unit, "unit_key": unit_key(e.unit), "batch": e.batch, "category": e.category,
             "recommending": e.recommending or None, "roster_row": e.row, "roster_values": e.values,
             "roster_extra": e.extra} for e in entries]


def _read_previous(folder: Path, form: Form, entries: list[RosterEntry]) -> PreviousRound:
    try:
        return last_round(folder, form, entries)
    except PreviousError as e:
        raise RoundError(str(e)) from e


def _previous_summaries(path: Path) -> list[Path]:
    """Last round's 汇总-*.csv: in a merge's output folder, or the newest build of a round folder."""
    if not path.is_dir():
        raise RoundError(f"找不到上一轮的汇总结果文件夹“{path}”。")
    found = sorted(path.glob("汇总-*.csv"))
    if not found and (path / SUMMARIES).is_dir():
        builds = sorted((p for p in (path / SUMMARIES).iterdir()
                         if p.is_dir() and not p.name.startswith(".")), reverse=True)
        found = sorted(builds[0].glob("汇总-*.csv")) if builds else []
    if not found:
        raise RoundError(f"“{path}”中没有上一轮的汇总结果（汇总-*.csv）。请给出上一轮 xlsx-tools merge 的"
                         f"输出文件夹，或上一轮的轮次文件夹。")
    return found

