"""The words of the command line: click's own in Chinese, help laid out for Chinese text,
and the sentences every command says alike.

click says its own words (``Usage:``, ``Options``, its error messages, the words of its
parameter types) through :mod:`gettext`, looking each up when it says it: that is
click's only hook for them. :func:`click_in_chinese` answers those look-ups from
:data:`CLICK_WORDS` while a command runs, and gives them back after. What gettext
cannot reach is done through click's own extension points:

- :class:`HelpFormatter` (``Context.formatter_class``): full-width colons after
  headings and 用法, columns measured as a terminal shows them (a Chinese character
  takes two), and Chinese text wrapped between characters, never before a closing
  mark such as ，or 。 nor inside an option name;
- :class:`Command` and :class:`Group`: the help option's words, a command's short
  help cut at its first colon or full stop, and (the root group's ``main``) an error
  told in one Chinese sentence after the usage line, the option or argument named
  in Chinese quotes.

Every command of ``cli.py`` and ``cli_round.py`` is made with these classes. Also here:
the sentences for an output that cannot be written (:func:`fail_to_write`) and for
no files found (:data:`NO_FILES`), said alike by every command.
"""

from __future__ import annotations

import gettext
import sys
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from .line_rules import NO_LINE_END, NO_LINE_START

__all__ = ["CLICK_WORDS", "click_in_chinese", "HelpFormatter", "Context", "Command", "Group",
           "HELP_WORDS", "VERSION_WORDS", "NO_FILES", "fail_to_write", "display_width", "wrap",
           "found", "a_file", "in_the_way"]

# click's words (its message ids, as its source writes them) in Chinese.
CLICK_WORDS = {
    "Usage:": "用法：",
    "Options": "选项",
    "Commands": "命令",
    "Positional arguments": "参数",
    "Show this message and exit.": "显示本帮助并退出。",
    "Show the version and exit.": "显示版本号并退出。",
    "%(prog)s, version %(version)s": "%(prog)s，版本 %(version)s",
    "Error: {message}": "错误：{message}",
    "Try '{command} {option}' for help.": "输入“{command} {option}”查看帮助。",
    "Missing command.": "请给出要运行的命令。",
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
    "Invalid value for {param_hint}: {message}": "{param_hint}的取值不对：{message}",
    "Got unexpected extra argument ({args})": "多给了参数（{args}）。",
    "Got unexpected extra arguments ({args})": "多给了参数（{args}）。",
    "Option {name!r} requires an argument.": "选项 {name} 后面要给出一个值。",
    "Option {name!r} requires {nargs} arguments.": "选项 {name} 后面要给出 {nargs} 个值。",
    "Option {name!r} does not take a value.": "选项 {name} 后面不带值。",
    "Argument {name!r} takes {nargs} values.": "参数 {name} 要给出 {nargs} 个值。",
    "Takes {nargs} values but 1 was given.": "要给出 {nargs} 个值，只给了 1 个。",
    "Takes {nargs} values but {len} were given.": "要给出 {nargs} 个值，却给了 {len} 个。",
    # Every number the commands take is a whole number (tests/test_cli.py checks).
    "{value!r} is not a valid {number_type}.": "“{value}”不是有效的整数。",
    "{value} is not in the range {range}.": "{value} 不在 {range} 范围内。",
    "{value!r} is not {choice}.": "“{value}”不是 {choice}。",
    "{value!r} is not one of {choices}.": "“{value}”不是 {choices} 之一。",
    "{value!r} is not a valid boolean. Recognized values: {states}":
        "“{value}”不是有效的是非值，可以写：{states}",
    # {name} is the path type's word (file, directory), made in English when the
    # commands are defined: left out.
    "{name} {filename!r} does not exist.": "“{filename}”不存在。",
    "{name} {filename!r} is a file.": "“{filename}”是一个文件，这里要的是文件夹。",
    "{name} {filename!r} is a directory.": "“{filename}”是一个文件夹，这里要的是文件。",
    "{name} {filename!r} is not readable.": "“{filename}”无法读取（没有权限）。",
    "{name} {filename!r} is not writable.": "“{filename}”无法写入（没有权限）。",
    "Could not open file {filename!r}: {message}": "无法打开文件“{filename}”：{message}",
    "Aborted!": "已中止。",
    "default: {default}": "默认：{default}",
    "required": "必须给出",
    "env var: {var}": "环境变量：{var}",
}

