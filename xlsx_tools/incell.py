"""Checks that run inside the workbook while it is filled.

The rules a spreadsheet can evaluate are compiled from the form definition into
the generated workbook, so a filler sees what is wrong while typing, in Excel,
WPS or LibreOffice:

* missing required values, including the conditional ones (a field's ``required_when``,
  under its own code);
* the types and ranges of numbers and choices (not_a_number, negative,
  not_whole, too_many_decimals, not_a_choice) and too-short summaries (too_short);
* the cross-field rules of the form, from the same parsed expressions
  ``validate`` evaluates (:func:`xlsx_tools.expr.to_excel`);
* the change rules (a value far from last year's, shown in the 上年 cell beside it).

They land on a protected sheet 校验结果: at the top one open cell per explainable
warning code (``expl_<code>``, the filler's 审核说明: once it holds the definition's
least length, every warning of that code shows as 已说明), then a list of the open
problems in Chinese, one row per compiled check beside it, and hidden helper columns
holding, per field, the length of its text, its type finding and its clean value
(blank when unreadable, as ``clean_value`` gives None), on which the rules are
evaluated. The cover shows 尚有 N 项问题 / 已全部通过校验 (and how many warnings
are explained), and each input cell turns red (error) or orange (warning) while a
check touching it fails.

Only functions Excel 2010, WPS and LibreOffice evaluate alike are used (IF, AND,
OR, NOT, ISNUMBER, ISERROR, LEN, TRIM, SUBSTITUTE, CHAR, ROUND, INT, SUM, INDEX,
MATCH, LEFT, RIGHT, MID, FIND, VALUE); no dynamic arrays. Every formula carries its result for the values the
workbook is written with, so a viewer that does not recalculate shows the right
state.

Where the sheet and ``validate`` may differ (documented exceptions; the tests
fill numbers as numbers):

* a number typed as text is read as validate reads it (digits as text, spaces
  around, thousands separators in groups of three, full-width digits, the field's
  unit after it), except: more than 10 decimals typed as text (the sheet rounds
  to 10, as it does a number cell), more than six thousands separators, and
  characters NFKC folds other than full-width digits, point, comma and signs;
* TRUE/FALSE or a date in a number cell: validate says not_a_number; Excel
  agrees for TRUE/FALSE, LibreOffice counts them as numbers, and a date is a
  number to every spreadsheet;
* a formula typed into an input that gives an error: validate says
  formula_no_value, the sheet the type's first code (not_a_number...);
* whitespace other than spaces, tabs, line breaks, the full-width space, the
  no-break space and the zero-width characters; choices typed with
  full-width/half-width variants (NFKC) of their characters; characters outside
  the Basic Multilingual Plane count twice in a summary's length.

Formats of telephone numbers, e-mail addresses, postcodes and dates, and
the checks of the workbook as a whole (R18–R22), are ``validate``'s only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Callable, Mapping, Sequence

from . import expr as ex
from .catalogue import CATALOGUE, Catalogue, status_word
from .clean import clean_value
from .form import Cell, ChangeRule, Field, Form, Rule, cell_name
from .previous import previous_number
from .read import RawValue
from .xlsx_output import checked, excel_text, printed_width, row_points, sheet_ref, text_lines

__all__ = [
    "SHEET_NAME", "Check", "compile_checks", "add_checks", "status_cell",
    "TYPE_CHECKS", "ALLOWED_FUNCTIONS", "evaluate_checks", "SheetState",
    "status_text", "explanation_cell",
]

SHEET_NAME = "校验结果"
ERROR, WARNING = "error", "warning"

# Functions the compiled formulas may use: all in Excel 2010, WPS and LibreOffice.
ALLOWED_FUNCTIONS = frozenset({
    "IF", "AND", "OR", "NOT", "ISNUMBER", "ISERROR", "LEN", "TRIM", "SUBSTITUTE",
    "ROUND", "INT", "SUM", "INDEX", "MATCH", "CHAR", "TRUE", "FALSE",
    "LEFT", "RIGHT", "MID", "FIND", "VALUE",
})

# Whitespace a filler's "empty" cell may hold. Excel's TRIM only removes spaces;
# Python's strip() removes all of these, so they are substituted away first.
_SPACES = ('" "', "CHAR(9)", "CHAR(10)", "CHAR(13)", '"\u3000"', '"\u00a0"', '"\u200b"',
           '"\ufeff"')
_PY_SPACES = (" ", "\t", "\n", "\r", "\u3000", "\u00a0", "\u200b", "\ufeff")
_ZERO_WIDTH = ('"\u200b"', '"\ufeff"')
_PY_ZERO_WIDTH = ("\u200b", "\ufeff")
# What clean.normalize_text folds in a number typed as text: full-width digits, point,
# comma and signs (NFKC), and the dashes read as minus. SUBSTITUTE, not ASC: ASC leaves
# full-width characters alone in an Excel whose language is not a double-byte one.
_NUMBER_FOLDS = tuple((chr(0xFF10 + i), str(i)) for i in range(10)) + (
    ("\uff0e", "."), ("\uff0c", ","), ("\uff0b", "+"), ("\uff0d", "-"), ("\u2212", "-"),
    ("\u2012", "-"), ("\u2013", "-"))
_DIGITS = "0123456789"
# Commas checked in a number's whole part (groups of three): up to 21 digits, well past
# the 15 Excel keeps.
_MAX_COMMAS = 6


# -- per-type checks: one table, two targets ---------------------------------------
#
# Each entry: the finding code, its severity and an Excel condition over the cell
# ``{x}`` (tested in order, the first that holds names the finding, as
# clean_value tests them). The message is the code's in the form's catalogue (its
# default variant, with the cell itself as {value}), as validate says it. The
# Python side is clean.clean_value, which decides the same by type;
# tests/test_incell.py proves the two agree.

@dataclass(frozen=True)
class TypeCheck:
    code: str
    severity: str
    condition: Callable[[str, Field], str]   # (cell, field) -> Excel condition


def _choice_values(field: Field) -> list[tuple[str, tuple[str, ...]]]:
    """Each choice and the texts accepted for it (with its suffix too, as clean does)."""
    return [(c, field.accepted(c)) for c in field.choices]


def _choice_match(t: str, field: Field) -> str:
    """Excel: the canonical choice the (normalised) text ``t`` names, or "" if none."""
    out = '""'
    for choice, texts in reversed(_choice_values(field)):
        test = ",".join(f"{t}={excel_text(x)}" for x in texts)
        out = f"IF(OR({test}),{excel_text(choice)},{out})"
    return out


def _not_number(x: str, field: Field) -> str:
    return f"NOT(ISNUMBER({x}))"


# clean_value reads a number cell as round(x, 10): the sheet compares the same.

TYPE_CHECKS: dict[str, tuple[TypeCheck, ...]] = {
    "int": (
        TypeCheck("not_a_number", ERROR, _not_number),
        TypeCheck("negative", ERROR, lambda x, f: f"ROUND({x},10)<0"),
        TypeCheck("not_whole", ERROR, lambda x, f: f"ROUND({x},10)<>INT(ROUND({x},10))"),
    ),
    "amount": (
        TypeCheck("not_a_number", ERROR, _not_number),
        TypeCheck("negative", ERROR, lambda x, f: f"ROUND({x},10)<0"),
        TypeCheck("too_many_decimals", ERROR, lambda x, f: f"ROUND({x},10)<>ROUND({x},2)"),
    ),
    "choice": (
        # {clean} is the helper cell with the choice the text names ("" if none).
        TypeCheck("not_a_choice", ERROR, lambda x, f: '{clean}=""'),
    ),
    "longtext": (
        # {n} is the helper cell with the text's length, spaces not counted.
        TypeCheck("too_short", WARNING, lambda x, f: f"{{n}}<{f.min_length}"),
    ),
}



# -- the checks ---------------------------------------------------------------------

@dataclass(frozen=True)
class Check:
    """One compiled check: a row of 校验结果."""
    kind: str                 # required | type | rule | change
    code: str                 # missing / R14 / R01...; "type" rows: decided by the value
    severity: str
    fields: tuple[str, ...]   # as validate's Finding.fields
    field: Field | None = None
    rule: Rule | None = None
    change: ChangeRule | None = None

    @property
    def warning_code(self) -> str | None:
        """The code of the warning this check raises (a type check: its type's warning)."""
        if self.severity != WARNING:
            return None
        if self.kind == "type":
            return next(t.code for t in _type_checks(self.field) if t.severity == WARNING)
        return self.code


def _type_checks(f: Field) -> tuple[TypeCheck, ...]:
    """The type checks of a field (too_short only where the form sets a minimum length)."""
    if f.type == "longtext" and f.min_length is None:
        return ()
    return TYPE_CHECKS.get(f.type, ())


def compile_checks(form: Form) -> list[Check]:
    """Every check the sheet evaluates, in the order of the cells they concern."""
    checks: list[Check] = []
    for f in form.fields:
        if f.required:
            because = ()
            if f.required_when is not None:
                if not form.sheet_computes(ex.fields_of(f.required_when)):
                    continue
                because = tuple(i for i in ex.fields_of(f.required_when) if i != f.id)
            code = "missing" if f.required_when is None else f.required_code
            checks.append(Check("required", code, ERROR, (f.id, *because), field=f))
        types = _type_checks(f)
        if types:
            severities = {t.severity for t in types}
            assert len(severities) == 1, f"type {f.type}: one severity per type"
            checks.append(Check("type", "", severities.pop(), (f.id,), field=f))
    for r in form.rules:
        if form.sheet_computes(r.fields):
            checks.append(Check("rule", r.id, r.severity, tuple(r.fields), rule=r))
    for c in form.changes:
        for fid in c.fields:
            checks.append(Check("change", c.id, WARNING, (fid,), field=form.field(fid), change=c))
    order = {f.id: _position(form, f.id) for f in form.fields}
    kinds = {"required": 0, "type": 1, "rule": 2, "change": 3}
    return sorted(checks, key=lambda c: (min(order[i] for i in c.fields), kinds[c.kind]))


def _position(form: Form, field_id: str) -> tuple[int, int, int]:
    """Where a field is, in the order a filler goes: the table, then the cover."""
    cell = form.input_cell(field_id)
    order = [form.table.name, form.cover.name]
    return (order.index(cell.sheet), cell.row, cell.col)


# -- Excel text helpers -------------------------------------------------------------

def _normalized(x: str) -> str:
    """The text with its spaces trimmed, as clean.normalize_text (for choices)."""
    inner = x
    for s in _SPACES[1:]:
        by = '""' if s in _ZERO_WIDTH else '" "'
        inner = f"SUBSTITUTE({inner},{s},{by})"
    return f"TRIM({inner})"


def _py_normalized(v: object) -> str:
    """What _normalized gives in the sheet."""
    text = _excel_shown(v)
    for s in _PY_SPACES[1:]:
        text = text.replace(s, "" if s in _PY_ZERO_WIDTH else " ")
    return _trim(text)


def _trim(text: str) -> str:
    """Excel's TRIM: no leading or trailing spaces, runs of spaces made one."""
    return " ".join(p for p in text.split(" ") if p)


def _squeezed_len(x: str) -> str:
    inner = x
    for s in _SPACES:
        inner = f"SUBSTITUTE({inner},{s},\"\")"
    return f"LEN({inner})"


def _number_normalized(x: str) -> str:
    """A number typed as text with its spaces trimmed and its full-width characters
    folded, as clean.normalize_text."""
    inner = x
    for a, b in _NUMBER_FOLDS:
        inner = f"SUBSTITUTE({inner},{excel_text(a)},{excel_text(b)})"
    return _normalized(inner)


def _py_number_normalized(v: object) -> str:
    text = _excel_shown(v)
    for a, b in _NUMBER_FOLDS:
        text = text.replace(a, b)
    return _py_normalized(text)


def _unit_stripped(t: str, f: Field) -> str:
    """Excel: the text ``t`` without the field's unit after it (the longest spelling
    first, one only), as clean reads it."""
    out = t
    for unit in reversed(f.unit_spellings):
        k = len(unit)
        out = f"IF(RIGHT({t},{k})={excel_text(unit)},TRIM(LEFT({t},LEN({t})-{k})),{out})"
    return out


def _py_unit_stripped(t: str, f: Field) -> str:
    for unit in f.unit_spellings:
        if unit and t.endswith(unit):
            return _trim(t[: -len(unit)])
    return t


def _unsigned(u: str) -> str:
    return f'IF(OR(LEFT({u},1)="+",LEFT({u},1)="-"),MID({u},2,LEN({u})),{u})'


def _py_unsigned(u: str) -> str:
    return u[1:] if u[:1] in ("+", "-") else u


def _number_read(x: str, u: str, s: str) -> str:
    """Excel: the number in cell ``x``: itself if a number, else the text ``s`` (no unit,
    no sign; ``u`` keeps the sign) read as clean does: digits, commas between groups of
    three in the whole part, a point with digits after it; "" for anything else. The
    text is checked before VALUE reads it: VALUE alone takes dates, percentages,
    currency signs and misplaced commas."""
    only = s
    for ch in _DIGITS + ",.":
        only = f'SUBSTITUTE({only},"{ch}","")'
    whole = f'IF(ISERROR(FIND(".",{s})),{s},LEFT({s},FIND(".",{s})-1))'
    commas = f'(LEN({whole})-LEN(SUBSTITUTE({whole},",","")))'
    digits = f"(LEN({whole})-{commas})"
    placed = ",".join(f'IF({commas}<{j},TRUE,MID({whole},LEN({whole})-{4 * j - 1},1)=",")'
                      for j in range(1, _MAX_COMMAS + 1))
    grouped = f"IF({commas}=0,TRUE,IF({commas}<>INT(({digits}-1)/3),FALSE,AND({placed})))"
    valid = (f"AND(LEN({s})>0,LEN({only})=0,LEN({s})-LEN(SUBSTITUTE({s},\".\",\"\"))<=1,"
             f'ISNUMBER(FIND(LEFT({s},1),"{_DIGITS}")),ISNUMBER(FIND(RIGHT({s},1),"{_DIGITS}")),'
             f'ISERROR(FIND(",",{s},FIND(".",{s}&"."))))')
    return (f'IF(ISNUMBER({x}),{x},IF({valid},IF({grouped},'
            f'IF(LEFT({u},1)="-",-1,1)*VALUE(SUBSTITUTE({s},",","")),""),""))')


_PY_NUMBER = re.compile(r"^(?:\d+|\d{1,3}(?:,\d{3}){1,%d})(?:\.\d+)?$" % _MAX_COMMAS, re.ASCII)


def _py_number_read(v: object, u: str, s: str) -> object:
    """What _number_read gives."""
    if isinstance(v, (int, float, Decimal)) and not isinstance(v, bool):
        return v
    if not _PY_NUMBER.match(s):
        return ""
    return (-1 if u.startswith("-") else 1) * float(s.replace(",", ""))


_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z_0-9]*)\}")


