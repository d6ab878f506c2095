"""The roster: which units get a pre-filled workbook.

A CSV (UTF-8 with or without BOM, GBK/GB18030 as Excel in China saves it,
or UTF-16 "Unicode text") or an .xlsx whose columns the form definition names
(``[[roster.columns]]``: a header, other headers accepted for it, the field it
pre-fills, whether it is required). Columns a roster has beyond those are kept
with each unit (:attr:`RosterEntry.extra`). Every row is checked before anything
is written; a bad roster raises :class:`RosterError` listing every bad row in
Chinese.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from .form import Field, Form, RosterColumn, load_form

__all__ = ["RosterEntry", "RosterError", "read_roster", "roster_columns", "unit_key", "UNSAFE_CHARS"]


class RosterError(Exception):
    """A roster that cannot be used; ``problems`` names every bad row."""

    def __init__(self, message: str, problems: list[str] | None = None):
        self.message = message
        self.problems = list(problems or [])
        super().__init__("\n".join([message, *self.problems]))


# Characters no file name may hold on Windows (and "/" nowhere).
UNSAFE_CHARS = '\\/:*?"<>|'
# Control characters, and what XML cannot hold at all (U+FFFE, U+FFFF, lone surrogates).
_CONTROL = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff\ufffe\uffff]")
_MAX_NAME_BYTES = 255        # longest file name on common file systems
_SPACES = " \t\u3000\u00a0\ufeff"
_DIGITS = dict(zip("123456789", "一二三四五六七八九"))


def roster_columns(form: Form) -> dict[str, str]:
    """Roster column header -> field id it fills (the columns that are fields)."""
    return {c.header: c.field for c in form.roster_columns if c.field}


@dataclass(frozen=True)
class RosterEntry:
    """One unit of the roster: its roles, every value it pre-fills, and the rest."""
    unit: str
    batch: str
    category: str
    recommending: str
    row: int                 # the row in the roster file (the header is row 1)
    values: dict[str, str] = field(default_factory=dict)   # field id -> value it pre-fills
    # Columns that are not fields: by their declared key, or else by their header.
    extra: dict[str, str] = field(default_factory=dict)

    def file_name(self, form: Form) -> str:
        """The workbook's name by the definition's pattern (第X批-XXX类-单位名称.xlsx)."""
        return form.file_stem(self.batch, self.category, self.unit) + ".xlsx"

    def prefill(self, form: Form) -> dict[str, str]:
        """The values the workbook is pre-filled with, by field id."""
        return {fid: self.values.get(fid, "") for fid in form.prefill_fields}


def _names(column: RosterColumn, form: Form) -> tuple[str, ...]:
    """The headers a column is known by: its own, its aliases, its field's label."""
    label = (form.field(column.field).label,) if column.field else ()
    return tuple(dict.fromkeys((*column.names, *label)))


def read_roster(path: str | Path, form: Form | None = None) -> list[RosterEntry]:
    """Read and check a roster; raise RosterError naming every bad row."""
    form = form or load_form()
    path = Path(path)
    rows = _read_rows(path)
    header_at = next((i for i, (_, cells) in enumerate(rows) if any(cells)), None)
    if header_at is None:
        raise RosterError(f"名单“{path.name}”是空的，没有任何内容。")
    header_row, header = rows[header_at]
    by_name = {n: c for c in form.roster_columns for n in _names(c, form)}
    where: dict[RosterColumn, int] = {}
    others: dict[str, int] = {}
    for i, h in enumerate(header):
        name = _clean(h)
        column = by_name.get(name)
        if column is not None and column not in where:
            where[column] = i
        elif name and column is None and name not in others:
            others[name] = i
    missing = [c.header for c in form.roster_columns if c.required and c not in where]
    if missing:
        required = [c.header for c in form.roster_columns if c.required]
        raise RosterError(
            f"名单“{path.name}”第{header_row}行（表头）缺少列：{'、'.join(missing)}。"
            f"名单须有这{_count(len(required))}列：{'、'.join(required)}。")
    unit_col = form.roster_column(form.keys["unit"])
    entries: list[RosterEntry] = []
    problems: list[str] = []
    first_row_of: dict[str, int] = {}
    for row_no, cells in rows[header_at + 1:]:
        if not any(_clean(c) for c in cells):
            continue

        def get(i: int | None, cells: list = cells) -> str:
            return _clean(cells[i]) if i is not None and i < len(cells) else ""

        values: dict[str, str] = {}
        bad: list[str] = []
        for column in form.roster_columns:
            if not column.field:
                continue
            raw = get(where.get(column))
            value, problem = _value(form.field(column.field), column, raw)
            values[column.field] = value
            if problem:
                bad.append(problem)
        unit = values[form.keys["unit"]]
        batch, cat = values[form.keys["batch"]], values[form.keys["category"]]
        about_unit = [] if unit else [f"{unit_col.header}为空"]
        if unit:
            about_unit += _name_problems(unit, unit_col.header, form, batch or form.batches[0],
                                         cat or form.categories[0])
            key = unit_key(unit)
            if key in first_row_of:
                about_unit.append(f"{unit_col.header}“{unit}”与第{first_row_of[key]}行重复")
            else:
                first_row_of[key] = row_no
        bad = about_unit + bad
        if bad:
            problems.append(f"第{row_no}行：" + "；".join(bad))
            continue
        extra = {c.key: get(where.get(c)) for c in form.roster_columns if not c.field}
        extra.update({name: get(i) for name, i in others.items()})
        recommending = values.get(form.role("recommending") or "", "")
        entries.append(RosterEntry(unit, batch, cat, recommending, row_no, values, extra))
    if problems:
        raise RosterError(
            f"名单“{path.name}”有{len(problems)}行有问题，没有生成任何文件。请修改以下各行后重试：",
            problems)
    if not entries:
        raise RosterError(f"名单“{path.name}”只有表头，没有任何单位。")
    return entries


