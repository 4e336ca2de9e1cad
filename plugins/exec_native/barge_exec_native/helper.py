"""Short-lived children of the monitor that run libcontainer's set-up.

Creating a container touches a lot of Python: the spec's dataclasses, mount
planning, capabilities, the fork/exec dance. Done in the monitor, all the
memory it touches would stay dirty and private for as long as the container
lives. A helper forked for the job pays that instead, and exits. Processes it
creates (the init, an exec'd process) reparent to the monitor, which is a
child subreaper.

Each helper talks to the monitor over a socketpair, one JSON line at a time:
the init helper reports ``{"ok": true, "pid": N}`` (or the error) once the
init waits for start, then waits for ``"start"`` and reports the exec result.
libcontainer makes the init a child of its caller, so the helper is the
init's parent until it exits; it exits (without reaping) as soon as the init
was started, or has died, so the monitor gets the init and its exit status.
If the monitor goes away first, the helper exits too, which closes the
init's start pipe, and the never-started init exits by itself.
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket

from barge.execdriver import process_from_dict, spec_from_json
from barge_exec_native import state as st
from barge_exec_native.libcontainer import Cgroup, ExecFailed, Stdio, spawn_exec, spawn_init


def _print_exc() -> None:
    """Print the current exception to stderr (monitor.log); traceback is
    imported only then, so monitors do not all carry it."""
    import traceback

    traceback.print_exc()


#: How long the monitor waits for a helper's answer.
HELPER_TIMEOUT = 60.0


def error_reply(exc: BaseException) -> dict:
    reply = {"ok": False, "type": type(exc).__name__, "error": str(exc) or type(exc).__name__}
    if isinstance(exc, ExecFailed):
        reply["exit_code"] = exc.code
    return reply


def _send(sock: socket.socket, msg: dict) -> None:
    sock.sendall(json.dumps(msg).encode() + b"\n")


def _close_fds_except(keep: set[int]) -> None:
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass


def fork_helper(job, child_fds: list[int]) -> tuple[int, socket.socket]:
    """Fork a helper running ``job(sock)``; it keeps only ``child_fds``, stdio and its socket."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            signal.set_wakeup_fd(-1)  # the monitor's wakeup fd is the monitor's
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            _close_fds_except({0, 1, 2, theirs.fileno(), *child_fds})
            job(theirs)
            code = 0
        except BaseException:  # noqa: BLE001 - report in monitor.log, never return into the monitor
            try:
                _print_exc()
            except BaseException:  # noqa: BLE001
                pass
        finally:
            os._exit(code)
    theirs.close()
    return pid, ours


def ask(sock: socket.socket, message: str | None = None, timeout: float = HELPER_TIMEOUT) -> dict:
    """Send ``message`` (one line) if given, and return the helper's next answer."""
    sock.settimeout(timeout)
    try:
        if message is not None:
            sock.sendall(message.encode() + b"\n")
        buf = b""
        while b"\n" not in buf:
            chunk = sock.recv(4096)
            if not chunk:
                return {"ok": False, "type": "ContainerError",
                        "error": "container set-up helper died (see monitor.log in the state dir)"}
            buf += chunk
        return json.loads(buf.split(b"\n", 1)[0])
    except (OSError, ValueError) as exc:
        return {"ok": False, "type": "ContainerError", "error": f"container set-up helper: {exc}"}


def _stdio(fds: tuple[int, ...], terminal: bool) -> Stdio:
    """The monitor's child fds as a :class:`Stdio`: (stdin, stdout, stderr), or (console socket,)."""
    return Stdio(terminal=True, console_socket=fds[0]) if terminal else Stdio(*fds)


def _seccomp_program(spec, state_dir: str) -> bytes | None:
    """The compiled filter the driver left in the state dir, when the spec has one."""
    if spec.seccomp is None:
        return None
    try:
        return st.read_bytes(os.path.join(state_dir, st.SECCOMP))
    except FileNotFoundError:
        return None  # libcontainer refuses to run without it


def init_job(spec_text: str, stdio_fds: tuple[int, ...], terminal: bool, workdir: str):
    """The job of the init's helper: spawn_init, report, wait for "start", start."""

    def job(sock: socket.socket) -> None:
        spec = spec_from_json(spec_text)
        try:
            init = spawn_init(spec, _stdio(stdio_fds, terminal), Cgroup(spec.cgroup_path), workdir,
                              _seccomp_program(spec, workdir))
        except Exception as exc:  # noqa: BLE001 - every failure goes back to the driver
            _send(sock, error_reply(exc))
            return
        finally:
            for fd in set(stdio_fds):
                os.close(fd)
        _send(sock, {"ok": True, "pid": init.pid})
        line = b""
        while not line.endswith(b"\n"):
            ready = select.select([sock, init.pidfd] if init.pidfd >= 0 else [sock], [], [])[0]
            if init.pidfd in ready:
                return  # the init died before start: exit, so it reparents to the monitor
            chunk = sock.recv(64)
            if not chunk:
                return  # the monitor is gone: exiting closes the start pipe, the init exits
            line += chunk
        try:
            init.start()
        except Exception as exc:  # noqa: BLE001
            _send(sock, error_reply(exc))
            return
        _send(sock, {"ok": True})

    return job


def exec_job(spec_text: str, init_pid: int, process: dict, stdio_fds: tuple[int, ...], terminal: bool,
             state_dir: str):
    """The job of an exec's helper: spawn_exec into the running container, report."""

    def job(sock: socket.socket) -> None:
        spec = spec_from_json(spec_text)
        try:
            pid = spawn_exec(init_pid, spec, process_from_dict(process), _stdio(stdio_fds, terminal),
                             Cgroup(spec.cgroup_path), _seccomp_program(spec, state_dir))
        except Exception as exc:  # noqa: BLE001
            _send(sock, error_reply(exc))
            return
        finally:
            for fd in set(stdio_fds):
                os.close(fd)
        _send(sock, {"ok": True, "pid": pid})

    return job
