"""The benchmark script runs end to end on a few files (no timing is asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from xlsx_tools.bench import TreeMemory, unzip_and_parse
from xlsx_tools.form import META_SHEET, load_form
from xlsx_tools.validate import validate_paths

FORM = load_form()
STEPS = ("validate", "merge", "pandas", "bound", "annotate")


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory):
    work = tmp_path_factory.mktemp("bench")
    numbers = work / "numbers.json"
    done = subprocess.run(
        [sys.executable, "-m", "xlsx_tools.bench", "--sizes", "2,5", "--jobs", "2",
         "--pandas-sample", "2", "--workdir", str(work / "w"), "--json", str(numbers)],
        capture_output=True, text=True, timeout=600)
    return work, done, numbers


def test_bench_prints_every_step_and_ratio(bench_run):
    _work, done, _numbers = bench_run
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    out = done.stdout
    for label in ("validate", "merge (validate + add up + write)", "pandas.read_excel",
                  "unzip + parse (lower bound)"):
        assert out.count(label) >= 2, label          # one row per size
    for ratio in ("validate / pandas.read_excel", "bound / validate", "validate / merge",
                  "merge peak memory"):
        assert ratio in out
    assert "overall: " in out


def test_bench_numbers_are_complete_and_every_file_passed(bench_run):
    _work, done, numbers = bench_run
    assert done.returncode == 0, done.stderr
    data = json.loads(numbers.read_text(encoding="utf-8"))
    assert data["sizes"] == [2, 5]
    for n in (2, 5):
        row = data["results"][str(n)]
        assert set(row) == set(STEPS)
        for step in STEPS:
            r = row[step]
            assert r["ok"] is True, (n, step, r["detail"])
            assert r["seconds"] > 0 and r["peak_mb"] > 0
            assert r["n"] == (min(n, 2) if step == "pandas" else n)
        assert row["merge"]["detail"]["added"] == n


def test_bench_workbooks_are_distinct_platforms_that_pass(bench_run):
    work, done, _numbers = bench_run
    assert done.returncode == 0, done.stderr
    files = sorted((work / "w" / "files").glob("*.xlsx"))
    assert len(files) == 5
    for path in files:
        with zipfile.ZipFile(path) as z:
            assert z.testzip() is None
        assert unzip_and_parse(str(path), (FORM.cover.name, FORM.table.name, META_SHEET)) > 10_000
    run = validate_paths(files, form=FORM, jobs=1)
    assert [r.verdict for r in run.files] == ["通过"] * 5, [r.findings for r in run.files]
    units = {r.unit_name for r in run.files}
    assert len(units) == 5
    # Named as the notice asks, after what the table says.
    for r in run.files:
        assert r.path.name == FORM.file_stem(r.batch, r.platform_category, r.unit_name) + ".xlsx"
    # The numbers differ from file to file.
    numeric = [f.id for f in FORM.fields if f.type == "int"]
    assert len({r.values[numeric[0]] for r in run.files}) == 5


def test_tree_memory_counts_the_workers_of_a_process():
    # A parent that starts two children, each holding 60 MB of its own.
    code = ("import subprocess, sys, time\n"
            "kids = [subprocess.Popen([sys.executable, '-c', "
            "'import time; b = bytearray(60 * 1024 * 1024); time.sleep(1.5)']) for _ in range(2)]\n"
            "[k.wait() for k in kids]\n")
    proc = subprocess.Popen([sys.executable, "-c", code])
    with TreeMemory(proc.pid) as mem:
        proc.wait()
    assert mem.peak_pss_kb > 110 * 1024
    assert mem.peak_rss_kb >= mem.peak_pss_kb