def _count(n: int) -> str:
    return "一二三四五六七八九十"[n - 1] if 1 <= n <= 10 else str(n)


def _value(f: Field, column: RosterColumn, raw: str) -> tuple[str, str | None]:
    """The value a roster cell pre-fills, or a problem with it (in Chinese)."""
    name = column.header
    if f.type == "choice":
        if not raw:
            return "", f"{name}为空（可选：{'、'.join(f.choices)}）" if column.required else None
        choice = _choice(raw, f)
        if choice is None:
            return "", f"{name}“{raw}”不在可选范围（{'、'.join(f.choices)}）"
        return choice, None
    if f.max_length and len(raw) > f.max_length:
        return raw, f"{name}过长（{len(raw)}字，最多{f.max_length}字）"
    if _CONTROL.search(raw):
        return raw, f"{name}含有不可见的控制字符"
    return raw, None


def _choice(raw: str, f: Field) -> str | None:
    """A choice as written in the roster: itself, with its suffix, or with Arabic
    digits for Chinese ones (第3组 for 第三组); None if it is not one."""
    digits = re.sub(r"(?<!\d)\d(?!\d)", lambda m: _DIGITS.get(m.group(), m.group()), raw)
    for text in (raw, digits):
        for c in f.choices:
            if text in f.accepted(c):
                return c
    return None


def _name_problems(unit: str, header: str, form: Form, batch: str, cat: str) -> list[str]:
    out = []
    unsafe = sorted({ch for ch in unit if ch in UNSAFE_CHARS}, key=unit.index)
    if unsafe:
        shown = " ".join(f"“{ch}”" for ch in unsafe)
        out.append(f"{header}“{unit}”含有文件名不能使用的字符 {shown}")
    if _CONTROL.search(unit):
        out.append(f"{header}含有不可见的控制字符（如换行）")
    if unit.startswith(".") or unit.endswith("."):
        out.append(f"{header}“{unit}”以句点开头或结尾，不能用作文件名")
    stem = form.file_stem(batch, cat, unit) + ".xlsx"
    if len(stem.encode("utf-8")) > _MAX_NAME_BYTES:
        out.append(f"{header}过长（{len(unit)}字），文件名超出长度限制")
    return out


def unit_key(name: object) -> str:
    """A unit's name as names compare: full- and half-width brackets and letters alike, no
    white space (the roster's duplicate check, and the merge and the round matching a file
    to a roster unit)."""
    return "".join(unicodedata.normalize("NFKC", "" if name is None else str(name)).split())


def _clean(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip(_SPACES)


# -- reading the file ----------------------------------------------------------


def _read_rows(path: Path) -> list[tuple[int, list]]:
    """(row number, cell values) for every row of the roster."""
    if not path.exists():
        raise RosterError(f"找不到名单文件“{path}”。")
    if path.is_dir():
        raise RosterError(f"“{path}”是文件夹，请指定名单文件（CSV 或 .xlsx）。")
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return _read_xlsx(path)
    if suffix == ".xls":
        raise RosterError(f"名单“{path.name}”是旧版 .xls 文件，请在 Excel 中另存为 .xlsx 或 CSV 后再试。")
    return _read_csv(path)


def _read_csv(path: Path) -> list[tuple[int, list]]:
    try:
        data = path.read_bytes()
    except OSError as e:
        raise RosterError(f"无法读取名单文件“{path.name}”：{e.strerror or e}") from e
    if data.startswith(b"PK\x03\x04"):
        return _read_xlsx(path)
    text = _decode(data, path)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    rows: list[tuple[int, list]] = []
    try:
        for row in reader:        # numbered by record, as Excel shows the CSV
            rows.append((len(rows) + 1, row))
    except csv.Error as e:
        raise RosterError(f"名单“{path.name}”第{len(rows) + 1}行无法按 CSV 读取：{e}") from e
    return rows


def _delimiter(text: str) -> str:
    """Comma, tab (Excel's "Unicode text") or semicolon, as csv.Sniffer tells from the
    first lines; a comma when it cannot tell (one column)."""
    try:
        return csv.Sniffer().sniff(text[:8192], delimiters=",\t;").delimiter
    except csv.Error:
        return ","


def _decode(data: bytes, path: Path) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        encodings = ("utf-16",)
    else:
        encodings = ("utf-8-sig", "gb18030")
    for enc in encodings:
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    raise RosterError(f"无法识别名单“{path.name}”的文字编码。请在 Excel 中另存为“CSV UTF-8”或 .xlsx 后再试。")


def _read_xlsx(path: Path) -> list[tuple[int, list]]:
    import openpyxl  # only here: a roster may come as a workbook

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as e:
        raise RosterError(f"无法打开名单“{path.name}”：文件不是有效的 .xlsx 工作簿。") from e
    try:
        sheets = [ws for ws in wb.worksheets if getattr(ws, "sheet_state", "visible") == "visible"]
        ws = sheets[0] if sheets else wb.worksheets[0]
        return [(i, list(row)) for i, row in enumerate(ws.iter_rows(min_row=1, values_only=True),
                                                         start=1)]
    finally:
        wb.close()
