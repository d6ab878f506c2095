"""The round through the library: its folder, the ledger, receiving, versions, choosing, merging.

The sample round (samples/) is received into a new round's folder; what each
unit shows is checked against samples/expected.json, and the summaries of the
round against those of ``merge`` over the same folder.
"""

from __future__ import annotations

import csv
import io
import json
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import openpyxl
import pytest
from _round_files import another_save

from xlsx_tools.archive import unpack
from xlsx_tools.form import load_form
from xlsx_tools.ledger import FILE_NAME as LEDGER_FILE
from xlsx_tools.ledger import Ledger
from xlsx_tools.merge import OVERVIEW_STEM, merge_config, merge_paths
from xlsx_tools.read import MAX_FILE_BYTES, MAX_MEMBERS
from xlsx_tools.reminders import LAST_RECEIVED, reminder_columns, reminders, write_reminders_xlsx
from xlsx_tools.roster import RosterError
from xlsx_tools.round import (
    FILES,
    FORM_FILE,
    ST_ACCEPTED,
    ST_EXPLAINED,
    ST_FAILED,
    ST_MISSING,
    ST_RECEIVED_BEFORE,
    ST_TO_CONFIRM,
    ST_UNREADABLE,
    ST_WARNINGS,
    STATUSES,
    Round,
    RoundError,
)
from xlsx_tools.store import INCOMING, Store, sender_name
from xlsx_tools.validate import validate_file
from xlsx_tools.write import generate_from_roster

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
RETURNED = SAMPLES / "returned"
ROSTER = SAMPLES / "roster.csv"
FORM = load_form()
# samples/expected.json's status codes (merge's, across a batch) -> the round's word for the unit.
ROUND_WORD = {"rejected": ST_FAILED, "warnings": ST_WARNINGS, "explained": ST_EXPLAINED,
              "accepted": ST_ACCEPTED, "off_roster": ST_ACCEPTED}
# The roster's columns that are not fields, as the shipped definition declares them.
CONTACT, PHONE = (next(c for c in FORM.roster_columns if c.key == k) for k in ("contact", "phone"))


def _expected() -> dict:
    """samples/expected.json, its roles named as the round names them."""
    data = json.loads((SAMPLES / "expected.json").read_text(encoding="utf-8"))
    for entry in data["roster"] + data["files"]:
        for role in ("unit", "batch", "category", "recommending"):
            entry[role] = entry.pop(FORM.role(role))
    return data


@pytest.fixture(scope="module")
def sample_round(tmp_path_factory):
    rnd = Round.init(tmp_path_factory.mktemp("round") / "2022年评估", ROSTER)
    receipts = rnd.receive([RETURNED])
    yield rnd, receipts
    rnd.close()


