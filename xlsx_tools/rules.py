"""Check one workbook's values: every field-level code and every rule of the form.

The checks are small functions, each yielding :class:`Finding` objects for one
kind of problem (after frictionless-py's checks). They read only the form
definition and the :class:`~xlsx_tools.read.WorkbookData` the reader returned;
no file is opened here. :func:`inspect_workbook` runs them all and returns the
clean values with the findings, in a fixed order (by the position of the first
cell, then by code).

A rule whose inputs are blank or unreadable stays silent: the expressions are
evaluated with three-valued logic, and the field's own finding says what is
wrong with the input.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal
from pathlib import PurePath
from typing import Any, Callable, Iterable, Iterator, Mapping

from . import expr as ex
from .clean import clean_value
from .form import CODE_TITLES, META_SHEET, MISSING_HINTS, SEVERITY_CN, Field, Form, parse_cell
from .read import RawValue, WorkbookData

__all__ = [
    "Finding", "check_workbook", "inspect_workbook", "clean_values", "field_title",
    "show_value", "code_title", "SEVERITY_CN", "FIELD_CODES", "CODE_TITLES", "WORKBOOK_CODES",
]

ERROR = "error"
WARNING = "warning"

# Field-level codes (spec/README.md) and their severity; a code the cleaner
# returns that is not listed here counts as an error.
FIELD_CODES = {
    "missing": ERROR, "not_a_number": ERROR, "not_whole": ERROR, "negative": ERROR,
    "too_many_decimals": ERROR, "not_a_choice": ERROR, "bad_format": ERROR,
    "bad_date": ERROR, "formula_no_value": ERROR, "too_short": WARNING,
}
# What each field-level code is called where a person reads it (rules keep R01...).


def code_title(code: str) -> str:
    """R01 stays R01; a field-level code in Chinese; a reader's refusal is 无法读取."""
    if re.fullmatch(r"[A-Z]\d{2}", code):
        return code
    return CODE_TITLES.get(code, "无法读取")


# The workbook-level rules this module checks itself (the rest come from form.rules
# and from the fields' required_when).
WORKBOOK_CODES = ("R18", "R19", "R20", "R21", "R22")


@dataclass(frozen=True)
class Finding:
    """One problem: what (code), how bad, which fields, where, and what to do."""
    code: str
    severity: str            # error | warning
    fields: tuple[str, ...]
    cells: tuple[str, ...]   # as 统计表!D20, where they are in this workbook
    message: str             # Chinese, for the person filling the form

    def __post_init__(self) -> None:
        if self.severity not in SEVERITY_CN:
            raise ValueError(f"severity must be error or warning, not {self.severity!r}")
        object.__setattr__(self, "fields", tuple(self.fields))
        object.__setattr__(self, "cells", tuple(self.cells))

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR

    @property
    def severity_cn(self) -> str:
        return SEVERITY_CN[self.severity]

    @property
    def where(self) -> str:
        """The cells as a person reads them; 整个文件 for a finding about the file."""
        return "、".join(self.cells) or "整个文件"

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "severity": self.severity, "fields": list(self.fields),
                "cells": list(self.cells), "message": self.message}


# -- presenting values and fields in messages ----------------------------------

def count_severity(findings: Iterable[Finding], severity: str) -> int:
    """How many of ``findings`` are errors (or warnings)."""
    return sum(1 for f in findings if f.severity == severity)


def show_value(value: object) -> str:
    """A clean value as a filler would write it: 12, 3.5, 2022-09-15, text."""
    if value is None:
        return "（空）"
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float):
        value = Decimal(repr(value))
    if isinstance(value, Decimal):
        text = format(value.normalize(), "f")
        return text
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()[:10]
    return str(value)


class _Shown(dict):
    """Values for str.format_map: each shown as the filler wrote it."""

    def __init__(self, values: Mapping[str, object]):
        super().__init__()
        self.values = values

    def __missing__(self, key: str) -> str:
        return show_value(self.values.get(key))


def _fill_in(template: str, values: Mapping[str, object]) -> str:
    return template.format_map(_Shown(values))


def field_title(form: Form, field_id: str) -> str:
    """The field's label, made unambiguous where two inputs share one (Form.field_title)."""
    return form.field_title(field_id)


def _position(address: str, form: Form) -> tuple[int, int, int]:
    """Sort key of '统计表!D20': the sheet's place in the workbook, row, column."""
    sheet, _, ref = address.rpartition("!")
    order = [s.name for s in form.sheets]
    try:
        row, col = parse_cell(ref)
    except ValueError:
        row, col = 0, 0
    return (order.index(sheet) if sheet in order else len(order), row, col)