def _message_formula(template: str, ref: Callable[[str], str]) -> str:
    """'…（{x}）…' -> "…（"&ref(x)&"）…"."""
    parts: list[str] = []
    pos = 0
    for m in _PLACEHOLDER.finditer(template):
        if m.start() > pos:
            parts.append(excel_text(template[pos:m.start()]))
        parts.append(ref(m.group(1)))
        pos = m.end()
    if pos < len(template) or not parts:
        parts.append(excel_text(template[pos:]))
    return "&".join(parts)


def _type_message(form: Form, t: TypeCheck, f: Field) -> str:
    """The code's message as validate words it; {value} and {n} are left for the cells."""
    return form.field_message(t.code, f.id, "default", keep_unknown=True)


def _missing_message(form: Form, f: Field) -> str:
    if f.required_when is not None and f.required_message:
        return f.required_message
    return form.field_message("missing", f.id)


def _value_shown(x: str) -> str:
    """The input as its text joins a message; an error value (#DIV/0!) shows as nothing."""
    return f'IF(ISERROR({x}),"",{x}&"")'


# -- layout of 校验结果 ----------------------------------------------------------------

# Visible: the open problems (A–E), then every check (G–K). Hidden: helpers.
_C_N, _C_SEV, _C_OCODE, _C_CELL, _C_MSG = 0, 1, 2, 3, 4            # open list
_C_CODE, _C_CSEV, _C_CCELL, _C_STATUS, _C_TEXT = 6, 7, 8, 9, 10     # all checks
_C_KEY, _C_FIRES, _C_NUM, _C_RUN, _C_ERR, _C_WARN, _C_EXPL, _C_EXPLD, _C_KIND = range(12, 21)
_C_FID, _C_LEN, _C_TCODE, _C_CLEAN, _C_REQ, _C_FERR, _C_FWARN, _C_NTEXT = range(22, 30)
# Numbers typed as text: without the unit, without the sign, the number read (or "").
_C_NUMU, _C_NUMS, _C_NUMV = range(30, 33)
_FIRST = 5            # 0-based row of the first data row without explanations (row 6 in Excel)
_ROW_COUNTS = 1       # hidden totals: errors, warnings, open problems, explained
_EXPL_TOP = 3         # 0-based row of the explanations' heading, when there are any