def _roster_with_contacts(tmp_path: Path) -> Path:
    """The sample roster with a contact person and phone for each unit (columns the definition
    declares), and one column more that it does not."""
    rows = list(csv.reader(io.StringIO(ROSTER.read_text(encoding="utf-8-sig"))))
    out = tmp_path / "名单（含联系人）.csv"
    with open(out, "w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh)
        w.writerow([*rows[0], CONTACT.header, PHONE.aliases[0], "备注"])
        for i, r in enumerate(rows[1:]):
            w.writerow([*r, f"联系人{i}", f"010-6820{i:04d}", "备注文字"])
    return out


# -- the folder ---------------------------------------------------------------------

def test_init_makes_the_folder_with_copies_a_ledger_in_wal_mode_and_a_store(tmp_path):
    folder = tmp_path / "轮次"
    with Round.init(folder, ROSTER) as rnd:
        assert (folder / FORM_FILE).read_bytes() == Path(FORM.source).read_bytes()
        assert (folder / "roster.csv").read_bytes() == ROSTER.read_bytes()
        assert (folder / FILES).is_dir() and (folder / FILES / INCOMING).is_dir()
        assert rnd.ledger.journal_mode() == "wal"
        units = rnd.units()
        assert [(u.unit, u.batch, u.category, u.recommending) for u in units] == [
            (e["unit"], e["batch"], e["category"], e["recommending"]) for e in _expected()["roster"]]
        assert {u.status for u in units} == {ST_MISSING}
    db = sqlite3.connect(folder / LEDGER_FILE)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("SELECT count(*) FROM units WHERE on_roster = 1").fetchone()[0] == len(units)


def test_init_refuses_a_folder_in_use_and_a_bad_roster_leaving_nothing(tmp_path):
    used = tmp_path / "已有"
    used.mkdir()
    (used / "别的文件.txt").write_text("x")
    with pytest.raises(RoundError):
        Round.init(used, ROSTER)
    bad = tmp_path / "坏名单.csv"
    bad.write_text("单位名称,列入批次,平台类别,推荐单位\n某院,第九批,检验检测,某厅\n", encoding="utf-8")
    with pytest.raises(RosterError):
        Round.init(tmp_path / "新轮次", bad)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["坏名单.csv", "已有"]
    with pytest.raises(RoundError):
        Round.open(tmp_path / "已有")


def test_init_keeps_the_rosters_other_columns_declared_or_not(tmp_path):
    roster = _roster_with_contacts(tmp_path)
    with Round.init(tmp_path / "轮次", roster) as rnd:
        first = rnd.units()[0]
        # By the definition's keys (a phone under another header it accepts), then as headed.
        assert first.extra == {"contact": "联系人0", "phone": "010-68200000", "备注": "备注文字"}
        assert rnd.roster_facts(first) == [(CONTACT.header, "联系人0"), (PHONE.header, "010-68200000"),
                                           ("备注", "备注文字")]
        assert first.to_dict()["extra"] == first.extra
    with Round.init(tmp_path / "轮次2", ROSTER) as rnd:
        # The samples' roster has one column that is no field: a renamed unit's name last year.
        renamed = {u.unit: u.extra for u in rnd.units() if u.extra}
        assert renamed and all(set(extra) == {rnd.form.previous.name_key} for extra in renamed.values())


def test_a_ledger_of_an_older_schema_is_refused_with_a_reason(tmp_path):
    folder = tmp_path / "轮次"
    Round.init(folder, ROSTER).close()
    with sqlite3.connect(folder / LEDGER_FILE) as db:      # as a round made before the columns were roles
        db.execute("UPDATE meta SET value = '1' WHERE key = 'schema'")
    with pytest.raises(RoundError, match="round init"):
        Round.open(folder)


def test_init_with_previous_copies_last_rounds_summaries(tmp_path):
    last = tmp_path / "上年汇总"
    merge_paths([RETURNED / "第一批-信息服务类-滨海产业链数据科技信息研究所.xlsx"], last, ROSTER, jobs=1)
    with Round.init(tmp_path / "轮次", ROSTER, previous=last) as rnd:
        assert sorted(p.name for p in (rnd.folder / "previous").iterdir()) == \
            sorted(p.name for p in last.glob("汇总-*.csv"))
    with pytest.raises(RoundError):
        Round.init(tmp_path / "轮次2", ROSTER, previous=tmp_path / "上年汇总" / "不存在")


# -- receiving the samples ------------------------------------------------------------

def test_every_sample_file_is_received_stored_by_hash_and_recorded(sample_round):
    rnd, receipts = sample_round
    names = sorted(p.name for p in RETURNED.iterdir())
    assert sorted(r.file_name for r in receipts) == names
    for r in receipts:
        assert r.version is not None and not r.repeat
        stored = rnd.stored_path(r.version)
        assert stored.name.startswith(r.version.sha256)
        assert stored.read_bytes() == (RETURNED / r.file_name).read_bytes()
    assert rnd.ledger.counts() == {"units": 41, "versions": 41, "receipts": 41}


def test_each_unit_shows_the_status_the_samples_expect(sample_round):
    rnd, _ = sample_round
    units = {(u.batch, u.unit): u for u in rnd.units()}
    expected = _expected()
    files = {}
    for f in expected["files"]:
        files.setdefault((f["batch"], f["unit"]), []).append(f)
    for e in expected["roster"]:
        u = units[(e["batch"], e["unit"])]
        sent = [f for f in files.get((e["batch"], e["unit"]), []) if f["file"]]
        if not sent:
            assert u.status == ST_MISSING and u.chosen is None
        elif len(sent) > 1:
            # Two files of one unit in one receiving: the one merge takes, and 待确认 until a clerk pins.
            assert u.status == ST_TO_CONFIRM
            taken = [f["file"] for f in sent if f["status"] != "duplicate"]
            assert [u.chosen.file_name] == taken
        elif sent[0]["file"].endswith(".xls"):
            assert u.status == ST_UNREADABLE and u.chosen.reason
        else:
            # A round shows each file's own checks; M01-M04 look across a batch, in the summaries.
            own = sorted(c for c in sent[0]["codes"] if not c.startswith("M"))
            word = ROUND_WORD[sent[0]["status"]] if own else ST_ACCEPTED
            assert u.status == word, e
            assert sorted({f["code"] for f in u.chosen.result()["findings"]}) == own
    off = [u for u in units.values() if not u.on_roster]
    assert [(u.unit, u.status) for u in off] == [
        (f["unit"], ST_ACCEPTED) for f in expected["files"] if f["on_roster"] is False]
    # A unit off the roster has its category and recommending unit from its own table.
    sent = next(f for f in expected["files"] if f["on_roster"] is False)
    assert [(u.category, u.recommending) for u in off] == [(sent["category"], sent["recommending"])]


def test_r18_uses_the_senders_name_not_the_stored_one(sample_round, tmp_path):
    rnd, _ = sample_round
    wrong = next(u for u in rnd.units() if u.chosen and u.chosen.file_name.startswith("统计表-"))
    assert [f["code"] for f in wrong.chosen.result()["findings"]] == ["R18"]
    right = next(u for u in rnd.units() if u.status == ST_ACCEPTED and u.on_roster)
    stored = rnd.stored_path(right.chosen)
    assert validate_file(stored, FORM, file_name=right.chosen.file_name).status == "accepted"
    assert [f.code for f in validate_file(stored, FORM).findings] == ["R18"]
    assert validate_file(stored, FORM, file_name=right.chosen.file_name).name == right.chosen.file_name


def test_the_same_bytes_again_are_one_version_and_a_new_file_the_latest(tmp_path):
    first = RETURNED / "第一批-信息服务类-滨海产业链数据科技信息研究所.xlsx"
    second = another_save(first, tmp_path / "b", 1)
    third = another_save(first, tmp_path / "c", 2)
    with Round.init(tmp_path / "轮次", ROSTER) as rnd:
        [r1] = rnd.receive([first])
        [again] = rnd.receive([first])
        assert again.repeat and again.status == ST_RECEIVED_BEFORE and again.version.id == r1.version.id
        unit = rnd.unit(r1.version.unit_id)
        assert len(unit.versions) == 1 and len(unit.versions[0].receipts) == 2
        assert unit.status == ST_ACCEPTED
        [r2] = rnd.receive([second])
        unit = rnd.unit(unit.id)
        assert [v.number for v in unit.versions] == [1, 2]
        assert unit.chosen.id == r2.version.id and unit.status == ST_ACCEPTED
        # The clerk pins the first; a later file does not replace a pinned version.
        rnd.pin(unit.id, r1.version.id)
        rnd.receive([third])
        unit = rnd.unit(unit.id)
        assert unit.chosen.id == r1.version.id and unit.pinned and len(unit.versions) == 3
        rnd.pin(unit.id, None)
        assert rnd.unit(unit.id).chosen.number == 3
        with pytest.raises(RoundError):
            rnd.pin(unit.id, 10_000)


def test_pinning_settles_a_duplicate(sample_round):
    rnd, _ = sample_round
    dup = next(u for u in rnd.units() if u.status == ST_TO_CONFIRM)
    other = next(v for v in dup.versions if not v.chosen)
    rnd.pin(dup.id, other.id)
    try:
        after = rnd.unit(dup.id)
        assert after.chosen.id == other.id and after.status == other.status
    finally:
        rnd.pin(dup.id, None)
    assert rnd.unit(dup.id).status == ST_TO_CONFIRM


def test_merge_of_the_round_adds_up_what_merge_of_the_folder_does(sample_round, tmp_path):
    rnd, _ = sample_round
    plain = merge_paths([RETURNED], tmp_path / "plain", ROSTER, jobs=1)
    result, built = rnd.merge()
    assert built.parent == rnd.folder / "summaries"
    assert result.added == plain.added
    for p in (tmp_path / "plain").glob("*.csv"):
        assert (built / p.name).read_bytes() == p.read_bytes(), p.name
    # The draft merge calls 重复 is a version the round does not take: not in its 提交情况.
    plain_files = {e.name for e in plain.submissions if e.result is not None}
    round_files = {e.name for e in result.submissions if e.result is not None}
    assert plain_files - round_files == {"第四批-检验检测类-长江船舶配套设备质量检验检测中心.xlsx"}
    assert rnd.summary_builds()[0] == built


def test_the_rounds_overview_counts_every_file_received_and_those_used(tmp_path):
    # A unit's two versions and one of them sent again: 3 files received, 1 used (收到文件数
    # counted only the chosen versions).
    twice = sorted(RETURNED.glob("*长江船舶配套设备质量检验检测中心*.xlsx"))
    assert len(twice) == 2
    with Round.init(tmp_path / "轮次", ROSTER) as rnd:
        rnd.receive(twice)
        rnd.receive(twice[:1])
        _result, built = rnd.merge()
    ws = openpyxl.load_workbook(built / f"{OVERVIEW_STEM}.xlsx")["总览"]
    heads = {ws.cell(3, c).value: c for c in range(1, ws.max_column + 1)}
    total = next(r for r in range(4, ws.max_row + 1) if ws.cell(r, 1).value == "全国合计")
    config = merge_config(FORM)
    assert ws.cell(total, heads[config.say("received_heading")]).value == 3
    assert ws.cell(total, heads[config.say("used_heading")]).value == 1


def test_units_off_the_roster_and_files_of_no_unit_are_kept_apart(tmp_path):
    odd = tmp_path / "随便.xlsx"
    shutil.copyfile(RETURNED / "第二批-信息服务类-燕山工业互联网数据研究院.xlsx", odd)
    junk = tmp_path / "说明.txt"
    junk.write_text("这不是统计表")
    with Round.init(tmp_path / "轮次", ROSTER) as rnd:
        receipts = rnd.receive([odd, junk])
        off = [u for u in rnd.units() if not u.on_roster]
        assert [(u.unit, u.batch) for u in off] == [("燕山工业互联网数据研究院", "第二批")]
        [loose] = rnd.unplaced()
        assert loose.file_name == "说明.txt" and loose.status == ST_UNREADABLE and loose.reason
        assert [r.status for r in receipts] == [ST_WARNINGS, ST_UNREADABLE]   # R18 for 随便.xlsx


PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def test_an_unreadable_file_is_put_on_the_roster_unit_its_name_holds_never_a_unit_of_its_own(tmp_path):
    # A scan sent as .xlsx: the name carries （扫描件） after the roster's name.
    scan = tmp_path / "第一批-检验检测类-秦岭特种材料检测技术有限公司（扫描件）.xlsx"
    scan.write_bytes(PDF)
    # Two roster names in it, equally long: no one unit can be told.
    both = tmp_path / "第一批-检验检测类-秦岭特种材料检测技术有限公司与太湖集成电路封装计量测试研究所.xlsx"
    both.write_bytes(PDF + b"2")
    nobody = tmp_path / "第一批-检验检测类-某某不在名单上的公司.xlsx"
    nobody.write_bytes(PDF + b"3")
    with Round.init(tmp_path / "轮次", ROSTER) as rnd:
        n = len(rnd.units())
        [r] = rnd.receive([scan])
        assert r.status == ST_UNREADABLE and r.unit is not None
        assert r.unit.unit == "秦岭特种材料检测技术有限公司" and r.unit.batch == "第一批"
        units = rnd.units()
        assert len(units) == n and all(u.on_roster for u in units)
        assert next(u for u in units if u.id == r.unit.id).status == ST_UNREADABLE
        rnd.receive([both, nobody])
        assert len(rnd.units()) == n
        assert sorted(v.file_name for v in rnd.unplaced()) == sorted([both.name, nobody.name])
        result, _ = rnd.merge(tmp_path / "汇总")
        assert sorted(s.name for s in result.unplaced) == sorted([both.name, nobody.name])
        assert not [s for s in result.submissions if s.batch and s.on_roster is False]


def test_an_unreadable_file_again_keeps_its_reason_and_another_senders_empty_file_is_its_own(tmp_path):
    empty = tmp_path / "空文件.xlsx"
    empty.write_bytes(b"")
    other = tmp_path / "第一批-检验检测类-秦岭特种材料检测技术有限公司.xlsx"
    other.write_bytes(b"")
    with Round.init(tmp_path / "轮次", ROSTER) as rnd:
        [first] = rnd.receive([empty])
        [again] = rnd.receive([empty])
        assert again.repeat and again.status == ST_RECEIVED_BEFORE and again.version.id == first.version.id
        assert first.version.reason and first.version.reason in again.row.note
        # The same (empty) bytes from another sender: a return of its own, on its unit.
        [theirs] = rnd.receive([other])
        assert not theirs.repeat and theirs.status == ST_UNREADABLE and theirs.version.id != first.version.id
        assert theirs.unit is not None and theirs.unit.unit == "秦岭特种材料检测技术有限公司"
        assert [v.file_name for v in rnd.unplaced()] == [empty.name]


def _as_schema_2(folder: Path, copies: int = 0) -> None:
    """The round's ledger as schema 2 made it: one version a hash, no sender_key; with
    ``copies`` more versions of its first (other hashes), for a migration that writes more."""
    db = sqlite3.connect(folder / LEDGER_FILE)
    with db:
        sql = db.execute("SELECT sql FROM sqlite_master WHERE name = 'versions'").fetchone()[0]
        old = (sql.replace("sha256            TEXT NOT NULL,", "sha256            TEXT NOT NULL UNIQUE,")
               .replace("receipt_id        INTEGER NOT NULL,", "receipt_id        INTEGER NOT NULL")
               .replace("CREATE TABLE versions", "CREATE TABLE v2"))
        old = "\n".join(line for line in old.splitlines() if "sender_key" not in line)
        db.execute("PRAGMA foreign_keys=OFF")
        db.execute(old)
        columns = ", ".join(c[1] for c in db.execute("PRAGMA table_info(v2)"))
        db.execute(f"INSERT INTO v2 SELECT {columns} FROM versions")
        db.execute("DROP TABLE versions")
        db.execute("ALTER TABLE v2 RENAME TO versions")
        db.execute("UPDATE meta SET value = '2' WHERE key = 'schema'")
        others = columns.replace("id, ", "", 1).replace("sha256", "sha256 || ?", 1)
        db.executemany(f"INSERT INTO versions({columns.replace('id, ', '', 1)}) SELECT {others} FROM versions"
                       " ORDER BY id LIMIT 1", [(f"-{i}",) for i in range(copies)])
    db.close()


def _schema(folder: Path) -> str:
    with sqlite3.connect(folder / LEDGER_FILE) as db:
        return db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()[0]


def test_a_ledger_of_schema_2_is_brought_up_keeping_every_version(tmp_path):
    folder = tmp_path / "轮次"
    empty = tmp_path / "空文件.xlsx"
    empty.write_bytes(b"")
    with Round.init(folder, ROSTER) as rnd:
        rnd.receive([RETURNED / "第一批-信息服务类-滨海产业链数据科技信息研究所.xlsx", empty])
        before = [(v.id, v.sha256, v.file_name, v.unit_id) for u in rnd.units() for v in u.versions]
    _as_schema_2(folder)
    with Round.open(folder) as rnd:
        after = [(v.id, v.sha256, v.file_name, v.unit_id) for u in rnd.units() for v in u.versions]
        assert after == before and [v.file_name for v in rnd.unplaced()] == [empty.name]
        theirs = tmp_path / "b" / "另一个空文件.xlsx"
        theirs.parent.mkdir()
        theirs.write_bytes(b"")
        [r] = rnd.receive([theirs])
        assert not r.repeat and len(rnd.unplaced()) == 2
    assert _schema(folder) == "3"
    # A process that read 2 while another migrated, and waited for its lock: it writes nothing.
    ledger = Ledger(folder / LEDGER_FILE)
    db = ledger._db()
    ledger._to_3()
    assert db.total_changes == 0
    ledger.close()


# Above the 32 KiB SQLite's shared memory file takes, far below what the migration writes.
LIMIT = 64 * 1024


def test_a_migration_that_cannot_write_is_said_and_leaves_the_ledger_as_it_was(tmp_path):
    # A disk that is full (or a file size limit, as here: it stops root too) while a read-only
    # command brings a schema-2 ledger up: a reason and what to do, no traceback.
    folder = tmp_path / "轮次"
    with Round.init(folder, ROSTER) as rnd:
        rnd.receive([RETURNED / "第一批-信息服务类-滨海产业链数据科技信息研究所.xlsx"])
    _as_schema_2(folder, copies=200)
    assert (folder / LEDGER_FILE).stat().st_size > 4 * LIMIT
    done = subprocess.run(
        [sys.executable, "-c", "import sys\nfrom xlsx_tools.cli import main\nmain(prog_name='xlsx-tools')",
         "round", "status", str(folder)], capture_output=True, text=True, timeout=120,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT, LIMIT)))
    said = done.stdout + done.stderr
    assert done.returncode != 0 and "Traceback" not in said and "sqlite3" not in said, said
    assert "升级没有完成" in said and "磁盘空间" in said and "重试" in said, said
    assert _schema(folder) == "2"
    with Round.open(folder) as rnd:       # room again: brought up, every version kept
        assert len([v for u in rnd.units() for v in u.versions]) == 201
    assert _schema(folder) == "3"


