"""The `xlsx-tools` command: thin click wrappers over the library.

Every command takes ``--form`` (:func:`~xlsx_tools.cli_form.form_option`,
:func:`~xlsx_tools.cli_form.form_from_option`): the form definition the round uses,
the shipped one by default. A command added in another module does the same.
"""

from __future__ import annotations

import gettext
from pathlib import Path

import click

from . import __version__
from .cli_form import form_from_option, form_option
from .cli_round import register

# click says its own words (Usage:, Options, its error messages) through
# gettext, looking them up when it says them; the people at this command read
# Chinese, so the command answers those look-ups itself.
_CLICK_WORDS = {
    "Usage:": "用法：",
    "Options": "选项",
    "Commands": "命令",
    "Show this message and exit.": "显示本帮助并退出。",
    "Show the version and exit.": "显示版本号并退出。",
    "%(prog)s, version %(version)s": "%(prog)s，版本 %(version)s",
    "Error: {message}": "错误：{message}",
    "Try '{command} {option}' for help.": "输入“{command} {option}”查看帮助。",
    "Missing command.": "请给出要运行的命令（generate、validate、merge、round 或 serve）。",
    "No such command {name!r}.": "没有“{name}”这个命令。",
    "No such option {name!r}.": "没有“{name}”这个选项。",
    "No such option: {name}": "没有“{name}”这个选项。",
    "Did you mean {possibility}?": "是不是想输入 {possibility}？",
    "(Did you mean one of: {possibilities}?)": "（是不是想输入其中之一：{possibilities}？）",
    "Missing argument": "缺少参数",
    "Missing option": "缺少选项",
    "Missing parameter": "缺少参数",
    "Missing {param_type}": "缺少{param_type}",
    "Missing parameter: {param_name}": "缺少参数：{param_name}",
    "Invalid value: {message}": "取值不对：{message}",
    "Invalid value for {param_hint}: {message}": "{param_hint} 的取值不对：{message}",
    "Got unexpected extra argument ({args})": "多给了参数（{args}）",
    "Got unexpected extra arguments ({args})": "多给了参数（{args}）",
    "Option {name!r} requires an argument.": "选项 {name} 后面要给出一个值。",
    "Option {name!r} requires {nargs} arguments.": "选项 {name} 后面要给出 {nargs} 个值。",
    "Option {name!r} does not take a value.": "选项 {name} 后面不带值。",
    "{value!r} is not a valid {number_type}.": "“{value}”不是有效的整数。",
    "{value} is not in the range {range}.": "{value} 不在 {range} 范围内。",
    "file": "文件",
    "directory": "文件夹",
    "path": "路径",
    "{name} {filename!r} does not exist.": "{name}“{filename}”不存在。",
    "{name} {filename!r} is a file.": "{name}“{filename}”是一个文件，这里要的是文件夹。",
    "{name} {filename!r} is a directory.": "{name}“{filename}”是一个文件夹，这里要的是文件。",
    "{name} {filename!r} is not readable.": "{name}“{filename}”无法读取（没有权限）。",
    "{name} {filename!r} is not writable.": "{name}“{filename}”无法写入（没有权限）。",
    "Aborted!": "已中止。",
    "default: {default}": "默认：{default}",
}


def _say_click_words_in_chinese() -> None:
    plain, plain_plural = gettext.dgettext, gettext.dngettext
    if getattr(plain, "xlsx_tools", False):
        return

    def dgettext(domain, message):
        return _CLICK_WORDS.get(message) or plain(domain, message)

    def dngettext(domain, one, many, n):
        return _CLICK_WORDS.get(one if n == 1 else many) or plain_plural(domain, one, many, n)

    dgettext.xlsx_tools = True
    gettext.dgettext, gettext.dngettext = dgettext, dngettext


_say_click_words_in_chinese()


@click.group(context_settings={"help_option_names": ["-h", "--help"]},
             options_metavar="[选项]", subcommand_metavar="命令 [参数]...")
@click.version_option(__version__, prog_name="xlsx-tools")
def main() -> None:
    """统计表的 Excel 工作簿：生成、校验、汇总。

    表单由表单定义（.toml）规定，各命令用 --form 指定；不指定时使用随工具提供的表单定义。
    """


# --- last round ----------------------------------------------------------------

def previous_option(f):
    """--previous 文件夹: last round's merge output, for every command that compares."""
    return click.option(
        "--previous", "previous_dir", type=click.Path(path_type=Path), metavar="文件夹",
        default=None,
        help="上一轮 xlsx-tools merge 的 --out 文件夹（其中的“汇总-*.csv”）：按单位名称找到"
             "各单位的上年数值，与本年对比（名单中有“上年单位名称”列时也按它查找）。")(f)


