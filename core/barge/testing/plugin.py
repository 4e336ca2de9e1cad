"""barge's pytest plugin (entry point ``pytest11: barge_testing``).

Loaded by pytest in every project that has barge installed, so it stays
cheap: no imports of driver code and no side effects at import time; it only
offers fixtures that driver tests share.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

import pytest


def disk_tmp_root() -> str | None:
    """A directory on a real disk: overlay cannot use tmpfs for everything
    (no user xattrs), so prefer ``/var/tmp`` when ``/tmp`` is tmpfs."""
    for candidate in (os.environ.get("BARGE_TEST_TMPDIR"), tempfile.gettempdir(), "/var/tmp"):
        if candidate and os.path.isdir(candidate) and not is_tmpfs(candidate):
            return candidate
    return None


def is_tmpfs(path: str) -> bool:
    """Whether ``path`` lies on a tmpfs (overlay cannot use it as an upper dir)."""
    best, fstype = "", ""
    try:
        with open("/proc/self/mounts") as fh:
            for line in fh:
                parts = line.split()
                mnt = parts[1].replace("\\040", " ")
                if (path == mnt or path.startswith(mnt.rstrip("/") + "/")) and len(mnt) >= len(best):
                    best, fstype = mnt, parts[2]
    except OSError:
        return False
    return fstype == "tmpfs"


@pytest.fixture
def barge_disk_tmp() -> Iterator[Path]:
    """A fresh directory on a real disk file system, removed afterwards."""
    path = Path(tempfile.mkdtemp(prefix="barge-test-", dir=disk_tmp_root()))
    try:
        yield path
    finally:
        _force_rmtree(path)


def _force_rmtree(path: Path) -> None:
    """Remove a test tree even if it still holds a mount (unmount lazily first)."""
    try:
        with open("/proc/self/mounts") as fh:
            mounts = [line.split()[1] for line in fh]
    except OSError:
        mounts = []
    inside = sorted((m for m in mounts if m.startswith(str(path) + "/")), key=len, reverse=True)
    if inside:
        from barge.mount import unmount

        for target in inside:
            unmount(target, detach=True)
    shutil.rmtree(path, ignore_errors=True)