def test_a_newer_unreadable_version_never_silently_replaces_a_readable_one(tmp_path):
    good = RETURNED / "第一批-检验检测类-秦岭特种材料检测技术有限公司.xlsx"
    later = tmp_path / "后来"
    later.mkdir()
    scan = later / "第一批-检验检测类-秦岭特种材料检测技术有限公司（盖章扫描件）.pdf"
    scan.write_bytes(PDF)
    with Round.init(tmp_path / "轮次", ROSTER) as rnd:
        [first] = rnd.receive([good])
        [second] = rnd.receive([later])
        assert second.status == ST_UNREADABLE and second.unit.id == first.unit.id
        u = rnd.unit(first.unit.id)
        # The readable one is taken; the clerk is asked, seeing both, and told why.
        assert u.status == ST_TO_CONFIRM
        assert u.chosen.file_name == good.name and u.default is u.chosen
        assert [(v.number, v.chosen) for v in u.versions] == [(1, True), (2, False)]
        assert scan.name in u.note and good.name in u.note and "无法读取" in u.note
        result, _ = rnd.merge(tmp_path / "汇总")
        assert [s.unit for s in result.batches["第一批"].rows] == ["秦岭特种材料检测技术有限公司"]
        # Pinning still wins, either way.
        rnd.pin(u.id, second.version.id)
        assert (rnd.unit(u.id).status, rnd.unit(u.id).chosen.number) == (ST_UNREADABLE, 2)
        rnd.pin(u.id, first.version.id)
        assert (rnd.unit(u.id).status, rnd.unit(u.id).chosen.number) == (ST_ACCEPTED, 1)
        rnd.pin(u.id, None)
        assert rnd.unit(u.id).status == ST_TO_CONFIRM
        # A readable file after the unreadable one: the latest, as ever, nothing to confirm.
        rnd.receive([another_save(good, tmp_path / "再次")])
        u = rnd.unit(u.id)
        assert (u.status, u.chosen.number, len(u.versions)) == (ST_ACCEPTED, 3, 3)
    # merge of a folder holding both: the readable one summed, the unreadable one listed.
    both = tmp_path / "两份"
    both.mkdir()
    shutil.copy(good, both / good.name)
    shutil.copy(scan, both / scan.name)
    merged = merge_paths([both], roster=ROSTER, jobs=1)
    first_batch = merged.batches["第一批"]
    assert [s.name for s in first_batch.rows] == [good.name]
    assert scan.name in [s.name for s in first_batch.entries]


