"""The browser interface in Debian's Chromium, driven by Playwright, over a real server.

A clerk's round: open the page, drop the sample returns, see who is missing,
open a unit, download its annotated copy, the 催报 list and the summaries.
Then 500 files dropped at once, a real drag and drop, the login, and every
hostile file of tests/_hostile.py through the browser and the API.
"""

from __future__ import annotations

import base64
from pathlib import Path

import httpx
import openpyxl
import pytest
from _round_files import for_units, marked_workbook, roster_of
from _web import DESKTOP, LiveServer, wait_until

from xlsx_tools.form import load_form
from xlsx_tools.round import ST_ACCEPTED, ST_FAILED, ST_MISSING, ST_UNREADABLE, Round

playwright_api = pytest.importorskip("playwright.sync_api")

ROOT = Path(__file__).resolve().parent.parent
RETURNED = ROOT / "samples" / "returned"
ROSTER = ROOT / "samples" / "roster.csv"
SECOND_FORM = ROOT / "tests" / "forms" / "lab-survey-2023.toml"
DONE = "document.getElementById('upload-summary').textContent.startsWith('已收到')"


def _download(page, click, folder: Path) -> tuple[Path, str]:
    """What clicking downloads, saved under the name the server gave it."""
    with page.expect_download() as info:
        click()
    name = info.value.suggested_filename
    target = folder / "downloads" / name
    info.value.save_as(target)
    return target, name


def test_a_clerk_runs_the_round_in_the_browser(tmp_path, page):
    with Round.init(tmp_path / "2022年评估", ROSTER) as rnd, LiveServer(rnd) as server:
        page.goto(server.url)
        assert page.locator("#counts .count", has_text=ST_MISSING).locator("b").inner_text() == "40"
        files = sorted(str(p) for p in RETURNED.iterdir())
        page.set_input_files("#file-input", files)
        wait_until(page, DONE, timeout=60_000)
        assert page.locator("#upload-list li").count() == len(files)
        assert page.locator("#upload-list li .pill").all_inner_texts().count(ST_UNREADABLE) == 1
        # The table was refreshed: who is missing.
        wait_until(page, "document.querySelector('#counts').textContent.includes('未提交 1')")
        page.locator("#counts .count", has_text=ST_MISSING).click()
        rows = page.locator("#units tbody tr")
        assert rows.count() == 1
        missing = next(u for u in rnd.units() if u.status == ST_MISSING)
        assert missing.unit in rows.inner_text()
        # A unit that must correct its return: its findings and its annotated copy.
        failed = next(u for u in rnd.units() if u.status == ST_FAILED)
        page.goto(server.url)
        page.get_by_role("link", name=failed.unit, exact=True).click()
        assert page.locator("h1").inner_text().startswith(failed.unit)
        cells = page.locator("table.grid").first.locator("td.cell").all_inner_texts()
        assert cells == ["、".join(f["cells"]) or "—" for f in failed.chosen.result()["findings"]]
        path, name = _download(page, lambda: page.get_by_text("下载标注副本").click(), tmp_path)
        assert name == failed.chosen.file_name
        marked = openpyxl.load_workbook(path)
        findings = failed.chosen.result()["findings"]
        assert len(list(marked["校验问题"].iter_rows(min_row=2))) == len(findings)
        sheet, _, ref = next(f for f in findings if f["severity"] == "error")["cells"][0].partition("!")
        assert marked[sheet][ref].fill.start_color.rgb.endswith("FFC7CE") and marked[sheet][ref].comment
        assert (rnd.folder / "annotated" / f"{failed.chosen.sha256}.xlsx").is_file()
        # The 催报 list, on the page and as a workbook.
        page.get_by_role("link", name="催报").click()
        owed = [u for u in rnd.units() if u.to_remind]
        assert page.locator("table.grid tbody tr").count() == len(owed)
        path, name = _download(page, lambda: page.get_by_text("下载催报名单").click(), tmp_path)
        sheet = openpyxl.load_workbook(path).active
        assert [r[3] for r in sheet.iter_rows(min_row=4, values_only=True)] == [u.unit for u in owed]
        # The summaries, built on request, kept in the round's folder, downloaded.
        page.get_by_role("link", name="汇总").click()
        page.get_by_role("button", name="生成汇总").click()
        page.wait_for_selector("text=最近一次")
        path, name = _download(page, lambda: page.get_by_role("link", name="汇总-总览.xlsx").click(),
                               tmp_path)
        assert name == "汇总-总览.xlsx"
        build = rnd.summary_builds()[0]
        assert path.read_bytes() == (build / name).read_bytes()
        # Everything received is in the round's folder.
        assert rnd.ledger.counts()["receipts"] == len(files)
        assert len([p for p in (rnd.folder / "files").iterdir() if p.is_file()]) == len(files)


