"""The roster: which platforms get a pre-filled workbook.

A CSV (UTF-8 with or without BOM, GBK/GB18030 as Excel in China saves it,
or UTF-16 "Unicode text") or an .xlsx with the columns 单位名称, 列入批次,
平台类别, 推荐单位. Every row is checked before anything is written; a bad
roster raises :class:`RosterError` listing every bad row in Chinese.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path

from .form import Form, load_form

__all__ = ["RosterEntry", "RosterError", "read_roster", "read_rows", "roster_columns", "UNSAFE_CHARS"]


class RosterError(Exception):
    """A roster that cannot be used; ``problems`` names every bad row."""

    def __init__(self, message: str, problems: list[str] | None = None):
        self.message = message
        self.problems = list(problems or [])
        super().__init__("\n".join([message, *self.problems]))


# Characters no file name may hold on Windows (and "/" nowhere).
UNSAFE_CHARS = '\\/:*?"<>|'
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_MAX_NAME_BYTES = 255        # longest file name on common file systems
_SPACES = " \t\u3000\u00a0\ufeff"
_DIGITS = dict(zip("1234", "一二三四"))


def roster_columns(form: Form) -> dict[str, str]:
    """Roster column header -> field id it fills."""
    keys = form.keys
    return {"单位名称": keys["unit"], "列入批次": keys["batch"], "平台类别": keys["category"],
            "推荐单位": "recommending_unit"}


@dataclass(frozen=True)
class RosterEntry:
    unit_name: str
    batch: str
    platform_category: str
    recommending_unit: str
    row: int                 # the row in the roster file (the header is row 1)

    def file_name(self, form: Form) -> str:
        """第X批-XXX类-单位名称.xlsx"""
        return form.file_stem(self.batch, self.platform_category, self.unit_name) + ".xlsx"

    def prefill(self, form: Form) -> dict[str, str]:
        """The values the workbook is pre-filled with, by field id."""
        keys = form.keys
        return {keys["unit"]: self.unit_name, keys["batch"]: self.batch,
                keys["category"]: self.platform_category,
                "recommending_unit": self.recommending_unit}


def read_roster(path: str | Path, form: Form | None = None) -> list[RosterEntry]:
    """Read and check a roster; raise RosterError naming every bad row."""
    form = form or load_form()
    path = Path(path)
    rows = _read_rows(path)
    header_at = next((i for i, (_, cells) in enumerate(rows) if any(cells)), None)
    if header_at is None:
        raise RosterError(f"名单“{path.name}”是空的，没有任何内容。")
    header_row, header = rows[header_at]
    columns = roster_columns(form)
    labels = {form.field(fid).label: name for name, fid in columns.items()}
    where: dict[str, int] = {}
    for i, h in enumerate(header):
        name = _clean(h)
        name = labels.get(name, name)     # 平台单位名称 is accepted for 单位名称
        if name in columns and name not in where:
            where[name] = i
    missing = [c for c in columns if c not in where]
    if missing:
        raise RosterError(
            f"名单“{path.name}”第{header_row}行（表头）缺少列：{'、'.join(missing)}。"
            f"名单须有这四列：{'、'.join(columns)}。")
    entries: list[RosterEntry] = []
    problems: list[str] = []
    first_row_of: dict[str, int] = {}
    for row_no, cells in rows[header_at + 1:]:
        if not any(_clean(c) for c in cells):
            continue

        def get(col: str) -> str:
            i = where[col]
            return _clean(cells[i]) if i < len(cells) else ""

        unit, batch_raw, cat_raw, rec = (get(c) for c in columns)
        batch = _batch(batch_raw, form)
        cat = _category(cat_raw, form)
        bad = []
        if not unit:
            bad.append("单位名称为空")
        else:
            bad.extend(_name_problems(unit, form, batch or form.batches[0],
                                      cat or form.categories[0]))
            key = _same_name_key(unit)
            if key in first_row_of:
                bad.append(f"单位名称“{unit}”与第{first_row_of[key]}行重复")
            else:
                first_row_of[key] = row_no
        if batch is None:
            bad.append(f"列入批次“{batch_raw}”不在可选范围（{'、'.join(form.batches)}）"
                       if batch_raw else f"列入批次为空（可选：{'、'.join(form.batches)}）")
        if cat is None:
            bad.append(f"平台类别“{cat_raw}”不在可选范围（{'、'.join(form.categories)}）"
                       if cat_raw else f"平台类别为空（可选：{'、'.join(form.categories)}）")
        limit = form.field("recommending_unit").max_length
        if limit and len(rec) > limit:
            bad.append(f"推荐单位过长（{len(rec)}字，最多{limit}字）")
        if _CONTROL.search(rec):
            bad.append("推荐单位含有不可见的控制字符")
        if bad:
            problems.append(f"第{row_no}行：" + "；".join(bad))
        else:
            entries.append(RosterEntry(unit, batch, cat, rec, row_no))
    if problems:
        raise RosterError(
            f"名单“{path.name}”有{len(problems)}行有问题，没有生成任何文件。请修改以下各行后重试：",
            problems)
    if not entries:
        raise RosterError(f"名单“{path.name}”只有表头，没有任何单位。")
    return entries


def _name_problems(unit: str, form: Form, batch: str, cat: str) -> list[str]:
    out = []
    unsafe = sorted({ch for ch in unit if ch in UNSAFE_CHARS}, key=unit.index)
    if unsafe:
        shown = " ".join(f"“{ch}”" for ch in unsafe)
        out.append(f"单位名称“{unit}”含有文件名不能使用的字符 {shown}")
    if _CONTROL.search(unit):
        out.append("单位名称含有不可见的控制字符（如换行）")
    if unit.startswith(".") or unit.endswith("."):
        out.append(f"单位名称“{unit}”以句点开头或结尾，不能用作文件名")
    stem = form.file_stem(batch, cat, unit) + ".xlsx"
    if len(stem.encode("utf-8")) > _MAX_NAME_BYTES:
        out.append(f"单位名称过长（{len(unit)}字），文件名超出长度限制")
    return out


def _same_name_key(unit: str) -> str:
    # （北京） and (北京), full- and half-width letters, inner spaces: one unit.
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", unit))


def _clean(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip(_SPACES)


def _batch(raw: str, form: Form) -> str | None:
    """第三批, also 第3批; None if it is not a batch of the form."""
    text = re.sub(r"\d", lambda m: _DIGITS.get(m.group(), m.group()), raw)
    return text if text in form.batches else None


def _category(raw: str, form: Form) -> str | None:
    """检验检测, also 检验检测类; None if it is not a category of the form."""
    text = raw[:-1] if raw.endswith("类") else raw
    return text if text in form.categories else None


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


# Public: a round keeps each roster row's cells as written (xlsx_tools.round).
read_rows = _read_rows


def _read_csv(path: Path) -> list[tuple[int, list]]:
    try:
        data = path.read_bytes()
    except OSError as e:
        raise RosterError(f"无法读取名单文件“{path.name}”：{e.strerror or e}") from e
    if data.startswith(b"PK\x03\x04"):
        return _read_xlsx(path)
    text = _decode(data, path)
    first = text.split("\n", 1)[0]
    delimiter = max(",\t;", key=first.count) if any(d in first for d in ",\t;") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[tuple[int, list]] = []
    try:
        for row in reader:        # numbered by record, as Excel shows the CSV
            rows.append((len(rows) + 1, row))
    except csv.Error as e:
        raise RosterError(f"名单“{path.name}”第{len(rows) + 1}行无法按 CSV 读取：{e}") from e
    return rows


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
