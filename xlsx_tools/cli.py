"""The `xlsx-tools` command: thin click wrappers over the library.

Every command takes ``--form`` (:func:`~xlsx_tools.cli_form.form_option`,
:func:`~xlsx_tools.cli_form.form_from_option`): the form definition the round uses,
the shipped one by default. A command added in another module does the same.
"""

from __future__ import annotations

from pathlib import Path

import click

from . import __version__
from .cli_form import form_from_option, form_option
from .cli_round import register
from .cli_words import NO_FILES, VERSION_WORDS, Group, a_file, fail_to_write, found, in_the_way


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]},
             options_metavar="[选项]", subcommand_metavar="命令 [参数]...")
@click.version_option(__version__, prog_name="xlsx-tools", **VERSION_WORDS)
def main() -> None:
    """统计表的 Excel 工作簿：生成、校验、汇总。

    表单由表单定义（.toml）规定，各命令用 --form 指定；不指定时使用随工具提供的表单定义。
    """


# --- last round ----------------------------------------------------------------

def previous_option(f):
    """--previous 上一轮汇总结果: last round's merge output, for every command that compares."""
    return click.option(
        "--previous", "previous_dir", type=click.Path(path_type=Path), metavar="上一轮汇总结果",
        default=None,
        help="上一轮 xlsx-tools merge 写出汇总的文件夹（它的 --out，其中有各批次的 .csv）："
             "按单位名称找到各单位的上年数值，与本年对比；名单中有“上年单位名称”列时也按它查找。")(f)


def check_previous_dir(previous_dir: Path | None) -> None:
    if previous_dir is not None and (not found(previous_dir) or in_the_way(previous_dir)):
        _usage_error(f"找不到上一轮的汇总结果文件夹“{previous_dir}”。")


def read_previous_or_exit(previous_dir: Path | None, form, entries=None):
    """Last round's values (None without --previous); one Chinese sentence and exit 1
    for a folder that is not a merge output."""
    from .previous import PreviousError, last_round

    try:
        return last_round(previous_dir, form, entries or [])
    except PreviousError as e:
        click.echo(str(e), err=True)
        raise SystemExit(1) from None


# --- generate ---------------------------------------------------------------


@main.command("generate", options_metavar="[选项]")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), metavar="文件夹",
              help="把工作簿写入此文件夹（不存在则新建）。必须给出。")
@click.option("--roster", "roster_path", type=click.Path(dir_okay=False, path_type=Path),
              metavar="名单.csv",
              help="名单文件（CSV 或 .xlsx，须有表单定义的 [roster] 规定的列）；"
                   "给出时为每个单位生成一份预填的工作簿。")
@click.option("--password", default=None, metavar="密码",
              help="工作表保护密码（默认为表单定义中的密码）。")
@previous_option
@form_option
def generate_command(out_dir: Path, roster_path: Path | None, password: str | None,
                     previous_dir: Path | None, form_path: Path | None) -> None:
    """生成统计表工作簿：不给名单时生成空白表，给出名单时为每个单位生成预填的表。

    给出 --previous 时，每个在上一轮汇总结果中找到的单位，其统计表在每个数字项旁显示上年数值。
    出错时在标准错误输出中文说明，退出码为 1（用法错误为 2）。
    """
    from .roster import RosterError, read_roster
    from .write import GenerateError, generate_blank, generate_from_roster
    from .writing import CannotWrite

    if out_dir is None:
        _generate_fail("请用 --out 指定保存工作簿的文件夹，例如：xlsx-tools generate --out 统计表", 2)
    if in_the_way(out_dir):
        _generate_fail(f"“{out_dir}”是一个文件，请用 --out 指定一个文件夹。", 2)
    if previous_dir is not None and roster_path is None:
        _generate_fail("--previous 须与 --roster 一起使用：上年数值按名单中的单位填入预填的统计表。", 2)
    check_previous_dir(previous_dir)
    form = form_from_option(form_path)
    with_last_year = None
    try:
        if roster_path is None:
            path = generate_blank(out_dir, form, password=password)
            click.echo(f"已生成空白统计表：{path}")
            return
        previous = None
        if previous_dir is not None:
            entries = read_roster(roster_path, form)
            previous = read_previous_or_exit(previous_dir, form, entries)
            with_last_year = [e.unit for e in entries if previous.values_for(e.unit) is not None]
            missing = [e.unit for e in entries if previous.values_for(e.unit) is None]
        paths = generate_from_roster(roster_path, out_dir, form, password=password, previous=previous)
    except RosterError as e:
        _generate_fail(str(e))
    except CannotWrite as e:
        fail_to_write(e, out_dir, "统计表文件夹")
    except GenerateError as e:
        _generate_fail(str(e))
    for p in paths:
        click.echo(f"已生成：{p}")
    click.echo(f"共按名单生成 {len(paths)} 个预填统计表，保存在：{out_dir}")
    if with_last_year is not None:
        click.echo(f"其中 {len(with_last_year)} 个单位在上一轮汇总结果中找到，统计表中显示了上年数值；"
                   f"{len(missing)} 个没有找到" + (f"：{'、'.join(missing)}" if missing else "。"))


