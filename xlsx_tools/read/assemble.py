"""Read one returned workbook into :class:`WorkbookData`: the package's parts, in order.

The zip (:mod:`.package`) gives the parts; the content types and the
relationships say which part is the workbook, its styles, its shared strings
and each sheet; workbook.xml gives the sheets and the defined names; the hidden
sheet gives the form's identity; the names say where each field is
(:mod:`.names`); then only the cells asked for are read from the form's
sheets, by the fast path where it applies and by the parse otherwise.
Parts seen before (the same bytes) are not parsed again (:mod:`.cache`).
"""

from __future__ import annotations

import datetime as dt
import math
import posixpath
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from ..form import META_MAP_HEADER, META_SHEET, Form, cell_name, load_form
from .cache import CACHE, digest
from .fast import decode, fast_shared_strings, fast_sheet
from .limits import MAX_FORMULA, MAX_NUMBER_TEXT, MAX_TEXT
from .model import Cell, RawValue, SheetCells, Stored, WorkbookData
from .names import (
    Location,
    Place,
    Plan,
    Wanted,
    actual_sheets,
    address,
    locate,
    locate_named,
    name_targets,
    other_targets,
    plan_of,
    wanted_cells,
)
from .package import Package
from .parse import (
    WorkbookInfo,
    ooxml_unescape,
    parse_content_types,
    parse_rels,
    parse_shared_strings,
    parse_sheet,
    parse_styles,
    parse_workbook,
)
from .refs import split_ref
from .refusal import RejectedFile, reject, too_large

__all__ = ["Book", "open_workbook", "read_path", "read_workbook"]

T = TypeVar("T")
_FAST_MAX = 4 * 1024 * 1024   # larger sheets are parsed, never held twice
_META_ROWS = 5_000            # the hidden sheet holds one row per field; more is not ours


def read_workbook(path: str | Path, form: Form | None = None, *, deadline: float | None = None,
                  named: Mapping[str, Place] | None = None) -> WorkbookData:
    """Read ``path``; raise RejectedFile with a Chinese reason if it cannot be read.

    ``deadline`` (a :func:`time.monotonic` time) ends the reading with
    ``too_slow``; without it the reader allows MAX_SECONDS. The 上年 cells
    (prev_<id>) are always read, into :attr:`WorkbookData.named`; ``named`` asks
    for the cells of other defined names too, each by its cell in the layout
    (sheet, row, column): the explanations (expl_<code>), say.
    """
    with open_workbook(path, form, deadline=deadline) as book:
        if named:
            book.data.named.update(book.read_named(named))
        return book.data


@contextmanager
def open_workbook(path: str | Path, form: Form | None = None, *, deadline: float | None = None,
                  fast: bool = True) -> Iterator[Book]:
    """:func:`read_workbook`, the package kept open for :meth:`Book.read_named`: what is
    read later is read from the parts already open, and a sheet at most once."""
    with _refusing():
        package = Package(Path(path), deadline).__enter__()
    try:
        with _refusing():
            reader = _Reader(package, form or load_form(), fast)
            data = reader.read()
        yield Book(reader, data)
    finally:
        package.__exit__(None, None, None)


class Book:
    """A workbook being read: :attr:`data` as :func:`read_workbook` gives it, and other
    defined names read on request."""

    def __init__(self, reader: _Reader, data: WorkbookData):
        self._reader = reader
        self.data = data

    def read_named(self, named: Mapping[str, Place]) -> dict[str, RawValue]:
        """The cells of the defined names ``named`` (name -> its layout cell), by the
        reader's rules for names (:func:`.names.locate_named`); raises RejectedFile."""
        with _refusing():
            return self._reader.read_named(dict(named))


def read_path(path: Path, form: Form, deadline: float | None = None, fast: bool = True) -> WorkbookData:
    """:func:`read_workbook`; ``fast=False`` parses every sheet (the tests compare both)."""
    with open_workbook(path, form, deadline=deadline, fast=fast) as book:
        return book.data


@contextmanager
def _refusing() -> Iterator[None]:
    """Anything but a refusal, reading, is one: the file, not the program, is at fault."""
    try:
        yield
    except RejectedFile:
        raise
    except RecursionError as e:
        raise reject("corrupt") from e
    except MemoryError as e:
        raise too_large("memory") from e
    except Exception as e:
        raise reject("unreadable") from e


