"""Validate returned workbooks: read each, check it, and say what to do.

:func:`validate_file` takes one path and never raises for a bad file: a file that
cannot be read becomes a rejected :class:`FileResult` whose one finding is the
reason, so every report lists it. :func:`validate_paths` takes files and folders,
finds the candidate files in the folders, and checks them (in several processes
when there are many).
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import threading
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

from .catalogue import status_word
from .form import Form, load_form
from .gather import returned_files, shown_path
from .previous import PreviousRound
from .read import MAX_SECONDS, RejectedFile, open_workbook
from .read.refusal import too_slow
from .rules import (ERROR, WARNING, Finding, all_explained, count_explained, count_severity,
                    explanation_places, inspect_workbook, previous_values, with_explanations)

__all__ = [
    "FileResult", "ValidationRun", "validate_file", "validate_paths", "find_files",
    "VERDICTS", "UNREADABLE", "FAILED", "json_value", "isolated", "unreadable", "time_limit", "OutOfTime",
]

# A file's status (--json "status") -> its verdict, the word every command says
# (catalogue.toml's [statuses]); and the verdict of a file that could not be read.
# "explained": only warnings, each explained by the filler (审核说明).
VERDICTS = {code: status_word(code)
            for code in ("accepted", "warnings", "explained", "rejected", "unreadable")}
UNREADABLE = VERDICTS["unreadable"]
# The statuses of a file that is not taken as it is (exit code 1; never added up).
FAILED = ("rejected", "unreadable")


@dataclass
class FileResult:
    """The outcome for one file."""
    file: str                          # the path as found (given, or under a given folder)
    path: Path
    status: str                        # accepted | warnings | explained | rejected | unreadable
    verdict: str                       # its word: 通过 | 有警告 | 已说明 | 不通过 | 无法读取
    findings: list[Finding] = field(default_factory=list)
    values: dict[str, object] = field(default_factory=dict)   # clean values by field id
    # The values of the form's roles (form.keys): who sent it, batch, category...
    unit: str | None = None
    batch: str | None = None
    category: str | None = None
    recommending: str | None = None
    date: dt.date | None = None        # the fill date
    reason: str | None = None          # why the file could not be read
    kind: str | None = None            # the reader's short code for that
    mtime: float | None = None         # the file's modification time (seconds)
    file_name: str | None = None       # the sender's name, when the file is stored under another
    under: str | None = None           # its path under the folder given (validate_paths)
    # Last year's values the change rules compared with (by field id), None when none.
    previous: dict[str, object] | None = None

    @property
    def errors(self) -> int:
        return count_severity(self.findings, ERROR)

    @property
    def warnings(self) -> int:
        return count_severity(self.findings, WARNING)

    @property
    def explained(self) -> int:
        """Warnings the filler explained (审核说明)."""
        return count_explained(self.findings)

    @property
    def readable(self) -> bool:
        return self.reason is None

    @property
    def failed(self) -> bool:
        """Rejected or unreadable: to be sent again, never added up."""
        return self.status in FAILED

    @property
    def name(self) -> str:
        # The sender's name where the file is stored under another; else the name as
        # shown (a name that is not UTF-8 shown as GB18030, never as surrogates).
        return self.file_name or Path(self.file).name

    @property
    def label(self) -> str:
        """The file as outputs sent out name it: its path under the folder given (just
        the name when directly in it), never where that folder is on this machine."""
        return self.under or self.name

    def to_dict(self) -> dict[str, Any]:
        """As in the --json output: numbers as JSON numbers, dates as ISO text."""
        out: dict[str, Any] = {
            "file": self.file, "status": self.status, "verdict": self.verdict,
            "unit": self.unit, "batch": self.batch, "category": self.category,
            "recommending": self.recommending,
            "findings": [f.to_dict() for f in self.findings],
            "values": {k: json_value(v) for k, v in self.values.items()},
            "previous": (None if self.previous is None
                         else {k: json_value(v) for k, v in self.previous.items()}),
        }
        if self.reason is not None:
            out["reason"] = self.reason
            out["kind"] = self.kind
        return out


def listing_key(form: Form, r: FileResult) -> tuple:
    """A file's place in a listing (:meth:`Form.listing_key`): by its table's batch,
    category and unit, by its name's where the table does not tell them, then its path."""
    parts = {} if r.batch in form.batches and r.unit else form.name_parts(r.name)
    batch = r.batch if r.batch in form.batches else parts.get("batch")
    unit = r.unit.strip() if isinstance(r.unit, str) and r.unit.strip() else parts.get("unit")
    return form.listing_key(batch, r.category or parts.get("category"), unit or "\uffff", r.file)


