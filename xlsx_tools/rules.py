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

Every message comes from the form's catalogue (``form.catalogue``, see
catalogue.py): the checks here choose the code, its variant and what fills it.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import PurePath
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

from . import expr as ex
from .catalogue import CATALOGUE, field_codes
from .clean import clean_value
from .incell import explanation_cell
from .form import META_SHEET, PREFILL_PREFIX, Field, Form, load_form, parse_cell
from .previous import PreviousRound, previous_number
from .read import RawValue, WorkbookData

__all__ = [
    "Finding", "check_workbook", "inspect_workbook", "clean_values", "field_title",
    "show_value", "code_title", "SEVERITY_CN", "FIELD_CODES", "CODE_TITLES",
    "previous_values", "check_changes", "explanation_text", "with_explanations",
    "explanation_places", "all_explained", "count_explained",
]

ERROR = "error"
WARNING = "warning"

# Field-level codes and their severity, from the catalogue.
FIELD_CODES = field_codes()
SEVERITY_CN = {s: CATALOGUE.severity_word(s) for s in (ERROR, WARNING)}
CODE_TITLES = {c: CATALOGUE.title(c) for c in FIELD_CODES}


def code_title(code: str, form: Form | None = None) -> str:
    """What the 代码 column shows: R01 as it is, a field-level code in Chinese, a
    reader's refusal 无法读取 (the titles of the form's catalogue; the shipped form's
    when none is given)."""
    return (form or load_form()).catalogue.title(code)


@dataclass(frozen=True)
class Finding:
    """One problem: what (code), how bad, which fields, where, and what to do."""
    code: str
    severity: str            # error | warning
    fields: tuple[str, ...]
    cells: tuple[str, ...]   # as 统计表!D20, where they are in this workbook
    message: str             # Chinese, for the person filling the form
    # The filler's 审核说明 of a warning (an explainable code whose explanation is long
    # enough), None otherwise.
    explanation: str | None = None

    def __post_init__(self) -> None:
        if self.severity not in (ERROR, WARNING):
            raise ValueError(f"severity must be error or warning, not {self.severity!r}")
        object.__setattr__(self, "fields", tuple(self.fields))
        object.__setattr__(self, "cells", tuple(self.cells))

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR

    @property
    def severity_cn(self) -> str:
        return CATALOGUE.severity_word(self.severity)

    @property
    def where(self) -> str:
        """The cells as a person reads them; 整个文件 for a finding about the file."""
        return "、".join(self.cells) or "整个文件"

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "severity": self.severity, "fields": list(self.fields),
                "cells": list(self.cells), "message": self.message,
                "explanation": self.explanation}


# -- presenting values and fields in messages ----------------------------------

def count_severity(findings: Iterable[Finding], severity: str) -> int:
    """How many of ``findings`` are errors (or warnings)."""
    return sum(1 for f in findings if f.severity == severity)


def show_value(value: object) -> str:
    """A clean value as a filler would write it: 12, 3.5, 2024-01-31, text."""
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
    words = form.catalogue
    for f in form.fields:
        cleaned = clean_value(f, _raw(form, data, f.id))
        values[f.id] = None if _is_blank(cleaned.value) else cleaned.value
        if cleaned.code:
            findings.append(Finding(cleaned.code, words.severity(cleaned.code),
                                    (f.id,), (_cell(form, data, f.id),),
                                    form.field_message(cleaned.code, f.id, cleaned.variant,
                                                       value=cleaned.shown)))
    return values, findings


def missing_message(form: Form, f: Field) -> str:
    """``missing`` of a field, in the words for its type (as the sheet says it too)."""
    return form.field_message("missing", f.id)