def check_previous_dir(previous_dir: Path | None) -> None:
    if previous_dir is not None and not previous_dir.is_dir():
        _usage_error(f"找不到上一轮的汇总结果文件夹“{previous_dir}”。")


def read_previous_or_exit(previous_dir: Path | None, form, entries=None):
    """Last round's values (None without --previous); one Chinese sentence and exit 1
    for a folder that is not a merge output."""
    from .previous import PreviousError, previous_names, read_previous

    if previous_dir is None:
        return None
    try:
        return read_previous(previous_dir, form, previous_names(entries or [], form))
    except PreviousError as e:
        click.echo(str(e), err=True)
        raise SystemExit(1) from None


# --- generate ---------------------------------------------------------------


@main.command("generate", options_metavar="[选项]")
@click.option("--out", "out_dir", type=click.Path(path_type=Path),
              help="把工作簿写入此文件夹（不存在则新建）。必须给出。")
@click.option("--roster", "roster_path", type=click.Path(dir_okay=False, path_type=Path),
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

    if out_dir is None:
        _generate_fail("请用 --out 指定保存工作簿的文件夹，例如：xlsx-tools generate --out 统计表", 2)
    if out_dir.exists() and not out_dir.is_dir():
        _generate_fail(f"“{out_dir}”是一个文件，请用 --out 指定一个文件夹。", 2)
    if previous_dir is not None and roster_path is None:
        _generate_fail("--previous 须与 --roster 一起使用：上年数值按名单中的单位填入预填的统计表。", 2)
    check_previous_dir(previous_dir)
    form = form_from_option(form_path)
    found = None
    try:
        if roster_path is None:
            path = generate_blank(out_dir, form, password=password)
            click.echo(f"已生成空白统计表：{path}")
            return
        previous = None
        if previous_dir is not None:
            entries = read_roster(roster_path, form)
            previous = read_previous_or_exit(previous_dir, form, entries)
            found = [e.unit for e in entries if previous.values_for(e.unit) is not None]
            missing = [e.unit for e in entries if previous.values_for(e.unit) is None]
        paths = generate_from_roster(roster_path, out_dir, form, password=password, previous=previous)
    except RosterError as e:
        _generate_fail(str(e))
    except GenerateError as e:
        _generate_fail(str(e))
    for p in paths:
        click.echo(f"已生成：{p}")
    click.echo(f"共按名单生成 {len(paths)} 个预填统计表，保存在：{out_dir}")
    if found is not None:
        click.echo(f"其中 {len(found)} 个单位在上一轮汇总结果中找到，统计表中显示了上年数值；"
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

    警告都已由填报单位写明审核说明的文件，结论为“已说明”。给出 --previous 时，与上年相比的检查
    用上一轮汇总结果中的数值（而不是表中的上年单元格）。
    有错误的文件退出码为 1，全部无错误为 0，用法错误为 2。
    """
    from .annotate import AnnotateWriteError, annotate_workbooks
    from .report import write_json, write_report_xlsx
    from .validate import validate_paths

    if not paths:
        _usage_error("请给出要校验的文件或文件夹，例如：xlsx-tools validate 回收文件夹")
    for p in paths:
        if not p.exists():
            _usage_error(f"找不到“{p}”，请检查文件或文件夹的路径。")
    if jobs is not None and jobs < 1:
        _usage_error(f"--jobs 须为 1 或更大的整数，而不是 {jobs}。")
    if report_path is not None and report_path.suffix.lower() != ".xlsx":
        _usage_error(f"问题清单须保存为 .xlsx 文件，而不是“{report_path.name}”。")
    if roster_path is not None and previous_dir is None:
        _usage_error("--roster 只与 --previous 一起使用（按名单中的上年单位名称查找上年数值）。")
    if roster_path is not None and not roster_path.is_file():
        _usage_error(f"找不到名单文件“{roster_path}”。")
    check_previous_dir(previous_dir)
    form = form_from_option(form_path)
    entries = _roster_or_exit(roster_path, form) if roster_path is not None else None
    previous = read_previous_or_exit(previous_dir, form, entries)
    run = validate_paths(paths, form, jobs=jobs, previous=previous)
    if not run.files:
        _usage_error("在给出的位置没有找到 .xlsx 工作簿。")

    # Annotated copies first: a file that cannot be annotated becomes 无法读取, and the
    # console and the reports then all say so.
    outcome = unwritable = None
    try:
        if annotate_dir is not None:
            outcome = annotate_workbooks(run, annotate_dir)
    except AnnotateWriteError as e:   # the same for every copy: said once, last, after the reports
        unwritable = e.message
    for r in run.files:
        if not r.readable:
            click.echo(f"{r.verdict}  {r.file}  {r.reason}")
        else:
            explained = f"（已说明 {r.explained} 项）" if r.explained else ""
            click.echo(f"{r.verdict}  错误 {r.errors} 项，警告 {r.warnings} 项{explained}  {r.file}")
        if verbose and r.readable:
            _say_findings(form, r)
    c = run.counts()
    click.echo(f"共 {len(run.files)} 个文件：" + "，".join(f"{v} {n}" for v, n in c.items()))

    try:
        if json_path is not None:
            click.echo(f"结果已写入 {write_json(run, json_path)}")
        if report_path is not None:
            click.echo(f"问题清单已写入 {write_report_xlsx(run, report_path)}")
    except OSError as e:
        _usage_error(f"无法写入输出文件：{e.filename or e}（{e.strerror or '写入失败'}）")
    if outcome is not None:
        click.echo(f"已在 {annotate_dir} 生成 {len(outcome.written)} 份标注副本")
        for file, why in outcome.skipped:
            click.echo(f"    未生成标注副本：{file}（{why}）")
    if unwritable is not None:
        click.echo(unwritable, err=True)
        raise SystemExit(1)
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
    另写“汇总-总览.xlsx”，并在以审核单位（表单定义中的 recommending 角色）命名的文件夹中为每个审核单位
    写出它的汇总。不通过的文件列出但不计入汇总。
    给出 --previous 时，汇总中每个数字项旁列出上年数值和增长率，图表中有主要指标与上年的对比。
    至少有一个单位计入汇总时退出码为 0，没有任何单位可以汇总时为 1（汇总文件照样写出，说明原因），
    名单有误或汇总文件无法写入为 1，用法错误为 2。
    """
    from .merge import STATUSES, batch_file_stem, merge_config, merge_paths, recommending_folder
    from .roster import RosterError
    from .xlsx_output import os_reason

    if not paths:
        _usage_error("请给出回收的文件或文件夹，例如：xlsx-tools merge 回收文件夹 --out 汇总结果")
    if out_dir is None:
        _usage_error("请用 --out 指定汇总文件写入的文件夹，例如：--out 汇总结果")
    if out_dir.exists() and not out_dir.is_dir():
        _usage_error(f"“{out_dir}”是一个文件，--out 须为文件夹。")
    for p in paths:
        if not p.exists():
            _usage_error(f"找不到“{p}”，请检查文件或文件夹的路径。")
    if roster_path is not None and not roster_path.is_file():
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
        result = merge_paths(paths, out_dir=out_dir, roster=roster_path, form=form, jobs=jobs,
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
    except OSError as e:
        click.echo(f"无法写入汇总文件：{e.filename or out_dir}（{os_reason(e)}）", err=True)
        raise SystemExit(1) from None
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)

    if not result.files and result.roster is None:
        _usage_error("在给出的位置没有找到工作簿。")
    unit_word = merge_config(form).say("unit_word")
    click.echo(f"共找到 {len(result.files)} 个文件，计入汇总 {result.added} 个{unit_word}。")
    for batch, b in result.batches.items():
        counts = {st: b.count(st) for st in STATUSES}
        shown = "，".join(f"{st} {n}" for st, n in counts.items() if n)
        click.echo(f"{batch}：计入汇总 {len(b.rows)} 个{unit_word}（{shown}）")
        notable = [e for e in b.entries if e.status not in ("已通过", "有警告", "已说明")]
        for e in notable[:_MERGE_LINES]:
            click.echo(f"    {e.status}  {e.unit or ''}  {e.name}  {e.note}".rstrip())
        if len(notable) > _MERGE_LINES:
            click.echo(f"    ……另有 {len(notable) - _MERGE_LINES} 个，"
                       f"见 {batch_file_stem(batch)}.xlsx 的“提交情况”")
    if result.unplaced:
        click.echo(f"无法确定批次的文件 {len(result.unplaced)} 个（列在 汇总-总览.xlsx 的“提交情况”中）：")
        for e in result.unplaced:
            click.echo(f"    {e.status}  {e.file}  {e.result.reason or e.note}")
    folder = out_dir / recommending_folder(form)
    own = [p for p in result.outputs if p.parent == folder]
    click.echo(f"已写入 {out_dir}：" + "、".join(p.name for p in result.outputs if p.parent != folder))
    if own:
        click.echo(f"各{form.column_header('recommending')}的汇总 {len(own)} 个，在 {folder}")
    if result.previous is not None:
        found = sum(1 for f in result.files if f.previous)
        click.echo(f"与上年对比：{found} 个文件在上一轮汇总结果中找到了上年数值。")
    if result.exit_code:
        click.echo("没有任何平台可以计入汇总：请查看“提交情况”和“问题清单”。", err=True)
    raise SystemExit(result.exit_code)


register(main)  # the round's commands: round init|receive|status, serve, merge --round (cli_round.py)

if __name__ == "__main__":
    main()