@dataclass
class ValidationRun:
    form: Form
    files: list[FileResult]

    @property
    def has_errors(self) -> bool:
        return any(r.failed for r in self.files)

    @property
    def exit_code(self) -> int:
        return 1 if self.has_errors else 0

    def listed(self) -> list[FileResult]:
        """The files in the order listings show them (:func:`listing_key`)."""
        return sorted(self.files, key=lambda r: listing_key(self.form, r))

    def counts(self) -> dict[str, int]:
        """Files per verdict, every verdict present (0 when none)."""
        out = {v: 0 for v in VERDICTS.values()}
        for r in self.files:
            out[r.verdict] += 1
        return out

    def flatten(self, keys: Sequence[str] = ("file", "code", "cells")) -> list[tuple]:
        """Findings as tuples of the chosen attributes, for short assertions."""
        rows = []
        for r in self.files:
            for f in r.findings:
                d = {"file": r.file, "name": r.name, "status": r.status, **f.to_dict()}
                rows.append(tuple(tuple(d[k]) if isinstance(d[k], list) else d[k] for k in keys))
        return rows

    def to_dict(self) -> dict[str, Any]:
        return {"form": self.form.id, "files": [r.to_dict() for r in self.files]}


def json_value(value: object) -> object:
    """int stays int; Decimal becomes int or float as typed (3.5, 12); dates ISO text."""
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() and value.as_tuple().exponent >= 0 \
            else float(value)
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return str(value)


# -- one file --------------------------------------------------------------------

def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except OSError:
        return None


def _rejected(form: Form, path: Path, shown: str, refusal: RejectedFile,
              file_name: str | None = None) -> FileResult:
    """The file as 无法读取; the reason in the form's words (its catalogue)."""
    reason = refusal.reason_in(form.catalogue)
    return FileResult(
        file=shown, path=path, status="unreadable", verdict=UNREADABLE,
        findings=[Finding(refusal.code, ERROR, (), (), reason)],
        reason=reason, kind=refusal.kind, mtime=_mtime(path), file_name=file_name)


def unreadable(form: Form, result: FileResult, kind: str, variant: str | None = None,
               **params: object) -> FileResult:
    """``result``'s file as 无法读取 because a stage after reading failed for it: ``kind``
    is the stage's code (catalogue.toml, source "stage"), ``variant`` and ``params`` its words."""
    out = _rejected(form, result.path, result.file, RejectedFile(kind, variant, **params), result.file_name)
    out.under = result.under
    return out


def _role(form: Form, values: dict[str, object], role: str) -> object:
    fid = form.role(role)
    return values.get(fid) if fid else None


class OutOfTime(BaseException):
    """A file's time is up (a BaseException, so no ``except Exception`` swallows it)."""


@contextmanager
def time_limit(deadline: float) -> Iterator[None]:
    """Interrupt the work inside when ``deadline`` (time.monotonic) passes, raising OutOfTime.

    Signals reach only the main thread; elsewhere the caller checks the clock
    between stages instead.
    """
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise OutOfTime()
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer") \
            or signal.getitimer(signal.ITIMER_REAL)[0]:
        yield
        return

    def alarm(_signum, _frame):
        raise OutOfTime()

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, remaining)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def isolated(form: Form, result: FileResult, kind: str, work: Callable[[FileResult], Any],
             passes: tuple[type[BaseException], ...] = ()) -> tuple[Any, FileResult]:
    """``work(result)``, or, if it fails for this file, None and the file as 无法读取 (``kind``).

    The work has MAX_SECONDS. Exceptions of the types in ``passes`` are the caller's.
    """
    try:
        with time_limit(time.monotonic() + MAX_SECONDS):
            return work(result), result
    except passes:
        raise
    except OutOfTime:
        return None, _rejected(form, result.path, result.file, too_slow(MAX_SECONDS), result.file_name)
    except Exception:  # noqa: BLE001 - one file's failure is that file's verdict, never the run's
        return None, unreadable(form, result, kind)


