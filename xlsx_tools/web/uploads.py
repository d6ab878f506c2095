"""Receive the files of a multipart upload as they stream in.

Each file part is written to the round's store as it arrives (never held in
memory, never under its sender's name), counted against the reader's size
limit, and received (validated, placed, recorded) as soon as it ends, before
the next part is read. So a file the response lists is in the ledger and the
store, and a server killed in the middle keeps every file it had answered for.

Fields of the form: ``file`` (repeatable) with the files; optionally, before
them, ``batch`` (files of one drop in the browser, told apart as one receiving)
and ``mtime`` (the next file's modification time, in milliseconds, as
JavaScript's ``File.lastModified`` gives it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request

from ..read import MAX_FILE_BYTES
from ..round import Receipt, Round, new_batch_id
from ..store import Incoming, sender_name

__all__ = ["MAX_PARTS", "MAX_REQUEST_BYTES", "UploadError", "receive_upload"]

MAX_PARTS = 2_000                      # parts of one request (files and fields)
MAX_FIELD_BYTES = 1024                 # a field other than a file
MAX_REQUEST_BYTES = 4 * MAX_FILE_BYTES  # one request; a browser sends one file a request
_BATCH = re.compile(r"[A-Za-z0-9_-]{1,64}")


class UploadError(Exception):
    """An upload that could not be read to its end; ``receipts`` were recorded before."""

    def __init__(self, status: int, message: str, receipts: list[Receipt]):
        super().__init__(message)
        self.status = status
        self.message = message
        self.receipts = receipts


@dataclass
class _Part:
    name: str = ""
    file_name: str | None = None
    incoming: Incoming | None = None
    data: bytearray = field(default_factory=bytearray)
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)


class _Upload:
    def __init__(self, rnd: Round, source: str, batch_id: str | None):
        self.rnd = rnd
        self.source = source
        self.batch_id = batch_id
        self.mtime: float | None = None
        self.part = _Part()
        self.parts = 0
        self.files = 0
        self.header_field = b""
        self.header_value = b""
        self.finished: list[_Part] = []
        self.ended = False               # the closing boundary came: nothing was cut off

    # python-multipart's callbacks (called from parser.write, in the event loop)
    def on_part_begin(self) -> None:
        self.part = _Part()
        self.parts += 1
        if self.parts > MAX_PARTS:
            raise _TooMany()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def on_header_end(self) -> None:
        self.part.headers.append((self.header_field.lower(), self.header_value))
        self.header_field, self.header_value = b"", b""

    def on_headers_finished(self) -> None:
        disposition = next((v for k, v in self.part.headers if k == b"content-disposition"), b"")
        _, options = parse_options_header(disposition)
        self.part.name = options.get(b"name", b"").decode("utf-8", "replace")
        if b"filename" in options:
            self.files += 1
            self.part.file_name = sender_name(options[b"filename"].decode("utf-8", "replace"))
            self.part.incoming = self.rnd.store.incoming(self.part.file_name)

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self.part.incoming is not None:
            self.part.incoming.write(data[start:end])
        elif len(self.part.data) + (end - start) <= MAX_FIELD_BYTES:
            self.part.data += data[start:end]

    def on_part_end(self) -> None:
        part = self.part
        if part.incoming is None:
            value = part.data.decode("utf-8", "replace").strip()
            if part.name == "batch" and _BATCH.fullmatch(value):
                self.batch_id = value
            elif part.name == "mtime":
                try:
                    self.mtime = float(value) / 1000
                except ValueError:
                    self.mtime = None
            return
        self.finished.append(part)

    def on_end(self) -> None:
        self.ended = True

    def abort_open(self) -> None:
        if self.part.incoming is not None:
            self.part.incoming.abort()
        for p in self.finished:
            p.incoming.abort()
        self.finished.clear()


class _TooMany(Exception):
    pass


async def receive_upload(request: Request, rnd: Round, source: str) -> list[Receipt]:
    """Receive every file part of the request; raise :class:`UploadError` for a broken upload."""
    content_type, params = parse_options_header(request.headers.get("content-type"))
    if content_type != b"multipart/form-data" or b"boundary" not in params:
        raise UploadError(400, "请以 multipart/form-data 上传文件（字段名 file，可重复）。", [])
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > MAX_REQUEST_BYTES:
        limit_mb = MAX_REQUEST_BYTES // (1024 * 1024)
        raise UploadError(413, f"一次上传的内容超过 {limit_mb} MB，请分几次上传。", [])
    batch = request.query_params.get("batch")
    up = _Upload(rnd, source, batch if batch and _BATCH.fullmatch(batch) else None)
    callbacks = {name: getattr(up, name) for name in (
        "on_part_begin", "on_header_field", "on_header_value", "on_header_end", "on_headers_finished",
        "on_part_data", "on_part_end", "on_end")}
    receipts: list[Receipt] = []
    total = 0
    try:
        parser = MultipartParser(params[b"boundary"], callbacks)
        async for chunk in request.stream():
            total += len(chunk)
            if total > MAX_REQUEST_BYTES:
                raise UploadError(413, f"一次上传的内容超过 {MAX_REQUEST_BYTES // (1024 * 1024)} MB，"
                                       f"已收下之前的文件，请把其余文件分几次上传。", receipts)
            parser.write(chunk)
            await _receive_finished(up, receipts)
        parser.finalize()
        await _receive_finished(up, receipts)
        if not up.ended:
            raise UploadError(400, "上传不完整（内容在中途断了）。已收下之前完整上传的文件。", receipts)
    except _TooMany:
        raise UploadError(413, f"一次上传的文件超过 {MAX_PARTS} 个，请分几次上传。", receipts) from None
    except FormParserError:
        raise UploadError(400, "上传的内容格式有误，未能读完。已收下之前的文件。", receipts) from None
    except ClientDisconnect:
        raise UploadError(400, "上传中断。已收下之前完整上传的文件。", receipts) from None
    finally:
        up.abort_open()
    if not receipts and up.files == 0:
        raise UploadError(400, "没有收到文件：请用字段名 file 上传。", [])
    return receipts


async def _receive_finished(up: _Upload, receipts: list[Receipt]) -> None:
    while up.finished:
        part = up.finished.pop(0)
        mtime, up.mtime = up.mtime, None
        if up.batch_id is None:
            up.batch_id = new_batch_id()   # one request is one receiving, unless told otherwise
        receipts += await run_in_threadpool(_finish, up.rnd, part, up.source, up.batch_id, mtime)


def _finish(rnd: Round, part: _Part, source: str, batch_id: str, mtime: float | None) -> list[Receipt]:
    stored = part.incoming.finish()
    part.incoming = None
    return rnd.receive_stored(stored, part.file_name, source=source, batch_id=batch_id, mtime=mtime)
