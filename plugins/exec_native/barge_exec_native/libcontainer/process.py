"""Starting a container's init, and exec'ing more processes into it.

The sequence is runc's (docker-engine-notes §3.1), in Python, with one fork:

* the caller points its *children's* PID namespace at a new one
  (``unshare(CLONE_NEWPID)`` affects only children) or at the one to join,
  forks, and points it back at its own (``setns``), so the child is PID 1 of
  the container without an intermediate process (each process hop costs
  1-2 ms of scheduling on this VM). The caller must not fork from another
  thread meanwhile (the monitor is single-threaded);
* the child joins the cgroup first (so everything after is contained),
  ``setns`` into namespaces to share, ``unshare`` s the others in one call
  (mount, uts, ipc, net, cgroup: after the cgroup join, so a private cgroup
  namespace is rooted at the container's cgroup);
* it builds the root file system (:mod:`.rootfs`), sets hostname, sysctls,
  rlimits, user, capabilities, reports "ready" and blocks until
  :meth:`Init.start`; then it looks the command up in the container's PATH
  and ``execve`` s it. Errors travel back as JSON lines on a CLOEXEC pipe,
  so a successful exec is seen as end-of-file.
"""

from __future__ import annotations

import errno
import json
import os
import resource
import signal
import socket
import stat
from dataclasses import dataclass

from barge import libc
from barge.errors import InvalidParameter
from barge_exec_native.libcontainer import caps, oomscore, seccomp
from barge_exec_native.libcontainer import rootfs as rfs
from barge_exec_native.libcontainer import syscalls as sc
from barge_exec_native.libcontainer.cgroups import Cgroup, check_resources
from barge_exec_native.libcontainer.errors import ContainerError, ExecFailed

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#: The order exec joins a running container's namespaces: mnt last, as its
#: /proc no longer shows the host's /proc/<pid>/ns afterwards.
EXEC_NAMESPACES = ("ipc", "uts", "net", "pid", "cgroup", "mount")
_INFINITY = resource.RLIM_INFINITY


@dataclass
class Stdio:
    """File descriptors (in the caller) that become the process's 0, 1 and 2.

    With ``terminal`` the three are unused: like runc, the process itself
    opens a pty in the container's devpts (after the container's mounts, or
    after joining its mount namespace), makes the slave its controlling
    terminal and its 0, 1, 2, and sends the master over ``console_socket``
    (a unix stream socket, one SCM_RIGHTS message: runc's --console-socket).
    So ``tty`` in the container names a /dev/pts/N that exists there.
    """

    stdin: int = -1
    stdout: int = -1
    stderr: int = -1
    terminal: bool = False
    console_socket: int = -1


# -- messages between the children and the caller -----------------------------------------------


def _send(fd: int, msg: dict) -> None:
    data = (json.dumps(msg) + "\n").encode()
    if len(data) > 4000:  # one atomic pipe write
        msg = dict(msg, error=str(msg.get("error", ""))[:3000])
        data = (json.dumps(msg) + "\n").encode()
    try:
        os.write(fd, data)
    except OSError:
        pass


def _send_error(fd: int, exc: BaseException) -> None:
    if isinstance(exc, ExecFailed):
        kind, code = "ExecFailed", exc.code
    elif isinstance(exc, InvalidParameter):
        kind, code = "InvalidParameter", 0
    else:
        kind, code = "ContainerError", 0
    message = str(exc) if isinstance(exc, (ContainerError, InvalidParameter, libc.SyscallError)) else (
        f"{type(exc).__name__}: {exc}")
    _send(fd, {"error": message, "type": kind, "code": code})


def _error_from(msg: dict) -> ContainerError | InvalidParameter:
    if msg.get("type") == "ExecFailed":
        return ExecFailed(msg["error"], msg.get("code") or 126)
    if msg.get("type") == "InvalidParameter":
        return InvalidParameter(msg["error"])
    return ContainerError(msg["error"])


