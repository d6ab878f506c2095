"""The benchmark script runs end to end on a few files (no timing is asserted).

Two sizes (each step once per size, the ratios judged at the larger), the larger one
also more files than processes; more files would prove nothing more.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from xlsx_tools.bench import TreeMemory, make_workbooks, unzip_and_parse
from xlsx_tools.form import META_SHEET, load_form
from xlsx_tools.validate import validate_paths

FORM = load_form()
# The larger of the two sizes the bench runs at.
LARGEST = 3
# pandas.read_excel reads this many of the files at each size: fewer than either size, so the
# cap shows (one file is pandas' slowest step already).
PANDAS_SAMPLE = 1
STEPS = ("validate", "merge", "pandas", "bound", "calamine", "annotate", "generate", "generate_built")


def _bench(work: Path, *extra: str, sizes: str = f"2,{LARGEST}", hide_calamine: bool = False):
    numbers = work / f"numbers-{len(list(work.glob('numbers-*')))}.json"
    args = ["--sizes", sizes, "--jobs", "2", "--pandas-sample", str(PANDAS_SAMPLE),
            "--workdir", str(work / "w"), "--json", str(numbers), *extra]
    code = ("import sys; sys.modules['python_calamine'] = None\n" if hide_calamine else "") + \
        f"from xlsx_tools.bench import main; sys.exit(main({args!r}))"
    done = subprocess.run([sys.executable, "-c", "import sys\n" + code], capture_output=True, text=True,
                          timeout=600, check=False)
    return done, numbers


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory):
    work = tmp_path_factory.mktemp("bench")
    done, numbers = _bench(work)
    return work, done, numbers


def test_bench_prints_every_step_and_ratio(bench_run):
    _work, done, _numbers = bench_run
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    out = done.stdout
    for label in ("validate", "merge (validate + add up + write)", "pandas.read_excel",
                  "unzip + parse (lower bound)", "python-calamine (the 3 sheets)",
                  "annotate (copies, one process)", "generate --roster, one process",
                  "generate: each workbook built"):
        assert out.count(label) >= 2, label          # one row per size
    for ratio in ("validate / pandas.read_excel", "bound / validate", "validate / merge",
                  "merge peak memory", "validate / calamine (CPU)", "annotate / validate (CPU)",
                  "generate / validate (CPU)"):
        assert ratio in out
    assert "overall: " in out


def test_bench_numbers_are_complete_and_every_file_passed(bench_run):
    _work, done, numbers = bench_run
    assert done.returncode == 0, done.stderr
    data = json.loads(numbers.read_text(encoding="utf-8"))
    assert data["sizes"] == [2, LARGEST]
    for n in (2, LARGEST):
        row = data["results"][str(n)]
        assert set(row) == set(STEPS)
        for step in STEPS:
            r = row[step]
            assert r["ok"] is True, (n, step, r["detail"])
            assert r["seconds"] > 0 and r["peak_mb"] > 0
            assert r["n"] == (min(n, PANDAS_SAMPLE) if step == "pandas" else n)
        assert row["merge"]["detail"]["added"] == n


def test_bench_workbooks_are_distinct_platforms_that_pass(bench_run):
    work, done, _numbers = bench_run
    assert done.returncode == 0, done.stderr
    files = sorted((work / "w" / "files").glob("*.xlsx"))
    assert len(files) == LARGEST
    for path in files:
        with zipfile.ZipFile(path) as z:
            assert z.testzip() is None
        assert unzip_and_parse(str(path), (FORM.cover.name, FORM.table.name, META_SHEET)) > 10_000
    run = validate_paths(files, form=FORM, jobs=1)
    assert [r.verdict for r in run.files] == ["通过"] * LARGEST, [r.findings for r in run.files]
    units = {r.unit for r in run.files}
    assert len(units) == LARGEST
    # Named as the notice asks, after what the table says.
    for r in run.files:
        assert r.path.name == FORM.file_stem(r.batch, r.category, r.unit) + ".xlsx"
    # The numbers differ from file to file.
    numeric = [f.id for f in FORM.fields if f.type == "int"]
    assert len({r.values[numeric[0]] for r in run.files}) == LARGEST
    # generate --roster made the pre-filled workbooks of the same platforms, named alike.
    generated = sorted((work / "w" / f"out-{LARGEST}" / "generated").glob("*.xlsx"))
    assert [p.name for p in generated] == [p.name for p in files]


def test_tree_memory_counts_the_workers_of_a_process():
    # A parent that starts two children, each holding 60 MB of its own.
    code = ("import subprocess, sys, time\n"
            "kids = [subprocess.Popen([sys.executable, '-c', "
            "'import time; b = bytearray(60 * 1024 * 1024); time.sleep(0.6)']) for _ in range(2)]\n"
            "[k.wait() for k in kids]\n")
    proc = subprocess.Popen([sys.executable, "-c", code])
    with TreeMemory(proc.pid) as mem:
        proc.wait()
    assert mem.peak_pss_kb > 110 * 1024
    assert mem.peak_rss_kb >= mem.peak_pss_kb


def test_the_set_of_workbooks_is_made_once_and_nothing_else_is_removed(bench_run):
    """The bench's cache, by the function the bench makes its set with (make_workbooks)."""
    work, done, _numbers = bench_run
    assert done.returncode == 0, done.stderr
    files = work / "w" / "files"
    theirs = files / "notes-of-someone.txt"
    theirs.write_text("not the bench's")
    before = {p.name: p.stat().st_mtime_ns for p in files.glob("*.xlsx")}
    said: list[str] = []
    assert {p.name for p in make_workbooks(work / "w", LARGEST, FORM, jobs=2, say=said.append)} == set(before)
    assert said == [f"workbooks: reusing {LARGEST} in {files}"]
    assert {p.name: p.stat().st_mtime_ns for p in files.glob("*.xlsx")} == before
    # One of its files gone: the bench makes its set again, and removes only what it had made.
    (files / min(before)).unlink()
    said.clear()
    assert len(make_workbooks(work / "w", 2, FORM, jobs=2, say=said.append)) == 2
    assert len(said) == 1 and said[0].startswith("workbooks: 2 in ")
    assert theirs.read_text() == "not the bench's"
    assert len(list(files.glob("*.xlsx"))) == 2


