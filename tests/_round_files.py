"""Many filled workbooks fast, for the round's tests: one made as a filler makes it, the rest copies
with another unit name written into the zip's bytes (as xlsx_tools.bench makes its files).

    base = marked_workbook(tmp_path, batch="第一批")
    paths = [for_unit(base, tmp_path / "in", f"某某{i}号研究院") for i in range(500)]
    again = another_save(paths[0], tmp_path / "again")   # same values, other bytes
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

from _fill import FORM, make_filled, valid_values
from _hostile import rewrite_zip

MARK = "ZQXROUNDMARK"


def marked_workbook(tmp_dir: Path, batch: str = "第一批", category: str = "检验检测") -> Path:
    """A workbook that passes every check, its unit name MARK."""
    return make_filled(Path(tmp_dir) / "marked", valid_values(batch=batch, category=category,
                                                               unit_name=MARK))


def _parts(path: Path) -> tuple[dict[str, bytes], str, str]:
    with zipfile.ZipFile(path) as z:
        parts = {i.filename: z.read(i.filename) for i in z.infolist()}
    name = path.name
    batch, category = name.split("-")[0], name.split("-")[1][:-1]
    return parts, batch, category


def for_unit(base: Path, out_dir: Path, unit_name: str) -> Path:
    """A copy of ``base`` for ``unit_name``, named as R18 expects."""
    parts, batch, category = _parts(base)
    # The mark is ASCII, so it is spelled the same however the XML writes the characters around it.
    changed = {n: d.replace(MARK.encode(), unit_name.encode()) for n, d in parts.items() if MARK.encode() in d}
    assert changed, "the unit name's mark is not in the workbook"
    out_dir.mkdir(parents=True, exist_ok=True)
    return rewrite_zip(base, out_dir / (FORM.file_stem(batch, category, unit_name) + ".xlsx"), changed)


def another_save(path: Path, out_dir: Path, second: int = 1) -> Path:
    """The same workbook saved again a little later: the same values in other bytes."""
    with zipfile.ZipFile(path) as z:
        core = z.read("docProps/core.xml")
    stamp = f"2022-09-16T09:00:{second:02d}Z".encode()
    later, n = re.subn(rb"(<dcterms:modified\b[^>]*>)[^<]*(</dcterms:modified>)", rb"\g<1>" + stamp + rb"\g<2>",
                       core)
    assert n == 1 and later != core
    out_dir.mkdir(parents=True, exist_ok=True)
    return rewrite_zip(path, out_dir / path.name, {"docProps/core.xml": later})