# -- field level ---------------------------------------------------------------

def _raw(form: Form, data: WorkbookData, field_id: str) -> RawValue:
    raw = data.raw.get(field_id)
    if raw is None:
        raw = RawValue(None, form.input_cell(field_id).address)
    return raw


def _cell(form: Form, data: WorkbookData, field_id: str) -> str:
    """Where the field's input is in this workbook (rows may have moved)."""
    return _raw(form, data, field_id).cell or form.input_cell(field_id).address


def _is_blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def clean_values(form: Form, data: WorkbookData) -> tuple[dict[str, object], list[Finding]]:
    """Every field's clean value (None if blank or unreadable) and the findings
    of values that cannot be used as they are."""
    values: dict[str, object] = {}
    findings: list[Finding] = []
    for f in form.fields:
        cleaned = clean_value(f, _raw(form, data, f.id))
        values[f.id] = None if _is_blank(cleaned.value) else cleaned.value
        if cleaned.code:
            message = cleaned.message or f"“{field_title(form, f.id)}”的内容无法识别，请重新填写。"
            findings.append(Finding(cleaned.code, FIELD_CODES.get(cleaned.code, ERROR),
                                    (f.id,), (_cell(form, data, f.id),),
                                    _named(form, f.id, message)))
    return values, findings


def _named(form: Form, field_id: str, message: str) -> str:
    """Make sure a field-level message says which field it is about."""
    label, title = form.field(field_id).label, field_title(form, field_id)
    if title in message:
        return message
    if f"“{label}”" in message:  # a label two inputs share: say which one
        return message.replace(f"“{label}”", f"“{title}”", 1)
    return f"“{title}”：{message}"




def _missing_message(form: Form, f: Field) -> str:
    return f"“{field_title(form, f.id)}”未填写。{MISSING_HINTS.get(f.type, '请填写这一项。')}"


def check_required(form: Form, data: WorkbookData, values: Mapping[str, object],
                   unreadable: set[str]) -> Iterator[Finding]:
    """missing, or the rule's own code for a field required under a condition."""
    for f in form.fields:
        if f.id in unreadable or not _is_blank(values.get(f.id)) or not f.required:
            continue
        cell = _cell(form, data, f.id)
        if f.required_when is None:
            yield Finding("missing", ERROR, (f.id,), (cell,), _missing_message(form, f))
            continue
        if ex.evaluate(f.required_when, values) is not True:
            continue
        because = [i for i in ex.fields_of(f.required_when) if i != f.id]
        message = (_fill_in(f.required_message, values) if f.required_message
                   else _missing_message(form, f))
        yield Finding(f.required_code, ERROR, (f.id, *because),
                      (cell, *(_cell(form, data, i) for i in because)), message)


def _text_length(text: str) -> int:
    """Characters a reader sees, spaces and line breaks not counted."""
    return len("".join(text.split()))


def check_lengths(form: Form, data: WorkbookData, values: Mapping[str, object]) -> Iterator[Finding]:
    """too_short: a summary so brief it says nothing (warning)."""
    for f in form.fields:
        v = values.get(f.id)
        if f.type != "longtext" or f.min_length is None or not isinstance(v, str) or _is_blank(v):
            continue
        n = _text_length(v)
        if n < f.min_length:
            yield Finding("too_short", WARNING, (f.id,), (_cell(form, data, f.id),),
                          f"“{field_title(form, f.id)}”只写了 {n} 个字，过于简略（至少 {f.min_length} 个字）。"
                          "请补充具体情况、数量或事例。")


# -- cross-field rules of the form ---------------------------------------------

def check_rules(form: Form, data: WorkbookData, values: Mapping[str, object]) -> Iterator[Finding]:
    """Every rule in the form definition: fires when `when` holds and `check` fails."""
    for rule in form.rules:
        if rule.when is not None and ex.evaluate(rule.when, values) is not True:
            continue
        if ex.evaluate(rule.check, values) is not False:
            continue
        fields = rule.fields
        yield Finding(rule.id, rule.severity, tuple(fields),
                      tuple(_cell(form, data, i) for i in fields),
                      _fill_in(rule.message, values))


# -- the workbook as a whole -----------------------------------------------------

def _same_text(a: object, b: object) -> bool:
    """Equal after Unicode normalisation (full/half width) and without whitespace."""
    if a == b:   # the usual case, and normalising every label of every file costs
        return True

    def norm(x: object) -> str:
        return "".join(unicodedata.normalize("NFKC", "" if x is None else str(x)).split())
    return norm(a) == norm(b)


