"""The container's root file system, built inside its own mount namespace.

Runs in the container's init, after ``unshare(CLONE_NEWNS)``, in runc's
order (``prepareRootfs`` / ``finalizeRootfs``): ``/`` made rslave so nothing
propagates to the host; the graph driver's mount descriptions on
``<workdir>/rootfs``; the system mounts and the spec's mounts sorted parent
first; device nodes and ``/dev`` symlinks; ``pivot_root(".", ".")``; then,
inside, hostname, sysctls, read-only and masked paths, read-only root.

Mount points are created and opened with ``openat2(RESOLVE_IN_ROOT)`` and
mounted through ``/proc/self/fd/N``: a symlink in the image can never make a
mount land outside the root, nor, through a symlink to ``/proc``, over the
container's procfs (runc's ``checkProcMount``, checked where the path resolves).

``/sys`` is always a fresh sysfs, mounted after the init joined or made its
network namespace: sysfs shows the devices of the namespace that mounts it,
and a fresh mount carries none of the host's sub-mounts (bpf, debugfs,
tracefs, securityfs, configfs...). With the host's network it shows the
host's devices, read-only, as Docker's does.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass, field

from barge import libc
from barge.execdriver import PROC_MOUNTABLE, sysctl_namespace
from barge.mount import mount_of, parse_options  # core's mount(8) words and mount table, also in the init
from barge_exec_native.libcontainer import syscalls as sc
from barge_exec_native.libcontainer.errors import ContainerError

#: Flags a bind remount must keep (statvfs ST_* bits equal MS_* for these).
_KEEP = libc.MS_NOSUID | libc.MS_NODEV | libc.MS_NOEXEC
O_PATH = os.O_PATH

#: Nodes every container gets: name, major, minor (runc's default devices).
DEFAULT_DEVICES = (("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8),
                   ("urandom", 1, 9), ("tty", 5, 0))
DEV_SYMLINKS = (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                ("stderr", "/proc/self/fd/2"), ("ptmx", "pts/ptmx"), ("core", "/proc/kcore"))


@dataclass
class Mount:
    """One mount to perform, already decided (see :func:`plan_mounts`)."""

    destination: str
    type: str
    source: str
    options: list[str] = field(default_factory=list)


def system_mounts(spec) -> list[Mount]:
    """Docker's default mounts (moby ``oci.DefaultLinuxSpec``), adjusted for privileged."""
    ro = [] if spec.privileged else ["ro"]
    return [
        Mount("/proc", "proc", "proc", ["nosuid", "noexec", "nodev"]),
        Mount("/dev", "tmpfs", "tmpfs", ["nosuid", "strictatime", "mode=755", "size=65536k"]),
        Mount("/dev/pts", "devpts", "devpts",
              ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]),
        Mount("/sys", "sysfs", "sysfs", ro + ["nosuid", "noexec", "nodev"]),
        Mount("/sys/fs/cgroup", "cgroup", "cgroup", ro + ["nosuid", "noexec", "nodev"]),
        Mount("/dev/mqueue", "mqueue", "mqueue", ["nosuid", "noexec", "nodev"]),
        Mount("/dev/shm", "tmpfs", "shm",
              ["nosuid", "noexec", "nodev", "mode=1777", f"size={max(spec.shm_size, 0) // 1024}k"]),
    ]


def plan_mounts(spec) -> list[Mount]:
    """System mounts overridden by the spec's own ones (same destination), parents first.

    The sort is by depth and stable, as moby's ``sortMounts``: ``/dev``
    comes before ``/dev/shm`` whatever order they were given in.
    """
    given = [Mount(_clean(m.destination), m.type, m.source, list(m.options)) for m in spec.mounts]
    taken = {m.destination for m in given}
    if spec.shm_size <= 0:
        taken.add("/dev/shm")
    mounts = [m for m in system_mounts(spec) if m.destination not in taken] + given
    return sorted(mounts, key=lambda m: 0 if m.destination == "/" else m.destination.count("/"))


def _clean(path: str) -> str:
    path = os.path.normpath("/" + path)
    return "/" + path.lstrip("/")


