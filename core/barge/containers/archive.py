"""Files of a container's root file system: ``cp`` (stat, get, put), ``export``, ``diff``.

Every path is resolved inside the container's root through directory fds
(:func:`barge.archive.resolve.open_in_root`: absolute symlinks restart at the
container's root, ``..`` stops there), and every file is opened with
``O_NOFOLLOW`` relative to its parent's fd. A container that swaps a
directory for a symlink while we walk it therefore cannot send us out of
its root.

Which root: a running container's own view, ``/proc/<init pid>/root`` (its
mount namespace: volumes and binds included, as ``docker cp`` shows them;
its overlay is never mounted a second time); a stopped container's rw
layer, mounted for the operation with :func:`barge.mount.mounted`.
``export`` of a running container reads a read-only view of the rw layer
(an overlay description without its upper and work dirs becomes an
overlay whose top lower dir is the upper), so the container's other mounts
stay out of the tar, as in Docker.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import json
import os
import posixpath
import shutil
import stat
import tempfile
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO, Iterator

from barge.archive import apply_layer
from barge.archive import reader as tr
from barge.archive.apply import clean_name
from barge.archive.errors import ArchiveError
from barge.archive.pack import BLOCK
from barge.archive.resolve import O_PATH, open_in_root, resolve_in_root
from barge.archive.walk import TarWalker
from barge.errors import InvalidParameter, NotFound
from barge.graphdriver import Mount
from barge.mount import mountinfo
from barge.timefmt import rfc3339_nano

if TYPE_CHECKING:  # pragma: no cover
    from barge.containers.runtime import RuntimeTable

#: Bytes of file data read per chunk.
CHUNK = 1 << 20

# Go's os.FileMode type bits (io/fs), which Docker's path stat carries.
GO_DIR = 1 << 31
GO_SYMLINK = 1 << 27
GO_DEVICE = 1 << 26
GO_NAMED_PIPE = 1 << 25
GO_SOCKET = 1 << 24
GO_SETUID = 1 << 23
GO_SETGID = 1 << 22
GO_CHAR_DEVICE = 1 << 21
GO_STICKY = 1 << 20

#: Files the runtime bind-mounts into every container (created in its rw layer when the image lacks them).
RUNTIME_FILES = ("/etc/hostname", "/etc/hosts", "/etc/resolv.conf")


def go_file_mode(mode: int) -> int:
    """A unix ``st_mode`` as Go's ``os.FileMode`` (what ``docker cp`` decodes)."""
    out = mode & 0o777
    kind = stat.S_IFMT(mode)
    out |= {stat.S_IFDIR: GO_DIR, stat.S_IFLNK: GO_SYMLINK, stat.S_IFBLK: GO_DEVICE,
            stat.S_IFCHR: GO_DEVICE | GO_CHAR_DEVICE, stat.S_IFIFO: GO_NAMED_PIPE,
            stat.S_IFSOCK: GO_SOCKET}.get(kind, 0)
    if mode & stat.S_ISUID:
        out |= GO_SETUID
    if mode & stat.S_ISGID:
        out |= GO_SETGID
    if mode & stat.S_ISVTX:
        out |= GO_STICKY
    return out


@dataclass
class PathStat:
    name: str
    size: int
    mode: int  # Go FileMode
    mtime: str
    link_target: str = ""

    def to_dict(self) -> dict:
        return {"name": self.name, "size": self.size, "mode": self.mode, "mtime": self.mtime,
                "linkTarget": self.link_target}

    def header_value(self) -> str:
        """The ``X-Docker-Container-Path-Stat`` header: base64 of the JSON."""
        return base64.b64encode(json.dumps(self.to_dict(), separators=(",", ":")).encode()).decode()


# ---------------------------------------------------------------------------
# paths inside a root
# ---------------------------------------------------------------------------


@dataclass
class Target:
    """A path the user named: its container-absolute form and how it must be read."""

    abs_path: str  # cleaned, "/" based
    parent: str  # relative to the root
    base: str  # last component ("" for the root)
    follow: bool  # a trailing "/" or "/." asks for the directory a symlink points to
    rebase: str  # the name of the top entry in a tar of it
    given: str = ""  # as the user wrote it: dockerd's "not found" names it so


