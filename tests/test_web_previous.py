"""The web interface of a round made with last round's output: explanations (已说明) and
last year, over a real server (the JSON with httpx; the pages in Debian's Chromium).

The returns (tests/_round_previous.py) are uploaded; the answer and /api/units carry each
finding's explanation as validate's JSON does; the roster filters by 已说明 and by 推荐单位; a
unit's page shows each finding's cell, message and explanation, and this year beside last
year; the summaries page lists each recommending unit's workbook. Screenshots of the changed
pages are taken when $XLSX_TOOLS_SHOTS names a folder to put them in (to look at them).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import httpx
import openpyxl
import pytest
from _round_previous import CHANGE, CHANGED, CITY, EXPECTED, FIELD, LAST, PROVINCE, previous_round, returns
from _web import DESKTOP, LiveServer, wait_until

from xlsx_tools.form import load_form
from xlsx_tools.merge import recommending_folder
from xlsx_tools.round import ST_ACCEPTED, ST_EXPLAINED, ST_WARNINGS, Round

pytest.importorskip("playwright.sync_api")

FORM = load_form()
DONE = "document.getElementById('upload-summary').textContent.startsWith('已收到')"


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """Last round's output, a roster, and the returns filled from a round's own workbooks."""
    base = tmp_path_factory.mktemp("web-previous")
    m = previous_round(base / "材料")
    with Round.init(base / "生成用", m.roster, previous=m.last) as rnd:
        paths = returns(rnd, base / "回收")
    return m, paths


def _post(client, paths):
    return client.post("/api/files", files=[("file", (p.name, p.read_bytes())) for p in paths])


def test_the_json_carries_explanations_and_last_year(made, tmp_path):
    m, paths = made
    with Round.init(tmp_path / "轮次", m.roster, previous=m.last) as rnd, LiveServer(rnd) as server, \
            httpx.Client(base_url=server.url, timeout=60) as client:
        answer = _post(client, paths.values())
        assert answer.status_code == 200
        got = {f["version"]["unit"]["unit"]:
               (f["status"], [(x["code"], x["explanation"]) for x in f["findings"]])
               for f in answer.json()["files"]}
        assert got == EXPECTED
        explained = client.get("/api/units", params={"status": ST_EXPLAINED}).json()
        [unit] = explained["units"]
        assert unit["unit"] == "乙检测研究院" and explained["counts"][ST_EXPLAINED] == 1
        assert [(f["code"], f["explanation"]) for f in unit["findings"]] == EXPECTED["乙检测研究院"][1]
        by_city = client.get("/api/units", params={"recommending": CITY}).json()["units"]
        assert {u["unit"]: u["findings"] is None for u in by_city} == {
            "丙检测研究院": False, "丁检测研究院": False, "戊检测研究院": True}
        one = client.get(f"/api/units/{unit['id']}").json()
        row = next(y for y in one["year_on_year"] if y["field"] == FIELD)
        assert (row["value"], row["previous"]) == (CHANGED, LAST)
        assert one["result"]["previous"][FIELD] == LAST
        # The summaries: each recommending unit's workbook is listed and downloads.
        built = client.post("/api/summaries").json()
        listed = client.get("/api/summaries").json()["builds"][0]
        assert listed["name"] == built["build"]
        assert sorted(f["unit"] for f in listed["recommending"]) == sorted([PROVINCE, CITY])
        f = next(f for f in listed["recommending"] if f["unit"] == CITY)
        assert f["path"] == f"{recommending_folder(FORM)}/{CITY}.xlsx"
        got = client.get(f"/summaries/{built['build']}/{f['path']}")
        assert got.status_code == 200
        assert got.content == (rnd.summary_builds()[0] / f["path"]).read_bytes()
        # Only the build's own files: no other folder, no way out of it.
        assert client.get(f"/summaries/{built['build']}/files/{f['name']}").status_code == 404
        assert client.get(f"/summaries/{built['build']}/..%2F..%2Fround.sqlite").status_code == 404


def _shooter(page):
    """``shoot(name)``: a screenshot of the whole page into $XLSX_TOOLS_SHOTS, if it is set. Nothing
    here looks at them (a person does): taken always, they were a fifth of this test's time."""
    folder = os.environ.get("XLSX_TOOLS_SHOTS")

    def shoot(name: str) -> None:
        if folder:
            Path(folder).mkdir(parents=True, exist_ok=True)
            page.screenshot(path=Path(folder) / name, full_page=True)
    return shoot


