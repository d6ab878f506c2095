"""A round made with last round's output, and returns filled from its own pre-filled workbooks,
for the round's and the web interface's tests of explanations and last year:

    made = previous_round(tmp_path)        # made.folder (not yet a round), made.roster, made.last
    rnd = Round.init(made.folder, made.roster, previous=made.last)
    files = returns(rnd, tmp_path / "回收")  # unit -> path: R23 unexplained, R23 explained, R21, none

甲 changed its service count six times over last year's and did not explain it (R23);
乙 did the same and explained it (审核说明, expl_R23); 丙 edited its 上年 cell, so against
last round's output it has R21 (and no R23: 120 against 100); 丁 has nothing to say. 乙 was in
last round under its old name (the roster's 上年单位名称); 戊 was not in it at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from _evaluator import REASON, explain, set_previous, write_previous_round
from _fill import FORM, fill_workbook, valid_values

from xlsx_tools.round import Round

CHANGE = FORM.changes[0]                    # R23: over max_ratio times last year's, above the floor
FIELD = CHANGE.fields[0]                    # the first field it watches (the service count)
LAST, UNCHANGED, CHANGED = 100, 120, 600    # last year's; a value within the ratio; one over it
PROVINCE, CITY = "某某省工业和信息化厅", "某某市经济和信息化局"
UNITS = {"甲检测研究院": PROVINCE, "乙检测研究院": PROVINCE, "丙检测研究院": CITY, "丁检测研究院": CITY,
         "戊检测研究院": CITY}
OLD_NAMES = {"乙检测研究院": "老乙检测所"}
LAST_YEAR = {**{fid: valid_values()[fid] for fid in FORM.previous_fields}, FIELD: LAST}
# unit -> (status validate gives with last round's output, [(code, explanation)])
EXPECTED = {
    "甲检测研究院": ("warnings", [(CHANGE.id, None)]),
    "乙检测研究院": ("explained", [(CHANGE.id, REASON)]),
    "丙检测研究院": ("warnings", [("R21", None)]),
    "丁检测研究院": ("accepted", []),
}


@dataclass(frozen=True)
class Made:
    folder: Path          # where the round goes
    roster: Path
    last: Path            # last round's merge output


def previous_round(tmp_dir: Path) -> Made:
    """The roster and last round's output (every unit but 戊, 乙 under its old name)."""
    tmp_dir.mkdir(parents=True, exist_ok=True)
    roster = tmp_dir / "名单.csv"
    columns = [c for c in FORM.roster_columns if c.field or c.key == FORM.previous.name_key]
    by_role = {FORM.role("batch"): FORM.batches[0], FORM.role("category"): FORM.categories[0]}
    lines = [",".join(c.header for c in columns)]
    for unit, recommending in UNITS.items():
        values = {**by_role, FORM.role("unit"): unit, FORM.role("recommending"): recommending}
        lines.append(",".join(values.get(c.field, "") if c.field else OLD_NAMES.get(unit, "")
                              for c in columns))
    roster.write_text("\n".join(lines) + "\n", encoding="utf-8")
    last = {OLD_NAMES.get(u, u): LAST_YEAR for u in UNITS if u != "戊检测研究院"}
    write_previous_round(tmp_dir / "上一轮", last)
    return Made(tmp_dir / "轮次", roster, tmp_dir / "上一轮")


def returns(rnd: Round, out_dir: Path) -> dict[str, Path]:
    """甲–丁's returns, each filled in its own pre-filled workbook from the round."""
    out = {}
    for unit in EXPECTED:
        source, name = rnd.prefilled_workbook(next(u for u in rnd.units() if u.unit == unit))
        values = {**valid_values(unit_name=unit), FORM.keys["recommending"]: UNITS[unit],
                  FIELD: CHANGED if unit in ("甲检测研究院", "乙检测研究院") else UNCHANGED}
        edit = {"乙检测研究院": explain({CHANGE.id: REASON}),
                "丙检测研究院": set_previous({FIELD: 1000})}.get(unit)
        out[unit] = fill_workbook(source, out_dir / name, values, edit)
    return out
