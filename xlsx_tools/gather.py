"""Gather the files of a round: every file given, and every candidate in the folders given.

Used by validate and merge, so both find the same files and show them by the
same names.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

__all__ = ["WORKBOOK_EXTENSIONS", "iter_workbook_files", "shown_path"]

# Extensions of files that are, or are often mistaken for, workbooks: a folder
# walk reports each of them, so a clerk sees why a .xls or .csv was not read.
WORKBOOK_EXTENSIONS = frozenset({
    ".xlsx", ".xlsm", ".xltx", ".xltm", ".xlsb", ".xls", ".xlt", ".xml",
    ".et", ".ett", ".ods", ".fods", ".csv", ".tsv", ".numbers", ".wps",
})


def iter_workbook_files(paths: Iterable[str | Path]) -> Iterator[Path]:
    """Every file to check under ``paths``, each once, in a stable order.

    A path given by name is always yielded (the reader says why it is no
    workbook); inside folders, files with a workbook-like extension are. Folders
    are walked recursively, following symlinks but never twice into the same
    real folder, so a symlink loop ends. What cannot be listed (no permission)
    is yielded itself, so it is reported rather than silently missing. Office's
    lock files (~$name.xlsx, .~lock.name#) are skipped: they are no one's return.
    """
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
            if is_dir:
                key = real(p)
                if key in seen_dirs:
                    continue
                seen_dirs.add(key)
                try:
                    entries = sorted(os.scandir(p), key=lambda e: e.name)
                except OSError:
                    yield p   # cannot be listed: reported, not skipped
                    continue
                stack.append(iter(entries))
            elif _is_candidate(p.name):
                k = real(p)
                if k not in seen_files:
                    seen_files.add(k)
                    yield p

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
                yield p


def _is_candidate(name: str) -> bool:
    if name.startswith(("~$", ".~lock.")):
        return False
    return os.path.splitext(name)[1].lower() in WORKBOOK_EXTENSIONS


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
