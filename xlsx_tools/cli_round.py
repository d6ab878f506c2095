"""The round's commands: ``round init|receive|status``, ``serve``, and ``merge --round``.

Thin click wrappers over :mod:`xlsx_tools.round`; :func:`register` adds them
to the ``xlsx-tools`` group. ``serve`` imports the web part only when it runs.
"""

from __future__ import annotations

from pathlib import Path

import click

from .cli_form import form_from_option, form_option
from .cli_words import NO_FILES, Command, Group, a_file, fail_to_write, found, in_the_way

__all__ = ["register"]

_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _fail(message: str, code: int = 1) -> None:
    click.echo(message, err=True)
    raise SystemExit(code)


def _open(folder: Path):
    from .round import Round, RoundError
    from .writing import CannotWrite

    try:
        return Round.open(folder)
    except RoundError as e:
        _fail(str(e), 2)
    except CannotWrite as e:   # a round it may read but not write: read-only, or a full disk
        fail_to_write(e, folder, "轮次文件夹")


@click.group("round", cls=Group, options_metavar="[选项]", subcommand_metavar="命令 [参数]...")
def round_group() -> None:
    """一轮回收工作：建立轮次文件夹，收取回收的文件，查看谁交了、谁没交。

    轮次文件夹保存表单定义和名单的副本、记录每个收到文件的数据库（round.sqlite）
    和收到的全部文件（files/，按内容的哈希值命名，从不覆盖或删除）。
    """


@round_group.command("init", options_metavar="[选项]")
@click.argument("folder", type=click.Path(path_type=Path), metavar="轮次文件夹")
@click.option("--roster", "roster_path", type=click.Path(dir_okay=False, path_type=Path), metavar="名单.csv",
              help="平台名单（.csv 或 .xlsx，与 generate --roster 相同）。必须给出。")
@form_option
@click.option("--previous", "previous", type=click.Path(file_okay=False, path_type=Path), metavar="文件夹",
              help="上一轮的汇总结果文件夹（xlsx-tools merge 的输出）或上一轮的轮次文件夹；"
                   "其中的 汇总-*.csv 复制到本轮的 previous/，供与上年对比。")
def init_command(folder: Path, roster_path: Path | None, form_path: Path | None,
                 previous: Path | None) -> None:
    """新建一个轮次文件夹（须为不存在或空的文件夹）。

    轮次文件夹保存表单定义的副本，以后这一轮的各条命令和网页都按这份副本，不再给出 --form。
    出错时说明原因，退出码为 1（名单或表单定义有误）或 2（用法错误）。
    """
    from .roster import RosterError
    from .round import Round, RoundError

    if roster_path is None:
        _fail("请用 --roster 给出平台名单，例如：xlsx-tools round init 2022年评估 --roster 名单.csv", 2)
    if not a_file(roster_path):
        _fail(f"找不到名单文件“{roster_path}”。", 2)
    form = form_from_option(form_path)
    try:
        rnd = Round.init(folder, roster_path, form=form, previous=previous)
    except RosterError as e:
        _fail(str(e))
    except RoundError as e:
        _fail(str(e), 2)
    except OSError as e:
        fail_to_write(e, folder, "轮次文件夹")
    with rnd:
        n = len(rnd.units())
        click.echo(f"已建立轮次文件夹：{folder}（{rnd.form.title}，名单 {n} 个单位）")
        if rnd.previous is not None:
            click.echo(f"上一轮的汇总结果有 {len(rnd.previous)} 个单位：收到的文件与上年对比，"
                       f"预填表显示{rnd.form.previous.label}数值。")
        click.echo(f"收取文件：xlsx-tools round receive {folder} 回收文件夹")
        click.echo(f"在浏览器中使用：xlsx-tools serve {folder}")


def _receipt_line(r) -> str:
    where = ""
    if r.version is not None and r.unit is not None:
        where = f"  → {r.unit.unit}（{r.unit.batch}）"
    elif r.version is not None:
        where = "  → 未能对应到名单中的单位"
    shown = f"{r.archive_name}/{r.file_name}" if r.archive_name else r.file_name
    text = f"{r.status}  {shown}{where}"
    if r.version is None and r.reason:
        text += f"  {r.reason}"
    elif r.repeat and r.row.note:
        text += f"  {r.row.note}"     # 与…内容相同, and why it cannot be read if so
    elif r.version is not None and r.version.reason:
        text += f"  {r.version.reason}"
    return text


