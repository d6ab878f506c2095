"""The zip package of a workbook, within limits checked before and while inflating.

The zip directory is checked before anything is inflated (entry count, total
size, ratio per entry: a bomb is refused unopened), and the bytes are counted
again as they come, since a directory can lie. Every part the reader uses is
inflated to its end, where zipfile checks its CRC: a flipped bit is a damaged
file, not a value.

Part names are looked up as OPC says, without regard to case; so two entries
whose names differ only in case (or repeat exactly) make the package ambiguous
(zipfile and LibreOffice take the last, other readers the first) and it is
refused.
"""

from __future__ import annotations

import time
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Self

from .limits import (
    MAX_ARCHIVE_UNCOMPRESSED,
    MAX_MEMBERS,
    MAX_RATIO,
    MAX_SECONDS,
    MAX_UNCOMPRESSED,
    RATIO_FLOOR,
)
from .refusal import reject, too_large, too_slow
from .sniff import open_checked

__all__ = ["Package", "part_key"]

_CHUNK = 64 * 1024


def part_key(name: str) -> str:
    """A part name as compared: no leading slash, forward slashes, case folded."""
    return name.replace("\\", "/").lstrip("/").lower()


class Package:
    """One file's zip, open for reading parts; use as a context manager."""

    def __init__(self, path: Path, deadline: float | None = None):
        self.path = path
        self.deadline = deadline if deadline is not None else time.monotonic() + MAX_SECONDS
        self.inflated = 0
        self.zf: zipfile.ZipFile | None = None
        self.members: dict[str, zipfile.ZipInfo] = {}

    def __enter__(self) -> Self:
        self._fh = open_checked(self.path)
        try:
            self._directory()
        except BaseException:
            self.__exit__()
            raise
        return self

    def _directory(self) -> None:
        try:
            self.zf = zipfile.ZipFile(self._fh)
            infos = self.zf.infolist()
        except (zipfile.BadZipFile, EOFError, ValueError, OSError) as e:
            raise reject("truncated") from e
        if len(infos) > MAX_MEMBERS:
            raise too_large("members", count=len(infos))
        total = 0
        for info in infos:
            total += info.file_size
            if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
                raise too_large("ratio", times=info.file_size // max(info.compress_size, 1))
            if info.filename.endswith("/"):
                continue   # a folder entry holds nothing
            key = part_key(info.filename)
            if key in self.members:
                raise reject("duplicate_entry", name=info.filename)
            self.members[key] = info
        if total > MAX_ARCHIVE_UNCOMPRESSED:
            raise too_large("total", mb=total // (1024 * 1024))

    def __exit__(self, *exc) -> None:
        if self.zf is not None:
            self.zf.close()
        self._fh.close()

    def member(self, name: str) -> zipfile.ZipInfo | None:
        return self.members.get(part_key(name))

    def has(self, name: str) -> bool:
        return part_key(name) in self.members

    def check_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise too_slow()

    def chunks(self, name: str) -> Iterator[bytes]:
        """A part's bytes, chunk by chunk, within the byte and time limits."""
        info = self.member(name)
        if info is None:
            raise reject("corrupt")
        if self.inflated + info.file_size > MAX_UNCOMPRESSED:
            raise too_large("member", mb=info.file_size // (1024 * 1024))
        assert self.zf is not None
        try:
            with self.zf.open(info) as fh:
                while True:
                    chunk = fh.read(_CHUNK)
                    if not chunk:
                        return
                    self.inflated += len(chunk)
                    if self.inflated > MAX_UNCOMPRESSED:
                        raise too_large("inflated", mb=MAX_UNCOMPRESSED // (1024 * 1024))
                    self.check_time()
                    yield chunk
        except (zipfile.BadZipFile, zlib.error, EOFError) as e:
            raise reject("corrupt") from e
        except RuntimeError as e:   # a zip member with its own password
            raise reject("encrypted") from e
        except NotImplementedError as e:   # a compression method zipfile lacks
            raise reject("unreadable") from e

    def read(self, name: str) -> bytes:
        """A whole part (the limits keep it small enough to hold)."""
        return b"".join(self.chunks(name))