def _first_row(form: Form) -> int:
    """0-based first row of the lists: below the explanations (heading, column titles,
    one row per code, a spacer) when the form has explainable codes."""
    n = len(form.explanations.codes)
    return _EXPL_TOP + 3 + n + 1 if n else _FIRST


def _expl_row(form: Form, code: str) -> int:
    """0-based row of a code's explanation cell."""
    return _EXPL_TOP + 2 + form.explanations.codes.index(code)


def explanation_cell(form: Form, code: str) -> Cell:
    """Where the filler writes the explanation of a code (its name: expl_<code>)."""
    return Cell(SHEET_NAME, _expl_row(form, code) + 1, _C_MSG + 1, "input", code)


def _xl(row0: int, col0: int) -> str:
    """Local absolute reference from 0-based indices."""
    return cell_name(row0 + 1, col0 + 1, absolute=True)


def status_cell(form: Form) -> Cell:
    """Where the cover shows the count: its "!check_status" slot, else its first empty row."""
    for c in form.cover.cells:
        if c.kind == "special" and c.text == "check_status":
            return c
    used = {r for c in form.cover.cells for r in range(c.row, c.last_row + 1)}
    row = next(r for r in range(1, form.cover.rows + 2) if r not in used)
    return Cell(form.cover.name, row, 2, "special", "check_status", max(1, form.cover.columns - 2))


def _status_end(words: Catalogue, here: bool) -> str:
    """How the status line ends when something is open: on the cover it points to
    校验结果; on 校验结果 itself to the list below (a sheet pointing to itself reads oddly)."""
    return words.phrase("status_here") if here else words.phrase("status_see", sheet=SHEET_NAME)


def status_text(errors: int, warnings: int, explained: int = 0, here: bool = False,
                words: Catalogue = CATALOGUE) -> str:
    """The cover line (``here``: 校验结果's own), as the sheet's formula builds it
    (``warnings``: not explained)."""
    text = f"尚有 {errors} 项问题" if errors else "已全部通过校验"
    parts = []
    if warnings:
        parts.append(f"另有 {warnings} 项警告")
    if explained:
        parts.append(f"{explained} 项警告已说明")
    if parts:
        text += "（" + "，".join(parts) + "）"
    return text + _status_end(words, here) if errors or warnings else text


def _status_formula(err: str, warn: str, expl: str, end: str) -> str:
    return (f'IF({err}>0,"尚有 "&{err}&" 项问题","已全部通过校验")'
            f'&IF({warn}+{expl}>0,"（","")'
            f'&IF({warn}>0,"另有 "&{warn}&" 项警告","")'
            f'&IF(AND({warn}>0,{expl}>0),"，","")'
            f'&IF({expl}>0,{expl}&" 项警告已说明","")'
            f'&IF({warn}+{expl}>0,"）","")'
            f'&IF({err}+{warn}>0,{excel_text(end)},"")')


# -- the Python side, for the results the formulas carry -------------------------------

