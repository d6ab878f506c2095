"""Last round's values: what ``--previous DIR`` reads.

DIR is last round's merge output: its ``汇总-*.csv`` files, one row per platform
added up, one column per field id (as :mod:`xlsx_tools.merge` writes them). A
unit is found by its name (compared as the merge compares names: without spaces,
full- and half-width alike), or by the name it had last year where the roster
gives one (the column the definition's ``[previous] name_key`` names). Values are
matched to this year's fields by field id, numeric fields only: a field last year's
table did not have simply has no previous value.

:func:`read_previous` raises :class:`PreviousError` (a Chinese message) for a folder
that is not a merge output.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

from .form import Form, load_form
from .roster import unit_key

__all__ = ["PreviousRound", "PreviousError", "read_previous", "same_name", "SUMMARY_GLOB"]

# The files of a merge output that hold the values (the batches' summaries).
SUMMARY_GLOB = "汇总-*.csv"


class PreviousError(Exception):
    """Last round's output cannot be used; the message says why, in Chinese."""


# A unit's name as names are compared: the roster's (no white space, full/half width alike).
same_name = unit_key


@dataclass
class PreviousRound:
    """Last round's numeric values by unit, and this year's names of renamed units."""
    source: Path | None
    units: dict[str, dict[str, int | Decimal]] = field(default_factory=dict)   # same_name -> values
    renamed: dict[str, str] = field(default_factory=dict)   # same_name(now) -> same_name(then)

    def values_for(self, unit: object) -> dict[str, int | Decimal] | None:
        """Last year's values of a unit (by this year's name), None if it was not there."""
        key = same_name(unit)
        if not key:
            return None
        found = self.units.get(key)
        if found is None and key in self.renamed:
            found = self.units.get(self.renamed[key])
        return dict(found) if found is not None else None

    def with_names(self, previous_names: Mapping[str, str]) -> PreviousRound:
        """The same values, with units renamed since (this year's name -> last year's)."""
        renamed = dict(self.renamed)
        renamed.update({same_name(now): same_name(then) for now, then in previous_names.items()
                        if same_name(then) and same_name(now) != same_name(then)})
        return PreviousRound(self.source, self.units, renamed)

    def __len__(self) -> int:
        return len(self.units)


def read_previous(folder: str | Path, form: Form | None = None,
                  previous_names: Mapping[str, str] | None = None) -> PreviousRound:
    """Read last round's summaries in ``folder``; ``previous_names`` maps a unit's name
    this year to its name last year (from the roster)."""
    form = form or load_form()
    folder = Path(folder)
    if not folder.is_dir():
        raise PreviousError(f"找不到上一轮的汇总结果文件夹“{folder}”。")
    files = sorted(p for p in folder.glob(SUMMARY_GLOB) if p.is_file())
    if not files:
        raise PreviousError(f"文件夹“{folder}”中没有上一轮的汇总结果（{SUMMARY_GLOB}）。"
                            "请给出上一轮 xlsx-tools merge 的 --out 文件夹。")
    unit_id = form.keys["unit"]
    numeric = [f for f in form.fields if f.numeric]
    round_ = PreviousRound(folder)
    for path in files:
        rows = _rows(path)
        if not rows or unit_id not in rows[0]:
            raise PreviousError(f"“{path.name}”不是本表的汇总结果（没有“{unit_id}”列）。"
                                "请给出上一轮 xlsx-tools merge 写出的文件夹。")
        header = rows[0]
        at = {name: i for i, name in enumerate(header)}
        for row in rows[1:]:
            cells = dict(zip(header, row))
            key = same_name(cells.get(unit_id))
            if not key or key in round_.units:
                continue   # a unit is in one batch; a second row for it is not used
            values: dict[str, int | Decimal] = {}
            for f in numeric:
                if f.id in at:
                    v = _number(cells.get(f.id, ""), f.type)
                    if v is not None:
                        values[f.id] = v
            round_.units[key] = values
    return round_.with_names(previous_names or {})


def _rows(path: Path) -> list[list[str]]:
    try:
        data = path.read_bytes()
    except OSError as e:
        raise PreviousError(f"无法读取“{path}”（{e.strerror or e}）。") from None
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise PreviousError(f"无法识别“{path.name}”的文字编码。")
    try:
        return [row for row in csv.reader(io.StringIO(text, newline="")) if any(row)]
    except csv.Error:
        raise PreviousError(f"“{path.name}”无法按 CSV 读取。") from None


def _number(text: str, type_: str) -> int | Decimal | None:
    text = (text or "").strip()
    if not text:
        return None
    try:
        d = Decimal(text)
    except InvalidOperation:
        return None
    if not d.is_finite():
        return None
    if type_ == "int":
        return int(d) if d == d.to_integral_value() else None
    return d


def previous_number(value: object) -> int | Decimal | None:
    """A number as a 上年 cell holds it (what the sheet's ISNUMBER takes): an int, or a
    Decimal exact to 10 places for a float (a whole one as an int); anything else, and a
    float that is no number (NaN, infinity), None."""
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        return None
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return None
        d = Decimal(repr(round(value, 10)))
        return int(d) if d == d.to_integral_value() else d
    return value


def last_round(previous: str | Path | PreviousRound | None, form: Form,
               entries: Iterable = ()) -> PreviousRound | None:
    """Last round for this year's roster ``entries`` (their names last year, see
    :func:`previous_names`): read from its folder, or one already read renamed; None for
    None. A folder that is not a merge output raises :class:`PreviousError`."""
    if previous is None:
        return None
    names = previous_names(entries, form)
    if isinstance(previous, PreviousRound):
        return previous.with_names(names)
    return read_previous(previous, form, names)


def previous_names(entries: Iterable, form: Form) -> dict[str, str]:
    """this year's name -> last year's, from roster entries (their ``extra`` column
    named by ``[previous] name_key``)."""
    key = form.previous.name_key
    if not key:
        return {}
    return {e.unit: e.extra.get(key, "") for e in entries if e.extra.get(key, "")}