class _Reader:
    """JSON lines from a pipe, until end-of-file."""

    def __init__(self, fd: int):
        self.fd = fd
        self.buf = b""
        self.eof = False

    def next(self) -> dict | None:
        while b"\n" not in self.buf:
            if self.eof:
                return None
            chunk = os.read(self.fd, 65536)
            if not chunk:
                self.eof = True
                continue
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return json.loads(line)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def _reap(pid: int) -> int | None:
    """waitpid that tolerates a caller who already reaped (or is not our parent)."""
    while True:
        try:
            return os.waitpid(pid, 0)[1]
        except ChildProcessError:
            return None
        except InterruptedError:
            continue


# -- the init ----------------------------------------------------------------------------------


class Init:
    """A container's init waiting for :meth:`start`; ``pid`` is its host pid.

    ``pidfd`` refers to this very process even after its pid is recycled
    (PIDs recycle fast here); :meth:`cancel` signals and waits through it.
    """

    def __init__(self, pid: int, reader: _Reader, start_fd: int):
        self.pid = pid
        self._reader = reader
        self._start_fd = start_fd
        try:
            self.pidfd = os.pidfd_open(pid)
        except OSError:
            self.pidfd = -1

    def __del__(self):
        if getattr(self, "pidfd", -1) >= 0:
            os.close(self.pidfd)
            self.pidfd = -1

    def start(self) -> None:
        """Let the init exec the command; raise :class:`ExecFailed` when it cannot."""
        if self._start_fd < 0:
            raise ContainerError("container already started")
        try:
            os.write(self._start_fd, b"S")
        except BrokenPipeError:
            raise ContainerError("container init exited before it was started") from None
        finally:
            os.close(self._start_fd)
            self._start_fd = -1
        try:
            while (msg := self._reader.next()) is not None:
                if "error" in msg:
                    raise _error_from(msg)
        finally:
            self._reader.close()

    def cancel(self) -> None:
        """Kill the init (not started, or running) and reap it, unless the caller already did."""
        if self.pidfd >= 0:
            try:
                signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)
                os.waitid(os.P_PIDFD, self.pidfd, os.WEXITED)
            except (ProcessLookupError, ChildProcessError):
                pass
            os.close(self.pidfd)
            self.pidfd = -1
        else:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            _reap(self.pid)
        if self._start_fd >= 0:
            os.close(self._start_fd)
            self._start_fd = -1
        self._reader.close()


def _clone_flags(spec, layout: str) -> tuple[int, list[tuple[str, int]], dict[str, str]]:
    """(unshare flags, [(ns path, flag) to join], effective namespace modes)."""
    modes = dict(spec.namespaces)
    modes["mount"] = "new"  # the root file system needs its own mount namespace
    modes.setdefault("cgroup", "new" if layout == "v2" else "host")  # Docker's default
    flags = 0
    joins = []
    for kind, mode in modes.items():
        if kind not in sc.NAMESPACES:
            raise ContainerError(f"unknown namespace kind: {kind!r}")
        flag = sc.NAMESPACES[kind][0]
        if mode == "new":
            flags |= flag
        elif mode not in ("host", "", None):
            if not os.path.exists(mode):
                raise InvalidParameter(f"cannot join {kind} namespace: {mode} does not exist")
            joins.append((mode, flag))
    return flags, joins, modes


def _rlimits(process) -> list[tuple[int, int, int]]:
    """(resource, soft, hard) clamped to the current hard limit (no CAP_SYS_RESOURCE here)."""
    out = []
    for rl in process.rlimits:
        name = rl.type.upper()
        if not name.startswith("RLIMIT_"):
            name = "RLIMIT_" + name
        res = getattr(resource, name, None)
        if res is None:
            raise InvalidParameter(f"invalid ulimit type: {rl.type}")
        _soft, cur_hard = resource.getrlimit(res)
        hard = rl.hard if rl.hard >= 0 else _INFINITY
        soft = rl.soft if rl.soft >= 0 else _INFINITY
        if cur_hard != _INFINITY:
            hard = cur_hard if hard == _INFINITY else min(hard, cur_hard)
        if hard != _INFINITY:
            soft = hard if soft == _INFINITY else min(soft, hard)
        out.append((res, soft, hard))
    return out


def _cap_mask(spec_privileged: bool, process) -> int:
    if spec_privileged:
        return (1 << (caps.last_cap() + 1)) - 1
    return caps.mask(process.capabilities)