@pytest.fixture(scope="module")
def bench_without_calamine_against_a_baseline(bench_run):
    """One more run of only calamine (validate runs always): python-calamine hidden, and the
    package's own tree as the baseline."""
    tree = Path(__file__).resolve().parents[1]
    return _bench(bench_run[0], "--baseline", str(tree), "--steps", "calamine", sizes="2",
                  hide_calamine=True)


def test_without_calamine_the_bench_says_so_and_measures_the_rest(bench_without_calamine_against_a_baseline):
    done, numbers = bench_without_calamine_against_a_baseline
    assert done.returncode == 0, done.stderr
    assert "python-calamine is not installed" in done.stdout
    assert "python-calamine (the 3 sheets)" not in done.stdout
    row = json.loads(numbers.read_text(encoding="utf-8"))["results"]["2"]
    # --steps: validate and the baseline ran, nothing else; only the baseline's target is judged.
    assert set(row) == {"validate", "baseline"}
    assert all(row[step]["ok"] for step in row)
    assert "pandas.read_excel" not in done.stdout and "annotate / validate" not in done.stdout
    assert "of 1 targets met)" in done.stdout


def test_steps_names_the_steps_it_does_not_know(tmp_path):
    done, _numbers = _bench(tmp_path, "--steps", "validate,fast")
    assert done.returncode == 2
    assert "--steps: no step fast" in done.stderr and "Traceback" not in done.stderr


def test_a_baseline_tree_is_measured_on_the_same_files(bench_without_calamine_against_a_baseline):
    """The package's own tree as the baseline: the step runs and is compared."""
    done, numbers = bench_without_calamine_against_a_baseline
    assert done.returncode == 0, done.stderr
    assert "validate / baseline (CPU)" in done.stdout
    row = json.loads(numbers.read_text(encoding="utf-8"))["results"]["2"]
    assert row["baseline"]["ok"] is True and row["baseline"]["n"] == 2
