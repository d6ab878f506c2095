"""The `xlsx-tools` command: thin click wrappers over the library."""

from __future__ import annotations

import gettext
from pathlib import Path

import click

from . import __version__

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
    "Missing command.": "请给出要运行的命令（generate、validate 或 merge）。",
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
    """平台年度评估/复核情况统计表：生成、校验、汇总 Excel 工作簿。"""


# --- generate ---------------------------------------------------------------


@main.command("generate", options_metavar="[选项]")
@click.option("--out", "out_dir", type=click.Path(path_type=Path),
              help="把工作簿写入此文件夹（不存在则新建）。必须给出。")
@click.option("--roster", "roster_path", type=click.Path(dir_okay=False, path_type=Path),
              help="名单文件（CSV 或 .xlsx，列：单位名称、列入批次、平台类别、推荐单位）；"
                   "给出时为每个平台生成一份预填的工作簿。")
@click.option("--password", default=None,
              help="工作表保护密码（默认 itbps2022，见 README）。")
def generate_command(out_dir: Path, roster_path: Path | None, password: str | None) -> None:
    """生成统计表工作簿：不给名单时生成空白表，给出名单时为每个平台生成预填的表。

    出错时在标准错误输出中文说明，退出码为 1（用法错误为 2）。
    """
    from .roster import RosterError
    from .write import GenerateError, generate_blank, generate_from_roster

    if out_dir is None:
        _generate_fail("请用 --out 指定保存工作簿的文件夹，例如：xlsx-tools generate --out 统计表", 2)
    if out_dir.exists() and not out_dir.is_dir():
        _generate_fail(f"“{out_dir}”是一个文件，请用 --out 指定一个文件夹。", 2)
    try:
        if roster_path is None:
            path = generate_blank(out_dir, password=password)
            click.echo(f"已生成空白统计表：{path}")
            return
        paths = generate_from_roster(roster_path, out_dir, password=password)
    except RosterError as e:
        _generate_fail(str(e))
    except GenerateError as e:
        _generate_fail(str(e))
    for p in paths:
        click.echo(f"已生成：{p}")
    click.echo(f"共按名单生成 {len(paths)} 个预填统计表，保存在：{out_dir}")


def _generate_fail(message: str, code: int = 1) -> None:
    click.echo(message, err=True)
    raise SystemExit(code)


# --- validate ---------------------------------------------------------------

def _say_findings(result) -> None:
    from .rules import code_title

    for f in result.findings:
        click.echo(f"    [{f.severity_cn}] {f.where}  {code_title(f.code)}  {f.message}")


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
def validate_command(paths, verbose, json_path, report_path, annotate_dir, jobs) -> None:
    """校验填好的统计表（文件或文件夹），列出每个文件的问题。

    有错误的文件退出码为 1，全部无错误为 0，用法错误为 2。
    """
    from .report import annotate_workbooks, write_json, write_report_xlsx
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
    run = validate_paths(paths, jobs=jobs)
    if not run.files:
        _usage_error("在给出的位置没有找到 .xlsx 工作簿。")

    # Annotated copies first: a file that cannot be annotated becomes 无法读取, and the
    # console and the reports then all say so.
    outcome = unwritable = None
    try:
        if annotate_dir is not None:
            outcome = annotate_workbooks(run, annotate_dir)
    except OSError as e:   # said last, after the results and the reports
        unwritable = f"无法写入输出文件：{e.filename or e}（{e.strerror or '写入失败'}）"
    for r in run.files:
        if not r.readable:
            click.echo(f"{r.verdict}  {r.file}  {r.reason}")
        else:
            click.echo(f"{r.verdict}  错误 {r.errors} 项，警告 {r.warnings} 项  {r.file}")
        if verbose and r.readable:
            _say_findings(r)
    c = run.counts()
    click.echo(f"共 {len(run.files)} 个文件：通过 {c['通过']}，有警告 {c['有警告']}，"
               f"不通过 {c['不通过']}，无法读取 {c['无法读取']}")

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
        _usage_error(unwritable)
    raise SystemExit(run.exit_code)


def _usage_error(message: str) -> None:
    click.echo(message, err=True)
    raise SystemExit(2)



