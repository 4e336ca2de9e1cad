"""The monitor process: set the container up, run the loop until the end, report to the driver."""

from __future__ import annotations

import json
import os
import signal
import socket
import time

from barge import libc
from barge.logdriver import LogDriverError
from barge.logdriver.copier import LogCopier, open_logger
from barge_exec_native import helper
from barge_exec_native import state as st
from barge_exec_native.monitor.container import Container
from barge_exec_native.monitor.control import Control
from barge_exec_native.monitor.loop import Loop, print_exc
from barge_exec_native.monitor.proc import Proc
from barge_exec_native.monitor.server import AttachServer


class SetupFailed(Exception):
    """The container could not be created; ``kind`` names the error class for the driver."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


class Monitor:
    """One container's monitor: its processes, its loop and its attach socket."""

    __slots__ = ("container", "loop", "server", "log")

    def __init__(self, state_dir: str):
        self.container = Container(state_dir)
        self.loop = Loop()
        self.server = AttachServer(self.container, self.loop, Control(self.container, self.loop).handle)
        self.log: LogCopier | None = None

    def setup(self) -> int:
        """Create the container up to "init waits for start"; return init's pid."""
        c = self.container
        st.write_pidfile(c.path(st.MONITOR_PID), os.getpid())
        libc.prctl(libc.PR_SET_CHILD_SUBREAPER, 1)
        try:
            libc.set_name(b"barge-monitor")  # what ps -o comm shows
        except libc.SyscallError:
            pass
        self.loop.on_child_signal(c.reap)
        log = c.spec.get("log")
        if log:
            try:
                self.log = open_logger(log)
            except (LogDriverError, OSError) as exc:
                raise SetupFailed("ContainerError", f"failed to initialize logging driver: {exc}") from None
        init = self._spawn_init()
        init.pid_start = st.proc_starttime(init.pid) or 0
        c.init = init
        c.by_pid[init.pid] = init
        init.watch()
        c.created_at = st.rfc3339_nano()
        c.write_state("created")
        self.server.listen()
        return init.pid

    def _spawn_init(self) -> Proc:
        """Fork the set-up helper that creates the init; return it once it waits for start."""
        c = self.container
        init = Proc(None, c.spec["process"], self.loop, c.finish, log=self.log)
        stdio, terminal = init.make_stdio()
        c.init_helper = init.fork_helper(helper.init_job(c.spec_text, stdio, terminal, c.dir), stdio)
        reply = helper.ask(c.init_helper)
        if not reply.get("ok"):
            init.close_fds()
            raise SetupFailed(reply.get("type") or "ContainerError", reply.get("error") or "set-up failed")
        if terminal and not init.receive_console():
            init.close_fds()
            raise SetupFailed("ContainerError", "the container's console (pty master) did not arrive")
        init.pid = int(reply["pid"])
        return init

    def teardown_failed(self) -> None:
        """Undo a failed set-up: no process, no cgroup, none of our files."""
        c = self.container
        c.close_helper()  # the helper exits; a waiting init follows
        try:
            cg = c.cgroup()
            cg.kill_all(signal.SIGKILL)
            _reap_all(block_for=2.0)
            cg.destroy()
        except Exception:  # noqa: BLE001 - undo what can be undone, then the files
            pass
        if self.log is not None:
            self.log.close()
        for name in st.MONITOR_FILES:
            if name != st.MONITOR_LOG:
                st.remove_quietly(c.path(name))

    def run(self) -> None:
        c = self.container
        c.reap()  # the init may have died before the loop
        while not c.done():
            self.loop.poll(c.timeout())
            c.finish_overdue()
        self.server.close()


def _reap_all(block_for: float) -> None:
    end = time.monotonic() + block_for
    while time.monotonic() < end:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            time.sleep(0.01)


def serve(state_dir: str, result: socket.socket | None) -> int:
    """Body of a monitor process: set up, report to ``result``, run. Returns an exit status.

    ``result`` receives one JSON line: ``{"ok": true, "pid": <init pid>,
    "monitor_pid": ...}`` once the init waits for start, or ``{"ok": false,
    "type": <error class>, "error": <message>}``.
    """
    try:
        monitor = Monitor(state_dir)
    except Exception as exc:  # noqa: BLE001 - reported to the driver, which raises it
        _report(result, {"ok": False, "type": type(exc).__name__, "error": f"monitor: bad state dir: {exc}"})
        return 1
    try:
        pid = monitor.setup()
    except SetupFailed as exc:
        monitor.teardown_failed()
        _report(result, {"ok": False, "type": exc.kind, "error": str(exc)})
        return 1
    except Exception as exc:  # noqa: BLE001 - reported to the driver, which raises it
        print_exc()
        monitor.teardown_failed()
        _report(result, {"ok": False, "type": type(exc).__name__, "error": str(exc) or type(exc).__name__})
        return 1
    _report(result, {"ok": True, "pid": pid, "monitor_pid": os.getpid()})
    try:
        monitor.run()
    except Exception:  # noqa: BLE001 - into monitor.log; the exit status says the rest
        print_exc()
        return 1
    return 0


def _report(result: socket.socket | None, answer: dict) -> None:
    if result is None:
        return
    try:
        result.sendall(json.dumps(answer).encode() + b"\n")
    except OSError:
        pass
    result.close()


def detach_stdio(state_dir: str) -> None:
    """Point fds 0/1 at /dev/null and 2 at the state dir's monitor.log."""
    null = os.open(os.devnull, os.O_RDWR)
    try:
        log = os.open(os.path.join(state_dir, st.MONITOR_LOG), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    except OSError:  # no state dir: serve() reports that to the driver
        log = os.dup(null)
    os.dup2(null, 0)
    os.dup2(null, 1)
    os.dup2(log, 2)
    os.close(null)
    os.close(log)


def main(argv: list[str] | None = None) -> int:
    """``python -m barge_exec_native.monitor <state_dir> [<result fd>]``: a monitor exec'd directly."""
    import sys

    argv = sys.argv[1:] if argv is None else argv
    state_dir = argv[0]
    result = socket.socket(fileno=int(argv[1])) if len(argv) > 1 else None
    detach_stdio(state_dir)
    return serve(state_dir, result)
