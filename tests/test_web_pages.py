"""The pages as a clerk reads them, in Debian's Chromium: what each says and offers, at a
desk's width and a phone's."""

from __future__ import annotations

from pathlib import Path

import pytest
from _web import LiveServer

from xlsx_tools.round import ST_FAILED, ST_TO_CONFIRM, ST_UNREADABLE, Round

playwright_api = pytest.importorskip("playwright.sync_api")

ROOT = Path(__file__).resolve().parent.parent
RETURNED = ROOT / "samples" / "returned"
ROSTER = ROOT / "samples" / "roster.csv"
# One unit sent these two different files at once: it is 待确认.
TWICE = sorted(RETURNED.glob("*长江船舶配套设备质量检验检测中心*.xlsx"))


def _versions(page):
    return page.locator("table.grid").last.locator("tbody tr")


def test_a_unit_to_confirm_can_take_its_default_and_says_what_the_default_is(tmp_path, page):
    assert len(TWICE) == 2
    with Round.init(tmp_path / "轮次", ROSTER) as rnd, LiveServer(rnd) as server:
        rnd.receive(TWICE)
        [unit] = [u for u in rnd.units() if u.versions]
        assert unit.status == ST_TO_CONFIRM and unit.default is unit.chosen
        default = unit.default.number
        page.goto(f"{server.url}units/{unit.id}")
        assert unit.default.file_name in page.locator(".note").inner_text()
        # Every version can be taken, the default one too.
        assert _versions(page).get_by_role("button", name="采用这一版").count() == 2
        rule = page.locator("#choice-rule").inner_text()
        assert rnd.default_rule in rule
        # Taking the default confirms it.
        _versions(page).filter(has_text=f"第 {default} 版").get_by_role("button", name="采用这一版").click()
        page.wait_for_selector("#unpin")
        after = rnd.unit(unit.id)
        assert after.pinned and after.chosen.number == default and after.status != ST_TO_CONFIRM
        assert page.locator(".unit-head .pill").inner_text() == after.status
        # Taking the other, then going back: back to the default, which the button names.
        other = 3 - default
        _versions(page).filter(has_text=f"第 {other} 版").get_by_role("button", name="采用这一版").click()
        page.wait_for_selector(f"text=采用的版本：第 {other} 版")
        unpin = page.locator("#unpin button")
        assert f"默认（第 {default} 版）" in unpin.inner_text()
        unpin.click()
        page.wait_for_selector(f"text=采用的版本：第 {default} 版")
        assert rnd.unit(unit.id).status == ST_TO_CONFIRM


PHONE = {"width": 390, "height": 844}
# Each nav link's text lines: its height less padding, over its line height.
NAV_LINES = """[...document.querySelectorAll('header nav a')].map(a => {
    const s = getComputedStyle(a);
    const inner = a.clientHeight - parseFloat(s.paddingTop) - parseFloat(s.paddingBottom);
    return Math.round(inner / parseFloat(s.lineHeight));
})"""


def test_on_a_phone_no_page_is_wider_than_the_screen_and_the_nav_links_stay_whole(tmp_path, browser):
    with Round.init(tmp_path / "轮次", ROSTER) as rnd, LiveServer(rnd) as server:
        rnd.receive(sorted(RETURNED.iterdir()))
        units = rnd.units()
        shown = [""] + [f"units/{u.id}" for u in units if u.versions and u.status in
                        {ST_TO_CONFIRM, ST_UNREADABLE, ST_FAILED}]
        shown += ["receipts", "reminders", "summaries", "workbooks"]
        context = browser.new_context(viewport=PHONE, locale="zh-CN")
        page = context.new_page()
        for path in shown:
            page.goto(server.url + path)
            assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], path
            assert page.evaluate(NAV_LINES) == [1] * 5, path
            # A file name keeps its extension whole.
            for ext in page.locator(".ext").all()[:5]:
                box = ext.evaluate("e => e.getClientRects().length")
                assert box == 1, path
        context.close()