def _scan_roster(tmp_path: Path) -> Path:
    roster = tmp_path / "名单.csv"
    roster.write_text("单位名称,列入批次,平台类别,推荐单位\n"
                      "秦岭研究所,第一批,检验检测,某厅\n"
                      "太湖集成电路封装计量测试研究所,第一批,检验检测,某厅\n"
                      "秦岭研究所东海站,第二批,检验检测,某厅\n", encoding="utf-8-sig")
    return roster


def test_an_unreadable_file_goes_on_a_unit_only_when_its_name_is_the_units_but_for_decoration(tmp_path):
    files = tmp_path / "收到"
    files.mkdir()
    # name -> the roster unit it is put on (batch, unit), or None: among the files of no unit
    cases = {
        "第一批-检验检测类-秦岭研究所西安分所.xlsx": None,             # another unit, not 秦岭研究所
        "第一批-检验检测类-秦岭研究所东海站（扫描件）.xlsx": None,     # 东海站 is 第二批's
        "第三批-检验检测类-太湖集成电路封装计量测试研究所（扫描件）.xlsx": None,   # 第一批's
        "第二批-检验检测类-秦岭研究所东海站 (1).xlsx": ("第二批", "秦岭研究所东海站"),
        "第一批-检验检测类-【盖章】秦岭研究所（扫描件） - 副本.xlsx": ("第一批", "秦岭研究所"),
        "第一批-检验检测类-太湖集成电路封装计量测试研究所[扫描]-副本（2）.xlsx":
            ("第一批", "太湖集成电路封装计量测试研究所"),
    }
    for i, name in enumerate(cases):
        (files / name).write_bytes(PDF + str(i).encode())
    roster = _scan_roster(tmp_path)
    with Round.init(tmp_path / "轮次", roster) as rnd:
        receipts = rnd.receive([files])
        got = {r.file_name: (r.unit.batch, r.unit.unit) if r.unit else None for r in receipts}
        assert got == cases
        assert all(u.on_roster for u in rnd.units())
    merged = merge_paths([files], roster=roster, jobs=1)
    assert sorted(s.name for s in merged.unplaced) == sorted(n for n, to in cases.items() if to is None)
    notes = {s.name: s.note for s in merged.submissions if s.result is not None}
    assert ("“秦岭研究所西安分所”未能对应到名单中第一批的单位"
            in notes["第一批-检验检测类-秦岭研究所西安分所.xlsx"])
    assert ("按文件名归入名单中第一批的“秦岭研究所”（文件名中写作“【盖章】秦岭研究所(扫描件) - 副本”）"
            in notes["第一批-检验检测类-【盖章】秦岭研究所（扫描件） - 副本.xlsx"])
    assert "批次和单位按文件名识别" not in "".join(notes.values())


