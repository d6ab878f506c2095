"""Writing an output file: whole or not at all, and a failure said once, in Chinese.

Every output the toolkit writes (the JSON and the findings workbook of validate,
annotated copies, the summaries, generated workbooks, the 催报 list) goes through
here. A file is written under a temporary name in its own folder and renamed
when it is complete, so a full disk or a killed run never leaves half a file
under the real name; :func:`write_files` renames a set of files only once every
one of them is written. A failure is a :class:`CannotWrite`: one sentence naming
the path (never the temporary name) and why, in words a clerk reads (never the
system's English).

This module depends on nothing else of the package.
"""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

__all__ = ["OutputError", "CannotWrite", "why_not_written", "write_file", "write_bytes", "write_files",
           "distinct_name"]

TEMP_PREFIX = ".tmp-"   # hidden, so a folder walk never takes a temporary file for a return


class OutputError(Exception):
    """An output could not be made; the message is Chinese, for the user."""


class CannotWrite(OutputError, OSError):
    """``target`` could not be written: ``str()`` is the sentence to show.

    An OSError too (the errno of the cause), so code that handles a failed write
    as an OSError still does; ``strerror`` is the Chinese reason.
    """

    def __init__(self, target: str | Path, cause: OSError | None = None, what: str = "",
                 reason: str | None = None):
        self.target = Path(target)
        self.what = what
        self.reason = reason or why_not_written(cause, self.target)
        OSError.__init__(self, cause.errno if cause is not None else None, self.reason)

    def __str__(self) -> str:
        return f"无法写入{self.what}“{self.target}”：{self.reason}。"

    def __reduce__(self):
        # Made again as it is when it comes back from a worker process.
        return (_again, (self.target, self.what, self.reason, self.errno))

    def naming(self, given: str | Path, what: str | None = None) -> CannotWrite:
        """The same failure said of the path the user gave (a folder above the file)."""
        return CannotWrite(given, what=self.what if what is None else what, reason=self.reason)


def _again(target: Path, what: str, reason: str, number: int | None) -> CannotWrite:
    e = CannotWrite(target, what=what, reason=reason)
    e.errno = number
    return e


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:
        return False


def _file_in_the_way(target: Path) -> Path | None:
    for part in (target, *target.parents):
        try:
            if part.exists() and not part.is_dir():
                return part
        except OSError:
            return None
    return None


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:
        return False


# errno -> why, for a clerk.
_REASONS = {
    errno.EACCES: "没有写入权限",
    errno.EPERM: "没有写入权限",
    errno.EROFS: "磁盘或文件夹是只读的",
    errno.ENOSPC: "磁盘空间不足",
    errno.EDQUOT: "磁盘配额已用完",
    errno.EFBIG: "文件超过了系统允许的大小",
    errno.ENAMETOOLONG: "文件名或路径太长",
    errno.ENOENT: "文件夹不存在，也无法创建",
    errno.EIO: "读写磁盘时出错",
}


def why_not_written(e: OSError | None, target: str | Path) -> str:
    """Why ``target`` could not be written, in Chinese (no system text, no temporary names)."""
    target = Path(target)
    if e is None:
        return "写入失败"
    if isinstance(e, (NotADirectoryError, FileExistsError)) or e.errno in (errno.ENOTDIR, errno.EEXIST):
        # A part of the path is a file (or the folder to make is one).
        in_way = _file_in_the_way(target.parent) or _file_in_the_way(target)
        if in_way is not None:
            return f"“{in_way}”是一个文件，不是文件夹"
        return "路径中有一部分不是文件夹"
    if isinstance(e, IsADirectoryError) or e.errno == errno.EISDIR:
        return f"已有一个名为“{target.name}”的文件夹"
    if e.errno == errno.EACCES and _is_file(target):
        # What Windows says of a file open in Excel or WPS too.
        return "没有写入权限，或这个文件正在 Excel 或 WPS 中打开（请先关闭它）"
    made = Path(e.filename) if isinstance(e.filename, str) else None
    if e.errno == errno.ENOENT and made is not None and made.name.startswith(TEMP_PREFIX) \
            and _is_dir(made.parent):
        # A file made in a folder that is there (/proc takes none): not a missing folder.
        return "这个文件夹中不能新建文件"
    if e.errno in _REASONS:
        return _REASONS[e.errno]
    return f"写入时出错（系统错误代码 {e.errno}）" if e.errno else "写入失败"