def target_of(path: str) -> Target:
    """Split a user's path as moby's ``ResolvePath`` does (trailing ``/`` and ``/.`` kept in mind)."""
    if not path:
        raise InvalidParameter("bad parameter: path cannot be empty")
    clean = posixpath.normpath("/" + path)
    if clean.startswith("//"):
        clean = "/" + clean.lstrip("/")
    dot = path == "." or path.endswith("/.")
    follow = dot or path.endswith("/")
    parent, _, base = clean.rpartition("/")
    rebase = "." if dot else (base or ".")
    return Target(clean, parent.lstrip("/"), base, follow, rebase, path)


@contextlib.contextmanager
def opened_target(root_fd: int, t: Target, container_name: str) -> Iterator[tuple[int, str]]:
    """``(parent O_PATH fd, base name)`` of the target; 404 in Docker's words when it is not there.

    With ``follow`` (or for the root itself) the target is a directory
    reached through its symlinks, given as ``(its fd, ".")``.
    """
    missing = NotFound(f"Could not find the file {t.given or t.abs_path} in container {container_name}")
    try:
        if t.follow or not t.base:
            fd = open_in_root(root_fd, posixpath.join(t.parent, t.base))
            base = "."
        else:
            fd = open_in_root(root_fd, t.parent)
            base = t.base
            try:
                os.stat(base, dir_fd=fd, follow_symlinks=False)
            except FileNotFoundError:
                os.close(fd)
                raise
    except (FileNotFoundError, NotADirectoryError):
        raise missing from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise missing from None
        raise
    try:
        yield fd, base
    finally:
        os.close(fd)


def stat_path(root_fd: int, path: str, container_name: str) -> PathStat:
    """``HEAD /containers/{id}/archive``: moby's ``StatPath`` (the last symlink is not followed)."""
    t = target_of(path)
    with opened_target(root_fd, t, container_name) as (fd, base):
        st = os.stat(base, dir_fd=fd, follow_symlinks=False)
    link = ""
    if stat.S_ISLNK(st.st_mode):
        link = resolve_in_root(root_fd, t.abs_path.lstrip("/"))
    name = posixpath.basename(t.abs_path) or "/"
    if path.endswith("/.") or path == ".":
        name = "."
    return PathStat(name, st.st_size, go_file_mode(st.st_mode), rfc3339_nano(st.st_mtime_ns), link)


# ---------------------------------------------------------------------------
# tar out: walking by fds
# ---------------------------------------------------------------------------


def tar_path(root_fd: int, path: str, container_name: str,
             skip_devs: frozenset[int] = frozenset(), rebase: str | None = None) -> Iterator[bytes]:
    """``GET /containers/{id}/archive``: a tar whose top entry is the path's base name (moby's rebase)."""
    t = target_of(path)
    with opened_target(root_fd, t, container_name) as (fd, base):
        yield from TarWalker(skip_devs).tree(fd, base, rebase or t.rebase)
    yield b"\0" * (2 * BLOCK)


#: File systems of a container's own making that ``cp`` does not descend into.
PSEUDO_FS = frozenset({"proc", "sysfs", "cgroup", "cgroup2", "devpts", "mqueue", "debugfs", "tracefs",
                       "securityfs", "bpf", "fusectl", "configfs"})


def pseudo_devices(pid: int) -> frozenset[int]:
    """Devices of the kernel's file systems in process ``pid``'s mount namespace (and its /dev tmpfs)."""
    out = set()
    try:
        for m in mountinfo(pid):
            if m.fstype in PSEUDO_FS or m.point == "/dev" or m.point.startswith("/dev/"):
                major, _, minor = m.device.partition(":")
                out.add(os.makedev(int(major), int(minor)))
    except (OSError, ValueError):
        pass
    return frozenset(out)


#: What moby's ``setupInitLayer`` puts in a container's init layer when the image lacks it: mount points
#: and files the daemon fills at start. dockerd's export shows them (``docker diff`` does not); barge makes
#: them at start outside the container's layers, so its export adds the entries the root lacks.
INIT_ENTRIES = (("dev/pts", "dir"), ("dev/shm", "dir"), ("proc", "dir"), ("sys", "dir"), (".dockerenv", "file"),
                ("etc/resolv.conf", "file"), ("etc/hosts", "file"), ("etc/hostname", "file"),
                ("dev/console", "file"), ("etc/mtab", "/proc/mounts"))


