"""An output that cannot be written is one Chinese sentence naming the path the user gave,
and exit 1: for every command that writes, in every place tests/_unwritable.py makes for real
(under a file, a read-only folder, a full disk, a file past the size the system allows).

Nothing is half written: no temporary file stays, and a summary that cannot be written in
full replaces none that was there.
"""

from __future__ import annotations

import errno
import re
import shutil
from pathlib import Path

import httpx
import pytest
from _unwritable import PLACES, leftovers, one_sentence_naming, place, run, unquoted
from _web import LiveServer
from click.testing import CliRunner

from xlsx_tools.cli import main
from xlsx_tools.merge import OVERVIEW_STEM
from xlsx_tools.round import ANNOTATED, SUMMARIES, Round
from xlsx_tools.validate import VERDICTS
from xlsx_tools.writing import CannotWrite, why_not_written, write_files

ROOT = Path(__file__).resolve().parent.parent
RETURNED = ROOT / "samples" / "returned"
ROSTER = ROOT / "samples" / "roster.csv"
# Two returns with findings (an error, a warning): each gets an annotated copy.
FILES = ("第一批-检验检测类-太湖集成电路封装计量测试研究所.xlsx",
         "第一批-创新成果产业化类-华南节能环保装备成果转化服务有限公司.xlsx")


@pytest.fixture
def work(tmp_path):
    """A folder as a clerk has it: two returns and a roster of three units."""
    for name in FILES:
        shutil.copyfile(RETURNED / name, tmp_path / name)
    lines = ROSTER.read_text(encoding="utf-8-sig").splitlines()
    (tmp_path / "名单.csv").write_text("\n".join(lines[:4]) + "\n", encoding="utf-8-sig")
    yield tmp_path
    for p in [tmp_path, *tmp_path.rglob("*")]:    # so that pytest can remove it
        if p.is_dir():
            p.chmod(0o755)


def _fails_once(work: Path, kind: str, given: Path, *args) -> str:
    code, _out, err = run(kind, work, *args)
    assert code == 1, (kind, err)
    return one_sentence_naming(err, given)


# -- validate ---------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", PLACES)
def test_validate_report_that_cannot_be_written(work, kind):
    given = place(kind, work) / "问题清单.xlsx"
    _fails_once(work, kind, given, "validate", *FILES, "--report", given, "--jobs", "1")
    assert not leftovers(work / given.parent)


# The four places on the first and on merge (which writes a set); one or two elsewhere, for
# each command's own way to the same sentence.

@pytest.mark.parametrize("kind", ["disk_full", "under_a_file"])
def test_validate_json_that_cannot_be_written(work, kind):
    given = place(kind, work) / "结果.json"
    _fails_once(work, kind, given, "validate", *FILES, "--json", given, "--jobs", "1")
    assert not leftovers(work / given.parent)


@pytest.mark.parametrize("kind", ["read_only", "file_too_big"])
def test_annotated_copies_that_cannot_be_written_are_one_sentence_for_the_run(work, kind):
    given = place(kind, work) / "退回"
    code, out, err = run(kind, work, "validate", *FILES, "--annotate", given, "--jobs", "1")
    assert code == 1
    one_sentence_naming(err, given)
    # Both files keep their verdict: the copies failed, not the checks.
    verdicts = {line.split("  ")[0] for line in out.splitlines() if any(f in line for f in FILES)}
    assert verdicts == {VERDICTS["rejected"], VERDICTS["warnings"]}, out


def test_the_reports_that_can_be_written_are_and_each_that_cannot_is_said(work):
    given = place("under_a_file", work) / "结果.json"
    code, out, err = run("under_a_file", work, "validate", *FILES, "--json", given,
                         "--report", "问题清单.xlsx", "--jobs", "1")
    assert code == 1
    one_sentence_naming(err, given)
    assert (work / "问题清单.xlsx").is_file() and "问题清单.xlsx" in out


# -- merge and generate -----------------------------------------------------------------------

@pytest.mark.parametrize("kind", PLACES)
def test_merge_out_that_cannot_be_written(work, kind):
    given = place(kind, work) / "汇总"
    _fails_once(work, kind, given, "merge", *FILES, "--out", given, "--jobs", "1")
    assert not leftovers(work / given.parent)


def test_merge_replaces_none_of_the_summaries_when_one_cannot_be_written(work):
    out = work / "汇总"
    assert CliRunner().invoke(main, ["merge", *(str(work / f) for f in FILES), "--out", str(out),
                                     "--jobs", "1"]).exit_code == 0
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    # The overview's name taken by a folder: the batch's summary could be written, but is not.
    (out / f"{OVERVIEW_STEM}.xlsx").unlink()
    (out / f"{OVERVIEW_STEM}.xlsx").mkdir()
    (out / "汇总-第一批.csv").write_bytes(b"an older summary")
    result = CliRunner().invoke(main, ["merge", str(work / FILES[0]), "--out", str(out), "--jobs", "1"])
    assert result.exit_code == 1
    one_sentence_naming(result.stderr, out)
    assert (out / "汇总-第一批.csv").read_bytes() == b"an older summary"
    assert (out / "汇总-第一批.xlsx").read_bytes() == before["汇总-第一批.xlsx"]
    assert not leftovers(out)


@pytest.mark.parametrize("kind", ["under_a_file", "disk_full"])
def test_generate_out_that_cannot_be_written(work, kind):
    given = place(kind, work) / "统计表"
    _fails_once(work, kind, given, "generate", "--out", given)
    assert not leftovers(work / given.parent)