# -- what is made ---------------------------------------------------------------------------

def test_blank_and_prefilled_workbooks(sample_round, tmp_path):
    rnd, _ = sample_round
    units = rnd.units()
    unit = units[0]
    path, name = rnd.prefilled_workbook(unit)
    assert name == FORM.file_stem(unit.batch, unit.category, unit.unit) + ".xlsx"
    result = validate_file(path, rnd.form, file_name=name)
    assert (result.unit, result.batch, result.category, result.recommending) == \
        (unit.unit, unit.batch, unit.category, unit.recommending)
    assert validate_file(rnd.blank_workbook(), rnd.form).readable
    # The same bytes as generate --roster writes for each unit: run on the roster's rows of the
    # units compared (a unit's workbook is the same alone as among the others: test_stamp).
    compared = [u for u in (unit, units[-1]) if u.on_roster]
    header, *rows = ROSTER.read_text(encoding="utf-8-sig").splitlines()
    roster = tmp_path / "名单.csv"
    roster.write_text("\n".join([header, *(r for r in rows if next(csv.reader([r]))[0] in
                                           {u.unit for u in compared})]) + "\n", encoding="utf-8")
    generated = {p.name: p.read_bytes() for p in generate_from_roster(roster, tmp_path / "out", FORM)}
    assert len(generated) == len(compared)
    for u in compared:
        path, name = rnd.prefilled_workbook(u)
        assert path.read_bytes() == generated[name], name


