"""The 催报 list: the units that have not returned their table, or must send it again.

A unit is on it when its status is one of :data:`xlsx_tools.round.TO_REMIND`
(未提交, 不通过, 无法读取), with what it has to do and, where the roster has
them, how to reach it: the roster's columns that are not fields
(:attr:`~xlsx_tools.roster.RosterEntry.extra`; the shipped definition declares
a contact person, phones and an e-mail address, and any other column a roster
carries comes along under its own header). :func:`write_reminders_xlsx` writes
it as a workbook to print or send on.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .form import Form
from .catalogue import STATUSES
from .round import ST_FAILED, ST_MISSING, ST_UNREADABLE, TO_REMIND, Round, Unit, display, extra_columns
from .writing import write_file
from .xlsx_output import TableFormats, close_workbook, new_workbook, print_setup, write_table

__all__ = ["LAST_RECEIVED", "Reminder", "reminder_columns", "reminders", "write_reminders_xlsx"]

# The columns after the roles and the roster's other columns: what came last.
LAST_RECEIVED = {"file_name": "最近收到的文件", "received_at": "收到时间"}
# Columns (by key) that wrap at a fixed width, so the list prints legibly on A4 landscape.
_WRAP = {"unit": 26, "recommending": 20, "todo": 34, "file_name": 30}
_MEANINGS = dict(STATUSES.values())   # word -> meaning
LEGEND = "；".join(f"{word}：{_MEANINGS[word]}" for word in TO_REMIND) + "。"


def reminder_columns(form: Form) -> dict[str, str]:
    """The list's first columns, key -> header, in print order: who (the roles, headed as the
    form heads them) and what to do. The roster's other columns and LAST_RECEIVED follow."""
    roles = {r: form.column_header(r) for r in ("batch", "category", "unit", "recommending")
             if form.role(r)}
    return {**roles, "status": "状态", "todo": "需要做什么"}


@dataclass
class Reminder:
    unit: Unit
    todo: str

    def to_dict(self) -> dict[str, Any]:
        """By role, as the units' JSON (and validate's)."""
        u, v = self.unit, self.unit.chosen
        return {"unit_id": u.id, "batch": u.batch, "category": u.category, "unit": u.unit,
                "recommending": u.recommending or "", "status": u.status, "todo": self.todo,
                "file_name": v.file_name if v else "", "received_at": v.received_at if v else "",
                "extra": dict(u.extra)}


def _todo(u: Unit) -> str:
    v = u.chosen
    if u.status == ST_MISSING:
        return "尚未提交统计表，请尽快提交。"
    if u.status == ST_FAILED and v is not None:
        return f"统计表有 {v.errors} 项错误（见标注副本），请修改后重新提交。"
    if u.status == ST_UNREADABLE and v is not None:
        return v.reason or "收到的文件无法读取，请重新发送。"
    return ""


def reminders(rnd: Round, units: list[Unit] | None = None) -> list[Reminder]:
    """Who to remind, in roster order."""
    return [Reminder(u, _todo(u)) for u in (units if units is not None else rnd.units()) if u.to_remind]


def write_reminders_xlsx(rnd: Round, path: str | Path, units: list[Unit] | None = None) -> Path:
    """The 催报 list as a workbook: one row per unit, the roster's other columns (contacts)
    each in a column of its own."""
    path = Path(path)
    items = reminders(rnd, units)
    form = rnd.form
    first = reminder_columns(form)
    extra = extra_columns(form, [r.unit for r in items])
    write_file(path, lambda tmp: _write_list(tmp, form, items, first, extra), what="催报名单")
    return path


def _write_list(path: Path, form: Form, items: list[Reminder], first: dict[str, str],
                extra: dict[str, str]) -> None:
    wb = new_workbook(path, "催报名单", form.output_time)
    fmt = TableFormats(wb)
    ws = wb.add_worksheet("催报名单")
    stamp = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    ws.write_string(0, 0, f"催报名单（截至 {stamp}，共 {len(items)} 个单位）", fmt.title)
    ws.set_row(0, 24)
    headers = ["序号", *first.values(), *extra.values(), *LAST_RECEIVED.values()]
    ws.merge_range(1, 0, 1, len(headers) - 1, LEGEND, fmt.note)
    ws.set_row(1, 32)
    keys = [*first, *LAST_RECEIVED]
    rows = []
    for i, r in enumerate(items, start=1):
        d = r.to_dict()
        d["category"] = display(form, "category", d["category"])
        cells = [_shown(d[k]) for k in keys]
        rows.append([i, *cells[:len(first)], *(r.unit.extra.get(k, "") for k in extra),
                     *cells[len(first):]])
    columns = [*first, *extra, *LAST_RECEIVED]
    formats = [fmt.serial] + [fmt.wrap if k in _WRAP else fmt.text for k in columns]
    wrap = {1 + i: _WRAP[k] for i, k in enumerate(columns) if k in _WRAP}
    write_table(ws, fmt, 2, headers, rows, 40, formats, wrap=wrap)
    print_setup(ws, repeat=(2, 2), fit_width=True)
    close_workbook(wb)


def _shown(value: object) -> str:
    text = str(value or "")
    # An ISO time as a clerk writes it: 2022-09-15 10:03.
    if len(text) >= 16 and text[10:11] == "T":
        return text[:16].replace("T", " ")
    return text