# What the help and --version options say (made when the commands are defined,
# before click_in_chinese is in force, so given in Chinese here).
HELP_WORDS = CLICK_WORDS["Show this message and exit."]
VERSION_WORDS = {"help": CLICK_WORDS["Show the version and exit."],
                 "message": CLICK_WORDS["%(prog)s, version %(version)s"]}

NO_FILES = ("在给出的位置没有找到任何文件（文件夹是空的，或其中只有隐藏文件和 Office 的临时文件）。"
            "请检查文件或文件夹的路径。")


class ClickWords(gettext.NullTranslations):
    """click's message catalogue in Chinese, as a gettext translation."""

    def gettext(self, message: str) -> str:
        return CLICK_WORDS.get(message, message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self.gettext(singular if n == 1 else plural)


@contextmanager
def click_in_chinese() -> Iterator[None]:
    """While it lasts, gettext answers click's message ids in Chinese (any other id
    as before); on leaving, gettext is as it was."""
    plain, plain_plural = gettext.dgettext, gettext.dngettext
    words = ClickWords()

    def dgettext(domain: str, message: str) -> str:
        return words.gettext(message) if message in CLICK_WORDS else plain(domain, message)

    def dngettext(domain: str, singular: str, plural: str, n: int) -> str:
        if singular in CLICK_WORDS or plural in CLICK_WORDS:
            return words.ngettext(singular, plural, n)
        return plain_plural(domain, singular, plural, n)

    gettext.dgettext, gettext.dngettext = dgettext, dngettext
    try:
        yield
    finally:
        gettext.dgettext, gettext.dngettext = plain, plain_plural


# -- measuring and wrapping Chinese text ---------------------------------------------------

def _char_width(ch: str) -> int:
    if unicodedata.combining(ch):
        return 0
    return 2 if _wide(ch) else 1


def display_width(text: str) -> int:
    """Columns ``text`` takes in a terminal: two for a Chinese character, one for a Latin."""
    return sum(_char_width(ch) for ch in click.unstyle(text))


def _wide(ch: str) -> bool:
    return unicodedata.east_asian_width(ch) in "WF"


def _tokens(text: str) -> list[str]:
    """Pieces a line may break between: each Chinese character alone, each run of other
    characters (an option name, a number, a file name) whole, and the spaces between them;
    closing marks joined to what comes before, opening marks to what follows."""
    pieces: list[str] = []
    for ch in text:
        if ch.isspace():
            if pieces and pieces[-1].isspace():
                pieces[-1] += ch
            else:
                pieces.append(ch)
        elif _wide(ch) or ch in NO_LINE_START or ch in NO_LINE_END:
            pieces.append(ch)
        elif pieces and not pieces[-1].isspace() and not _wide(pieces[-1][-1]) \
                and pieces[-1][-1] not in NO_LINE_START and pieces[-1][-1] not in NO_LINE_END:
            pieces[-1] += ch
        else:
            pieces.append(ch)
    out: list[str] = []
    glue_next = False
    for piece in pieces:
        if out and not piece.isspace() and (glue_next or piece[0] in NO_LINE_START) \
                and not out[-1].isspace():
            out[-1] += piece
        else:
            out.append(piece)
        glue_next = not piece.isspace() and piece[-1] in NO_LINE_END
    return out


def _join_lines(lines: list[str]) -> str:
    """A paragraph's source lines as one text: joined by a space between Latin words,
    by nothing where either side is Chinese."""
    text = ""
    for line in (x.strip() for x in lines):
        if not line:
            continue
        if text and not (_wide(text[-1]) or _wide(line[0])):
            text += " "
        text += line
    return text


def _wrap_paragraph(text: str, width: int, first: str, rest: str) -> list[str]:
    lines: list[str] = []
    line, used = first, display_width(first)
    indent = first
    for token in _tokens(text):
        w = display_width(token)
        if token.isspace():
            if line.strip() and used + w <= width:
                line, used = line + " ", used + 1
            continue
        if used + w > width and line.strip():
            lines.append(line.rstrip())
            indent = rest
            line, used = rest, display_width(rest)
        line, used = line + token, used + w
    if line.strip() or not lines:
        lines.append(line.rstrip() if line.strip() else indent.rstrip())
    return lines


def wrap(text: str, width: int, initial_indent: str = "", subsequent_indent: str = "",
         preserve_paragraphs: bool = False) -> str:
    """click's ``wrap_text`` for Chinese: paragraphs (blank-line separated) wrapped to
    ``width`` columns; a paragraph after a line holding only ``\\b`` is kept as written."""
    if not preserve_paragraphs:
        return "\n".join(_wrap_paragraph(_join_lines(text.splitlines()), width,
                                         initial_indent, subsequent_indent))
    out: list[str] = []
    blocks: list[list[str]] = [[]]
    for line in text.splitlines():
        if not line.strip():
            if blocks[-1]:
                blocks.append([])
        else:
            blocks[-1].append(line)
    first = True
    for block in (b for b in blocks if b):
        if not first:
            out.append("")
        lead = initial_indent if first else subsequent_indent
        if block[0].strip() == "\b":
            out += [subsequent_indent + x.rstrip() for x in block[1:]]
        else:
            out += _wrap_paragraph(_join_lines(block), width, lead, subsequent_indent)
        first = False
    return "\n".join(out)


# -- click's help, laid out for Chinese --------------------------------------------------------

class HelpFormatter(click.HelpFormatter):
    """click's help formatter with Chinese punctuation and a terminal's measure of width."""

    def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
        prefix = CLICK_WORDS["Usage:"] if prefix is None else prefix
        lead = f"{prefix:>{self.current_indent}}{prog} "
        if not args:
            self.write(lead.rstrip() + "\n")
            return
        indent = " " * display_width(lead)
        self.write(wrap(args, self.width - self.current_indent, lead, indent) + "\n")

    def write_heading(self, heading: str) -> None:
        self.write(f"{'':>{self.current_indent}}{heading}：\n")

    def write_text(self, text: str) -> None:
        indent = " " * self.current_indent
        self.write(wrap(text, self.width, indent, indent, preserve_paragraphs=True) + "\n")

    def write_dl(self, rows, col_max: int = 30, col_spacing: int = 2) -> None:
        rows = [tuple(r) + ("",) * (2 - len(r)) for r in rows]
        first_col = min(max((display_width(a) for a, _ in rows), default=0), col_max) + col_spacing
        for term, text in rows:
            self.write(f"{'':>{self.current_indent}}{term}")
            if not text:
                self.write("\n")
                continue
            if display_width(term) <= first_col - col_spacing:
                self.write(" " * (first_col - display_width(term)))
            else:
                self.write("\n" + " " * (first_col + self.current_indent))
            text_width = max(self.width - first_col - self.current_indent, 20)
            lines = wrap(text, text_width, preserve_paragraphs=True).splitlines()
            self.write((lines[0] if lines else "") + "\n")
            for line in lines[1:]:
                self.write(f"{'':>{first_col + self.current_indent}}{line}\n" if line else "\n")


class Context(click.Context):
    formatter_class = HelpFormatter


def _short(text: str) -> str:
    """A command's line in its group's list: its help up to the first colon or full stop."""
    first = text.strip().split("\n\n")[0]
    for mark in ("：", "。"):
        if mark in first:
            return first[:first.index(mark)]
    return first


class _InChinese:
    """What a command and a group say alike: the help option, the short help."""

    context_class = Context

    def get_help_option(self, ctx: click.Context) -> click.Option | None:
        option = super().get_help_option(ctx)
        if option is not None:
            option.help = HELP_WORDS
        return option

    def get_short_help_str(self, limit: int = 45) -> str:
        return self.short_help or _short(self.help or "")


class Command(_InChinese, click.Command):
    """A command whose help and errors are Chinese."""


class Group(_InChinese, click.Group):
    """A group whose help and errors are Chinese, and whose commands are too."""

    command_class = Command
    group_class = type   # subgroups made with .group() are of this class too

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode: bool = True,
             **extra):
        """click's ``main`` in Chinese: its words through :func:`click_in_chinese`, and an
        error as the usage line, where to find help, and one Chinese sentence."""
        with click_in_chinese():
            if not standalone_mode:
                return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
            try:
                # Not standalone, click returns what its standalone mode would exit with
                # (0, or the code of ctx.exit) and raises its errors for _tell.
                code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
            except click.ClickException as e:
                _tell(e)
                sys.exit(e.exit_code)
            except (click.Abort, EOFError, KeyboardInterrupt):
                click.echo(CLICK_WORDS["Aborted!"], err=True)
                sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


