"""Nothing of the shipped table is written in the package's Python: no field id, no label,
no choice. Next year's table is a new definition, never new code.

The package's .py files, and the web pages' templates and scripts, are searched as text
(comments and docstrings included) for every field id (as a whole word), every label and
every choice of three characters or more (shorter ones, 是 and 否, are ordinary words).
The few hits allowed are listed below, each with its reason.
"""

from __future__ import annotations

import re
from pathlib import Path

from xlsx_tools.form import load_form

PACKAGE = Path(__file__).resolve().parents[1] / "xlsx_tools"
# Python, and what the pages of ``serve`` are made of.
CODE = ("*.py", "*.html", "*.js")

# word -> (files it may appear in, why). Keep this short.
ALLOWED: dict[str, tuple[frozenset[str], str]] = {
    # A role name of [form.keys] (and the merge's unit: a summary per batch) that is
    # also the shipped form's field id.
    "batch": (frozenset({"*"}), "the batch role of [form.keys], and the merge's grouping"),
    # Field types of the definition language, which the shipped form also uses as ids.
    "email": (frozenset({"*"}), "a field type of the definition language"),
    "mobile": (frozenset({"*"}), "a field type of the definition language"),
    "postcode": (frozenset({"*"}), "a field type of the definition language"),
    # A cell's address (统计表!D20): the word Excel and openpyxl use, and a field id too.
    "address": (frozenset({"*"}), "a cell's address"),
}


def _words(form) -> dict[str, re.Pattern]:
    words: dict[str, re.Pattern] = {}
    for f in form.fields:
        words[f.id] = re.compile(rf"(?<![A-Za-z0-9_]){re.escape(f.id)}(?![A-Za-z0-9_])")
        for text in (f.label, *(c for c in f.choices if len(c) >= 3)):
            words[text] = re.compile(re.escape(text))
    return words


def test_no_field_id_label_or_choice_of_the_shipped_form_in_the_package():
    form = load_form()
    hits = []
    for path in sorted(p for pattern in CODE for p in PACKAGE.rglob(pattern)):
        text = path.read_text(encoding="utf-8")
        for word, pattern in _words(form).items():
            allowed, _why = ALLOWED.get(word, (frozenset(), ""))
            if "*" in allowed or path.name in allowed:
                continue
            for m in pattern.finditer(text):
                line = text.count("\n", 0, m.start()) + 1
                hits.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {word}")
    assert not hits, "the shipped table written in Python:\n" + "\n".join(hits)


def test_the_search_finds_what_it_looks_for(tmp_path):
    """The search is not blind: a label and an id written into a module are hits."""
    form = load_form()
    words = _words(form)
    f = next(f for f in form.fields if f.type == "int")
    sample = f'x = values["{f.id}"]  # {f.label}\n'
    assert words[f.id].search(sample) and words[f.label].search(sample)
    assert not words[f.id].search(f"x_{f.id}_y = 1")
