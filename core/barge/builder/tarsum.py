"""Checksums of COPY/ADD sources exactly as dockerd 20.10 computes them (moby's tarsum v1).

A file's checksum is sha256 over its tar header's fields, in tarsum v1's
order and form (``name<n>mode<m>uid<u>gid<g>size<s>typeflag<t>linkname<l>
uname<u>gname<g>devmajor<d>devminor<d>``, then the ``security.*`` xattrs,
no time), followed by its content. Where the header comes from depends on
the source, as in moby:

- a context received as a tar: the header as the client sent it
  (:func:`header_hasher`, fed as the tar arrives);
- files on disk (a git clone, a download, another image's files): the
  header Go's ``tar.FileInfoHeader`` makes from ``lstat`` (mode with the
  file type bits, owner names looked up on this host; :func:`stat_fields`).

So ``COPY file:<sum>`` in ``docker history`` reads as dockerd's, and a
file whose content, name, mode or owner changes misses the cache, one
whose time alone changes does not.
"""

from __future__ import annotations

import functools
import grp
import hashlib
import os
import pwd
import stat
from pathlib import Path

from barge.archive.reader import Header

_TYPEFLAGS = ((stat.S_ISREG, "0"), (stat.S_ISDIR, "5"), (stat.S_ISLNK, "2"), (stat.S_ISCHR, "3"),
              (stat.S_ISBLK, "4"), (stat.S_ISFIFO, "6"))


@functools.lru_cache(maxsize=256)
def _user(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return ""


@functools.lru_cache(maxsize=256)
def _group(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return ""


def _hasher(fields: list[tuple[str, str]], xattrs: dict[str, bytes]) -> "hashlib._Hash":
    """A sha256 fed with a header in tarsum v1's form: each key then its value, then the xattrs sorted."""
    h = hashlib.sha256()
    for key, value in fields:
        h.update(key.encode() + value.encode("utf-8", "surrogateescape"))
    for key in sorted(xattrs):
        h.update(key.encode() + xattrs[key])
    return h


def _digest(fields: list[tuple[str, str]], xattrs: dict[str, bytes], content: Path | None) -> str:
    h = _hasher(fields, xattrs)
    if content is not None:
        with open(content, "rb", buffering=0) as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def _fields(name: str, mode: int, uid: int, gid: int, size: int, typeflag: str, linkname: str, uname: str,
            gname: str, devmajor: int, devminor: int) -> list[tuple[str, str]]:
    return [("name", name), ("mode", str(mode)), ("uid", str(uid)), ("gid", str(gid)), ("size", str(size)),
            ("typeflag", typeflag), ("linkname", linkname), ("uname", uname), ("gname", gname),
            ("devmajor", str(devmajor)), ("devminor", str(devminor))]


def stat_sum(root: Path, rel: str) -> str:
    """A file on disk, with the header Go's ``FileInfoHeader`` makes (moby's lazy source)."""
    path = root / rel if rel else root
    st = os.lstat(path)
    typeflag = next((flag for test, flag in _TYPEFLAGS if test(st.st_mode)), "0")
    is_dir = stat.S_ISDIR(st.st_mode)
    regular = stat.S_ISREG(st.st_mode)
    dev = stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)
    xattrs = {}
    try:
        xattrs["security.capability"] = os.getxattr(path, "security.capability", follow_symlinks=False)
    except OSError:
        pass
    fields = _fields(rel + "/" if is_dir and rel else rel, st.st_mode & 0o177777, st.st_uid, st.st_gid,
                     st.st_size if regular else 0, typeflag, os.readlink(path) if stat.S_ISLNK(st.st_mode) else "",
                     _user(st.st_uid), _group(st.st_gid), os.major(st.st_rdev) if dev else 0,
                     os.minor(st.st_rdev) if dev else 0)
    return _digest(fields, xattrs, path if regular and st.st_size else None)


def header_hasher(h: Header) -> "hashlib._Hash":
    """A sha256 fed with a received tar header's tarsum fields; the member's data follows."""
    typeflag = h.type.decode("latin-1") or "0"
    fields = _fields(h.name, h.mode, h.uid, h.gid, h.size if typeflag == "0" else 0, typeflag, h.linkname, "", "",
                     h.devmajor, h.devminor)
    return _hasher(fields, h.xattrs)