# What click (8.2 and later) raises for a group called without a command.
_HELP_IS_THE_ANSWER = getattr(click.exceptions, "NoArgsIsHelpError", ())


def _named(param: click.Parameter, ctx: click.Context | None) -> str:
    if isinstance(param, click.Argument):
        name = param.make_metavar(ctx) if ctx is not None else (param.metavar or param.name or "")
    else:
        name = " / ".join(param.opts)
    return f"“{name}”"


def _tell(e: click.ClickException) -> None:
    """An error as the user reads it: the usage and where help is, then one sentence."""
    ctx = getattr(e, "ctx", None)
    param = getattr(e, "param", None)
    if isinstance(e, _HELP_IS_THE_ANSWER):   # a group called alone: its help is the answer
        click.echo(e.format_message(), err=True)
        return
    if isinstance(e, click.MissingParameter) and param is not None:
        what = "参数" if isinstance(param, click.Argument) else "选项"
        sentence = f"缺少{what}{_named(param, ctx)}。"
    elif isinstance(e, click.BadParameter) and param is not None:
        sentence = f"{_named(param, ctx)}的取值不对：{e.message}"
    else:
        sentence = e.format_message()
    if ctx is not None:
        click.echo(ctx.get_usage(), err=True)
        names = ctx.command.get_help_option_names(ctx)
        if names and ctx.command.add_help_option:
            click.echo(CLICK_WORDS["Try '{command} {option}' for help."].format(
                command=ctx.command_path, option=max(names, key=len)), err=True)
        click.echo("", err=True)
    click.echo(CLICK_WORDS["Error: {message}"].format(message=sentence), err=True)



