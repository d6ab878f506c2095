"""What a file is, before it is opened as a zip: say so when it is no .xlsx.

People send what they have: a legacy .xls, a WPS .et, a PDF or a web page
renamed to .xlsx, a workbook with an open password. Each is named for what it
is, so the sender knows what to do.
"""

from __future__ import annotations

import io
import os
import stat
from pathlib import Path
from typing import BinaryIO

from .limits import MAX_FILE_BYTES
from .refusal import RejectedFile, reject, too_large

__all__ = ["open_checked"]

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_IN_MEMORY = 4 * 1024 * 1024
_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")


def open_checked(path: Path) -> BinaryIO:
    """``path`` open for reading, if it is a regular file that starts as a zip; else RejectedFile."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise reject("missing") from None
    except PermissionError:
        raise reject("permission") from None
    except (OSError, ValueError) as e:
        # A symlink loop or a name the system cannot handle.
        raise reject("not_a_file", "unopenable") from e
    if stat.S_ISDIR(st.st_mode):
        try:
            os.scandir(path).close()
        except OSError:
            raise reject("permission", "folder") from None
        raise reject("not_a_file", "folder")
    if not stat.S_ISREG(st.st_mode):
        raise reject("not_a_file")
    if st.st_size == 0:
        raise reject("empty")
    if st.st_size > MAX_FILE_BYTES:
        raise too_large("file", mb=st.st_size // (1024 * 1024))
    try:
        fh = open(path, "rb")  # noqa: SIM115 - the caller's zip reads it, and closes it
        head = fh.read(8192 if st.st_size > _IN_MEMORY else _IN_MEMORY)
    except PermissionError:
        raise reject("permission") from None
    except OSError as e:
        raise reject("unreadable") from e
    suffix = path.suffix.lower()
    if not head.startswith(_ZIP_MAGICS):
        fh.close()
        raise _ole(path, suffix) if head.startswith(_OLE_MAGIC) else _not_zip(head, suffix)
    if len(head) == st.st_size:
        # A form is some 60 KB: read at once, the zip's many small reads cost no system calls.
        fh.close()
        return io.BytesIO(head)
    fh.seek(0)
    return fh


def _not_zip(head: bytes, suffix: str) -> RejectedFile:
    """A file that is not a zip: say what it looks like."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith(b"%PDF"):
        what = "pdf"
    elif text.startswith((b"<!doctype html", b"<html")) or b"<html" in text[:1024]:
        what = "html"
    elif text.startswith(b"<"):
        what = "xml"
    elif head.startswith((b"\x89PNG", b"\xff\xd8\xff", b"GIF8")):
        what = "image"
    elif head.startswith((b"Rar!", b"7z\xbc\xaf", b"\x1f\x8b")):
        what = "archive"
    elif suffix in (".csv", ".tsv") or _looks_like_text(head):
        what = "text"
    else:
        what = None
    return reject("not_zip", what)


def _looks_like_text(head: bytes) -> bool:
    if not head:
        return False
    for enc in ("utf-8", "gb18030", "utf-16"):
        try:
            head.decode(enc)
            return b"\x00" not in head or enc == "utf-16"
        except UnicodeDecodeError:
            continue
    return False


def _ole(path: Path, suffix: str) -> RejectedFile:
    """An OLE2 compound file: a legacy .xls/.et, or an encrypted .xlsx."""
    try:
        with open(path, "rb") as fh:
            data = fh.read(4 * 1024 * 1024)
    except OSError:
        data = b""
    if "EncryptedPackage".encode("utf-16-le") in data or "EncryptionInfo".encode("utf-16-le") in data:
        return reject("encrypted")
    if suffix in (".et", ".ett"):
        return reject("et")
    if "Workbook".encode("utf-16-le") in data or "Book".encode("utf-16-le") in data:
        return reject("xls")
    return reject("not_zip", "office")
