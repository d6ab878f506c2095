"""LibreOffice runs for the in-sheet checks: recalculate on load (or never), many files at once.

LibreOffice keeps the stored results of an .xlsx unless its profile says to
recalculate on load (Calc > Formula > Load > OOXMLRecalcMode: 0 always,
1 never, 2 ask). Each run gets its own fresh profile (tests/_fill.py), so
parallel runs do not collide.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterable

import openpyxl

from _fill import resave_with_libreoffice
from xlsx_tools import incell
from xlsx_tools.form import Form

RECALC_ALWAYS, RECALC_NEVER = 0, 1

_REGISTRY = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry"
           xmlns:xs="http://www.w3.org/2001/XMLSchema"
           xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="OOXMLRecalcMode" \
oor:op="fuse"><value>{mode}</value></prop></item>
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="ODFRecalcMode" \
oor:op="fuse"><value>{mode}</value></prop></item>
</oor:items>
"""


def convert_with_libreoffice(paths: Iterable[str | Path], out_dir: str | Path,
                             recalc: int = RECALC_ALWAYS, jobs: int = 2) -> list[Path]:
    """Open and save every file in headless LibreOffice, recalculating on load (or never).

    The files are shared among ``jobs`` LibreOffice runs side by side (each one
    call for its share, with its own profile); the copies come back in order.
    """
    paths = [Path(p) for p in paths]
    registry = _REGISTRY.format(mode=recalc)
    shares = [paths[i::jobs] for i in range(jobs) if paths[i::jobs]]
    with ThreadPoolExecutor(len(shares) or 1) as pool:
        done = list(pool.map(lambda share: resave_with_libreoffice(share, out_dir,
                                                                   registry=registry), shares))
    by_source = {src: out for share, outs in zip(shares, done) for src, out in zip(share, outs)}
    return [by_source[p] for p in paths]


def sheet_verdicts(path: str | Path, form: Form) -> tuple[dict[tuple[str, frozenset], bool],
                                                      dict[str, object]]:
    """What the workbook says, from the stored results: (code, fields) -> fails, and totals.

    Reads 校验结果's own key column (``code|field,field``; a type check's key
    carries the code its value gives, none when the value is fine), its hidden
    totals, and the cover line. ``totals["explained_keys"]``: the failing checks the
    sheet shows as 已说明 (their code's explanation is long enough).
    """
    wb = openpyxl.load_workbook(path, data_only=True, read_only=True)
    try:
        verdicts: dict[tuple[str, frozenset], bool] = {}
        totals: dict[str, object] = {}
        listed = 0
        shown: list[str] = []
        explained: set[tuple[str, frozenset]] = set()
        for row in wb[incell.SHEET_NAME].iter_rows(values_only=True):
            shown += [v for v in row[: incell._C_TEXT + 1] if isinstance(v, str) and v]
            # The open problems list: numbered rows with a message.
            listed += isinstance(row[incell._C_N], (int, float)) and bool(row[incell._C_MSG])
            key = row[incell._C_KEY] if len(row) > incell._C_KEY else None
            if key == "合计":
                totals = {"errors": row[incell._C_ERR], "warnings": row[incell._C_WARN],
                          "open": row[incell._C_NUM], "explained": row[incell._C_EXPL]}
            if not isinstance(key, str) or "|" not in key:
                continue
            code, _, fields = key.partition("|")
            if code:
                # Two rules may share a code and fields (R13 for 是 and for 否): either fails.
                k = (code, frozenset(fields.split(",")))
                verdicts[k] = verdicts.get(k, False) or bool(row[incell._C_FIRES])
                if row[incell._C_EXPLD] == 1:      # TRUE, as a program stores it
                    explained.add(k)
        totals["listed"] = listed
        totals["shown"] = shown
        totals["explained_keys"] = explained
        cell = incell.status_cell(form)
        for row in wb[form.cover.name].iter_rows(min_row=cell.row, max_row=cell.row,
                                                 min_col=cell.col, max_col=cell.col,
                                                 values_only=True):
            totals["cover"] = row[0]
    finally:
        wb.close()
    return verdicts, totals