@pytest.mark.parametrize("kind", ["read_only"])
def test_generate_roster_that_cannot_be_written_is_one_sentence(work, kind):
    given = place(kind, work) / "下发"
    _fails_once(work, kind, given, "generate", "--roster", "名单.csv", "--out", given)


# -- the round ----------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["under_a_file", "read_only"])
def test_round_init_where_it_cannot_be_made(work, kind):
    given = place(kind, work) / "2022年评估"
    _fails_once(work, kind, given, "round", "init", given, "--roster", "名单.csv")


@pytest.fixture
def a_round(work):
    folder = work / "轮次"
    with Round.init(folder, work / "名单.csv") as rnd:
        rnd.receive([work / f for f in FILES])
    return Path("轮次")


def test_round_status_remind_that_cannot_be_written(work, a_round):
    given = place("under_a_file", work) / "催报名单.xlsx"
    _fails_once(work, "under_a_file", given, "round", "status", a_round, "--remind", given)


def test_a_round_it_may_read_but_not_write_is_one_sentence(work, a_round):
    place("read_only", work)      # skips where no unprivileged user can be had
    for p in [work / a_round, *(work / a_round).rglob("*")]:
        p.chmod(p.stat().st_mode & ~0o222)
    for args in (["round", "receive", a_round, FILES[0]], ["merge", "--round", a_round]):
        _fails_once(work, "read_only", a_round, *args)


def test_merge_round_out_that_cannot_be_written(work, a_round):
    given = place("under_a_file", work) / "汇总"
    _fails_once(work, "under_a_file", given, "merge", "--round", a_round, "--out", given)


def test_merge_round_into_its_summaries_that_cannot_be_written(work, a_round):
    summaries = a_round / SUMMARIES
    (work / summaries).write_text("not a folder", encoding="utf-8")
    line = _fails_once(work, "under_a_file", summaries, "merge", "--round", a_round)
    assert not leftovers(work / a_round)
    assert line


def test_serve_says_in_chinese_what_it_cannot_write(work, a_round):
    """A page asking for a file the round must make (an annotated copy) where it cannot be."""
    (work / a_round / ANNOTATED).write_text("not a folder", encoding="utf-8")
    with Round.open(work / a_round) as rnd, LiveServer(rnd) as server:
        unit = next(u for u in rnd.units() if u.chosen is not None and u.chosen.errors)
        page = httpx.get(f"{server.url}versions/{unit.chosen.id}/annotated", timeout=60)
    assert page.status_code == 500
    assert f"“{work / a_round / ANNOTATED}”" in page.text
    assert "Error" not in page.text and "Traceback" not in page.text


# -- the sentence ---------------------------------------------------------------------------------

@pytest.mark.parametrize("code", [errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT,
                                  errno.EFBIG, errno.ENAMETOOLONG, errno.ENOENT, errno.EIO,
                                  errno.EISDIR, errno.ENOTDIR, errno.EEXIST, errno.EBUSY])
def test_every_reason_is_chinese_and_names_no_system_text(tmp_path, code):
    reason = why_not_written(OSError(code, "Some English text", str(tmp_path / ".tmp-abc")),
                             tmp_path / "x.xlsx")
    assert reason and not re.search("[A-Za-z]", unquoted(reason)) and ".tmp-" not in reason


def test_a_set_of_files_is_written_all_or_none(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "b.txt").write_text("old", encoding="utf-8")

    def fails(p: Path) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(CannotWrite) as e:
        write_files(out, {"a.txt": lambda p: p.write_text("new"), "b.txt": fails}, what="汇总文件夹")
    assert str(e.value).startswith(f"无法写入汇总文件夹“{out}”")
    assert e.value.errno == errno.ENOSPC
    assert sorted(p.name for p in out.iterdir()) == ["b.txt"]
    assert (out / "b.txt").read_text(encoding="utf-8") == "old"


def test_a_set_that_fails_while_put_in_place_puts_back_what_was_there(tmp_path):
    """The last file's writing makes a folder of the second's name: the first is already in
    place when the second cannot be, and is taken back."""
    out = tmp_path / "out"
    out.mkdir()
    for name in ("a.txt", "c.txt"):
        (out / name).write_text("old " + name, encoding="utf-8")

    def last(p: Path) -> None:
        p.write_text("new", encoding="utf-8")
        (out / "b.txt").mkdir()

    with pytest.raises(CannotWrite) as e:
        write_files(out, {"a.txt": lambda p: p.write_text("new"), "b.txt": lambda p: p.write_text("new"),
                          "c.txt": last})
    assert "b.txt" in str(e.value)
    assert sorted(p.name for p in out.iterdir()) == ["a.txt", "b.txt", "c.txt"]
    assert [(out / n).read_text(encoding="utf-8") for n in ("a.txt", "c.txt")] == ["old a.txt", "old c.txt"]


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc")
def test_a_folder_that_is_there_but_takes_no_file_is_not_said_to_be_missing(tmp_path):
    """/proc is there and takes no new file (ENOENT, as for a missing folder)."""
    sample = Path(__file__).resolve().parent.parent / "samples" / "returned"
    one = next(sample.glob("第一批-*.xlsx"))
    there = CliRunner().invoke(main, ["validate", str(one), "--json", "/proc/x.json"])
    assert "“/proc/x.json”：这个文件夹中不能新建文件" in there.output, there.output
    missing = CliRunner().invoke(main, ["validate", str(one), "--json", "/proc/没有/x.json"])
    assert "文件夹不存在，也无法创建" in missing.output, missing.output