def _generate_fail(message: str, code: int = 1) -> None:
    click.echo(message, err=True)
    raise SystemExit(code)


# --- validate ---------------------------------------------------------------

def _say_findings(form, result) -> None:
    words = form.catalogue
    for f in result.findings:
        click.echo(f"    [{words.severity_word(f.severity)}] {f.where}  {words.title(f.code)}  {f.message}")
        if f.explanation:
            click.echo(f"        {words.phrase('explanation')}：{f.explanation}")


@main.command("validate", options_metavar="[选项]")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path), metavar="文件或文件夹...")
@click.option("-v", "--verbose", is_flag=True, help="逐条列出每个文件的问题。")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path),
              metavar="结果.json", help="把全部结果（含各项数值）写入此 JSON 文件。")
@click.option("--report", "report_path", type=click.Path(dir_okay=False, path_type=Path),
              metavar="问题清单.xlsx", help="把问题清单写入此 Excel 文件（.xlsx），可筛选。")
@click.option("--annotate", "annotate_dir", type=click.Path(file_okay=False, path_type=Path),
              metavar="文件夹", help="为有问题的工作簿在此文件夹生成标注副本（原文件不改动）。")
@click.option("--jobs", type=int, default=None, metavar="进程数",
              help="同时校验的进程数（默认为 CPU 核数）。")
@previous_option
@click.option("--roster", "roster_path", type=click.Path(dir_okay=False, path_type=Path),
              metavar="名单.csv", default=None,
              help="与 --previous 一起使用：按名单中的“上年单位名称”查找改了名的单位的上年数值。")