# -- what every command says alike --------------------------------------------------------------

# Looking at a path the user gave: Path.exists() and its kin raise where a folder above
# cannot be searched. What cannot be told is left to the reading or writing, which says why.

def found(path: Path) -> bool:
    """``path`` is there (or cannot be told)."""
    try:
        return path.exists()
    except OSError:
        return True


def a_file(path: Path) -> bool:
    """``path`` is there and is a file (or cannot be told)."""
    try:
        return path.is_file()
    except OSError:
        return True


def in_the_way(path: Path) -> bool:
    """``path`` is a file where a folder is wanted (False when it cannot be told)."""
    try:
        return path.exists() and not path.is_dir()
    except OSError:
        return False


def fail_to_write(e: OSError, given=None, what: str | None = None) -> None:
    """An output that cannot be written: one Chinese sentence on stderr, exit 1.

    ``e`` is a :class:`~xlsx_tools.writing.CannotWrite` (any other OSError is worded
    as one); ``given`` is the path the user gave, when the library named a file under it.
    """
    from .writing import CannotWrite

    failure = e if isinstance(e, CannotWrite) else CannotWrite(given or e.filename or "", e)
    if given is not None:
        failure = failure.naming(given, what)
    click.echo(str(failure), err=True)
    raise SystemExit(1)