class _ChildPidNamespace:
    """Within the block, the caller's children are born in another PID namespace.

    ``target``: ``"new"`` (unshare), a namespace file to join, or ``None``
    (unchanged). Restored on exit with ``setns`` on the caller's own.
    """

    def __init__(self, target: str | int | None):
        self.target = target
        self.own = -1
        self._parent = os.getpid()

    def __enter__(self):
        if self.target is None:
            return self
        self.own = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
        try:
            if self.target == "new":
                libc.unshare(libc.CLONE_NEWPID)
            elif isinstance(self.target, int):
                libc.setns(self.target, libc.CLONE_NEWPID)
            else:
                fd = os.open(self.target, os.O_RDONLY | os.O_CLOEXEC)
                try:
                    libc.setns(fd, libc.CLONE_NEWPID)
                finally:
                    os.close(fd)
        except BaseException:
            os.close(self.own)
            raise
        return self

    def __exit__(self, *exc) -> None:
        if self.own >= 0 and os.getpid() == self._parent:
            try:
                libc.setns(self.own, libc.CLONE_NEWPID)
            finally:
                os.close(self.own)

    def fork(self) -> int:
        self._parent = os.getpid()
        return os.fork()


@dataclass
class Filter:
    """A compiled seccomp program (:func:`seccomp.compile_filter`) and its ``seccomp(2)`` flags."""

    program: bytes
    flags: int = 0


def _filter(spec, program: bytes | None) -> Filter | None:
    """The filter to install; a spec that asks for one never runs without it."""
    if spec.seccomp is None:
        return None
    if not program:
        raise ContainerError("seccomp: the container has a filter but its compiled program is missing")
    return Filter(program, seccomp.flag_bits(spec.seccomp.flags))


def spawn_init(spec, stdio: Stdio, cgroup: Cgroup, workdir: str, seccomp_program: bytes | None = None) -> Init:
    """Create the container's init in its namespaces and cgroup, waiting for start.

    The init is a child of the caller. ``seccomp_program`` is ``spec.seccomp``
    compiled (:func:`seccomp.compile_filter`). Raises :class:`ContainerError`
    (or ``InvalidParameter``) with the reason; then nothing is left running,
    and a cgroup this call created is removed.

    Long on purpose: runc's init sequence, one ordered exchange with the
    child, whose undo on every failure needs all of its steps in view.
    """
    check_resources(spec.resources)
    mounts = rfs.plan_mounts(spec)
    rfs.check_mounts(mounts)
    flags, joins, modes = _clone_flags(spec, cgroup.kind)
    rfs.check_sysctls(spec.sysctls, modes)
    limits = _rlimits(spec.process)
    keep = _cap_mask(spec.privileged, spec.process)
    filt = _filter(spec, seccomp_program)
    rootfs = os.path.join(workdir, "rootfs")
    os.makedirs(rootfs, exist_ok=True)
    if stdio.terminal and stdio.console_socket < 0:
        raise ContainerError("a terminal needs a console socket")
    pid_target = modes.get("pid")
    pid_target = None if pid_target in ("host", "", None) else pid_target
    joins = [(path, flag) for path, flag in joins if flag != libc.CLONE_NEWPID]
    flags &= ~libc.CLONE_NEWPID
    created = not cgroup.exists()
    cgroup.create(spec.resources, privileged=spec.privileged, device_rules=spec.device_rules)
    ctx = _InitContext(spec, stdio, cgroup, rootfs, mounts, modes, limits, keep, filt)
    ctl_r, ctl_w = os.pipe()
    start_r, start_w = os.pipe()
    pid = 0
    try:
        with _ChildPidNamespace(pid_target) as pidns:
            pid = pidns.fork()
            if pid == 0:
                _init_child(ctx, flags, joins, ctl_r, ctl_w, start_r, start_w)  # never returns
    except BaseException:
        for fd in (ctl_r, ctl_w, start_r, start_w):
            os.close(fd)
        if pid:
            os.kill(pid, signal.SIGKILL)
            _reap(pid)
        if created:
            cgroup.destroy()
        raise
    os.close(ctl_w)
    os.close(start_r)
    reader = _Reader(ctl_r)
    try:
        while True:
            msg = reader.next()
            if msg is None:
                raise ContainerError("container init exited during setup")
            if "error" in msg:
                raise _error_from(msg)
            if msg.get("ready"):
                return Init(pid, reader, start_w)
    except BaseException:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        _reap(pid)
        reader.close()
        os.close(start_w)
        if created:
            cgroup.destroy()
        raise


