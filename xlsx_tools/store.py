"""A round's store of received files: each kept once, named by its content's hash.

A file arrives as a stream of bytes (an upload, a file on disk, a member of a
.zip). :meth:`Store.incoming` writes it to a temporary file while hashing and
counting it; :meth:`Incoming.finish` makes it durable (fsync), then renames it
to ``<sha256><suffix>``, then fsyncs the folder. Only then may the ledger record
it. A file already in the store is never overwritten, and nothing is ever
deleted from it, except the temporary files a killed process left behind.

Past the reader's size limit (:data:`xlsx_tools.read.MAX_FILE_BYTES`) the bytes
are still hashed and counted but no longer kept: the file is recorded as too
large, with its hash and size, and nothing of it is stored.

The sender's file name is never part of a path here: only the suffix, when it
is a plain one (``.xlsx``, ``.xls``...), so the reader can say what kind of file
it was sent.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import time
import unicodedata
from pathlib import Path
from typing import BinaryIO, Self

from .read import MAX_FILE_BYTES

__all__ = ["INCOMING", "Incoming", "Store", "Stored", "safe_suffix", "sender_name", "too_large_reason"]

INCOMING = ".incoming"           # temporary files, under the store's folder
_SUFFIX = re.compile(r"\.[a-z0-9]{1,10}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
_MAX_NAME = 255                  # characters of a sender's name kept for showing
_CHUNK = 1024 * 1024


def safe_suffix(name: str) -> str:
    """The name's suffix, lower case, if it is a plain one; else ''."""
    suffix = os.path.splitext(name)[1].lower()
    return suffix if _SUFFIX.fullmatch(suffix) else ""


def sender_name(name: object) -> str:
    """A sender's file name as it may be shown and recorded: no folders, no control characters.

    Browsers send the bare name, but anyone can send ``../../x`` or ``C:\\x``; the
    last part is what a person called the file.
    """
    text = unicodedata.normalize("NFC", str(name or ""))
    text = re.split(r"[\\/]", text)[-1]
    text = _CONTROL.sub("", text).strip()
    if len(text) > _MAX_NAME:
        stem, suffix = os.path.splitext(text)
        text = stem[:_MAX_NAME - len(suffix)] + suffix
    return text or "未命名文件"


def too_large_reason(size: int, at_least: bool = False) -> str:
    """Why a file past the size limit was not kept, in Chinese."""
    mb = 1024 * 1024
    more = "超过" if at_least else ""
    return (f"文件{more} {size / mb:,.0f} MB，大于一份统计表可能有的 {MAX_FILE_BYTES // mb} MB，未保存。"
            f"请只保留下发的表格内容后重新保存发送。")


class Stored:
    """A file made durable: its hash, its size, and where it is kept (None: too large)."""

    def __init__(self, sha256: str, size: int, stored: str | None):
        self.sha256 = sha256
        self.size = size
        self.stored = stored

    @property
    def too_large(self) -> bool:
        return self.stored is None

    def __repr__(self) -> str:
        return f"Stored({self.sha256[:12]}, {self.size}, {self.stored!r})"


class Incoming:
    """A file being received: write its bytes, then :meth:`finish` or :meth:`abort`."""

    def __init__(self, store: Store, suffix: str, limit: int):
        self._store = store
        self._suffix = suffix
        self._limit = limit
        self._hash = hashlib.sha256()
        self.size = 0
        # The writer's process id in the name: another process opening the round (a `serve`
        # started while `round receive` runs) leaves a living writer's files alone.
        fd, tmp = tempfile.mkstemp(prefix=f"part-{os.getpid()}-", dir=store.incoming_dir)
        self._tmp = Path(tmp)
        self._file: BinaryIO | None = os.fdopen(fd, "wb")

    @property
    def too_large(self) -> bool:
        return self.size > self._limit

    def write(self, data: bytes) -> None:
        self._hash.update(data)
        room = self._limit - self.size
        self.size += len(data)
        if self._file is None:
            return
        if len(data) <= room:
            self._file.write(data)
        else:
            # Past the limit: keep counting and hashing, store nothing of it.
            self._close()
            self._tmp.unlink(missing_ok=True)

    def copy_from(self, source: BinaryIO) -> None:
        while chunk := source.read(_CHUNK):
            self.write(chunk)

    def finish(self) -> Stored:
        sha = self._hash.hexdigest()
        if self._file is None:           # too large: nothing kept
            return Stored(sha, self.size, None)
        self._file.flush()
        os.fsync(self._file.fileno())
        self._close()
        name = sha + self._suffix
        target = self._store.folder / name
        existing = name if target.exists() else self._store.find(sha)
        if existing is not None:         # the same bytes are kept already
            self._tmp.unlink(missing_ok=True)
            return Stored(sha, self.size, existing)
        os.replace(self._tmp, target)
        _fsync_dir(self._store.folder)
        return Stored(sha, self.size, name)

    def abort(self) -> None:
        self._close()
        self._tmp.unlink(missing_ok=True)

    def _close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind, value, tb) -> None:
        if kind is not None:
            self.abort()


class Store:
    """The folder of received files (``DIR/files``)."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.incoming_dir = self.folder / INCOMING

    def create(self) -> Store:
        self.incoming_dir.mkdir(parents=True, exist_ok=True)
        return self

    def incoming(self, file_name: str, limit: int = MAX_FILE_BYTES) -> Incoming:
        """A temporary file to write a file named ``file_name`` (by its sender) into."""
        self.incoming_dir.mkdir(parents=True, exist_ok=True)
        return Incoming(self, safe_suffix(file_name), limit)

    def put(self, source: BinaryIO, file_name: str, limit: int = MAX_FILE_BYTES) -> Stored:
        """Store what ``source`` holds (read to its end)."""
        with self.incoming(file_name, limit) as part:
            part.copy_from(source)
            return part.finish()

    def find(self, sha256: str) -> str | None:
        """The stored name of the file with this hash, if it is kept (under any suffix)."""
        # A plain scan: a glob compiles a pattern for every new hash, and this runs once a file.
        with os.scandir(self.folder) as entries:
            for entry in entries:
                if entry.name.startswith(sha256) and os.path.splitext(entry.name)[0] == sha256 \
                        and entry.is_file():
                    return entry.name
        return None

    def path(self, stored: str) -> Path:
        """The path of a stored file; ``stored`` is a name the store gave, never a sender's."""
        if not re.fullmatch(r"[0-9a-f]{64}(\.[a-z0-9]{1,10})?", stored):
            raise ValueError(f"not a stored file's name: {stored!r}")
        return self.folder / stored

    def clean_incoming(self) -> int:
        """Remove what a killed process left half-written; how many files."""
        n = 0
        if self.incoming_dir.is_dir():
            for p in self.incoming_dir.iterdir():
                if p.is_file() and not _writer_alive(p):
                    p.unlink(missing_ok=True)
                    n += 1
        return n


def _writer_alive(path: Path) -> bool:
    """Is the process that is writing this temporary file still running?"""
    parts = path.name.split("-")
    if len(parts) < 3 or not parts[1].isdigit():
        return False
    pid = int(parts[1])
    if pid == os.getpid():
        return False          # this process has just started: it is writing nothing yet
    if os.name != "posix":
        try:                  # no cheap test for another process here: a day-old file is a left-over
            return time.time() - path.stat().st_mtime < 86400
        except OSError:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (where the system allows it)."""
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