class _Reader:
    def __init__(self, package: Package, form: Form, fast: bool):
        self.package = package
        self.form = form
        self.fast = fast

    # ---- parts ----

    def part(self, kind: str, name: str, parse: Callable[[bytes], T], *key: object) -> T:
        """``parse(bytes)`` of a part, from the cache when these bytes were parsed before."""
        return self.keyed_part(kind, name, parse, *key)[0]

    def keyed_part(self, kind: str, name: str, parse: Callable[[bytes], T], *key: object) -> tuple[T, bytes]:
        """:meth:`part`, and the digest of the part's bytes."""
        data = self.package.read(name)
        found = digest(data)
        return CACHE.get((kind, *key, found), lambda: parse(data), len(data)), found

    def rels(self, part: str) -> dict[str, tuple[str, str]]:
        folder, base = posixpath.split(part)
        name = posixpath.join(folder, "_rels", base + ".rels")
        if not self.package.has(name):
            return {}
        return self.part("rels", name, lambda data: parse_rels(data, folder), folder)

    def workbook_part(self) -> str:
        p = self.package
        types = (self.part("types", "[Content_Types].xml", parse_content_types)
                 if p.has("[Content_Types].xml") else [])
        if any("macroEnabled" in t for t in types) or any(n.endswith("vbaproject.bin") for n in p.members):
            raise reject("xlsm")
        if any("sheet.binary" in t for t in types) or p.has("xl/workbook.bin"):
            raise reject("xlsb")
        for rtype, target in self.rels("").values():
            if rtype.endswith("/officeDocument") and p.has(target):
                if target.lower().endswith(".bin"):
                    raise reject("xlsb")
                return target
        if p.has("xl/workbook.xml"):
            return "xl/workbook.xml"
        if p.has("mimetype") or p.has("content.xml"):
            raise reject("ods")
        raise reject("not_workbook", "word" if p.has("word/document.xml")
                     else "powerpoint" if p.has("ppt/presentation.xml") else None)

    def sheet(self, part: str, wanted: Wanted, name: str) -> SheetCells:
        data = self.package.read(part)
        if self.fast and len(data) <= _FAST_MAX:
            found = fast_sheet(data, wanted.refs)
            if found is not None:
                return found
        return parse_sheet(data, wanted.positions, name, self.package.check_time)

    def shared_strings(self, part: str) -> tuple[list[str], bytes]:
        """The strings, and the digest of the part they came from."""
        data = self.package.read(part)
        key = digest(data)

        def make() -> list[str]:
            found = fast_shared_strings(data) if self.fast and len(data) <= _FAST_MAX else None
            return found if found is not None else parse_shared_strings(data)
        return CACHE.get(("strings", self.fast, key), make, len(data)), key

    # ---- the workbook ----

    def read(self) -> WorkbookData:
        form = self.form
        plan = CACHE.get(("plan", id(form)), lambda: (form, plan_of(form)))
        if plan[0] is not form:   # another form at a reused address
            plan = (form, plan_of(form))
            CACHE.put(("plan", id(form)), plan)
        plan = plan[1]
        wb_part = self.workbook_part()
        wb_data = self.package.read(wb_part)
        wb_key = digest(wb_data)
        wb: WorkbookInfo = CACHE.get(("workbook", wb_key), lambda: parse_workbook(wb_data), len(wb_data))
        rels = self.rels(wb_part)
        sst_part = next((t for ty, t in rels.values() if ty.endswith("/sharedStrings")), None)
        styles_part = next((t for ty, t in rels.values() if ty.endswith("/styles")), None)
        sheet_parts: dict[str, str] = {}
        for name, _state, rid in wb.sheets:
            rel = rels.get(rid)
            if rel and rel[0].endswith("/worksheet"):
                sheet_parts[name] = rel[1]
        if not wb.sheets:
            raise reject("corrupt")
        date_styles, styles_key = (self.keyed_part("styles", styles_part, parse_styles)
                                   if styles_part and self.package.has(styles_part) else ((), b""))
        strings, strings_key = (self.shared_strings(sst_part) if sst_part and self.package.has(sst_part)
                                else ([], b""))
        values = _Values(strings, date_styles, wb.date1904, (strings_key, styles_key))

        # The form's identity and field map, from the hidden sheet: its keys head
        # the sheet; the field map below them is read only when needed.
        def read_meta(rows: int) -> tuple[dict[str, str], dict[str, tuple[str, str]]]:
            found = self.sheet(sheet_parts[META_SHEET], _meta_cells(rows), META_SHEET)
            return _meta_from_cells(self.form, {pos: values.of(c, META_SHEET, pos)[0]
                                                for pos, c in found.cells.items()})

        meta: dict[str, str] = {}
        field_map: dict[str, tuple[str, str]] = {}
        if META_SHEET in sheet_parts:
            # The form's keys head the sheet, then the field map's header row.
            meta, field_map = read_meta(len(form.meta_keys) + 2)
        targets, names = CACHE.get(("names", wb_key), lambda: name_targets(wb.names))
        form_id = meta.get("form_id") or None
        version = _version(meta.get("form_version", "")) if form_id else None
        _check_identity(form, form_id, version, all(f.id in names for f in form.fields))
        old = version is not None and version < form.version
        if old or (form_id is not None and version is None):
            meta, field_map = read_meta(_META_ROWS)
        expected = _expected(form, plan, old, version, field_map, targets)
        layout_sheets = frozenset(s for s, _, _ in expected.values()) if old else plan.sheets
        key = ("locate", plan.serial, wb_key, tuple(sorted(sheet_parts)), old,
               tuple(sorted(expected.items())) if old else ())
        where: Location = CACHE.get(key, lambda: locate(
            plan.labels, expected, layout_sheets,
            actual_sheets(layout_sheets, expected, targets, set(sheet_parts)), targets, names))

        # The 上年 cells (prev_<id>) are beside the inputs: read with them, by their own names.
        previous = self.locate_named(plan.previous, ("plan", plan.serial), wb_key, wb, sheet_parts) \
            if plan.previous and not old else None

        # Read the sheets of the form, keeping only the cells asked for.
        order = [s for s, _, _ in wb.sheets]
        found: dict[str, dict[tuple[int, int], Cell | Stored]] = {}
        protected: dict[str, bool] = {}
        wanted = wanted_cells(where.wanted, previous.wanted) if previous is not None else where.wanted
        for s in sorted(wanted, key=lambda x: order.index(x) if x in order else 0):
            if s in sheet_parts:
                res = self.sheet(sheet_parts[s], wanted[s], s)
                found[s], protected[s] = res.cells, res.protected
        self.wb, self.wb_key, self.sheet_parts, self.values = wb, wb_key, sheet_parts, values
        self.found, self.wanted = found, dict(wanted)   # a copy: the cached one stays as it is
        nothing: dict[tuple[int, int], Cell | Stored] = {}

        raw: dict[str, RawValue] = {}
        blocked = where.blocked
        for f in form.fields:
            s, r, c = where.where[f.id]
            cell = None if f.id in blocked else found.get(s, nothing).get((r, c))
            v, formula, is_date = values.of(cell, s, (r, c))
            if wb.date1904 and f.id in plan.date_fields and not is_date and isinstance(v, (int, float)) \
                    and not isinstance(v, bool):
                v = v + 1462   # a bare serial of the 1904 system, as a 1900-system serial
            raw[f.id] = RawValue(v, where.cells[f.id], formula, is_date)
        labels: dict[str, str] = {}
        for label_address, (s, r, c) in where.labels.items():
            v = values.of(found.get(s, nothing).get((r, c)), s, (r, c))[0]
            labels[label_address] = v if isinstance(v, str) else _text(v)
        named = self.named_values(previous) if previous is not None else {}
        return WorkbookData(
            path=self.package.path, form_id=form_id, form_version=version, meta=meta, raw=raw,
            labels=labels, sheet_protected=protected, names=dict(names), sheet_names=order,
            moved=dict(where.moved), shifted=dict(where.shifted), row_offset=dict(where.row_offset),
            col_offset=dict(where.col_offset), workbook_protected=wb.protected,
            sheet_states={n: st for n, st, _ in wb.sheets},
            field_map={fid: f"{s}!{c}" for fid, (s, c) in field_map.items()},
            label_cells=dict(where.label_cells), named=named)

    # ---- other defined names ----

    def locate_named(self, places: dict[str, Place], places_key: object, wb_key: bytes, wb: WorkbookInfo,
                     sheet_parts: dict[str, str]) -> Location:
        """:func:`.names.locate_named`, once per workbook.xml (``places_key`` names ``places``)."""
        def make() -> Location:
            targets, shown = other_targets(wb.names, frozenset(places))
            return locate_named(places, targets, shown, set(sheet_parts))
        return CACHE.get(("named", places_key, wb_key, tuple(sorted(sheet_parts))), make)

    def named_values(self, where: Location) -> dict[str, RawValue]:
        nothing: dict[tuple[int, int], Cell | Stored] = {}
        out: dict[str, RawValue] = {}
        for name, (s, r, c) in where.where.items():
            cell = None if name in where.blocked else self.found.get(s, nothing).get((r, c))
            v, formula, is_date = self.values.of(cell, s, (r, c))
            out[name] = RawValue(v, where.cells[name], formula, is_date)
        return out

    def read_named(self, places: dict[str, Place]) -> dict[str, RawValue]:
        """The cells of other defined names (of layout cells ``places``), read now from
        the open package: a sheet not read yet is read for them, once."""
        where = self.locate_named(places, tuple(sorted(places.items())), self.wb_key, self.wb,
                                  self.sheet_parts)
        for s, w in where.wanted.items():
            have = self.wanted.get(s)
            if s not in self.sheet_parts or (have is not None and w.positions <= have.positions):
                continue
            if have is not None:   # a sheet read before, for other cells: read it again for all
                w = wanted_cells({s: have}, {s: w})[s]
            self.found[s] = self.sheet(self.sheet_parts[s], w, s).cells
            self.wanted[s] = w
        return self.named_values(where)


