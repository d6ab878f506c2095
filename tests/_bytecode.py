"""Bytecode for the test run, kept out of the tree (imported first by conftest.py).

Where the environment forbids bytecode files (PYTHONDONTWRITEBYTECODE, as on the team's
machines), every pytest worker and every command a test starts would compile the package and
rewrite every test module afresh, each run: about half of a worker's start, a third of a
command's. Their bytecode goes to a folder under the system's temp dir instead, never into the
tree; subprocesses inherit it through the environment.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path


def _own_folder(path: Path) -> bool:
    """Made here, or made before by this user and writable by no one else (a bytecode file
    planted by another user would run in the tests)."""
    try:
        path.mkdir(mode=0o700, exist_ok=True)
        st = path.stat()
    except OSError:
        return False
    if not hasattr(os, "getuid"):           # Windows: the temp dir is the user's own
        return True
    return st.st_uid == os.getuid() and not st.st_mode & 0o022


_owner = os.getuid() if hasattr(os, "getuid") else os.environ.get("USERNAME", "")
PYCACHE = Path(tempfile.gettempdir()) / f"xlsx-tools-pycache-{_owner}"
if sys.dont_write_bytecode and _own_folder(PYCACHE):
    sys.dont_write_bytecode = False
    sys.pycache_prefix = str(PYCACHE)
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