@round_group.command("receive", options_metavar="[选项]")
@click.argument("folder", type=click.Path(path_type=Path), metavar="轮次文件夹")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path), metavar="文件或文件夹...")
def receive_command(folder: Path, paths: tuple[Path, ...]) -> None:
    """收取回收的文件：文件、文件夹（连同子文件夹）或 .zip 压缩包。

    每个文件都保存进轮次文件夹并校验、记录；同样内容的文件再次收到时记为“已收到过”，不另算版本。
    全部记录完毕时退出码为 0，用法错误为 2。
    """
    from collections import Counter

    from .round import ST_RECEIVED_BEFORE, STATUSES

    if not paths:
        _fail(f"请给出要收取的文件或文件夹，例如：xlsx-tools round receive {folder} 回收文件夹", 2)
    for p in paths:
        if not found(p):
            _fail(f"找不到“{p}”，请检查文件或文件夹的路径。", 2)
    with _open(folder) as rnd:
        receipts = rnd.receive(paths, source="cli")
        for r in sorted(receipts, key=lambda r: r.listing_key(rnd.form)):
            click.echo(_receipt_line(r))
        counts = Counter(r.status for r in receipts)
        # Every file given is counted: the repeats as 已收到过, any other word after the known ones.
        words = [*STATUSES, ST_RECEIVED_BEFORE]
        words += [s for s in counts if s not in words]
        shown = "，".join(f"{s} {counts[s]}" for s in words if counts[s])
        click.echo(f"共收到 {len(receipts)} 个文件" + (f"：{shown}" if shown else "。"))
        if not receipts:
            _fail(NO_FILES, 2)
        click.echo(f"查看各单位情况：xlsx-tools round status {folder}")


@round_group.command("status", options_metavar="[选项]")
@click.argument("folder", type=click.Path(path_type=Path), metavar="轮次文件夹")
@click.option("--remind", "remind_path", type=click.Path(dir_okay=False, path_type=Path),
              metavar="催报名单.xlsx",
              help="另把催报名单（未提交、不通过、无法读取的单位）写入此 Excel 文件。")
def status_command(folder: Path, remind_path: Path | None) -> None:
    """按名单列出每个单位的状态、采用的文件和收到时间，最后是合计。"""
    from .catalogue import status_word
    from .reminders import write_reminders_xlsx
    from .round import ST_TO_CONFIRM, STATUSES, display

    off_roster = status_word("off_roster")
    with _open(folder) as rnd:
        units = rnd.units()
        for i, u in enumerate(units, start=1):
            v = u.chosen
            file = f"  {v.file_name}（{v.received_at[:16].replace('T', ' ')}）" if v else ""
            mark = "" if u.on_roster else f"  [{off_roster}]"
            category = display(rnd.form, "category", u.category)
            click.echo(f"{i:>4}  {u.status}  {u.batch}  {category}  {u.unit}{mark}{file}")
        counts = rnd.counts(units)
        shown = "，".join(f"{s} {counts[s]}" for s in STATUSES if counts[s])
        off = sum(1 for u in units if not u.on_roster)
        line = f"共 {len(units)} 个单位：{shown}"
        if off:     # its own item: not a part of the status before it
            line += f"；{off_roster}单位 {off} 个（含在这 {len(units)} 个之中）"
        click.echo(line)
        # Why each unit is 待确认, as its page says it: what the clerk has to look at.
        unsure = [u for u in units if u.status == ST_TO_CONFIRM]
        if unsure:
            click.echo(f"{ST_TO_CONFIRM}的单位（{len(unsure)} 个）：")
            _unit_notes(unsure)
        unplaced = rnd.unplaced()
        if unplaced:
            click.echo(f"另有 {len(unplaced)} 个文件未能对应到单位：")
            for v in unplaced:
                click.echo(f"      {v.status}  {v.file_name}  {v.reason or ''}".rstrip())
        if remind_path is not None:
            if remind_path.suffix.lower() != ".xlsx":
                _fail(f"催报名单须保存为 .xlsx 文件，而不是“{remind_path.name}”。", 2)
            try:
                click.echo(f"催报名单已写入 {write_reminders_xlsx(rnd, remind_path, units)}")
            except OSError as e:
                fail_to_write(e, remind_path)


@click.command("serve", cls=Command, options_metavar="[选项]")
@click.argument("folder", type=click.Path(path_type=Path), metavar="轮次文件夹")
@click.option("--host", default="127.0.0.1", metavar="地址",
              help="监听的地址（默认为 127.0.0.1，只有本机可以访问）；"
                   "在局域网中使用（如 0.0.0.0）时必须同时给出 --password。")
@click.option("--port", type=int, default=0, metavar="端口",
              help="端口号，0 到 65535（默认自动选一个空闲端口）。")
@click.option("--password", default=None, envvar="XLSX_TOOLS_PASSWORD", metavar="密码",
              help="访问密码：网页先要登录，接口用 HTTP Basic 认证（用户名任意）。"
                   "也可以用环境变量 XLSX_TOOLS_PASSWORD 给出。")
