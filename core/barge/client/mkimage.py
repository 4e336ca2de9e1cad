"""``barge mkimage busybox``: a base image from Debian's ``busybox-static``.

The root filesystem is built in memory as a tar (about 2 MB): ``/bin/busybox``,
one hard link per applet in ``/bin``, the usual empty directories and small
``/etc/passwd`` and ``/etc/group``. Entries are sorted and every mtime is the
binary's, so two builds from the same package give the same layer (same
diff id). The tar is imported through the API, like ``barge import``.
"""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
from pathlib import Path
from typing import Callable

from barge.client.errors import ClientError

PACKAGE = "busybox-static"
CANDIDATES = (Path("/bin/busybox"), Path("/usr/bin/busybox"))
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
CHANGES = ['CMD ["sh"]', f"ENV {PATH_ENV}"]

#: (path, mode); /tmp is sticky and world-writable, /root private.
DIRECTORIES = (
    ("bin", 0o755),
    ("dev", 0o755),
    ("etc", 0o755),
    ("home", 0o755),
    ("proc", 0o555),
    ("root", 0o700),
    ("sbin", 0o755),
    ("sys", 0o555),
    ("tmp", 0o1777),
    ("usr", 0o755),
    ("usr/bin", 0o755),
    ("usr/sbin", 0o755),
    ("var", 0o755),
    ("var/spool", 0o755),
    ("var/spool/mail", 0o755),
    ("var/www", 0o755),
)

PASSWD = """root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
"""
GROUP = """root:x:0:
daemon:x:1:
nobody:x:65534:
"""


class MkimageError(ClientError):
    pass


def find_busybox() -> Path | None:
    for path in CANDIDATES:
        if path.is_file() and os.access(path, os.X_OK):
            return path
    return None


def install_busybox(log: Callable[[str], None]) -> Path:
    """Install ``busybox-static`` with apt (updating the lists if that fails)."""
    if os.geteuid() != 0:
        raise MkimageError(f"{PACKAGE} is not installed and installing it needs root: apt-get install -y {PACKAGE}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    install = ["apt-get", "install", "-y", "--no-install-recommends", PACKAGE]
    log(f"Installing {PACKAGE}: {' '.join(install)}")
    if _run(install, env).returncode != 0:
        log("Install failed; updating package lists: apt-get update")
        update = _run(["apt-get", "update"], env)
        if update.returncode != 0:
            raise MkimageError(f"apt-get update failed: {_last_line(update)}")
        retry = _run(install, env)
        if retry.returncode != 0:
            raise MkimageError(f"apt-get install {PACKAGE} failed: {_last_line(retry)}")
    path = find_busybox()
    if path is None:
        raise MkimageError(f"{PACKAGE} is installed but no busybox binary is at {', '.join(map(str, CANDIDATES))}")
    return path


def _run(cmd: list[str], env: dict) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(cmd, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    except FileNotFoundError as exc:
        raise MkimageError(f"{cmd[0]}: {exc.strerror}") from None


def _last_line(proc: subprocess.CompletedProcess) -> str:
    lines = (proc.stderr or proc.stdout or "").strip().splitlines()
    return lines[-1] if lines else f"exit status {proc.returncode}"


def applets(busybox: Path) -> list[str]:
    """Applet names the binary provides (``busybox --list``), sorted."""
    proc = subprocess.run([str(busybox), "--list"], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise MkimageError(f"{busybox} --list failed: {_last_line(proc)}")
    names = {n.strip() for n in proc.stdout.split() if n.strip()}
    return sorted(n for n in names if n != "busybox" and "/" not in n)


def busybox_version(busybox: Path) -> str:
    proc = subprocess.run([str(busybox)], capture_output=True, text=True, check=False)
    first = (proc.stdout or proc.stderr).splitlines()
    return first[0].strip() if first else "BusyBox"


def _info(name: str, kind: bytes, mode: int, mtime: int, size: int = 0, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.mtime = mtime
    info.size = size
    info.linkname = link
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


def build_rootfs(busybox: Path, names: list[str]) -> bytes:
    """The root filesystem tar; the same inputs always give the same bytes."""
    data = busybox.read_bytes()
    mtime = int(busybox.stat().st_mtime)
    entries: list[tuple[tarfile.TarInfo, bytes | None]] = []
    for path, mode in DIRECTORIES:
        entries.append((_info(path, tarfile.DIRTYPE, mode, mtime), None))
    entries.append((_info("bin/busybox", tarfile.REGTYPE, 0o755, mtime, len(data)), data))
    for name in names:
        if name in ("busybox",):
            continue
        entries.append((_info(f"bin/{name}", tarfile.LNKTYPE, 0o755, mtime, link="bin/busybox"), None))
    for path, text in (("etc/group", GROUP), ("etc/passwd", PASSWD)):
        body = text.encode()
        entries.append((_info(path, tarfile.REGTYPE, 0o644, mtime, len(body)), body))
    # Sorted by path, but the link target must come before its links.
    entries.sort(key=lambda e: (e[0].name != "bin/busybox" and e[0].name.startswith("bin/"), e[0].name))
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for info, body in entries:
            tar.addfile(info, io.BytesIO(body) if body is not None else None)
    return buf.getvalue()


def busybox(client, tag: str = "busybox:latest", log: Callable[[str], None] = print) -> str:
    """Build the image and import it as ``tag``; return the image id."""
    from barge.client.api import image_id_from

    binary = find_busybox()
    if binary is None:
        log(f"{PACKAGE} not found at {CANDIDATES[0]}")
        binary = install_busybox(log)
    version = busybox_version(binary)
    log(f"Using {binary}: {version}")
    names = applets(binary)
    rootfs = build_rootfs(binary, names)
    log(f"Built root filesystem: busybox, {len(names)} applet links, {len(DIRECTORIES)} directories ({len(rootfs)} bytes)")
    log(f"Importing as {tag}")
    response = client.import_image(rootfs, repo=tag, message=f"barge mkimage busybox ({version})", changes=CHANGES)
    with response:
        return image_id_from(response.messages())
