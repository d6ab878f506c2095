"""The form definition: every field, the layout of every sheet, the rules, the roster.

One TOML file under ``xlsx_tools/forms/`` describes a year's statistics table.
:func:`load_form` turns it (or another file, a TOML text, or a dict) into a
:class:`Form` whose layout is already resolved to cells, so the writer puts each
input where the reader will look for it, and the checks and the merge take labels,
types, rules and words from the same place. A definition that does not fit
together is refused with a :class:`FormError` saying what is wrong, in Chinese.

Code that must know what a field means asks for its role (``form.keys``: the
unit, the batch, the category, the recommending unit, the fill date), never for
an id.
"""

from __future__ import annotations

import datetime as dt
import re
import string
import tomllib
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from decimal import Decimal, InvalidOperation
from typing import Any, Iterator

from . import expr as ex
from .catalogue import CATALOGUE, Catalogue, CatalogueError, render

__all__ = [
    "Form", "Field", "Rule", "ChangeRule", "Explanations", "PreviousSettings", "Period", "Sheet",
    "Cell", "RosterColumn", "FormError", "load_form",
    "DEFAULT_FORM", "ROLES", "NAME_PREFIX", "META_SHEET", "META_KEYS", "META_MAP_HEADER",
    "PREFILL_PREFIX", "PREVIOUS_PREFIX", "EXPLANATION_PREFIX", "SHEET_TYPES",
    "cell_name", "parse_cell", "column_number",
]

DEFAULT_FORM = "itbps-2022"

# Every input cell carries a workbook-level defined name NAME_PREFIX + field id;
# the prefix keeps ids such as ``fax1`` from reading as cell addresses.
NAME_PREFIX = "fld_"
# Last year's value of a numeric field (pre-filled workbooks, generate --previous) is
# named PREVIOUS_PREFIX + field id; the filler's explanation of a warning code (审核说明)
# EXPLANATION_PREFIX + code.
PREVIOUS_PREFIX = "prev_"
EXPLANATION_PREFIX = "expl_"

# The hidden sheet holding the form's identity and the field-to-cell map: keys in
# its column A (values in column B), then the field map under a header row.
META_SHEET = "表单信息"
META_IDENTITY = {"form_id": "表单标识", "form_version": "表单版本"}
# A pre-filled value is kept under PREFILL_PREFIX + field id, titled after the roster
# column it came from ("预填" + header).
PREFILL_PREFIX = "prefill_"
PREFILL_TITLE = "预填{header}"
META_MAP_HEADER = ("字段标识", "工作表", "单元格", "标签")

# The roles code may ask a form for (the table's own ids stay in the definition).
#   unit, batch, category: who sends the table, in which batch, of which kind (required);
#   recommending: the unit that checks it; date: the fill date R19 checks (optional).
ROLES = ("unit", "batch", "category", "recommending", "date")
REQUIRED_ROLES = ("unit", "batch", "category")

TYPES = ("text", "longtext", "int", "amount", "date", "phone", "mobile", "email",
         "postcode", "choice")
NUMERIC_TYPES = ("int", "amount")
# Types whose clean value the checks inside the workbook compute as validate does: a
# rule over other types (dates, phone numbers...) is validate's only.
SHEET_TYPES = ("int", "amount", "choice", "text", "longtext")


class FormError(ValueError):
    """A form definition that cannot be used; the message says why, in Chinese."""


# -- cell references -------------------------------------------------------------

def cell_name(row: int, col: int, absolute: bool = False) -> str:
    """(1-based row, 1-based col) -> 'C5' (or '$C$5')."""
    letters = ""
    n = col
    while n:
        n, rem = divmod(n - 1, 26)
        letters = chr(65 + rem) + letters
    return f"${letters}${row}" if absolute else f"{letters}{row}"


def column_number(letters: str) -> int:
    """'A' -> 1, 'AA' -> 27 (the one place column letters are read)."""
    col = 0
    for ch in letters.upper():
        col = col * 26 + ord(ch) - 64
    return col


_CELL = re.compile(r"^\$?([A-Z]{1,3})\$?(\d+)$")


def parse_cell(ref: str) -> tuple[int, int]:
    """'C5' or '$C$5' -> (5, 3)."""
    m = _CELL.match(ref.upper())
    if not m:
        raise ValueError(f"not a cell reference: {ref!r}")
    return int(m.group(2)), column_number(m.group(1))


# -- the parts of a form ------------------------------------------------------------

@dataclass(frozen=True)
class Cell:
    """One cell of the resolved layout (top-left of its merged range)."""
    sheet: str
    row: int            # 1-based
    col: int            # 1-based
    kind: str           # label | input | previous | show | blank | heading | special
    text: str = ""      # label/heading text, the special's name, or the field id
    width: int = 1      # columns spanned
    height: int = 1     # rows spanned (labels continued with "^")

    @property
    def ref(self) -> str:
        return cell_name(self.row, self.col)

    @property
    def address(self) -> str:
        """As in findings: 统计表!D20."""
        return f"{self.sheet}!{self.ref}"

    @property
    def last_row(self) -> int:
        return self.row + self.height - 1

    @property
    def last_col(self) -> int:
        return self.col + self.width - 1