@dataclass
class _InitContext:
    spec: object
    stdio: Stdio
    cgroup: Cgroup
    rootfs: str
    mounts: list
    modes: dict
    limits: list
    keep: int
    filt: Filter | None


def _join(joins) -> None:
    for path, flag in joins:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            libc.setns(fd, flag)
        finally:
            os.close(fd)


def _init_child(ctx: _InitContext, flags: int, joins, ctl_r: int, ctl_w: int, start_r: int, start_w: int) -> None:
    code = 1
    try:
        os.close(ctl_r)
        os.close(start_w)
        _seal_child(ctl_w, start_r, *_stdio_fds(ctx.stdio))
        ctx.cgroup.join_self()
        oomscore.set_own(ctx.spec.process.oom_score_adj)  # before any capability is dropped
        _join(joins)
        libc.unshare(flags)
        spec = ctx.spec
        os.setsid()
        os.umask(0)
        terminal = ctx.stdio.terminal
        if not terminal:
            _setup_stdio(ctx.stdio)
        builder = rfs.RootfsBuilder(spec, ctx.rootfs, ctx.cgroup, cgroupns=ctx.modes.get("cgroup") == "new",
                                    console=terminal)
        builder.prepare(ctx.mounts)
        if ctx.modes.get("net") == "new":
            sc.link_up("lo")
        builder.pivot()
        if terminal:  # runc's order: after pivot_root, before read-only and masked paths
            rfs.bind_console(_setup_console(ctx.stdio, spec.process))
        if ctx.modes.get("uts") == "new" and spec.hostname:
            libc.sethostname(spec.hostname)
        rfs.write_sysctls(spec.sysctls)
        if not spec.privileged:
            rfs.readonly_paths(spec.readonly_paths)
            rfs.mask_paths(spec.masked_paths)
        cwd = spec.process.cwd or "/"
        os.makedirs(cwd, 0o755, exist_ok=True)  # Docker creates a missing WORKDIR
        if spec.readonly_rootfs:
            rfs.readonly_root()
        if spec.init:
            _name_reaper(spec.process.args)
        _finalize(spec.process, ctx.limits, ctx.keep, ctx.filt)
        _send(ctl_w, {"ready": True})
        if not os.read(start_r, 1):
            code = 0  # cancelled before start
            return
        os.close(start_r)
        if spec.init:
            _reaper(spec.process, ctl_w)
        _exec(spec.process, keep_fd=ctl_w)
    except BaseException as exc:  # noqa: BLE001
        if isinstance(exc, ExecFailed):
            code = exc.code
        _send_error(ctl_w, exc)
    finally:
        os._exit(code)


def _seal_child(*keep: int) -> None:
    """First thing in a child that will enter a container (CVE-2019-5736, CVE-2024-21626).

    Until its execve it is the monitor's Python: its exe is the host's
    interpreter, its cwd and root the host's, its fds the monitor's.
    Non-dumpable (as runc's nsexec makes its init), none of that can be
    opened through ``/proc/<pid>/`` by a process of the container; execve
    makes the command dumpable again. Every fd it does not need is closed
    now, so none can reach the command or become its working directory
    (``-w /proc/self/fd/N``).
    """
    libc.prctl(libc.PR_SET_DUMPABLE, 0)
    low = 0
    for fd in sorted({0, 1, 2, *(k for k in keep if k >= 0)}):
        if fd > low:
            os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, 1 << 20)


def _stdio_fds(stdio: Stdio) -> tuple[int, ...]:
    return (stdio.stdin, stdio.stdout, stdio.stderr, stdio.console_socket)


def _setup_stdio(stdio: Stdio) -> None:
    dups = [os.dup(fd) for fd in (stdio.stdin, stdio.stdout, stdio.stderr)]
    for target, fd in enumerate(dups):
        os.dup2(fd, target, inheritable=True)
    for fd in dups:
        os.close(fd)


