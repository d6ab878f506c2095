"""Many filled workbooks fast, for the round's tests: one made as a filler makes it, the rest
copies with another unit name in the zip's bytes (xlsx_tools.bench's templates do the copying).

    base = marked_workbook(tmp_path, batch="第一批")
    paths = for_units(base, tmp_path / "in", ["某某1号研究院", "某某2号研究院"])
    again = another_save(paths[0], tmp_path / "again")   # same values, other bytes
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Sequence
from pathlib import Path

from _fill import FORM
from _hostile import rewrite_zip

from xlsx_tools.bench import BASE_INT, MARKER, _make_base, _Template

MARK = MARKER


def marked_workbook(tmp_dir: Path, batch: str = "第一批", category: str = "检验检测") -> Path:
    """A workbook generated and filled as the bench fills it (passes every check), its unit name MARK."""
    folder = Path(tmp_dir) / "marked"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (FORM.file_stem(batch, category, MARK) + ".xlsx")
    return Path(_make_base((str(path), str(FORM.source), batch, category)))


def _batch_and_category(base: Path) -> tuple[str, str]:
    batch, category = base.name.split("-")[:2]
    return batch, category.removesuffix("类")


def for_units(base: Path, out_dir: Path, units: Sequence[str]) -> list[Path]:
    """A copy of ``base`` for each unit, named as R18 expects (every number set to the bench's)."""
    batch, category = _batch_and_category(base)
    template = _Template(base, FORM, batch, category)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for unit in units:
        path = out_dir / (FORM.file_stem(batch, category, unit) + ".xlsx")
        path.write_bytes(template.variant(unit, BASE_INT))
        paths.append(path)
    return paths


def for_unit(base: Path, out_dir: Path, unit_name: str) -> Path:
    return for_units(base, out_dir, [unit_name])[0]


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