def check_file_name(form: Form, values: Mapping[str, object], file_name: str) -> Iterator[Finding]:
    """R18: the file is named 第X批-XXX类-单位名称 after what the table says."""
    keys = form.keys
    batch, category, unit = (values.get(keys[k]) for k in ("batch", "category", "unit"))
    if not all(isinstance(v, str) and v.strip() for v in (batch, category, unit)):
        return  # the missing field's own finding comes first; the name cannot be known
    expected = form.file_stem(str(batch).strip(), str(category).strip(), str(unit).strip())
    path = PurePath(file_name)
    stem = unicodedata.normalize("NFC", path.stem).strip()
    if stem == unicodedata.normalize("NFC", expected):
        return
    yield Finding("R18", WARNING, (keys["batch"], keys["category"], keys["unit"]), (),
                  f"文件名“{path.name}”与表中填写的批次、平台类别和单位名称不一致，"
                  f"应为“{expected}.xlsx”（格式：第X批-XXX类-单位名称）。请按此重新命名文件。")


def check_fill_date(form: Form, data: WorkbookData, values: Mapping[str, object],
                    today: dt.date) -> Iterator[Finding]:
    """R19: the fill date lies in the round's window and not in the future."""
    fid = _fill_date_field(form)
    if fid is None:
        return
    d = values.get(fid)
    if isinstance(d, dt.datetime):
        d = d.date()
    if not isinstance(d, dt.date):
        return
    cell = _cell(form, data, fid)
    window = f"{form.window_start.isoformat()} 至 {form.window_end.isoformat()}"
    if d > today:
        yield Finding("R19", WARNING, (fid,), (cell,),
                      f"填报日期 {d.isoformat()} 晚于今天（{today.isoformat()}）。"
                      f"请填写实际填报的日期（本轮填报时间为 {window}）。")
    elif not form.window_start <= d <= form.window_end:
        yield Finding("R19", WARNING, (fid,), (cell,),
                      f"填报日期 {d.isoformat()} 不在本轮填报时间（{window}）内。请核对填报日期。")


def _fill_date_field(form: Form) -> str | None:
    """The cover's date field (the only field of type date)."""
    dates = [f.id for f in form.fields if f.type == "date"]
    return dates[0] if len(dates) == 1 else None


def check_identity(form: Form, data: WorkbookData) -> Iterator[Finding]:
    """R20: the workbook says it is this form, in this version."""
    title = form.table_title.lstrip("0123456789. ")
    if data.form_id is None:
        yield Finding("R20", ERROR, (), (),
                      f"工作簿中缺少表单标识（隐藏的“{META_SHEET}”工作表），无法确认它是本次下发的“{title}”。"
                      "请使用下发的表格重新填写，不要把内容复制到新建的工作簿中。")
        return
    if data.form_id != form.id:
        yield Finding("R20", ERROR, (), (),
                      f"这个工作簿是另一张表（表单标识“{data.form_id}”），不是本次的“{title}”"
                      f"（“{form.id}”）。请使用本次下发的表格填写。")
        return
    if data.form_version is None or data.form_version == form.version:
        return
    if data.form_version < form.version:
        yield Finding("R20", WARNING, (), (),
                      f"这个工作簿使用的是旧版模板（第 {data.form_version} 版，当前为第 {form.version} 版）。"
                      "内容已按旧版读取，请核对；下次请使用最新下发的模板。")
    else:
        yield Finding("R20", WARNING, (), (),
                      f"这个工作簿的模板版本（第 {data.form_version} 版）比校验工具的版本"
                      f"（第 {form.version} 版）新。内容已尽量读取，请更新校验工具后再校验一次。")


