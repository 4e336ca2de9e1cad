"""Fixtures shared by the exec_native tests: a busybox root file system built
from the host's static busybox, root-only skips, and a child-subreaper scope.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Iterator

import pytest

from barge.testing.plugin import disk_tmp_root

BUSYBOX = "/bin/busybox"
PASSWD = """\
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
app:x:1000:1000:app:/home/app:/bin/sh
"""
GROUP = """\
root:x:0:
daemon:x:1:
tty:x:5:
nogroup:x:65534:
app:x:1000:
"""


def _static_busybox() -> str | None:
    """Path of a statically linked busybox (Debian's busybox-static), or None."""
    if not os.path.exists(BUSYBOX):
        return None
    with open(BUSYBOX, "rb") as fh:
        head = fh.read(4096)
    # a dynamic executable names its interpreter (PT_INTERP) near the start
    return None if b"/lib64/ld-linux" in head or b"/lib/ld-linux" in head else BUSYBOX


def build_busybox_rootfs(target: Path) -> Path:
    """A minimal image-like tree: busybox with its applet links, passwd and group."""
    for d in ("bin", "dev", "etc", "home/app", "proc", "root", "sys", "tmp", "usr/bin", "var"):
        (target / d).mkdir(parents=True, exist_ok=True)
    os.chmod(target / "tmp", 0o1777)
    os.chown(target / "home/app", 1000, 1000)
    shutil.copy2(BUSYBOX, target / "bin/busybox")
    applets = subprocess.run([BUSYBOX, "--list"], capture_output=True, text=True, check=True).stdout.split()
    for applet in applets:
        if applet != "busybox":
            os.symlink("busybox", target / "bin" / applet)
    (target / "etc/passwd").write_text(PASSWD)
    (target / "etc/group").write_text(GROUP)
    (target / "etc/hostname").write_text("busybox\n")
    return target


@pytest.fixture(scope="session")
def busybox_rootfs() -> Iterator[Path]:
    """A busybox root file system directory (read-only use: layer an overlay to write)."""
    if _static_busybox() is None:
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
