"""The command speaks Chinese, click's own words included."""

import re
import subprocess
import sys

import pytest
from click.testing import CliRunner

from xlsx_tools.cli import main

ENGLISH = re.compile(r"\b(Usage|Options|Commands|Show this|Error|Try|Missing|No such|is not)\b")


@pytest.mark.parametrize("args", [["--help"], ["generate", "--help"], ["validate", "--help"],
                                  ["merge", "--help"]])
def test_help_has_no_english_words(args):
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0
    assert "用法" in result.output and "选项" in result.output
    assert not ENGLISH.search(result.output), result.output


@pytest.mark.parametrize("args", [["nosuch"], ["validate", "--nosuch", "x"],
                                  ["validate", "--jobs", "x", "."], ["merge", "--jobs"], []])
def test_usage_errors_are_chinese_and_exit_2(args):
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.output
    assert not ENGLISH.search(result.output), result.output
    assert "Traceback" not in result.output


def test_installed_command_runs_as_a_program(tmp_path):
    done = subprocess.run([sys.executable, "-m", "xlsx_tools.cli", "--version"],
                          capture_output=True, text=True)
    assert done.returncode == 0 and "xlsx-tools" in done.stdout and "版本" in done.stdout


def test_package_exports_the_api_lazily():
    code = ("import sys, xlsx_tools; assert 'pandas' not in sys.modules; "
            "from xlsx_tools import validate_file, validate_paths, merge_paths, generate_blank, "
            "read_workbook, write_report_xlsx; print('ok')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip() == "ok", done.stderr
