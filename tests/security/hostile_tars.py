"""One corpus of hostile tars, for every entry point that unpacks a tar.

Each :class:`Case` builds an uncompressed tar aimed at two places outside
any target: a host *canary* directory (holding ``victim``, mode 0600, one
link) and the daemon's data root. The tricks are the known ones: ``..``
names, absolute names, symlinks to ``/`` or climbing out followed by entries
through them, hard links to outside paths (directly, through a symlink,
through PAX ``linkpath``), a hard link to a symlink, device nodes, setuid
files, a file replaced by a symlink later in the same tar (and a directory),
long GNU names and PAX ``path`` overrides carrying ``..``, whiteouts aimed
up or through symlinks, entries under ``/proc`` and ``/sys``, symlink loops.
An entry point may refuse a case or confine it; it may never write outside.
"""

from __future__ import annotations

import io
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

MTIME = 1_700_000_000
UP = "../" * 32


@dataclass(frozen=True)
class Targets:
    """Where the corpus aims: absolute host paths, and the same made relative."""

    canary: Path
    data_root: Path

    @property
    def canary_rel(self) -> str:
        return str(self.canary).lstrip("/")

    @property
    def data_rel(self) -> str:
        return str(self.data_root).lstrip("/")


@dataclass(frozen=True)
class Case:
    name: str
    build: Callable[[Targets], bytes]


# -- members -------------------------------------------------------------------------------------


def _info(name: str, **fields) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.mtime, info.mode = MTIME, 0o644
    for key, value in fields.items():
        setattr(info, key, value)
    return info


def file(name: str, data: bytes = b"pwned\n", mode: int = 0o644, pax: dict | None = None):
    return _info(name, size=len(data), mode=mode, pax_headers=dict(pax or {})), data


def directory(name: str):
    return _info(name, type=tarfile.DIRTYPE, mode=0o755), None


def symlink(name: str, target: str):
    return _info(name, type=tarfile.SYMTYPE, linkname=target), None


def hardlink(name: str, target: str, pax: dict | None = None):
    return _info(name, type=tarfile.LNKTYPE, linkname=target, pax_headers=dict(pax or {})), None


def node(name: str, kind: bytes, major: int, minor: int, mode: int = 0o666):
    return _info(name, type=kind, devmajor=major, devminor=minor, mode=mode), None


def tar(members, fmt: int = tarfile.PAX_FORMAT) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tf:
        for info, data in members:
            tf.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


# -- the corpus ------------------------------------------------------------------------------------


def _both(make) -> Callable[[Targets], bytes]:
    """A case aimed at the canary and at the data root: ``make(abs, rel, tag)`` per target."""
    def build(t: Targets) -> bytes:
        return tar([file("ok", b"fine\n"), *make(str(t.canary), t.canary_rel, "c"),
                    *make(str(t.data_root), t.data_rel, "d")])
    return build


