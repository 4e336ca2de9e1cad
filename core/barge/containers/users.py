"""``-u name|uid[:group|gid]`` resolved from the image's /etc/passwd and /etc/group.

Follows the rules of moby/sys/user ``GetExecUser``: an empty user is uid 0;
a name must be in passwd, a number need not be; an explicit group replaces
the user's primary group and then no supplementary groups are added,
otherwise the user's supplementary groups are the group entries listing the
user's name. The files are read from a container's root file system without
ever leaving it (symlinks resolve inside the root).
"""

from __future__ import annotations

import errno
import os
import posixpath
from dataclasses import dataclass, field

from barge.archive.resolve import open_in_root, resolve_in_root
from barge.errors import BargeError

MAX_ID = 2**31 - 1


@dataclass
class ExecUser:
    uid: int = 0
    gid: int = 0
    sgids: list[int] = field(default_factory=list)
    home: str = "/"


@dataclass
class _Passwd:
    name: str
    uid: int
    gid: int
    home: str


@dataclass
class _Group:
    name: str
    gid: int
    members: list[str]


class UserNotFound(BargeError):
    """Docker's message, as ``docker run -u`` users know it (500, like moby)."""


def _records(text: str, fields: int) -> list[list[str]]:
    """The colon-separated lines of a passwd/group file with at least ``fields``
    fields and numeric ids in field 2 (and 3 for passwd); others are skipped,
    as libc's parsers do."""
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(":")
        if len(parts) < fields:
            continue
        try:
            for k in range(2, min(fields, 4)):
                int(parts[k])
        except ValueError:
            continue
        out.append(parts)
    return out


def parse_passwd(text: str) -> list[_Passwd]:
    return [_Passwd(p[0], int(p[2]), int(p[3]), p[5] if len(p) > 5 else "") for p in _records(text, 4)]


def parse_group(text: str) -> list[_Group]:
    return [_Group(p[0], int(p[2]), [m for m in (p[3].split(",") if len(p) > 3 else []) if m])
            for p in _records(text, 3)]


def _number(text: str) -> int | None:
    if text.isdigit():
        value = int(text)
        if value > MAX_ID:
            raise UserNotFound(f"uid/gid {text} is out of range (0-{MAX_ID})")
        return value
    return None


def resolve_user(spec: str, passwd_text: str | None, group_text: str | None,
                 group_add: list[str] | None = None) -> ExecUser:
    """Resolve a user spec against passwd/group contents (``None``: the file is absent)."""
    user_arg, _, group_arg = (spec or "").partition(":")
    if not user_arg:
        user_arg = "0"
    passwd = parse_passwd(passwd_text or "")
    groups = parse_group(group_text or "")
    result = ExecUser()
    uid_num = _number(user_arg)
    entry = next((p for p in passwd if p.name == user_arg or (uid_num is not None and p.uid == uid_num)), None)
    name = ""
    if entry is not None:
        result.uid, result.gid, result.home, name = entry.uid, entry.gid, entry.home or "/", entry.name
    elif uid_num is not None:
        result.uid = uid_num
    else:
        raise UserNotFound(f"unable to find user {user_arg}: no matching entries in passwd file")
    if group_arg:
        gid_num = _number(group_arg)
        match = next((g for g in groups if g.name == group_arg or (gid_num is not None and g.gid == gid_num)), None)
        if match is not None:
            result.gid = match.gid
        elif gid_num is not None:
            result.gid = gid_num
        else:
            raise UserNotFound(f"unable to find group {group_arg}: no matching entries in group file")
    elif name:
        result.sgids = [g.gid for g in groups if name in g.members]
    for extra in group_add or []:
        gid_num = _number(extra)
        match = next((g for g in groups if g.name == extra), None)
        if match is not None:
            gid = match.gid
        elif gid_num is not None:
            gid = gid_num
        else:
            raise UserNotFound(f"Unable to find group {extra}: no matching entries in group file")
        if gid not in result.sgids:
            result.sgids.append(gid)
    if result.gid not in result.sgids:  # as under dockerd (runc): `id` lists the primary group among the groups
        result.sgids.insert(0, result.gid)
    return result


# ---------------------------------------------------------------------------
# files inside a root, never outside it
# ---------------------------------------------------------------------------


def read_file_in_root(root: str, path: str, limit: int = 4 << 20) -> str | None:
    """Text of regular file ``path`` resolved inside ``root``; ``None`` when absent.

    Directories resolve with :func:`barge.archive.resolve.open_in_root`; a
    symlink as the last component is followed by hand, restarting at the
    root for absolute targets, so ``/etc/passwd -> /../../host`` stays in.
    A symlink loop (an image's ``/etc/passwd -> ../../etc/passwd``) counts
    as absent, as runc takes a passwd it cannot open for none.
    """
    root_fd = os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        rel = path.lstrip("/")
        for _ in range(40):
            parent, _, leaf = rel.rpartition("/")
            try:
                dir_fd = open_in_root(root_fd, parent)
            except (FileNotFoundError, NotADirectoryError):
                return None
            except OSError as exc:
                if exc.errno == errno.ELOOP:
                    return None
                raise
            try:
                try:
                    fd = os.open(leaf, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, dir_fd=dir_fd)
                except FileNotFoundError:
                    return None
                except OSError as exc:
                    if exc.errno != errno.ELOOP:
                        raise
                    target = os.readlink(leaf, dir_fd=dir_fd)
                    rel = target.lstrip("/") if target.startswith("/") else f"{parent}/{target}".lstrip("/")
                    continue
            finally:
                os.close(dir_fd)
            try:
                st = os.fstat(fd)
                if (st.st_mode & 0o170000) != 0o100000:
                    return None
                with os.fdopen(fd, "rb", closefd=False) as fh:
                    return fh.read(limit).decode("utf-8", errors="replace")
            finally:
                os.close(fd)
        return None  # too many levels of symbolic links
    finally:
        os.close(root_fd)


def make_dirs_in_root(root: str, path: str, mode: int = 0o755) -> None:
    """``mkdir -p`` of ``path`` inside ``root`` (Docker creates a missing WorkingDir).

    Symlinks on the way resolve inside the root, dangling ones included:
    the directories are made where the link points, within the root.
    """
    root_fd = os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        parts = [p for p in resolve_in_root(root_fd, posixpath.normpath("/" + path)).split("/") if p]
        for depth, part in enumerate(parts):
            parent = open_in_root(root_fd, "/".join(parts[:depth]))
            try:
                os.mkdir(part, mode, dir_fd=parent)
            except FileExistsError:
                pass
            finally:
                os.close(parent)
        os.close(open_in_root(root_fd, "/".join(parts)))  # NotADirectoryError when it is a file
    finally:
        os.close(root_fd)