@click.option("--no-browser", is_flag=True, help="启动后不自动打开浏览器。")
def serve_command(folder: Path, host: str, port: int, password: str | None, no_browser: bool) -> None:
    """在浏览器中使用轮次文件夹：拖入回收的文件，查看谁交了、谁没交，下载标注副本、催报名单和汇总。

    启动后显示网址；按 Ctrl+C 停止。
    """
    if not 0 <= port <= 65535:
        _fail(f"端口号须在 0 到 65535 之间，而不是 {port}。", 2)
    if host not in _LOOPBACK and not password:
        _fail(f"在 {host} 上监听时，局域网中的其他电脑也能访问，必须用 --password 设置访问密码。", 2)
    if password is not None and len(password) < 6:
        _fail("访问密码至少要 6 个字符。", 2)
    try:
        from .web.server import serve
    except ImportError as e:
        _fail(f"缺少浏览器界面所需的程序包（{e.name}）。"
              "请在 xlsx-tools 的文件夹中重新安装：.venv/bin/python -m pip install .", 1)
    rnd = _open(folder)

    try:
        serve(rnd, host=host, port=port, password=password, open_browser=not no_browser,
              say=lambda text: click.echo(text))
    except OSError as e:
        _fail(f"无法在 {host}:{port} 上启动：{_why_not_served(e, port)}。")
    finally:
        rnd.close()


def _why_not_served(e: OSError, port: int) -> str:
    import errno
    import socket

    if isinstance(e, socket.gaierror):
        return "无法识别这个地址，请检查 --host"
    return {errno.EADDRINUSE: f"端口 {port} 已被占用，请换一个端口（--port）或不给 --port",
            errno.EACCES: "没有使用这个端口的权限（1024 以下的端口须有管理员权限），请换一个端口（--port）",
            errno.EADDRNOTAVAIL: "本机没有这个地址，请检查 --host"
            }.get(e.errno, f"系统错误代码 {e.errno}")


def _merge_round(round_dir: Path, out_dir: Path | None, given: dict) -> None:
    from .merge import STATUSES, merge_config, written_lines

    if given.get("paths") or given.get("roster_path") or given.get("form_path"):
        _fail("使用 --round 时按轮次文件夹中的表单定义、名单和收到的文件汇总，"
              "不要再给出文件、文件夹、--roster 或 --form。", 2)
    if out_dir is not None and in_the_way(out_dir):
        _fail(f"“{out_dir}”是一个文件，--out 须为文件夹。", 2)
    with _open(round_dir) as rnd:
        try:
            result, written = rnd.merge(out_dir)
        except OSError as e:
            fail_to_write(e, out_dir if out_dir is not None else round_dir, "汇总文件夹")
        unit_word = merge_config(rnd.form).say("unit_word")
        click.echo(f"按每个单位采用的版本汇总：共 {len(result.files)} 个文件，"
                   f"计入汇总 {result.added} 个{unit_word}。")
        for batch, b in result.batches.items():
            shown = "，".join(f"{st} {b.count(st)}" for st in STATUSES if b.count(st))
            click.echo(f"{batch}：计入汇总 {len(b.rows)} 个{unit_word}（{shown}）")
        for line in written_lines(result, written):
            click.echo(line)
        _say_to_confirm(rnd)
        raise SystemExit(result.exit_code)


def _say_to_confirm(rnd) -> None:
    """The units whose version the summaries took only by default: no clerk has confirmed it."""
    from .round import ST_TO_CONFIRM

    unsure = [u for u in rnd.units() if u.status == ST_TO_CONFIRM]
    if unsure:
        click.echo(f"注意：有 {len(unsure)} 个单位{ST_TO_CONFIRM}，汇总按默认采用的版本计入，尚未经过确认：")
        _unit_notes(unsure)


def _unit_notes(units) -> None:
    for u in units:
        click.echo(f"      {u.unit}（{u.batch}）：{u.note}")


def _add_round_to_merge(merge: click.Command) -> None:
    """``merge --round DIR``: the summaries of a round's chosen versions."""
    merge.params.append(click.Option(
        ["--round", "round_dir"], type=click.Path(file_okay=False, path_type=Path), metavar="轮次文件夹",
        help="汇总轮次文件夹中每个单位采用的版本（默认最新收到的，或在网页中选定的）；"
             "不给 --out 时写入轮次文件夹的 summaries/。"))
    plain = merge.callback

    def callback(round_dir: Path | None = None, **given):
        if round_dir is None:
            return plain(**given)
        return _merge_round(round_dir, given.get("out_dir"), given)

    merge.callback = callback


def register(main: click.Group) -> None:
    """Add the round's commands to the ``xlsx-tools`` group."""
    main.add_command(round_group)
    main.add_command(serve_command)
    _add_round_to_merge(main.commands["merge"])