@dataclass(frozen=True)
class Field:
    id: str
    section: str
    label: str
    type: str
    choices: tuple[str, ...] = ()
    unit: str = ""
    required: bool = True
    required_when: ex.Expr | None = None
    required_when_text: str = ""
    required_code: str = "missing"
    required_message: str = ""
    note: str = ""
    max_length: int | None = None
    min_length: int | None = None
    # A choice shown with a suffix (a category "X" shown as "X类"), which is also accepted
    # when typed.
    suffix: str = ""
    # How a number's unit may be written after it ("12万" for 万元), longest first.
    unit_spellings: tuple[str, ...] = ()
    # The name lists and summaries give it where its label needs the row beside it to be
    # understood ("原值" of what); "" for its label (told apart where two share one).
    title: str = ""

    @property
    def numeric(self) -> bool:
        return self.type in NUMERIC_TYPES

    @property
    def defined_name(self) -> str:
        return NAME_PREFIX + self.id

    def shown(self, choice: str) -> str:
        """A choice as the table shows it, suffix included."""
        return choice + self.suffix

    def accepted(self, choice: str) -> tuple[str, ...]:
        """The texts read as ``choice``: itself, and with its suffix."""
        return (choice, choice + self.suffix) if self.suffix else (choice,)


@dataclass(frozen=True)
class Rule:
    id: str
    severity: str            # error | warning
    check: ex.Expr
    message: str
    when: ex.Expr | None = None
    check_text: str = ""
    when_text: str = ""
    title: str = ""

    @property
    def fields(self) -> list[str]:
        ids = ex.fields_of(self.when) if self.when is not None else []
        return ids + [f for f in ex.fields_of(self.check) if f not in ids]


@dataclass(frozen=True)
class ChangeRule:
    """A value far from last year's: over ``max_ratio`` times it or under 1/``max_ratio``
    of it, with either above ``floor`` (a warning under its own code, one finding per field)."""
    id: str
    fields: tuple[str, ...]
    max_ratio: Decimal
    floor: Decimal
    title: str = ""
    message: str = ""

    def fires(self, value: object, previous: object) -> bool:
        """Does the rule fire for this year's ``value`` against last year's ``previous``?
        (Either blank or not a number: no.)"""
        if not _is_number(value) or not _is_number(previous):
            return False
        v, p = Decimal(str(value)), Decimal(str(previous))
        return max(v, p) > self.floor and (v > self.max_ratio * p or v * self.max_ratio < p)


def _is_number(v: object) -> bool:
    return isinstance(v, (int, Decimal)) and not isinstance(v, bool)


@dataclass(frozen=True)
class Explanations:
    """Which warnings the filler may explain (审核说明) in the workbook, and how long an
    explanation must be (characters, spaces and line breaks not counted, as too_short
    counts). One explanation per code covers every finding of that code."""
    codes: tuple[str, ...] = ()
    min_length: int = 10
    max_length: int = 500


@dataclass(frozen=True)
class PreviousSettings:
    """Last year beside this year: the word before last year's values (上年), and the
    roster column (by its key) that gives a unit's name in last year's round."""
    label: str = "上年"
    name_key: str = ""


@dataclass(frozen=True)
class Period:
    name: str
    batches: tuple[str, ...]
    start: dt.date
    end: dt.date

    @property
    def text(self) -> str:
        return f"{cn_date(self.start)}至{cn_date(self.end)}"


def cn_date(d: dt.date) -> str:
    return f"{d.year}年{d.month}月{d.day}日"


@dataclass(frozen=True)
class Sheet:
    name: str
    columns: int
    widths: tuple[float, ...]
    cells: tuple[Cell, ...]
    rows: int                              # rows used
    page_breaks: tuple[int, ...] = ()      # rows before which a page starts


@dataclass(frozen=True)
class RosterColumn:
    """One column of the roster: its header (and other spellings), what it fills."""
    header: str
    aliases: tuple[str, ...] = ()
    field: str | None = None    # the field id it pre-fills; None for a column that is not a field
    key: str = ""               # where a column that is not a field goes in RosterEntry.extra
    required: bool = True

    @property
    def names(self) -> tuple[str, ...]:
        return (self.header, *self.aliases)