@dataclass
class SheetState:
    """What every formula of 校验结果 evaluates to for given cell values."""
    lengths: dict[str, int]
    type_codes: dict[str, str]
    clean: dict[str, object]          # "" for blank/unreadable, like the sheet
    required: dict[str, bool]
    fires: list[bool]
    codes: list[str]
    messages: list[str]
    explained: list[bool]             # fires, and its code's explanation is long enough
    explanation_lengths: dict[str, int]   # code -> length of its explanation

    def count(self, checks: Sequence[Check], severity: str) -> int:
        """Failing checks of a severity, explained warnings not counted."""
        return sum(1 for c, f, e in zip(checks, self.fires, self.explained)
                   if f and not e and c.severity == severity)

    def count_explained(self) -> int:
        return sum(self.explained)


def _excel_shown(v: object) -> str:
    """A value as Excel joins it into text (general format)."""
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, (int, float, Decimal)):
        d = Decimal(repr(v)) if isinstance(v, float) else Decimal(v)
        return format(d.normalize(), "f") if d else "0"
    return "" if v is None else str(v)


def _py_len(v: object) -> int:
    if v is None:
        return 0
    text = _excel_shown(v)
    for s in _PY_SPACES:
        text = text.replace(s, "")
    return len(text)


def evaluate_checks(form: Form, checks: Sequence[Check], raw: Mapping[str, object],
                    previous: Mapping[str, object] | None = None,
                    explanations: Mapping[str, object] | None = None) -> SheetState:
    """The sheet's results for cells holding ``raw`` (field id -> value; absent = empty),
    the 上年 cells ``previous`` (field id -> value) and the explanation cells
    ``explanations`` (code -> text).

    Field types are decided by clean.clean_value, the rules by expr.evaluate: the
    same code validate runs.
    """
    previous = previous or {}
    explanations = explanations or {}
    lengths, codes, clean, values = {}, {}, {}, {}
    for f in form.fields:
        v = raw.get(f.id)
        n = _py_len(v)
        lengths[f.id] = n
        code = ""
        value: object = None
        if n:
            if f.type in TYPE_CHECKS and f.type != "longtext":
                cleaned = clean_value(f, RawValue(v, form.input_cell(f.id).address))
                code = cleaned.code or ""
                value = cleaned.value
            else:
                value = v.strip() if isinstance(v, str) else v
                if f.type == "longtext" and f.min_length is not None and n < f.min_length:
                    code = "too_short"
        codes[f.id] = code
        if f.type == "longtext":
            value = value if n else None     # too_short keeps its value, as in validate
        elif code:
            value = None
        values[f.id] = value
        clean[f.id] = "" if value is None else (float(value) if isinstance(value, Decimal)
                                                else value)
    required = {f.id: f.required and (f.required_when is None
                                      or ex.evaluate(f.required_when, values) is True)
                for f in form.fields}
    expl_lengths = {c: _py_len(explanations.get(c)) for c in form.explanations.codes}
    fires, out_codes, messages, explained = [], [], [], []
    shown = {k: _excel_shown(v) for k, v in clean.items()}
    for c in checks:
        if c.kind == "required":
            fire = required[c.field.id] and lengths[c.field.id] == 0
            code, message = c.code, _fill(_missing_message(form, c.field), shown)
        elif c.kind == "type":
            code = codes[c.field.id]
            fire = code != ""
            t = next((t for t in _type_checks(c.field) if t.code == code), None)
            cell = {"value": _excel_shown(raw.get(c.field.id)), "n": str(lengths[c.field.id])}
            message = _fill(_type_message(form, t, c.field), cell) if t else ""
        elif c.kind == "change":
            v, p = values[c.field.id], previous_number(previous.get(c.field.id))
            fire = c.change.fires(v, p)
            code = c.code
            up = fire and Decimal(v) > Decimal(p)
            message = _fill(_change_message(form, c, "up" if up else "down"),
                            {"value": _excel_shown(clean[c.field.id]), "previous": _excel_shown(p)})
        else:
            r = c.rule
            fire = ((r.when is None or ex.evaluate(r.when, values) is True)
                    and ex.evaluate(r.check, values) is False)
            code, message = c.code, _fill(r.message, shown)
        fires.append(fire)
        out_codes.append(code)
        messages.append(message if fire else "")
        wcode = _explained_code(form, c)
        explained.append(bool(fire and wcode
                              and expl_lengths[wcode] >= form.explanations.min_length))
    return SheetState(lengths, codes, clean, required, fires, out_codes, messages, explained,
                      expl_lengths)


def _fill(template: str, shown: Mapping[str, str]) -> str:
    return _PLACEHOLDER.sub(lambda m: shown.get(m.group(1), ""), template)


def _explained_code(form: Form, c: Check) -> str | None:
    """The code whose explanation covers this check, if it may be explained."""
    code = c.warning_code
    return code if code is not None and form.explainable(code) else None


def _change_message(form: Form, c: Check, direction: str) -> str:
    """A change rule's message in the form's words; {value} and {previous} left for the cells."""
    return form.field_message(c.code, c.field.id, direction, keep_unknown=True,
                              previous_label=form.previous.label,
                              ratio=_excel_shown(c.change.max_ratio))


# -- what the formulas show ------------------------------------------------------------


def _rows(form: Form, checks: Sequence[Check]) -> tuple[dict[str, int], list[int]]:
    """0-based rows of 校验结果: each field's helpers, each check."""
    first = _first_row(form)
    return ({f.id: first + i for i, f in enumerate(form.fields)},
            [first + i for i in range(len(checks))])


def _touching(form: Form, checks: Sequence[Check]) -> dict[str, list[int]]:
    """Per field, the checks of its value (not its requirement) that touch it."""
    touching: dict[str, list[int]] = {f.id: [] for f in form.fields}
    for i, c in enumerate(checks):
        if c.kind == "required":
            continue
        for fid in c.fields:
            touching[fid].append(i)
    return touching


def _check_status(c: Check, fires: bool, explained: bool) -> str:
    """A check's word in 校验结果, the word a whole file gets for the same: 通过, 不通过 (an
    error), 有警告, 已说明 (one status means the same everywhere)."""
    if not fires:
        return status_word("accepted")
    if explained:
        return status_word("explained")
    return status_word("rejected" if c.severity == ERROR else "warnings")


