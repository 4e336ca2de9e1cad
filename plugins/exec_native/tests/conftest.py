"""Fixtures shared by the exec_native tests: a busybox root file system built
from the host's static busybox, root-only skips, and a child-subreaper scope.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

import pytest

from barge.testing.plugin import disk_tmp_root
from barge.testing.rootfs import build_busybox_rootfs, static_busybox


@pytest.fixture(scope="session")
def busybox_rootfs() -> Iterator[Path]:
    """A busybox root file system directory (read-only use: layer an overlay to write)."""
    if static_busybox() is None:
        pytest.skip("needs a static /bin/busybox (apt-get install busybox-static)")
    base = Path(tempfile.mkdtemp(prefix="barge-busybox-", dir=disk_tmp_root()))
    try:
        yield build_busybox_rootfs(base / "rootfs")
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def need_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root: namespaces, mounts and cgroups")


@pytest.fixture
def subreaper(need_root) -> Iterator[None]:
    """Make this test process a child subreaper for the test, as the monitor is.

    Container inits are grandchildren (their setup child exits): as a
    subreaper we inherit and can ``waitpid`` them. Turned off afterwards;
    tests reap what they started.
    """
    from barge import libc

    libc.prctl(libc.PR_SET_CHILD_SUBREAPER, 1)
    try:
        yield
    finally:
        libc.prctl(libc.PR_SET_CHILD_SUBREAPER, 0)
