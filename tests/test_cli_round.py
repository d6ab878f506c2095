"""The round's commands as the README gives them: round init|receive|status, merge --round, serve."""

from __future__ import annotations

import re
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from xlsx_tools.catalogue import status_word
from xlsx_tools.cli import main
from xlsx_tools.form import load_form
from xlsx_tools.round import (ST_ACCEPTED, ST_EXPLAINED, ST_FAILED, ST_MISSING, ST_RECEIVED_BEFORE,
                              ST_TO_CONFIRM, ST_UNREADABLE, ST_WARNINGS, Round)

ROOT = Path(__file__).resolve().parent.parent
RETURNED = ROOT / "samples" / "returned"
ROSTER = ROOT / "samples" / "roster.csv"
ENGLISH = re.compile(r"\b(Usage|Options|Commands|Show this|Error|Try|Missing|No such|is not|Traceback)\b")


def _run(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.mark.parametrize("args", [["round", "--help"], ["round", "init", "--help"],
                                  ["round", "receive", "--help"], ["round", "status", "--help"],
                                  ["serve", "--help"]])
def test_help_is_chinese(args):
    result = _run(*args)
    assert result.exit_code == 0 and "用法" in result.output
    assert not ENGLISH.search(result.output), result.output


def test_the_readme_commands_run_a_round(tmp_path):
    folder = tmp_path / "2022年评估"
    made = _run("round", "init", folder, "--roster", ROSTER)
    assert made.exit_code == 0, made.output
    assert (folder / "round.sqlite").is_file()
    got = _run("round", "receive", folder, RETURNED)
    assert got.exit_code == 0, got.output
    lines = got.output.splitlines()
    verdicts = (ST_ACCEPTED, ST_WARNINGS, ST_EXPLAINED, ST_FAILED, ST_UNREADABLE)
    assert sum(1 for line in lines if line.split("  ")[0] in verdicts) == 41
    assert lines[-2].startswith("共收到 41 个文件")
    status = _run("round", "status", folder, "--remind", tmp_path / "催报名单.xlsx")
    assert status.exit_code == 0, status.output
    rows = [line for line in status.output.splitlines() if re.match(r"^\s+\d+  ", line)]
    off_roster = status_word("off_roster")
    assert len(rows) == 41 and f"[{off_roster}]" in status.output
    counts = "，".join(f"{word} {n}" for word, n in (
        (ST_MISSING, 1), (ST_ACCEPTED, 26), (ST_WARNINGS, 6), (ST_EXPLAINED, 2), (ST_FAILED, 4),
        (ST_UNREADABLE, 1), (ST_TO_CONFIRM, 1)))
    totals = next(line for line in status.output.splitlines() if line.startswith("共 41 个单位："))
    # The off-roster count is an item of its own, not a part of the 待确认 before it.
    assert totals.startswith(f"共 41 个单位：{counts}；") and f"{off_roster}单位 1 个" in totals
    assert "（其中" not in totals
    # Each 待确认 unit under the totals, with the reason its page gives.
    with Round.open(folder) as rnd:
        [unsure] = [u for u in rnd.units() if u.status == ST_TO_CONFIRM]
    after = status.output.split(totals, 1)[1]
    assert f"{unsure.unit}（{unsure.batch}）：{unsure.note}" in after
    sheet = openpyxl.load_workbook(tmp_path / "催报名单.xlsx").active
    assert len(list(sheet.iter_rows(min_row=4))) == 6
    merged = _run("merge", "--round", folder)
    assert merged.exit_code == 0, merged.output
    # The summaries took the 待确认 unit's default: merge says so, and why.
    assert f"{unsure.unit}（{unsure.batch}）：{unsure.note}" in merged.output
    with Round.open(folder) as rnd:
        [build] = rnd.summary_builds()
    assert (build / "汇总-总览.xlsx").is_file() and str(build) in merged.output
    out = _run("merge", "--round", folder, "--out", tmp_path / "汇总结果")
    assert out.exit_code == 0 and (tmp_path / "汇总结果" / "汇总-第一批.csv").is_file()
    again = _run("round", "receive", folder, RETURNED / "第一批-信息服务类-滨海产业链数据科技信息研究所.xlsx")
    assert again.output.startswith(f"{ST_RECEIVED_BEFORE}  ")


def test_mistakes_are_told_in_chinese_with_exit_2(tmp_path):
    folder = tmp_path / "轮次"
    for args in (["round", "init", folder], ["round", "init", folder, "--roster", tmp_path / "无.csv"],
                 ["round", "receive", tmp_path / "不是轮次", RETURNED], ["round", "status", tmp_path],
                 ["round", "init", folder, "--roster", ROSTER, "--form", tmp_path / "无.toml"],
                 ["serve", folder, "--host", "0.0.0.0"]):
        result = _run(*args)
        assert result.exit_code == 2, (args, result.output)
        assert not ENGLISH.search(result.output), result.output
    assert _run("round", "init", folder, "--roster", ROSTER).exit_code == 0
    assert _run("round", "init", folder, "--roster", ROSTER).exit_code == 2     # not empty any more
    assert _run("round", "receive", folder).exit_code == 2
    assert _run("merge", RETURNED, "--round", folder).exit_code == 2
    # The round's own copy of the definition is used: no --form after round init.
    assert _run("merge", "--round", folder, "--form", ROOT / "xlsx_tools" / "forms" / "itbps-2022.toml"
                ).exit_code == 2
    bad = tmp_path / "坏名单.csv"
    bad.write_text("单位名称,列入批次,平台类别,推荐单位\n某院,第九批,检验检测,某厅\n", encoding="utf-8")
    result = _run("round", "init", tmp_path / "另一轮", "--roster", bad)
    assert result.exit_code == 1 and "第2行" in result.output and not (tmp_path / "另一轮").exists()


def test_receiving_an_unreadable_file_again_still_says_why(tmp_path):
    folder = tmp_path / "轮次"
    empty = tmp_path / "空文件.xlsx"
    empty.write_bytes(b"")
    assert _run("round", "init", folder, "--roster", ROSTER).exit_code == 0
    first = _run("round", "receive", folder, empty).output.splitlines()[0]
    again = _run("round", "receive", folder, empty).output.splitlines()[0]
    reason = first.split("  ")[-1]
    assert first.startswith(f"{ST_UNREADABLE}  ") and reason == load_form().catalogue.message("empty")
    assert again.startswith(f"{ST_RECEIVED_BEFORE}  ") and "空文件.xlsx" in again and reason in again


def _said_files(output: str) -> set[Path]:
    """Every file merge says it wrote, where it says it is."""
    out = set()
    for line in output.splitlines():
        if m := re.match(r"^已写入 (.+?)：(.+)$", line):
            out |= {Path(m[1]) / name for name in m[2].split("、")}
        elif m := re.match(r"^各.+的汇总 (\d+) 个，在 (.+)$", line):
            out |= set(Path(m[2]).glob("*.xlsx"))
            assert len(list(Path(m[2]).glob("*.xlsx"))) == int(m[1])
    return out


@pytest.mark.parametrize("round_", [True, False])
def test_merge_says_where_each_file_it_wrote_is(tmp_path, round_):
    if round_:
        folder = tmp_path / "轮次"
        assert _run("round", "init", folder, "--roster", ROSTER).exit_code == 0
        assert _run("round", "receive", folder, RETURNED).exit_code == 0
        merged = _run("merge", "--round", folder)
        [top] = (folder / "summaries").iterdir()
    else:
        top = tmp_path / "汇总结果"
        merged = _run("merge", RETURNED, "--roster", ROSTER, "--out", top)
    assert merged.exit_code == 0, merged.output
    said = _said_files(merged.output)
    assert said == {p for p in top.rglob("*") if p.is_file()}, merged.output


def test_receive_lists_the_batches_in_the_forms_order(tmp_path):
    from _listing import in_lines, listing_order

    assert _run("round", "init", tmp_path / "轮次", "--roster", ROSTER).exit_code == 0
    res = _run("round", "receive", tmp_path / "轮次", RETURNED)
    assert res.exit_code == 0, res.output
    assert in_lines(res.output) == listing_order()


def test_receive_counts_every_file_given_the_repeats_too(tmp_path):
    """「共收到 3 个文件」 adds up to 3: the one received before is 已收到过, not left out."""
    files = tmp_path / "回收"
    files.mkdir()
    kept = sorted(RETURNED.glob("第一批-*.xlsx"))[0]
    (files / "a.xlsx").write_bytes(kept.read_bytes())
    (files / "b.pdf").write_bytes(b"%PDF-1.4 not a workbook")
    assert _run("round", "init", tmp_path / "轮次", "--roster", ROSTER).exit_code == 0
    assert _run("round", "receive", tmp_path / "轮次", files / "a.xlsx").exit_code == 0
    res = _run("round", "receive", tmp_path / "轮次", files)
    assert res.exit_code == 0, res.output
    total = next(line for line in res.output.splitlines() if line.startswith("共收到"))
    assert total.startswith("共收到 2 个文件：")
    counted = [int(n) for n in re.findall(r"(\d+)", total.split("：", 1)[1])]
    assert sum(counted) == 2 and f"{ST_RECEIVED_BEFORE} 1" in total