def _init_entries(root_fd: int) -> Iterator[bytes]:
    """Tar headers of the :data:`INIT_ENTRIES` missing under ``root_fd`` (looked up without leaving it)."""
    import tarfile
    import time

    now = int(time.time())
    for rel, kind in INIT_ENTRIES:
        parent, _, base = rel.rpartition("/")
        try:
            pfd = open_in_root(root_fd, parent)
        except OSError:
            pfd = None  # the parent is missing too: the entry is still made, as moby makes its parents
        try:
            if pfd is not None:
                os.lstat(base, dir_fd=pfd)
                continue
        except FileNotFoundError:
            pass
        except OSError:
            continue
        finally:
            if pfd is not None:
                os.close(pfd)
        info = tarfile.TarInfo(rel)
        info.mode, info.mtime = 0o755, now
        if kind == "dir":
            info.type = tarfile.DIRTYPE
        elif kind != "file":
            info.type, info.linkname, info.mode = tarfile.SYMTYPE, kind, 0o777
        yield info.tobuf(format=tarfile.PAX_FORMAT)


def tar_root(root: str, *, init: bool = False) -> Iterator[bytes]:
    """The whole tree under ``root`` (the root itself not an entry): ``export``, with the init
    layer's entries when ``init``."""
    fd = os.open(root, O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        yield from TarWalker().tree(fd, ".", "")
        if init:
            yield from _init_entries(fd)
    finally:
        os.close(fd)
    yield b"\0" * (2 * BLOCK)


# ---------------------------------------------------------------------------
# tar in
# ---------------------------------------------------------------------------


def _headers(path: str) -> Iterator[tr.Header]:
    with open(path, "rb") as fh:
        reader = tr.TarReader(fh)
        for h in reader:
            yield h


def _check_entries(spool: str, dest_fd: int, no_overwrite_dir_non_dir: bool) -> list[str]:
    """Every entry's clean name, or an error before anything is written."""
    names = []
    for h in _headers(spool):
        try:
            rel = clean_name(h.name)
        except ArchiveError as exc:
            raise InvalidParameter(str(exc)) from None
        if h.type == tr.LNKTYPE:
            try:
                clean_name(h.linkname)
            except ArchiveError as exc:
                raise InvalidParameter(str(exc)) from None
        if no_overwrite_dir_non_dir and rel:
            up, _, base = rel.rpartition("/")
            try:
                pfd = open_in_root(dest_fd, up)
            except (FileNotFoundError, NotADirectoryError):
                pfd = None
            if pfd is not None:
                try:
                    st = os.stat(base, dir_fd=pfd, follow_symlinks=False)
                except FileNotFoundError:
                    st = None
                finally:
                    os.close(pfd)
                if st is not None:
                    is_dir = stat.S_ISDIR(st.st_mode)
                    if is_dir and h.type != tr.DIRTYPE:
                        raise InvalidParameter(f"cannot overwrite directory {'/' + rel!r} with non-directory {h.name!r}")
                    if not is_dir and h.type == tr.DIRTYPE:
                        raise InvalidParameter(f"cannot overwrite non-directory {'/' + rel!r} with directory {h.name!r}")
        names.append(rel)
    return names


def _chown_all(dest_fd: int, names: list[str], uid: int, gid: int) -> None:
    for rel in names:
        up, _, base = rel.rpartition("/")
        try:
            pfd = open_in_root(dest_fd, up) if rel else None
        except (FileNotFoundError, NotADirectoryError):
            continue
        try:
            if pfd is None:
                os.chown(f"/proc/self/fd/{dest_fd}", uid, gid)
            else:
                with contextlib.suppress(FileNotFoundError):
                    os.chown(base, uid, gid, dir_fd=pfd, follow_symlinks=False)
        finally:
            if pfd is not None:
                os.close(pfd)


def extract(root_fd: int, path: str, stream: BinaryIO, container_name: str, *, tmp_dir: str,
            no_overwrite_dir_non_dir: bool = False, owner: tuple[int, int] | None = None) -> None:
    """``PUT /containers/{id}/archive``: unpack an untrusted tar into directory ``path``.

    The tar is spooled first and checked whole (names climbing out with
    ``..``, dir/non-dir replacements), so a bad archive writes nothing;
    unpacking then goes through :func:`barge.archive.apply_layer` as a plain
    tar (``.wh.`` names are files, as in moby's untar), which never writes
    outside the directory. ``owner`` (``copyUIDGID``)
    gives every entry the container user's ids.
    """
    t = target_of(path)
    missing = NotFound(f"Could not find the file {t.given or t.abs_path} in container {container_name}")
    try:
        dest_fd = open_in_root(root_fd, t.abs_path.lstrip("/"))
    except FileNotFoundError:
        raise missing from None
    except NotADirectoryError:
        rel = t.abs_path.lstrip("/")
        try:
            resolved = resolve_in_root(root_fd, rel)
            pfd = open_in_root(root_fd, posixpath.dirname(resolved).lstrip("/"))
            os.close(pfd)
        except (FileNotFoundError, NotADirectoryError):
            raise missing from None
        raise InvalidParameter("extraction point is not a directory") from None
    except OSError as exc:
        if exc.errno != errno.ELOOP:
            raise
        raise missing from None  # a symlink loop, or a kernel magic link (/proc/<pid>/root): never followed
    try:
        os.makedirs(tmp_dir, exist_ok=True)
        with tempfile.NamedTemporaryFile(prefix="cp-", dir=tmp_dir) as spool:
            shutil.copyfileobj(stream, spool, CHUNK)
            spool.flush()
            try:
                names = _check_entries(spool.name, dest_fd, no_overwrite_dir_non_dir)
            except ArchiveError as exc:
                raise InvalidParameter(str(exc)) from None
            spool.seek(0)
            try:
                apply_layer(spool, f"/proc/self/fd/{dest_fd}", whiteouts=None)
            except ArchiveError as exc:
                raise InvalidParameter(str(exc)) from None
            if owner is not None:
                _chown_all(dest_fd, names, owner[0], owner[1])
    finally:
        os.close(dest_fd)


# ---------------------------------------------------------------------------
# read-only views of a rw layer
# ---------------------------------------------------------------------------


def readonly_view(mounts: list[Mount]) -> list[Mount]:
    """Mount descriptions showing the same files read-only, without a second user of an upper dir.

    An overlay with ``upperdir`` (in use by the running container) becomes
    a read-only overlay whose first lower dir is that upper dir; binds gain
    ``ro``; anything else is kept.
    """
    out = []
    for m in mounts:
        if m.type == "overlay":
            opts = list(m.options)
            upper = next((o.split("=", 1)[1] for o in opts if o.startswith("upperdir=")), None)
            if upper is not None:
                lower = next((o.split("=", 1)[1] for o in opts if o.startswith("lowerdir=")), "")
                rest = [o for o in opts if not o.startswith(("upperdir=", "workdir=", "lowerdir=", "rw", "ro"))]
                opts = ["ro", f"lowerdir={upper}:{lower}" if lower else f"lowerdir={upper}"] + rest
            out.append(Mount(m.type, m.source, tuple(opts)))
        elif m.type == "bind":
            opts = [o for o in m.options if o not in ("rw", "ro")] + ["ro"]
            out.append(Mount(m.type, m.source, tuple(opts)))
        else:
            out.append(m)
    return out


# ---------------------------------------------------------------------------
# the service: which root, held how long
# ---------------------------------------------------------------------------


class ContainerFiles:
    """cp, export and diff of containers, over the container records (held still under their
    runtime locks meanwhile), the image layers and the graph driver."""

    def __init__(self, table: "RuntimeTable", images, pm):
        self.table = table
        self.images = images
        self.pm = pm

    @property
    def tmp_dir(self) -> str:
        return str(self.table.store.data_root / "tmp")

    def _event(self, action: str, c) -> None:
        try:
            self.pm.hook.barge_container_event(action=action, container_id=c.id, attributes=c.event_attributes())
        except Exception:  # noqa: BLE001 - an extension plugin must not break the request
            pass

    def _running_root(self, c) -> int | None:
        """An O_PATH fd of the running container's ``/`` (its mount namespace), or None."""
        pid = c.state.Pid
        if not (c.state.Running and not c.state.Restarting and pid):
            return None
        try:
            pidfd = os.pidfd_open(pid)
        except OSError:
            return None
        try:
            fd = os.open(f"/proc/{pid}/root", O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError:
            os.close(pidfd)
            return None
        try:
            # the pid is still the container's init (pids recycle fast): the pidfd has not exited
            import select

            if select.select([pidfd], [], [], 0)[0]:
                os.close(fd)
                return None
            return fd
        finally:
            os.close(pidfd)

    @staticmethod
    def _is_running_root(c, fd: int) -> bool:
        """Whether ``fd`` is the running container's own root (not a mount of its layer)."""
        if not (c.state.Running and c.state.Pid):
            return False
        try:
            mine, theirs = os.fstat(fd), os.stat(f"/proc/{c.state.Pid}/root")
        except OSError:
            return False
        return (mine.st_dev, mine.st_ino) == (theirs.st_dev, theirs.st_ino)

    @contextlib.contextmanager
    def root(self, ref: str) -> Iterator[tuple[object, int]]:
        """``(container, O_PATH fd of its root)``: its own view when running, else its rw layer mounted.

        A stopped container stays stopped meanwhile (its state changes are
        held off), so its layer is never mounted by two at once.
        """
        from barge.mount import mounted

        c = self.table.get(ref)
        fd = self._running_root(c)
        if fd is not None:
            try:
                yield c, fd
            finally:
                os.close(fd)
            return
        with self.table.locked(c.id) as c:
            fd = self._running_root(c)  # started meanwhile
            if fd is not None:
                try:
                    yield c, fd
                finally:
                    os.close(fd)
                return
            mounts = self.pm.hook.barge_graph_get(layer_id=c.rw_layer)
            try:
                os.makedirs(self.tmp_dir, exist_ok=True)
                with mounted(mounts, tmp_dir=self.tmp_dir) as path:
                    fd = os.open(str(path), O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
                    try:
                        yield c, fd
                    finally:
                        os.close(fd)
            finally:
                self.pm.hook.barge_graph_put(layer_id=c.rw_layer)

    @contextlib.contextmanager
    def _mapped(self, c, fd: int, path: str) -> Iterator[tuple[int, str, str]]:
        """``(root fd, path in it, mount point)`` for ``path`` of a container seen through ``fd``.

        A running container's own root shows its volumes and binds already.
        A stopped container's layer does not: a path under one of its
        volume or bind mount points goes to that mount's source directory
        (``mount point`` is then its destination), as Docker, which mounts
        them for the copy, does.
        """
        if self._is_running_root(c, fd):
            yield fd, path, ""
            return
        t = target_of(path)
        best = None
        for m in c.mounts:
            dst = m.get("Destination") or ""
            if m.get("Type") in ("volume", "bind") and m.get("Source") and (
                    t.abs_path == dst or t.abs_path.startswith(dst.rstrip("/") + "/")):
                if best is None or len(dst) > len(best["Destination"]):
                    best = m
        if best is None:
            yield fd, path, ""
            return
        try:
            src = os.open(best["Source"], O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError:
            yield fd, path, ""  # its source is gone: what the layer has there
            return
        rest = t.abs_path[len(best["Destination"].rstrip("/")):] or "/"
        if path.endswith("/.") or path == ".":
            rest = rest.rstrip("/") + "/."
        elif path.endswith("/") and rest != "/":
            rest += "/"
        try:
            yield src, rest, best["Destination"]
        except NotFound:
            raise NotFound(f"Could not find the file {t.given or t.abs_path} in container {c.name.lstrip('/')}") from None
        finally:
            os.close(src)

    # -- cp -----------------------------------------------------------------

    def stat(self, ref: str, path: str) -> PathStat:
        with self.root(ref) as (c, fd), self._mapped(c, fd, path) as (rfd, rpath, mount_point):
            st = stat_path(rfd, rpath, ref)
            if mount_point:
                t = target_of(path)
                st.name = "." if t.rebase == "." and (path.endswith("/.") or path == ".") else (
                    posixpath.basename(t.abs_path) or "/")
                if st.link_target:
                    st.link_target = posixpath.join(mount_point, st.link_target.lstrip("/"))
            return st

    def get_archive(self, ref: str, path: str, out) -> None:
        """Write the tar of ``path`` to ``out`` (a job's stdout); errors come before any byte."""
        with self.root(ref) as (c, fd), self._mapped(c, fd, path) as (rfd, rpath, mount_point):
            stat_path(rfd, rpath, ref)  # 404 before output begins
            skip = pseudo_devices(c.state.Pid) if self._is_running_root(c, fd) else frozenset()
            for chunk in tar_path(rfd, rpath, ref, skip, rebase=target_of(path).rebase):
                out.write(chunk)
        self._event("archive-path", c)

    def put_archive(self, ref: str, path: str, stream: BinaryIO, no_overwrite_dir_non_dir: bool = False,
                    copy_uid_gid: bool = False) -> None:
        with self.root(ref) as (c, fd):
            self._check_writable(c, target_of(path).abs_path)
            owner = None
            if copy_uid_gid:
                from barge.containers.users import read_file_in_root, resolve_user

                root = f"/proc/self/fd/{fd}"
                user = resolve_user(c.config.get("User") or "", read_file_in_root(root, "/etc/passwd"),
                                    read_file_in_root(root, "/etc/group"))
                owner = (user.uid, user.gid)
            with self._mapped(c, fd, path) as (rfd, rpath, _):
                extract(rfd, rpath, stream, ref, tmp_dir=self.tmp_dir,
                        no_overwrite_dir_non_dir=no_overwrite_dir_non_dir, owner=owner)
        self._event("extract-to-dir", c)

    @staticmethod
    def _check_writable(c, abs_path: str) -> None:
        """moby's checks: a read-only mount point, or a read-only rootfs outside any mount point."""
        best = None
        for m in c.mounts:
            dst = m.get("Destination") or ""
            if abs_path == dst or abs_path.startswith(dst.rstrip("/") + "/"):
                if best is None or len(dst) > len(best.get("Destination") or ""):
                    best = m
        if best is not None:
            if not best.get("RW", True):
                raise InvalidParameter("mounted volume is marked read-only")
            return
        if c.host_config.get("ReadonlyRootfs"):
            raise InvalidParameter("container rootfs is marked read-only")

    # -- export, diff ---------------------------------------------------------

    def export(self, ref: str, out) -> None:
        """The container's whole file system (its rw layer's view, no volumes) as a tar."""
        from barge.mount import mounted

        c = self.table.get(ref)
        with self.table.locked(c.id) as c:
            mounts = self.pm.hook.barge_graph_get(layer_id=c.rw_layer)
        # a read-only view, outside the container's lock (dockerd holds none while exporting): the
        # container may start or go on meanwhile, and a client that reads slowly holds up no one
        try:
            os.makedirs(self.tmp_dir, exist_ok=True)
            with mounted(readonly_view(mounts), tmp_dir=self.tmp_dir) as path:
                for chunk in tar_root(str(path), init=True):
                    out.write(chunk)
        finally:
            self.pm.hook.barge_graph_put(layer_id=c.rw_layer)
        self._event("export", c)

    def changes(self, ref: str) -> list[dict]:
        """``GET /containers/{id}/changes``: the rw layer against the image's top layer.

        The mount targets the runtime itself adds to the rw layer (``/etc/hosts``
        and friends, the default mounts' directories) are not the user's
        changes; Docker keeps them in a hidden init layer, so its diff never
        shows them, and neither does this one.
        """
        from barge.containers.spec import default_mounts
        from barge.graphdriver import ChangeKind

        c = self.table.get(ref)
        top = self.images.layers.get(c.top_layer) if c.top_layer else None
        changes = self.pm.hook.barge_graph_changes(layer_id=c.rw_layer, parent=top.cache_id if top else None) or []
        runtime = set(RUNTIME_FILES) | {m.destination for m in default_mounts(c.host_config)}
        hidden = [ch.path for ch in changes if ch.kind == ChangeKind.ADD and ch.path in runtime]
        kept = [ch for ch in changes if not (ch.kind == ChangeKind.ADD and ch.path in runtime)]

        def only_hidden_below(path: str) -> bool:
            prefix = path.rstrip("/") + "/"
            return any(h.startswith(prefix) for h in hidden) and not any(
                k.path.startswith(prefix) for k in kept)

        kept = [ch for ch in kept if not (ch.kind == ChangeKind.MODIFY and only_hidden_below(ch.path))]
        return [ch.to_dict() for ch in sorted(kept)]