def results(form: Form, values: Mapping[str, object] | None = None,
            checks: Sequence[Check] | None = None,
            previous: Mapping[str, object] | None = None) -> dict[str, dict[tuple[int, int], object]]:
    """The stored result of every formula the checks write, for inputs holding ``values``
    (field id -> value; absent or "" = empty), 上年 cells holding ``previous`` (field id
    -> number) and the explanation cells empty, as a workbook is written: by sheet
    (校验结果, and the cover for its status line), then (row, column), 0-based. The
    writer stores these; a stamped copy (``xlsx_tools.stamp``) stores the same for its
    unit's values.
    """
    checks = compile_checks(form) if checks is None else checks
    values = {k: v for k, v in (values or {}).items() if v not in (None, "")}
    state = evaluate_checks(form, checks, values, previous)
    words = form.catalogue
    explain = form.explanations
    explained_word = words.phrase("explained")
    first = _first_row(form)
    frow, crow = _rows(form, checks)
    out: dict[tuple[int, int], object] = {}
    for f in form.fields:
        r = frow[f.id]
        out[r, _C_LEN] = state.lengths[f.id]
        out[r, _C_TCODE] = state.type_codes[f.id]
        if f.type == "choice":
            out[r, _C_NTEXT] = _py_normalized(values.get(f.id)) if state.lengths[f.id] > 0 else ""
        if f.numeric:
            v = values.get(f.id)
            filled = state.lengths[f.id] > 0
            number = isinstance(v, (int, float, Decimal)) and not isinstance(v, bool)
            t = _py_number_normalized(v) if filled and not number else ""
            u = _py_unit_stripped(t, f)
            s = _py_unsigned(u)
            out[r, _C_NTEXT], out[r, _C_NUMU], out[r, _C_NUMS] = t, u, s
            out[r, _C_NUMV] = _py_number_read(v, u, s) if filled else ""
        out[r, _C_CLEAN] = state.clean[f.id]
        out[r, _C_REQ] = state.required[f.id]
    running = 0
    for i, c in enumerate(checks):
        r, fire, explained = crow[i], state.fires[i], state.explained[i]
        if c.kind == "type":
            code = state.codes[i]
            out[r, _C_CODE] = words.title(code) if code else _type_label(form, c.field)
            out[r, _C_KEY] = f"{code}|{','.join(c.fields)}"
        out[r, _C_FIRES] = fire
        wcode = _explained_code(form, c)
        if wcode is not None:
            out[r, _C_EXPLD] = explained
            out[r, _C_KIND] = explained_word if explained else words.severity_word(c.severity)
        out[r, _C_STATUS] = _check_status(c, fire, explained)
        out[r, _C_TEXT] = state.messages[i]
        running += fire
        out[r, _C_RUN] = running
        if c.severity == ERROR:
            out[r, _C_ERR] = int(fire)
        elif wcode is None:
            out[r, _C_WARN] = int(fire)
        else:
            out[r, _C_WARN] = int(fire and not explained)
            out[r, _C_EXPL] = int(explained)
    for fid, idx in _touching(form, checks).items():
        for col, sev in ((_C_FERR, ERROR), (_C_FWARN, WARNING)):
            out[frow[fid], col] = any(state.fires[i] for i in idx if checks[i].severity == sev)
    n_err, n_warn = state.count(checks, ERROR), state.count(checks, WARNING)
    n_expl = state.count_explained()
    out[_ROW_COUNTS, _C_ERR] = n_err
    out[_ROW_COUNTS, _C_WARN] = n_warn
    out[_ROW_COUNTS, _C_EXPL] = n_expl
    out[_ROW_COUNTS, _C_NUM] = n_err + n_warn + n_expl
    firing = [i for i, f in enumerate(state.fires) if f]
    for k in range(_open_rows(checks)):
        hit = firing[k] if k < len(firing) else None
        r = first + k
        c = checks[hit] if hit is not None else None
        out[r, _C_N] = k + 1 if c is not None else ""
        out[r, _C_SEV] = ("" if c is None else explained_word if state.explained[hit]
                          else words.severity_word(c.severity))
        out[r, _C_OCODE] = words.title(state.codes[hit]) if c is not None else ""
        out[r, _C_CELL] = _address_list(form, c) if c is not None else ""
        out[r, _C_MSG] = state.messages[hit] if c is not None else ""
    none, wanted = words.phrase("explain_none"), words.phrase("explain_wanted")
    short = words.phrase("explain_short", min=explain.min_length, max=explain.max_length)
    for code in explain.codes:
        r = _expl_row(form, code)
        length = state.explanation_lengths[code]
        out[r, _C_LEN] = length
        fired = any(state.fires[i] for i, c in enumerate(checks) if _explained_code(form, c) == code)
        out[r, _C_OCODE] = (none if not fired else explained_word if length >= explain.min_length
                            else wanted if length == 0 else short)
    out[1, 0] = status_text(n_err, n_warn, n_expl, here=True, words=words)
    cell = status_cell(form)
    return {SHEET_NAME: out,
            form.cover.name: {(cell.row - 1, cell.col - 1): status_text(n_err, n_warn, n_expl, words=words)}}


# -- writing ------------------------------------------------------------------------

def add_checks(ctx):
    """The writer's extension hook: add 校验结果 to the workbook being built.

    ``ctx`` is write.BuildContext (workbook, sheets, form, prefill, previous, formats).
    The new sheet joins ``ctx.sheets``, so the writer protects it with the others.
    """
    ws = write_checks(ctx.workbook, ctx.form, ctx.sheets, ctx.prefill, ctx.formats.get,
                      previous=ctx.previous)
    ctx.sheets[SHEET_NAME] = ws
    return ws


