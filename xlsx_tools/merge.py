"""Add up the returned workbooks: one summary per batch, and an overview.

:func:`merge_paths` validates every file with the same checks as ``validate``,
resolves what the checks of a single file cannot see (M01 the same unit twice,
M02 a unit not on the roster, M03 a roster unit that sent nothing, M04 a value
far out of line with its batch) and adds up the accepted platforms of each
batch. :func:`write_outputs` writes the files: per batch ``汇总-第X批.xlsx`` and
``汇总-第X批.csv``, ``汇总-总览.xlsx``, and per recommending unit a workbook in a
folder named as the form heads that role (its platforms, who has not returned, the
findings).

With last round's output (``previous``) the change rules compare with it, and the
summaries show last year beside this year: ``prev_<id>`` columns in the CSV, 上年
and 增长率 columns in 汇总, and the main indicators against last year on 图表.

Money is added as :class:`~decimal.Decimal`, counts as int, so every total is
the exact sum of its inputs. Rows are in a fixed order and the workbooks carry
a fixed creation date, so the same inputs give the same bytes.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
import math
import re
import statistics
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Sequence

from .catalogue import status_meaning, status_word
from .form import PREVIOUS_PREFIX, Field, Form, load_form
from .previous import PreviousRound, last_round
from .roster import UNSAFE_CHARS, RosterEntry, read_roster, unit_key
from .rules import (ERROR, WARNING, Finding, all_explained, count_explained, count_severity,
                    field_title)
from .validate import FileResult, isolated, validate_paths
from .writing import distinct_name, write_files
from .xlsx_output import (
    shown_value,
    DATE_WIDTH_SAMPLE,
    LANDSCAPE_PX,
    TABLE_SIZE,
    TableFormats,
    broken,
    close_workbook,
    new_workbook,
    print_setup,
    printed_width,
    row_points,
    text_lines,
    text_table_widths,
    text_width,
    write_table,
)

if TYPE_CHECKING:
    import pandas as pd   # the data frames only: adding up and writing never use pandas,
                          # so a command that merges does not pay for importing it

__all__ = [
    "merge_paths", "merge_results", "write_outputs", "output_key", "MergeResult", "BatchSummary",
    "Submission", "MergeConfig", "merge_config", "batch_file_stem", "column_title", "STATUSES",
    "OVERVIEW_STEM", "UNKNOWN_BATCH", "ADDED", "choice_rank", "choose_file", "place_file", "RosterIndex",
    "unit_key", "recommending_folder", "recommending_file_stem", "written_lines",
]

# One status per row of 提交情况, in the words of every command (catalogue.toml's [statuses]).
ST_ACCEPTED = status_word("accepted")
ST_WARNINGS = status_word("warnings")
ST_EXPLAINED = status_word("explained")   # only warnings, each explained by the filler
ST_FAILED = status_word("rejected")
ST_UNREADABLE = status_word("unreadable")
ST_MISSING = status_word("missing")
ST_OFF_ROSTER = status_word("off_roster")
ST_DUPLICATE = status_word("duplicate")
STATUSES = (ST_ACCEPTED, ST_WARNINGS, ST_EXPLAINED, ST_FAILED, ST_UNREADABLE, ST_MISSING, ST_OFF_ROSTER,
            ST_DUPLICATE)
# The statuses of the rows whose values are added up.
ADDED = (ST_ACCEPTED, ST_WARNINGS, ST_EXPLAINED, ST_OFF_ROSTER)

OVERVIEW_STEM = "汇总-总览"
UNKNOWN_BATCH = "无法识别批次"
ALL_CATEGORIES = "全部"

Progress = Callable[[int, int], None]


# -- configuration from the form definition -------------------------------------

@dataclass(frozen=True)
class Share:
    title: str
    part: str
    whole: str


@dataclass(frozen=True)
class Chart:
    title: str
    fields: tuple[str, ...]


# The titles and headings of the summaries; a definition's [merge.words] replaces any
# of them ({batch}: the batch, {count}: how many units).
WORDS = {
    "summary_title": "{batch} 汇总（{count} 个单位）",
    "categories_title": "{batch} 分类统计",
    "charts_title": "{batch} 主要指标分类对比（数据见“分类统计”工作表）",
    "count_heading": "单位数",
    "count_total": "共 {count} 个单位",
    "added_heading": "计入汇总单位数",
    # The overview's counts of files: every file received (each version a unit sent, the
    # same file sent again), and those judged (a unit's one taken, the files of no unit).
    "received_heading": "收到文件数",
    "used_heading": "采用的文件数",
    "overview_title": "各批次汇总总览",
    # The overview's sums, a row per field and a column per batch (the sheet that prints).
    "batches_sheet": "分批次统计",
    "batches_title": "各批次分项合计（计入汇总的{unit_word}）",
    "overview_note": ("各项数值之和见“{batches_sheet}”工作表（每项一行、每个批次一列，供打印）；"
                      "本表打印时只打印提交与汇总情况。"),
    "grand_total": "合计",
    "unit_word": "单位",     # what the command's lines call what is added up
    # A recommending unit's own workbook ({recommending}, {count}).
    "recommending_title": "{recommending} 汇总（{count} 个单位）",
    # {recommending_label}: the role's column header (Form.column_header).
    "recommending_folder": "{recommending_label}",
    "recommending_sheet": "按{recommending_label}",
    "recommending_overview_title": "按{recommending_label}的提交情况",
    "no_recommending": "未填写{recommending_label}",
    # Last year against this year, on 图表 ({batch}).
    "previous_sheet": "与{previous_label}对比",
    # The printable sheet of the main indicators, and the note on the full table's print.
    "print_sheet": "主要指标",
    "print_title": "{batch} 主要指标（{count} 个单位）",
    "print_note": ("本表共 {columns} 列，供筛选、复制，打印时只打印本行；"
                   "纸面阅读请打印“{print_sheet}”工作表。"),
    "previous_title": "{batch} 主要指标与上年对比（同口径：本年和上年都有数值的单位）",
    "growth": "比上年增长",
}


@dataclass(frozen=True)
class MergeConfig:
    """The ``[merge]`` table of the form definition: M04's thresholds, shares, charts, words."""
    outlier_factor: Decimal = Decimal(20)
    outlier_min_count: int = 5
    outlier_floor: dict[str, Decimal] = field(default_factory=lambda: {
        "int": Decimal(1000), "amount": Decimal(1000)})
    shares: tuple[Share, ...] = ()
    charts: tuple[Chart, ...] = ()
    previous_charts: tuple[Chart, ...] = ()
    # The indicators of the printable sheet (主要指标), in their order.
    print_fields: tuple[str, ...] = ()
    words: dict[str, str] = field(default_factory=lambda: dict(WORDS))

    def say(self, name: str, **params: object) -> str:
        return self.words[name].format(**params)


def recommending_words(form: Form, name: str, **params: object) -> str:
    """A word about the recommending unit, with the form's header for that role."""
    return merge_config(form).say(name, recommending_label=form.column_header("recommending"),
                                  **params)


def recommending_folder(form: Form) -> str:
    """The folder under --out holding each recommending unit's workbook."""
    return recommending_words(form, "recommending_folder")


def written_lines(result: MergeResult, out_dir: str | Path) -> list[str]:
    """What merge tells of the files it wrote into ``out_dir``: the summaries there, then each
    recommending unit's workbook in the folder they really are in (merge and merge --round)."""
    folder = Path(out_dir) / recommending_folder(result.form)
    own = [p for p in result.outputs if p.parent == folder]
    lines = [f"已写入 {out_dir}：" + "、".join(p.name for p in result.outputs if p.parent != folder)]
    if own:
        lines.append(f"各{result.form.column_header('recommending')}的汇总 {len(own)} 个，在 {folder}")
    return lines


# Worked out once per form object (a form from a text or a dict has no file to key by).
_CONFIG_CACHE: dict[int, tuple[Form, MergeConfig]] = {}


def merge_config(form: Form) -> MergeConfig:
    """The form definition's ``[merge]`` table (defaults when there is none)."""
    cached = _CONFIG_CACHE.get(id(form))
    if cached is not None and cached[0] is form:
        return cached[1]
    data = form.merge_settings
    default = MergeConfig()
    floors = dict(default.outlier_floor)
    floors.update({k: Decimal(str(v)) for k, v in data.get("outlier_floor", {}).items()})
    config = MergeConfig(
        outlier_factor=Decimal(str(data.get("outlier_factor", default.outlier_factor))),
        outlier_min_count=int(data.get("outlier_min_count", default.outlier_min_count)),
        outlier_floor=floors,
        shares=tuple(Share(s["title"], s["part"], s["whole"]) for s in data.get("shares", [])),
        charts=tuple(Chart(c["title"], tuple(c["fields"])) for c in data.get("charts", [])),
        previous_charts=tuple(Chart(c["title"], tuple(c["fields"]))
                              for c in data.get("previous_charts", [])),
        print_fields=tuple(data.get("print_fields", ())),
        words={**WORDS, **data.get("words", {})},
    )
    numeric = {f.id for f in form.fields if f.numeric}
    named = [i for s in config.shares for i in (s.part, s.whole)]
    named += [i for c in (*config.charts, *config.previous_charts) for i in c.fields]
    named += list(config.print_fields)
    wrong = sorted(set(named) - numeric)
    if wrong:
        raise ValueError(f"表单定义的 [merge] 中这些字段不是数字项：{'、'.join(wrong)}")
    if len(_CONFIG_CACHE) > 16:
        _CONFIG_CACHE.clear()
    _CONFIG_CACHE[id(form)] = (form, config)
    return config


