"""Many filled workbooks fast, for the round's tests: one made as a filler makes it, the rest
copies with another unit name in the zip's bytes (xlsx_tools.bench's templates do the copying).

    base = marked_workbook(tmp_path)                      # the shipped form, its first batch and category
    paths = for_units(base, tmp_path / "in", ["某某1号研究院", "某某2号研究院"])
    roster = roster_of(base, tmp_path / "名单.csv", ["某某1号研究院", "某某2号研究院"])
    again = another_save(paths[0], tmp_path / "again")   # same values, other bytes

Any form: ``marked_workbook(tmp_path, form=load_form("other.toml"))``.
"""

from __future__ import annotations

import csv
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from _fill import FORM
from _hostile import rewrite_zip

from xlsx_tools.bench import BASE_INT, MARKER, _make_base, _Template
from xlsx_tools.form import Form

MARK = MARKER


@dataclass(frozen=True)
class Marked:
    """A generated and filled workbook whose unit name is MARK, and what it was made for."""
    path: Path
    form: Form
    batch: str
    category: str


def marked_workbook(tmp_dir: Path, batch: str | None = None, category: str | None = None,
                    form: Form = FORM) -> Marked:
    """A workbook generated and filled as the bench fills it (passes every check of its form),
    its unit name MARK; the form's first batch and category unless told."""
    batch, category = batch or form.batches[0], category or form.categories[0]
    folder = Path(tmp_dir) / "marked"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (form.file_stem(batch, category, MARK) + ".xlsx")
    return Marked(Path(_make_base((str(path), str(form.source), batch, category))), form, batch, category)


def for_units(base: Marked, out_dir: Path, units: Sequence[str]) -> list[Path]:
    """A copy of ``base`` for each unit, named as R18 expects (every number set to the bench's)."""
    template = _Template(base.path, base.form, base.batch, base.category)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for unit in units:
        path = out_dir / (base.form.file_stem(base.batch, base.category, unit) + ".xlsx")
        path.write_bytes(template.variant(unit, BASE_INT))
        paths.append(path)
    return paths


def for_unit(base: Marked, out_dir: Path, unit_name: str) -> Path:
    return for_units(base, out_dir, [unit_name])[0]


def roster_of(base: Marked, path: Path, units: Sequence[str]) -> Path:
    """A roster of ``units`` in ``base``'s batch and category, with the columns its form names."""
    form = base.form
    by_role = {form.role(r): v for r, v in (("batch", base.batch), ("category", base.category))}
    columns = [c for c in form.roster_columns if c.field]
    with open(path, "w", encoding="utf-8-sig", newline="") as fh:
        out = csv.writer(fh)
        out.writerow([c.header for c in columns])
        for unit in units:
            values = {**by_role, form.role("unit"): unit}
            out.writerow([values.get(c.field, "某某主管部门") for c in columns])
    return path


def another_save(path: Path, out_dir: Path, second: int = 1) -> Path:
    """The same workbook saved again a little later: the same values in other bytes."""
    with zipfile.ZipFile(path) as z:
        core = z.read("docProps/core.xml")
    stamp = f"2022-09-16T09:00:{second:02d}Z".encode()
    later, n = re.subn(rb"(<dcterms:modified\b[^>]*>)[^<]*(</dcterms:modified>)",
                       rb"\g<1>" + stamp + rb"\g<2>", core)
    assert n == 1 and later != core
    out_dir.mkdir(parents=True, exist_ok=True)
    return rewrite_zip(path, out_dir / path.name, {"docProps/core.xml": later})