def write_checks(workbook, form: Form, sheets: Mapping[str, object],
                 values: Mapping[str, object] | None = None,
                 make_format: Callable[..., object] | None = None,
                 password: str | None = None,
                 previous: Mapping[str, object] | None = None):
    """Add 校验结果 to an xlsxwriter ``workbook`` and wire it to the form's sheets.

    ``sheets`` maps sheet names (form.cover.name, form.table.name) to their
    xlsxwriter worksheets; ``values`` are the field values the workbook is
    written with (the pre-filled ones), and ``previous`` last year's values in its
    上年 cells, for the formulas' stored results (:func:`results`); ``make_format(**props)``
    makes a cell format (default: workbook.add_format).
    The sheet is protected here only if ``password`` is given.
    """
    words = form.catalogue
    checks = compile_checks(form)
    stored = results(form, values, checks, previous)
    shown = stored[SHEET_NAME]
    ws = workbook.add_worksheet(SHEET_NAME)
    formats = _formats(make_format or (lambda **props: workbook.add_format(props)))
    fields = form.fields
    first = _first_row(form)
    frow, crow = _rows(form, checks)
    explain = form.explanations
    written: set[tuple[int, int]] = set()

    def src(fid: str) -> str:
        c = form.input_cell(fid)
        return sheet_ref(c.sheet, c.row, c.col)

    def prev_ref(fid: str) -> str:
        c = form.previous_cell(fid)
        return sheet_ref(c.sheet, c.row, c.col)

    def clean_ref(fid: str) -> str:
        return _xl(frow[fid], _C_CLEAN)

    def formula(row: int, col: int, text: str, style=None) -> None:
        written.add((row, col))
        _wrote(ws.write_formula(row, col, "=" + text, style or formats["hidden"], shown[row, col]))

    # Per field: length of its text, its type finding, clean value, required?
    for f in fields:
        r, x = frow[f.id], src(f.id)
        n = _xl(r, _C_LEN)
        ws.write_string(r, _C_FID, f.id, formats["hidden"])
        formula(r, _C_LEN, f"IF(ISERROR({x}),-1,{_squeezed_len(x)})")
        value = x
        if f.numeric:
            # A number typed as text is read as clean reads it: cell by cell, each once.
            t, u, s = _xl(r, _C_NTEXT), _xl(r, _C_NUMU), _xl(r, _C_NUMS)
            formula(r, _C_NTEXT, f'IF(OR({n}<=0,ISNUMBER({x})),"",{_number_normalized(x)})')
            formula(r, _C_NUMU, _unit_stripped(t, f))
            formula(r, _C_NUMS, _unsigned(u))
            formula(r, _C_NUMV, f'IF({n}<=0,"",{_number_read(x, u, s)})')
            value = _xl(r, _C_NUMV)
        formula(r, _C_TCODE, _type_code_formula(f, value, n, _xl(r, _C_CLEAN)))
        if f.type == "choice":
            formula(r, _C_NTEXT, f'IF({n}<=0,"",{_normalized(x)})')
        formula(r, _C_CLEAN, _clean_formula(f, value, n, _xl(r, _C_TCODE), _xl(r, _C_NTEXT)))
        if f.required_when is None:
            req = "TRUE" if f.required else "FALSE"
        else:
            req = ex.to_excel(f.required_when, clean_ref)[0]
        formula(r, _C_REQ, req)

    # Per explainable code: the length of its explanation (hidden, in its own row).
    def expl_len_ref(code: str) -> str:
        return _xl(_expl_row(form, code), _C_LEN)

    # Per check: its code, whether it fires, its message.
    for i, c in enumerate(checks):
        r = crow[i]
        if c.kind == "required":
            fr = frow[c.field.id]
            fires = f"AND({_xl(fr, _C_REQ)},{_xl(fr, _C_LEN)}=0)"
            message = _message_formula(_missing_message(form, c.field), clean_ref)
            ws.write_string(r, _C_CODE, words.title(c.code), formats["text"])
            ws.write_string(r, _C_KEY, f"{c.code}|{','.join(c.fields)}", formats["hidden"])
        elif c.kind == "type":
            fr = frow[c.field.id]
            tc = _xl(fr, _C_TCODE)
            fires = f"{tc}<>\"\""
            cells = {"value": _value_shown(src(c.field.id)), "n": _xl(fr, _C_LEN)}
            message = _choose(tc, [(t.code, _message_formula(_type_message(form, t, c.field),
                                                             cells.__getitem__))
                                   for t in _type_checks(c.field)])
            shown_code = _choose(tc, [(t.code, excel_text(words.title(t.code)))
                                      for t in _type_checks(c.field)],
                                 default=excel_text(_type_label(form, c.field)))
            formula(r, _C_CODE, shown_code, formats["text"])
            formula(r, _C_KEY, f"{tc}&\"|{','.join(c.fields)}\"")
        elif c.kind == "change":
            x, p = clean_ref(c.field.id), prev_ref(c.field.id)
            rule = c.change
            ratio, floor = _excel_shown(rule.max_ratio), _excel_shown(rule.floor)
            # IF, not AND: AND evaluates every argument, and an error in one (a blank
            # "" times the ratio) is its result in Excel and LibreOffice alike.
            fires = (f"IF(AND(ISNUMBER({p}),ISNUMBER({x})),AND(OR({x}>{floor},{p}>{floor}),"
                     f"OR({x}>ROUND({ratio}*{p},10),ROUND({x}*{ratio},10)<{p})),FALSE)")
            refs = {"value": x, "previous": p}.__getitem__
            message = (f"IF({x}>{p},{_message_formula(_change_message(form, c, 'up'), refs)},"
                       f"{_message_formula(_change_message(form, c, 'down'), refs)})")
            ws.write_string(r, _C_CODE, words.title(c.code), formats["text"])
            ws.write_string(r, _C_KEY, f"{c.code}|{','.join(c.fields)}", formats["hidden"])
        else:
            when_t = ex.to_excel(c.rule.when, clean_ref)[0] if c.rule.when is not None else None
            check_f = ex.to_excel(c.rule.check, clean_ref)[1]
            fires = f"AND({when_t},{check_f})" if when_t else check_f
            message = _message_formula(c.rule.message, clean_ref)
            ws.write_string(r, _C_CODE, c.code, formats["text"])
            ws.write_string(r, _C_KEY, f"{c.code}|{','.join(c.fields)}", formats["hidden"])
        severity_word = words.severity_word(c.severity)
        ws.write_string(r, _C_CSEV, severity_word, formats["text"])
        ws.write_string(r, _C_CCELL, "、".join(_address(form, i) for i in c.fields),
                        formats["text"])
        fcell = _xl(r, _C_FIRES)
        formula(r, _C_FIRES, fires)
        wcode = _explained_code(form, c)
        ecell = _xl(r, _C_EXPLD)
        explained_word = words.phrase("explained")
        if wcode is not None:
            formula(r, _C_EXPLD, f"AND({fcell},{expl_len_ref(wcode)}>={explain.min_length})")
            formula(r, _C_KIND, f'IF({ecell},"{explained_word}","{severity_word}")')
            status = (f'IF({fcell},IF({ecell},"{_check_status(c, True, True)}",'
                      f'"{_check_status(c, True, False)}"),"{_check_status(c, False, False)}")')
        else:
            # Constants, not formulas: xlsxwriter's handling of each formula is what
            # writing a workbook costs.
            ws.write_boolean(r, _C_EXPLD, False, formats["hidden"])
            ws.write_string(r, _C_KIND, severity_word, formats["hidden"])
            status = f'IF({fcell},"{_check_status(c, True, False)}","{_check_status(c, False, False)}")'
        formula(r, _C_STATUS, status, formats["status"])
        formula(r, _C_TEXT, f'IF({fcell},{message},"")', formats["wrap"])
        # Running count of failing checks: the n-th open problem is where it first reaches n.
        above = f"{_xl(r - 1, _C_RUN)}+" if i else ""
        formula(r, _C_RUN, f"{above}IF({fcell},1,0)")
        if c.severity == ERROR:
            formula(r, _C_ERR, f"IF({fcell},1,0)")
        elif wcode is None:
            formula(r, _C_WARN, f"IF({fcell},1,0)")
        else:
            formula(r, _C_WARN, f"IF(AND({fcell},NOT({ecell})),1,0)")
            formula(r, _C_EXPL, f"IF({ecell},1,0)")

    # Per field: does a check of its value fail? (for the input cells' colours;
    # blank required inputs are the writer's yellow)
    touching = _touching(form, checks)
    for f in fields:
        r = frow[f.id]
        for col, sev in ((_C_FERR, ERROR), (_C_FWARN, WARNING)):
            idx = [i for i in touching[f.id] if checks[i].severity == sev]
            text = "OR(" + ",".join(_xl(crow[i], _C_FIRES) for i in idx) + ")" if idx else "FALSE"
            formula(r, col, text)

    # Totals, the open problems list, the cover line.
    last = crow[-1]
    err_total = _xl(_ROW_COUNTS, _C_ERR)
    warn_total = _xl(_ROW_COUNTS, _C_WARN)
    expl_total = _xl(_ROW_COUNTS, _C_EXPL)
    open_total = _xl(_ROW_COUNTS, _C_NUM)
    for col in (_C_ERR, _C_WARN, _C_EXPL):
        formula(_ROW_COUNTS, col, f"SUM({_xl(first, col)}:{_xl(last, col)})")
    formula(_ROW_COUNTS, _C_NUM, f"{err_total}+{warn_total}+{expl_total}")
    ws.write_string(_ROW_COUNTS, _C_KEY, "合计", formats["hidden"])

    run_range = f"{_xl(first, _C_RUN)}:{_xl(last, _C_RUN)}"
    for k in range(_open_rows(checks)):
        r = first + k
        n = k + 1
        where = f"MATCH({n},{run_range},0)"
        for col, src_col in ((_C_SEV, _C_KIND), (_C_OCODE, _C_CODE), (_C_CELL, _C_CCELL),
                             (_C_MSG, _C_TEXT)):
            rng = f"{_xl(first, src_col)}:{_xl(last, src_col)}"
            formula(r, col, f'IF({open_total}<{n},"",INDEX({rng},{where}))', formats["open_wrap"])
        formula(r, _C_N, f'IF({open_total}<{n},"",{n})', formats["open"])

    status = _status_formula(err_total, warn_total, expl_total, _status_end(words, True))
    ws.merge_range(0, 0, 0, _C_MSG, "校验结果", formats["title"])
    _wrote(ws.merge_range(1, 0, 1, _C_MSG, "", formats["summary"]))
    formula(1, 0, status, formats["summary"])
    ws.set_row(2, 28)
    ws.merge_range(2, 0, 2, _C_MSG,
                   "本页随填写自动更新：下方列出尚未解决的问题（“错误”须改正，“警告”请核对），"
                   "右侧是全部校验项（只在屏幕上显示，不打印）。请按提示修改统计表和封面；表中的红色单元格有错误，橙色单元格请核对。",
                   formats["note"])
    if explain.codes:
        written |= _write_explanations(ws, form, checks, shown, crow, formats, workbook)
    for col, text in ((_C_N, "序号"), (_C_SEV, "类别"), (_C_OCODE, "代码"), (_C_CELL, "单元格"),
                      (_C_MSG, "问题说明"), (_C_CODE, "校验项"), (_C_CSEV, "类别"),
                      (_C_CCELL, "单元格"), (_C_STATUS, "状态"), (_C_TEXT, "说明")):
        ws.write_string(first - 1, col, text, formats["header"])
    for col, width in ((_C_N, 6), (_C_SEV, 7), (_C_OCODE, 10), (_C_CELL, 22), (_C_MSG, 66),
                       (_C_MSG + 1, 3), (_C_CODE, 11), (_C_CSEV, 7), (_C_CCELL, 22),
                       (_C_STATUS, 8), (_C_TEXT, 60)):
        ws.set_column(col, col, width)
    ws.set_column(_C_TEXT + 1, _C_NUMV, None, None, {"hidden": True})
    for r in crow:
        ws.set_row(r, _LIST_ROW)   # two lines of the wrapped messages
    if not explain.codes:
        # With explanations above, frozen rows would fill a small screen: the list scrolls.
        ws.freeze_panes(first, 0)
    # On paper: the explanations and the open problems, one page wide, A4 upright like
    # the other sheets.
    # No program lets a print area follow a formula (LibreOffice reads a fixed one only),
    # and every row of the list holds one: the print takes as many of its rows as fit on
    # one page, so that a few problems print on one page, not on a hundred empty rows.
    ws.set_paper(9)
    ws.set_portrait()
    printed = min(_open_rows(checks), _rows_on_first_page(ws, first))
    ws.print_area(0, 0, first + printed - 1, _C_MSG)
    ws.fit_to_pages(1, 1)
    ws.set_footer("&L" + words.phrase("print_limit", n=printed).replace("&", "&&")
                  + "&R第 &P 页，共 &N 页")
    if password is not None:
        ws.protect(password, {"select_locked_cells": True, "select_unlocked_cells": True})

    # The cover line.
    cell = status_cell(form)
    cover = sheets[form.cover.name]
    ref = f"'{SHEET_NAME}'!"
    cover_formula = "=" + _status_formula(ref + err_total, ref + warn_total, ref + expl_total,
                                          _status_end(words, False))
    status_value = stored[form.cover.name][cell.row - 1, cell.col - 1]
    if cell.width > 1:
        _wrote(cover.merge_range(cell.row - 1, cell.col - 1, cell.row - 1, cell.last_col - 1, "",
                                 formats["cover"]))
    _wrote(cover.write_formula(cell.row - 1, cell.col - 1, cover_formula, formats["cover"],
                               status_value))
    if cell.row == 1:
        # The line is for the person filling in, not for the paper copies: the
        # cover prints from the row below it.
        cover.print_area(1, 0, max(form.cover.rows, 2) - 1, form.cover.columns - 1)

    missing = set(shown) - written
    assert not missing, f"stored results of no formula: {sorted(missing)[:5]}"

    # Input cells turn red / orange while a check touching them fails. A blank
    # required input is the writer's (yellow); these colours are for values.
    for f in fields:
        if not touching[f.id]:
            continue
        c = form.input_cell(f.id)
        ws_in = sheets[c.sheet]
        r = frow[f.id]
        for col, style in ((_C_FERR, formats["cf_error"]), (_C_FWARN, formats["cf_warning"])):
            if not any(checks[i].severity == (ERROR if col == _C_FERR else WARNING)
                       for i in touching[f.id]):
                continue
            _wrote(ws_in.conditional_format(
                c.row - 1, c.col - 1, c.last_row - 1, c.last_col - 1,
                {"type": "formula", "criteria": f"={ref}{_xl(r, col)}", "format": style,
                 "stop_if_true": True}))
    return ws