def test_a_clerk_sees_explained_warnings_and_last_year_in_the_browser(made, tmp_path, browser):
    m, paths = made
    context = browser.new_context(viewport=DESKTOP, accept_downloads=True, locale="zh-CN")
    page = context.new_page()
    shoot = _shooter(page)
    with Round.init(tmp_path / "2022年评估", m.roster, previous=m.last) as rnd, LiveServer(rnd) as server:
        page.goto(server.url)
        page.set_input_files("#file-input", [str(p) for p in paths.values()])
        wait_until(page, DONE, timeout=60_000)
        pills = page.locator("#upload-list li .pill").all_inner_texts()
        assert sorted(pills) == sorted([ST_WARNINGS, ST_EXPLAINED, ST_WARNINGS, ST_ACCEPTED])
        wait_until(page, "document.querySelector('#counts').textContent.includes('已说明 1')")
        # The roster filtered by 已说明, then by 推荐单位 (choosing in the list filters at once).
        with page.expect_navigation():
            page.select_option("select[name=status]", ST_EXPLAINED)
        rows = page.locator("#units tbody tr")
        assert rows.count() == 1 and "乙检测研究院" in rows.inner_text()
        assert rows.locator(".pill").inner_text() == ST_EXPLAINED
        page.goto(server.url)
        with page.expect_navigation():
            page.select_option("select[name=recommending]", CITY)
        shown = page.locator("#units tbody tr td:nth-child(2)").all_inner_texts()
        assert sorted(shown) == sorted(["丙检测研究院", "丁检测研究院", "戊检测研究院"])
        shoot("单位-按推荐单位筛选.png")
        # The explained unit: its finding's cell, message and the filler's explanation.
        page.goto(server.url)
        page.get_by_role("link", name="乙检测研究院", exact=True).click()
        assert page.locator(".unit-head .pill").inner_text() == ST_EXPLAINED
        [finding] = rnd.units()[1].chosen.result()["findings"]
        row = page.locator("#findings tbody tr")
        assert row.count() == 1
        assert row.locator("td.cell").inner_text() == "、".join(finding["cells"])
        assert finding["message"] in row.inner_text()
        assert row.locator("td.explanation").inner_text() == finding["explanation"]
        assert ST_EXPLAINED in row.locator(".pill").inner_text()
        # This year beside last year, the changed field marked with its code.
        title = FORM.field_title(FIELD)
        line = page.locator("#year-on-year tbody tr", has_text=title).first
        cells = line.locator("td").all_inner_texts()
        assert cells[1:4] == [str(CHANGED), str(LAST), "+500.0%"] and CHANGE.id in cells[4]
        # An amount with its two decimals, this year's and last year's alike (1,269.2 was
        # shown beside 1,379.56).
        rows = {cells[0]: cells[1:3] for cells in page.locator("#year-on-year tbody tr").evaluate_all(
            "rows => rows.map(r => [...r.cells].map(c => c.innerText))")}
        amounts = [rows[FORM.field_title(f)] for f in FORM.previous_fields
                   if FORM.field(f).type == "amount" and FORM.field_title(f) in rows]
        assert amounts
        assert all(re.fullmatch(r"[\d,]+\.\d\d|—", t) for shown in amounts for t in shown), amounts
        shoot("单位-已说明.png")
        # The unexplained one says so; the edited 上年 cell is R21 on its unit's page.
        page.goto(server.url)
        page.get_by_role("link", name="甲检测研究院", exact=True).click()
        assert page.locator("#findings td.explanation").inner_text() == "未写审核说明"
        page.goto(server.url)
        page.get_by_role("link", name="丙检测研究院", exact=True).click()
        [r21] = page.locator("#findings tbody tr").all()
        assert r21.locator("td.cell").inner_text() == FORM.previous_cell(FIELD).address
        assert "R21" in page.locator("#year-on-year tbody tr", has_text=title).first.inner_text()
        shoot("单位-上年被改动.png")
        # The summaries, with each recommending unit's workbook to download.
        page.get_by_role("link", name="汇总").click()
        page.get_by_role("button", name="生成汇总").click()
        page.wait_for_selector("#recommending-files")
        with page.expect_download() as info:
            page.locator("#recommending-files").get_by_role("link", name=f"{PROVINCE}.xlsx").click()
        assert info.value.suggested_filename == f"{PROVINCE}.xlsx"
        target = tmp_path / "下载" / info.value.suggested_filename
        info.value.save_as(target)
        assert "提交情况" in openpyxl.load_workbook(target).sheetnames
        shoot("汇总.png")
        # The workbooks page says the pre-filled ones show last year.
        page.get_by_role("link", name="下发表格").click()
        assert FORM.previous.label in page.locator("p.hint").first.inner_text()
    context.close()
