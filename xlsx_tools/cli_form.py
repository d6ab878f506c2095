"""The ``--form`` option every command takes, and the form definition it names.

In a module of its own so that the commands of ``cli.py`` and of ``cli_round.py``
share it without one importing the other.
"""

from __future__ import annotations

from pathlib import Path

import click

from .cli_words import a_file

__all__ = ["form_option", "form_from_option"]


def form_option(f):
    """--form 表单定义.toml, for every command."""
    return click.option(
        "--form", "form_path", type=click.Path(dir_okay=False, path_type=Path),
        metavar="表单定义.toml", default=None,
        help="本轮使用的表单定义文件（TOML，写法见 README 的“表单定义”）；"
             "默认为随工具提供的表单定义。生成、校验和汇总须使用同一份定义。")(f)


def form_from_option(form_path: Path | None):
    """The form of --form (the shipped one without it); a definition that cannot be
    used is a Chinese message and exit 2 (not found) or 1 (wrong inside)."""
    from .form import FormError, load_form

    if form_path is not None and not a_file(form_path):
        click.echo(f"找不到表单定义文件“{form_path}”。", err=True)
        raise SystemExit(2)
    try:
        return load_form(form_path) if form_path is not None else load_form()
    except FormError as e:
        click.echo(str(e), err=True)
        raise SystemExit(1) from None