@dataclass
class Form:
    id: str
    version: int
    title: str
    table_title: str
    issuer: str
    notice: str
    window_start: dt.date
    window_end: dt.date
    file_name: str
    password: str
    keys: dict[str, str]
    fields: list[Field]
    rules: list[Rule]
    periods: list[Period]
    cover: Sheet
    table: Sheet
    notes: list[str]
    declaration: dict[str, Any]
    instructions: dict[str, Any]
    source: Path | None
    # Tables of the definition that later stages read for themselves ([merge]).
    merge_settings: dict[str, Any] = field(default_factory=dict)
    roster_columns: tuple[RosterColumn, ...] = ()
    file_name_shown: str = ""
    example_date: dt.date | None = None
    cover_title: str = ""
    changes: list[ChangeRule] = field(default_factory=list)
    explanations: Explanations = field(default_factory=Explanations)
    previous: PreviousSettings = field(default_factory=PreviousSettings)
    catalogue: Catalogue = field(default_factory=Catalogue)
    by_id: dict[str, Field] = field(default_factory=dict)
    _inputs: dict[str, Cell] = field(default_factory=dict)
    _previous_cells: dict[str, Cell] = field(default_factory=dict)
    _titles: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.by_id = {f.id: f for f in self.fields}
        self._inputs = {c.text: c for s in (self.cover, self.table)
                        for c in s.cells if c.kind == "input"}
        self._previous_cells = {c.text: c for s in (self.cover, self.table)
                                for c in s.cells if c.kind == "previous"}

    def field(self, field_id: str) -> Field:
        return self.by_id[field_id]

    def role(self, name: str) -> str | None:
        """The field id playing a role (``ROLES``), or None where the form has none."""
        return self.keys.get(name)

    def role_field(self, name: str) -> Field | None:
        fid = self.keys.get(name)
        return self.by_id[fid] if fid else None

    @property
    def sheets(self) -> list[Sheet]:
        return [self.cover, self.table]

    def input_cell(self, field_id: str) -> Cell:
        """Where the field is entered (its defined name points here)."""
        return self._inputs[field_id]

    def previous_cell(self, field_id: str) -> Cell | None:
        """Where last year's value of the field is shown (a "~field" of the layout), if anywhere."""
        return self._previous_cells.get(field_id)

    @property
    def previous_fields(self) -> list[str]:
        """The fields shown with last year's value beside them, in the definition's order."""
        return [f.id for f in self.fields if f.id in self._previous_cells]

    def previous_name(self, field_id: str) -> str:
        """The defined name of the field's 上年 cell (prev_<id>)."""
        return PREVIOUS_PREFIX + field_id

    def explainable(self, code: str) -> bool:
        """May a warning of this code be explained in the workbook (审核说明)?"""
        return code in self.explanations.codes

    def explanation_name(self, code: str) -> str:
        """The defined name of the code's explanation cell (expl_<code>)."""
        return EXPLANATION_PREFIX + code

    def sheet_computes(self, field_ids: Iterable[str]) -> bool:
        """Whether the workbook's own checks can evaluate a rule over these fields: their
        types are those whose clean value the sheet computes as validate does (rules over
        dates, phone numbers... are left to validate)."""
        return all(self.field(i).type in SHEET_TYPES for i in field_ids)

    def sheet_warning_codes(self) -> list[str]:
        """The codes of every warning the checks inside the workbook can raise: the
        warning rules over fields the sheet computes, too_short where a summary has a
        least length, and the change rules (in that order)."""
        codes = [r.id for r in self.rules if r.severity == "warning" and self.sheet_computes(r.fields)]
        if any(f.type == "longtext" and f.min_length is not None for f in self.fields):
            codes.append("too_short")
        codes += [c.id for c in self.changes]
        return list(dict.fromkeys(codes))

    def show_cells(self, field_id: str) -> list[Cell]:
        """Other places showing the field's value (formulas)."""
        return [c for s in self.sheets for c in s.cells if c.kind == "show" and c.text == field_id]

    def label_cells(self) -> list[Cell]:
        """Every fixed text of the layout (what R21 compares)."""
        return [c for s in self.sheets for c in s.cells if c.kind in ("label", "heading")]

    def label_for(self, field_id: str) -> list[str]:
        """The labels left of a field's input in its row, nearest first.

        For a field inside a group (a label spanning several rows on the left) the
        group's label follows its own.
        """
        target = self.input_cell(field_id)
        sheet = self.cover if target.sheet == self.cover.name else self.table
        out = []
        for c in sorted(sheet.cells, key=lambda c: -c.col):
            if c.kind == "label" and c.col < target.col and c.row <= target.row <= c.last_row:
                out.append(c.text)
        return out

    def field_title(self, field_id: str) -> str:
        """The field's ``title`` if the definition gives one, else its label, made
        unambiguous where two inputs share one.

        A label used by several inputs is told apart by the first other label in
        each one's row (its group); a label of parts ("A/B") labelling that many
        inputs is named by its parts in order.
        """
        if not self._titles:
            self._titles = self._make_titles()
        return self._titles[field_id]

    def _make_titles(self) -> dict[str, str]:
        by_label: dict[str, list[Field]] = {}
        for f in self.fields:
            by_label.setdefault(f.label, []).append(f)
        order = [s.name for s in self.sheets]
        titles = {}
        for label, fields in by_label.items():
            if len(fields) == 1:
                titles[fields[0].id] = label
                continue
            parts = label.split("/")
            ordered = sorted(fields, key=lambda f: (order.index(self.input_cell(f.id).sheet),
                                                    self.input_cell(f.id).row,
                                                    self.input_cell(f.id).col))
            for i, f in enumerate(ordered):
                context = self.label_for(f.id)[1:]
                if context:
                    titles[f.id] = f"{context[0]}—{label}"
                elif len(parts) == len(ordered):
                    titles[f.id] = parts[i]
                else:
                    titles[f.id] = f"{label}（{self.input_cell(f.id).ref}）"
        titles.update({f.id: f.title for f in self.fields if f.title})
        return titles

    def field_message(self, code: str, field_id: str, variant: str | None = None,
                      keep_unknown: bool = False, **params: object) -> str:
        """A finding's message about one field in this form's words: the field's title,
        unit, choices and its type's example filled in (the variant defaults to the
        field's type). With ``keep_unknown`` a placeholder not given stays as it is, for
        the checks in the workbook to fill with a cell."""
        f = self.field(field_id)
        words = self.catalogue.type_words(f.type)
        given = {"label": self.field_title(field_id), "unit": f.unit or ("个" if f.type == "int" else ""),
                 "choices": "、".join(f"“{c}”" for c in f.choices), "min": f.min_length or "",
                 "example": words.get("example", ""), **params}
        return render(self.catalogue.template(code, variant or f.type),
                      {**self.catalogue.all_context(), **given}, keep_unknown)

    def period_for(self, batch: str | None) -> Period | None:
        for p in self.periods:
            if batch in p.batches:
                return p
        return None

    @property
    def batches(self) -> tuple[str, ...]:
        return self.field(self.keys["batch"]).choices

    @property
    def categories(self) -> tuple[str, ...]:
        return self.field(self.keys["category"]).choices

    def listing_key(self, batch: object, category: object, *rest: object) -> tuple:
        """Where a file or unit goes in every listing: the batch field's choice order, then
        the category's, then ``rest`` (the unit name, ...); a value that is none of the
        choices after them all (never the characters' code order)."""
        batches, cats = self.batches, self.categories
        return (batches.index(batch) if batch in batches else len(batches),
                cats.index(category) if category in cats else len(cats), *rest)

    def name_parts(self, file_name: str) -> dict[str, str]:
        """batch, category and unit (the roles) from a file's name, by the definition's pattern."""
        stem = unicodedata.normalize("NFKC", Path(file_name).stem).strip()
        for batch in self.batches:
            for cat in self.categories:
                prefix, _, suffix = self.file_stem(batch, cat, "\0").partition("\0")
                prefix, suffix = unicodedata.normalize("NFKC", prefix), unicodedata.normalize("NFKC", suffix)
                if (stem.startswith(prefix) and stem.endswith(suffix)
                        and len(stem) > len(prefix) + len(suffix)):
                    unit = stem[len(prefix):len(stem) - len(suffix)] if suffix else stem[len(prefix):]
                    return {"batch": batch, "category": cat, "unit": unit.strip()}
        return {}

    @property
    def output_time(self) -> dt.datetime:
        """The time stamped on what is made from returned files (reports, copies, summaries):
        the round's last day, so the same inputs give the same bytes."""
        return dt.datetime.combine(self.window_end, dt.time())

    @property
    def window_text(self) -> str:
        return f"{self.window_start.isoformat()} 至 {self.window_end.isoformat()}"

    def file_stem(self, batch: str, category: str, unit: str) -> str:
        """The file's name without .xlsx, by the definition's pattern (第X批-XXX类-单位名称)."""
        return self.file_name.format_map(_Roles(self, {"batch": batch, "category": category,
                                                       "unit": unit}))

    # -- the roster and what it pre-fills ------------------------------------

    @property
    def prefill_fields(self) -> list[str]:
        """Field ids the roster pre-fills, in the roster's column order."""
        return [c.field for c in self.roster_columns if c.field]

    @property
    def contact_columns(self) -> list[RosterColumn]:
        """The roster's columns on how to reach a unit (the 催报 list's): those that are not
        fields, but for last year's name ([previous] name_key)."""
        return [c for c in self.roster_columns if c.key and not c.field and c.key != self.previous.name_key]

    def roster_column(self, field_id: str) -> RosterColumn | None:
        return next((c for c in self.roster_columns if c.field == field_id), None)

    @property
    def meta_keys(self) -> dict[str, str]:
        """Keys of the hidden sheet -> the titles in its column A (identity, then prefills)."""
        out = dict(META_IDENTITY)
        for c in self.roster_columns:
            if c.field:
                out[PREFILL_PREFIX + c.field] = PREFILL_TITLE.format(header=c.header)
        return out

    def column_header(self, role: str) -> str:
        """What a role's column is called in tables: its roster header, else its label."""
        fid = self.keys.get(role)
        if not fid:
            return ""
        column = self.roster_column(fid)
        return column.header if column else self.field(fid).label


