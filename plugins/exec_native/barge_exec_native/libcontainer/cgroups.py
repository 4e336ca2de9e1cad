"""Cgroups for one container on v1, hybrid (v1 + a bare cgroup2 tree) and v2.

A :class:`Cgroup` is a relative path (``barge/<id>``) made under the *root*
of every hierarchy it needs (v1: one dir per controller hierarchy; v2: one
dir with the controllers enabled in the parents' ``cgroup.subtree_control``).
Limits come from :class:`barge.execdriver.Resources` and are written by
:mod:`.cglimits`; reading back (:mod:`.cgstats`) gives Docker's ``stats``
shape. Layout and mount points are read once from
``/proc/self/mountinfo`` and ``/proc/cgroups``.
"""

from __future__ import annotations

import errno
import os
import signal
import time

from barge.errors import InvalidParameter
from barge.mount import mountinfo
from barge_exec_native.libcontainer.errors import ContainerError

#: v1 controllers a container joins (blkio only for statistics).
V1_CONTROLLERS = ("memory", "cpu", "cpuacct", "cpuset", "pids", "freezer", "devices", "blkio")
#: v2 controllers enabled for containers when the kernel offers them.
V2_CONTROLLERS = ("cpu", "cpuset", "memory", "pids", "io")
MIN_MEMORY = 6 * 1024 * 1024
_UNLIMITED_V1 = 1 << 62  # v1 reports "no limit" as a page-rounded LONG_MAX
#: Docker's default device rules (runc AllowedDevices + moby oci defaults): fuse stays denied.
DEFAULT_DEVICE_RULES = (
    "c *:* m", "b *:* m",
    "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm",  # null zero full random urandom
    "c 5:0 rwm", "c 5:1 rwm", "c 5:2 rwm", "c 136:* rwm",  # tty console ptmx pts
    "c 10:200 rwm",  # tun
)

_mounts_cache: tuple[dict[str, str], str | None] | None = None
_layout_cache: str | None = None


def _mounts() -> tuple[dict[str, str], str | None]:
    """({v1 controller: mount point}, cgroup2 mount point or None)."""
    global _mounts_cache
    if _mounts_cache is None:
        v1: dict[str, str] = {}
        v2 = None
        for m in mountinfo():
            if m.fstype == "cgroup2" and v2 is None:
                v2 = m.point
            elif m.fstype == "cgroup":
                for opt in m.super_options:
                    if opt in V1_CONTROLLERS or opt.startswith("name="):
                        v1.setdefault(opt, m.point)
        _mounts_cache = (v1, v2)
    return _mounts_cache


def _enabled_v1() -> set[str]:
    """Controllers /proc/cgroups lists on a v1 hierarchy (hierarchy id not 0)."""
    found = set()
    try:
        with open("/proc/cgroups") as fh:
            for line in fh:
                if line.startswith("#"):
                    continue
                name, hier, _n, enabled = line.split()[:4]
                if hier != "0" and enabled == "1":
                    found.add(name)
    except OSError:
        pass
    return found


def _read(path: str) -> str:
    with open(path) as fh:
        return fh.read().strip()


def _write(path: str, value) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    except OSError as exc:
        raise ContainerError(f"cgroup: open {path}: {exc.strerror}") from None
    try:
        os.write(fd, str(value).encode())
    except OSError as exc:
        raise _WriteError(path, value, exc.errno) from None
    finally:
        os.close(fd)


class _WriteError(ContainerError):
    def __init__(self, path, value, err):
        super().__init__(f"cgroup: write {value!r} to {path}: {os.strerror(err)}")
        self.errno = err


def _read_kv(path: str) -> dict[str, int]:
    out = {}
    try:
        with open(path) as fh:
            for line in fh:
                parts = line.split()
                if len(parts) == 2:
                    try:
                        out[parts[0]] = int(parts[1])
                    except ValueError:
                        pass
    except OSError:
        pass
    return out