def test_the_reminders_name_only_the_contact_columns_the_roster_lacks(tmp_path, page):
    # samples/roster.csv has last year's names but no contacts; a copy with one phone column.
    with Round.init(tmp_path / "轮次", ROSTER) as rnd, LiveServer(rnd) as server:
        contacts = [c.header for c in rnd.form.contact_columns]
        page.goto(server.url + "reminders")
        said = page.locator("#no-contacts").inner_text()
        assert all(f"“{h}”" in said for h in contacts) and "不显示联系方式" in said
        # Mid-round: no hint to start the round again, only the next one.
        assert "新建轮次" not in said and "下一轮" in said
        others = [c.header for c in rnd.form.roster_columns if c.key and c.header not in contacts]
        assert others and not any(h in said for h in others)
    lines = ROSTER.read_text(encoding="utf-8-sig").splitlines()
    phone = contacts[1]
    with_phone = tmp_path / "名单.csv"
    rows = [lines[0] + "," + phone] + [r + ",010-12345678" for r in lines[1:]]
    with_phone.write_text("\n".join(rows) + "\n", encoding="utf-8")
    with Round.init(tmp_path / "轮次2", with_phone) as rnd, LiveServer(rnd) as server:
        page.goto(server.url + "reminders")
        said = page.locator("#no-contacts").inner_text()
        assert f"“{phone}”" not in said and f"“{contacts[0]}”" in said and "不显示联系方式" not in said
        assert page.locator("table.grid thead th", has_text=phone).count() == 1


def test_an_unreadable_unit_says_its_reason_once(tmp_path, page):
    old_format = next(RETURNED.glob("*.xls"))
    with Round.init(tmp_path / "轮次", ROSTER) as rnd, LiveServer(rnd) as server:
        rnd.receive([old_format])
        [unit] = [u for u in rnd.units() if u.versions]
        assert unit.status == ST_UNREADABLE and unit.chosen.reason
        page.goto(f"{server.url}units/{unit.id}")
        assert page.locator("main").inner_text().count(unit.chosen.reason) == 1
        assert page.locator("#findings").count() == 0


def test_no_page_asks_for_what_the_server_has_not(tmp_path, page):
    # Chromium asks for /favicon.ico unless a page names its icon: a 404 on every page.
    failed = []
    page.on("console", lambda m: failed.append(m.text) if m.type == "error" else None)
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    with Round.init(tmp_path / "轮次", ROSTER) as rnd, LiveServer(rnd) as server:
        rnd.receive(TWICE)
        [unit] = [u for u in rnd.units() if u.versions]
        for path in ("", f"units/{unit.id}", "receipts", "reminders", "summaries", "workbooks"):
            page.goto(server.url + path)
        # The icon is asked for after the page has loaded: wait for that once, at the last
        # page (every page is made from one base template); each page's own 404s are in.
        page.wait_for_load_state("networkidle")
        assert failed == []


def test_no_page_tells_a_clerk_of_commands_or_folders_and_its_data_link_is_in_the_footer(tmp_path, page):
    with Round.init(tmp_path / "轮次", ROSTER) as rnd, LiveServer(rnd) as server:
        for path in ("", "receipts", "reminders", "summaries", "workbooks"):
            page.goto(server.url + path)
            text = page.locator("main").inner_text()
            for technical in ("xlsx-tools", "--round", "files/", "summaries/", "JSON"):
                assert technical not in text, (path, technical)
            link = page.locator("footer a.json")
            assert link.inner_text() == "数据（JSON）" and link.get_attribute("href").startswith("/api/")


