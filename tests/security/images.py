"""Hostile images, made here: root file systems as tars, imported or loaded.

``rootfs`` lays out a busybox root plus whatever a test adds (files,
symlinks, the host's glibc for a dynamically linked program);
``import_image`` sends it through ``POST /images/create?fromSrc=-`` (what
``docker import`` does); ``load_image`` wraps layers and a hand-written
image config into a ``docker save`` archive and loads it, for configs
``import`` cannot express (``Volumes``, ``WorkingDir``, ``User``).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import tarfile
from pathlib import Path
from urllib.parse import quote

import pytest

from barge.client.mkimage import find_busybox
from tests.conftest import Daemon

MTIME = 1_700_000_000


def _info(name: str, **fields) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.mtime = MTIME
    for key, value in fields.items():
        setattr(info, key, value)
    return info


def rootfs(files: dict[str, bytes | tuple[bytes, int]] | None = None, symlinks: dict[str, str] | None = None,
           dirs: dict[str, int] | None = None) -> bytes:
    """A busybox root (``/bin/busybox`` and its applets as symlinks) plus ``files``
    (``{path: data}`` or ``{path: (data, mode)}``), ``symlinks`` and ``dirs`` (``{path: mode}``)."""
    busybox = find_busybox()
    if busybox is None:
        pytest.skip("busybox-static is not installed")
    applets = subprocess.run([str(busybox), "--list"], capture_output=True, text=True).stdout.split()
    all_dirs = {"bin": 0o755, "etc": 0o755, "tmp": 0o1777, "proc": 0o555, "sys": 0o555, "dev": 0o755,
                "root": 0o700, **(dirs or {})}
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for path in list(files or {}) + list(symlinks or {}):
            parent = os.path.dirname(path.strip("/"))
            while parent and parent not in all_dirs:
                all_dirs[parent] = 0o755
                parent = os.path.dirname(parent)
        for d, mode in sorted(all_dirs.items()):
            tf.addfile(_info(d, type=tarfile.DIRTYPE, mode=mode))
        data = Path(busybox).read_bytes()
        tf.addfile(_info("bin/busybox", size=len(data), mode=0o755), io.BytesIO(data))
        for applet in applets:
            if applet != "busybox" and f"bin/{applet}" not in (files or {}):
                tf.addfile(_info(f"bin/{applet}", type=tarfile.SYMTYPE, linkname="busybox"))
        for path, value in (files or {}).items():
            content, mode = value if isinstance(value, tuple) else (value, 0o644)
            tf.addfile(_info(path.strip("/"), size=len(content), mode=mode), io.BytesIO(content))
        for path, target in (symlinks or {}).items():
            tf.addfile(_info(path.strip("/"), type=tarfile.SYMTYPE, linkname=target))
    return buf.getvalue()


def import_image(d: Daemon, tar: bytes, ref: str, changes: tuple[str, ...] = ('CMD ["sh"]',)) -> str:
    """``docker import``: the image id."""
    repo, _, tag = ref.partition(":")
    query = f"fromSrc=-&repo={quote(repo)}&tag={quote(tag or 'latest')}"
    for change in changes:
        query += "&changes=" + quote(change)
    status, _, body = d.request("POST", f"/images/create?{query}", tar, {"Content-Type": "application/x-tar"})
    assert status == 200 and b"errorDetail" not in body, body
    return d.json("GET", f"/images/{quote(ref, safe='')}/json")["Id"]


def save_archive(layers: list[bytes], config: dict, ref: str) -> bytes:
    """A ``docker save`` archive (manifest.json layout) of ``layers`` with the image
    config ``config`` (``rootfs`` is filled in here)."""
    diff_ids = ["sha256:" + hashlib.sha256(layer).hexdigest() for layer in layers]
    full = {"architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z", **config,
            "rootfs": {"type": "layers", "diff_ids": diff_ids}}
    config_bytes = json.dumps(full).encode()
    config_name = hashlib.sha256(config_bytes).hexdigest() + ".json"
    names = [f"{d.split(':')[1]}/layer.tar" for d in diff_ids]
    manifest = [{"Config": config_name, "RepoTags": [ref], "Layers": names}]
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in [(config_name, config_bytes), ("manifest.json", json.dumps(manifest).encode()),
                           *zip(names, layers)]:
            tf.addfile(_info(name, size=len(data), mode=0o644), io.BytesIO(data))
    return buf.getvalue()


def load_image(d: Daemon, archive: bytes) -> tuple[int, bytes]:
    """``docker load``: (status, body)."""
    status, _, body = d.request("POST", "/images/load?quiet=1", archive, {"Content-Type": "application/x-tar"},
                                timeout=120)
    return status, body


def load_config_image(d: Daemon, ref: str, config: dict, files=None, symlinks=None, dirs=None) -> str:
    """A busybox root with ``files``/``symlinks``/``dirs`` and the image config ``config``, loaded."""
    layer = rootfs(files, symlinks, dirs)
    status, body = load_image(d, save_archive([layer], {"config": config}, ref))
    assert status == 200 and b"errorDetail" not in body, body
    return d.json("GET", f"/images/{quote(ref, safe='')}/json")["Id"]


def host_libraries(binary: str) -> dict[str, tuple[bytes, int]]:
    """The host's shared libraries (and loader) ``binary`` needs, at the paths it looks for them:
    enough for the host's program to start inside a container (a hostile image can ship them)."""
    if shutil.which("ldd") is None:
        pytest.skip("ldd is not installed")
    out = subprocess.run(["ldd", binary], capture_output=True, text=True).stdout
    files = {}
    for line in out.splitlines():
        m = re.search(r"(?:=>\s*)?(/\S+)\s+\(0x", line)
        if m:
            path = m.group(1)
            files[path.lstrip("/")] = (Path(os.path.realpath(path)).read_bytes(), 0o755)
    return files


def compile_c(source: str, out: Path, *flags: str) -> Path:
    """``gcc`` ``source`` (text) to ``out``; skips when this machine has no compiler."""
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        pytest.skip("no C compiler (apt-get install gcc)")
    src = out.with_suffix(".c")
    src.write_text(source)
    proc = subprocess.run([cc, *flags, "-o", str(out), str(src)], capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot compile a test helper: {proc.stderr[-400:]}")
    return out
