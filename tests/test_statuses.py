"""One status means the same in every command: one table (catalogue.toml's [statuses]),
the words validate, merge and the round say all from it, the README's table the same, and
the same file called the same by each of them.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from xlsx_tools import merge, round as round_module, validate
from xlsx_tools.catalogue import STATUSES, CatalogueError, status_word
from xlsx_tools.form import FormError, load_form
from xlsx_tools.merge import merge_paths
from xlsx_tools.round import Round
from xlsx_tools.validate import validate_paths
from xlsx_tools.web.app import STATUS_CLASS, UPLOAD_STATUSES

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
RETURNED = ROOT / "samples" / "returned"
ROSTER = ROOT / "samples" / "roster.csv"
FORM = load_form()
WORDS = {word for word, _ in STATUSES.values()}


def _table_after(heading: str) -> list[list[str]]:
    """The rows of the first table after ``heading`` in the README, cells stripped of `code`."""
    text = README[README.index(heading):]
    rows = []
    for line in text.splitlines()[1:]:
        if line.startswith("|"):
            rows.append([c.strip().strip("`") for c in line.strip("|").split("|")])
        elif rows:
            break
    return rows[2:]   # past the header and its rule


def test_the_readmes_table_is_the_catalogues():
    rows = _table_after("### 状态")
    assert [(code, word, meaning) for word, code, meaning, _ in rows] == \
        [(code, word, meaning) for code, (word, meaning) in STATUSES.items()]


def test_every_command_says_the_words_of_the_table():
    said = {*validate.VERDICTS.values(), *merge.STATUSES, *round_module.STATUSES,
            round_module.ST_RECEIVED_BEFORE, *STATUS_CLASS, *UPLOAD_STATUSES}
    assert said <= WORDS
    assert set(validate.VERDICTS) <= set(STATUSES)
    # A word is one status: each is one code's.
    assert len(WORDS) == len(STATUSES)


def test_a_form_cannot_reword_a_status():
    text = (ROOT / "tests" / "forms" / "lab-survey-2023.toml").read_text(encoding="utf-8")
    with pytest.raises((FormError, CatalogueError)):
        load_form(text + '\n[catalogue.statuses.accepted]\nword = "好"\nmeaning = "好"\n')


def test_the_same_file_is_called_the_same_by_validate_merge_and_the_round(tmp_path):
    validated = {r.name: r.verdict for r in validate_paths([RETURNED], FORM, jobs=1).files}
    across = set(FORM.catalogue.codes("merge"))     # M01-M04: what merge sees across files
    merged = {s.name: s.status for s in merge_paths([RETURNED], roster=ROSTER, form=FORM, jobs=1).submissions
              if s.result is not None and not any(f.code in across for f in s.findings)}
    with Round.init(tmp_path / "轮次", ROSTER) as rnd:
        received = {r.file_name: r.status for r in rnd.receive([RETURNED])}
    # merge says more than one file alone can (M01-M04: 名单外, 重复, an outlier's warning); the
    # round says 待确认 of a unit, never of a file. Of a file alone, each says its verdict.
    alone = set(merged)
    differ = [(n, validated[n], merged[n], received[n]) for n in alone
              if not merged[n] == validated[n] == received[n]]
    assert alone and not differ, differ
    assert {validated[n] for n in alone} >= {status_word(c) for c in ("accepted", "warnings", "explained",
                                                                      "rejected", "unreadable")}


def test_the_readmes_rules_are_the_forms_and_the_catalogues():
    rows = _table_after("的规则（R01–R16")
    in_readme = {code: severity for code, severity, _ in rows}
    codes = {r.id: r.severity for r in FORM.rules}
    codes |= {f.required_code: "error" for f in FORM.fields if getattr(f, "required_code", None)}
    codes |= {c: v.severity for c, v in FORM.catalogue.codes("workbook").items()}
    words = {s: FORM.catalogue.severity_word(s) for s in ("error", "warning")}
    assert in_readme == {c: words[s] for c, s in codes.items() if re.fullmatch(r"R\d\d", c)}


def test_the_readme_links_nothing_outside_the_repository():
    assert "../" not in README
    for link in re.findall(r"\]\(([^)]+)\)", README):
        assert (ROOT / link).exists() and (ROOT / link).resolve().is_relative_to(ROOT), link