def _setup_console(stdio: Stdio, process) -> str:
    """Open a pty in this mount namespace's devpts, send its master over the
    console socket, make the slave the controlling terminal and 0, 1, 2;
    return the slave's path (the caller is a session leader)."""
    master, slave, name = sc.open_pty()
    try:
        if process.console_height and process.console_width:
            sc.set_winsize(slave, process.console_height, process.console_width)
        if process.user.uid != 0:  # runc's fixStdioPermissions: the user may reopen its tty
            os.fchown(slave, process.user.uid, -1)
        sock = socket.socket(fileno=stdio.console_socket)
        try:
            socket.send_fds(sock, [b"m"], [master])
        except OSError as exc:
            raise ContainerError(f"cannot send the console to the monitor: {exc}") from None
        finally:
            sock.close()
        for target in (0, 1, 2):
            os.dup2(slave, target, inheritable=True)
    finally:
        os.close(master)
        os.close(slave)
    sc.set_controlling_tty(0)
    return name


def _finalize(process, limits, keep: int, filt: Filter | None = None) -> None:
    """rlimits, bounding set, user, capabilities, no_new_privs, umask, cwd, seccomp (runc's order).

    The filter goes on as late as it can: installing one needs CAP_SYS_ADMIN
    or no_new_privs, so without no_new_privs before the capabilities are
    dropped (the calls after it — setresuid, capset, prctl — are ones every
    sane profile allows), with it at the very end.
    """
    for res, soft, hard in limits:
        try:
            sc.prlimit(0, res, (soft, hard))
        except libc.PermissionDenied:
            raise ContainerError(
                f"cannot set ulimit {_rlimit_name(res)}={soft}:{hard}: raising a hard limit needs "
                "CAP_SYS_RESOURCE, which this daemon does not have") from None
    if filt is not None and not process.no_new_privileges:
        seccomp.install(filt.program, filt.flags)
    caps.drop_bounding(keep)
    user = process.user
    os.setgroups(list(user.additional_gids))
    os.setresgid(user.gid, user.gid, user.gid)
    if user.uid != 0:
        libc.prctl(libc.PR_SET_KEEPCAPS, 1)
    os.setresuid(user.uid, user.uid, user.uid)
    if user.uid != 0:
        libc.prctl(libc.PR_SET_KEEPCAPS, 0)
    caps.apply(keep)
    if process.no_new_privileges:
        libc.prctl(libc.PR_SET_NO_NEW_PRIVS, 1)
    os.umask(0o022)
    try:
        os.chdir(process.cwd or "/")
    except OSError as exc:
        raise ExecFailed(f"chdir to cwd ({process.cwd!r}) set in config.json failed: {exc.strerror.lower()}",
                         126) from None
    _check_cwd_inside()
    if filt is not None and process.no_new_privileges:
        seccomp.install(filt.program, filt.flags)


def _check_cwd_inside() -> None:
    """CVE-2024-21626: a cwd reached through a leaked fd (``/proc/self/fd/N``)
    lies outside the container's root, and getcwd(3) then fails (the kernel
    says "(unreachable)"); runc's check, with its message."""
    try:
        os.getcwd()
    except FileNotFoundError:
        raise ExecFailed("current working directory is outside of container mount namespace root -- "
                         "possible container breakout detected", 126) from None


def _rlimit_name(res: int) -> str:
    for name in dir(resource):
        if name.startswith("RLIMIT_") and getattr(resource, name) == res:
            return name
    return str(res)


def _environ(env_list) -> dict[str, str]:
    env = {}
    for item in env_list:
        key, sep, value = item.partition("=")
        if sep and key:
            env[key] = value
    return env


def lookup(name: str, path_var: str) -> str:
    """Go's ``exec.LookPath`` (what runc uses), with its messages."""
    if "/" in name:
        try:
            st = os.stat(name)
        except OSError as exc:
            code = 127 if exc.errno in (errno.ENOENT, errno.ENOTDIR) else 126
            raise ExecFailed(f'exec: "{name}": stat {name}: {exc.strerror.lower()}', code) from None
        _check_executable(name, st)
        return name
    if name:
        for directory in path_var.split(":"):
            candidate = os.path.join(directory or ".", name)
            try:
                st = os.stat(candidate)
            except OSError:
                continue
            if not stat.S_ISDIR(st.st_mode) and st.st_mode & 0o111:
                return candidate
    raise ExecFailed(f'exec: "{name}": executable file not found in $PATH', 127)


