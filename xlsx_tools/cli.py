"""The `xlsx-tools` command: thin click wrappers over the library."""

from __future__ import annotations

import click

from . import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="xlsx-tools")
def main() -> None:
    """平台年度评估/复核情况统计表：生成、校验、汇总 Excel 工作簿。"""


# --- generate ---------------------------------------------------------------


# --- validate ---------------------------------------------------------------


# --- merge ------------------------------------------------------------------


if __name__ == "__main__":
    main()