def test_a_real_drop_shows_the_verdict(tmp_path, page):
    sample = RETURNED / "第一批-检验检测类-太湖集成电路封装计量测试研究所.xlsx"
    with Round.init(tmp_path / "轮次", ROSTER) as rnd, LiveServer(rnd) as server:
        page.goto(server.url)
        data = base64.b64encode(sample.read_bytes()).decode()
        transfer = page.evaluate_handle(
            """([name, data]) => {
                const bytes = Uint8Array.from(atob(data), c => c.charCodeAt(0));
                const dt = new DataTransfer();
                dt.items.add(new File([bytes], name, {lastModified: 1663200000000}));
                return dt;
            }""", [sample.name, data])
        page.dispatch_event("#drop", "drop", {"dataTransfer": transfer})
        wait_until(page, DONE)
        row = page.locator("#upload-list li").first
        assert row.locator(".pill").inner_text() == ST_FAILED
        assert "太湖集成电路封装计量测试研究所（第一批）" in row.inner_text()
        [v] = rnd.units()[0].versions
        assert v.row.sent_mtime == 1663200000.0


def test_500_files_dropped_at_once_are_all_received_and_listed(tmp_path, page):
    # The small table of tests/forms: what this proves is the page and the server taking many
    # files at once, whichever table they are (a third of the shipped one's reading per file).
    base = marked_workbook(tmp_path, form=load_form(SECOND_FORM))
    units = [f"批量{i:03d}号研究所" for i in range(500)]
    files = for_units(base, tmp_path / "in", units)
    roster = roster_of(base, tmp_path / "名单.csv", units)
    with Round.init(tmp_path / "轮次", roster, form=base.form) as rnd, LiveServer(rnd) as server:
        page.goto(server.url)
        page.set_input_files("#file-input", [str(p) for p in files])
        wait_until(page, DONE, timeout=120_000)
        assert page.locator("#upload-summary").inner_text() == "已收到 500 个文件。"
        wait_until(page, f"document.querySelector('#counts').textContent.includes('{ST_ACCEPTED} 500')")
        assert page.locator("#units tbody tr").count() == 500
        assert sorted(page.locator("#units tbody tr td:nth-child(2) a").all_inner_texts()) == units
        assert rnd.ledger.counts() == {"units": 500, "versions": 500, "receipts": 500}


def test_with_a_password_pages_need_a_login(tmp_path, page):
    with Round.init(tmp_path / "轮次", ROSTER) as rnd, LiveServer(rnd, password="口令123456") as server:
        page.goto(server.url + "reminders")
        assert page.url.startswith(server.url + "login")
        page.fill("#password", "不对的密码")
        page.click("button[type=submit]")
        assert page.locator(".error").inner_text() == "密码不对，请重新输入。"
        page.fill("#password", "口令123456")
        page.click("button[type=submit]")
        assert page.url == server.url + "reminders"
        assert page.locator("h1").inner_text().startswith("催报名单")
        page.get_by_role("button", name="退出登录").click()
        assert page.url.startswith(server.url + "login")
        assert httpx.get(server.url + "api/units").status_code == 401


@pytest.mark.libreoffice
def test_every_hostile_file_through_the_browser_and_the_api_gets_its_reason(tmp_path, browser):
    from _fill import make_filled, valid_values
    from _hostile import libreoffice_cases, make_corpus

    base = make_filled(tmp_path / "base", valid_values(unit_name="太湖集成电路封装计量测试研究所"))
    corpus = make_corpus(tmp_path / "corpus", base) + libreoffice_cases(tmp_path / "lo", base)
    good = RETURNED / "第一批-信息服务类-滨海产业链数据科技信息研究所.xlsx"
    with Round.init(tmp_path / "轮次", ROSTER) as rnd, LiveServer(rnd) as server:
        context = browser.new_context(viewport=DESKTOP)
        page = context.new_page()
        page.goto(server.url)
        page.set_input_files("#file-input", [str(c.path) for c in corpus])
        wait_until(page, DONE, timeout=120_000)
        shown = {}
        # textContent: the list draws only the rows in view (content-visibility), and
        # innerText is empty for the others.
        for li in page.locator("#upload-list li").all():
            name = li.locator(".name").text_content()
            shown[name] = (li.locator(".pill").text_content(), li.text_content())
        context.close()
        for case in corpus:
            status, text = shown[case.path.name]
            if case.rejected:
                assert status == ST_UNREADABLE, case.name
                assert any("\u4e00" <= ch <= "\u9fff" for ch in text.split(case.path.name, 1)[1]), case.name
        # The API gets the same, one entry per file, with the reader's kinds; the server stays up.
        with httpx.Client(base_url=server.url, timeout=120) as client:
            for case in corpus:
                with open(case.path, "rb") as fh:
                    answer = client.post("/api/files", files={"file": (case.path.name, fh)})
                assert answer.status_code == 200, case.name
                [entry] = answer.json()["files"]
                if case.rejected:
                    assert entry["verdict"] == ST_UNREADABLE and entry["reason"], case.name
                    assert entry["version"] is None or entry["version"]["repeat"], case.name
            with open(good, "rb") as fh:
                assert client.post("/api/files", files={"file": (good.name, fh)}).json()[
                    "files"][0]["status"] == "accepted"
        assert rnd.ledger.counts()["receipts"] == 2 * len(corpus) + 1