# -- results ----------------------------------------------------------------------

@dataclass
class Submission:
    """One row of 提交情况: a file found, or a roster unit that sent nothing."""
    batch: str | None
    unit: str | None
    category: str | None
    recommending: str | None
    on_roster: bool | None            # None when no roster was given
    status: str                       # one of STATUSES
    result: FileResult | None         # None for 未提交
    findings: list[Finding]           # the file's own findings, then the merge's
    note: str = ""
    added: bool = False               # its values are in the summary
    roster_row: int | None = None     # position on the roster, for the order
    # How its batch or unit was told when not from the table: said after the verdict in
    # ``note`` (a reviewer reads first what happened to the file and what to do).
    placement: str = ""
    # Files received it stands for: itself; in a round, every receipt of its unit's files
    # (other versions and the same file sent again), which the merge is not given.
    received: int = 1

    @property
    def file(self) -> str:
        return self.result.file if self.result is not None else ""

    @property
    def name(self) -> str:
        return self.result.name if self.result is not None else ""

    @property
    def label(self) -> str:
        """The file as the outputs name it (:attr:`FileResult.label`)."""
        return self.result.label if self.result is not None else ""

    @property
    def errors(self) -> int:
        return count_severity(self.findings, ERROR)

    @property
    def warnings(self) -> int:
        return count_severity(self.findings, WARNING)

    @property
    def explained(self) -> int:
        """Warnings explained by the filler (审核说明)."""
        return count_explained(self.findings)

    @property
    def previous(self) -> dict[str, object]:
        """Last year's values the checks compared with (empty when none)."""
        return (self.result.previous or {}) if self.result is not None else {}

    @property
    def date(self) -> dt.date | None:
        """The file's fill date."""
        return self.result.date if self.result is not None else None


@dataclass
class BatchSummary:
    batch: str
    rows: list[Submission]            # added platforms, in the summary's order
    entries: list[Submission]         # every row of 提交情况, in order
    totals: dict[str, int | Decimal]  # exact sum of every numeric field over ``rows``
    form: Form

    @property
    def data(self) -> pd.DataFrame:
        """One row per added platform, columns = field ids, index = file.

        ints as pandas Int64 (blank = <NA>), amounts as exact Decimal (object
        column), dates as datetime.date, texts as str.
        """
        return _data_frame(self.form, self.rows)

    @property
    def submissions(self) -> pd.DataFrame:
        """提交情况 as a table; columns: the keys of SUBMISSION_COLUMNS."""
        import pandas as pd
        return pd.DataFrame(_submission_records(self.entries), columns=list(SUBMISSION_COLUMNS))

    @property
    def findings(self) -> pd.DataFrame:
        import pandas as pd
        return pd.DataFrame(_finding_records(self.form, self.entries), columns=list(FINDING_COLUMNS))

    def category_totals(self) -> dict[str, dict[str, int | Decimal]]:
        """Platform count (key ``"platforms"``) and exact sums per category and for all."""
        out = {}
        for cat in (*self.form.categories, ALL_CATEGORIES):
            rows = [s for s in self.rows if cat == ALL_CATEGORIES or s.category == cat]
            sums = _sums(self.form, rows)
            out[cat] = {"platforms": len(rows), **sums}
        return out

    def count(self, status: str) -> int:
        return sum(1 for e in self.entries if e.status == status)


@dataclass
class MergeResult:
    form: Form
    files: list[FileResult]                      # every file found, as validated
    batches: dict[str, BatchSummary]             # in the form's batch order
    unplaced: list[Submission]                   # files whose batch cannot be told
    roster: list[RosterEntry] | None
    outputs: list[Path] = field(default_factory=list)
    previous: PreviousRound | None = None         # last round's output, when given

    @functools.cached_property
    def previous_fields(self) -> list[str]:
        """Numeric fields with a previous value for at least one platform added up."""
        if self.previous is None:
            return []
        seen = {k for b in self.batches.values() for s in b.rows for k in s.previous}
        return [f.id for f in self.form.fields if f.numeric and f.id in seen]

    def by_recommending(self) -> dict[str, list[Submission]]:
        """Every row of 提交情况 (and the files with no batch) by recommending unit, in
        the order first met (the roster's); names compared without spaces and widths.
        A unit on the roster is under the recommending unit the roster gives it (who
        checks whom is the roster's to say), one off it under its table's. Rows without
        one are under the words' ``no_recommending``. Empty when the form has no
        recommending unit."""
        if not self.form.role("recommending"):
            return {}
        groups: dict[str, tuple[str, list[Submission]]] = {}
        everything = sorted(self.submissions, key=lambda s: _entry_order(self.form, s))
        for s in everything:
            entry = (self.roster[s.roster_row] if self.roster is not None and s.roster_row is not None
                     else None)
            name = ((entry.recommending if entry is not None else None) or s.recommending
                    or recommending_words(self.form, "no_recommending"))
            groups.setdefault(unit_key(name), (name, []))[1].append(s)
        return {name: rows for name, rows in groups.values()}

    @property
    def submissions(self) -> list[Submission]:
        """Every row of every 提交情况, then the files with no batch."""
        return [e for b in self.batches.values() for e in b.entries] + self.unplaced

    @property
    def added(self) -> int:
        return sum(len(b.rows) for b in self.batches.values())

    @property
    def exit_code(self) -> int:
        """0 when at least one platform was added up, 1 when nothing could be."""
        return 0 if self.added else 1


# -- validating ---------------------------------------------------------------------

def merge_paths(paths: str | Path | Iterable[str | Path], out_dir: str | Path | None = None,
                roster: str | Path | Sequence[RosterEntry] | None = None,
                form: Form | None = None, jobs: int | None = None,
                progress: Progress | None = None,
                previous: str | Path | PreviousRound | None = None) -> MergeResult:
    """Validate every file given (folders are searched) and add up the accepted ones.

    ``roster`` is a roster file (as for ``generate --roster``; a bad one raises
    :class:`~xlsx_tools.roster.RosterError`) or its entries. With ``out_dir``
    the summaries are written there too (:func:`write_outputs`). ``previous`` is
    last round's output (its folder, or :func:`~xlsx_tools.previous.read_previous`'s
    result; a folder that is not one raises :class:`~xlsx_tools.previous.PreviousError`).
    """
    form = form or load_form()
    if isinstance(paths, (str, Path)):
        paths = [paths]  # one folder or file, not its characters
    entries: list[RosterEntry] | None
    if roster is None:
        entries = None
    elif isinstance(roster, (str, Path)):
        entries = read_roster(roster, form)
    else:
        entries = list(roster)
    before = last_round(previous, form, entries or [])
    files = validate_paths(paths, form=form, jobs=jobs, progress=progress, previous=before).files
    result = merge_results(files, form, entries)
    result.previous = before
    if out_dir is not None:
        write_outputs(result, out_dir)
    return result


# -- merging ------------------------------------------------------------------------

def place_file(form: Form, r: FileResult, roster_units: dict[str, list[RosterEntry]]
               ) -> tuple[str | None, str | None, str | None, str]:
    """(batch, unit, category, how the batch was told: table | name | roster) for a file.

    From the table; for a file whose table cannot be read, from its name; for a
    unit whose batch is blank, from the roster when the unit is on it once
    (``roster_units``: :attr:`RosterIndex.by_unit`). The round places each file
    it receives the same way.

    An unreadable file with a roster is put on a roster unit of its name's batch
    only, the name's unit part that unit's name but for what senders add (（扫描件）,
    " (1)", "-副本"): :func:`_roster_unit_in_name`; with none it is placed nowhere
    (how: ``unmatched``), never made a unit of its own nor put on a near one.
    """
    batch = r.batch if r.batch in form.batches else None
    unit = r.unit.strip() if isinstance(r.unit, str) and r.unit.strip() else None
    cat = r.category if r.category in form.categories else None
    how = "table"
    if batch is None or unit is None:
        parts = form.name_parts(r.name)
        if parts and (batch is None or batch == parts["batch"]):
            if r.status == "unreadable" and roster_units and unit is None:
                e = _roster_unit_in_name(parts["unit"], parts["batch"], roster_units)
                if e is None:
                    return None, None, None, "unmatched"
                return e.batch, e.unit, e.category, "name"
            how = "name" if batch is None else how
            batch = batch or parts["batch"]
            unit = unit or parts["unit"]
            cat = cat or parts["category"]
    if batch is None and unit is not None:
        on = roster_units.get(unit_key(unit), [])
        if len(on) == 1:
            batch, cat, how = on[0].batch, cat or on[0].category, "roster"
    return batch, unit, cat, how