# --- merge ------------------------------------------------------------------

# Lines per batch listing files not added (the full list is in 提交情况).
_MERGE_LINES = 20


def _write_problem(e: OSError) -> str:
    """Why a file could not be written, in Chinese."""
    import errno
    return {errno.EACCES: "没有写入权限", errno.EPERM: "没有写入权限",
            errno.EISDIR: "已有同名的文件夹", errno.ENOTDIR: "路径中有一部分不是文件夹",
            errno.ENOSPC: "磁盘空间不足", errno.EROFS: "磁盘为只读",
            errno.ENAMETOOLONG: "路径过长"}.get(e.errno, "写入失败，请检查文件是否正在 Excel 中打开")


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
              metavar="名单.csv", help="平台名单（.csv 或 .xlsx，与 generate --roster 相同），用于核对谁已提交、谁未提交。")
@click.option("--jobs", type=int, default=None, metavar="进程数",
              help="同时校验的进程数（默认为 CPU 核数）。")
def merge_command(paths, out_dir, roster_path, jobs) -> None:
    """校验并汇总回收的统计表（文件或文件夹），按批次生成汇总工作簿。

    每个批次写出“汇总-第X批.xlsx”（汇总、分类统计、提交情况、问题清单、图表）和同名 .csv，
    另写“汇总-总览.xlsx”。不通过的文件列出但不计入汇总。至少有一个平台计入汇总时退出码为 0，
    没有任何平台可以汇总时为 1（汇总文件照样写出，说明原因），名单有误或汇总文件无法写入为 1，用法错误为 2。
    """
    from .merge import STATUSES, batch_file_stem, merge_paths
    from .roster import RosterError

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

    bar = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = click.progressbar(length=total, label="校验中", file=click.get_text_stream("stderr"))
            bar.__enter__()
        bar.update(done - bar.pos)

    try:
        result = merge_paths(paths, out_dir=out_dir, roster=roster_path, jobs=jobs,
                             progress=progress if _progress_wanted() else None)
    except RosterError as e:
        if e.problems:  # the rows, under merge's own words (the reader's speak of generating)
            click.echo(f"名单“{roster_path.name}”有 {len(e.problems)} 行有问题，未汇总。请修改以下各行后重试：",
                       err=True)
            for problem in e.problems:
                click.echo(f"    {problem}", err=True)
        else:
            click.echo(f"名单有误，未汇总：{e.message}", err=True)
        raise SystemExit(1)
    except OSError as e:
        click.echo(f"无法写入汇总文件：{e.filename or out_dir}（{_write_problem(e)}）", err=True)
        raise SystemExit(1)
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)

    if not result.files and result.roster is None:
        _usage_error("在给出的位置没有找到工作簿。")
    click.echo(f"共找到 {len(result.files)} 个文件，计入汇总 {result.added} 个平台。")
    for batch, b in result.batches.items():
        counts = {st: b.count(st) for st in STATUSES}
        shown = "，".join(f"{st} {n}" for st, n in counts.items() if n)
        click.echo(f"{batch}：计入汇总 {len(b.rows)} 个平台（{shown}）")
        notable = [e for e in b.entries if e.status not in ("已通过", "有警告")]
        for e in notable[:_MERGE_LINES]:
            click.echo(f"    {e.status}  {e.unit_name or ''}  {e.name}  {e.note}".rstrip())
        if len(notable) > _MERGE_LINES:
            click.echo(f"    ……另有 {len(notable) - _MERGE_LINES} 个，见 {batch_file_stem(batch)}.xlsx 的“提交情况”")
    if result.unplaced:
        click.echo(f"无法确定批次的文件 {len(result.unplaced)} 个（列在 汇总-总览.xlsx 的“提交情况”中）：")
        for e in result.unplaced:
            click.echo(f"    {e.status}  {e.file}  {e.result.reason or e.note}")
    click.echo(f"已写入 {out_dir}：" + "、".join(p.name for p in result.outputs))
    if result.exit_code:
        click.echo("没有任何平台可以计入汇总：请查看“提交情况”和“问题清单”。", err=True)
    raise SystemExit(result.exit_code)


if __name__ == "__main__":
    main()