class _Roles(dict):
    """str.format_map values for a file-name pattern, by field id, from the roles."""

    def __init__(self, form: Form, by_role: Mapping[str, str]):
        super().__init__({form.keys[r]: v for r, v in by_role.items() if r in form.keys})


class _ShippedMetaKeys(Mapping):
    """The shipped form's :attr:`Form.meta_keys`, worked out on first use.

    Kept for readers of workbooks that do not hold a Form at hand; with one, use
    ``form.meta_keys``.
    """

    def _keys(self) -> dict[str, str]:
        return load_form().meta_keys

    def __getitem__(self, key: str) -> str:
        return self._keys()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys())

    def __len__(self) -> int:
        return len(self._keys())

    def __repr__(self) -> str:
        return repr(self._keys())


META_KEYS: Mapping[str, str] = _ShippedMetaKeys()


# -- loading --------------------------------------------------------------------------

_TOKEN = re.compile(r"^(?P<kind>[@~=#!^-]?)(?P<text>.*?)(?:\|(?P<span>\d+))?$", re.S)


def _resolve_sheet(name: str, spec: dict, start_row: int = 1) -> Sheet:
    columns = spec["columns"]
    cells: list[Cell] = []
    breaks: list[int] = []
    # The label cell at each column, to extend downwards when a "^" follows.
    above: dict[int, int] = {}
    row = start_row
    for tokens in spec.get("rows", []):
        col = 1
        current: dict[int, int] = {}
        for token in tokens:
            m = _TOKEN.match(token)
            kind, text = m.group("kind"), m.group("text")
            span = int(m.group("span") or 1)
            if kind == "#":
                cells.append(Cell(name, row, 1, "heading", text, columns))
                span = columns
            elif kind == "^":
                idx = above.get(col)
                if idx is None:
                    raise FormError(f"工作表“{name}”第 {row} 行：“^”的上方没有可以延续的标签。")
                c = cells[idx]
                cells[idx] = Cell(c.sheet, c.row, c.col, c.kind, c.text, c.width, c.height + 1)
                current[col] = idx
                span = c.width
            elif kind == "!" and text == "pagebreak":
                breaks.append(row)
                span = columns
                row -= 1  # a page break takes no row
            elif kind == "!":
                cells.append(Cell(name, row, col, "special", text, span))
            elif kind == "@":
                cells.append(Cell(name, row, col, "input", text, span))
            elif kind == "~":
                cells.append(Cell(name, row, col, "previous", text, span))
            elif kind == "=":
                cells.append(Cell(name, row, col, "show", text, span))
            elif kind == "-" and text == "":
                cells.append(Cell(name, row, col, "blank", "", span))
            else:
                cells.append(Cell(name, row, col, "label", token.split("|")[0], span))
                current[col] = len(cells) - 1
            col += span
        if tokens and col - 1 > columns:
            raise FormError(f"工作表“{name}”第 {row} 行占了 {col - 1} 列，而工作表只有 {columns} 列。")
        above = current
        row += 1
    widths = tuple(spec.get("widths") or [12] * columns)
    if len(widths) != columns:
        raise FormError(f"工作表“{name}”的 widths 有 {len(widths)} 项，应与 columns（{columns}）相同。")
    return Sheet(name, columns, widths, tuple(cells), row - 1, tuple(breaks))