def test_a_finding_is_named_for_a_clerk_a_rule_by_code_and_name_a_field_by_its_title(tmp_path, page):
    import re

    import httpx

    rule_sources = ("rule", "workbook", "merge", "change")
    with Round.init(tmp_path / "轮次", ROSTER) as rnd, LiveServer(rnd) as server:
        rnd.receive(sorted(RETURNED.iterdir()))
        cat = rnd.form.catalogue
        seen = set()
        for u in rnd.units():
            if u.chosen is None or not u.chosen.readable or not (u.chosen.errors or u.chosen.warnings):
                continue
            result = httpx.get(f"{server.url}api/units/{u.id}").json()["result"]
            codes = [f["code"] for f in result["findings"]]
            page.goto(f"{server.url}units/{u.id}")
            shown = page.locator("#findings td.code").all_inner_texts()
            assert shown == [cat.finding_name(c) for c in codes]
            for code, text in zip(codes, shown):
                seen.add(cat.get(code).source if cat.get(code) else "")
                if cat.get(code) and cat.get(code).source in rule_sources:
                    assert text.startswith(code + " ") and len(text) > len(code) + 1, text
                else:
                    assert not re.search(r"[A-Za-z]", text), text
            for text in page.locator("#year-on-year td .code").all_inner_texts():
                assert not re.search(r"[a-z_]{3,}", text), text
        assert {"field", "workbook"} <= seen


def test_units_left_to_confirm_are_said_on_the_summaries_page_and_in_the_upload_line(tmp_path, page):
    from _web import wait_until

    with Round.init(tmp_path / "轮次", ROSTER) as rnd, LiveServer(rnd) as server:
        page.goto(server.url)
        page.set_input_files("#file-input", [str(p) for p in TWICE])
        wait_until(page, "document.getElementById('upload-summary').textContent.startsWith('已收到')")
        [unit] = [u for u in rnd.units() if u.versions]
        assert unit.status == ST_TO_CONFIRM
        lines = page.locator("#upload-list li").all_inner_texts()
        # The file that made the unit 待确认 says so; the upload's JSON carries the unit's status.
        assert sum(ST_TO_CONFIRM in line for line in lines) >= 1
        page.goto(server.url + "summaries")
        for _ in range(2):     # before generating, and after
            box = page.locator("#to-confirm")
            assert "1" in box.locator("strong").inner_text() and ST_TO_CONFIRM in box.inner_text()
            assert box.locator("a").get_attribute("href") == f"/units/{unit.id}"
            page.locator("#build").click()
            page.wait_for_selector("text=最近一次")
        rnd.pin(unit.id, unit.default.id)
        page.goto(server.url + "summaries")
        assert page.locator("#to-confirm").count() == 0


def test_one_drops_files_are_listed_and_numbered_in_one_order_whichever_finished_first(tmp_path, page):
    from _web import wait_until

    files = sorted(RETURNED.glob("第四批-*.xlsx"))
    assert len(files) > 3 and set(TWICE) <= set(files)
    with Round.init(tmp_path / "轮次", ROSTER) as rnd, LiveServer(rnd) as server:
        page.goto(server.url)
        page.set_input_files("#file-input", [str(p) for p in files[::-1]])
        wait_until(page, "document.getElementById('upload-summary').textContent.startsWith('已收到')")
        page.goto(server.url + "receipts")
        names = page.locator("table.grid tbody td.file").all_inner_texts()
        assert names == sorted(p.name for p in files)
        [unit] = [u for u in rnd.units() if len(u.versions) == 2]
        # 默认采用 the last version of the drop, as the rule beside it says.
        assert unit.default.number == 2 and unit.default.row.date == max(v.row.date for v in unit.versions)


# The last two characters of the header's subtitle, on one line or not.
SUB_TAIL_TOGETHER = """(() => {
    const t = document.querySelector('.top .sub').firstChild, n = t.length, r = document.createRange();
    const top = i => { r.setStart(t, i); r.setEnd(t, i + 1); return r.getBoundingClientRect().top; };
    return top(n - 1) === top(n - 2);
})()"""


def test_on_a_phone_the_header_subtitle_never_leaves_its_last_character_alone(tmp_path, browser):
    with Round.init(tmp_path / "轮次", ROSTER) as rnd, LiveServer(rnd) as server:
        for locale in ("zh-CN", "en-US"):
            # One page a locale, resized: the layout is read afresh at each width (a new
            # context and page for each of 34 cost 13 s).
            context = browser.new_context(viewport={"width": 320, "height": 800}, locale=locale)
            page = context.new_page()
            page.goto(server.url + "summaries")
            for width in range(320, 481, 10):
                page.set_viewport_size({"width": width, "height": 800})
                assert page.evaluate(SUB_TAIL_TOGETHER), (width, locale)
            context.close()