def check_structure(form: Form, data: WorkbookData) -> Iterator[Finding]:
    """R21: labels edited, sheets unprotected or renamed, rows or columns inserted,
    defined names moved. One finding per kind of change, listing the cells."""
    edited = [c for c in form.label_cells()
              if c.address in data.labels and not _same_text(data.labels[c.address], c.text)]
    if edited:
        shown, more = _some(edited, lambda c: f"{_label_cell(form, data, c)} 应为“{_clip(c.text)}”，"
                            f"现为“{_clip(data.labels[c.address]) or '（空）'}”", "处", "；")
        yield Finding("R21", WARNING, (), tuple(_label_cell(form, data, c) for c in edited),
                      f"表格文字被修改{more}：{shown}。请不要修改表格中的文字；"
                      "请核对各项内容是否仍填在对应的栏目中。")

    renamed = [s.name for s in form.sheets if data.sheet_names and s.name not in data.sheet_names]
    if renamed:
        yield Finding("R21", WARNING, (), (),
                      f"工作表{_listed(renamed)}被改名或删除。内容已尽量按原位置读取，请核对；"
                      "以后请不要修改工作表名称。")

    # Sheet protection only: LibreOffice drops the workbook's structure lock on
    # every save, so its absence says nothing about the filler.
    unprotected = [name for name, protected in data.sheet_protected.items() if not protected]
    if unprotected:
        yield Finding("R21", WARNING, (), (),
                      f"工作表{_listed(unprotected)}的保护被撤销了，表格结构可能被改动。请核对表格文字和行列；"
                      "以后请不要撤销工作表保护，只在白色单元格中填写。")

    shifted = [f.id for f in form.fields if f.id in data.shifted]
    if shifted:
        listed, more = _some(shifted, lambda i: f"{form.input_cell(i).address}→{_cell(form, data, i)}",
                             "处")
        yield Finding("R21", WARNING, tuple(shifted), tuple(_cell(form, data, i) for i in shifted),
                      f"表格中插入或删除了行或列，填写位置发生了移动{more}（{listed}）。"
                      "内容已按新位置读取，请核对；以后请不要增删行列。")

    moved = [f.id for f in form.fields if f.id in data.moved]
    if moved:
        listed, more = _some(moved, lambda i: f"“{field_title(form, i)}”", "项")
        yield Finding("R21", WARNING, tuple(moved), tuple(_cell(form, data, i) for i in moved),
                      f"{listed}{more}所在单元格的名称被删除或改动（可能是剪切、粘贴或移动了单元格）。"
                      "内容已按表格位置读取，请核对这些单元格的内容是否正确。")


def _some(items: list, show: Callable[[Any], str], unit: str, sep: str = "、",
          most: int = 5) -> tuple[str, str]:
    """The first few items shown, and "等 N 处" when there are more."""
    return (sep.join(show(i) for i in items[:most]),
            f"等 {len(items)} {unit}" if len(items) > most else "")


def _listed(names: Iterable[str]) -> str:
    return "、".join(f"“{n}”" for n in names)


def _label_cell(form: Form, data: WorkbookData, label) -> str:
    """Where a label of the layout was read in this workbook (rows may have moved)."""
    return data.label_cells.get(label.address, label.address)


def _clip(text: object, n: int = 20) -> str:
    t = " ".join(str(text or "").split())
    return t if len(t) <= n else t[: n - 1] + "…"


def check_prefill(form: Form, data: WorkbookData, values: Mapping[str, object]) -> Iterator[Finding]:
    """R22: a workbook generated for one unit comes back saying another."""
    for key in ("unit", "batch", "category"):
        fid = form.keys[key]
        expected = (data.meta or {}).get("prefill_" + fid)
        got = values.get(fid)
        if _is_blank(expected) or _is_blank(got) or _same_text(expected, got):
            continue
        unit = (data.meta or {}).get("prefill_" + form.keys["unit"]) or expected
        yield Finding("R22", ERROR, (fid,), (_cell(form, data, fid),),
                      f"这份表格是为“{unit}”生成的，其中“{field_title(form, fid)}”应为“{expected}”，"
                      f"现在填写的是“{show_value(got)}”。每个单位请使用为本单位生成的表格："
                      f"请改回“{expected}”，或向组织单位索取本单位的表格。")


# -- all checks ------------------------------------------------------------------

def _sort_key(form: Form) -> Callable[[Finding], tuple]:
    def key(f: Finding) -> tuple:
        where = _position(f.cells[0], form) if f.cells else (-1, 0, 0)
        return (where, f.code, f.fields, f.message)
    return key


def inspect_workbook(form: Form, data: WorkbookData, file_name: str,
                     today: dt.date | None = None) -> tuple[dict[str, object], list[Finding]]:
    """The clean values (by field id) and every finding, in a fixed order."""
    today = today or dt.date.today()
    values, findings = clean_values(form, data)
    unreadable = {i for f in findings for i in f.fields}
    checks: Iterable[Finding] = (
        *check_identity(form, data),
        *check_structure(form, data),
        *check_required(form, data, values, unreadable),
        *check_lengths(form, data, values),
        *check_rules(form, data, values),
        *check_file_name(form, values, file_name),
        *check_fill_date(form, data, values, today),
        *check_prefill(form, data, values),
    )
    findings.extend(checks)
    findings.sort(key=_sort_key(form))
    return values, findings


def check_workbook(form: Form, data: WorkbookData, file_name: str,
                   today: dt.date | None = None) -> list[Finding]:
    """Every finding for one workbook read by :func:`xlsx_tools.read.read_workbook`."""
    return inspect_workbook(form, data, file_name, today)[1]