# A form may leave out its cover: a plain one with the title is made.
_DEFAULT_COVER = {"sheet": "封面", "columns": 4, "widths": [8, 24, 46, 8],
                  "rows": [[], [], ["-", "!title|2", "-"], [], []]}


def _field(raw: dict, types: dict, units: Mapping[str, list[str]]) -> Field:
    t = raw["type"]
    if t not in TYPES:
        raise FormError(f"字段 {raw['id']} 的类型“{t}”无效，可用：{'、'.join(TYPES)}。")
    limits = types.get(t, {})
    when = raw.get("required_when")
    unit = raw.get("unit", "")
    spellings = tuple(sorted(units.get(unit, [unit]) if unit else [], key=len, reverse=True))
    return Field(
        id=raw["id"], section=raw.get("section", ""), label=raw["label"], type=t,
        choices=tuple(raw.get("choices", ())), unit=unit,
        required=bool(raw.get("required", False)) or when is not None,
        required_when=ex.parse(when) if when else None,
        required_when_text=when or "",
        required_code=raw.get("required_code", "missing"),
        required_message=raw.get("required_message", ""),
        note=raw.get("note", ""),
        max_length=raw.get("max_length", limits.get("max_length")),
        min_length=raw.get("min_length", limits.get("min_length")),
        suffix=raw.get("suffix", ""),
        unit_spellings=spellings,
        title=raw.get("title", ""),
    )