def _temporary(folder: Path, suffix: str) -> Path:
    fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=suffix, dir=folder)
    os.close(fd)
    return Path(tmp)


def _unlink(paths) -> None:
    for p in paths:
        try:
            p.unlink()
        except OSError:
            pass


def write_file(path: str | Path, write: Callable[[Path], None], what: str = "") -> Path:
    """``write(temporary path)``, then renamed to ``path``; its folder made if need be.

    Raises :class:`CannotWrite` (naming ``path``) when the file cannot be written.
    """
    path = Path(path)
    return write_files(path.parent, {path.name: write}, what=what, shown=path)[0]


def distinct_name(stem: str, used: set[str], suffix: str = "") -> str:
    """``stem + suffix``, or ``stem（2）suffix``, ``stem（3）suffix``... where a name differing only
    in case is in ``used`` (Windows and macOS folders ignore case); the name given is added to it.

    The one way two outputs that would share a name are told apart (annotated copies of
    same-named returns from different folders, the workbooks of two recommending units whose
    names make one file name); full-width brackets, as the Chinese names they follow.
    """
    candidate, n = stem + suffix, 1
    while candidate.lower() in used:
        n += 1
        candidate = f"{stem}（{n}）{suffix}"
    used.add(candidate.lower())
    return candidate


def write_bytes(path: str | Path, data: bytes, what: str = "") -> Path:
    """:func:`write_file` of bytes made beforehand."""
    return write_file(path, lambda tmp: tmp.write_bytes(data), what=what)


def write_files(folder: str | Path, files: Mapping[str, Callable[[Path], None]], what: str = "",
                shown: str | Path | None = None) -> list[Path]:
    """Write several files into ``folder``, all or none: each is written under a
    temporary name, and only when every one is complete are they put in place.

    ``files`` maps each file's name (a path under ``folder``) to ``write(temporary path)``. Raises
    :class:`CannotWrite` naming ``shown`` (default ``folder``) when any cannot be
    written or put in place (a folder of its name, a file of it open in Excel on
    Windows); then what was there before is there still, and no temporary file stays.
    """
    folder = Path(folder)
    made: list[tuple[Path, Path]] = []
    kept: list[tuple[Path, Path]] = []    # (a target, what it was: set aside until all are in place)
    placed: list[Path] = []
    current = folder                      # what was being written when it failed
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for name, write in files.items():
            current = folder / name
            if current.is_dir():
                raise IsADirectoryError(errno.EISDIR, "", str(current))
            # A name may be in a subfolder (a recommending unit's folder): its temporary file beside it.
            current.parent.mkdir(parents=True, exist_ok=True)
            tmp = _temporary(current.parent, current.suffix)
            made.append((tmp, current))
            write(tmp)
        for tmp, current in made:
            if current.is_dir():   # made since it was looked at: never moved aside
                raise IsADirectoryError(errno.EISDIR, "", str(current))
            if os.path.lexists(current):
                aside = _temporary(current.parent, current.suffix)
                os.replace(current, aside)
                kept.append((current, aside))
            os.replace(tmp, current)
            placed.append(current)
    except BaseException as e:
        # Put back what was there: none of the set is replaced.
        _unlink(placed)
        for old, aside in kept:
            try:
                os.replace(aside, old)
            except OSError:
                pass
        _unlink(tmp for tmp, _ in made)
        if isinstance(e, OSError):
            raise CannotWrite(shown if shown is not None else folder, e, what=what,
                              reason=why_not_written(e, current)) from None
        raise
    _unlink(aside for _, aside in kept)
    return [target for _, target in made]
