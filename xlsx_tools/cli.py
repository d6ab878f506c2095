"""The `xlsx-tools` command: thin click wrappers over the library."""

from __future__ import annotations

from pathlib import Path

import click

from . import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="xlsx-tools")
def main() -> None:
    """平台年度评估/复核情况统计表：生成、校验、汇总 Excel 工作簿。"""


# --- generate ---------------------------------------------------------------


@main.command("generate")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="把工作簿写入此文件夹（不存在则新建）。")
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
    except OSError as e:
        _generate_fail(f"无法写入“{e.filename or out_dir}”：{e.strerror or e}")
    for p in paths:
        click.echo(f"已生成：{p}")
    click.echo(f"共按名单生成 {len(paths)} 个预填统计表，保存在：{out_dir}")


def _generate_fail(message: str, code: int = 1) -> None:
    click.echo(message, err=True)
    raise SystemExit(code)


# --- validate ---------------------------------------------------------------


# --- merge ------------------------------------------------------------------


if __name__ == "__main__":
    main()