def _write_explanations(ws, form: Form, checks: Sequence[Check],
                        shown: Mapping[tuple[int, int], object], crow: Sequence[int],
                        formats: Mapping[str, object], workbook) -> set[tuple[int, int]]:
    """The explanations block: per explainable code, its state and the open cell named
    expl_<code>, at a fixed row (the open problems below come and go). Returns the
    cells of its formulas (their stored results: ``shown``)."""
    written: set[tuple[int, int]] = set()
    words = form.catalogue
    explain = form.explanations
    params = {"min": explain.min_length, "max": explain.max_length}
    heading = words.phrase("explain_heading", **params)
    ws.merge_range(_EXPL_TOP, 0, _EXPL_TOP, _C_MSG, heading, formats["note"])
    ws.set_row(_EXPL_TOP, 14 * text_lines(heading, 100, 10) + 4)
    top = _EXPL_TOP + 1
    ws.merge_range(top, _C_N, top, _C_SEV, "代码", formats["header"])
    ws.merge_range(top, _C_OCODE, top, _C_CELL, "状态", formats["header"])
    ws.write_string(top, _C_MSG, words.phrase("explanation"), formats["header"])
    none, wanted, explained = (words.phrase("explain_none"), words.phrase("explain_wanted"),
                               words.phrase("explained"))
    short = words.phrase("explain_short", **params)
    validation = {
        "validate": "length", "criteria": "between", "minimum": explain.min_length,
        "maximum": explain.max_length, "ignore_blank": True,
        "input_title": words.phrase("explanation"),
        "input_message": words.phrase("explain_prompt", **params)[:255],
        "error_title": "输入有误", "error_type": "stop",
        "error_message": words.phrase("explain_error", **params)[:255]}
    for code in explain.codes:
        r = _expl_row(form, code)
        mine = [i for i, c in enumerate(checks) if _explained_code(form, c) == code]
        x = _xl(r, _C_MSG)
        n = _xl(r, _C_LEN)
        _wrote(ws.write_formula(r, _C_LEN, f"=IF(ISERROR({x}),0,{_squeezed_len(x)})",
                                formats["hidden"], shown[r, _C_LEN]))
        ws.merge_range(r, _C_N, r, _C_SEV, words.title(code), formats["expl_code"])
        fired = "OR(" + ",".join(_xl(crow[i], _C_FIRES) for i in mine) + ")" if mine else "FALSE"
        ws.merge_range(r, _C_OCODE, r, _C_CELL, "", formats["expl_status"])
        _wrote(ws.write_formula(
            r, _C_OCODE,
            f'=IF(NOT({fired}),"{none}",IF({n}>={explain.min_length},"{explained}",'
            f'IF({n}=0,"{wanted}","{short}")))', formats["expl_status"], shown[r, _C_OCODE]))
        written |= {(r, _C_LEN), (r, _C_OCODE)}
        ws.write_blank(r, _C_MSG, None, formats["expl_input"])
        _wrote(ws.data_validation(r, _C_MSG, r, _C_MSG, validation))
        ws.set_row(r, 44)
        _wrote(workbook.define_name(form.explanation_name(code), f"='{SHEET_NAME}'!{x}"))
    return written


