"""The control messages of attach.sock: ``start``, ``state``, ``resize`` and ``exec``.

Each answers one JSON object: ``{"ok": true, ...}``, or ``{"ok": false,
"error": ..., "type": <error class>}`` that the driver turns into its error.
"""

from __future__ import annotations

import fcntl
import os
import signal
import struct
import termios

from barge_exec_native import helper
from barge_exec_native import state as st
from barge_exec_native.monitor.container import Container
from barge_exec_native.monitor.loop import Loop
from barge_exec_native.monitor.proc import Proc


class Control:
    """Answers control messages about the container in ``container``."""

    __slots__ = ("container", "loop")

    def __init__(self, container: Container, loop: Loop):
        self.container = container
        self.loop = loop

    def handle(self, control: str, msg: dict) -> dict:
        if control == "start":
            return self._start()
        if control == "state":
            return self._state()
        if control == "resize":
            return self._resize(msg)
        if control == "exec":
            return self._exec(msg)
        return {"ok": False, "error": f"unknown control message {control!r}"}

    def _start(self) -> dict:
        c = self.container
        init = c.init
        if init.started_at or init.exit_code is not None or c.init_helper is None:
            return {"ok": False, "error": "container already started", "type": "Conflict"}
        init.started_at = st.rfc3339_nano()
        reply = helper.ask(c.init_helper, "start")
        c.close_helper()
        c.write_state("running")
        if not reply.get("ok") and reply.get("type") == "ContainerError" and st.proc_starttime(init.pid) is None:
            reply["error"] = "container init exited before it was started"
        if not reply.get("ok"):
            c.start_error = reply
            return reply
        return {"ok": True, "pid": init.pid, "started_at": init.started_at}

    def _state(self) -> dict:
        init = self.container.init
        status = "stopped" if init.exit_code is not None else ("running" if init.started_at else "created")
        execs = {k: ("stopped" if p.exit_code is not None else "running") for k, p in self.container.execs.items()}
        return {"ok": True, "status": status, "pid": init.pid, "exit_code": init.exit_code,
                "started_at": init.started_at, "execs": execs}

    def _resize(self, msg: dict) -> dict:
        exec_id = msg.get("exec_id")
        proc = self.container.find(exec_id)
        if proc is None:
            return {"ok": False, "error": f"no such exec: {exec_id}", "type": "NotFound"}
        if proc.master is None:
            return {"ok": False, "error": "the process has no terminal", "type": "Conflict"}
        height, width = int(msg.get("height") or 0), int(msg.get("width") or 0)
        if height <= 0 or width <= 0 or height > 65535 or width > 65535:
            return {"ok": False, "error": f"invalid terminal size {height}x{width}", "type": "InvalidParameter"}
        fcntl.ioctl(proc.master, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))
        return {"ok": True}

    def _exec(self, msg: dict) -> dict:
        c = self.container
        exec_id = msg.get("exec_id")
        st.exec_file(exec_id or "")  # validates
        init = c.init
        if not init.started_at or init.exit_code is not None or c.start_error is not None:
            return {"ok": False, "error": "container is not running", "type": "Conflict"}
        if exec_id in c.execs:
            return {"ok": False, "error": f"exec {exec_id} already started", "type": "Conflict"}
        process = msg.get("process") or {}
        if not isinstance(process, dict) or not process.get("args"):
            return {"ok": False, "error": "exec: no command specified", "type": "InvalidParameter"}
        proc = Proc(exec_id, process, self.loop, c.finish)
        reply = self._spawn(proc)
        if not reply.get("ok"):
            return self._exec_failed(proc, reply)
        terminal = bool(process.get("terminal"))
        proc.pid = int(reply["pid"])
        if terminal and not proc.receive_console():
            proc.close_fds()
            try:
                os.kill(proc.pid, signal.SIGKILL)  # reaped by the loop as an unknown child
            except ProcessLookupError:
                pass
            return {"ok": False, "error": "the exec's console (pty master) did not arrive", "type": "ContainerError"}
        proc.pid_start = st.proc_starttime(proc.pid) or 0
        c.execs[exec_id] = proc
        c.by_pid[proc.pid] = proc
        c.write_exec(proc, "running")
        proc.watch()
        c.attach_waiting(proc)
        # It may have exited (and been reaped as an unknown pid) before we knew it.
        if st.proc_starttime(proc.pid) is None:
            c.reap()
        return {"ok": True, "pid": proc.pid}

    def _spawn(self, proc: Proc) -> dict:
        """Start ``proc`` through a set-up helper (in the container's namespaces); the helper's answer."""
        stdio, terminal = proc.make_stdio()
        proc.started_at = st.rfc3339_nano()
        c = self.container
        sock = proc.fork_helper(helper.exec_job(c.spec_text, c.init.pid, proc.process, stdio, terminal, c.dir), stdio)
        with sock:
            return helper.ask(sock)

    def _exec_failed(self, proc: Proc, reply: dict) -> dict:
        """The exec did not start: record a command that could not run as an exec that ended (126/127)."""
        proc.close_fds()
        if reply.get("type") != "ExecFailed":
            return reply
        c = self.container
        proc.exit_code = int(reply.get("exit_code") or 126)
        proc.error = reply.get("error") or ""
        c.execs[proc.key] = proc
        c.attach_waiting(proc)
        c.finish(proc)
        return reply