# What a sender adds to a unit's name in a file name: bracketed words (（扫描件）, [盖章]),
# a copy's number (" (1)", "（2）") and "-副本" / " - 副本"; names are compared NFKC-folded
# (unit_key), so full-width brackets are half-width here and white space is gone.
_DECORATION = re.compile(r"(?:\([^()]*\)|\[[^\[\]]*\]|【[^【】]*】|-副本)*")


def _roster_unit_in_name(named: str, batch: str, roster_units: dict[str, list[RosterEntry]]
                         ) -> RosterEntry | None:
    """The roster unit of ``batch`` whose name is the file name's unit part once what
    senders add around it (:data:`_DECORATION`) is set aside; else None. Anything else
    around the name (某所西安分所, another unit's name) tells no unit: such a file is
    left to the clerk, never put on a unit that may have sent nothing."""
    key = unit_key(named)
    found = []
    for k, entries in roster_units.items():
        at = key.find(k) if k else -1
        while at >= 0:
            if _DECORATION.fullmatch(key[:at]) and _DECORATION.fullmatch(key[at + len(k):]):
                found += [e for e in entries if e.batch == batch]
                break
            at = key.find(k, at + 1)
    # Two told at once (the batch's roster has the name twice) are for the clerk.
    return found[0] if len(found) == 1 else None


def choice_rank(r: FileResult) -> tuple:
    """How M01 ranks one unit's files, the highest taken: a readable one first, then the
    latest fill date, file time, name (the round numbers versions by it too)."""
    return (not r.failed, r.date or dt.date.min, r.mtime or 0.0, r.name)


def choose_file(results: Sequence[FileResult]) -> FileResult:
    """M01's choice among one unit's files (:func:`choice_rank`)."""
    return max(results, key=choice_rank)


def _numeric_fields(form: Form) -> list[Field]:
    return [f for f in form.fields if f.numeric]


def _sum(f: Field, values: Iterable[object]) -> int | Decimal:
    """The field's values added up, exactly (an amount as a Decimal, a count as an int);
    an empty one counts nothing."""
    if f.type == "amount":
        return sum((Decimal(v) for v in values if v is not None), Decimal(0))
    return sum(int(v) for v in values if v is not None)


def _sums(form: Form, rows: Sequence[Submission]) -> dict[str, int | Decimal]:
    return {f.id: _sum(f, (s.result.values.get(f.id) for s in rows)) for f in _numeric_fields(form)}


def _show(value: object) -> str:
    if isinstance(value, Decimal):
        text = format(value.normalize(), "f")
        return text
    return str(value)


def _outliers(form: Form, config: MergeConfig, rows: list[Submission]) -> None:
    """M04: a value more than ``outlier_factor`` times its batch's median, above a floor."""
    for f in _numeric_fields(form):
        values = [(s, s.result.values.get(f.id)) for s in rows]
        values = [(s, Decimal(v)) for s, v in values if v is not None]
        if len(values) < config.outlier_min_count:
            continue
        median = statistics.median(sorted(v for _, v in values))
        floor = config.outlier_floor.get(f.type, Decimal(0))
        for s, v in values:
            if v > config.outlier_factor * median and v >= floor:
                variant = None if median > 0 else "zero_median"
                times = _show((v / median).quantize(Decimal(1))) if median > 0 else ""
                s.findings.append(Finding(
                    "M04", form.catalogue.severity("M04"), (f.id,), (form.input_cell(f.id).address,),
                    form.field_message("M04", f.id, variant or "default", value=_show(v),
                                       median=_show(median), times=times)))


def _file_status(s: Submission) -> str:
    r = s.result
    if not r.readable:
        return ST_UNREADABLE
    if r.failed or s.errors:
        return ST_FAILED
    if s.on_roster is False:
        return ST_OFF_ROSTER
    if not s.warnings:
        return ST_ACCEPTED
    return ST_EXPLAINED if all_explained(s.findings) else ST_WARNINGS


class RosterIndex:
    """The roster looked up by (batch, :func:`~xlsx_tools.roster.unit_key`) and by unit key
    (``by_unit``); ``entries`` is None without a roster."""

    def __init__(self, entries: Sequence[RosterEntry] | None):
        self.entries = list(entries) if entries is not None else None
        self.by_unit: dict[str, list[RosterEntry]] = {}
        self.position: dict[tuple[str, str], int] = {}
        for i, e in enumerate(self.entries or []):
            self.by_unit.setdefault(unit_key(e.unit), []).append(e)
            self.position.setdefault((e.batch, unit_key(e.unit)), i)

    def entry(self, key: tuple[str, str] | None) -> RosterEntry | None:
        i = self.position.get(key) if key else None
        return None if i is None else self.entries[i]


def _submission(form: Form, r: FileResult, roster: RosterIndex) -> Submission:
    batch, unit, cat, how = place_file(form, r, roster.by_unit)
    key = (batch, unit_key(unit)) if batch and unit else None
    entry = roster.entry(key)
    s = Submission(
        batch=batch, unit=unit, category=cat,
        recommending=_text_or_none(r.recommending) or (entry.recommending or None if entry else None),
        on_roster=None if roster.entries is None else entry is not None,
        status="", result=r, findings=list(r.findings),
        roster_row=roster.position.get(key) if key else None)
    if batch is None:
        s.status = _file_status(s)
        # Why it could not be read, when it could not, then why it is in no batch.
        s.note = (r.reason or "") + (
            _unmatched_note(form, r.name) if how == "unmatched" else
            f"无法从表中或文件名中确定{form.column_header('batch')}，未计入任何批次的汇总。")
    elif how == "name" and r.status == "unreadable" and roster.by_unit:
        named = form.name_parts(r.name)["unit"]
        s.placement = f"按文件名归入名单中{batch}的“{unit}”"
        s.placement += "。" if unit_key(named) == unit_key(unit) else f"（文件名中写作“{named}”）。"
    elif how == "name" and r.failed:
        s.placement = "批次和单位按文件名识别。"
    elif how == "roster":
        s.placement = "表中未填批次，按名单中该单位的批次归入。"
    return s


def _unmatched_note(form: Form, name: str) -> str:
    parts = form.name_parts(name)
    return (f"文件名中的“{parts['unit']}”未能对应到名单中{parts['batch']}的单位"
            "（单位名称之外只可有括号内的说明、副本编号），未计入任何批次的汇总。")


def _off_roster(form: Form, batch: str, subs: list[Submission], roster: RosterIndex) -> None:
    """M02: a unit that is not on the batch's roster (still added when it passes)."""
    for s in subs:
        if s.on_roster is False and s.unit:
            elsewhere = [e.batch for e in roster.by_unit.get(unit_key(s.unit), [])]
            unit = form.keys["unit"]
            s.findings.append(Finding(
                "M02", form.catalogue.severity("M02"), (unit,), (form.input_cell(unit).address,),
                form.catalogue.message("M02", "elsewhere" if elsewhere else None, unit=s.unit,
                                       batch=batch, batches="、".join(elsewhere),
                                       batch_label=form.column_header("batch"))))


def _duplicates(form: Form, batch: str, subs: list[Submission]) -> dict[int, Submission]:
    """M01: of a unit's files, the one taken by the stated rule; id(file not taken) -> taken."""
    groups: dict[str, list[Submission]] = {}
    for s in subs:
        if s.unit:
            groups.setdefault(unit_key(s.unit), []).append(s)
    not_taken: dict[int, Submission] = {}
    for group in groups.values():
        if len(group) < 2:
            continue
        taken = choose_file([s.result for s in group])
        chosen = next(s for s in group if s.result is taken)
        # By their labels, as 提交情况 lists them: two files of one name sent in two
        # folders are 邮件1/名称 and 邮件2/名称, not the same text twice.
        names = "、".join(f"“{s.label}”" for s in sorted(group, key=lambda s: s.label))
        words = dict(count=len(group), names=names, chosen=chosen.label, batch=batch)
        for s in group:
            if s is chosen:
                s.note = (s.note + form.catalogue.message("M01", "chosen_note", **words)).strip()
                continue
            not_taken[id(s)] = chosen
            s.status = ST_DUPLICATE
            s.note = (s.note + form.catalogue.message("M01", "other_note", **words)).strip()
            s.findings.append(Finding(
                "M01", form.catalogue.severity("M01"), (form.keys["unit"],), (),
                form.catalogue.message("M01", unit=s.unit, **words)))
    return not_taken