# Height of a row of the lists (points): two lines of a wrapped message.
_LIST_ROW = row_points(2, 11)
# A4 upright less the default margins (0.7 in at the sides, 0.75 in at top and bottom),
# in pixels at 96 dpi.
_PORTRAIT_PX = ((8.27 - 1.4) * 96, (11.69 - 1.5) * 96)


def _rows_on_first_page(ws, first: int) -> int:
    """How many rows of the list fit on the first printed page, one page wide."""
    wide, high = _PORTRAIT_PX
    scale = min(1.0, wide / printed_width(ws, 0, _C_MSG))
    above = sum(ws.row_info[r].height if r in ws.row_info else 20 for r in range(first))
    return max(1, int((high / scale - above) // (_LIST_ROW * 4 / 3)) - 1)


def _open_rows(checks: Sequence[Check]) -> int:
    """How many problems can be open at once: per field its requirement (blank) or its
    type (not blank), never both; and every rule and change check."""
    fields = {c.field.id for c in checks if c.kind in ("required", "type")}
    return len(fields) + sum(1 for c in checks if c.kind in ("rule", "change"))


def _type_label(form: Form, f: Field) -> str:
    """What a type check's row is called before its value gives a finding."""
    return form.catalogue.type_words(f.type).get("check") or form.catalogue.phrase("other_check")


def _address(form: Form, fid: str) -> str:
    return form.input_cell(fid).address


def _address_list(form: Form, c: Check) -> str:
    return "、".join(_address(form, i) for i in c.fields)


def _choose(code_cell: str, options: list[tuple[str, str]], default: str = '""') -> str:
    out = default
    for code, text in reversed(options):
        out = f'IF({code_cell}="{code}",{text},{out})'
    return out


def _type_code_formula(f: Field, x: str, n: str, clean: str) -> str:
    """The field's type finding ("" if none): the first condition of its type that holds."""
    checks = _type_checks(f)
    if not checks:
        return '""'
    out = '""'
    for t in reversed(checks):
        cond = t.condition(x, f).replace("{n}", n).replace("{clean}", clean)
        out = f'IF({cond},"{t.code}",{out})'
    first = checks[0].code
    # Blank: no finding; an error value (#DIV/0!...) in the cell: the first code.
    return f'IF({n}=0,"",IF({n}<0,"{first}",{out}))'


def _clean_formula(f: Field, x: str, n: str, tcode: str, ntext: str) -> str:
    """The field's clean value: "" when blank or unreadable, as validate's None
    (``x``: for a number, the cell with the number read from the input)."""
    if f.type in ("int", "amount"):
        return f'IF({tcode}<>"","",IF({n}<=0,"",ROUND({x},10)))'
    if f.type == "choice":
        return f'IF({n}<=0,"",{_choice_match(ntext, f)})'
    return f'IF({n}<=0,"",{x})'


def _formats(make: Callable[..., object]) -> dict[str, object]:
    base = {"font_size": 10, "valign": "top"}

    def fmt(**kw):
        return make(**{**base, **kw})

    return {
        "hidden": fmt(),
        "text": fmt(border=1, text_wrap=True),
        "wrap": fmt(border=1, text_wrap=True),
        # The open problems: no borders, so the unused rows stay empty on screen and paper.
        "open": fmt(align="center", valign="vcenter"),
        "open_wrap": fmt(text_wrap=True, valign="vcenter"),
        "status": fmt(border=1, align="center"),
        "header": fmt(bold=True, border=1, bg_color="#D9D9D9", align="center"),
        "title": fmt(bold=True, font_size=14, align="center"),
        "summary": fmt(bold=True, font_size=12, font_color="#C00000"),
        "note": fmt(text_wrap=True, font_color="#595959"),
        "cover": make(font_size=12, bold=True, font_color="#C00000", align="center",
                      valign="vcenter"),
        "expl_code": fmt(border=1, bold=True, align="center", valign="vcenter"),
        "expl_status": fmt(border=1, align="center", valign="vcenter", text_wrap=True),
        "expl_input": fmt(border=1, text_wrap=True, locked=False),
        "cf_error": make(bg_color="#FFC7CE", font_color="#9C0006"),
        "cf_warning": make(bg_color="#F8CBAD", font_color="#833C0B"),
    }


def _wrote(rc) -> None:
    checked(rc, SHEET_NAME)