def _roster(data: dict, keys: dict[str, str], by_id: dict[str, Field]) -> tuple[RosterColumn, ...]:
    """The roster's columns; by default one per role field, headed by its label."""
    raw = (data.get("roster") or {}).get("columns")
    if raw is None:
        return tuple(RosterColumn(by_id[keys[r]].label, field=keys[r])
                     for r in ("unit", "batch", "category", "recommending") if keys.get(r))
    columns = []
    for i, c in enumerate(raw, start=1):
        if "header" not in c:
            raise FormError(f"[[roster.columns]] 第 {i} 项缺少 header（表头）。")
        fills = c.get("fills")
        target = keys.get(fills, fills) if fills else None
        if target is not None and target not in by_id:
            raise FormError(f"名单列“{c['header']}”的 fills = “{fills}”既不是角色也不是字段标识。")
        key = c.get("key", "")
        if target is None and not key:
            raise FormError(f"名单列“{c['header']}”须有 fills（填入的字段或角色）"
                            "或 key（不是字段的列的名称）。")
        columns.append(RosterColumn(c["header"], tuple(c.get("aliases", ())), target, key,
                                    bool(c.get("required", target is not None))))
    return tuple(columns)


def _date(meta: dict, key: str, where: str) -> dt.date:
    v = meta[key]
    if isinstance(v, dt.date):
        return v
    try:
        return dt.date.fromisoformat(str(v))
    except ValueError:
        raise FormError(f"{where} 中的 {key} = “{v}”不是日期，应写作 2000-01-31 的形式。") from None


def _check(form: Form) -> None:
    """Refuse a definition whose parts do not fit together."""
    ids = set(form.by_id)
    inputs = [c.text for s in form.sheets for c in s.cells if c.kind == "input"]
    missing = sorted(ids - set(inputs))
    extra = sorted(set(inputs) - ids)
    twice = sorted({i for i in inputs if inputs.count(i) > 1})
    if extra:   # first: a misspelt "@id" is also a field without its input
        raise FormError(f"版式中的填写单元格“@{extra[0]}”不是已定义的字段。")
    if missing:
        raise FormError(f"版式中没有这些字段的填写单元格：{'、'.join(missing)}。")
    if twice:
        raise FormError(f"字段 {'、'.join(twice)} 在版式中有不止一个填写单元格。")
    shows = {c.text for s in form.sheets for c in s.cells if c.kind == "show"}
    if shows - ids:
        raise FormError(f"版式中的显示单元格“={sorted(shows - ids)[0]}”不是已定义的字段。")
    seen: set[str] = set()
    for f in form.fields:
        if f.id in seen:
            raise FormError(f"字段标识 {f.id} 定义了两次。")
        seen.add(f.id)
        if f.type == "choice" and not f.choices:
            raise FormError(f"选择项字段 {f.id} 没有 choices。")
        if f.required_when is not None:
            unknown = set(ex.fields_of(f.required_when)) - ids
            if unknown:
                raise FormError(f"字段 {f.id} 的 required_when 用到了未定义的字段："
                                f"{'、'.join(sorted(unknown))}。")
    for r in form.rules:
        if r.severity not in ("error", "warning"):
            raise FormError(f"规则 {r.id} 的 severity 应为 error 或 warning，而不是“{r.severity}”。")
        unknown = set(r.fields) - ids
        if unknown:
            raise FormError(f"规则 {r.id} 用到了未定义的字段：{'、'.join(sorted(unknown))}。")
    for role in form.keys:
        if role not in ROLES:
            raise FormError(f"[form.keys] 中的 {role} 不是可用的角色（{'、'.join(ROLES)}）。")
    for role in ("batch", "category"):
        if form.role_field(role).type != "choice":
            raise FormError(f"{_ROLE_WORDS[role]}字段 {form.keys[role]} 须为选择项（choice）。")
    if form.keys.get("date") and form.role_field("date").type != "date":
        raise FormError(f"{_ROLE_WORDS['date']}字段 {form.keys['date']} 须为日期（date）。")
    names = [n for _, n, _, _ in string.Formatter().parse(form.file_name) if n is not None]
    allowed = {form.keys[r] for r in REQUIRED_ROLES}
    if form.keys["unit"] not in names or set(names) - allowed:
        raise FormError(f"文件名格式“{form.file_name}”须含有 {{{form.keys['unit']}}}，"
                        f"且只能用 {'、'.join('{' + a + '}' for a in sorted(allowed))}。")
    if not form.window_start <= form.window_end:
        raise FormError("填报时间的开始日期（window_start）晚于结束日期（window_end）。")
    headers = [n for c in form.roster_columns for n in c.names]
    if len(set(headers)) != len(headers):
        raise FormError("名单的列名（含别名）有重复。")
    for role in REQUIRED_ROLES:
        if form.roster_column(form.keys[role]) is None:
            raise FormError(f"名单须有一列填入{_ROLE_WORDS[role]}（{form.keys[role]}）。")
    for p in form.periods:
        wrong = set(p.batches) - set(form.batches)
        if wrong:
            raise FormError(f"统计时间区间“{p.name}”列出的批次不在可选范围：{'、'.join(sorted(wrong))}。")
    _check_previous(form)


