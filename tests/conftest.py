"""Fixtures shared by the test modules (append carefully: several parts use this file)."""

from __future__ import annotations

import shutil

import _bytecode  # noqa: F401  (first: the package and test modules compile once, outside the tree)
import _examples  # noqa: F401  (hypothesis's profile: "ci" where CI is set, "dev" elsewhere)
import pytest

try:
    from xdist.scheduler import LoadFileScheduling
except ImportError:      # pytest-xdist (the test extra) not installed: the suite runs in one process
    LoadFileScheduling = None

from xlsx_tools.form import load_form


@pytest.fixture(scope="session")
def form():
    """The shipped form definition."""
    return load_form()


@pytest.fixture(scope="session")
def generated_blank(tmp_path_factory, form):
    """A freshly generated blank workbook (do not modify it: copy it first)."""
    from xlsx_tools.write import generate_blank

    return generate_blank(tmp_path_factory.mktemp("blank"), form)


@pytest.fixture(scope="session")
def generated_prefilled(tmp_path_factory, form):
    """A workbook pre-filled for one platform of 第三批 (到期复核)."""
    from xlsx_tools.write import write_workbook

    keys = form.keys
    prefill = {keys["unit"]: "某某检测研究院", keys["batch"]: "第三批",
               keys["category"]: "信息服务", "recommending_unit": "某省工业和信息化厅"}
    path = tmp_path_factory.mktemp("prefilled") / (
        form.file_stem(prefill[keys["batch"]], prefill[keys["category"]], prefill[keys["unit"]])
        + ".xlsx")
    return write_workbook(path, form, prefill)


def pytest_collection_modifyitems(config, items):
    # LibreOffice tests run wherever soffice is installed (CI installs it).
    if shutil.which("soffice") or shutil.which("libreoffice"):
        return
    skip = pytest.mark.skip(reason="LibreOffice (soffice) is not installed here")
    for item in items:
        if "libreoffice" in item.keywords:
            item.add_marker(skip)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    # With -n, a test file runs whole in one worker: the module fixtures that make a
    # file's workbooks (and re-save them in LibreOffice) run once, not once a worker.
    # Another --dist than the default (load) is left as asked.
    if config.getvalue("dist") == "load":
        return LoadFileScheduling(config, log)
    return None


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium under Playwright, one for a test module (tests/_web.py)."""
    from _web import chromium

    with chromium() as b:
        yield b


@pytest.fixture
def page(browser):
    """A fresh page of ``browser`` at a desktop's size, in Chinese, taking downloads."""
    from _web import DESKTOP

    context = browser.new_context(viewport=DESKTOP, accept_downloads=True, locale="zh-CN")
    yield context.new_page()
    context.close()
