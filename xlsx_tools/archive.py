"""Unpack a .zip of returned files into a round's store, within the reader's limits.

A clerk often gets the returns of a province as one .zip. Each member becomes a
received file of its own, named as the sender named it (the last part of its
path in the zip, never used as a path here). The archive is refused, with a
Chinese reason, when its directory announces more than the reader would ever
inflate (:data:`~xlsx_tools.read.MAX_MEMBERS` entries,
:data:`~xlsx_tools.read.MAX_ARCHIVE_UNCOMPRESSED` bytes in all); a member is,
when it is larger than :data:`~xlsx_tools.read.MAX_FILE_BYTES`, compressed more
than :data:`~xlsx_tools.read.MAX_RATIO` times, or encrypted. Inflating counts
the bytes actually produced, since a zip directory can lie.

Names are decoded as the program that made the zip wrote them: UTF-8 where the
zip says so, otherwise GBK as Windows in China writes them (Python's zipfile
would show those as cp437 gibberish).
"""

from __future__ import annotations

import datetime as dt
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from .gather import is_system_name
from .read import MAX_ARCHIVE_UNCOMPRESSED, MAX_FILE_BYTES, MAX_MEMBERS, MAX_RATIO, RATIO_FLOOR
from .store import Store, Stored, sender_name, too_large_reason

__all__ = ["Member", "Unpacked", "is_archive_name", "unpack"]

_UTF8_FLAG = 0x800
_ENCRYPTED_FLAG = 0x1
_MB = 1024 * 1024


@dataclass
class Member:
    """One file of the archive: stored, or the reason it was not."""
    name: str                        # the sender's name of the file (no folders)
    inner_path: str                  # where it sat in the zip, for showing
    stored: Stored | None = None
    kind: str | None = None          # why not stored: too_large | bomb | encrypted | corrupt
    reason: str | None = None
    mtime: float | None = None       # the time the zip records for it


@dataclass
class Unpacked:
    members: list[Member] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)   # system files left out
    kind: str | None = None          # why the archive could not be unpacked at all ("workbook": not one)
    reason: str | None = None

    @property
    def note(self) -> str:
        """What became of the archive, in Chinese, for the record."""
        if self.reason:
            return self.reason
        text = f"压缩包，解出 {len(self.members)} 个文件"
        if self.skipped:
            text += f"；略过系统文件 {len(self.skipped)} 个（{'、'.join(self.skipped[:3])}" \
                    f"{'等' if len(self.skipped) > 3 else ''}）"
        return text + "。"


def is_archive_name(file_name: str) -> bool:
    """A .zip sent as such (an .xlsx is a zip too, but is read as a workbook)."""
    return file_name.lower().endswith(".zip")


def _decoded(info: zipfile.ZipInfo) -> str:
    if info.flag_bits & _UTF8_FLAG:
        return info.filename
    raw = info.filename.encode("cp437", errors="replace")
    for encoding in ("utf-8", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return info.filename


def _is_system(inner: str) -> bool:
    """What file managers put into a zip that is no one's return: the folder walk's rule,
    for the file and every folder above it in the zip."""
    parts = [p for p in inner.replace("\\", "/").split("/") if p not in ("", ".", "..")]
    return any(is_system_name(part) for part in parts)


def _mtime(info: zipfile.ZipInfo) -> float | None:
    try:
        return dt.datetime(*info.date_time).timestamp()
    except (ValueError, OverflowError):
        return None


def _refused(kind: str, reason: str) -> Unpacked:
    return Unpacked(kind=kind, reason=reason)


def unpack(path: str | Path, store: Store) -> Unpacked:
    """Store every member of the zip at ``path``; never raises for a bad archive."""
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return _refused("corrupt", "压缩包已损坏或不完整，无法解压。"
                                   "请重新压缩后发送，或直接发送其中的 .xlsx 文件。")
    with zf:
        infos = zf.infolist()
        if any(i.filename == "[Content_Types].xml" for i in infos):
            return Unpacked(kind="workbook")   # a workbook with a .zip name: read it as one
        if len(infos) > MAX_MEMBERS:
            return _refused("too_large", f"压缩包中有 {len(infos):,} 个条目，超过 {MAX_MEMBERS:,} 个，"
                                         f"不予解压。请分成几个压缩包发送。")
        declared = sum(i.file_size for i in infos)
        if declared > MAX_ARCHIVE_UNCOMPRESSED:
            return _refused("too_large", f"压缩包解压后共 {declared / _MB:,.0f} MB，超过 "
                                         f"{MAX_ARCHIVE_UNCOMPRESSED // _MB} MB，不予解压。"
                                         f"请分成几个压缩包发送。")
        out = Unpacked()
        for info in infos:
            if info.is_dir():
                continue
            inner = _decoded(info)
            name = sender_name(inner)
            if _is_system(inner):
                out.skipped.append(name)
                continue
            out.members.append(_member(zf, info, inner, name, store))
        if not out.members:
            out.kind, out.reason = "empty", "压缩包中没有任何文件。"
        return out


def _member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, inner: str, name: str, store: Store) -> Member:
    m = Member(name=name, inner_path=inner, mtime=_mtime(info))
    if info.flag_bits & _ENCRYPTED_FLAG:
        m.kind = "encrypted"
        m.reason = "压缩包中的这个文件设置了密码，无法解压。请不加密码重新压缩，或直接发送文件。"
        return m
    if info.file_size > MAX_FILE_BYTES:
        m.kind, m.reason = "too_large", too_large_reason(info.file_size)
        return m
    if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
        m.kind, m.reason = "too_large", (f"压缩包中的这个文件压缩比超过 {MAX_RATIO} 倍（解压炸弹），"
                                         f"不予解压。")
        return m
    try:
        with zf.open(info) as src, store.incoming(name) as part:
            while chunk := src.read(_MB):
                part.write(chunk)
                if part.too_large:     # the directory lied about the size
                    break
            if part.too_large:
                part.abort()
                m.kind, m.reason = "too_large", too_large_reason(part.size, at_least=True)
                return m
            m.stored = part.finish()
    except (zipfile.BadZipFile, zlib.error, EOFError, ValueError, NotImplementedError, RuntimeError):
        m.kind, m.reason = "corrupt", "压缩包中的这个文件已损坏，无法解压。请重新压缩后发送，或直接发送文件。"
    return m