def _check_executable(name: str, st: os.stat_result) -> None:
    if stat.S_ISDIR(st.st_mode):
        raise ExecFailed(f'exec: "{name}": is a directory', 126)
    if not st.st_mode & 0o111:
        raise ExecFailed(f'exec: "{name}": permission denied', 126)


def _exec(process, keep_fd: int) -> None:
    if not process.args:
        raise ExecFailed("no command specified", 127)
    env = _environ(process.env)
    name = process.args[0]
    path = lookup(name, env.get("PATH", DEFAULT_PATH))
    _default_signals()
    os.closerange(3, keep_fd)
    os.closerange(keep_fd + 1, 1 << 20)
    try:
        os.execve(path, process.args, env)
    except OSError as exc:
        code = 127 if exc.errno == errno.ENOENT else 126
        raise ExecFailed(f'exec: "{name}": {exc.strerror.lower()}', code) from None


def _catchable_signals() -> set[int]:
    """Signals a process can handle or block: not SIGKILL, SIGSTOP, nor the
    two libc keeps for itself (32, 33: Python warns about those)."""
    return set(signal.valid_signals()) - {signal.SIGKILL, signal.SIGSTOP}


def _default_signals() -> None:
    """Undo what Python and the monitor did to signals: ignored ones (SIGPIPE,
    SIGXFSZ), handlers and the blocked mask would survive execve into the
    container (handlers become default there, ignored signals stay ignored)."""
    for sig in _catchable_signals():
        try:
            signal.signal(sig, signal.SIG_DFL)
        except (OSError, ValueError):
            pass
    sc.reset_reserved_signals()
    signal.pthread_sigmask(signal.SIG_SETMASK, [])


