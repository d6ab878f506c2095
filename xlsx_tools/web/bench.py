"""Benchmark: how fast a round receives files, and how soon the page shows a verdict.

    python -m xlsx_tools.web.bench [--files 500] [--single 30] [--workdir DIR]

In one run, on the bench's filled workbooks (:func:`xlsx_tools.bench.make_workbooks`):

* ``validate``: :func:`~xlsx_tools.validate.validate_file` of each file, in this
  process (the reference: what receiving cannot do without);
* ``receive``: :meth:`~xlsx_tools.round.Round.receive` of the same files into a
  new round (store with fsync, validate, ledger commit): files per second, CPU
  ms per file and the ratio to ``validate``;
* ``api``: one file per ``POST /api/files`` to a real server on loopback,
  one after another: the median and the slowest time to the answer;
* ``page``: in Chromium (Playwright, if installed), one file chosen on the
  open page until its verdict shows there, half a second between files: the
  median and the slowest, against the target of 300 ms;
* ``drop``: all the files chosen at once on the page until the last verdict
  shows, and until the table lists them all.

This is a developer's tool: it prints in English.
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import shutil
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from ..bench import make_workbooks
from ..form import Form, load_form
from ..round import Round
from ..validate import FileResult, validate_file
from .app import UPLOAD_STATUSES
from .server import BackgroundServer

__all__ = ["CHROMIUM", "CHROMIUM_ARGS", "PAGE_TARGET_MS", "main"]

PAGE_TARGET_MS = 300
# Debian's Chromium, as the tests launch it (never a browser Playwright would download).
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
DONE = "document.getElementById('upload-summary').textContent.startsWith('已收到')"
# The first line of the drop list shows a verdict (a new drop starts the list afresh).
VERDICT = (f"{json.dumps(list(UPLOAD_STATUSES), ensure_ascii=False)}.includes("
           "(document.querySelector('#upload-list li .pill') || {}).textContent)")


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _roster(path: Path, form: Form, results: Sequence[FileResult]) -> Path:
    """A roster of the bench's units as their workbooks give them, in the form's roster columns."""
    columns = [c for c in form.roster_columns if c.field]
    with open(path, "w", encoding="utf-8-sig", newline="") as fh:
        out = csv.writer(fh)
        out.writerow([c.header for c in columns])
        out.writerows([str(r.values.get(c.field) or "") for c in columns] for r in results)
    return path


def _ms(values: list[float]) -> str:
    return f"median {statistics.median(values) * 1000:.0f} ms, slowest {max(values) * 1000:.0f} ms"


def run(n: int, single: int, workdir: Path, say=print) -> dict:
    files = make_workbooks(workdir / "workbooks", n + 2 * single, say=say)
    bulk, singles, pages = files[:n], files[n:n + single], files[n + single:n + 2 * single]
    out: dict = {}
    form = load_form()

    c0, t0 = _cpu(), time.perf_counter()
    results = [validate_file(p, form) for p in bulk]
    v_cpu, v_wall = _cpu() - c0, time.perf_counter() - t0
    say(f"validate : {n / v_wall:7.0f} files/s, {v_cpu / n * 1000:5.1f} ms CPU per file")

    base = Path(tempfile.mkdtemp(prefix="round-bench-", dir=workdir))
    try:
        results += [validate_file(p, form) for p in singles + pages]
        roster = _roster(base / "名单.csv", form, results)
        rnd = Round.init(base / "receive", roster)
        c0, t0 = _cpu(), time.perf_counter()
        receipts = rnd.receive(bulk)
        r_cpu, r_wall = _cpu() - c0, time.perf_counter() - t0
        assert len(receipts) == n and all(r.version and r.version.readable for r in receipts)
        say(f"receive  : {n / r_wall:7.0f} files/s, {r_cpu / n * 1000:5.1f} ms CPU per file "
            f"({r_cpu / v_cpu:.2f} x validate; store with fsync, ledger commit)")
        out.update(validate_ms=v_cpu / n * 1000, receive_ms=r_cpu / n * 1000, receive_per_s=n / r_wall)
        rnd.close()

        import httpx

        rnd = Round.init(base / "api", roster)
        with BackgroundServer(rnd) as server, httpx.Client(base_url=server.url, timeout=60) as client:
            times = []
            for p in singles:
                t0 = time.perf_counter()
                answer = client.post("/api/files", files={"file": (p.name, p.read_bytes())})
                times.append(time.perf_counter() - t0)
                assert answer.status_code == 200
            say(f"api      : one file per request, answer in {_ms(times)}")
            out["api_ms"] = statistics.median(times) * 1000
        rnd.close()

        try:
            from playwright.sync_api import sync_playwright
        except ImportError:
            say("page     : skipped (playwright is not installed: pip install playwright)")
            return out
        if not Path(CHROMIUM).exists():
            say(f"page     : skipped ({CHROMIUM} is not installed)")
            return out
        rnd = Round.init(base / "page", roster)
        with BackgroundServer(rnd) as server, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            times = []
            page.goto(server.url)
            for p in pages:        # one file after another, on the open page, as a clerk drops them
                t0 = time.perf_counter()
                page.set_input_files("#file-input", [str(p)])
                page.wait_for_function(VERDICT, polling=5)
                times.append(time.perf_counter() - t0)
                page.wait_for_function(DONE, polling=5)
                time.sleep(0.5)    # the page refreshes its table; a clerk drops the next file later
            median = statistics.median(times) * 1000
            verdict = "PASS" if median < PAGE_TARGET_MS else "FAIL"
            say(f"page     : one file chosen until its verdict shows: {_ms(times)} "
                f"(target < {PAGE_TARGET_MS} ms: {verdict})")
            out["page_ms"] = median
            drop = Round.init(base / "drop", roster)
            with BackgroundServer(drop) as drop_server:
                page.goto(drop_server.url)
                t0 = time.perf_counter()
                page.set_input_files("#file-input", [str(p) for p in bulk])
                page.wait_for_function(DONE, timeout=600_000)
                shown = time.perf_counter() - t0
                page.wait_for_function(f"document.querySelectorAll('#units tbody tr a').length >= {n}",
                                       timeout=600_000)
                listed = time.perf_counter() - t0
            say(f"drop     : {n} files at once: every verdict shown in {shown:.1f} s "
                f"({n / shown:.0f} files/s), all listed in the table in {listed:.1f} s")
            out.update(drop_s=shown, drop_listed_s=listed)
            drop.close()
            browser.close()
        rnd.close()
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m xlsx_tools.web.bench",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=500, help="files received at once (default 500)")
    parser.add_argument("--single", type=int, default=30, help="files received one at a time (default 30)")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "xlsx-tools-bench",
                        help="where the workbooks are kept between runs")
    args = parser.parse_args(argv)
    if args.files < 1 or args.single < 1:
        parser.error("--files and --single take numbers of 1 or more")
    args.workdir.mkdir(parents=True, exist_ok=True)
    run(args.files, args.single, args.workdir)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
