"""Open directories inside a root without ever leaving it.

``open_in_root`` resolves a relative path as if the root were ``/``:
absolute symlink targets restart at the root and ``..`` stops there, like
openat2(2) with ``RESOLVE_IN_ROOT`` (used when the kernel has it) or
filepath-securejoin. A layer's ``evil -> /etc`` followed by ``evil/passwd``
thus lands in ``<root>/etc/passwd``.
"""

from __future__ import annotations

import errno
import os
import stat

from barge.libc import RESOLVE_IN_ROOT, RESOLVE_NO_MAGICLINKS, openat2

O_PATH = getattr(os, "O_PATH", 0o10000000)
MAXSYMLINKS = 40

#: None until the first call tells whether the kernel (and a seccomp filter) lets us use openat2.
_have_openat2: bool | None = None


def open_in_root(root_fd: int, rel: str) -> int:
    """Return an ``O_PATH`` fd of directory ``rel`` resolved inside ``root_fd``.

    Raises ``FileNotFoundError`` / ``NotADirectoryError`` like open(2).
    """
    global _have_openat2
    if rel in ("", "."):
        return os.open(".", O_PATH | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=root_fd)
    if _have_openat2 is not False:
        try:
            fd = openat2(root_fd, rel, O_PATH | os.O_DIRECTORY, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)
            _have_openat2 = True
            return fd
        except OSError as exc:
            if exc.errno not in (errno.ENOSYS, errno.EPERM) or _have_openat2:
                raise
            _have_openat2 = False  # seccomp or an old kernel: resolve by hand below
    return _walk_in_root(root_fd, rel)


def _walk_in_root(root_fd: int, rel: str) -> int:
    """Userspace RESOLVE_IN_ROOT: one component at a time, never following the
    last hop out of the root."""
    stack = [os.dup(root_fd)]  # fds of the directories from the root down
    parts = [p for p in rel.split("/") if p not in ("", ".")]
    links = 0
    try:
        while parts:
            comp = parts.pop(0)
            if comp == "..":
                if len(stack) > 1:
                    os.close(stack.pop())
                continue
            fd = os.open(comp, O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=stack[-1])
            st = os.fstat(fd)
            if _is_link(st.st_mode):
                os.close(fd)
                links += 1
                if links > MAXSYMLINKS:
                    raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), rel)
                target = os.readlink(comp, dir_fd=stack[-1])
                if target.startswith("/"):
                    while len(stack) > 1:
                        os.close(stack.pop())
                parts[:0] = [p for p in target.split("/") if p not in ("", ".")]
                continue
            if not _is_dir(st.st_mode):
                os.close(fd)
                raise OSError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), rel)
            stack.append(fd)
        result = stack.pop()
        return result
    finally:
        for fd in stack:
            os.close(fd)


def _is_link(mode: int) -> bool:
    return (mode & 0o170000) == 0o120000


def _is_dir(mode: int) -> bool:
    return (mode & 0o170000) == 0o040000


def resolve_in_root(root_fd: int, rel: str) -> str:
    """The container-absolute path ``rel`` names once every symlink on it is followed inside the root.

    Missing components end the walk (the rest is appended as is), as
    moby's ``FollowSymlinkInScope`` does.
    """
    todo = [p for p in rel.split("/") if p not in ("", ".")]
    done: list[str] = []
    hops = 0
    while todo:
        part = todo.pop(0)
        if part == "..":
            if done:
                done.pop()
            continue
        try:
            parent = open_in_root(root_fd, "/".join(done))
        except (FileNotFoundError, NotADirectoryError):
            return "/" + "/".join(done + [part] + todo)
        except OSError as exc:  # a kernel magic link on the way (/proc/<pid>/fd/N): never entered
            if exc.errno != errno.ELOOP:
                raise
            return "/" + "/".join(done + [part] + todo)
        try:
            try:
                st = os.stat(part, dir_fd=parent, follow_symlinks=False)
            except FileNotFoundError:
                return "/" + "/".join(done + [part] + todo)
            if stat.S_ISLNK(st.st_mode):
                hops += 1
                if hops > MAXSYMLINKS:
                    raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), rel)
                try:
                    link = os.readlink(part, dir_fd=parent)
                except FileNotFoundError:  # procfs's "self" read from outside the container's pid namespace
                    return "/" + "/".join(done + [part] + todo)
                if link.startswith("/"):
                    done = []
                todo[:0] = [p for p in link.split("/") if p not in ("", ".")]
                continue
            done.append(part)
        finally:
            os.close(parent)
    return "/" + "/".join(done)