def _missing(form: Form, batch: str, subs: list[Submission], roster: RosterIndex) -> list[Submission]:
    """M03: the batch's roster units that sent nothing."""
    sent = {unit_key(s.unit) for s in subs if s.unit}
    variant = None if form.role("recommending") else "no_recommending"
    out = []
    for i, e in enumerate(roster.entries or []):
        if e.batch == batch and unit_key(e.unit) not in sent:
            sent.add(unit_key(e.unit))
            out.append(Submission(
                batch=batch, unit=e.unit, category=e.category,
                recommending=e.recommending or None, on_roster=True, status=ST_MISSING,
                result=None, roster_row=i, note="名单内单位，未收到文件。",
                findings=[Finding("M03", form.catalogue.severity("M03"), (), (),
                                  form.catalogue.message(
                                      "M03", variant, unit=e.unit, batch=batch,
                                      recommending_label=form.column_header("recommending")))]))
    return out


def merge_results(files: Sequence[FileResult], form: Form | None = None,
                  roster: Sequence[RosterEntry] | None = None,
                  received: Mapping[str, int] | None = None) -> MergeResult:
    """Group validated files by batch and unit, apply M01–M04, add up the accepted ones.

    ``received``: by a file's :attr:`FileResult.file`, how many files received it stands
    for (a round gives each unit's chosen version the count of its receipts); 1 for a file
    it does not name, so that 收到文件数 counts every file received, 采用的文件数 those judged."""
    form = form or load_form()
    config = merge_config(form)
    names = RosterIndex(roster)
    by_batch: dict[str, list[Submission]] = {}
    unplaced: list[Submission] = []
    files = list(files)
    for i, r in enumerate(files):
        # A file the merge cannot take is listed as 无法读取, never the end of the merge.
        s, files[i] = isolated(form, r, "merge_failed",
                               lambda r: _submission(form, _mergeable(form, r), names))
        if s is None:
            s = _submission(form, files[i], names)
        s.received = (received or {}).get(files[i].file, 1)
        if s.batch is None:
            unplaced.append(s)
        else:
            by_batch.setdefault(s.batch, []).append(s)

    batches: dict[str, BatchSummary] = {}
    present = set(by_batch) | {e.batch for e in names.entries or []}
    for batch in [b for b in form.batches if b in present]:
        subs = by_batch.get(batch, [])
        _off_roster(form, batch, subs, names)
        not_taken = _duplicates(form, batch, subs)
        candidates = [s for s in subs if id(s) not in not_taken]
        _outliers(form, config, [s for s in candidates if not s.result.failed])
        for s in candidates:
            s.status = _file_status(s)
            s.added = s.status in ADDED
            if not s.added:
                s.note = (s.note + (s.result.reason or _failed_note(s))).strip()
            elif s.status == ST_OFF_ROSTER:
                s.note = (s.note + "不在名单内，已计入汇总，请核实。").strip()
        for s in subs:
            s.note = s.note + s.placement
        entries = sorted(subs + _missing(form, batch, subs, names), key=lambda s: _entry_order(form, s))
        rows = sorted([s for s in subs if s.added], key=lambda s: _row_order(form, s))
        batches[batch] = BatchSummary(batch, rows, entries, _sums(form, rows), form)
    return MergeResult(form, files, batches, unplaced, names.entries)


def _mergeable(form: Form, r: FileResult) -> FileResult:
    """``r``, once its numbers are known to add up as the summaries add them (else it raises)."""
    for f in _numeric_fields(form):
        v = r.values.get(f.id)
        if v is not None and not (Decimal(v).is_finite() and abs(int(v)) < 2 ** 63):
            raise ValueError(f"{f.id} cannot be added up")
    return r


def _failed_note(s: Submission) -> str:
    return f"有 {s.errors} 项错误，未计入汇总；请按问题清单修改后重新提交。"


def _text_or_none(v: object) -> str | None:
    return v if isinstance(v, str) and v.strip() else None


_LAST = 10 ** 9


def _entry_order(form: Form, s: Submission) -> tuple:
    """Roster order; units off the roster after, by name; a unit's files by name."""
    return (s.roster_row if s.roster_row is not None else _LAST, s.unit or "\uffff", s.name)


def _row_order(form: Form, s: Submission) -> tuple:
    """The form's batch and category order, then the roster's (:func:`_entry_order`)."""
    return form.listing_key(s.batch, s.category, *_entry_order(form, s))


# -- tables -------------------------------------------------------------------------

# The columns of 提交情况 and 问题清单, key -> header. A role's column (None here) is
# headed as the form heads it (Form.column_header): see column_headers.
SUBMISSION_COLUMNS: dict[str, str | None] = {
    "batch": None, "category": None, "unit": None, "recommending": None,
    "on_roster": "是否在名单内", "file": "文件", "status": "状态", "errors": "错误数",
    "warnings": "警告数", "explained": "其中已说明", "date": None, "note": "说明",
}
FINDING_COLUMNS: dict[str, str | None] = {
    "batch": None, "unit": None, "file": "文件", "status": "状态",
    "code": "代码", "severity": "严重程度", "cells": "单元格", "fields": "字段", "message": "问题说明",
    "explanation": "审核说明",
}


def column_headers(form: Form, columns: dict[str, str | None]) -> dict[str, str]:
    """The columns with the form's headers for its roles (a role it lacks: its key)."""
    return {k: v if v is not None else (form.column_header(k) or k) for k, v in columns.items()}


def _has(form: Form, key: str) -> bool:
    """A column of a role the form lacks (no recommending unit, no fill date) is left out."""
    return key not in ("recommending", "date") or bool(form.role(key))


def _roster_cn(on: bool | None) -> str:
    return "" if on is None else ("是" if on else "否")


def _submission_records(entries: Sequence[Submission]) -> list[dict[str, Any]]:
    return [{
        "batch": s.batch or UNKNOWN_BATCH, "category": s.category or "",
        "unit": s.unit or "", "recommending": s.recommending or "",
        "on_roster": _roster_cn(s.on_roster), "file": s.label,
        "status": s.status,
        "errors": s.errors, "warnings": s.warnings, "explained": s.explained, "date": s.date,
        "note": s.note,
    } for s in entries]


def _finding_records(form: Form, entries: Sequence[Submission]) -> list[dict[str, Any]]:
    return [{
        "batch": s.batch or UNKNOWN_BATCH, "unit": s.unit or "",
        "file": s.label,
        "status": s.status, "code": f.code, "severity": form.catalogue.severity_word(f.severity),
        "cells": "、".join(f.cells),
        "fields": "、".join(field_title(form, i) for i in f.fields if i in form.by_id),
        "message": f.message, "explanation": f.explanation or "",
    } for s in entries for f in s.findings]


def _data_frame(form: Form, rows: Sequence[Submission]) -> pd.DataFrame:
    import pandas as pd
    columns: dict[str, Any] = {}
    for f in form.fields:
        values = [s.result.values.get(f.id) for s in rows]
        if f.type == "int":
            columns[f.id] = pd.array([None if v is None else int(v) for v in values], dtype="Int64")
        elif f.type == "amount":
            columns[f.id] = pd.Series([None if v is None else Decimal(v) for v in values],
                                      dtype=object)
        else:
            columns[f.id] = pd.Series(values, dtype=object)
    df = pd.DataFrame(columns)
    df.index = pd.Index([s.file for s in rows], name="file", dtype=object)
    return df


# -- writing ------------------------------------------------------------------------

def batch_file_stem(batch: str) -> str:
    return f"汇总-{batch}"


def output_key(form: Form, name: str) -> tuple:
    """A summary file's place in a listing: workbooks first, the overview first of them,
    then by the form's batch order (:meth:`Form.listing_key`), never the names' code order."""
    p = Path(name)
    batch = {batch_file_stem(b): b for b in form.batches}.get(p.stem)
    return (p.suffix != ".xlsx", p.stem != OVERVIEW_STEM, *form.listing_key(batch, None), name)


_width = text_width


def column_title(form: Form, f: Field) -> str:
    title = field_title(form, f.id)
    if f.unit and f.unit not in title:
        head = title.rstrip(")）")
        if head != title and "(" in head:
            # A label ending in a short form of its unit: say the unit in full.
            title = head[:head.rfind("(")] + f"({f.unit})"
        else:
            title += f"({f.unit})"
    return title


def _number(value: int | Decimal) -> float | int:
    return int(value) if isinstance(value, int) else float(value)