def validate_file(path: str | Path, form: Form | None = None, *, shown: str | None = None,
                  today: dt.date | None = None, file_name: str | None = None,
                  previous: PreviousRound | None = None) -> FileResult:
    """Read and check one file. Never raises for a bad file.

    Reading and checking share one time limit (MAX_SECONDS); anything that goes
    wrong makes the file 无法读取 with its reason, in Chinese.

    ``file_name`` is the name the sender gave the file, for R18 and the reports,
    when it is stored under another (a round's store names files by their hash).

    ``previous``: last round's output (:func:`xlsx_tools.previous.read_previous`); the
    change rules compare with it, not with the workbook's 上年 cells.
    """
    form = form or load_form()
    path = Path(path)
    shown = shown if shown is not None else shown_path(path)
    deadline = time.monotonic() + MAX_SECONDS
    try:
        with time_limit(deadline):
            return _check(path, form, shown, today, deadline, file_name, previous)
    except RejectedFile as e:
        return _rejected(form, path, shown, e, file_name)
    except OutOfTime:
        return _rejected(form, path, shown, too_slow(MAX_SECONDS), file_name)
    except Exception:  # noqa: BLE001 - a file must never stop the run; the reason is kept
        return _rejected(form, path, shown, RejectedFile("check_failed"), file_name)


def _check(path: Path, form: Form, shown: str, today: dt.date | None, deadline: float,
           file_name: str | None, previous: PreviousRound | None) -> FileResult:
    with open_workbook(path, form, deadline=deadline) as book:
        data = book.data
        values, findings = inspect_workbook(form, data, file_name or Path(shown).name, today, previous)
        # The explanations are on 校验结果, the largest sheet: it is read (from the
        # package still open) only for a file with a warning they may explain.
        wanted = explanation_places(form, findings)
        if wanted:
            findings = with_explanations(form, findings, book.read_named(wanted))
    if time.monotonic() > deadline:
        raise OutOfTime()
    errors = any(f.severity == ERROR for f in findings)
    status = ("rejected" if errors else "explained" if all_explained(findings)
              else "warnings" if findings else "accepted")
    date = _role(form, values, "date")
    return FileResult(
        file=shown, path=path, status=status, verdict=VERDICTS[status],
        findings=findings, values=values,
        unit=_text(_role(form, values, "unit")), batch=_text(_role(form, values, "batch")),
        category=_text(_role(form, values, "category")),
        recommending=_text(_role(form, values, "recommending")),
        date=date if isinstance(date, dt.date) else None,
        mtime=_mtime(path), file_name=file_name, previous=previous_values(form, data, values, previous))


def _text(value: object) -> str | None:
    return None if value is None else str(value)


# -- many files ------------------------------------------------------------------

def find_files(paths: Iterable[str | Path]) -> list[tuple[Path, str]]:
    """(path, name to show) for every given file, and every file under given folders.

    Whatever it is, a file is taken (a wrong kind is then 无法读取, with its
    reason); a folder walk leaves out only the system's files (hidden files, lock
    files, Thumbs.db: :func:`~xlsx_tools.gather.is_system_name`), takes each real
    file once and ends symlink loops.
    """
    return [(p, shown) for p, shown, _ in _found(paths)]


def _found(paths: Iterable[str | Path]) -> list[tuple[Path, str, str]]:
    """(path, name to show, path under the folder given: FileResult.under) of each file."""
    return [(p, shown_path(p), shown_path(under)) for p, under in returned_files(paths)]