def test_reminders_list_who_owes_a_return_with_contacts(tmp_path):
    with Round.init(tmp_path / "轮次", _roster_with_contacts(tmp_path)) as rnd:
        rnd.receive([RETURNED])
        units = rnd.units()
        owed = [u for u in units if u.status in (ST_MISSING, ST_FAILED, ST_UNREADABLE)]
        items = reminders(rnd)
        assert [r.unit.id for r in items] == [u.id for u in owed] and items
        path = write_reminders_xlsx(rnd, tmp_path / "催报名单.xlsx")
        ws = openpyxl.load_workbook(path).active
        rows = list(ws.iter_rows(min_row=3, values_only=True))
        header, body = rows[0], rows[1:]
        first = reminder_columns(FORM)
        assert list(header) == ["序号", *first.values(), CONTACT.header, PHONE.header, "备注",
                                *LAST_RECEIVED.values()]
        assert [r[header.index(first["unit"])] for r in body] == [u.unit for u in owed]
        # The category as the table shows it (with its field's suffix).
        assert [r[header.index(first["category"])] for r in body] == \
            [FORM.role_field("category").shown(u.category) for u in owed]
        assert [r[header.index(PHONE.header)] for r in body] == [u.extra["phone"] for u in owed]
        assert all(r[header.index(first["todo"])] for r in body)     # what to do, for every one
        assert [r.to_dict()["unit"] for r in items] == [u.unit for u in owed]


