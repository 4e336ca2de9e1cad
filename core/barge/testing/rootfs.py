"""A container root file system for driver tests, built from the host's static busybox.

No image, no registry, no graph driver: a directory with busybox and its
applet links, ``/etc/passwd`` (``root``, ``app`` = 1000) and ``/etc/group``,
which an exec driver gets as a read-only bind mount.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

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


def static_busybox() -> str | None:
    """Path of a statically linked busybox (Debian's busybox-static), or None."""
    if not os.path.exists(BUSYBOX):
        return None
    with open(BUSYBOX, "rb") as fh:
        head = fh.read(4096)
    # a dynamic executable names its interpreter (PT_INTERP) near the start
    return None if b"/lib64/ld-linux" in head or b"/lib/ld-linux" in head else BUSYBOX


def build_busybox_rootfs(target: Path) -> Path:
    """A minimal image-like tree at ``target``: busybox with its applet links, passwd and group."""
    for d in ("bin", "dev", "etc", "home/app", "proc", "root", "sys", "tmp", "usr/bin", "var"):
        (target / d).mkdir(parents=True, exist_ok=True)
    os.chmod(target / "tmp", 0o1777)
    if os.geteuid() == 0:
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