def check_mounts(mounts: list[Mount]) -> None:
    """Refuse what cannot work before anything is forked (Docker's wording)."""
    from barge.errors import InvalidParameter

    for m in mounts:
        flags, _prop, _data = parse_options(m.options)
        if (m.type == "bind" or flags & libc.MS_BIND) and not os.path.exists(m.source):
            raise InvalidParameter(f"invalid mount config: bind source path does not exist: {m.source}")
        if m.destination == "/":
            raise InvalidParameter("invalid mount config: destination can't be '/'")


# -- resolving inside the root ----------------------------------------------------------------


def _open(root_fd: int, rel: str, flags: int) -> int:
    """Open ``rel`` as if ``root_fd`` were ``/`` (symlinks resolved inside it)."""
    rel = rel.lstrip("/") or "."
    try:
        return libc.openat2(root_fd, rel, flags, libc.RESOLVE_IN_ROOT | libc.RESOLVE_NO_MAGICLINKS)
    except OSError as exc:
        if exc.errno not in (errno.ENOSYS, errno.EPERM):
            raise
    from barge.archive.resolve import open_in_root  # old kernel or seccomp: resolve by hand

    if flags & os.O_DIRECTORY:
        return open_in_root(root_fd, rel)
    parent, name = os.path.split(rel)
    pfd = open_in_root(root_fd, parent)
    try:
        return os.open(name, flags | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=pfd)
    finally:
        os.close(pfd)


def ensure_dir(root_fd: int, rel: str, mode: int = 0o755) -> int:
    """``mkdir -p`` inside the root; return an O_PATH fd of the directory."""
    parts = [p for p in rel.split("/") if p]
    n = len(parts)
    while True:  # the deepest directory that exists
        try:
            fd = _open(root_fd, "/".join(parts[:n]), O_PATH | os.O_DIRECTORY)
            break
        except FileNotFoundError:
            if n == 0:
                raise
            n -= 1
    for comp in parts[n:]:
        try:
            os.mkdir(comp, mode, dir_fd=fd)
        except FileExistsError:
            pass
        nfd = _open(fd, comp, O_PATH | os.O_DIRECTORY)
        os.close(fd)
        fd = nfd
    return fd


def ensure_file(root_fd: int, rel: str) -> int:
    """Create an empty file (a mount point for a file bind) inside the root."""
    try:
        return _open(root_fd, rel, O_PATH)
    except FileNotFoundError:
        pass
    parent, name = os.path.split(rel.rstrip("/"))
    pfd = ensure_dir(root_fd, parent)
    try:
        try:
            os.close(os.open(name, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644,
                             dir_fd=pfd))
        except FileExistsError:
            pass
        return _open(pfd, name, O_PATH)
    finally:
        os.close(pfd)


def _fdpath(fd: int) -> str:
    return f"/proc/self/fd/{fd}"


# -- performing mounts -------------------------------------------------------------------------