@form_option
def validate_command(paths, verbose, json_path, report_path, annotate_dir, jobs, previous_dir,
                     roster_path, form_path) -> None:
    """校验填好的统计表（文件或文件夹），列出每个文件的问题。

    文件夹中的每个文件都列出（隐藏文件和 Office 的临时文件除外），不是统计表的文件为“无法读取”并说明原因。
    警告都已由填报单位写明审核说明的文件，结论为“已说明”。给出 --previous 时，与上年相比的检查
    用上一轮汇总结果中的数值（而不是表中的上年单元格）。
    有文件“不通过”或“无法读取”、或输出文件无法写入时退出码为 1，全部无错误为 0，
    用法错误（包括没有找到任何文件）为 2。
    """
    from .annotate import AnnotateWriteError, annotate_workbooks
    from .report import write_json, write_report_xlsx
    from .validate import validate_paths
    from .writing import CannotWrite

    if not paths:
        _usage_error("请给出要校验的文件或文件夹，例如：xlsx-tools validate 回收文件夹")
    for p in paths:
        if not found(p):
            _usage_error(f"找不到“{p}”，请检查文件或文件夹的路径。")
    if jobs is not None and jobs < 1:
        _usage_error(f"--jobs 须为 1 或更大的整数，而不是 {jobs}。")
    if report_path is not None and report_path.suffix.lower() != ".xlsx":
        _usage_error(f"问题清单须保存为 .xlsx 文件，而不是“{report_path.name}”。")
    if roster_path is not None and previous_dir is None:
        _usage_error("--roster 只与 --previous 一起使用（按名单中的上年单位名称查找上年数值）。")
    if roster_path is not None and not a_file(roster_path):
        _usage_error(f"找不到名单文件“{roster_path}”。")
    check_previous_dir(previous_dir)
    form = form_from_option(form_path)
    entries = _roster_or_exit(roster_path, form) if roster_path is not None else None
    previous = read_previous_or_exit(previous_dir, form, entries)
    run = validate_paths(paths, form, jobs=jobs, previous=previous)
    if not run.files:
        _usage_error(NO_FILES)

    # Annotated copies first: a file that cannot be annotated becomes 无法读取, and the
    # console and the reports then all say so.
    outcome = unwritable = None
    try:
        if annotate_dir is not None:
            outcome = annotate_workbooks(run, annotate_dir)
    except AnnotateWriteError as e:   # the same for every copy: said once, last, after the reports
        unwritable = e
    for r in run.listed():
        if not r.readable:
            click.echo(f"{r.verdict}  {r.file}  {r.reason}")
        else:
            explained = f"（已说明 {r.explained} 项）" if r.explained else ""
            click.echo(f"{r.verdict}  错误 {r.errors} 项，警告 {r.warnings} 项{explained}  {r.file}")
        if verbose and r.readable:
            _say_findings(form, r)
    c = run.counts()
    click.echo(f"共 {len(run.files)} 个文件：" + "，".join(f"{word} {n}" for word, n in c.items()))

    # Each output that cannot be written is one sentence; the others are still written.
    failures: list[CannotWrite] = []
    for path, write, done in ((json_path, write_json, "结果已写入"),
                              (report_path, write_report_xlsx, "问题清单已写入")):
        if path is not None:
            try:
                click.echo(f"{done} {write(run, path)}")
            except CannotWrite as e:
                failures.append(e)
    if outcome is not None:
        click.echo(f"已在 {annotate_dir} 生成 {len(outcome.written)} 份标注副本")
        for file, why in outcome.skipped:
            click.echo(f"    未生成标注副本：{file}（{why}）")
    if unwritable is not None:
        failures.append(unwritable)
    for e in failures[:-1]:
        click.echo(str(e), err=True)
    if failures:
        fail_to_write(failures[-1])
    raise SystemExit(run.exit_code)


def _usage_error(message: str) -> None:
    click.echo(message, err=True)
    raise SystemExit(2)


def _roster_or_exit(roster_path: Path, form):
    from .roster import RosterError, read_roster

    try:
        return read_roster(roster_path, form)
    except RosterError as e:
        click.echo(str(e), err=True)
        raise SystemExit(1) from None


# --- merge ------------------------------------------------------------------

# Lines per batch listing files not added (the full list is in 提交情况).
_MERGE_LINES = 20


def _progress_wanted() -> bool:
    """A bar only for a person at a terminal: not in CI, not when stderr is redirected."""
    import os
    import sys
    return sys.stderr.isatty() and os.environ.get("CI", "").lower() not in ("1", "true", "yes")


@main.command("merge", options_metavar="[选项]")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path), metavar="文件或文件夹...")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), metavar="文件夹",
              help="汇总文件写入此文件夹（不存在时自动创建）。")
@click.option("--roster", "roster_path", type=click.Path(path_type=Path),
              metavar="名单.csv",
              help="名单（.csv 或 .xlsx，与 generate --roster 相同），用于核对谁已提交、谁未提交。")
@click.option("--jobs", type=int, default=None, metavar="进程数",
              help="同时校验的进程数（默认为 CPU 核数）。")