class _Formats(TableFormats):
    """The summaries' looks: the tables', and the sections' and totals'."""

    def __init__(self, wb):
        super().__init__(wb)
        mk = self.make
        # A section's name starts at its first column, so it shows on the page where it begins.
        self.section = mk(bold=True, align="left", border=1, bg_color="#D9E1F2")
        self.total_text = mk(border=1, bold=True, bg_color="#F2F2F2")
        self.total_int = mk(border=1, bold=True, bg_color="#F2F2F2", num_format="#,##0")
        self.total_amount = mk(border=1, bold=True, bg_color="#F2F2F2", num_format="#,##0.00")
        self.total_percent = mk(border=1, bold=True, bg_color="#F2F2F2", num_format="0.0%")
        # Last year's values: grey, as in the workbooks.
        self.prev_int = mk(border=1, num_format="#,##0", font_color="#595959", bg_color="#EDEDED")
        self.prev_amount = mk(border=1, num_format="#,##0.00", font_color="#595959",
                              bg_color="#EDEDED")
        self.note_line = mk(italic=True, font_color="#595959")

    def previous(self, f: Field):
        return self.prev_amount if f.type == "amount" else self.prev_int

    def for_field(self, f: Field):
        return {"int": self.int, "amount": self.amount, "date": self.date,
                "longtext": self.wrap}.get(f.type, self.text)


def _new_workbook(path: Path, form: Form, title: str) -> tuple[Any, _Formats]:
    wb = new_workbook(path, title, form.output_time)
    return wb, _Formats(wb)


def _section_row(ws, fmt: _Formats, fields: Sequence[Field], first_col: int, row: int = 1) -> None:
    """The upper header row: each section of the table over its fields' columns."""
    spans: list[tuple[str, int, int]] = []
    for i, f in enumerate(fields):
        if spans and spans[-1][0] == f.section:
            spans[-1] = (f.section, spans[-1][1], first_col + i)
        else:
            spans.append((f.section, first_col + i, first_col + i))
    for name, a, z in spans:
        if a == z:
            ws.write_string(row, a, name, fmt.section)
        else:
            ws.merge_range(row, a, row, z, name, fmt.section)


def _summary_sheet(wb, fmt: _Formats, form: Form, b: BatchSummary, title: str | None = None,
                   previous: Sequence[str] = ()) -> None:
    """汇总: one row per platform, a column per field; with ``previous`` (field ids) each
    of those fields is followed by last year's value and the growth on it."""
    ws = wb.add_worksheet("汇总")
    config = merge_config(form)
    label = form.previous.label
    # (field, what): "value" this year's, "prev" last year's, "growth" the change.
    columns: list[tuple[Field, str]] = []
    for f in form.fields:
        columns.append((f, "value"))
        if f.id in previous:
            columns += [(f, "prev"), (f, "growth")]
    extra = ["汇总状态", "文件"]
    ncols = 1 + len(columns) + len(extra)
    heading = title or config.say("summary_title", batch=b.batch, count=len(b.rows))
    # Two header rows: the table's section, then the label with its unit.
    ws.merge_range(1, 0, 2, 0, "序号", fmt.head)
    col = 1
    _section_row(ws, fmt, [f for f, _ in columns], col)
    titles = [column_title(form, f) if what == "value" else label if what == "prev"
              else config.say("growth") for f, what in columns]
    for i, t in enumerate(titles):
        ws.write_string(2, col + i, t, fmt.head)
    end = col + len(columns)
    for j, name in enumerate(extra):
        ws.merge_range(1, end + j, 2, end + j, name, fmt.head)

    widths = [4] + [0] * len(columns) + [_width(e) for e in extra]
    for r, s in enumerate(b.rows, start=3):
        ws.write_number(r, 0, r - 2, fmt.serial)
        lines = 1
        last_year = s.previous
        for i, (f, what) in enumerate(columns):
            c = col + i
            if what == "growth":
                _write_growth(ws, r, c, growth_rate(s.result.values.get(f.id), last_year.get(f.id)),
                              fmt.text, fmt.percent)
                widths[c] = max(widths[c], 7)
                continue
            v = s.result.values.get(f.id) if what == "value" else last_year.get(f.id)
            cf = fmt.for_field(f) if what == "value" else fmt.previous(f)
            if v is None:
                ws.write_blank(r, c, None, cf)
            elif f.type == "int":
                ws.write_number(r, c, int(v), cf)
            elif f.type == "amount":
                ws.write_number(r, c, float(Decimal(v)), cf)
            elif f.type == "date" and isinstance(v, dt.date):
                ws.write_datetime(r, c, dt.datetime.combine(v, dt.time()), cf)
                v = DATE_WIDTH_SAMPLE
            else:
                v = shown_value(f, v)
                ws.write_string(r, c, str(v), cf)
            w = _width(_show(v) if not isinstance(v, str) else v)
            if f.type == "longtext":
                lines = max(lines, min(6, math.ceil(w / 56)))
                w = min(w, 60)
            widths[c] = max(widths[c], w)
        ws.write_string(r, end, s.status, fmt.text)
        ws.write_string(r, end + 1, s.label, fmt.text)
        widths[-2] = max(widths[-2], _width(s.status))
        widths[-1] = max(widths[-1], _width(s.label))
        if lines > 1:
            ws.set_row(r, 14 * lines)
    total_row = 3 + len(b.rows)
    ws.write_string(total_row, 0, "合计", fmt.total_text)
    unit_col = col + next(i for i, (f, what) in enumerate(columns) if f.id == form.keys["unit"])
    for i, (f, what) in enumerate(columns):
        c = col + i
        if f.numeric and what in ("value", "prev"):
            total = b.totals[f.id] if what == "value" else _sums_previous(f, b.rows)
            ws.write_number(total_row, c, _number(total),
                            fmt.total_amount if f.type == "amount" else fmt.total_int)
            widths[c] = max(widths[c], _width(f"{_number(total):,.2f}"))
        elif what == "growth":
            now, then, _n = _like_for_like(f, b.rows)
            _write_growth(ws, total_row, c, growth_rate(now, then), fmt.total_text, fmt.total_percent)
        elif c == unit_col:
            ws.write_string(total_row, c, config.say("count_total", count=len(b.rows)), fmt.total_text)
        else:
            ws.write_blank(total_row, c, None, fmt.total_text)
    for j in range(len(extra)):
        ws.write_blank(total_row, end + j, None, fmt.total_text)
    # Columns sized to their text (CJK counts double); a long label wraps in the header.
    header_height = 1
    for i, (f, _what) in enumerate(columns):
        c = col + i
        cap = 60 if f.type == "longtext" else (40 if not f.numeric else 16)
        w = min(max(widths[c], min(_width(titles[i]), 12), 6) + 2, cap)
        ws.set_column(c, c, w)
        header_height = max(header_height, min(6, math.ceil(_width(titles[i]) / max(w - 1, 1))))
    ws.set_column(0, 0, 6)
    for j in range(len(extra)):
        ws.set_column(end + j, end + j, min(widths[-len(extra) + j] + 2, 60))
    ws.set_row(1, 18)
    ws.set_row(2, 14 * header_height + 4)
    ws.freeze_panes(3, unit_col + 1)
    ws.autofilter(2, 0, max(2, total_row - 1), ncols - 1)
    # A column per field does not read on paper (some 170 columns would print dozens of
    # pages, or at a few points): the paper copy is the main indicators' sheet, and the
    # full table prints only its title and, under it, a note saying so, across the
    # columns one page holds at full size (so the note prints at 10 pt). A page, not
    # none: printed as the active sheet, an empty print area is "nothing to print" in
    # Excel, and the clerk would not learn where the paper copy is.
    last = max(c for c in range(ncols) if c == 0 or printed_width(ws, 0, c) <= LANDSCAPE_PX)
    note = config.say("print_note", columns=ncols, print_sheet=config.say("print_sheet"))
    if last:
        ws.merge_range(0, 0, 0, last, "", fmt.note)
    ws.write_rich_string(0, 0, fmt.title, heading, fmt.note_line, "\n" + note, fmt.note)
    ws.set_row(0, 24 + row_points(1, 10))
    print_setup(ws)
    ws.print_area(0, 0, 0, last)
    ws.fit_to_pages(1, 1)


