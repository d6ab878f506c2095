"""The command speaks Chinese, click's own words included, laid out for Chinese text."""

import gettext
import re
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from xlsx_tools.cli import main
from xlsx_tools.cli_words import CLICK_WORDS, display_width

ENGLISH = re.compile(r"\b(Usage|Options|Commands|Show this|Error|Try|Missing|No such|is not|Invalid|"
                     r"default|required|TEXT|PATH|INTEGER|FILE|DIRECTORY)\b")
# What a help text may say in Latin letters: option and command names, file names and
# their endings, and the names of programs, formats and keys a clerk meets.
LATIN_ALLOWED = {"xlsx", "tools", "Excel", "TOML", "CSV", "JSON", "README", "HTTP", "Basic", "Ctrl",
                 "XLSX_TOOLS_PASSWORD", "roster", "round", "sqlite", "files", "summaries", "previous",
                 "generate", "validate", "merge", "serve", "init", "receive", "status", "zip", "CPU",
                 "Office"}
FULL_WIDTH_TEXT = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")


def _commands(group: click.Group, path=()):
    """(command path, command) for every command and group of the tree."""
    yield path, group
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            yield from _commands(command, (*path, name))
        else:
            yield (*path, name), command


COMMANDS = [p for p, _ in _commands(main)]


def _help(path) -> str:
    result = CliRunner().invoke(main, [*path, "--help"], prog_name="xlsx-tools", terminal_width=80)
    assert result.exit_code == 0, result.output
    return result.output


def _latin_words(text: str) -> set[str]:
    text = re.sub(r"“[^”]*”", "", text)                    # what is quoted: names
    text = re.sub(r"(?<![\w.])-{1,2}[a-z][\w-]*", "", text)  # option names
    text = re.sub(r"[\w*.-]*\.(toml|csv|xlsx|json|zip|sqlite)\b", "", text)   # file names
    return set(re.findall(r"[A-Za-z_]{2,}", text))


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "xlsx-tools")
def test_help_is_chinese_throughout(path):
    text = _help(path)
    assert "用法：" in text and "选项：" in text
    assert not ENGLISH.search(text), text
    assert _latin_words(text) <= LATIN_ALLOWED, (_latin_words(text) - LATIN_ALLOWED, text)
    # One kind of colon: a full-width one wherever the line is Chinese (never ASCII beside it).
    for line in text.splitlines():
        if FULL_WIDTH_TEXT.search(line):
            assert not re.search(r"(?<![a-z])[:](?!//)", line), line


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "xlsx-tools")
def test_help_is_laid_out_as_a_terminal_shows_it(path):
    """Every line fits 80 columns, a Chinese character counted as two; the descriptions of
    the options (and commands) start in one column."""
    lines = _help(path).splitlines()
    assert all(display_width(line) <= 80 for line in lines), max(lines, key=display_width)
    rows = [line for line in lines if re.match(r"^  (-|[a-z])", line)]
    starts = set()
    for line in rows:
        head = re.match(r"^  (\S+(?: \S+)?)(?: {2,}|$)", line)
        if head and len(line) > len(head.group(0)):
            starts.add(display_width(head.group(0)))
    assert len(starts) <= 2, (starts, rows)   # the options' column and the commands' column


def test_every_option_names_its_value_in_chinese():
    for path, command in _commands(main):
        ctx = click.Context(command, info_name=" ".join(path) or "xlsx-tools")
        for param in command.get_params(ctx):
            if isinstance(param, click.Option) and (param.is_flag or param.count):
                continue
            metavar = param.make_metavar(ctx)
            assert FULL_WIDTH_TEXT.search(metavar), (path, param.name, metavar)
            # Every number the commands take is a whole number, as the error for one says.
            if isinstance(param.type, click.types._NumberParamTypeBase):
                assert isinstance(param.type, click.types.IntParamType), (path, param.name)


@pytest.mark.parametrize("args", [["nosuch"], ["validate", "--nosuch", "x"], ["validate", "--jobs", "x", "."],
                                  ["merge", "--jobs"], ["round", "init"], ["round", "status"],
                                  ["validate", ".", "--json", "."], ["serve"], [], ["round"],
                                  ["generate", "extra"]])
def test_usage_errors_are_chinese_and_exit_2(args):
    result = CliRunner().invoke(main, args, prog_name="xlsx-tools")
    assert result.exit_code == 2, result.output
    text = result.stderr
    assert text.strip() and not ENGLISH.search(text), text
    assert "Traceback" not in text
    errors = [line for line in text.splitlines() if line.startswith("错误：")]
    if args and args != ["round"]:
        # Usage, where to find help, then the one error, in the words of the help.
        assert text.splitlines()[0].startswith("用法：") or errors, text
        typed = {"nosuch", "extra"}
        assert len(errors) == 1 and not _latin_words(errors[0]) - LATIN_ALLOWED - typed, text
        assert not re.search(r"'[^']*'", errors[0]), errors[0]      # names are quoted “so”


def test_click_is_chinese_only_while_a_command_runs():
    plain = gettext.dgettext
    CliRunner().invoke(main, ["--help"])
    assert gettext.dgettext is plain
    assert gettext.gettext("Usage:") == "Usage:"
    assert CLICK_WORDS["Usage:"] == "用法："


def test_installed_command_runs_as_a_program(tmp_path):
    done = subprocess.run([sys.executable, "-m", "xlsx_tools.cli", "--version"],
                          capture_output=True, text=True)
    assert done.returncode == 0 and "xlsx-tools" in done.stdout and "版本" in done.stdout
    wrong = subprocess.run([sys.executable, "-m", "xlsx_tools.cli", "validate", "--nosuch"],
                           capture_output=True, text=True)
    assert wrong.returncode == 2 and "错误：" in wrong.stderr and "Traceback" not in wrong.stderr


def test_package_exports_the_api_lazily():
    code = ("import sys, xlsx_tools; assert 'pandas' not in sys.modules; "
            "from xlsx_tools import validate_file, validate_paths, merge_paths, generate_blank, "
            "read_workbook, write_report_xlsx; print('ok')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip() == "ok", done.stderr


def test_validate_lists_the_batches_in_the_forms_order(tmp_path):
    """The console and both sheets of --report: 第一批…第四批, 平台项目, never the codes' order."""
    import openpyxl
    from _listing import SAMPLES, in_lines, listing_order

    report = tmp_path / "问题清单.xlsx"
    res = CliRunner().invoke(main, ["validate", str(SAMPLES / "returned"), "--report", str(report)])
    assert in_lines(res.output) == listing_order()
    wb = openpyxl.load_workbook(report)
    files = [c.value for c in list(wb["文件情况"].iter_cols(1, 1))[0][1:]]
    assert files == listing_order()
    found = [c.value for c in list(wb["问题清单"].iter_cols(1, 1))[0][1:]]
    assert [n for n in listing_order() if n in found] == list(dict.fromkeys(found))