class RootfsBuilder:
    """Builds one container's root; every method runs in the init process."""

    def __init__(self, spec, rootfs: str, cgroup, cgroupns: bool, console: bool):
        self.spec = spec
        self.rootfs = rootfs
        self.cgroup = cgroup
        self.cgroupns = cgroupns
        self.console = console
        self.root_fd = -1
        self.dev_tmpfs = False

    def prepare(self, mounts: list[Mount]) -> None:
        """Everything before pivot_root.

        ``/`` becomes rslave (nothing of ours reaches the host), or rshared
        when a bind asks for shared propagation (the spec's root
        propagation); then the mount holding the root's directory is made
        private, so mounting the root there, and pivot_root, stay ours.
        """
        shared = self.spec.root_propagation == "rshared"
        libc.mount(None, "/", None, (libc.MS_SHARED if shared else libc.MS_SLAVE) | libc.MS_REC)
        if shared:
            libc.mount(None, mount_of(os.path.dirname(self.rootfs)).point, None, libc.MS_PRIVATE)
        self._mount_rootfs()
        self.root_fd = os.open(self.rootfs, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        for m in mounts:
            self._mount(m)
        if self.dev_tmpfs:
            self._populate_dev()
        for device in self.spec.devices:
            self._user_device(device)

    def _mount_rootfs(self) -> None:
        descs = self.spec.rootfs
        if not descs:
            raise ContainerError("container has no root file system")
        for d in descs:
            typ, source, options = d.get("Type", ""), d.get("Source", ""), d.get("Options") or []
            flags, prop, data = parse_options(options)
            if typ == "bind" or flags & libc.MS_BIND:
                libc.mount(source, self.rootfs, None, libc.MS_BIND | (flags & libc.MS_REC))
                extra = flags & ~(libc.MS_BIND | libc.MS_REC)
                if extra:
                    libc.mount(None, self.rootfs, None, libc.MS_REMOUNT | libc.MS_BIND | extra)
            else:
                libc.mount(source, self.rootfs, typ, flags, data or None)
            if prop:
                libc.mount(None, self.rootfs, None, prop)
        # pivot_root needs the new root's mount private (not shared, whatever the host had).
        libc.mount(None, self.rootfs, None, libc.MS_PRIVATE)

    def _mount(self, m: Mount) -> None:
        flags, prop, data = parse_options(m.options)
        rel = m.destination
        is_bind = m.type == "bind" or bool(flags & libc.MS_BIND)
        if m.type == "cgroup":
            self._mount_cgroup(rel, flags)
            return
        if is_bind:
            fd = ensure_dir(self.root_fd, rel) if os.path.isdir(m.source) else ensure_file(self.root_fd, rel)
            try:
                self._check_proc(fd, m)
                libc.mount(m.source, _fdpath(fd), None, libc.MS_BIND | (flags & libc.MS_REC))
            finally:
                os.close(fd)
            extra = flags & ~(libc.MS_BIND | libc.MS_REC)
            if extra or prop:
                self._remount(rel, extra, prop)
            return
        fd = ensure_dir(self.root_fd, rel)
        try:
            self._check_proc(fd, m)
            libc.mount(m.source or m.type, _fdpath(fd), m.type, flags, data or None)
        finally:
            os.close(fd)
        if prop:
            self._remount(rel, 0, prop)
        if rel == "/dev" and m.type == "tmpfs":
            self.dev_tmpfs = True

    def _check_proc(self, fd: int, m: Mount) -> None:
        """Refuse a mount that resolved onto the container's /proc or into it (but
        procfs itself and the files lxcfs emulates), whatever path led there."""
        where = os.readlink(_fdpath(fd))
        proc = os.path.join(self.rootfs, "proc")
        if where == proc and m.type != "proc":
            raise ContainerError(f'"{m.source}" cannot be mounted because it is not of type proc')
        if where.startswith(proc + "/") and "/proc" + where[len(proc):] not in PROC_MOUNTABLE:
            raise ContainerError(f'"{m.destination}" cannot be mounted because it is inside /proc')

    def _remount(self, rel: str, flags: int, prop: int = 0) -> None:
        """Apply flags to the mount now *on* ``rel`` (reopened: the old fd is under it)."""
        fd = _open(self.root_fd, rel, O_PATH)
        try:
            if flags:
                keep = os.fstatvfs(fd).f_flag & _KEEP if hasattr(os, "fstatvfs") else 0
                libc.mount(None, _fdpath(fd), None, libc.MS_REMOUNT | libc.MS_BIND | flags | keep)
            if prop:
                libc.mount(None, _fdpath(fd), None, prop)
        finally:
            os.close(fd)

    def _mount_cgroup(self, rel: str, flags: int) -> None:
        """``/sys/fs/cgroup``: cgroup2 in a private cgroupns, else the container's own dirs."""
        if self.cgroup is None:
            return
        fd = ensure_dir(self.root_fd, rel)
        try:
            target = _fdpath(fd)
            if self.cgroup.kind == "v2":
                if self.cgroupns:
                    libc.mount("cgroup2", target, "cgroup2", flags & ~libc.MS_BIND)
                else:
                    libc.mount(self.cgroup.unique[0], target, None, libc.MS_BIND | libc.MS_REC)
                    if flags & libc.MS_RDONLY:
                        self._remount(rel, libc.MS_RDONLY)
                return
            libc.mount("tmpfs", target, "tmpfs", libc.MS_NOSUID | libc.MS_NODEV | libc.MS_NOEXEC, "mode=755")
        finally:
            os.close(fd)
        from barge_exec_native.libcontainer.cgroups import _mounts

        v1, _v2 = _mounts()
        for hier_dir, root in sorted(self.cgroup._roots.items()):
            name = os.path.basename(root)
            sub = f"{rel}/{name}"
            sfd = ensure_dir(self.root_fd, sub)
            try:
                libc.mount(hier_dir, _fdpath(sfd), None, libc.MS_BIND | libc.MS_REC)
            finally:
                os.close(sfd)
            if flags & libc.MS_RDONLY:
                self._remount(sub, libc.MS_RDONLY | libc.MS_NOSUID | libc.MS_NODEV | libc.MS_NOEXEC)
        # cpu,cpuacct joined in one hierarchy: the names users expect as symlinks
        pfd = _open(self.root_fd, rel, O_PATH | os.O_DIRECTORY)
        try:
            for ctrl, root in v1.items():
                name = os.path.basename(root)
                if ctrl != name and not ctrl.startswith("name=") and ctrl in self.cgroup.dirs:
                    try:
                        os.symlink(name, ctrl, dir_fd=pfd)
                    except FileExistsError:
                        pass
        finally:
            os.close(pfd)
        if flags & libc.MS_RDONLY:
            self._remount(rel, libc.MS_RDONLY | libc.MS_NOSUID | libc.MS_NODEV | libc.MS_NOEXEC)

    def _populate_dev(self) -> None:
        dev_fd = _open(self.root_fd, "dev", O_PATH | os.O_DIRECTORY)
        try:
            nodes = _host_devices() if self.spec.privileged else [
                (name, stat.S_IFCHR | 0o666, os.makedev(major, minor)) for name, major, minor in DEFAULT_DEVICES]
            for name, mode, rdev in nodes:
                self._node(dev_fd, name, mode, rdev)
            for name, target in DEV_SYMLINKS:
                try:
                    os.symlink(target, name, dir_fd=dev_fd)
                except FileExistsError:
                    pass
            if self.console:  # the pty's slave is bound on it after pivot_root (bind_console)
                os.close(ensure_file(self.root_fd, "/dev/console"))
        finally:
            os.close(dev_fd)

    def _node(self, dev_fd: int, name: str, mode: int, rdev: int) -> None:
        parent, base = os.path.split(name)
        pfd = ensure_dir(dev_fd, parent) if parent else os.dup(dev_fd)
        try:
            try:
                sc.mknod(base, mode, rdev, dir_fd=pfd)
                return
            except libc.SyscallError as exc:
                if exc.errno == errno.EEXIST:
                    return
                if exc.errno != errno.EPERM:
                    raise
            # mknod refused (no CAP_MKNOD, or a user namespace): bind the host's node
            os.close(os.open(base, os.O_CREAT | os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644, dir_fd=pfd))
            fd = _open(pfd, base, O_PATH)
            try:
                libc.mount(f"/dev/{name}", _fdpath(fd), None, libc.MS_BIND)
            finally:
                os.close(fd)
        finally:
            os.close(pfd)

    def _user_device(self, device) -> None:
        """A ``--device`` node at its path inside the root, with the host's numbers, mode and owner
        (runc's ``createDeviceNode``: a node already there is kept). Parents resolve inside the root."""
        parent, base = os.path.split(device.path.rstrip("/"))
        if not base:
            raise ContainerError(f"device path {device.path!r} names no file")
        kind = {"b": stat.S_IFBLK, "p": stat.S_IFIFO}.get(device.type, stat.S_IFCHR)
        pfd = ensure_dir(self.root_fd, parent)
        try:
            try:
                sc.mknod(base, kind | (device.file_mode & 0o7777), os.makedev(device.major, device.minor), dir_fd=pfd)
            except libc.SyscallError as exc:
                if exc.errno == errno.EEXIST:
                    return
                raise
            os.chmod(base, device.file_mode & 0o7777, dir_fd=pfd)  # mknod's mode went through the umask
            os.chown(base, device.uid, device.gid, dir_fd=pfd, follow_symlinks=False)
        finally:
            os.close(pfd)

    def pivot(self) -> None:
        """pivot_root(".", ".") and drop the old root (runc's ``pivotRoot``).

        After the pivot the old root is stacked on the new one; ``.`` names
        the old root only from a directory *of* the old root (the process's
        cwd is the new root's), hence the fchdir to it before making it
        rslave — else the new root's mounts would be made slaves instead,
        and a shared bind would stop sharing. The root's own propagation
        (rshared for a shared bind) is applied last, to the new ``/``.
        """
        old_root = os.open("/", os.O_DIRECTORY | os.O_RDONLY | os.O_CLOEXEC)
        try:
            os.fchdir(self.root_fd)
            os.close(self.root_fd)
            self.root_fd = -1
            libc.pivot_root(".", ".")
            os.fchdir(old_root)
        finally:
            os.close(old_root)
        libc.mount(None, ".", None, libc.MS_SLAVE | libc.MS_REC)  # the umount must not reach the host
        libc.umount2(".", libc.MNT_DETACH)
        os.chdir("/")
        if self.spec.root_propagation == "rshared":
            libc.mount(None, "/", None, libc.MS_SHARED | libc.MS_REC)


def _host_devices() -> list[tuple[str, int, int]]:
    """Every device node of the host's /dev (privileged containers), as runc lists them."""
    skip_dirs = {"pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev"}
    found = []
    for dirpath, dirnames, filenames in os.walk("/dev"):
        dirnames[:] = [d for d in dirnames if d not in skip_dirs]
        for name in filenames:
            if name in ("console", "ptmx") and dirpath == "/dev":
                continue
            path = os.path.join(dirpath, name)
            try:
                st = os.lstat(path)
            except OSError:
                continue
            if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
                found.append((os.path.relpath(path, "/dev"), st.st_mode, st.st_rdev))
    return found


# -- after pivot_root ---------------------------------------------------------------------------


def mask_paths(paths) -> None:
    """/dev/null over files, a read-only tmpfs over directories (runc ``maskPath``)."""
    for path in paths:
        try:
            st = os.lstat(path)
        except (FileNotFoundError, NotADirectoryError):
            continue
        if stat.S_ISDIR(st.st_mode):
            libc.mount("tmpfs", path, "tmpfs", libc.MS_RDONLY)
        else:
            libc.mount("/dev/null", path, None, libc.MS_BIND)


def readonly_paths(paths) -> None:
    """Bind each path on itself, then remount it read-only keeping nosuid/nodev/noexec."""
    for path in paths:
        try:
            libc.mount(path, path, None, libc.MS_BIND | libc.MS_REC)
        except libc.NotFound:
            continue
        keep = os.statvfs(path).f_flag & _KEEP
        libc.mount(None, path, None, libc.MS_BIND | libc.MS_REMOUNT | libc.MS_RDONLY | keep)


def readonly_root() -> None:
    keep = os.statvfs("/").f_flag & _KEEP
    libc.mount(None, "/", None, libc.MS_BIND | libc.MS_REMOUNT | libc.MS_RDONLY | keep)


def _own_namespace(kind: str, mode: str | None) -> bool:
    """Whether a namespace mode is one of the container's own: new, or joined
    (a bridge network's sandbox, another container's) but not the host's."""
    if mode == "new":
        return True
    if not mode or mode == "host":
        return False
    try:
        theirs, ours = os.stat(mode), os.stat(f"/proc/self/ns/{sc.NAMESPACES[kind][1]}")
    except OSError:
        return False
    return (theirs.st_dev, theirs.st_ino) != (ours.st_dev, ours.st_ino)


def check_sysctls(sysctls: dict, namespaces: dict) -> None:
    """Only namespaced sysctls may be set, and only in a namespace of the container's own."""
    from barge.errors import InvalidParameter

    for key in sysctls:
        kind = sysctl_namespace(key)
        if kind is None:
            raise InvalidParameter(f"sysctl {key!r} is not allowed: it is not namespaced")
        if not _own_namespace(kind, namespaces.get(kind, "host")):
            raise InvalidParameter(f"sysctl {key!r} is not allowed in host {kind} namespace")


def write_sysctls(sysctls: dict) -> None:
    for key, value in sysctls.items():
        path = "/proc/sys/" + key.replace(".", "/")
        try:
            with open(path, "w") as fh:
                fh.write(str(value))
        except OSError as exc:
            raise ContainerError(f"sysctl {key}={value}: {exc.strerror}") from None


def bind_console(slave: str) -> None:
    """Make the init's pty slave (a path in the container's devpts) its
    /dev/console, as runc does, when the container's /dev has a placeholder
    for it (a /dev tmpfs gets one; an image's own /dev may not)."""
    try:
        st = os.lstat("/dev/console")
    except FileNotFoundError:
        return
    if not (stat.S_ISREG(st.st_mode) or stat.S_ISCHR(st.st_mode)):
        return
    libc.mount(slave, "/dev/console", None, libc.MS_BIND)