# -- the store and archives ----------------------------------------------------------------------

def test_sender_names_are_never_paths():
    assert sender_name("../../etc/passwd") == "passwd"
    assert sender_name("C:\\Users\\某\\第一批.xlsx") == "第一批.xlsx"
    assert sender_name("a\x00b\u202e.xlsx") == "ab.xlsx"
    assert sender_name("") == "未命名文件"
    assert len(sender_name("长" * 400 + ".xlsx")) == 255


def test_a_file_past_the_size_limit_is_counted_not_kept(tmp_path):
    store = Store(tmp_path / "files").create()
    big = io.BytesIO(b"\0" * 5000)
    stored = store.put(big, "大文件.xlsx", limit=4096)
    assert stored.too_large and stored.size == 5000 and stored.stored is None
    assert list(store.folder.iterdir()) == [store.incoming_dir]
    assert list(store.incoming_dir.iterdir()) == []


def test_the_same_bytes_under_another_suffix_are_kept_once(tmp_path):
    store = Store(tmp_path / "files").create()
    first = store.put(io.BytesIO(b"same bytes"), "a.xlsx")
    other = store.put(io.BytesIO(b"other bytes"), "c.xlsx")
    again = store.put(io.BytesIO(b"same bytes"), "b.zip")
    assert again.stored == first.stored and again.sha256 == first.sha256
    kept = sorted(p.name for p in store.folder.iterdir() if p.is_file())
    assert kept == sorted([first.stored, other.stored])


class _GbkName(zipfile.ZipInfo):
    """A member named in GBK without the UTF-8 flag, as Windows in China zips files."""

    def _encodeFilenameFlags(self):
        return self.filename.encode("gbk"), self.flag_bits


def _zip(path: Path, members: dict[str, bytes], utf8: bool = True) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr((zipfile.ZipInfo if utf8 else _GbkName)(name, (2022, 9, 15, 10, 0, 0)), data)
    return path


def test_a_zip_of_returns_is_unpacked_each_file_under_its_own_name(tmp_path):
    good = RETURNED / "第一批-信息服务类-滨海产业链数据科技信息研究所.xlsx"
    other = RETURNED / "第二批-信息服务类-渤海工业大数据产业研究院.xlsx"
    archive = _zip(tmp_path / "某省回收.zip", {
        "回收/" + good.name: good.read_bytes(),
        "../../" + other.name: other.read_bytes(),
        "__MACOSX/._x.xlsx": b"junk", "Thumbs.db": b"junk",
    })
    gbk = _zip(tmp_path / "gbk.zip", {good.name: good.read_bytes()}, utf8=False)
    with Round.init(tmp_path / "轮次", ROSTER) as rnd:
        receipts = rnd.receive([archive, gbk])
        assert [(r.file_name, r.archive_name, r.status) for r in receipts] == [
            (good.name, "某省回收.zip", ST_ACCEPTED), (other.name, "某省回收.zip", ST_ACCEPTED),
            (good.name, "gbk.zip", ST_RECEIVED_BEFORE)]
        # The record of one receiving lists its files by name (an archive before its members).
        archives = [r for r in rnd.receipts() if r.row.is_archive]
        assert [a.file_name for a in archives] == ["gbk.zip", "某省回收.zip"]
        assert "略过系统文件 2 个" in archives[1].row.note
        assert not (tmp_path / other.name).exists() and not (rnd.folder / other.name).exists()


