"""What an evaluator's round adds to a filler's work, for the tests: explanations typed
into the workbook (审核说明, through their expl_<code> names), last year's 上年 cells
edited (through prev_<id>), and last round's merge output written as a folder.

    path = make_filled(tmp, values, edit=explain({"R03": "本年度服务企业……"}))
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import openpyxl

from xlsx_tools.form import Form, load_form

FORM = load_form()

# An explanation long enough to count (the definitions ask for 10 characters).
REASON = "本年度新增线上服务平台，服务企业多为一次性线上咨询，数据经核实无误。"


def _named_cell(wb: openpyxl.Workbook, name: str):
    (sheet, ref), = wb.defined_names[name].destinations
    return wb[sheet][ref.replace("$", "")]


def explain(texts: Mapping[str, object], form: Form = FORM) -> Callable[[openpyxl.Workbook], None]:
    """An ``edit`` for _fill.fill_workbook: type each code's explanation into its cell."""
    def edit(wb: openpyxl.Workbook) -> None:
        for code, text in texts.items():
            _named_cell(wb, form.explanation_name(code)).value = text
    return edit


def set_previous(values: Mapping[str, object], form: Form = FORM) -> Callable[[openpyxl.Workbook], None]:
    """An ``edit``: overwrite 上年 cells (as a filler who unprotected the sheet would)."""
    def edit(wb: openpyxl.Workbook) -> None:
        for fid, value in values.items():
            _named_cell(wb, form.previous_name(fid)).value = value
    return edit


def fill_many(source: Path, cases: Mapping[Path, tuple[Mapping[str, object],
                                                     Callable[[openpyxl.Workbook], None] | None]]
              ) -> list[Path]:
    """Several filled copies of one generated workbook: each target gets its values and
    edit (through _fill.fill_workbook, which loads the source once)."""
    from _fill import fill_workbook

    return [fill_workbook(source, target, values, edit) for target, (values, edit) in cases.items()]


def write_previous_round(folder: Path, rows: Mapping[str, Mapping[str, object]],
                         form: Form = FORM, batch: str | None = None) -> Path:
    """A folder as last round's merge left it: 汇总-<batch>.csv with a row per unit
    (field id columns, UTF-8 with BOM). ``rows``: unit name -> values by field id."""
    import csv
    import io

    folder.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    ids = [f.id for f in form.fields]
    w.writerow(ids)
    for unit, values in rows.items():
        full = {**values, form.keys["unit"]: unit}
        w.writerow(["" if full.get(i) is None else str(full[i]) for i in ids])
    name = f"汇总-{batch or form.batches[0]}.csv"
    (folder / name).write_bytes(b"\xef\xbb\xbf" + buf.getvalue().encode("utf-8"))
    return folder
