"""The order every listing of the sample returns is in: the batch field's choices (平台项目
last), then the category's, then the unit name; made from expected.json, not the code."""

from __future__ import annotations

import json
from pathlib import Path

from xlsx_tools.form import load_form

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


def listing_order() -> list[str]:
    """The sample files' names in the listings' order."""
    form = load_form()
    files = [e for e in json.loads((SAMPLES / "expected.json").read_text(encoding="utf-8"))["files"]
             if e["file"]]
    return [e["file"] for e in sorted(files, key=lambda e: (
        form.batches.index(e["batch"]), form.categories.index(e["platform_category"]),
        e["unit_name"], e["file"]))]


def in_lines(text: str) -> list[str]:
    """The sample files' names in the order the lines of ``text`` name them."""
    names = set(listing_order())
    return [n for line in text.splitlines() for n in names if n in line]
