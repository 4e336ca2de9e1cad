"""The container as its monitor sees it: its processes, their exits, and the files that record them.

The monitor is the parent (a subreaper) of the init and of every exec'd
process. When one exits, its output is drained (up to :data:`DRAIN_GRACE`),
then its end is recorded: ``exit.json`` for the init, ``exec-<id>.json``
for an exec, and an exit frame to each attached client. After the init's
end, clients get :data:`CLIENT_GRACE` to read what is left.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import time
from collections.abc import Iterator

from barge_exec_native import state as st
from barge_exec_native.libcontainer import Cgroup
from barge_exec_native.monitor.client import Client
from barge_exec_native.monitor.proc import Proc

#: After a process exited, how long its output may take to reach EOF.
DRAIN_GRACE = 1.0
#: After the init's exit was recorded, how long attached clients get to read.
CLIENT_GRACE = 2.0


def _exit_code(status: int) -> int:
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


class Container:
    """The state dir, the spec, the init and the exec'd processes, and the ends of each."""

    __slots__ = ("dir", "spec_text", "spec", "init", "init_helper", "execs", "by_pid", "pending", "start_error",
                 "created_at", "end_deadline")

    def __init__(self, state_dir: str):
        self.dir = state_dir
        self.spec_text = st.read_bytes(self.path(st.SPEC)).decode()
        self.spec: dict = json.loads(self.spec_text)  # plain data: the helpers build the dataclasses
        self.init: Proc | None = None
        self.init_helper: socket.socket | None = None  # the set-up helper, until start
        self.execs: dict[str, Proc] = {}
        self.by_pid: dict[int, Proc] = {}
        self.pending: dict[str, list[Client]] = {}  # attach waiting for an exec id
        self.start_error: dict | None = None
        self.created_at = ""
        self.end_deadline = 0.0

    def path(self, name: str) -> str:
        return os.path.join(self.dir, name)

    def cgroup(self) -> Cgroup:
        """The container's cgroup, made only when needed: every object the
        monitor touches costs it a private page for the container's life."""
        return Cgroup(self.spec["cgroup_path"])

    def close_helper(self) -> None:
        """Let the init's set-up helper go (it exits; an init still waiting for start follows)."""
        if self.init_helper is not None:
            self.init_helper.close()
            self.init_helper = None

    # -- processes ------------------------------------------------------------

    def procs(self) -> Iterator[Proc]:
        if self.init is not None:
            yield self.init
        yield from self.execs.values()

    def find(self, exec_id: str | None) -> Proc | None:
        """The init (``exec_id`` None) or a started exec."""
        return self.init if exec_id is None else self.execs.get(exec_id)

    def wait_for_exec(self, exec_id: str, client: Client) -> None:
        """Attach ``client`` to the exec once it starts."""
        client.waiting = self.pending.setdefault(exec_id, [])
        client.waiting.append(client)

    def attach_waiting(self, proc: Proc) -> None:
        """Attach the clients that waited for ``proc`` to start."""
        for client in self.pending.pop(proc.key, []):
            proc.attach(client)
            client.update()

    def clients(self) -> list[Client]:
        """Every attached and waiting client."""
        attached = [client for proc in self.procs() for client in proc.clients]
        return attached + [client for waiting in self.pending.values() for client in waiting]

    # -- exits ----------------------------------------------------------------

    def reap(self) -> None:
        """Collect every exited child; record the ones that are the container's processes."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            proc = self.by_pid.pop(pid, None)
            if proc is not None:
                self._exited(proc, _exit_code(status))

    def _exited(self, proc: Proc, code: int) -> None:
        proc.exit_code = code
        proc.drain_deadline = time.monotonic() + DRAIN_GRACE
        pid_ns = (self.spec.get("namespaces") or {}).get("pid", "new")
        if proc.key is None and pid_ns != "new":
            # Without a pid namespace nothing ends the rest of the container: do it.
            try:
                self.cgroup().kill_all(signal.SIGKILL)
            except Exception:  # noqa: BLE001 - best effort: the exit is recorded whatever the cgroup says
                pass
        proc.drain()  # read what is there now; EOF may finish it
        if not proc.outputs:
            self.finish(proc)

    def finish(self, proc: Proc) -> None:
        """The process exited and its output is drained: record it, tell clients."""
        if proc.finished:
            return
        proc.finished = True
        proc.release()
        now = st.rfc3339_nano()
        code = proc.exit_code if proc.exit_code is not None else 255
        if proc.key is None:
            code = self._record_init_exit(proc, code, now)
        else:
            self.write_exec(proc, "stopped", finished_at=now, exit_code=code, error=proc.error)
        proc.announce_exit(code)

    def _record_init_exit(self, init: Proc, code: int, now: str) -> int:
        """Write exit.json (with the start error, if the start failed); return the exit code to report."""
        self.close_helper()
        if init.log is not None:
            init.log.close()
        error = ""
        if self.start_error is not None:
            code = int(self.start_error.get("exit_code") or code)
            error = self.start_error.get("error") or ""
        oom = False
        try:
            oom = bool(self.cgroup().oom_killed())
        except Exception:  # noqa: BLE001 - best effort: exit.json is written whatever the cgroup says
            pass
        init.exit_code = code
        st.write_json(self.path(st.EXIT), {
            "exit_code": code, "oom_killed": oom, "finished_at": now, "error": error,
            "started_at": init.started_at, "pid": init.pid,
        })
        self.end_deadline = time.monotonic() + CLIENT_GRACE
        return code

    def finish_overdue(self) -> None:
        """Finish the exited processes whose output did not reach EOF in time."""
        now = time.monotonic()
        for proc in list(self.procs()):
            if proc.exit_code is not None and not proc.finished and now >= proc.drain_deadline:
                self.finish(proc)

    def timeout(self) -> float | None:
        """Seconds until the next drain or end deadline; None when there is none."""
        deadlines = [p.drain_deadline for p in self.procs() if p.exit_code is not None and not p.finished]
        if self.end_deadline:
            deadlines.append(self.end_deadline)
        if not deadlines:
            return None
        return max(0.0, min(deadlines) - time.monotonic())

    def done(self) -> bool:
        """The init's end is recorded and every client had its exit frame (or its grace ran out)."""
        if self.init is None or not self.init.finished:
            return False
        if time.monotonic() >= self.end_deadline:
            return True
        return all(p.finished and not p.clients for p in self.procs())

    # -- state files ----------------------------------------------------------

    def write_state(self, status: str) -> None:
        init = self.init
        st.write_json(self.path(st.STATE), {
            "status": status, "pid": init.pid, "pid_start": init.pid_start,
            "created_at": self.created_at, "started_at": init.started_at,
        })

    def write_exec(self, proc: Proc, status: str, **extra) -> None:
        data = {"status": status, "pid": proc.pid, "pid_start": proc.pid_start,
                "started_at": proc.started_at, "exit_code": None, "finished_at": ""}
        data.update(extra)
        st.write_json(self.path(st.exec_file(proc.key)), data)