def _read_int(path: str) -> int | None:
    try:
        raw = _read(path)
    except OSError:
        return None
    if raw == "max":
        return None
    try:
        return int(raw)
    except ValueError:
        return None


class Cgroup:
    """One container's cgroup in every hierarchy (see the module docstring)."""

    @staticmethod
    def layout() -> str:
        global _layout_cache
        if _layout_cache is None:
            v1, v2 = _mounts()
            controllers = set(v1) & set(V1_CONTROLLERS)
            if controllers and _enabled_v1() & controllers:
                _layout_cache = "hybrid" if v2 else "v1"
            elif v2:
                _layout_cache = "v2"
            else:
                raise ContainerError("no cgroup file system is mounted")
        return _layout_cache

    def __init__(self, path: str, *, v2_root: str | None = None):
        """``v2_root`` forces the v2 layout on that cgroup2 mount (tests use the
        hybrid layout's bare ``unified`` tree to exercise the v2 code here)."""
        self.path = path.strip("/")
        if not self.path or ".." in self.path.split("/"):
            raise ContainerError(f"invalid cgroup path: {path!r}")
        self.kind = "v2" if v2_root else self.layout()
        v1, v2 = _mounts()
        v2 = v2_root or v2
        if self.kind == "v2":
            self.root = v2
            self.dirs = {c: os.path.join(v2, self.path) for c in V2_CONTROLLERS}
            self.unique = [os.path.join(v2, self.path)]
        else:
            self.dirs = {c: os.path.join(v1[c], self.path) for c in V1_CONTROLLERS if c in v1}
            self.unique = sorted(set(self.dirs.values()))
            self._roots = {os.path.join(v1[c], self.path): v1[c] for c in self.dirs}

    def __repr__(self) -> str:
        return f"Cgroup({self.path!r}, {self.kind})"

    # -- life cycle -------------------------------------------------------------------------

    def exists(self) -> bool:
        return any(os.path.isdir(d) for d in self.unique)

    def create(self, resources=None, *, privileged: bool = False, device_rules=()) -> None:
        """Make the directories (idempotent), set device rules and ``resources``.

        The devices allowed are Docker's default list plus ``device_rules`` (``--device``
        and ``--device-cgroup-rule``); every device when ``privileged``."""
        if resources is not None:
            check_resources(resources)
        made = []
        try:
            rules = (*DEFAULT_DEVICE_RULES, *device_rules)
            if self.kind == "v2":
                self._create_v2(made, privileged, rules)
            else:
                self._create_v1(made, privileged, rules)
            if resources is not None:
                self.set(resources)
        except BaseException:
            for d in reversed(made):
                try:
                    os.rmdir(d)
                except OSError:
                    pass
            raise

    def _mkdirs(self, root: str, made: list[str]) -> None:
        for _attempt in range(5):
            cur = root
            try:
                for comp in self.path.split("/"):
                    cur = os.path.join(cur, comp)
                    try:
                        os.mkdir(cur)
                        made.append(cur)
                    except FileExistsError:
                        pass
                return
            except FileNotFoundError:
                continue  # a concurrent destroy removed an empty parent under us: again
        raise ContainerError(f"cgroup: cannot create {os.path.join(root, self.path)}")

    def _create_v1(self, made: list[str], privileged: bool, rules) -> None:
        v1, _ = _mounts()
        for d in self.unique:
            root = self._roots[d]
            cpuset = "cpuset" in v1 and v1["cpuset"] == root
            self._mkdirs(root, made)
            if cpuset:  # a new v1 cpuset is empty and takes no task: fill each level from its parent
                cur = root
                for comp in self.path.split("/"):
                    cur, parent = os.path.join(cur, comp), cur
                    _copy_cpuset(parent, cur)
        devices = self.dirs.get("devices")
        if devices:
            if privileged:
                _write(os.path.join(devices, "devices.allow"), "a")
            else:
                _write(os.path.join(devices, "devices.deny"), "a")
                for rule in rules:
                    _write(os.path.join(devices, "devices.allow"), rule)

    def _create_v2(self, made: list[str], privileged: bool, rules) -> None:
        available = set(_read(os.path.join(self.root, "cgroup.controllers")).split())
        wanted = [c for c in V2_CONTROLLERS if c in available]
        cur = self.root
        for comp in self.path.split("/")[:-1]:
            _enable(cur, wanted)
            cur = os.path.join(cur, comp)
            self._mkdirs_one(cur, made)
        _enable(cur, wanted)
        if self._mkdirs_one(self.unique[0], made) and not privileged:
            from barge_exec_native.libcontainer import devicefilter

            devicefilter.attach(self.unique[0], rules)

    @staticmethod
    def _mkdirs_one(path: str, made: list[str]) -> bool:
        try:
            os.mkdir(path)
        except FileExistsError:
            return False
        made.append(path)
        return True

    def add(self, pid: int) -> None:
        """Move process ``pid`` (0: the caller) into the cgroup in every hierarchy."""
        for d in self.unique:
            _write(os.path.join(d, "cgroup.procs"), pid)

    def join_self(self) -> None:
        """Move the calling *single-threaded* process in, cheaply.

        Writing ``cgroup.procs`` takes the kernel's global threadgroup
        rwsem for writing, an RCU grace period (10-16 ms here) for the first
        move after a quiet spell. On v1, moving the current thread through
        ``tasks`` skips that lock; for a process with one thread (a freshly
        forked child) it is the same move.
        """
        name = "cgroup.procs" if self.kind == "v2" else "tasks"
        for d in self.unique:
            _write(os.path.join(d, name), 0)

    def destroy(self) -> None:
        """Kill whatever is left, remove every directory and empty parents; idempotent."""
        deadline = time.monotonic() + 10
        while self.exists():
            try:
                pids = self.pids()
            except OSError:
                pids = []
            if pids:
                self.kill_all(signal.SIGKILL)
                time.sleep(0.002)
            else:
                busy = self._rmdirs()
                if not busy:
                    break
                time.sleep(0.005)
            if time.monotonic() > deadline:
                raise ContainerError(f"cgroup {self.path}: still busy after 10 s: {self.pids()}")
        self._rmdir_parents()

    def _rmdirs(self) -> bool:
        busy = False
        for d in self.unique:
            try:
                os.rmdir(d)
            except FileNotFoundError:
                pass
            except OSError as exc:
                if exc.errno != errno.EBUSY:
                    raise ContainerError(f"cgroup: rmdir {d}: {exc.strerror}") from None
                busy = True
        return busy

    def _rmdir_parents(self) -> None:
        parts = self.path.split("/")[:-1]
        roots = [self.root] if self.kind == "v2" else sorted(set(self._roots.values()))
        for root in roots:
            for i in range(len(parts), 0, -1):
                try:
                    os.rmdir(os.path.join(root, *parts[:i]))
                except OSError:
                    break  # in use by another container, or gone

    # -- processes ---------------------------------------------------------------------------

    def _procs_dir(self) -> str:
        for c in ("pids", "freezer", "memory", "cpu"):
            if c in self.dirs and os.path.isdir(self.dirs[c]):
                return self.dirs[c]
        return self.unique[0]

    def pids(self) -> list[int]:
        try:
            with open(os.path.join(self._procs_dir(), "cgroup.procs")) as fh:
                return [int(x) for x in fh.read().split()]
        except FileNotFoundError:
            return []

    def kill_all(self, sig: int) -> None:
        """Signal every process; frozen meanwhile so none forks away from the signal."""
        if self.kind == "v2" and sig == signal.SIGKILL and os.path.exists(os.path.join(self.unique[0], "cgroup.kill")):
            _write(os.path.join(self.unique[0], "cgroup.kill"), 1)
            return
        was_frozen = self.frozen()
        can_freeze = self._freezer_dir() is not None
        if can_freeze and not was_frozen:
            self.freeze()
        try:
            for pid in self.pids():
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
        finally:
            if can_freeze and (sig == signal.SIGKILL or not was_frozen):
                self.thaw()

    # -- freezer -----------------------------------------------------------------------------

    def _freezer_dir(self) -> str | None:
        if self.kind == "v2":
            d = self.unique[0]
            return d if os.path.exists(os.path.join(d, "cgroup.freeze")) else None
        d = self.dirs.get("freezer")
        return d if d and os.path.isdir(d) else None

    def _set_frozen(self, on: bool) -> None:
        d = self._freezer_dir()
        if d is None:
            raise ContainerError("cgroup: no freezer for this container")
        if self.kind == "v2":
            _write(os.path.join(d, "cgroup.freeze"), "1" if on else "0")
        else:
            _write(os.path.join(d, "freezer.state"), "FROZEN" if on else "THAWED")
        deadline = time.monotonic() + 5
        while self.frozen() != on:
            if time.monotonic() > deadline:
                raise ContainerError(f"cgroup {self.path}: {'freeze' if on else 'thaw'} did not complete in 5 s")
            if self.kind == "v1" or self.kind == "hybrid":  # FREEZING: ask again, as runc does
                _write(os.path.join(d, "freezer.state"), "FROZEN" if on else "THAWED")
            time.sleep(0.001)

    def freeze(self) -> None:
        self._set_frozen(True)

    def thaw(self) -> None:
        self._set_frozen(False)

    def frozen(self) -> bool:
        d = self._freezer_dir()
        if d is None:
            return False
        try:
            if self.kind == "v2":
                return _read_kv(os.path.join(d, "cgroup.events")).get("frozen") == 1
            return _read(os.path.join(d, "freezer.state")) == "FROZEN"
        except OSError:
            return False

    # -- limits ------------------------------------------------------------------------------

    def set(self, resources) -> None:
        """Apply the limits that are set (None leaves a limit as it is); see :mod:`.cglimits`."""
        from barge_exec_native.libcontainer import cglimits

        check_resources(resources)
        if self.kind == "v2":
            cglimits.apply_v2(self.unique[0], resources)
        else:
            cglimits.apply_v1(self.dirs, resources)

    # -- reading back ------------------------------------------------------------------------

    def oom_killed(self) -> bool:
        """Whether the kernel's OOM killer killed a process of this cgroup."""
        if self.kind == "v2":
            return _read_kv(os.path.join(self.unique[0], "memory.events")).get("oom_kill", 0) > 0
        mem = self.dirs.get("memory")
        return bool(mem) and _read_kv(os.path.join(mem, "memory.oom_control")).get("oom_kill", 0) > 0

    def stats(self) -> dict:
        """Docker's stats shape (``memory_stats``, ``cpu_stats``, ``pids_stats``)."""
        from barge_exec_native.libcontainer import cgstats

        return cgstats.stats_v2(self.unique[0]) if self.kind == "v2" else cgstats.stats_v1(self.dirs)


def check_resources(r) -> None:
    """The few limits the kernel would take but no container can live with (core checks the rest)."""
    if r.memory is not None and 0 < r.memory < MIN_MEMORY:
        raise InvalidParameter("Minimum memory limit allowed is 6MB")
    if r.memory_swappiness is not None and not 0 <= r.memory_swappiness <= 100:
        raise InvalidParameter(f"Invalid value: {r.memory_swappiness}, valid memory swappiness range is 0-100")


def _copy_cpuset(parent: str, child: str) -> None:
    """A v1 cpuset starts empty and takes no task until cpus and mems are set."""
    for name in ("cpuset.cpus", "cpuset.mems"):
        path = os.path.join(child, name)
        if not _read(path):
            _write(path, _read(os.path.join(parent, name)))


def _enable(directory: str, controllers) -> None:
    have = set(_read(os.path.join(directory, "cgroup.subtree_control")).split())
    missing = [c for c in controllers if c not in have]
    if missing:
        _write(os.path.join(directory, "cgroup.subtree_control"), " ".join("+" + c for c in missing))