def _indicators_sheet(wb, fmt: _Formats, form: Form, b: BatchSummary,
                      title: str | None = None) -> None:
    """主要指标: the definition's ``print_fields`` per platform, with 序号 and the unit's
    name repeated on every page: the summary as it is read on paper (landscape, one page
    wide where that keeps the text at 8 pt or more)."""
    config = merge_config(form)
    if not config.print_fields:
        return
    ws = wb.add_worksheet(config.say("print_sheet"))
    unit = form.field(form.keys["unit"])
    fields = [form.field(i) for i in config.print_fields]
    ws.write_string(0, 0, title or config.say("print_title", batch=b.batch, count=len(b.rows)),
                    fmt.title)
    ws.set_row(0, 24)
    heads = ["序号", column_title(form, unit), *[column_title(form, f) for f in fields]]
    names = [str(s.result.values.get(unit.id) or "") for s in b.rows]
    name_width = min(max([text_width(n) for n in [heads[1], *names]]) + 2, 24)
    widths = [6, name_width, *[9] * len(fields)]
    # Broken here, not by the program showing them, to keep a unit such as “(场)” whole.
    heads = [broken(h, w, 10) for h, w in zip(heads, widths)]
    for c, (h, w) in enumerate(zip(heads, widths)):
        ws.write_string(1, c, h, fmt.head)
        ws.set_column(c, c, w)
    ws.set_row(1, row_points(max(text_lines(h, w, 10) for h, w in zip(heads, widths)), 10))
    for r, (s, name) in enumerate(zip(b.rows, names), start=2):
        ws.write_number(r, 0, r - 1, fmt.serial)
        ws.write_string(r, 1, name, fmt.wrap)
        lines = text_lines(name, name_width, 10)
        if lines > 1:
            ws.set_row(r, row_points(lines, 10))
        for c, f in enumerate(fields, start=2):
            v = s.result.values.get(f.id)
            cf = fmt.amount if f.type == "amount" else fmt.int
            if v is None:
                ws.write_blank(r, c, None, cf)
            else:
                ws.write_number(r, c, _number(Decimal(v) if f.type == "amount" else int(v)), cf)
    total_row = 2 + len(b.rows)
    ws.write_blank(total_row, 0, None, fmt.total_text)
    ws.write_string(total_row, 1, config.say("count_total", count=len(b.rows)), fmt.total_text)
    for c, f in enumerate(fields, start=2):
        ws.write_number(total_row, c, _number(b.totals[f.id]),
                        fmt.total_amount if f.type == "amount" else fmt.total_int)
    ws.freeze_panes(2, 2)
    print_setup(ws, repeat=(1, 1), fit_width=True, repeat_cols=(0, 1))
    ws.set_footer("&C第 &P 页，共 &N 页")
    ws.activate()


def _write_growth(ws, row: int, col: int, growth: float | None, text_fmt, percent_fmt) -> None:
    if growth is None:
        ws.write_string(row, col, "—", text_fmt)
    else:
        ws.write_number(row, col, growth, percent_fmt)


def growth_rate(now: object, then: object) -> float | None:
    """(now - then) / then, None when either is missing or last year's is 0."""
    if now is None or then is None or Decimal(then) == 0:
        return None
    return float((Decimal(now) - Decimal(then)) / Decimal(then))


def _sums_previous(f: Field, rows: Sequence[Submission]) -> int | Decimal:
    return _sum(f, (s.previous.get(f.id) for s in rows))


def _like_for_like(f: Field, rows: Sequence[Submission]) -> tuple[int | Decimal, int | Decimal, int]:
    """This year's and last year's sums over the platforms with both values, and how many."""
    both = [(s.result.values.get(f.id), s.previous.get(f.id)) for s in rows]
    both = [(v, p) for v, p in both if v is not None and p is not None]
    return _sum(f, (v for v, _ in both)), _sum(f, (p for _, p in both)), len(both)


def _category_sheet(wb, fmt: _Formats, form: Form, b: BatchSummary, config: MergeConfig) -> dict[str, int]:
    """分类统计; returns the row of each numeric field (and ``platforms``) for the charts."""
    category = form.role_field("category")
    totals = b.category_totals()
    columns = {cat if cat == ALL_CATEGORIES else category.shown(cat): totals[cat]
               for cat in [*form.categories, ALL_CATEGORIES]}
    return _totals_sheet(wb, fmt, form, config, "分类统计",
                         config.say("categories_title", batch=b.batch), columns)


# The height of a row of 分类统计 (10 pt text), in points.
_TOTALS_ROW = 12


def _totals_sheet(wb, fmt: _Formats, form: Form, config: MergeConfig, name: str, title: str,
                  columns: dict[str, dict[str, int | Decimal]]) -> dict[str, int]:
    """A sheet of every numeric field's sum (a row each) per column of ``columns`` (its
    header: the platform count under ``"platforms"`` and the sums by field id), and the
    shares; returns the row of each field (and ``platforms``). Few columns, so it prints
    one page wide at 10 pt with its header on every page: the sums as read on paper."""
    ws = wb.add_worksheet(name)
    ws.write_string(0, 0, title, fmt.title)
    ws.set_row(0, 24)
    headers = ["部分", "指标", "单位", *columns]
    for c, h in enumerate(headers):
        ws.write_string(1, c, h, fmt.head)
    sums = list(columns.values())
    where: dict[str, int] = {}
    r = 2
    ws.write_string(r, 0, "", fmt.text)
    ws.write_string(r, 1, config.say("count_heading"), fmt.text)
    ws.write_string(r, 2, "个", fmt.text)
    for j, t in enumerate(sums):
        ws.write_number(r, 3 + j, t["platforms"], fmt.int)
    where["platforms"] = r
    for f in _numeric_fields(form):
        r += 1
        where[f.id] = r
        ws.write_string(r, 0, f.section, fmt.text)
        ws.write_string(r, 1, field_title(form, f.id), fmt.text)
        ws.write_string(r, 2, f.unit, fmt.text)
        cf = fmt.amount if f.type == "amount" else fmt.int
        for j, t in enumerate(sums):
            ws.write_number(r, 3 + j, _number(t[f.id]), cf)
    for share in config.shares:
        r += 1
        ws.write_string(r, 0, "比例", fmt.text)
        ws.write_string(r, 1, share.title, fmt.text)
        ws.write_string(r, 2, "%", fmt.text)
        for j, t in enumerate(sums):
            part, whole = t[share.part], t[share.whole]
            if whole:
                ws.write_number(r, 3 + j, float(Decimal(part) / Decimal(whole)), fmt.percent)
            else:
                ws.write_string(r, 3 + j, "—", fmt.text)
    ws.set_column(0, 0, 18)
    ws.set_column(1, 1, 44)
    ws.set_column(2, 2, 6)
    ws.set_column(3, 3 + len(sums) - 1, 16)
    ws.freeze_panes(2, 3)
    last = r
    money = sorted({f.unit for f in _numeric_fields(form) if f.type == "amount" and f.unit})
    ws.write_string(last + 2, 0, "比例 = 部分之和 ÷ 总数之和；总数为 0 时显示“—”。"
                    + (f"金额单位为{'、'.join(money)}。" if money else ""))
    # Some fifty rows, a few more than a landscape page holds at 100 %: on one page. Its
    # rows of one line as tall in every program (left unset, Excel makes them 14 pt and
    # LibreOffice 11.5), its margins narrower, it fits at 8 pt or more.
    head_lines = max(text_lines(h, w, 10) for h, w in zip(headers, [18, 44, 6, *[16] * len(sums)]))
    ws.set_row(1, row_points(head_lines, 10))
    for row in range(2, last + 3):
        ws.set_row(row, _TOTALS_ROW)
    ws.set_margins(top=0.5, bottom=0.5)
    print_setup(ws, repeat=(1, 1), fit_width=True, fit_height=True)
    return where


