"""The one way the tests run LibreOffice: many files in ONE headless call."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Iterable

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")

# --convert-to targets by output extension; anything else is passed as it is (pdf).
FILTERS = {"xlsx": "xlsx:Calc MS Excel 2007 XML", "xls": "xls:MS Excel 97"}


def convert(paths: Iterable[str | Path], out_dir: str | Path, fmt: str = "xlsx",
            registry: str | None = None, timeout: float = 600) -> list[Path]:
    """Convert every file to ``fmt`` in one LibreOffice run; the outputs, in order.

    "xlsx" re-saves a workbook as LibreOffice writes one. Each run gets a fresh
    profile of its own, so parallel runs do not collide; ``registry`` is the text
    of a registrymodifications.xcu for it (to set, say, when formulas are
    recalculated on loading). Names must differ: LibreOffice writes <stem>.<fmt>
    into ``out_dir``.
    """
    paths = [Path(p) for p in paths]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stems = [p.stem for p in paths]
    if len(set(stems)) != len(stems):
        raise ValueError("LibreOffice convert: two files with the same name")
    if not paths:
        return []
    profile = Path(tempfile.mkdtemp(prefix=f"lo-profile-{os.getpid()}-"))
    try:
        if registry is not None:
            (profile / "user").mkdir()
            (profile / "user" / "registrymodifications.xcu").write_text(registry, encoding="utf-8")
        done = subprocess.run(
            [SOFFICE or "soffice", f"-env:UserInstallation={profile.as_uri()}", "--headless",
             "--norestore", "--nolockcheck", "--convert-to", FILTERS.get(fmt, fmt),
             "--outdir", str(out_dir), *map(str, paths)],
            capture_output=True, text=True, timeout=timeout)
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    out = [out_dir / f"{s}.{fmt}" for s in stems]
    missing = [p.name for p in out if not p.exists()]
    if missing:
        raise RuntimeError(f"LibreOffice did not write {missing}: {done.stdout}{done.stderr}")
    return out