@previous_option
@form_option
def merge_command(paths, out_dir, roster_path, jobs, previous_dir, form_path) -> None:
    """校验并汇总回收的统计表（文件或文件夹），按批次生成汇总工作簿。

    每个批次写出“汇总-批次.xlsx”（汇总、分类统计、提交情况、问题清单、图表）和同名 .csv，
    另写“汇总-总览.xlsx”，并为每个审核单位另写一份它的汇总（放在以表单定义中审核单位一列的表头命名的
    文件夹中）。不通过、无法读取和重复的文件列出，但不计入汇总。
    给出 --previous 时，汇总中每个数字项旁列出上年数值和增长率，图表中有主要指标与上年的对比。
    至少有一个单位计入汇总时退出码为 0；没有任何单位可以汇总时为 1（汇总文件照样写出，说明原因）；
    名单有误、上一轮的汇总结果有误或汇总文件无法写入时为 1（汇总文件一个也不改）；用法错误为 2，
    没有找到任何文件时也是 2（与 validate 相同，什么也不写）。
    """
    from .merge import (ST_ACCEPTED, ST_EXPLAINED, ST_WARNINGS, STATUSES, batch_file_stem, merge_config,
                        merge_paths, write_outputs, written_lines)
    from .roster import RosterError
    from .writing import CannotWrite

    if not paths:
        _usage_error("请给出回收的文件或文件夹，例如：xlsx-tools merge 回收文件夹 --out 汇总结果")
    if out_dir is None:
        _usage_error("请用 --out 指定汇总文件写入的文件夹，例如：--out 汇总结果")
    if in_the_way(out_dir):
        _usage_error(f"“{out_dir}”是一个文件，--out 须为文件夹。")
    for p in paths:
        if not found(p):
            _usage_error(f"找不到“{p}”，请检查文件或文件夹的路径。")
    if roster_path is not None and not a_file(roster_path):
        _usage_error(f"找不到名单文件“{roster_path}”。")
    if jobs is not None and jobs < 1:
        _usage_error(f"--jobs 须为 1 或更大的整数，而不是 {jobs}。")
    check_previous_dir(previous_dir)
    form = form_from_option(form_path)
    from .previous import PreviousError

    bar = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = click.progressbar(length=total, label="校验中", file=click.get_text_stream("stderr"))
            bar.__enter__()
        bar.update(done - bar.pos)

    try:
        result = merge_paths(paths, roster=roster_path, form=form, jobs=jobs,
                             progress=progress if _progress_wanted() else None,
                             previous=previous_dir)
    except PreviousError as e:
        click.echo(str(e), err=True)
        raise SystemExit(1) from None
    except RosterError as e:
        if e.problems:  # the rows, under merge's own words (the reader's speak of generating)
            click.echo(f"名单“{roster_path.name}”有 {len(e.problems)} 行有问题，未汇总。"
                       "请修改以下各行后重试：", err=True)
            for problem in e.problems:
                click.echo(f"    {problem}", err=True)
        else:
            click.echo(f"名单有误，未汇总：{e.message}", err=True)
        raise SystemExit(1) from None
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
    if not result.files:   # as validate: nothing found is a usage error, and nothing is written
        _usage_error(NO_FILES)
    try:
        write_outputs(result, out_dir)
    except CannotWrite as e:
        fail_to_write(e)

    unit_word = merge_config(form).say("unit_word")
    click.echo(f"共找到 {len(result.files)} 个文件，计入汇总 {result.added} 个{unit_word}。")
    for batch, b in result.batches.items():
        counts = {st: b.count(st) for st in STATUSES}
        shown = "，".join(f"{st} {n}" for st, n in counts.items() if n)
        click.echo(f"{batch}：计入汇总 {len(b.rows)} 个{unit_word}（{shown}）")
        notable = [e for e in b.entries if e.status not in (ST_ACCEPTED, ST_WARNINGS, ST_EXPLAINED)]
        for e in notable[:_MERGE_LINES]:
            click.echo(f"    {e.status}  {e.unit or ''}  {e.name}  {e.note}".rstrip())
        if len(notable) > _MERGE_LINES:
            click.echo(f"    ……另有 {len(notable) - _MERGE_LINES} 个，"
                       f"见 {batch_file_stem(batch)}.xlsx 的“提交情况”")
    if result.unplaced:
        click.echo(f"无法确定批次的文件 {len(result.unplaced)} 个（列在 汇总-总览.xlsx 的“提交情况”中）：")
        for e in result.unplaced:
            click.echo(f"    {e.status}  {e.file}  {e.result.reason or e.note}")
    for line in written_lines(result, out_dir):
        click.echo(line)
    if result.previous is not None:
        matched = sum(1 for f in result.files if f.previous)
        click.echo(f"与上年对比：{matched} 个文件在上一轮汇总结果中找到了上年数值。")
    if result.exit_code:
        click.echo("没有任何平台可以计入汇总：请查看“提交情况”和“问题清单”。", err=True)
    raise SystemExit(result.exit_code)


register(main)  # the round's commands: round init|receive|status, serve, merge --round (cli_round.py)

if __name__ == "__main__":
    main()