def _name_reaper(args: list[str]) -> None:
    """Show the ``--init`` reaper as ``barge-init -- <command>`` in ps and top.

    Docker's reaper is a binary, ``/sbin/docker-init -- cmd``; ours is this
    Python process, forked from the monitor spawner, so without this it
    would show as ``barge-monitor`` running the spawner. comm is set with
    PR_SET_NAME. The command line is the memory of the original argv
    (``/proc/<pid>/cmdline`` reads it): rewritten in place through
    /proc/self/mem, cut to its length (moving it needs CAP_SYS_RESOURCE).
    Cosmetic: a failure leaves the old title.
    """
    try:
        libc.set_name(b"barge-init")
    except libc.SyscallError:
        pass
    try:
        with open("/proc/self/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        start, end = int(fields[45]), int(fields[46])  # arg_start, arg_end (fields 48, 49)
        room = end - start
        if room <= 1:
            return
        title = b"\0".join(os.fsencode(word) for word in ["barge-init", "--", *args])
        fd = os.open("/proc/self/mem", os.O_WRONLY | os.O_CLOEXEC)
        try:
            os.pwrite(fd, title[: room - 1].ljust(room, b"\0"), start)
        finally:
            os.close(fd)
    except (OSError, ValueError, IndexError):
        pass


def _reaper(process, ctl_w: int) -> None:
    """``--init``: stay PID 1, run the command as its child, forward signals, reap.

    What tini (Docker's docker-init) does, without a binary to bind in: the
    exit code is the child's, or 128 + the signal that killed it.
    """
    everything = _catchable_signals()
    signal.pthread_sigmask(signal.SIG_BLOCK, everything)
    child = os.fork()
    if child == 0:
        _exec_or_report(process, ctl_w)  # never returns
    os.close(ctl_w)  # only the child reports exec errors; EOF then means it ran
    os.closerange(3, 1 << 20)  # the stdio it was given too: the command's output must not wait for it
    devnull = os.open("/dev/null", os.O_RDWR)
    for fd in (0, 1, 2):  # do not hold the container's output open
        os.dup2(devnull, fd)
    os.close(devnull)
    while True:
        info = signal.sigwaitinfo(everything)
        if info.si_signo != signal.SIGCHLD:
            try:
                os.kill(child, info.si_signo)
            except ProcessLookupError:
                pass
            continue
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                os._exit(0)
            if pid == 0:
                break
            if pid == child:
                code = os.waitstatus_to_exitcode(status)
                os._exit(128 - code if code < 0 else code)


def _exec_or_report(process, ctl_w: int) -> None:
    code = 126
    try:
        _exec(process, keep_fd=ctl_w)
    except BaseException as exc:  # noqa: BLE001
        if isinstance(exc, ExecFailed):
            code = exc.code
        _send_error(ctl_w, exc)
    finally:
        os._exit(code)


# -- exec into a running container ---------------------------------------------------------------


def _same_ns(a: str, b: str) -> bool:
    try:
        sa, sb = os.stat(a), os.stat(b)
    except FileNotFoundError:
        return True  # the kernel has no such namespace kind
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


def spawn_exec(init_pid: int, spec, process, stdio: Stdio, cgroup: Cgroup,
               seccomp_program: bytes | None = None) -> int:
    """Run ``process`` inside the container whose init is ``init_pid``; return its pid.

    The process (a child of the caller) joins the init's namespaces and the
    cgroup, then takes the process's cwd, rlimits, user, capabilities and
    the container's seccomp filter. Raises :class:`ExecFailed` when the
    command is not found or not executable.
    """
    if stdio.terminal and stdio.console_socket < 0:
        raise ContainerError("a terminal needs a console socket")
    process = oomscore.inherit(process, spec)
    limits = _rlimits(process)
    keep = _cap_mask(spec.privileged, process)
    filt = _filter(spec, seccomp_program)
    fds = []
    pid_fd = None
    try:
        for kind in EXEC_NAMESPACES:
            flag, name = sc.NAMESPACES[kind]
            theirs = f"/proc/{init_pid}/ns/{name}"
            if not _same_ns(f"/proc/self/ns/{name}", theirs):
                fd = os.open(theirs, os.O_RDONLY | os.O_CLOEXEC)
                if kind == "pid":
                    pid_fd = fd
                else:
                    fds.append((fd, flag))
    except FileNotFoundError:
        for fd, _ in fds:
            os.close(fd)
        if pid_fd is not None:
            os.close(pid_fd)
        raise ContainerError(f"container init {init_pid} is not running") from None
    ctl_r, ctl_w = os.pipe()
    pid = 0
    try:
        with _ChildPidNamespace(pid_fd) as pidns:
            pid = pidns.fork()
            if pid == 0:
                _exec_child(fds, cgroup, process, stdio, limits, keep, filt, ctl_r, ctl_w)  # never returns
    finally:
        for fd, _ in fds:
            os.close(fd)
        if pid_fd is not None:
            os.close(pid_fd)
        os.close(ctl_w)
    reader = _Reader(ctl_r)
    error = None
    try:
        while (msg := reader.next()) is not None:
            if "error" in msg and error is None:
                error = _error_from(msg)
    finally:
        reader.close()
    if error is not None:
        _reap(pid)  # it exits by itself after reporting
        raise error
    return pid


def _exec_child(fds, cgroup, process, stdio, limits, keep, filt, ctl_r, ctl_w) -> None:
    code = 126
    try:
        os.close(ctl_r)
        _seal_child(ctl_w, *_stdio_fds(stdio), *(fd for fd, _ in fds))
        cgroup.join_self()
        oomscore.set_own(process.oom_score_adj)  # before any capability is dropped
        for fd, flag in fds:  # mount last: its /proc hides the host's afterwards
            libc.setns(fd, flag)
        os.setsid()
        if stdio.terminal:  # in the container's mount namespace: its /dev/ptmx
            _setup_console(stdio, process)
        else:
            _setup_stdio(stdio)
        _finalize(process, limits, keep, filt)
        _exec(process, keep_fd=ctl_w)
    except BaseException as exc:  # noqa: BLE001
        if isinstance(exc, ExecFailed):
            code = exc.code
        _send_error(ctl_w, exc)
    finally:
        os._exit(code)