def test_hostile_archives_are_refused_with_a_reason(tmp_path):
    store = Store(tmp_path / "files").create()
    (tmp_path / "broken.zip").write_bytes(b"PK\x03\x04 not really")
    assert unpack(tmp_path / "broken.zip", store).kind == "corrupt"
    many = _zip(tmp_path / "many.zip", {f"{i}.xlsx": b"" for i in range(MAX_MEMBERS + 1)})
    assert unpack(many, store).kind == "too_large"
    bomb = tmp_path / "bomb.zip"
    # The quickest deflate: what counts is the size it inflates to.
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        z.writestr("炸弹.xlsx", b"\0" * (MAX_FILE_BYTES + 1))
    out = unpack(bomb, store)
    assert [(m.name, m.kind) for m in out.members] == [("炸弹.xlsx", "too_large")]
    ratio = tmp_path / "ratio.zip"
    with zipfile.ZipFile(ratio, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("压缩比.xlsx", b"\0" * (8 * 1024 * 1024))
    assert [m.kind for m in unpack(ratio, store).members] == ["too_large"]
    assert [p for p in store.folder.iterdir() if p.is_file()] == []   # nothing of them was kept


def test_a_workbook_sent_with_a_zip_name_is_read_as_a_workbook(tmp_path):
    src = RETURNED / "第一批-信息服务类-滨海产业链数据科技信息研究所.xlsx"
    renamed = tmp_path / "统计表.zip"
    shutil.copyfile(src, renamed)
    with Round.init(tmp_path / "轮次", ROSTER) as rnd:
        [r] = rnd.receive([renamed])
        assert r.version is not None and r.archive_name is None and r.version.readable


# -- nothing lost ------------------------------------------------------------------------------------

def test_two_threads_receiving_at_once_lose_nothing(tmp_path):
    files = sorted(RETURNED.iterdir())
    with Round.init(tmp_path / "轮次", ROSTER) as rnd:
        results: list = []
        halves = [files[0::2], files[1::2]]
        threads = [threading.Thread(target=lambda h=h: results.extend(rnd.receive(h))) for h in halves]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(r.file_name for r in results) == sorted(p.name for p in files)
        assert rnd.ledger.counts()["versions"] == len(files)
        # And the same new file from both at once is still one version.
        twice = another_save(files[0], tmp_path / "twice")
        both: list = []
        threads = [threading.Thread(target=lambda: both.extend(rnd.receive([twice]))) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(r.repeat for r in both) == [False, True]
        assert len({r.version.id for r in both}) == 1


def test_open_clears_half_written_files_and_keeps_the_ledger(tmp_path):
    folder = tmp_path / "轮次"
    Round.init(folder, ROSTER).close()
    (folder / FILES / INCOMING / "part-cut").write_bytes(b"half")
    (folder / FILES / INCOMING / "part-999999999-gone").write_bytes(b"its writer was killed")
    writing = folder / FILES / INCOMING / f"part-{os.getppid()}-busy"   # a writer still running
    writing.write_bytes(b"being written")
    with Round.open(folder) as rnd:
        assert list((folder / FILES / INCOMING).iterdir()) == [writing]
        assert len(rnd.units()) == 40
        assert set(rnd.counts()) == set(STATUSES)


def test_one_receivings_files_are_numbered_alike_whichever_finished_first(tmp_path):
    # The browser sends a drop's files as several requests of one receiving; they finish in any order.
    twice = sorted(RETURNED.glob("*长江船舶配套设备质量检验检测中心*.xlsx"))
    assert len(twice) == 2
    seen = []
    for n, order in enumerate((twice, twice[::-1])):
        with Round.init(tmp_path / f"轮次{n}", ROSTER) as rnd:
            numbers = {}
            for path in order:
                [r] = rnd.receive([path], batch_id="one-drop")
                numbers[r.file_name] = r.version.number
            [u] = [u for u in rnd.units() if u.versions]
            assert u.status == ST_TO_CONFIRM
            # The default of a receiving is its last version: 默认采用第 N 版 is the newest number.
            assert u.default.number == len(u.versions) == 2
            listed = [(v.file_name, v.number) for v in u.versions]
            # What the receipts said as each file came agrees with the unit as it ends.
            record = [(r.file_name, r.version.number) for r in rnd.receipts()]
            assert sorted(record) == sorted(listed)
            assert numbers[order[-1].name] == dict(listed)[order[-1].name]
            seen.append((listed, u.default.file_name, [r.file_name for r in rnd.receipts()]))
    assert seen[0] == seen[1]