# Each worker process loads the form (and last round's values) once.
_WORKER_FORM: Form | None = None
_WORKER_PREVIOUS: PreviousRound | None = None


def _init_worker(form: Form, previous: PreviousRound | None = None) -> None:
    # The parent's own Form object: forked workers then share its compiled
    # plans and the parts the parent has already parsed, instead of each
    # starting cold from the TOML (it is pickled only where processes spawn).
    global _WORKER_FORM, _WORKER_PREVIOUS
    _WORKER_FORM = form
    _WORKER_PREVIOUS = previous


def _work(items: list[tuple[str, str, dt.date | None]]) -> list[FileResult]:
    return [validate_file(path, _WORKER_FORM, shown=shown, today=today, previous=_WORKER_PREVIOUS)
            for path, shown, today in items]


def _alone(item: tuple[str, str, dt.date | None], form: Form, previous: PreviousRound | None) -> FileResult:
    with ProcessPoolExecutor(1, initializer=_init_worker, initargs=(form, previous)) as pool:
        try:
            return pool.submit(_work, [item]).result()[0]
        except BrokenProcessPool:
            path, shown, _ = item
            return _rejected(form, Path(path), shown, RejectedFile("crashed"))


Progress = Callable[[int, int], None]


def validate_paths(paths: Iterable[str | Path], form: Form | None = None,
                   jobs: int | None = None, today: dt.date | None = None,
                   progress: Progress | None = None,
                   previous: PreviousRound | None = None) -> ValidationRun:
    """Validate every file given or found under the given folders, in that order.

    ``jobs`` processes (default: one per CPU); 1 runs in this process.
    ``progress(done, total)`` is called at the start and as files are done.
    ``previous``: last round's output, for the change rules (see :func:`validate_file`).
    """
    form = form or load_form()
    found = _found(paths)
    run = _validate_found([(p, s) for p, s, _ in found], form, jobs, today, progress, previous)
    for r, (_, _, under) in zip(run.files, found):
        r.under = under
    return run


def _validate_found(found: list[tuple[Path, str]], form: Form, jobs: int | None, today: dt.date | None,
                    progress: Progress | None, previous: PreviousRound | None) -> ValidationRun:
    total = len(found)
    tell = progress or (lambda done, total: None)
    tell(0, total)
    jobs = max(1, min(jobs or os.cpu_count() or 1, total or 1))
    if jobs == 1:
        results = []
        for p, s in found:
            results.append(validate_file(p, form, shown=s, today=today, previous=previous))
            tell(len(results), total)
        return ValidationRun(form, results)
    # The first file is checked here, before the workers are forked, so they
    # start with what it warmed (the form's compiled plans, the package parts
    # a round's workbooks share) rather than each finding it again.
    first = validate_file(found[0][0], form, shown=found[0][1], today=today, previous=previous)
    tell(1, total)
    # Small batches: few round trips between processes, yet an even spread and
    # progress that moves.
    items = [(str(p), s, today) for p, s in found[1:]]
    size = max(1, min(16, len(items) // (jobs * 4)))
    batches = [items[i:i + size] for i in range(0, len(items), size)]
    outcomes: list[list[FileResult] | None] = [None] * len(batches)
    with ProcessPoolExecutor(jobs, initializer=_init_worker, initargs=(form, previous)) as pool:
        futures = {pool.submit(_work, b): i for i, b in enumerate(batches)}
        done = 1
        for fut in as_completed(futures):
            try:
                outcomes[futures[fut]] = fut.result()
            except BrokenProcessPool:
                continue   # a worker died (killed, or a crash in C): see below
            done += len(batches[futures[fut]])
            tell(done, total)
    results = [first]
    for batch, outcome in zip(batches, outcomes):
        # When a worker dies, every batch not yet done is lost with it: each of
        # their files is checked again in a process of its own, so only the file
        # that takes its process down is 无法读取.
        results += outcome if outcome is not None else [_alone(item, form, previous) for item in batch]
    tell(total, total)
    return ValidationRun(form, results)
