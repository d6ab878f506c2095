"""The JSON API and what keeps the server safe, over a real server (httpx, no browser).

The upload answers in validate's JSON plus ``version``; requests from other
sites, without the CSRF token, to another host name or without the password
are refused; a file past the size limit gets its reason; two uploads at once
lose nothing; and a server killed with SIGKILL in the middle of a batch keeps
every file it had acknowledged.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from _web import LiveServer

from xlsx_tools.read import MAX_FILE_BYTES
from xlsx_tools.round import FILES, ST_ACCEPTED, ST_FAILED, ST_RECEIVED_BEFORE, Round
from xlsx_tools.store import INCOMING
from xlsx_tools.web.server import bind

ROOT = Path(__file__).resolve().parent.parent
RETURNED = ROOT / "samples" / "returned"
ROSTER = ROOT / "samples" / "roster.csv"
FAILED_FILE = RETURNED / "第一批-检验检测类-太湖集成电路封装计量测试研究所.xlsx"
PASSED_FILE = RETURNED / "第一批-信息服务类-滨海产业链数据科技信息研究所.xlsx"


@pytest.fixture
def served(tmp_path):
    with Round.init(tmp_path / "轮次", ROSTER) as rnd, LiveServer(rnd) as server, \
            httpx.Client(base_url=server.url, timeout=60) as client:
        yield rnd, server, client


def _post(client, *paths: Path, **kw):
    files = [("file", (p.name, p.read_bytes())) for p in paths]
    return client.post("/api/files", files=files, **kw)


def test_upload_answers_in_validates_json_with_the_version(served):
    rnd, _server, client = served
    answer = _post(client, FAILED_FILE, PASSED_FILE)
    assert answer.status_code == 200
    body = answer.json()
    assert body["form"] == rnd.form.id
    failed, passed = body["files"]
    assert failed["file"] == FAILED_FILE.name and failed["status"] == "rejected"
    assert [f["code"] for f in failed["findings"]] == ["R01"]
    assert failed["values"]["service_count"] is not None
    assert failed["version"]["number"] == 1 and failed["version"]["round_status"] == ST_FAILED
    assert failed["version"]["unit"]["unit"] == "太湖集成电路封装计量测试研究所"
    assert passed["status"] == "accepted" and passed["version"]["round_status"] == ST_ACCEPTED
    again = _post(client, FAILED_FILE).json()["files"][0]
    assert again["version"]["repeat"] and again["version"]["round_status"] == ST_RECEIVED_BEFORE
    assert again["version"]["id"] == failed["version"]["id"]
    # The units, as the first page lists them, filtered as it filters.
    units = client.get("/api/units", params={"status": ST_FAILED}).json()
    assert [u["unit"] for u in units["units"]] == ["太湖集成电路封装计量测试研究所"]
    # Named by role, as validate's JSON names them.
    roles = ("unit", "batch", "category", "recommending")
    assert {k: units["units"][0][k] for k in roles} == {k: failed[k] for k in roles}
    assert units["counts"][ST_FAILED] == 1 and units["counts"]["未提交"] == 38
    unit = client.get(f"/api/units/{failed['version']['unit']['id']}").json()
    assert [v["times_received"] for v in unit["versions"]] == [2]
    assert unit["result"]["findings"][0]["cells"] == failed["findings"][0]["cells"]


def test_every_page_and_its_json_answer(served):
    rnd, _server, client = served
    _post(client, FAILED_FILE)
    unit_id = rnd.units()[0].id
    for path in ("/", f"/units/{unit_id}", "/receipts", "/reminders", "/summaries", "/workbooks"):
        page = client.get(path)
        assert page.status_code == 200 and "<html" in page.text, path
        assert not re.search(r"\b(Error|Traceback|None)\b", page.text), path
    for path in ("/api/units", f"/api/units/{unit_id}", "/api/receipts", "/api/reminders", "/api/summaries",
                 "/api/workbooks"):
        assert client.get(path).status_code == 200, path
    assert client.get("/units/99999").status_code == 404
    assert client.get("/api/units/99999").json() == {"error": "没有这个单位。"}
    assert client.get("/static/upload.js").status_code == 200


def test_requests_from_other_sites_or_without_the_token_are_refused(served):
    rnd, server, client = served
    unit = rnd.units()[0]
    evil = {"Origin": "https://example.com", "Sec-Fetch-Site": "cross-site"}
    assert _post(client, PASSED_FILE, headers=evil).status_code == 403
    choice = client.post(f"/units/{unit.id}/choice", data={"version": "latest"}, headers=evil)
    assert choice.status_code == 403
    # A form of this server without the token (a browser says where it comes from).
    same = {"Origin": server.url.rstrip("/"), "Sec-Fetch-Site": "same-origin"}
    assert client.post("/summaries", data={}, headers=same).status_code == 403
    assert _post(client, PASSED_FILE, headers=same).status_code == 403
    # With the token of its pages it goes through.
    client.get("/")
    token = client.cookies["xt_csrf"]
    assert _post(client, PASSED_FILE, headers={**same, "X-CSRF-Token": token}).status_code == 200
    done = client.post("/summaries", data={"csrf": token}, headers=same)
    assert done.status_code == 303 and rnd.summary_builds()
    # A name that points elsewhere at this machine (DNS rebinding) gets nothing.
    assert client.get("/api/units", headers={"Host": f"rebind.example:{server.port}"}).status_code == 400
    assert rnd.ledger.counts()["receipts"] == 1


def test_with_a_password_the_api_takes_http_basic(tmp_path):
    with Round.init(tmp_path / "轮次", ROSTER) as rnd, LiveServer(rnd, password="口令123456") as server:
        anonymous = httpx.get(server.url + "api/units")
        assert anonymous.status_code == 401 and "Basic" in anonymous.headers["www-authenticate"]
        assert httpx.get(server.url, follow_redirects=False).headers["location"] == "/login?next=/"
        assert httpx.get(server.url + "api/units", auth=("任何人", "不对")).status_code == 401
        ok = httpx.get(server.url + "api/units", auth=("任何人", "口令123456"))
        assert ok.status_code == 200 and len(ok.json()["units"]) == 40
        up = httpx.post(server.url + "api/files", auth=("x", "口令123456"),
                        files={"file": (PASSED_FILE.name, PASSED_FILE.read_bytes())})
        assert up.json()["files"][0]["status"] == "accepted"
        login = httpx.get(server.url + "login?next=//example.com/x")
        assert 'name="next" value="/"' in login.text


def test_a_file_past_the_size_limit_gets_its_reason_and_nothing_is_kept(served):
    rnd, _server, client = served

    def body():
        boundary = b"----xlsxtoolsbig"
        yield (b"--" + boundary + b"\r\nContent-Disposition: form-data; name=\"file\"; "
               b"filename=\"big.xlsx\"\r\nContent-Type: application/octet-stream\r\n\r\n")
        chunk = b"\0" * (1024 * 1024)
        for _ in range(MAX_FILE_BYTES // len(chunk) + 1):
            yield chunk
        yield b"\r\n--" + boundary + b"--\r\n"

    answer = client.post("/api/files", content=body(),
                         headers={"Content-Type": "multipart/form-data; boundary=----xlsxtoolsbig"})
    assert answer.status_code == 200
    [entry] = answer.json()["files"]
    assert entry["kind"] == "too_large" and entry["verdict"] == "无法读取" and "MB" in entry["reason"]
    assert [p for p in (rnd.folder / FILES).iterdir() if p.is_file()] == []
    assert list((rnd.folder / FILES / INCOMING).iterdir()) == []
    assert _post(client, PASSED_FILE).status_code == 200          # and the server is still up


def test_broken_uploads_are_refused_and_keep_what_came_before(served):
    rnd, _server, client = served
    assert client.post("/api/files", content=b"x", headers={"Content-Type": "text/plain"}).status_code == 400
    assert client.post("/api/files", data={"nothing": "here"}).status_code == 400
    fields_only = b"--B\r\nContent-Disposition: form-data; name=\"batch\"\r\n\r\nabc\r\n--B--\r\n"
    assert client.post("/api/files", content=fields_only,
                       headers={"Content-Type": "multipart/form-data; boundary=B"}).status_code == 400
    good = PASSED_FILE.read_bytes()
    part = b"--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"%s\"\r\n\r\n"
    cut = part % b"a.xlsx" + good + b"\r\n" + part % b"b.xlsx" + good[:100]
    answer = client.post("/api/files", content=cut,
                         headers={"Content-Type": "multipart/form-data; boundary=B"})
    assert answer.status_code == 400 and [e["file"] for e in answer.json()["files"]] == ["a.xlsx"]
    assert list((rnd.folder / FILES / INCOMING).iterdir()) == []
    assert client.get("/api/units").status_code == 200


def test_two_uploads_at_once_lose_nothing(tmp_path):
    files = sorted(RETURNED.iterdir())
    with Round.init(tmp_path / "轮次", ROSTER) as rnd, LiveServer(rnd) as server:
        answered: list[str] = []

        def send(part):
            with httpx.Client(base_url=server.url, timeout=60) as client:
                for p in part:
                    answered.extend(e["file"] for e in _post(client, p).json()["files"])

        threads = [threading.Thread(target=send, args=(files[i::2],)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(answered) == sorted(p.name for p in files)
        assert sorted(r.file_name for r in rnd.receipts()) == sorted(p.name for p in files)
        assert rnd.ledger.counts()["versions"] == len(files)


def _start_server(folder: Path) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-m", "xlsx_tools.cli", "serve", str(folder), "--no-browser"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    found = re.search(r"http://\S+?/", line)
    assert found, line + proc.stderr.read()
    return proc, found.group(0)


def test_a_server_killed_mid_batch_keeps_every_file_it_acknowledged(tmp_path):
    files = sorted(RETURNED.iterdir())
    folder = tmp_path / "轮次"
    Round.init(folder, ROSTER).close()
    proc, url = _start_server(folder)
    acknowledged: list[str] = []
    stop = threading.Event()

    def send():
        with httpx.Client(base_url=url, timeout=30) as client:
            for p in files:
                if stop.is_set():
                    return
                try:
                    answer = _post(client, p)
                except httpx.HTTPError:
                    return              # the server is gone: this one was never acknowledged
                if answer.status_code == 200:
                    acknowledged.extend(e["file"] for e in answer.json()["files"])

    sender = threading.Thread(target=send)
    sender.start()
    deadline = time.monotonic() + 60
    while len(acknowledged) < 5 and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    stop.set()
    sender.join(30)
    assert 5 <= len(acknowledged) < len(files)

    proc, url = _start_server(folder)
    try:
        receipts = httpx.get(url + "api/receipts", timeout=30).json()["receipts"]
        names = [r["file_name"] for r in receipts]
        assert set(acknowledged) <= set(names)
        units = httpx.get(url + "api/units", timeout=30).json()["units"]
        for u in units:
            for v in u["versions"]:
                # Nothing half-written is shown: each listed version's file is whole.
                got = httpx.get(url + f"versions/{v['id']}/file", timeout=30)
                assert got.status_code == 200 and len(got.content) == v["size"]
        assert not list((folder / FILES / INCOMING).iterdir())
        # Sending again what was not acknowledged just adds it (or finds it already kept).
        rest = [p for p in files if p.name not in acknowledged]
        with httpx.Client(base_url=url, timeout=30) as client:
            for p in rest:
                assert _post(client, p).status_code == 200
        assert sorted(r["file_name"] for r in httpx.get(url + "api/receipts", timeout=30).json()["receipts"]
                      if not r["repeat"]) == sorted(p.name for p in files)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(10)


def test_serve_refuses_a_lan_address_without_a_password(tmp_path):
    folder = tmp_path / "轮次"
    Round.init(folder, ROSTER).close()
    done = subprocess.run([sys.executable, "-m", "xlsx_tools.cli", "serve", str(folder), "--host", "0.0.0.0",
                           "--no-browser"], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2 and "--password" in done.stderr and "Traceback" not in done.stderr


def test_the_servers_connections_send_at_once(tmp_path):
    """Nagle's algorithm is off (TCP_NODELAY) on what the server's socket accepts, as asyncio sets
    it for sockets that say they are TCP: an answer's headers and body, written apart, are not
    held back waiting for the browser's delayed ACK."""
    sock = bind("127.0.0.1", 0)
    seen: list[int] = []

    async def accept_one():
        def on_connect(reader, writer):
            seen.append(writer.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            writer.close()

        server = await asyncio.start_server(on_connect, sock=sock)
        async with server:
            reader, writer = await asyncio.open_connection(*sock.getsockname()[:2])
            await reader.read()
            writer.close()

    asyncio.run(accept_one())
    assert seen and seen[0] != 0


def test_the_summaries_list_the_batches_in_the_forms_order(tmp_path):
    """平台项目 last, 第三批 after 第二批: the batch field's choices, not the characters' codes."""
    from xlsx_tools.form import load_form
    from xlsx_tools.merge import OVERVIEW_STEM, batch_file_stem

    form = load_form()
    with Round.init(tmp_path / "轮次", ROSTER) as rnd:
        rnd.receive([RETURNED])
        with LiveServer(rnd) as server, httpx.Client(base_url=server.url, timeout=120) as client:
            assert client.post("/api/summaries").status_code == 200
            files = [f["name"] for f in client.get("/api/summaries").json()["builds"][0]["files"]]
            page = client.get("/summaries").text
    stems = [batch_file_stem(b) for b in form.batches]
    assert files == [f"{OVERVIEW_STEM}.xlsx", *[f"{s}.xlsx" for s in stems], *[f"{s}.csv" for s in stems]]
    shown = [page.index(f"{s}.xlsx") for s in stems]
    assert shown == sorted(shown)