def _check_identity(form: Form, form_id: str | None, version: int | None, all_named: bool) -> None:
    words = _identity_words(form)
    if form_id is None and not all_named:
        raise RejectedFile("other_form", "unidentified", code="R20", **words)
    if form_id is not None and form_id != form.id:
        raise RejectedFile("other_form", "other_form", code="R20", found=form_id, **words)
    if version is not None and version > form.version:
        raise RejectedFile("new_version", "too_new", code="R20", found=version, **words)


def _identity_words(form: Form) -> dict[str, object]:
    """What R20's messages name (as check_identity names them)."""
    return dict(title=form.table_title.lstrip("0123456789. "), form_id=form.id, version=form.version,
                sheet=META_SHEET)


def _expected(form: Form, plan: Plan, old: bool, version: int | None,
              field_map: dict[str, tuple[str, str]], targets: dict[str, Place | None]) -> dict[str, Place]:
    """Where each field should be: the layout, or for an older version its own map."""
    expected: dict[str, Place] = {}
    for f in form.fields:
        expected[f.id] = plan.inputs[f.id]
        if old:
            entry = field_map.get(f.id)
            pos = split_ref(entry[1]) if entry else None
            if pos:
                expected[f.id] = (entry[0], pos[0], pos[1])
            elif targets.get(f.id) is None:
                raise RejectedFile("old_version", "old_version_missing", code="R20", found=version,
                                   label=f.label, **_identity_words(form))
    return expected


