"""The 催报 list: the units that have not returned their table, or must send it again.

A unit is on it when its status is one of :data:`xlsx_tools.round.TO_REMIND`
(未提交, 未通过, 无法读取), with what it has to do and, where the roster has
them, how to reach it (the roster's columns such as 联系人, 联系电话, 邮箱).
:func:`write_reminders_xlsx` writes it as a workbook to print or send on.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The summaries' table helpers, so the 催报 list looks like 提交情况.
from .merge import _close, _new_workbook, _print_setup, _write_table
from .round import ST_FAILED, ST_MISSING, ST_UNREADABLE, Round, Unit, category_label

__all__ = ["REMINDER_COLUMNS", "Reminder", "reminders", "write_reminders_xlsx"]

# The columns, in print order: who, what to do, then (after the roster's contacts) what came last.
REMINDER_COLUMNS = {
    "batch": "列入批次", "platform_category": "平台类别", "unit_name": "单位名称",
    "recommending_unit": "推荐单位", "status": "状态", "todo": "需要做什么",
}
LAST_RECEIVED = {"file_name": "最近收到的文件", "received_at": "收到时间"}
# Columns that wrap at a fixed width, so the list prints legibly on A4 landscape.
_WRAP = {"unit_name": 26, "recommending_unit": 20, "todo": 34, "file_name": 30}
LEGEND = ("未提交：名单内尚未收到统计表的单位；未通过：统计表有错误，须按标注副本修改后重新提交；"
          "无法读取：收到的文件无法读取，须重新发送。")


@dataclass
class Reminder:
    unit: Unit
    todo: str

    def to_dict(self) -> dict[str, Any]:
        u, v = self.unit, self.unit.chosen
        return {"unit_id": u.id, "batch": u.batch, "platform_category": category_label(u.platform_category),
                "unit_name": u.unit_name, "recommending_unit": u.recommending_unit or "",
                "status": u.status, "todo": self.todo, "file_name": v.file_name if v else "",
                "received_at": v.received_at if v else "", "contacts": dict(u.contacts)}


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
    """The 催报 list as a workbook: one row per unit, its contacts in columns of their own."""
    path = Path(path)
    items = [r.to_dict() for r in reminders(rnd, units)]
    contact_columns: list[str] = []
    for item in items:
        for k in item["contacts"]:
            if k not in contact_columns:
                contact_columns.append(k)
    wb, fmt = _new_workbook(path, rnd.form, "催报名单")
    ws = wb.add_worksheet("催报名单")
    stamp = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    ws.write_string(0, 0, f"催报名单（截至 {stamp}，共 {len(items)} 个单位）", fmt.title)
    ws.set_row(0, 24)
    keys = [*REMINDER_COLUMNS, *[("contact", c) for c in contact_columns], *LAST_RECEIVED]
    headers = ["序号", *REMINDER_COLUMNS.values(), *contact_columns, *LAST_RECEIVED.values()]
    ws.merge_range(1, 0, 1, len(headers) - 1, LEGEND, fmt.note)
    ws.set_row(1, 32)
    rows = [[i + 1, *[item["contacts"].get(k[1], "") if isinstance(k, tuple) else _shown(item[k]) for k in keys]]
            for i, item in enumerate(items)]
    formats = [fmt.int] + [fmt.wrap if k in _WRAP else fmt.text for k in keys]
    wrap = {1 + i: _WRAP[k] for i, k in enumerate(keys) if k in _WRAP}
    _write_table(ws, fmt, 2, headers, rows, 40, formats, wrap=wrap)
    _print_setup(ws, repeat=(2, 2), fit_width=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    _close(wb)
    return path


def _shown(value: object) -> str:
    text = str(value or "")
    # An ISO time as a clerk writes it: 2022-09-15 10:03.
    if len(text) >= 16 and text[10:11] == "T":
        return text[:16].replace("T", " ")
    return text
