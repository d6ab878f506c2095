"""The pages and the JSON API of ``xlsx-tools serve``, over one round's folder.

Every page is plain HTML made on the server from the ledger (Jinja2
templates, one small script for dropping files), and has a JSON twin under
``/api/``:

=====================  ==============================  =======================================
page                   JSON                            what
=====================  ==============================  =======================================
``/``                  ``GET /api/units``              the roster with each unit's status
``/units/{id}``        ``GET /api/units/{id}``         a unit: versions, findings, downloads
``/receipts``          ``GET /api/receipts``           every file received, in order
``/reminders``         ``GET /api/reminders``          the 催报 list (``/reminders.xlsx``)
``/summaries``         ``GET|POST /api/summaries``     the summaries, built on request
``/workbooks``         ``GET /api/workbooks``          blank and pre-filled workbooks
(drop zone on ``/``)   ``POST /api/files``             receive files (multipart ``file``)
=====================  ==============================  =======================================

Work on the ledger runs in worker threads, so a long validation never holds
up another page.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import tempfile
import zipfile
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from markupsafe import Markup, escape
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from ..catalogue import STATUSES as STATUS_TABLE
from ..catalogue import status_word
from ..merge import ST_DUPLICATE
from ..merge import output_key, recommending_folder
from ..read import MAX_FILE_BYTES
from ..reminders import LAST_RECEIVED, reminder_columns, reminders, write_reminders_xlsx
from ..round import (
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
    Unit,
    display,
    extra_columns,
    year_on_year,
)
from ..writing import CannotWrite
from .security import CSRF_FIELD, SESSION_COOKIE, Auth, Guard, check_csrf, csrf_token, safe_next
from .uploads import UploadError, receive_upload

__all__ = ["create_app"]

_HERE = resources.files(__package__)
SOURCE_CN = {"cli": "命令行", "web": "浏览器", "api": "接口"}
# The look of each status (the words are catalogue.toml's); upload.js gets them from the page.
STATUS_CLASS = {ST_MISSING: "missing", ST_ACCEPTED: "ok", ST_WARNINGS: "warn", ST_EXPLAINED: "explained",
                ST_FAILED: "bad", ST_UNREADABLE: "bad", ST_TO_CONFIRM: "dup", ST_RECEIVED_BEFORE: "dup"}
# What an upload can come back as, in the order the drop area counts them.
UPLOAD_STATUSES = (ST_ACCEPTED, ST_WARNINGS, ST_EXPLAINED, ST_FAILED, ST_UNREADABLE, ST_RECEIVED_BEFORE)
OFF_ROSTER = status_word("off_roster")   # not a status of the round: a filter, and a tag
STATUS_WORDS = {code: word for code, (word, _) in STATUS_TABLE.items()}
SORTS = ("row", "unit", "batch", "category", "recommending", "status", "file", "received")


def _time(iso: str | None, seconds: bool = False) -> str:
    """2022-09-15T10:03:21+08:00 as a clerk reads it: 2022-09-15 10:03 (or 10:03:21)."""
    return (iso or "")[:19 if seconds else 16].replace("T", " ")


def _size(n: int | None) -> str:
    if n is None:
        return ""
    if n < 1024:
        return f"{n} 字节"
    if n < 1024 * 1024:
        return f"{n / 1024:.0f} KB"
    return f"{n / 1024 / 1024:.1f} MB"


def _file_name(name: str) -> Markup:
    """A file name whose extension never breaks from its last character (.xls/x)."""
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem:
        return escape(name)
    return Markup(f'{escape(stem)}<span class="ext">.{escape(ext)}</span>')


def _number(value: object, decimals: int | None = None) -> str:
    """A JSON number as the table shows it: 1,234 or 3.5 (with ``decimals``, 1,269.20, as an
    amount beside another); — for none."""
    if value is None:
        return "—"
    if decimals is not None and isinstance(value, (int, float)):
        return f"{value:,.{decimals}f}"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"{value:,}" if isinstance(value, (int, float)) else str(value)


def _growth(value: float | None) -> str:
    """+25.0% / -80.0%; — when it cannot be told (no value, or last year's 0)."""
    return "—" if value is None else f"{value:+.1%}"


def create_app(rnd: Round, password: str | None = None, loopback_only: bool = True) -> Starlette:
    """The web application over the round ``rnd``."""
    auth = Auth(password)
    templates = Jinja2Templates(directory=str(_HERE / "templates"))
    templates.env.filters["time"] = _time
    templates.env.filters["size"] = _size
    # {{ value|number(field_id) }}: an amount with its two decimals, as the workbook shows it.
    templates.env.filters["number"] = lambda value, field=None: _number(
        value, 2 if field and rnd.form.field(field).type == "amount" else None)
    templates.env.filters["filename"] = _file_name
    templates.env.filters["growth"] = _growth
    # A role's value as the table shows it: {{ u.category|display("category") }}.
    templates.env.filters["display"] = lambda value, role: display(rnd.form, role, value)
    # The roles the tables show, in order, headed as the form heads them (its roster's headers).
    role_header = {r: rnd.form.column_header(r) for r in ("unit", "batch", "category", "recommending")
                   if rnd.form.role(r)}
    upload_words = json.dumps({"order": UPLOAD_STATUSES, "class": STATUS_CLASS, "unreadable": ST_UNREADABLE,
                               "to_confirm": ST_TO_CONFIRM},
                              ensure_ascii=False)
    templates.env.globals.update(status_class=STATUS_CLASS, source_cn=SOURCE_CN, statuses=STATUSES,
                                 off_roster=OFF_ROSTER, received_before=ST_RECEIVED_BEFORE,
                                 to_confirm=ST_TO_CONFIRM,
                                 upload_words=upload_words, status_words=STATUS_WORDS,
                                 statuses_not_added="、".join((ST_FAILED, ST_UNREADABLE, ST_DUPLICATE)),
                                 finding_name=rnd.form.catalogue.finding_name, role_header=role_header,
                                 can_explain=rnd.form.explainable)

    def page(request: Request, name: str, status_code: int = 200, **context: Any) -> Response:
        context.update(request=request, rnd=rnd, form=rnd.form, csrf=csrf_token(request),
                       login=auth.required, max_mb=MAX_FILE_BYTES // (1024 * 1024))
        return templates.TemplateResponse(request, name, context, status_code=status_code)

    def unit_or_404(unit_id: int) -> Unit:
        unit = rnd.unit(unit_id)
        if unit is None:
            raise HTTPException(404, "没有这个单位。")
        return unit

    # -- the roster --------------------------------------------------------------------

    def listing(request: Request) -> dict[str, Any]:
        q = request.query_params
        units = rnd.units()
        counts = rnd.counts(units)
        chosen = {k: q.get(k, "") for k in ("status", "batch", "category", "recommending", "q")}
        shown = [u for u in units
                 if (not chosen["status"] or u.status == chosen["status"]
                     or (chosen["status"] == OFF_ROSTER and not u.on_roster))
                 and (not chosen["batch"] or u.batch == chosen["batch"])
                 and (not chosen["category"] or u.category == chosen["category"])
                 and (not chosen["recommending"] or u.recommending == chosen["recommending"])
                 and (not chosen["q"] or chosen["q"].strip() in u.unit)]
        sort = q.get("sort", "row") if q.get("sort") in SORTS else "row"
        order = "desc" if q.get("order") == "desc" else "asc"
        batches, cats = list(rnd.form.batches), list(rnd.form.categories)

        def key(u: Unit):
            return {
                "row": (not u.on_roster, u.row.roster_row or 0, u.id),
                "unit": (u.unit,),
                "batch": (batches.index(u.batch) if u.batch in batches else 99, u.row.roster_row or 0),
                "category": (cats.index(u.category) if u.category in cats else 99,),
                "recommending": (u.recommending or "\uffff",),
                "status": (STATUSES.index(u.status),),
                "file": (u.chosen.file_name if u.chosen else "\uffff",),
                "received": (u.chosen.received_at if u.chosen else "",),
            }[sort]
        shown.sort(key=key, reverse=order == "desc")
        seq = {u.id: i for i, u in enumerate((u for u in units if u.on_roster), start=1)}
        return {"units": units, "shown": shown, "counts": counts, "chosen": chosen, "sort": sort, "seq": seq,
                "order": order, "recommending": sorted({u.recommending for u in units if u.recommending})}

    def sort_link(request: Request, column: str, current: str, order: str) -> str:
        params = dict(request.query_params)
        params["sort"] = column
        params["order"] = "desc" if column == current and order == "asc" else "asc"
        return "?" + urlencode(params)

    templates.env.globals["sort_link"] = sort_link

    def home(request: Request) -> Response:
        data = listing(request)
        return page(request, "units.html", unplaced=rnd.unplaced(), **data)

    def api_units(request: Request) -> Response:
        data = listing(request)
        results = rnd.chosen_results(data["shown"])
        # Each unit with its chosen version's findings as validate's JSON has them (explanation
        # included); null for a unit with no file.
        units = [{**u.to_dict(), "findings": results[u.id]["findings"] if u.id in results else None}
                 for u in data["shown"]]
        return JSONResponse({"round": rnd.name, "form": rnd.form.id, "counts": data["counts"],
                             "units": units, "unplaced": [v.to_dict() for v in rnd.unplaced()]})

    # -- one unit ------------------------------------------------------------------------

    def _year_on_year(v, result: dict[str, Any] | None) -> list:
        # The version's result as already read (Round.year_on_year would read it again).
        return year_on_year(rnd.form, result if v is not None and v.readable else None)

    def unit_details(unit: Unit) -> dict[str, Any]:
        v = unit.chosen
        result = v.result() if v is not None else None
        findings = []
        for f in (result or {}).get("findings", []):
            findings.append({**f, "field_titles": [rnd.form.field_title(i) for i in f.get("fields", [])
                                                   if i in rnd.form.by_id]})
        # The 审核说明 column where a warning could have one (errors cannot be explained).
        explainable = any(f["severity"] != "error" and rnd.form.explainable(f["code"]) for f in findings)
        # The finding on each field, for the 上年 table (an error over a warning on the same field).
        errors_last = sorted(findings, key=lambda f: f["severity"] == "error")
        flagged = {i: f for f in errors_last for i in f["fields"]}
        return {"unit": unit, "result": result, "findings": findings, "explainable": explainable,
                "flagged": flagged,
                "year_on_year": _year_on_year(v, result), "previous_label": rnd.form.previous.label,
                "roster_facts": rnd.roster_facts(unit),
                "annotated": v is not None and v.readable and bool(v.errors or v.warnings)}

    def unit_page(request: Request) -> Response:
        unit = unit_or_404(request.path_params["unit_id"])
        return page(request, "unit.html", **unit_details(unit))

    def api_unit(request: Request) -> Response:
        unit = unit_or_404(request.path_params["unit_id"])
        v = unit.chosen
        result = v.result() if v is not None else None
        return JSONResponse({**unit.to_dict(), "result": result,
                             "year_on_year": [y.to_dict() for y in _year_on_year(v, result)]})

    async def choose(request: Request) -> Response:
        unit_id = request.path_params["unit_id"]
        form = await request.form(max_files=0, max_fields=10)
        if not check_csrf(request, str(form.get(CSRF_FIELD, ""))):
            return _csrf_refused(request)
        return await run_in_threadpool(_choose, request, unit_id, str(form.get("version", "")))

    def _choose(request: Request, unit_id: int, version: str) -> Response:
        unit_or_404(unit_id)
        try:
            rnd.pin(unit_id, None if version in ("", "latest") else int(version))
        except (RoundError, ValueError) as e:
            raise HTTPException(400, str(e) if isinstance(e, RoundError) else "版本号不对。") from e
        if request.url.path.startswith("/api/"):
            return JSONResponse(rnd.unit(unit_id).to_dict())
        return RedirectResponse(f"/units/{unit_id}", 303)

    def version_or_404(request: Request):
        v = rnd.version(request.path_params["version_id"])
        if v is None:
            raise HTTPException(404, "没有这个文件。")
        return v

    def original(request: Request) -> Response:
        v = version_or_404(request)
        return FileResponse(rnd.stored_path(v), filename=v.file_name)

    def annotated(request: Request) -> Response:
        v = version_or_404(request)
        path = rnd.annotated_copy(v)
        if path is None:
            raise HTTPException(404, "这个文件没有问题，或无法读取，没有标注副本。")
        return FileResponse(path, filename=Path(v.file_name).stem + ".xlsx")

    # -- receiving ------------------------------------------------------------------------

    async def api_files(request: Request) -> Response:
        if not check_csrf(request):
            return _csrf_refused(request)
        source = "web" if "origin" in request.headers or "sec-fetch-site" in request.headers else "api"
        try:
            receipts = await receive_upload(request, rnd, source)
        except UploadError as e:
            return JSONResponse({"form": rnd.form.id, "error": e.message,
                                 "files": [r.to_dict() for r in e.receipts]}, e.status)
        return JSONResponse({"form": rnd.form.id, "files": [r.to_dict() for r in receipts]})

    def receipts_page(request: Request) -> Response:
        # The latest receiving first; the files of one in the round's order (by name).
        items = rnd.receipts()
        began = {}
        for i, r in enumerate(items):
            began.setdefault(r.row.batch_id, i)
        items.sort(key=lambda r: -began[r.row.batch_id])
        return page(request, "receipts.html", receipts=items)

    def api_receipts(request: Request) -> Response:
        return JSONResponse({"round": rnd.name, "receipts": [
            {"id": r.row.id, "received_at": r.row.received_at, "file_name": r.file_name, "size": r.row.size,
             "sha256": r.row.sha256, "source": r.row.source, "batch_id": r.row.batch_id,
             "archive": r.archive_name, "is_archive": r.row.is_archive, "status": r.status if not
             r.row.is_archive else None, "repeat": r.repeat, "version_id": r.row.version_id,
             "unit_id": r.unit.id if r.unit else None, "note": r.row.note}
            for r in rnd.receipts()]})

    # -- 催报 ---------------------------------------------------------------------------------

    def reminders_page(request: Request) -> Response:
        items = reminders(rnd)
        # The contact columns no unit of the roster has a value in: the roster lacks them.
        units = rnd.units()
        missing = [c.header for c in rnd.form.contact_columns if not any(u.extra.get(c.key) for u in units)]
        return page(request, "reminders.html", items=items, missing=missing,
                    contacts=len(missing) < len(rnd.form.contact_columns),
                    extra=extra_columns(rnd.form, [r.unit for r in items]))

    def api_reminders(request: Request) -> Response:
        items = reminders(rnd)
        return JSONResponse({"round": rnd.name, "columns": reminder_columns(rnd.form),
                             "extra_columns": extra_columns(rnd.form, [r.unit for r in items]),
                             "last_received": LAST_RECEIVED, "reminders": [r.to_dict() for r in items]})

    def reminders_xlsx(request: Request) -> Response:
        fd, tmp = tempfile.mkstemp(suffix=".xlsx")
        os.close(fd)
        write_reminders_xlsx(rnd, tmp)
        stamp = dt.datetime.now().strftime("%Y%m%d")
        return FileResponse(tmp, filename=f"催报名单-{stamp}.xlsx",
                            background=BackgroundTask(os.unlink, tmp))

    # -- summaries ------------------------------------------------------------------------------

    by_recommending = recommending_folder(rnd.form)

    def builds() -> list[dict[str, Any]]:
        out = []
        for b in rnd.summary_builds():
            files = sorted((p for p in b.iterdir() if p.is_file()),
                           key=lambda p: output_key(rnd.form, p.name))
            # Each recommending unit's workbook (in merge's folder for them), downloaded as <folder>/<name>.
            folder = b / by_recommending
            own = sorted(p for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []
            out.append({"name": b.name, "files": [{"name": p.name, "size": p.stat().st_size} for p in files],
                        "recommending": [{"name": p.name, "unit": p.stem, "size": p.stat().st_size,
                                          "path": f"{by_recommending}/{p.name}"} for p in own],
                        "built_at": dt.datetime.fromtimestamp(b.stat().st_mtime).strftime("%Y-%m-%d %H:%M")})
        return out

    def summaries_page(request: Request) -> Response:
        # Units whose version is only a default: the summaries take it, the clerk has not confirmed it.
        unsure = [u for u in rnd.units() if u.status == ST_TO_CONFIRM]
        return page(request, "summaries.html", builds=builds(), to_confirm_units=unsure)

    def api_summaries(request: Request) -> Response:
        return JSONResponse({"round": rnd.name, "builds": builds()})

    async def build_summaries(request: Request) -> Response:
        api = request.url.path.startswith("/api/")
        if api:
            ok = check_csrf(request)
        else:
            form = await request.form(max_files=0, max_fields=10)
            ok = check_csrf(request, str(form.get(CSRF_FIELD, "")))
        if not ok:
            return _csrf_refused(request)
        result, target = await run_in_threadpool(rnd.merge)
        if api:
            return JSONResponse({"build": target.name, "added": result.added,
                                 "files": [p.name for p in result.outputs]})
        return RedirectResponse("/summaries", 303)

    def summary_file(request: Request) -> Response:
        # Looked up among what the build holds, never joined from the request into a path.
        build, name = request.path_params["build"], request.path_params["name"]
        folder = request.path_params.get("folder")
        for b in rnd.summary_builds():
            if b.name == build and folder in (None, by_recommending):
                where = b if folder is None else b / by_recommending
                for p in (where.iterdir() if where.is_dir() else ()):
                    if p.name == name and p.is_file():
                        return FileResponse(p, filename=p.name)
        raise HTTPException(404, "没有这个汇总文件。")

    # -- workbooks -------------------------------------------------------------------------------

    def workbooks_page(request: Request) -> Response:
        units = [u for u in rnd.units() if u.on_roster]
        prefilled = [c.header for c in rnd.form.roster_columns if c.field]
        return page(request, "workbooks.html", units=units, prefilled=prefilled)

    def api_workbooks(request: Request) -> Response:
        return JSONResponse({"blank": "/workbooks/blank", "all": "/workbooks/all.zip",
                             "units": [{"id": u.id, "unit": u.unit, "batch": u.batch,
                                        "url": f"/workbooks/units/{u.id}"}
                                       for u in rnd.units() if u.on_roster]})

    def blank(request: Request) -> Response:
        path = rnd.blank_workbook()
        return FileResponse(path, filename=path.name)

    def prefilled(request: Request) -> Response:
        unit = unit_or_404(request.path_params["unit_id"])
        made = rnd.prefilled_workbook(unit)
        if made is None:
            raise HTTPException(404, "这个单位不在名单上，没有预填的统计表。")
        return FileResponse(made[0], filename=made[1])

    def all_prefilled(request: Request) -> Response:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            for u in rnd.units():
                made = rnd.prefilled_workbook(u) if u.on_roster else None
                if made is not None:
                    z.write(made[0], made[1])
        return Response(buf.getvalue(), media_type="application/zip", headers={
            "Content-Disposition": "attachment; filename*=utf-8''" + _quote("全部预填统计表.zip")})

    # -- logging in --------------------------------------------------------------------------------

    def login_page(request: Request) -> Response:
        if not auth.required:
            return RedirectResponse("/", 303)
        return page(request, "login.html", next=safe_next(request.query_params.get("next")), wrong=False)

    async def login(request: Request) -> Response:
        form = await request.form(max_files=0, max_fields=10)
        target = safe_next(str(form.get("next", "")))
        if not auth.required:
            return RedirectResponse("/", 303)
        if not check_csrf(request, str(form.get(CSRF_FIELD, ""))):
            return _csrf_refused(request)
        if not auth.check_password(str(form.get("password", ""))):
            await auth.failed()
            return page(request, "login.html", status_code=401, next=target, wrong=True)
        response = RedirectResponse(target, 303)
        response.set_cookie(SESSION_COOKIE, auth.new_session(), httponly=True, samesite="strict", path="/")
        return response

    async def logout(request: Request) -> Response:
        form = await request.form(max_files=0, max_fields=10)
        if not check_csrf(request, str(form.get(CSRF_FIELD, ""))):
            return _csrf_refused(request)
        auth.end_session(request.cookies.get(SESSION_COOKIE))
        response = RedirectResponse("/login", 303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    # -- errors -----------------------------------------------------------------------------------

    def _csrf_refused(request: Request) -> Response:
        message = "页面已过期或请求不是从本页面发出（缺少安全令牌）。请刷新页面后重试。"
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": message}, 403)
        return page(request, "error.html", status_code=403, title="请求被拒绝", message=message)

    async def http_error(request: Request, exc: HTTPException) -> Response:
        messages = {404: "找不到这个页面。", 405: "不支持这种请求方式。"}
        own = isinstance(exc.detail, str) and exc.detail not in ("", "Not Found", "Method Not Allowed")
        message = exc.detail if own else messages.get(exc.status_code, "请求有误。")
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": message}, exc.status_code)
        return page(request, "error.html", status_code=exc.status_code, title="出错了", message=message)

    async def server_error(request: Request, exc: Exception) -> Response:
        if isinstance(exc, CannotWrite):   # a file the page asked for could not be made in the round's folder
            message = f"{exc}其他功能不受影响。"
        elif isinstance(exc, OSError):
            message = f"{CannotWrite(rnd.folder, exc, '轮次文件夹')}其他功能不受影响。"
        else:
            message = "服务器处理这个请求时出错。其他功能不受影响，请稍后重试。"
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": message}, 500)
        return page(request, "error.html", status_code=500, title="出错了", message=message)

    routes = [
        Route("/", home),
        Route("/units/{unit_id:int}", unit_page),
        Route("/units/{unit_id:int}/choice", choose, methods=["POST"]),
        Route("/versions/{version_id:int}/file", original),
        Route("/versions/{version_id:int}/annotated", annotated),
        Route("/receipts", receipts_page),
        Route("/reminders", reminders_page),
        Route("/reminders.xlsx", reminders_xlsx),
        Route("/summaries", summaries_page),
        Route("/summaries", build_summaries, methods=["POST"]),
        Route("/summaries/{build}/{name}", summary_file),
        Route("/summaries/{build}/{folder}/{name}", summary_file),
        Route("/workbooks", workbooks_page),
        Route("/workbooks/blank", blank),
        Route("/workbooks/units/{unit_id:int}", prefilled),
        Route("/workbooks/all.zip", all_prefilled),
        Route("/login", login_page),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/api/units", api_units),
        Route("/api/units/{unit_id:int}", api_unit),
        Route("/api/units/{unit_id:int}/choice", choose, methods=["POST"]),
        Route("/api/files", api_files, methods=["POST"]),
        Route("/api/receipts", api_receipts),
        Route("/api/reminders", api_reminders),
        Route("/api/summaries", api_summaries),
        Route("/api/summaries", build_summaries, methods=["POST"]),
        Route("/api/workbooks", api_workbooks),
        Mount("/static", StaticFiles(directory=str(_HERE / "static")), name="static"),
    ]
    return Starlette(routes=routes,
                     middleware=[Middleware(Guard, auth=auth, loopback_only=loopback_only)],
                     exception_handlers={HTTPException: http_error, Exception: server_error})


def _quote(name: str) -> str:
    from urllib.parse import quote
    return quote(name)
