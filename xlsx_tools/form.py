"""The form definition: every field, the layout of every sheet, the rules.

One TOML file under ``xlsx_tools/forms/`` describes a year's statistics table.
:func:`load_form` turns it into a :class:`Form` whose layout is already resolved
to cells, so the writer puts each input where the reader will look for it, and
the checks and the merge take labels, types and rules from the same place.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from . import expr as ex

__all__ = [
    "Form", "Field", "Rule", "Period", "Sheet", "Cell", "load_form", "DEFAULT_FORM",
    "SEVERITY_CN", "CODE_TITLES", "MISSING_HINTS",
    "NAME_PREFIX", "META_SHEET", "cell_name", "parse_cell",
]

DEFAULT_FORM = "itbps-2022"

# Every input cell carries a workbook-level defined name NAME_PREFIX + field id;
# the prefix keeps ids such as ``fax1`` from reading as cell addresses.
NAME_PREFIX = "fld_"

# The hidden sheet holding the form's identity and the field-to-cell map.
META_SHEET = "表单信息"
# Keys in its column A (values in column B), then the field map under a header row.
META_KEYS = {
    "form_id": "表单标识",
    "form_version": "表单版本",
    "prefill_unit_name": "预填单位名称",
    "prefill_batch": "预填列入批次",
    "prefill_platform_category": "预填平台类别",
    "prefill_recommending_unit": "预填推荐单位",
}
META_MAP_HEADER = ("字段标识", "工作表", "单元格", "标签")

# What a person reads about findings, shared by validate's reports and the
# checks inside the workbook so that both say the same thing.
SEVERITY_CN = {"error": "错误", "warning": "警告"}
CODE_TITLES = {
    "missing": "未填写", "not_a_number": "不是数字", "not_whole": "不是整数",
    "negative": "负数", "too_many_decimals": "小数位过多", "not_a_choice": "不是可选项",
    "bad_format": "格式不对", "bad_date": "日期无效", "formula_no_value": "公式没有结果",
    "too_short": "内容过短",
}
# What to do about a blank, by type.
MISSING_HINTS = {
    "int": "没有可填报的数量请填 0，不要留空。",
    "amount": "金额以万元为单位；没有请填 0，不要留空。",
    "choice": "请点击单元格右侧的下拉箭头选择。",
    "date": "请按 2022-09-15 的格式填写日期。",
    "phone": "请填写联系电话，如 010-68205243。",
    "mobile": "请填写 11 位手机号码。",
    "email": "请填写电子邮箱地址。",
    "postcode": "请填写 6 位数字的邮政编码。",
    "text": "请填写这一项。",
    "longtext": "请简要填写有关情况、数量或事例。",
}

TYPES = ("text", "longtext", "int", "amount", "date", "phone", "mobile", "email",
         "postcode", "choice")
NUMERIC_TYPES = ("int", "amount")


def cell_name(row: int, col: int, absolute: bool = False) -> str:
    """(1-based row, 1-based col) -> 'C5' (or '$C$5')."""
    letters = ""
    n = col
    while n:
        n, rem = divmod(n - 1, 26)
        letters = chr(65 + rem) + letters
    return f"${letters}${row}" if absolute else f"{letters}{row}"


_CELL = re.compile(r"^\$?([A-Z]{1,3})\$?(\d+)$")


def parse_cell(ref: str) -> tuple[int, int]:
    """'C5' or '$C$5' -> (5, 3)."""
    m = _CELL.match(ref.upper())
    if not m:
        raise ValueError(f"not a cell reference: {ref!r}")
    col = 0
    for ch in m.group(1):
        col = col * 26 + ord(ch) - 64
    return int(m.group(2)), col


@dataclass(frozen=True)
class Cell:
    """One cell of the resolved layout (top-left of its merged range)."""
    sheet: str
    row: int            # 1-based
    col: int            # 1-based
    kind: str           # label | input | show | blank | heading | special
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

    @property
    def numeric(self) -> bool:
        return self.type in NUMERIC_TYPES

    @property
    def defined_name(self) -> str:
        return NAME_PREFIX + self.id


@dataclass(frozen=True)
class Rule:
    id: str
    severity: str            # error | warning
    check: ex.Expr
    message: str
    when: ex.Expr | None = None
    check_text: str = ""
    when_text: str = ""

    @property
    def fields(self) -> list[str]:
        ids = ex.fields_of(self.when) if self.when is not None else []
        return ids + [f for f in ex.fields_of(self.check) if f not in ids]


@dataclass(frozen=True)
class Period:
    name: str
    batches: tuple[str, ...]
    start: dt.date
    end: dt.date

    @property
    def text(self) -> str:
        return f"{_cn_date(self.start)}至{_cn_date(self.end)}"


def _cn_date(d: dt.date) -> str:
    return f"{d.year}年{d.month}月{d.day}日"


@dataclass(frozen=True)
class Sheet:
    name: str
    columns: int
    widths: tuple[float, ...]
    cells: tuple[Cell, ...]
    rows: int                              # rows used
    page_breaks: tuple[int, ...] = ()      # rows before which a page starts


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
    source: Path
    # Tables of the definition that later stages read for themselves ([merge]).
    merge_settings: dict[str, Any] = field(default_factory=dict)
    by_id: dict[str, Field] = field(default_factory=dict)
    _inputs: dict[str, Cell] = field(default_factory=dict)
    _titles: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.by_id = {f.id: f for f in self.fields}
        self._inputs = {c.text: c for s in (self.cover, self.table)
                        for c in s.cells if c.kind == "input"}

    def field(self, field_id: str) -> Field:
        return self.by_id[field_id]

    @property
    def sheets(self) -> list[Sheet]:
        return [self.cover, self.table]

    def input_cell(self, field_id: str) -> Cell:
        """Where the field is entered (its defined name points here)."""
        return self._inputs[field_id]

    def show_cells(self, field_id: str) -> list[Cell]:
        """Other places showing the field's value (formulas)."""
        return [c for s in self.sheets for c in s.cells if c.kind == "show" and c.text == field_id]

    def label_cells(self) -> list[Cell]:
        """Every fixed text of the layout (what R21 compares)."""
        return [c for s in self.sheets for c in s.cells if c.kind in ("label", "heading")]

    def label_for(self, field_id: str) -> list[str]:
        """The labels left of a field's input in its row, nearest first.

        For a field inside a group the group's label follows: for
        ``standards_international`` this is ["国际标准(项)", "主导、参与标准制修订情况",
        "平台能力建设情况"].
        """
        target = self.input_cell(field_id)
        sheet = self.cover if target.sheet == self.cover.name else self.table
        out = []
        for c in sorted(sheet.cells, key=lambda c: -c.col):
            if c.kind == "label" and c.col < target.col and c.row <= target.row <= c.last_row:
                out.append(c.text)
        return out

    def field_title(self, field_id: str) -> str:
        """The field's label, made unambiguous where two inputs share one.

        "参会人数(人次)" appears three times; the first other label in its row
        tells them apart. "地址/邮编" labels two inputs, named by its parts in order.
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
        return titles

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

    def file_stem(self, batch: str, category: str, unit: str) -> str:
        """第X批-XXX类-单位名称, as the notice names the files."""
        return self.file_name.format(batch=batch, platform_category=category, unit_name=unit)


_TOKEN = re.compile(r"^(?P<kind>[@=#!^-]?)(?P<text>.*?)(?:\|(?P<span>\d+))?$", re.S)


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
                    raise ValueError(f"{name} row {row}: '^' with no label above")
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
            elif kind == "=":
                cells.append(Cell(name, row, col, "show", text, span))
            elif kind == "-" and text == "":
                cells.append(Cell(name, row, col, "blank", "", span))
            else:
                cells.append(Cell(name, row, col, "label", token.split("|")[0], span))
                current[col] = len(cells) - 1
            col += span
        if tokens and col - 1 > columns:
            raise ValueError(f"{name} row {row}: {col - 1} columns, the sheet has {columns}")
        above = current
        row += 1
    return Sheet(name, columns, tuple(spec["widths"]), tuple(cells), row - 1, tuple(breaks))


def _field(raw: dict, types: dict) -> Field:
    t = raw["type"]
    if t not in TYPES:
        raise ValueError(f"field {raw['id']}: unknown type {t!r}")
    limits = types.get(t, {})
    when = raw.get("required_when")
    return Field(
        id=raw["id"], section=raw["section"], label=raw["label"], type=t,
        choices=tuple(raw.get("choices", ())), unit=raw.get("unit", ""),
        required=bool(raw.get("required", False)) or when is not None,
        required_when=ex.parse(when) if when else None,
        required_when_text=when or "",
        required_code=raw.get("required_code", "missing"),
        required_message=raw.get("required_message", ""),
        note=raw.get("note", ""),
        max_length=raw.get("max_length", limits.get("max_length")),
        min_length=raw.get("min_length", limits.get("min_length")),
    )


def _check(form: Form) -> None:
    """Refuse a definition whose parts do not fit together."""
    ids = set(form.by_id)
    inputs = [c.text for s in form.sheets for c in s.cells if c.kind == "input"]
    missing = ids - set(inputs)
    extra = set(inputs) - ids
    twice = {i for i in inputs if inputs.count(i) > 1}
    if missing or extra or twice:
        raise ValueError(f"layout and fields disagree: missing {sorted(missing)}, "
                         f"unknown {sorted(extra)}, twice {sorted(twice)}")
    for f in form.fields:
        if f.required_when is not None:
            unknown = set(ex.fields_of(f.required_when)) - ids
            if unknown:
                raise ValueError(f"field {f.id}: required_when names {sorted(unknown)}")
    for r in form.rules:
        unknown = set(r.fields) - ids
        if unknown:
            raise ValueError(f"rule {r.id}: names unknown fields {sorted(unknown)}")
    for key in ("unit", "batch", "category"):
        if form.keys[key] not in ids:
            raise ValueError(f"form.keys.{key} names an unknown field")


def load_form(name_or_path: str | Path = DEFAULT_FORM) -> Form:
    """Load a form definition by id (shipped with the package) or by path."""
    path = Path(name_or_path)
    if path.suffix == ".toml" and path.exists():
        return _load(path.resolve())
    return _load_shipped(str(name_or_path))


@cache
def _load_shipped(name: str) -> Form:
    ref = resources.files("xlsx_tools") / "forms" / f"{name}.toml"
    if not ref.is_file():
        raise ValueError(f"没有名为 {name} 的表单定义")
    return _load(Path(str(ref)))


def _load(path: Path) -> Form:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    meta = data["form"]
    types = data.get("types", {})
    layout = data["layout"]
    rules = [
        Rule(id=r["id"], severity=r["severity"], check=ex.parse(r["check"]),
             message=r["message"], when=ex.parse(r["when"]) if r.get("when") else None,
             check_text=r["check"], when_text=r.get("when", ""))
        for r in data.get("rules", [])
    ]
    form = Form(
        id=meta["id"], version=int(meta["version"]), title=meta["title"],
        table_title=meta["table_title"], issuer=meta["issuer"], notice=meta["notice"],
        window_start=dt.date.fromisoformat(meta["window_start"]),
        window_end=dt.date.fromisoformat(meta["window_end"]),
        file_name=meta["file_name"], password=meta["password"], keys=dict(meta["keys"]),
        fields=[_field(f, types) for f in data["fields"]],
        rules=rules,
        periods=[Period(p["name"], tuple(p["batches"]), dt.date.fromisoformat(p["start"]),
                        dt.date.fromisoformat(p["end"])) for p in data["periods"]],
        cover=_resolve_sheet(layout["cover"]["sheet"], layout["cover"]),
        table=_resolve_sheet(layout["table"]["sheet"], layout["table"]),
        notes=list(layout["table"].get("notes", [])),
        declaration=data.get("declaration", {}),
        instructions=data.get("instructions", {}),
        source=path,
        merge_settings=data.get("merge", {}),
    )
    _check(form)
    return form