def _chart_sheet(wb, fmt: _Formats, form: Form, b: BatchSummary, config: MergeConfig,
                 where: dict[str, int], previous: bool = False) -> None:
    ws = wb.add_worksheet("图表")
    ws.write_string(0, 0, config.say("charts_title", batch=b.batch), fmt.title)
    ncat = len(form.categories)
    for k, spec in enumerate(config.charts):
        chart = wb.add_chart({"type": "column"})
        for fid in spec.fields:
            row = where[fid]
            chart.add_series({
                "name": field_title(form, fid),
                "categories": ["分类统计", 1, 3, 1, 3 + ncat - 1],
                "values": ["分类统计", row, 3, row, 3 + ncat - 1],
                "data_labels": {"value": True},
            })
        units = {form.field(fid).unit for fid in spec.fields}
        chart.set_title({"name": spec.title, "name_font": {"name": "宋体", "size": 12}})
        counts = any(form.field(i).type == "int" for i in spec.fields)
        y_axis: dict[str, Any] = {"num_format": "#,##0" if counts else "#,##0.00",
                                  "major_gridlines": {"visible": True}}
        if len(units) == 1 and "" not in units:
            y_axis["name"] = units.pop()
        chart.set_y_axis(y_axis)
        chart.set_legend({"position": "bottom"})
        chart.set_size({"width": 560, "height": 320})
        ws.insert_chart(2 + (k // 2) * 17, (k % 2) * 9, chart)
    print_setup(ws, fit_width=True)
    ws.fit_to_pages(1, 1)
    if previous and config.previous_charts:
        _previous_sheet(wb, fmt, form, b, config)


def _previous_sheet(wb, fmt: _Formats, form: Form, b: BatchSummary, config: MergeConfig) -> None:
    """与上年对比: the main indicators against last year, a table (本年, 上年, 增长, 平台数)
    with a block of rows per ``previous_charts`` entry, and a column chart drawn from each
    block. Both years are summed over the platforms with a value in each (the same ones)."""
    label = form.previous.label
    ws = wb.add_worksheet(config.say("previous_sheet", previous_label=label))
    top = 0
    ws.write_string(top, 0, config.say("previous_title", batch=b.batch), fmt.title)
    ws.set_row(top, 24)
    heads = ["指标", "单位", "本年", label, config.say("growth"), config.say("count_heading")]
    for c, h in enumerate(heads):
        ws.write_string(top + 1, c, h, fmt.head)
    r = top + 2
    blocks: list[tuple[int, int]] = []
    for spec in config.previous_charts:
        first = r
        for fid in spec.fields:
            f = form.field(fid)
            now, then, n = _like_for_like(f, b.rows)
            cf = fmt.amount if f.type == "amount" else fmt.int
            ws.write_string(r, 0, field_title(form, fid), fmt.text)
            ws.write_string(r, 1, f.unit, fmt.text)
            ws.write_number(r, 2, _number(now), cf)
            ws.write_number(r, 3, _number(then), cf)
            _write_growth(ws, r, 4, growth_rate(now, then) if n else None, fmt.text, fmt.percent)
            ws.write_number(r, 5, n, fmt.int)
            r += 1
        blocks.append((first, r - 1))
    ws.set_column(0, 0, 44)
    ws.set_column(1, 5, 12)
    # Horizontal bars: the indicators' long names read along the axis.
    at = r + 1
    for spec, (first, last) in zip(config.previous_charts, blocks):
        chart = wb.add_chart({"type": "bar"})
        for col, name in ((3, label), (2, "本年")):
            chart.add_series({"name": name, "categories": [ws.name, first, 0, last, 0],
                              "values": [ws.name, first, col, last, col],
                              "data_labels": {"value": True}})
        chart.set_title({"name": spec.title, "name_font": {"name": "宋体", "size": 12}})
        counts = all(form.field(i).type == "int" for i in spec.fields)
        chart.set_x_axis({"num_format": "#,##0" if counts else "#,##0.00",
                          "major_gridlines": {"visible": True}})
        chart.set_y_axis({"reverse": True})
        chart.set_legend({"position": "bottom"})
        height = 120 + 60 * (last - first + 1)
        chart.set_size({"width": 760, "height": height})
        ws.insert_chart(at, 0, chart)
        at += math.ceil(height / 20) + 1
    print_setup(ws, fit_width=True)
    ws.fit_to_pages(1, 1)


def _submissions_sheet(wb, fmt: _Formats, form: Form, entries: Sequence[Submission], title: str,
                       with_batch: bool) -> None:
    ws = wb.add_worksheet("提交情况")
    ws.write_string(0, 0, title, fmt.title)
    rule = form.catalogue.message("M01", "rule", date_label=form.column_header("date") or "日期")
    left_out = [st for st in STATUSES if st not in ADDED and st != ST_MISSING]
    ws.merge_range(1, 0, 1, 8, f"状态：{'、'.join(ADDED)}的文件计入汇总（{ST_OFF_ROSTER}的单位请核实）；"
                   f"{'、'.join(left_out)}的文件不计入；{ST_MISSING}：{status_meaning('missing')}。" + rule,
                   fmt.note)
    ws.set_row(1, 48)
    headers = column_headers(form, SUBMISSION_COLUMNS)
    cols = [k for k in SUBMISSION_COLUMNS if (with_batch or k != "batch") and _has(form, k)]
    records = _submission_records(entries)
    category = form.role_field("category")
    rows = [[i + 1, *[shown_value(category, rec[k]) if k == "category" else rec[k] for k in cols]]
            for i, rec in enumerate(records)]
    formats = [fmt.serial] + [fmt.int if k in ("errors", "warnings", "explained")
                           else fmt.wrap if k == "note" else fmt.text for k in cols]
    # 说明 gets the room and is broken here, as 问题清单's messages are.
    _text_table(ws, fmt, 2, ["序号", *[headers[k] for k in cols]], rows, 1 + cols.index("note"),
                formats)
    print_setup(ws, repeat=(2, 2), fit_width=True)


def _text_table(ws, fmt: _Formats, top: int, heads: list[str], rows: list[list], text: int,
                formats: list) -> None:
    """A table of texts one page wide: the short columns as narrow as their texts allow,
    column ``text`` the page's room and its texts broken here (a spreadsheet program starts
    lines with 」 or 。, or splits 统计表!C18), the other texts (names, codes, the filler's own
    words) kept whole, wrapping in their cells."""
    widths = text_table_widths([[h, *(_cell_text(r[j]) for r in rows)] for j, h in enumerate(heads)],
                               text, TABLE_SIZE)
    rows = [[broken(v, widths[j], TABLE_SIZE) if j == text and isinstance(v, str) else v
             for j, v in enumerate(r)] for r in rows]
    write_table(ws, fmt, top, heads, rows, 40, formats, wrap={j: w for j, w in enumerate(widths) if j})


def _cell_text(v: object) -> str:
    return DATE_WIDTH_SAMPLE if isinstance(v, dt.date) else str(v if v is not None else "")


def _findings_sheet(wb, fmt: _Formats, form: Form, entries: Sequence[Submission], with_batch: bool) -> None:
    ws = wb.add_worksheet("问题清单")
    headers = column_headers(form, FINDING_COLUMNS)
    cols = [k for k in FINDING_COLUMNS if with_batch or k != "batch"]
    records = _finding_records(form, entries)
    # The code as the other reports show it: R01 as is, a field-level code in Chinese.
    rows = [[i + 1, *[form.catalogue.title(rec[k]) if k == "code" else rec[k] for k in cols]]
            for i, rec in enumerate(records)]
    heads = ["序号", *[headers[k] for k in cols]]
    ws.write_string(0, 0, f"问题清单（共 {len(rows)} 条）", fmt.title)
    _text_table(ws, fmt, 1, heads, rows, 1 + cols.index("message"), [fmt.serial] + [fmt.wrap] * len(cols))
    print_setup(ws, repeat=(1, 1), fit_width=True)


def _write_batch(path: Path, result: MergeResult, b: BatchSummary) -> None:
    form = result.form
    config = merge_config(form)
    wb, fmt = _new_workbook(path, form, f"{b.batch}汇总")
    _summary_sheet(wb, fmt, form, b, previous=result.previous_fields)
    _indicators_sheet(wb, fmt, form, b)
    where = _category_sheet(wb, fmt, form, b, config)
    _submissions_sheet(wb, fmt, form, b.entries, f"{b.batch} 提交情况", with_batch=False)
    _findings_sheet(wb, fmt, form, b.entries, with_batch=False)
    _chart_sheet(wb, fmt, form, b, config, where, previous=result.previous is not None)
    close_workbook(wb)


def recommending_file_stem(name: str) -> str:
    """A recommending unit's name as a file name: the characters no file name may hold
    (and control characters) made "_", no leading or trailing dots or spaces, at most
    150 bytes."""
    text = "".join("_" if ch in UNSAFE_CHARS or ord(ch) < 32 or ch == "\x7f" else ch for ch in name)
    text = text.strip(" .\u3000") or "_"
    while len(text.encode("utf-8")) > 150:
        text = text[:-1]
    if text.split(".")[0].upper() in _RESERVED:
        text = "_" + text
    return text


# Names Windows keeps for devices, whatever the extension.
_RESERVED = frozenset({"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)),
                       *(f"LPT{i}" for i in range(1, 10))})


def _recommending_paths(groups: Iterable[str]) -> dict[str, str]:
    """Each recommending unit's file stem, made distinct (…（2）) where two names give one."""
    used: set[str] = set()
    return {name: distinct_name(recommending_file_stem(name), used) for name in groups}


def _write_recommending(path: Path, result: MergeResult, name: str, rows: list[Submission]) -> None:
    """One recommending unit's workbook: its platforms added up (all batches), who sent
    what (including who has not returned), and every finding with its explanation."""
    form = result.form
    config = merge_config(form)
    added = sorted([s for s in rows if s.added], key=lambda s: _row_order(form, s))
    summary = BatchSummary(name, added, rows, _sums(form, added), form)
    wb, fmt = _new_workbook(path, form, f"{name}汇总")
    _summary_sheet(wb, fmt, form, summary,
                   title=config.say("recommending_title", recommending=name, count=len(added)),
                   previous=result.previous_fields)
    _indicators_sheet(wb, fmt, form, summary,
                      title=config.say("recommending_title", recommending=name, count=len(added)))
    _submissions_sheet(wb, fmt, form, rows, f"{name} 提交情况", with_batch=True)
    _findings_sheet(wb, fmt, form, rows, with_batch=True)
    close_workbook(wb)


def _csv_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _write_csv(path: Path, form: Form, b: BatchSummary, previous: Sequence[str] = ()) -> None:
    """One row per platform added up: a column per field id, then last year's value of
    the ``previous`` fields as prev_<id>. For programs: a choice as stored (one of
    the field's choices, as the form definition and validate --json give it, and as
    --previous reads it back), not as shown."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow([f.id for f in form.fields] + [PREVIOUS_PREFIX + i for i in previous])
    for s in b.rows:
        w.writerow([_csv_text(s.result.values.get(f.id)) for f in form.fields]
                   + [_csv_text(s.previous.get(i)) for i in previous])
    path.write_bytes(b"\xef\xbb\xbf" + buf.getvalue().encode("utf-8"))


def _write_overview(path: Path, result: MergeResult,
                    groups: dict[str, list[Submission]] | None = None,
                    stems: dict[str, str] | None = None) -> None:
    form = result.form
    wb, fmt = _new_workbook(path, form, "汇总总览")
    ws = wb.add_worksheet("总览")
    config = merge_config(form)
    ws.write_string(0, 0, config.say("overview_title"), fmt.title)
    ws.set_row(0, 24)
    counts = ["名单内单位数", config.say("received_heading"), config.say("used_heading"),
              config.say("added_heading"), *[st for st in STATUSES]]
    numeric = _numeric_fields(form)
    heads = [form.column_header("batch"), *counts, *[column_title(form, f) for f in numeric]]
    ws.write_string(1, 0, "", fmt.head)
    ws.merge_range(1, 1, 1, len(counts), "提交与汇总情况（个）", fmt.head)
    first = len(counts) + 1
    _section_row(ws, fmt, numeric, first)
    for c, h in enumerate(heads):
        ws.write_string(2, c, h, fmt.head)
    roster_n: dict[str, int] = {}
    for e in result.roster or []:
        roster_n[e.batch] = roster_n.get(e.batch, 0) + 1
    r = 3
    grand = {f.id: (Decimal(0) if f.type == "amount" else 0) for f in numeric}
    grand_counts = [0] * len(counts)
    for batch, b in result.batches.items():
        row_counts = [roster_n.get(batch, 0) if result.roster is not None else None,
                      *_file_counts(b.entries), len(b.rows), *[b.count(st) for st in STATUSES]]
        ws.write_string(r, 0, batch, fmt.text)
        for j, v in enumerate(row_counts):
            if v is None:
                ws.write_string(r, 1 + j, "—", fmt.text)
            else:
                ws.write_number(r, 1 + j, v, fmt.int)
                grand_counts[j] += v
        for i, f in enumerate(numeric):
            ws.write_number(r, first + i, _number(b.totals[f.id]),
                            fmt.amount if f.type == "amount" else fmt.int)
            grand[f.id] += b.totals[f.id]
        r += 1
    if result.unplaced:
        # Files whose batch cannot be told: counted, listed in 提交情况, never added.
        ws.write_string(r, 0, UNKNOWN_BATCH, fmt.text)
        row_counts = [0, *_file_counts(result.unplaced), 0,
                      *[sum(1 for s in result.unplaced if s.status == st) for st in STATUSES]]
        for j, v in enumerate(row_counts):
            if j == 0:
                continue
            ws.write_number(r, 1 + j, v, fmt.int)
            grand_counts[j] += v
        r += 1
    ws.write_string(r, 0, config.say("grand_total"), fmt.total_text)
    for j, v in enumerate(grand_counts):
        if j == 0 and result.roster is None:
            ws.write_string(r, 1 + j, "—", fmt.total_text)
        else:
            ws.write_number(r, 1 + j, v, fmt.total_int)
    for i, f in enumerate(numeric):
        ws.write_number(r, first + i, _number(grand[f.id]),
                        fmt.total_amount if f.type == "amount" else fmt.total_int)
    ws.set_column(0, 0, 14)
    ws.set_column(1, len(counts), 9)
    ws.set_column(first, first + len(numeric) - 1, 14)
    ws.set_row(2, 60)
    ws.freeze_panes(3, 1)
    # A column per field prints a page or more for each few fields, with the batches'
    # names alone repeated: on paper the sheet is its counts, and the sums are a row per
    # field in the next sheet, a column per batch.
    batches_sheet = config.say("batches_sheet")
    note_row = r + 2
    ws.merge_range(note_row, 0, note_row, len(counts),
                   config.say("overview_note", batches_sheet=batches_sheet), fmt.note)
    ws.set_row(note_row, row_points(2, 10))
    print_setup(ws, repeat=(1, 2))
    ws.print_area(0, 0, note_row, len(counts))
    ws.fit_to_pages(1, 0)
    columns = {batch: {"platforms": len(b.rows), **b.totals} for batch, b in result.batches.items()}
    added = sum(len(b.rows) for b in result.batches.values())
    columns[config.say("grand_total")] = {"platforms": added, **grand}
    _totals_sheet(wb, fmt, form, config, batches_sheet,
                  config.say("batches_title", unit_word=config.say("unit_word")), columns)
    if groups:
        _recommending_sheet(wb, fmt, form, groups, stems or {})
    everything = result.submissions
    _submissions_sheet(wb, fmt, form, everything, "全部文件和名单单位的提交情况", with_batch=True)
    _findings_sheet(wb, fmt, form, everything, with_batch=True)
    close_workbook(wb)


def _file_counts(entries: Sequence[Submission]) -> tuple[int, int]:
    """(files received, files judged): every file and what it stands for; all but a unit's
    files not taken (重复)."""
    files = [s for s in entries if s.result is not None]
    return sum(s.received for s in files), sum(1 for s in files if s.status != ST_DUPLICATE)


def _recommending_sheet(wb, fmt: _Formats, form: Form, groups: dict[str, list[Submission]],
                        stems: dict[str, str]) -> None:
    """Per recommending unit: its roster units, files, platforms added, each status, and
    the name of its own workbook."""
    config = merge_config(form)
    ws = wb.add_worksheet(recommending_words(form, "recommending_sheet"))
    ws.write_string(0, 0, recommending_words(form, "recommending_overview_title"), fmt.title)
    ws.set_row(0, 24)
    heads = [form.column_header("recommending"), "名单内单位数", config.say("received_heading"),
             config.say("used_heading"), config.say("added_heading"), *STATUSES, "工作簿"]
    rows = []
    for name, subs in groups.items():
        rows.append([name, len({(s.batch, unit_key(s.unit)) for s in subs if s.on_roster}),
                     *_file_counts(subs), sum(1 for s in subs if s.added),
                     *[sum(1 for s in subs if s.status == st) for st in STATUSES],
                     f"{recommending_folder(form)}/{stems.get(name, name)}.xlsx"])
    total = [config.say("grand_total"), *[sum(r[j] for r in rows) for j in range(1, len(heads) - 1)], ""]
    formats = [fmt.text] + [fmt.int] * (len(heads) - 2) + [fmt.text]
    end = write_table(ws, fmt, 1, heads, rows, 50, formats)
    for j, v in enumerate(total):
        if isinstance(v, int):
            ws.write_number(end, j, v, fmt.total_int)
        else:
            ws.write_string(end, j, v, fmt.total_text)
    print_setup(ws, repeat=(1, 1), fit_width=True)


def write_outputs(result: MergeResult, out_dir: str | Path) -> list[Path]:
    """Write every batch's summary (.xlsx and .csv) and the overview; return the paths.

    All or none: when any cannot be written, none replaces what was there and
    :class:`~xlsx_tools.writing.CannotWrite` names ``out_dir``.
    """
    files: dict[str, Callable[[Path], None]] = {}
    for batch, b in result.batches.items():
        stem = batch_file_stem(batch)
        files[f"{stem}.xlsx"] = lambda p, b=b: _write_batch(p, result, b)
        files[f"{stem}.csv"] = lambda p, b=b: _write_csv(p, result.form, b, result.previous_fields)
    groups = result.by_recommending()
    stems = _recommending_paths(groups)
    files[f"{OVERVIEW_STEM}.xlsx"] = lambda p: _write_overview(p, result, groups, stems)
    folder = recommending_folder(result.form)
    for name, rows in groups.items():
        files[f"{folder}/{stems[name]}.xlsx"] = lambda p, name=name, rows=rows: _write_recommending(
            p, result, name, rows)
    written = write_files(out_dir, files, what="汇总文件夹")
    result.outputs = written
    return written