def _check_previous(form: Form) -> None:
    """The 上年 cells ("~field") and the change rules ([[changes]]) fit the layout."""
    seen: set[str] = set()
    for s in form.sheets:
        for c in s.cells:
            if c.kind != "previous":
                continue
            f = form.by_id.get(c.text)
            if f is None:
                raise FormError(f"版式中的上年单元格“~{c.text}”不是已定义的字段。")
            if not f.numeric:
                raise FormError(f"上年单元格“~{c.text}”只能用于数字项（int 或 amount），"
                                f"而 {c.text} 是 {f.type}。")
            if c.text in seen:
                raise FormError(f"字段 {c.text} 在版式中有不止一个上年单元格。")
            seen.add(c.text)
            i = form.input_cell(c.text)
            if (i.sheet, i.row, i.last_col + 1, i.height) != (c.sheet, c.row, c.col, 1):
                raise FormError(f"上年单元格“~{c.text}”须紧接在同一行的“@{c.text}”右侧。")
    ids = {r.id for r in form.rules} | {f.required_code for f in form.fields}
    for rule in form.changes:
        if rule.id in ids:
            raise FormError(f"变化规则 {rule.id} 的代码已被别的规则使用。")
        ids.add(rule.id)
        if not rule.fields:
            raise FormError(f"变化规则 {rule.id} 没有列出字段（fields）。")
        for fid in rule.fields:
            if fid not in form.by_id:
                raise FormError(f"变化规则 {rule.id} 用到了未定义的字段：{fid}。")
            if form.previous_cell(fid) is None:
                raise FormError(f"变化规则 {rule.id} 的字段 {fid} 在版式中没有上年单元格（“~{fid}”）。")
        if rule.max_ratio <= 1:
            raise FormError(f"变化规则 {rule.id} 的 max_ratio 须大于 1。")
    key = form.previous.name_key
    if key and key not in {c.key for c in form.roster_columns if not c.field}:
        raise FormError(f"[previous] 的 name_key = “{key}”不是名单中任何一列的 key。")


def _check_explanations(form: Form) -> None:
    """Only a warning the workbook's own checks raise can be explained there."""
    possible = form.sheet_warning_codes()
    for code in form.explanations.codes:
        if code not in possible:
            raise FormError(f"[explanations] 中的 {code} 不是表内检查会给出的警告"
                            f"（可用：{'、'.join(possible) or '无'}）。")
        if form.catalogue.severity(code) != "warning":
            raise FormError(f"[explanations] 中的 {code} 是错误，错误不能以说明代替修改。")
    e = form.explanations
    if not 1 <= e.min_length <= e.max_length:
        raise FormError("[explanations] 的 min_length 须不小于 1，且不大于 max_length。")


# How FormError names a role.
_ROLE_WORDS = {"unit": "填报单位（unit）", "batch": "批次（batch）", "category": "类别（category）",
               "recommending": "审核单位（recommending）", "date": "日期（date）"}


def _catalogue(form: Form, data: dict) -> Catalogue:
    """The toolkit's catalogue with this form's codes and words added."""
    cat = CATALOGUE.child({"example_date": form.example_date.isoformat(),
                           "window": form.window_text})
    for r in form.rules:
        cat.register(r.id, r.severity, r.title or None, source="rule")
    for c in form.changes:
        words = {"default": c.message} if c.message else dict(CATALOGUE.get("change").messages)
        cat.register(c.id, "warning", c.title or None, words, source="change")
    for f in form.fields:
        if f.required_code != "missing":
            cat.register(f.required_code, "error", source="rule")
    if data.get("catalogue"):
        cat.override(data["catalogue"])
    return cat


def load_form(source: str | Path | Mapping[str, Any] = DEFAULT_FORM) -> Form:
    """Load a form definition.

    ``source`` is the id of a shipped form (``"itbps-2022"``), the path of a TOML
    file, the text of one, or the definition as a dict (as tomllib gives it).
    A definition that cannot be used raises :class:`FormError` (Chinese message).
    """
    if isinstance(source, Mapping):
        return _build(dict(source), None, "（内联定义）")
    if isinstance(source, Path) or str(source).endswith(".toml"):
        path = Path(source)
        if not path.is_file():
            raise FormError(f"找不到表单定义文件“{path}”。")
        return _load_file(path.resolve())
    text = str(source)
    if "\n" in text or "=" in text:
        return _build(_parse(text, "（内联定义）"), None, "（内联定义）")
    return _load_shipped(text)


@cache
def _load_shipped(name: str) -> Form:
    ref = resources.files("xlsx_tools") / "forms" / f"{name}.toml"
    if not ref.is_file():
        raise FormError(f"没有名为“{name}”的表单定义。请给出表单定义文件（.toml）的路径。")
    return _load_file(Path(str(ref)))


def _load_file(path: Path) -> Form:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise FormError(f"表单定义“{path.name}”不是 UTF-8 编码的文本文件。") from None
    except OSError as e:
        raise FormError(f"无法读取表单定义“{path}”（{e.strerror or e}）。") from None
    return _build(_parse(text, f"“{path.name}”"), path, f"“{path.name}”")


_AT_LINE = re.compile(r"\(at line (\d+), column (\d+)\)")