# -- values -----------------------------------------------------------------------

# A number as a cell stores it (xsd:double, without INF and NaN).
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_WHOLE = re.compile(r"-?[0-9]{1,15}")


class _Values:
    """A stored cell's typed value, within what Excel holds.

    The value of a cell the fast path found is a function of its bytes and of
    the workbook's shared strings, styles and date system; a round's copies
    repeat most cells (the labels, the zeros), so it is remembered by those.
    """

    def __init__(self, strings: list[str], date_styles: tuple[bool, ...], date1904: bool, context: tuple):
        self.strings = strings
        self.date_styles = date_styles
        self.base = dt.datetime(1904, 1, 1) if date1904 else dt.datetime(1899, 12, 30)
        self.context = (*context, date1904)

    def of(self, c: Cell | Stored | None, sheet: str, pos: tuple[int, int]):
        """(value, formula, is_date) of a stored cell."""
        if c is None:
            return None, None, False
        if type(c) is Stored:
            key = ("value", self.context, c)
            hit = CACHE.peek(key)
            if hit is None:
                hit = self.typed(decode(c), sheet, pos)   # a value beyond Excel's raises: never kept
                CACHE.put(key, hit, len(c.inner))
            return hit
        return self.typed(c, sheet, pos)

    def typed(self, c: Cell, sheet: str, pos: tuple[int, int]):
        formula = c.f
        if formula is not None and len(formula) > MAX_FORMULA:
            raise _too_long(sheet, pos, "formula", len(formula), MAX_FORMULA)
        t, v = c.t, c.v
        if t == "inlineStr":
            text = c.text or ""
            if "_x" in text:
                text = ooxml_unescape(text)
            if len(text) > MAX_TEXT:
                raise _too_long(sheet, pos, None, len(text), MAX_TEXT)
            return text, formula, False
        if t == "s":
            if v is None or not v.strip():
                return None, formula, False
            index = v.strip()
            if not (index.isascii() and index.isdigit() and len(index) <= 9
                    and int(index) < len(self.strings)):
                raise _bad_index(sheet, pos, index)
            return self.text(self.strings[int(index)], sheet, pos), formula, False
        if t in ("str", "e"):
            return (None if v is None else self.text(v, sheet, pos)), formula, False
        if t == "b":
            return (None if v is None else v.strip() in ("1", "true")), formula, False
        if v is None or not v.strip():
            return None, formula, False
        v = v.strip()
        if t == "d":
            try:
                return dt.datetime.fromisoformat(v[:64]), formula, True
            except ValueError:
                return self.text(v, sheet, pos), formula, False
        if len(v) <= 15 and v.isdigit() and v.isascii():
            num: int | float = int(v)
        elif len(v) > MAX_NUMBER_TEXT or not _NUMBER.fullmatch(v):
            raise _bad_number(sheet, pos, v)
        else:
            num = int(v) if _WHOLE.fullmatch(v) else float(v)
            if isinstance(num, float) and not math.isfinite(num):
                raise _bad_number(sheet, pos, v)
        if c.s < len(self.date_styles) and self.date_styles[c.s]:
            try:
                return self.base + dt.timedelta(days=float(num)), formula, True
            except (OverflowError, ValueError):
                return num, formula, True
        return num, formula, False

    @staticmethod
    def text(text: str, sheet: str, pos: tuple[int, int]) -> str:
        if len(text) > MAX_TEXT:
            raise _too_long(sheet, pos, None, len(text), MAX_TEXT)
        return text


