"""Gather the files of a round: every file given, and every file in the folders given.

Used by validate, merge and the round, so all find the same files and show them
by the same names. A folder walk takes every file a person may have put there
(a PDF, a Word file, a .xls, a .csv sent by mistake is listed as 无法读取 with
its reason) and leaves out only what the system or an office program made
(:func:`is_system_name`): no filler sends those, and listing them would bury
the returns under noise.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

__all__ = ["SYSTEM_NAMES", "is_system_name", "iter_returned_files", "returned_files", "shown_path"]

# Files and folders (by name, any case) that Windows and macOS make by themselves.
SYSTEM_NAMES = frozenset({"thumbs.db", "ehthumbs.db", "desktop.ini", "__macosx"})


def is_system_name(name: str) -> bool:
    """A file or folder no filler sends: hidden (a name starting with a dot: .DS_Store,
    macOS's ._name beside each file, LibreOffice's lock .~lock.name#, a .git folder),
    Excel's and WPS's owner file of an open workbook (~$name.xlsx), Windows' Thumbs.db,
    ehthumbs.db and desktop.ini, and the __MACOSX folder of a zip made on a Mac."""
    return name.startswith((".", "~$")) or name.lower() in SYSTEM_NAMES


def iter_returned_files(paths: Iterable[str | Path]) -> Iterator[Path]:
    """Every file under ``paths``, each once, in a stable order (:func:`returned_files`)."""
    return (p for p, _ in returned_files(paths))


def returned_files(paths: Iterable[str | Path]) -> Iterator[tuple[Path, str]]:
    """(path, name under the path given) for every file under ``paths``, each once, in a
    stable order. The name is the file's path under the folder it was found in
    (``子文件夹/名称``), or its own name when given by itself: what outputs that leave
    this machine show, never where the folder is here. With more than one path given,
    a name under a folder starts with that folder's own name (``邮件1/名称``), so that
    two files of the same name sent in two folders are told apart.

    A path given by name is always yielded, whatever it is (the reader says why
    it is no workbook). Inside folders every file is, but for the system's
    (:func:`is_system_name`: hidden files and folders, lock files, Thumbs.db...).
    Folders are walked recursively, following symlinks but never twice into the
    same real folder, so a symlink loop ends. What cannot be listed (no
    permission) is yielded itself, so it is reported rather than silently missing.
    """
    paths = list(paths)
    seen_dirs: set[str] = set()
    seen_files: set[str] = set()

    def real(p: Path) -> str:
        try:
            return os.path.realpath(p)
        except (OSError, RuntimeError, ValueError):
            return str(p)

    def walk(top: Path) -> Iterator[Path]:
        # Depth first, in name order, with a stack of iterators: a folder tree of
        # any depth is walked without recursion.
        # The folder's own name (of "." too) before the names under it, when several.
        own = Path(os.path.abspath(top)).name if len(paths) > 1 else ""

        def name(p: Path) -> str:
            under = os.path.relpath(p, top) if p is not top else p.name
            return os.path.join(own, under) if own and p is not top else under

        stack: list[Iterator[os.DirEntry | Path]] = [iter([top])]
        while stack:
            entry = next(stack[-1], None)
            if entry is None:
                stack.pop()
                continue
            p = Path(entry.path) if isinstance(entry, os.DirEntry) else entry
            try:
                is_dir = entry.is_dir()   # follows symlinks; a loop is stopped by seen_dirs
            except OSError:
                is_dir = False
            if is_system_name(p.name) and p is not top:
                continue
            if is_dir:
                key = real(p)
                if key in seen_dirs:
                    continue
                seen_dirs.add(key)
                try:
                    entries = sorted(os.scandir(p), key=lambda e: e.name)
                except OSError:
                    # cannot be listed: reported, not skipped
                    yield p, name(p)
                    continue
                stack.append(iter(entries))
            else:
                k = real(p)
                if k not in seen_files:
                    seen_files.add(k)
                    yield p, name(p)

    for given in paths:
        p = Path(given)
        try:
            is_dir = p.is_dir()
        except (OSError, ValueError):
            is_dir = False
        if is_dir:
            yield from walk(p)
        else:
            k = real(p)
            if k not in seen_files:
                seen_files.add(k)
                yield p, p.name


def shown_path(path: str | Path) -> str:
    """The path as a person should read it, always printable text.

    A name that is not UTF-8 on disk (a zip of Chinese names made on Windows,
    unpacked here, keeps its GBK bytes) comes from the system with stand-ins
    that no report can write; it is shown as GB18030 where those bytes are, and
    with the replacement character otherwise.
    """
    text = str(path)
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        pass
    parts = []
    for raw in os.fsencode(text).split(b"/"):
        try:
            parts.append(raw.decode("utf-8"))
        except UnicodeDecodeError:
            try:
                parts.append(raw.decode("gb18030"))
            except UnicodeDecodeError:
                parts.append(raw.decode("utf-8", "replace"))
    return "/".join(parts)