def check_required(form: Form, data: WorkbookData, values: Mapping[str, object],
                   unreadable: set[str]) -> Iterator[Finding]:
    """missing, or the rule's own code for a field required under a condition."""
    for f in form.fields:
        if f.id in unreadable or not _is_blank(values.get(f.id)) or not f.required:
            continue
        cell = _cell(form, data, f.id)
        if f.required_when is None:
            yield Finding("missing", form.catalogue.severity("missing"), (f.id,), (cell,),
                          missing_message(form, f))
            continue
        if ex.evaluate(f.required_when, values) is not True:
            continue
        because = [i for i in ex.fields_of(f.required_when) if i != f.id]
        message = (_fill_in(f.required_message, values) if f.required_message
                   else missing_message(form, f))
        yield Finding(f.required_code, form.catalogue.severity(f.required_code), (f.id, *because),
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
            yield Finding("too_short", form.catalogue.severity("too_short"), (f.id,),
                          (_cell(form, data, f.id),),
                          form.field_message("too_short", f.id, n=n))


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


# -- last year --------------------------------------------------------------------

def workbook_previous(form: Form, data: WorkbookData) -> dict[str, int | Decimal]:
    """Last year's values as the workbook's 上年 cells (prev_<id>) hold them."""
    out: dict[str, int | Decimal] = {}
    if not data.named:
        return out   # a workbook without 上年 cells (most of a round's, before --previous)
    for fid in form.previous_fields:
        raw = data.named.get(form.previous_name(fid))
        v = previous_number(raw.value) if raw is not None and raw.formula is None else None
        if v is not None:
            out[fid] = v
    return out


def previous_values(form: Form, data: WorkbookData, values: Mapping[str, object],
                    previous: PreviousRound | None) -> dict[str, int | Decimal] | None:
    """The values the change rules compare with: last round's output for this unit
    when it is given (``previous``; None when the unit was not in it), else the
    workbook's own 上年 cells (None when it has none)."""
    if previous is not None:
        return previous.values_for(values.get(form.keys["unit"]))
    return workbook_previous(form, data) or None


def check_changes(form: Form, data: WorkbookData, values: Mapping[str, object],
                  previous: Mapping[str, object] | None) -> Iterator[Finding]:
    """The change rules: a value over max_ratio times last year's, or under 1/max_ratio."""
    if not previous:
        return
    for rule in form.changes:
        for fid in rule.fields:
            v, p = values.get(fid), previous.get(fid)
            if not rule.fires(v, p):
                continue
            yield Finding(rule.id, form.catalogue.severity(rule.id), (fid,), (_cell(form, data, fid),),
                          form.field_message(rule.id, fid, "up" if Decimal(v) > Decimal(p) else "down",
                                             value=show_value(v), previous=show_value(p),
                                             previous_label=form.previous.label,
                                             ratio=show_value(rule.max_ratio)))


def check_previous_cells(form: Form, data: WorkbookData,
                         previous: Mapping[str, object] | None) -> Iterator[Finding]:
    """R21: a 上年 cell holding another number than last round's output says."""
    if not previous:
        return
    shown = workbook_previous(form, data)
    edited = [fid for fid, v in shown.items() if previous.get(fid) is None
              or Decimal(previous[fid]) != Decimal(v)]
    if not edited:
        return
    cells = tuple(data.named[form.previous_name(i)].cell for i in edited)
    listed, more = _some(list(zip(edited, cells)), lambda e: (
        f"{e[1]}（“{field_title(form, e[0])}”）应为 {show_value(previous.get(e[0]))}，"
        f"现为 {show_value(shown[e[0]])}"), "处", "；")
    yield Finding("R21", form.catalogue.severity("R21"), tuple(edited), cells,
                  form.catalogue.message("R21", "previous", shown=listed, more=more,
                                         previous_label=form.previous.label))


# -- explanations (审核说明) ------------------------------------------------------------

def explanation_places(form: Form, findings: Iterable[Finding]) -> dict[str, tuple[str, int, int]]:
    """The explanation cells (expl_<code>: their layout cell) these findings may have."""
    codes = {f.code for f in findings if f.severity == WARNING and form.explainable(f.code)}
    places = {}
    for code in form.explanations.codes:
        if code in codes:
            c = explanation_cell(form, code)
            places[form.explanation_name(code)] = (c.sheet, c.row, c.col)
    return places


def explanation_text(form: Form, raw: RawValue | None) -> str | None:
    """The explanation in a cell, if long enough to count (as too_short counts)."""
    if raw is None or raw.value is None or isinstance(raw.value, bool):
        return None
    text = show_value(raw.value) if not isinstance(raw.value, str) else raw.value
    text = text.strip()
    return text if _text_length(text) >= form.explanations.min_length else None


def with_explanations(form: Form, findings: Iterable[Finding],
                      named: Mapping[str, RawValue]) -> list[Finding]:
    """Each explainable warning with its code's explanation (one covers the code)."""
    texts = {c: explanation_text(form, named.get(form.explanation_name(c)))
             for c in form.explanations.codes}
    return [replace(f, explanation=texts[f.code])
            if f.severity == WARNING and texts.get(f.code) else f for f in findings]


def count_explained(findings: Iterable[Finding]) -> int:
    """How many of ``findings`` are warnings the filler explained."""
    return sum(1 for f in findings if f.severity == WARNING and f.explanation)


def all_explained(findings: Sequence[Finding]) -> bool:
    """Only warnings, at least one, and every one explained (status "explained")."""
    return bool(findings) and all(f.severity == WARNING and f.explanation for f in findings)


# -- the workbook as a whole -----------------------------------------------------

def _same_text(a: object, b: object) -> bool:
    """Equal after Unicode normalisation (full/half width) and without whitespace."""
    if a == b:   # the usual case, and normalising every label of every file costs
        return True
    if isinstance(a, str) and isinstance(b, str) and "".join(a.split()) == "".join(b.split()):
        return True  # the line breaks the writer puts in a label (cheaper than normalising)

    def norm(x: object) -> str:
        return "".join(unicodedata.normalize("NFKC", "" if x is None else str(x)).split())
    return norm(a) == norm(b)


def _and_list(items: list[str]) -> str:
    """甲、乙和丙."""
    return items[0] if len(items) == 1 else "、".join(items[:-1]) + "和" + items[-1]


def check_file_name(form: Form, values: Mapping[str, object], file_name: str) -> Iterator[Finding]:
    """R18: the file is named by the definition's pattern after what the table says."""
    roles = ("batch", "category", "unit")
    batch, category, unit = (values.get(form.keys[k]) for k in roles)
    if not all(isinstance(v, str) and v.strip() for v in (batch, category, unit)):
        return  # the missing field's own finding comes first; the name cannot be known
    expected = form.file_stem(str(batch).strip(), str(category).strip(), str(unit).strip())
    path = PurePath(file_name)
    stem = unicodedata.normalize("NFC", path.stem).strip()
    if stem == unicodedata.normalize("NFC", expected):
        return
    fields = tuple(form.keys[k] for k in roles)
    yield Finding("R18", form.catalogue.severity("R18"), fields, (),
                  form.catalogue.message("R18", file=path.name, expected=expected + ".xlsx",
                                         pattern=form.file_name_shown,
                                         fields=_and_list([form.field(i).label for i in fields])))


def check_fill_date(form: Form, data: WorkbookData, values: Mapping[str, object],
                    today: dt.date) -> Iterator[Finding]:
    """R19: the fill date (the date role) lies in the round's window and not in the future."""
    fid = form.role("date")
    if fid is None:
        return
    d = values.get(fid)
    if isinstance(d, dt.datetime):
        d = d.date()
    if not isinstance(d, dt.date):
        return
    cell = _cell(form, data, fid)
    words = dict(label=field_title(form, fid), date=d.isoformat(), today=today.isoformat())
    if d > today:
        yield Finding("R19", form.catalogue.severity("R19"), (fid,), (cell,),
                      form.catalogue.message("R19", "future", **words))
    elif not form.window_start <= d <= form.window_end:
        yield Finding("R19", form.catalogue.severity("R19"), (fid,), (cell,),
                      form.catalogue.message("R19", **words))


def check_identity(form: Form, data: WorkbookData) -> Iterator[Finding]:
    """R20: the workbook says it is this form, in this version."""
    words = dict(title=form.table_title.lstrip("0123456789. "), form_id=form.id,
                 version=form.version, sheet=META_SHEET)
    if data.form_id is None:
        yield Finding("R20", form.catalogue.severity("R20"), (), (), form.catalogue.message("R20", **words))
        return
    if data.form_id != form.id:
        yield Finding("R20", form.catalogue.severity("R20", "other_form"), (), (),
                      form.catalogue.message("R20", "other_form", found=data.form_id, **words))
        return
    if data.form_version is None or data.form_version == form.version:
        return
    variant = "old_version" if data.form_version < form.version else "new_version"
    yield Finding("R20", form.catalogue.severity("R20", variant), (), (),
                  form.catalogue.message("R20", variant, found=data.form_version, **words))


def check_structure(form: Form, data: WorkbookData) -> Iterator[Finding]:
    """R21: labels edited, sheets unprotected or renamed, rows or columns inserted,
    defined names moved. One finding per kind of change, listing the cells."""
    words = form.catalogue
    severity = words.severity("R21")
    edited = [c for c in form.label_cells()
              if c.address in data.labels and not _same_text(data.labels[c.address], c.text)]
    if edited:
        shown, more = _some(edited, lambda c: f"{_label_cell(form, data, c)} 应为“{_clip(c.text)}”，"
                            f"现为“{_clip(data.labels[c.address]) or '（空）'}”", "处", "；")
        yield Finding("R21", severity, (), tuple(_label_cell(form, data, c) for c in edited),
                      words.message("R21", "labels", shown=shown, more=more))

    renamed = [s.name for s in form.sheets if data.sheet_names and s.name not in data.sheet_names]
    if renamed:
        yield Finding("R21", severity, (), (), words.message("R21", "renamed", sheets=_listed(renamed)))

    # Sheet protection only: LibreOffice drops the workbook's structure lock on
    # every save, so its absence says nothing about the filler.
    unprotected = [name for name, protected in data.sheet_protected.items() if not protected]
    if unprotected:
        yield Finding("R21", severity, (), (),
                      words.message("R21", "unprotected", sheets=_listed(unprotected)))

    shifted = [f.id for f in form.fields if f.id in data.shifted]
    if shifted:
        listed, more = _some(shifted, lambda i: f"{form.input_cell(i).address}→{_cell(form, data, i)}",
                             "处")
        yield Finding("R21", severity, tuple(shifted), tuple(_cell(form, data, i) for i in shifted),
                      words.message("R21", "shifted", shown=listed, more=more))

    moved = [f.id for f in form.fields if f.id in data.moved]
    if moved:
        listed, more = _some(moved, lambda i: f"“{field_title(form, i)}”", "项")
        yield Finding("R21", severity, tuple(moved), tuple(_cell(form, data, i) for i in moved),
                      words.message("R21", "moved", shown=listed, more=more))


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
    meta = data.meta or {}
    for key in ("unit", "batch", "category"):
        fid = form.keys[key]
        expected = meta.get(PREFILL_PREFIX + fid)
        got = values.get(fid)
        if _is_blank(expected) or _is_blank(got) or _same_text(expected, got):
            continue
        unit = meta.get(PREFILL_PREFIX + form.keys["unit"]) or expected
        yield Finding("R22", form.catalogue.severity("R22"), (fid,), (_cell(form, data, fid),),
                      form.catalogue.message("R22", unit=unit, label=field_title(form, fid),
                                             expected=expected, value=show_value(got)))


# -- all checks ------------------------------------------------------------------

def _sort_key(form: Form) -> Callable[[Finding], tuple]:
    def key(f: Finding) -> tuple:
        where = _position(f.cells[0], form) if f.cells else (-1, 0, 0)
        return (where, f.code, f.fields, f.message)
    return key


def inspect_workbook(form: Form, data: WorkbookData, file_name: str,
                     today: dt.date | None = None, previous: PreviousRound | None = None
                     ) -> tuple[dict[str, object], list[Finding]]:
    """The clean values (by field id) and every finding, in a fixed order.

    ``previous``: last round's output (``--previous``); without it the change rules
    compare with the workbook's own 上年 cells.
    """
    today = today or dt.date.today()
    values, findings = clean_values(form, data)
    unreadable = {i for f in findings for i in f.fields}
    last_year = previous_values(form, data, values, previous)
    checks: Iterable[Finding] = (
        *check_identity(form, data),
        *check_structure(form, data),
        *check_previous_cells(form, data, last_year if previous is not None else None),
        *check_required(form, data, values, unreadable),
        *check_lengths(form, data, values),
        *check_rules(form, data, values),
        *check_changes(form, data, values, last_year),
        *check_file_name(form, values, file_name),
        *check_fill_date(form, data, values, today),
        *check_prefill(form, data, values),
    )
    findings.extend(checks)
    findings.sort(key=_sort_key(form))
    return values, findings


def check_workbook(form: Form, data: WorkbookData, file_name: str,
                   today: dt.date | None = None, previous: PreviousRound | None = None
                   ) -> list[Finding]:
    """Every finding for one workbook read by :func:`xlsx_tools.read.read_workbook`
    (with its 上年 cells among ``named`` for the change rules to see them)."""
    return inspect_workbook(form, data, file_name, today, previous)[1]