def _too_long(sheet: str, pos: tuple[int, int], what: str | None, n: int, most: int) -> RejectedFile:
    """Text (``what`` None) or a formula (``"formula"``) longer than a cell holds."""
    return reject("text_too_long", what, cell=address(sheet, *pos), n=n, most=most)


def _bad_index(sheet: str, pos: tuple[int, int], index: str) -> RejectedFile:
    shown = index if len(index) <= 12 else index[:12] + "…"
    return reject("bad_string_index", cell=address(sheet, *pos), index=shown)


def _bad_number(sheet: str, pos: tuple[int, int], text: str) -> RejectedFile:
    shown = text if len(text) <= 20 else text[:20] + "…"
    return reject("bad_number", cell=address(sheet, *pos), number=shown)


# -- the hidden sheet ----------------------------------------------------------------

def _meta_cells(rows: int) -> Wanted:
    """Columns A to D of the first ``rows`` rows."""
    def make() -> Wanted:
        cells = sorted((r, c) for r in range(1, rows + 1) for c in range(1, 5))
        return Wanted(frozenset(cells), tuple((p, cell_name(*p).encode()) for p in cells))
    return CACHE.get(("meta-cells", rows), make)


def _meta_from_cells(form: Form, cells: dict[tuple[int, int], object]
                     ) -> tuple[dict[str, str], dict[str, tuple[str, str]]]:
    by_label = {v: k for k, v in form.meta_keys.items()}
    meta: dict[str, str] = {}
    field_map: dict[str, tuple[str, str]] = {}
    header_row = None
    for r in sorted({r for r, _ in cells}):
        a = _text(cells.get((r, 1)))
        if header_row is None:
            if tuple(_text(cells.get((r, c))) for c in range(1, 5)) == META_MAP_HEADER:
                header_row = r
            elif a in by_label:
                meta[by_label[a]] = _text(cells.get((r, 2)))
        elif a:
            field_map[a] = (_text(cells.get((r, 2))), _text(cells.get((r, 3))).upper())
    return meta, field_map


def _text(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v).strip()


def _version(text: str) -> int | None:
    try:
        f = float(text)
    except ValueError:
        return None
    return int(f) if f.is_integer() and 0 <= f < 1e9 else None