CASES: list[Case] = [
    Case("dotdot-name", _both(lambda a, r, k: [file(f"{UP}{r}/pwned")])),
    Case("dotdot-inside-name", _both(lambda a, r, k: [file(f"x/y/../../{UP}{r}/pwned")])),
    Case("absolute-name", _both(lambda a, r, k: [file(f"{a}/pwned")])),
    Case("symlink-to-root-then-file", _both(lambda a, r, k: [symlink(f"root{k}", "/"), file(f"root{k}/{r}/pwned")])),
    Case("symlink-climbing-then-file", _both(lambda a, r, k: [symlink(f"up{k}", UP), file(f"up{k}/{r}/pwned")])),
    Case("symlink-to-target-then-overwrite", _both(lambda a, r, k: [symlink(f"t{k}", a), file(f"t{k}/victim")])),
    Case("dangling-symlink-then-file", _both(lambda a, r, k: [symlink(f"t{k}", f"{a}/newdir"),
                                                               file(f"t{k}/pwned")])),
    Case("hardlink-absolute", _both(lambda a, r, k: [hardlink(f"h{k}", f"{a}/victim")])),
    Case("hardlink-climbing", _both(lambda a, r, k: [hardlink(f"h{k}", f"{UP}{r}/victim")])),
    Case("hardlink-through-symlink", _both(lambda a, r, k: [symlink(f"t{k}", a), hardlink(f"h{k}", f"t{k}/victim"),
                                                             file(f"h{k}", b"pwned\n")])),
    Case("hardlink-pax-linkpath", _both(lambda a, r, k: [hardlink(f"h{k}", "ok",
                                                                  pax={"linkpath": f"{UP}{r}/victim"})])),
    Case("hardlink-to-symlink", _both(lambda a, r, k: [symlink(f"s{k}", a), hardlink(f"h{k}", f"s{k}"),
                                                        file(f"h{k}/pwned")])),
    Case("file-then-symlink-then-file", _both(lambda a, r, k: [file(f"x{k}", b"1\n"), symlink(f"x{k}", f"{a}/victim"),
                                                                file(f"x{k}", b"pwned\n")])),
    Case("dir-then-symlink-then-file", _both(lambda a, r, k: [directory(f"d{k}"), file(f"d{k}/f"),
                                                               symlink(f"d{k}", a), file(f"d{k}/pwned")])),
    Case("gnu-longname-dotdot", lambda t: tar([file("ok"), directory("n" * 150),
                                              file("n" * 150 + "/" + UP + f"{t.canary_rel}/pwned"),
                                              file("n" * 150 + "/" + UP + f"{t.data_rel}/pwned")],
                                             fmt=tarfile.GNU_FORMAT)),
    Case("pax-path-override", _both(lambda a, r, k: [file(f"innocent{k}", pax={"path": f"{UP}{r}/pwned"})])),
    Case("whiteout-climbing", _both(lambda a, r, k: [file(f"{UP}{r}/.wh.victim", b"")])),
    Case("whiteout-dotdot-name", _both(lambda a, r, k: [directory(f"w{k}"), file(f"w{k}/.wh..", b"")])),
    Case("whiteout-through-symlink", _both(lambda a, r, k: [symlink(f"t{k}", a), file(f"t{k}/.wh.victim", b"")])),
    Case("opaque-through-symlink", _both(lambda a, r, k: [symlink(f"t{k}", a), file(f"t{k}/.wh..wh..opq", b"")])),
    Case("device-nodes-and-setuid", lambda t: tar([file("ok"), node("dev/sda", tarfile.BLKTYPE, 8, 0),
                                                   node("dev/mem", tarfile.CHRTYPE, 1, 1),
                                                   file("bin/evil", b"#!/bin/sh\nid\n", mode=0o4755),
                                                   symlink("devs", str(t.canary)),
                                                   node("devs/null", tarfile.CHRTYPE, 1, 3)])),
    Case("device-node-climbing", _both(lambda a, r, k: [node(f"{UP}{r}/node", tarfile.CHRTYPE, 1, 3)])),
    Case("proc-and-sys-entries", lambda t: tar([file("ok"), file("proc/sys/kernel/core_pattern", b"|/pwned\n"),
                                                file("proc/sysrq-trigger", b"c"),
                                                file("sys/kernel/uevent_helper", b"/pwned\n")])),
    Case("symlink-loop", lambda t: tar([file("ok"), symlink("la", "lb"), symlink("lb", "la"), file("la/pwned")])),
]


def canary_intact(canary: Path) -> list[str]:
    """What changed in the canary directory: ``[]`` when it is as :func:`make_canary` left it."""
    problems = []
    names = sorted(p.name for p in canary.iterdir())
    if names != ["victim"]:
        problems.append(f"entries {names}")
    victim = canary / "victim"
    if victim.exists():
        st = victim.lstat()
        if victim.read_bytes() != b"original\n" or st.st_mode & 0o7777 != 0o600 or st.st_nlink != 1 or st.st_uid:
            problems.append(f"victim changed: mode {oct(st.st_mode)} links {st.st_nlink} uid {st.st_uid}")
    else:
        problems.append("victim removed")
    return problems


def make_canary(where: Path) -> Path:
    where.mkdir(parents=True, exist_ok=True)
    (where / "victim").write_bytes(b"original\n")
    (where / "victim").chmod(0o600)
    return where