def _parse(text: str, where: str) -> dict:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        m = _AT_LINE.search(str(e))
        place = f"第 {m.group(1)} 行第 {m.group(2)} 列" if m else ""
        raise FormError(f"表单定义{where}{place}不是有效的 TOML，请检查引号、括号和等号。") from None


def _build(data: dict, path: Path | None, where: str) -> Form:
    try:
        return _make(data, path)
    except FormError as e:
        raise FormError(f"表单定义{where}有误：{e}") from None
    except (ex.ExpressionError, CatalogueError) as e:
        raise FormError(f"表单定义{where}有误：{e}") from None
    except KeyError as e:
        raise FormError(f"表单定义{where}缺少必需的项“{e.args[0]}”。") from None
    except (TypeError, ValueError, AttributeError, IndexError) as e:
        raise FormError(f"表单定义{where}的内容不符合格式（{type(e).__name__}：{e}）。") from None


def _make(data: dict, path: Path | None) -> Form:
    meta = data["form"]
    types = data.get("types", {})
    layout = data["layout"]
    units = {k: list(v) for k, v in data.get("units", {}).items()}
    rules = [
        Rule(id=r["id"], severity=r["severity"], check=ex.parse(r["check"]),
             message=r["message"], when=ex.parse(r["when"]) if r.get("when") else None,
             check_text=r["check"], when_text=r.get("when", ""), title=r.get("title", ""))
        for r in data.get("rules", [])
    ]
    fields = [_field(f, types, units) for f in data["fields"]]
    by_id = {f.id: f for f in fields}
    keys = dict(meta.get("keys", {}))
    start, end = _date(meta, "window_start", "[form]"), _date(meta, "window_end", "[form]")
    example = _date(meta, "example_date", "[form]") if "example_date" in meta \
        else start + (end - start) // 2
    default_pattern = "-".join("{" + keys.get(r, r) + "}" for r in ("batch", "category", "unit"))
    pattern = meta.get("file_name", default_pattern)
    cover = layout.get("cover", _DEFAULT_COVER)
    table_title = meta["table_title"]
    form = Form(
        id=meta["id"], version=int(meta["version"]), title=meta.get("title", table_title),
        table_title=table_title, issuer=meta.get("issuer", ""), notice=meta.get("notice", ""),
        window_start=start, window_end=end,
        file_name=pattern, password=str(meta.get("password", "")), keys=keys,
        fields=fields,
        rules=rules,
        periods=[Period(p["name"], tuple(p["batches"]), _date(p, "start", "[[periods]]"),
                        _date(p, "end", "[[periods]]")) for p in data.get("periods", [])],
        cover=_resolve_sheet(cover.get("sheet", "封面"), cover),
        table=_resolve_sheet(layout["table"]["sheet"], layout["table"]),
        notes=list(layout["table"].get("notes", [])),
        declaration=data.get("declaration", {}),
        instructions=data.get("instructions", {}),
        source=path,
        merge_settings=data.get("merge", {}),
        roster_columns=(),
        file_name_shown=meta.get("file_name_shown", ""),
        example_date=example,
        cover_title=meta.get("cover_title", ""),
    )
    # The roles first: the roster's columns are told by them.
    missing_roles = [r for r in REQUIRED_ROLES if r not in keys]
    if missing_roles:
        role = missing_roles[0]
        raise FormError(f"[form.keys] 缺少 {role}（须指明哪个字段是{_ROLE_WORDS[role]}）。")
    for role, fid in keys.items():
        if fid not in by_id:
            raise FormError(f"[form.keys] 中 {role} = “{fid}”不是已定义的字段。")
    form.roster_columns = _roster(data, keys, by_id)
    if not form.file_name_shown:
        form.file_name_shown = form.file_name.format_map(
            {f.id: f.label for f in fields})
    form.changes = [_change(c, i) for i, c in enumerate(data.get("changes", []), start=1)]
    raw_previous = data.get("previous", {})
    form.previous = PreviousSettings(str(raw_previous.get("label", "上年")),
                                     str(raw_previous.get("name_key", "")))
    _check(form)
    form.catalogue = _catalogue(form, data)
    raw_expl = data.get("explanations", {})
    codes = raw_expl.get("codes")
    form.explanations = Explanations(
        tuple(form.sheet_warning_codes() if codes is None else codes),
        int(raw_expl.get("min_length", Explanations.min_length)),
        int(raw_expl.get("max_length", Explanations.max_length)))
    _check_explanations(form)
    return form


def _change(raw: dict, i: int) -> ChangeRule:
    where = f"[[changes]] 第 {i} 项"
    try:
        ratio = Decimal(str(raw.get("max_ratio", 5)))
        floor = Decimal(str(raw.get("floor", 0)))
    except InvalidOperation:
        raise FormError(f"{where} 的 max_ratio 和 floor 须为数字。") from None
    if "id" not in raw:
        raise FormError(f"{where} 缺少 id（这条规则的代码）。")
    return ChangeRule(str(raw["id"]), tuple(raw.get("fields", ())), ratio, floor,
                      str(raw.get("title", "")), str(raw.get("message", "")))
