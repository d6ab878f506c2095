"""Places an output cannot be written to, made for real, and the command run against them.

- ``under_a_file``: the path goes through a file (ENOTDIR), for any user;
- ``read_only``: a folder without write permission (EACCES). Root writes anywhere, so
  as root the command runs as an unprivileged user of a user namespace of its own
  (``unshare --map-user``), where the kernel lets it make one; skipped elsewhere;
- ``disk_full``: a tmpfs of one page in a mount namespace of the command's own
  (``unshare``, ENOSPC), where the kernel lets a user make one; skipped elsewhere;
- ``file_too_big``: the process may write no file above 4 KB (RLIMIT_FSIZE, EFBIG),
  for any user.

:func:`run` runs ``python -m xlsx_tools.cli`` in a folder of :func:`workspace`, with the
paths given as a user types them (relative to it), and returns (exit code, stdout, stderr).
The workspace is pytest's ``tmp_path``.
"""

from __future__ import annotations

import os
import re
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PLACES = ("under_a_file", "read_only", "disk_full", "file_too_big")
NOBODY = 65534
FSIZE = 4096
IS_ROOT = os.geteuid() == 0


def place(kind: str, work: Path) -> Path:
    """A folder (relative to ``work``) under which nothing can be written, of ``kind``."""
    if kind == "under_a_file":
        (work / "一个文件").write_text("这是一个文件，不是文件夹", encoding="utf-8")
        return Path("一个文件")
    if kind == "read_only":
        if IS_ROOT and not _can_unshare("--user", "--map-user=65534", "--map-group=65534", "true"):
            pytest.skip("root, and no user namespace here to run as another user (unshare)")
        (work / "只读").mkdir()
        (work / "只读").chmod(0o555)
        return Path("只读")
    if kind == "disk_full":
        if not _can_unshare("-rm", "sh", "-c", "mount -t tmpfs -o size=4k none /mnt"):
            pytest.skip("no mount namespace for a user here (unshare)")
        (work / "满了").mkdir()
        return Path("满了")
    if kind == "file_too_big":
        (work / "限额").mkdir()
        return Path("限额")
    raise ValueError(kind)


def _can_unshare(*args: str) -> bool:
    if not shutil.which("unshare"):
        return False
    return subprocess.run(["unshare", *args], capture_output=True, check=False).returncode == 0


def run(kind: str, work: Path, *args: str | Path, timeout: float = 120) -> tuple[int, str, str]:
    """``xlsx-tools ARGS`` in ``work`` as the place of ``kind`` needs it: in this process
    (click's CliRunner) where nothing about the process must change, else a program of its own."""
    if kind == "under_a_file":
        return _here(work, args)
    command = [sys.executable, "-m", "xlsx_tools.cli", *map(str, args)]
    env = {**os.environ, "CI": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    extra: dict = {}
    if kind == "read_only" and IS_ROOT:
        command = ["unshare", "--user", f"--map-user={NOBODY}", f"--map-group={NOBODY}", *command]
    elif kind == "disk_full":
        mount = 'mount -t tmpfs -o size=4k none "$0" && exec "$@"'
        command = ["unshare", "-rm", "sh", "-c", mount, str(work / "满了"), *command]
    elif kind == "file_too_big":
        extra = {"preexec_fn": lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (FSIZE, FSIZE))}
    done = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False, **extra)
    return done.returncode, done.stdout, done.stderr


def _here(work: Path, args) -> tuple[int, str, str]:
    from click.testing import CliRunner

    from xlsx_tools.cli import main

    before = os.getcwd()
    os.chdir(work)
    try:
        result = CliRunner().invoke(main, [str(a) for a in args], prog_name="xlsx-tools")
    finally:
        os.chdir(before)
    return result.exit_code, result.stdout, result.stderr


# English a system or a library would say, and the names of temporary files.
ENGLISH = re.compile(r"[A-Za-z]{4,}")
TEMPORARY = re.compile(r"\.tmp-|\.building-|tmp[a-z0-9_]{6,}")


def one_sentence_naming(stderr: str, given: Path | str) -> str:
    """The one line the command said, which names ``given`` as the user typed it and says
    nothing in English nor of a temporary file; returned for more checks."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    line = lines[0]
    assert f"“{given}”" in line, (given, line)
    assert not TEMPORARY.search(line), line
    assert not ENGLISH.search(unquoted(line)), line
    assert "Traceback" not in stderr
    return line


def unquoted(text: str) -> str:
    """``text`` without what it quotes (paths and file names are said in “”)."""
    return re.sub(r"“[^”]*”", "", text)


def leftovers(folder: Path) -> list[str]:
    """Temporary files left in ``folder`` (none may be)."""
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.rglob("*") if TEMPORARY.search(p.name))
