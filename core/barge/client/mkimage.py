"""``barge mkimage busybox``: a base image from Debian's ``busybox-static``.

The root filesystem is built in memory as a tar (about 2 MB): ``/bin/busybox``,
one hard link per applet in ``/bin``, the usual empty directories and small
``/etc/passwd`` and ``/etc/group``. Entries are sorted and every mtime is the
binary's, so two builds from the same package give the same layer (same
diff id). The tar is imported through the API, like ``barge import``.
"""

from __future__ import annotations

import os
import subprocess
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
    line = first[0].strip() if first else "BusyBox"
    return line.removesuffix(" multi-call binary.")


BLOCK = 512


def _octal(value: int, width: int) -> bytes:
    return b"%0*o\0" % (width - 1, value)


def _header(name: str, typ: bytes, mode: int, mtime: int, size: int = 0, link: str = "") -> bytes:
    """A ustar header with root ownership and no user or group names."""
    raw_name, raw_link = name.encode(), link.encode()
    if len(raw_name) > 100 or len(raw_link) > 100:
        raise MkimageError(f"path too long for the rootfs tar: {name}")
    b = bytearray(BLOCK)
    b[0 : len(raw_name)] = raw_name
    b[100:108] = _octal(mode & 0o7777, 8)
    b[108:116] = _octal(0, 8)
    b[116:124] = _octal(0, 8)
    b[124:136] = _octal(size, 12)
    b[136:148] = _octal(mtime, 12)
    b[148:156] = b" " * 8
    b[156:157] = typ
    b[157 : 157 + len(raw_link)] = raw_link
    b[257:265] = b"ustar\x0000"
    b[329:337] = _octal(0, 8)
    b[337:345] = _octal(0, 8)
    b[148:155] = b"%06o\0" % sum(b)
    return bytes(b)


def build_rootfs(busybox: Path, names: list[str]) -> bytes:
    """The root filesystem tar; the same inputs always give the same bytes.

    It is written the way barge's own layer packer writes a tree (ustar,
    depth-first in sorted order, the first of a set of hard links holding
    the data, two zero blocks at the end), so a graph driver that re-packs
    the unpacked layer gets the same bytes and the same diff id back: the
    image can then be saved.
    """
    data = busybox.read_bytes()
    mtime = int(busybox.stat().st_mtime)
    tree: dict = {}

    def add(path: str, value) -> None:
        node = tree
        parts = path.split("/")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        if isinstance(value, dict):
            node.setdefault(parts[-1], {})
            modes[path] = value.get("mode", 0o755)
        else:
            node[parts[-1]] = value

    modes: dict[str, int] = {}
    for path, mode in DIRECTORIES:
        add(path, {"mode": mode})
    binaries = sorted({"busybox", *names})
    for name in binaries:
        add(f"bin/{name}", ("busybox",))
    add("etc/group", ("text", GROUP.encode()))
    add("etc/passwd", ("text", PASSWD.encode()))

    out: list[bytes] = []
    first_binary: list[str] = []

    def walk(node: dict, prefix: str) -> None:
        for name in sorted(node):
            path = f"{prefix}{name}"
            value = node[name]
            if isinstance(value, dict):
                out.append(_header(path + "/", b"5", modes.get(path, 0o755), mtime))
                walk(value, path + "/")
            elif value[0] == "busybox":
                if first_binary:
                    out.append(_header(path, b"1", 0o755, mtime, link=first_binary[0]))
                else:
                    first_binary.append(path)
                    out.append(_header(path, b"0", 0o755, mtime, len(data)))
                    out.append(data + b"\0" * (-len(data) % BLOCK))
            else:
                body = value[1]
                out.append(_header(path, b"0", 0o644, mtime, len(body)))
                out.append(body + b"\0" * (-len(body) % BLOCK))

    walk(tree, "")
    out.append(b"\0" * (2 * BLOCK))
    return b"".join(out)


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
    response = client.import_image(rootfs, repo=tag, message=f"barge mkimage busybox: {version}", changes=CHANGES)
    with response:
        return image_id_from(response.messages())
