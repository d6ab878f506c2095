"""Where each field is read: its defined name, when the names can be trusted.

Every input cell of a generated workbook carries a defined name ``fld_<id>``,
which Excel and LibreOffice move with the cell when rows or columns are
inserted or deleted. The names that agree with each other (one order-keeping
shift of the layout) are trusted; a name that disagrees with the others, is
missing or is ``#REF!`` is not, and its field is read at its layout position
shifted like its neighbours.

A sheet of the layout is the sheet of that name, or, once it was renamed, the
sheet its fields' names point at. A workbook holding both (a sheet of the
layout's name that the names do not point at, and another one they do point
at) has two candidates for what was filled, and is refused.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from dataclasses import dataclass, field

from ..form import NAME_PREFIX, Form, cell_name
from .refs import split_ref
from .refusal import RejectedFile, reject

__all__ = ["Location", "Plan", "Shift", "Wanted", "address", "chain", "locate", "locate_named",
           "name_targets", "other_targets", "plan_of", "wanted_cells"]

Place = tuple[str, int, int]      # (sheet, row, col)


@dataclass(frozen=True)
class Wanted:
    """The cells to read of one sheet: by position, and as the fast path looks them up."""
    positions: frozenset[tuple[int, int]]
    refs: tuple[tuple[tuple[int, int], bytes], ...]     # ((row, col), b"C5"), by position


@dataclass(frozen=True)
class Plan:
    """What the layout asks for, worked out once per form."""
    inputs: dict[str, Place]                             # field id -> layout cell
    labels: tuple[tuple[str, str, int, int], ...]        # (address, sheet, row, col)
    sheets: frozenset[str]
    date_fields: frozenset[str]
    previous: dict[str, Place]                           # prev_<id> -> its 上年 cell in the layout
    serial: int = field(default_factory=lambda: next(_SERIALS))   # names this plan in cache keys


_SERIALS = itertools.count()


def plan_of(form: Form) -> Plan:
    inputs = {}
    for f in form.fields:
        c = form.input_cell(f.id)
        inputs[f.id] = (c.sheet, c.row, c.col)
    previous = {}
    for fid in form.previous_fields:
        c = form.previous_cell(fid)
        previous[form.previous_name(fid)] = (c.sheet, c.row, c.col)
    return Plan(inputs, tuple((c.address, c.sheet, c.row, c.col) for c in form.label_cells()),
                frozenset(s for s, _, _ in inputs.values()),
                frozenset(f.id for f in form.fields if f.type == "date"), previous)


_NAME_TARGET = re.compile(
    r"=?(?:'((?:[^']|'')+)'|([^'!]+))!\$?([A-Za-z]{1,3})\$?([0-9]{1,7})"
    r"(?::\$?[A-Za-z]{1,3}\$?[0-9]{1,7})?")


def _target(text: str) -> Place | None:
    m = _NAME_TARGET.fullmatch(text.strip())
    if not m:
        return None
    sheet = m.group(1).replace("''", "'") if m.group(1) is not None else m.group(2)
    pos = split_ref(m.group(3) + m.group(4))
    return (sheet, pos[0], pos[1]) if pos else None


def address(sheet: str, row: int, col: int) -> str:
    return f"{sheet}!{cell_name(row, col)}"


def name_targets(names: tuple[tuple[str, str | None, str], ...]
                 ) -> tuple[dict[str, Place | None], dict[str, str]]:
    """(field id -> the cell its fld_ name points at, field id -> that as text).

    A workbook-level name counts; a sheet-level one (what a copied sheet
    carries) only where no workbook-level name exists.
    """
    return _targets((name[len(NAME_PREFIX):], local_id, text) for name, local_id, text in names
                    if name.startswith(NAME_PREFIX))


def other_targets(names: tuple[tuple[str, str | None, str], ...], wanted: frozenset[str]
                  ) -> tuple[dict[str, Place | None], dict[str, str]]:
    """:func:`name_targets` for the other defined names ``wanted`` (prev_<id>, expl_<code>),
    by name."""
    return _targets((name, local_id, text) for name, local_id, text in names if name in wanted)


def _targets(names) -> tuple[dict[str, Place | None], dict[str, str]]:
    targets: dict[str, Place | None] = {}
    shown: dict[str, str] = {}
    local: dict[str, str] = {}
    for fid, local_id, text in names:
        if local_id is not None:
            local.setdefault(fid, text)
        else:
            targets[fid], shown[fid] = _target(text), text
    for fid, text in local.items():
        if fid not in targets:
            targets[fid], shown[fid] = _target(text), text
    for fid, t in targets.items():
        shown[fid] = address(*t) if t else shown[fid].strip().lstrip("=")
    return targets, shown


def chain(items: list[tuple[str, int, int]], mode: int) -> set[str]:
    """The largest set of (id, layout, found) whose order agrees with the layout.

    Inserting or deleting rows keeps the order of rows: cells on one layout row
    stay on one row, a later row stays later. A name edited to point elsewhere
    breaks that order; the longest order-keeping chain (preferring the usual
    shift ``mode`` on ties) is what the names agree on.
    """
    if len({found - layout for _, layout, found in items}) <= 1:
        return {fid for fid, _, _ in items}   # one shift for all: nothing to untangle
    items = sorted(items, key=lambda x: (x[1], x[2]))
    n = len(items)
    best: list[tuple[int, int]] = []
    back: list[int] = []
    for j in range(n):
        _, lj, fj = items[j]
        score, prev = (1, int(fj - lj == mode)), -1
        for i in range(j):
            _, li, fi = items[i]
            if (li == lj and fi == fj) or (li < lj and fi < fj):
                cand = (best[i][0] + 1, best[i][1] + int(fj - lj == mode))
                if cand > score:
                    score, prev = cand, i
        best.append(score)
        back.append(prev)
    j = max(range(n), key=lambda k: best[k])
    out = set()
    while j >= 0:
        out.add(items[j][0])
        j = back[j]
    return out


class Shift:
    """Layout row/column -> the row/column found, from the trusted names of one sheet."""

    def __init__(self, pairs: list[tuple[int, int]]):
        self.known: dict[int, int] = {}
        for layout, found in pairs:
            self.known.setdefault(layout, found - layout)
        self.keys = sorted(self.known)
        values = set(self.known.values())
        self.uniform = values.pop() if len(values) == 1 else (0 if not values else None)

    def offset(self, layout: int) -> int:
        if self.uniform is not None:
            return self.uniform
        if layout in self.known:
            return self.known[layout]
        before = [k for k in self.keys if k < layout]
        after = [k for k in self.keys if k > layout]
        if before and after:
            b, a = before[-1], after[0]
            if self.known[b] == self.known[a] or layout - b <= a - layout:
                return self.known[b]
            return self.known[a]
        return self.known[before[-1]] if before else self.known[after[0]]


@dataclass(frozen=True)
class Location:
    """Where to read each field and label of one workbook, and what the names said."""
    where: dict[str, Place]                 # field id -> cell read
    blocked: frozenset[str]                 # fields read as empty: their cell is another's
    labels: dict[str, Place]                # label address -> cell read
    moved: dict[str, str]
    row_offset: dict[str, int]
    col_offset: dict[str, int]
    cells: dict[str, str]                   # field id -> the address of the cell read
    shifted: dict[str, tuple[int, int]]     # field id -> (rows, columns) from the layout, if not 0
    label_cells: dict[str, str]             # label address -> where read, if not there
    wanted: dict[str, Wanted]               # sheet -> the cells to read


def actual_sheets(layout_sheets, expected: dict[str, Place], targets: dict[str, Place | None],
                  sheets: set[str]) -> dict[str, str]:
    """Layout sheet -> the sheet of this workbook that holds it."""
    actual: dict[str, str] = {}
    for layout_sheet in sorted(layout_sheets):
        pointed = Counter(t[0] for fid, t in targets.items()
                          if t and fid in expected and expected[fid][0] == layout_sheet and t[0] in sheets)
        others = [(n, s) for s, n in pointed.items() if s != layout_sheet]
        if layout_sheet in sheets:
            if others:
                n, other = max(others)
                if n >= pointed.get(layout_sheet, 0):
                    raise _decoy(layout_sheet, other)
            actual[layout_sheet] = layout_sheet
        elif pointed:
            actual[layout_sheet] = pointed.most_common(1)[0][0]
    return actual


def _decoy(name: str, other: str) -> RejectedFile:
    return reject("decoy_sheet", sheet=name, other=other)


def locate(labels: tuple[tuple[str, str, int, int], ...], expected: dict[str, Place], layout_sheets,
           actual: dict[str, str], targets: dict[str, Place | None], shown: dict[str, str]) -> Location:
    """Trust the names that agree with each other; place every field and label."""
    moved: dict[str, str] = {}
    row_shift: dict[str, Shift] = {}
    col_shift: dict[str, Shift] = {}
    row_offset: dict[str, int] = {}
    col_offset: dict[str, int] = {}
    for layout_sheet in layout_sheets:
        real = actual.get(layout_sheet)
        items = []
        for fid, (s, r, c) in expected.items():
            if s != layout_sheet:
                continue
            t = targets.get(fid)
            if t is None or real is None or t[0] != real:
                moved[fid] = shown.get(fid, "")
                continue
            items.append((fid, r, c, t[1], t[2]))
        rmode = Counter(tr - r for _, r, _, tr, _ in items).most_common(1)
        cmode = Counter(tc - c for _, _, c, _, tc in items).most_common(1)
        rm = rmode[0][0] if rmode else 0
        cm = cmode[0][0] if cmode else 0
        by_rows = chain([(fid, r, tr) for fid, r, _, tr, _ in items], rm) if items else set()
        by_cols = chain([(fid, c, tc) for fid, _, c, _, tc in items], cm) if items else set()
        trusted = [it for it in items if it[0] in by_rows and it[0] in by_cols]
        for it in items:
            if it not in trusted:
                moved[it[0]] = shown.get(it[0], "")
        row_shift[layout_sheet] = Shift([(r, tr) for _, r, _, tr, _ in trusted])
        col_shift[layout_sheet] = Shift([(c, tc) for _, _, c, _, tc in trusted])
        row_offset[layout_sheet] = rm
        col_offset[layout_sheet] = cm

    def place(sheet: str, row: int, col: int) -> tuple[int, int]:
        if sheet not in row_shift:
            return row, col
        return row + row_shift[sheet].offset(row), col + col_shift[sheet].offset(col)

    where: dict[str, Place] = {}
    for fid in expected:
        t = targets.get(fid)
        if fid not in moved and t is not None:
            where[fid] = t
    # An untrusted field is read where the layout puts it, shifted like its
    # neighbours, unless another field's name holds that cell (its row was
    # deleted, say): then it is read as empty rather than as the other's value.
    owned = set(where.values())
    blocked = set()
    for fid in moved:
        s, r, c = expected[fid]
        pr, pc = place(s, r, c)
        where[fid] = (actual.get(s, s), pr, pc)
        if where[fid] in owned:
            blocked.add(fid)
    found_labels: dict[str, Place] = {}
    label_cells: dict[str, str] = {}
    for label_address, sheet, row, col in labels:
        pr, pc = place(sheet, row, col)
        found_labels[label_address] = found = (actual.get(sheet, sheet), pr, pc)
        if found != (sheet, row, col):
            label_cells[label_address] = address(*found)
    shifted = {fid: (r - expected[fid][1], c - expected[fid][2]) for fid, (_, r, c) in where.items()
               if (r, c) != expected[fid][1:]}
    wanted: dict[str, set[tuple[int, int]]] = {}
    for s, r, c in (*where.values(), *found_labels.values()):
        wanted.setdefault(s, set()).add((r, c))
    return Location(where, frozenset(blocked), found_labels, moved, row_offset, col_offset,
                    {fid: address(*p) for fid, p in where.items()}, shifted, label_cells,
                    {s: _wanted(w) for s, w in wanted.items()})


def _wanted(positions) -> Wanted:
    return Wanted(frozenset(positions), tuple((p, cell_name(*p).encode()) for p in sorted(positions)))


def wanted_cells(*wanted: dict[str, Wanted]) -> dict[str, Wanted]:
    """The cells to read of each sheet, for all of ``wanted`` (sheet -> Wanted) at once."""
    if not any(wanted[1:]):
        return wanted[0]
    positions: dict[str, set[tuple[int, int]]] = {}
    for each in wanted:
        for s, w in each.items():
            positions.setdefault(s, set()).update(w.positions)
    return {s: _wanted(p) for s, p in positions.items()}


def locate_named(places: dict[str, Place], targets: dict[str, Place | None], shown: dict[str, str],
                 sheets: set[str]) -> Location:
    """Where to read other defined names (prev_<id>, expl_<code>) of their layout cells
    ``places``, by the fields' rules among themselves: a name the others agree with is
    read where it points; one that disagrees, where the layout puts it, shifted like
    them; pointing at a sheet of its layout sheet's name's double (a decoy), the file is
    refused. A name the workbook lacks, or that names no cell, is not read at all (a
    workbook made without 上年 cells has no prev_ names): it is absent from ``where``."""
    expected = {n: p for n, p in places.items() if targets.get(n) is not None}
    layout_sheets = frozenset(s for s, _, _ in expected.values())
    actual = actual_sheets(layout_sheets, expected, targets, sheets)
    return locate((), expected, layout_sheets, actual, targets, shown)
