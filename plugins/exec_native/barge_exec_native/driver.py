"""The ``native`` exec driver: containers under one small monitor each.

The driver holds no state of its own: everything it answers comes from the
container's state dir (files written by the monitor, see
:mod:`barge_exec_native.state`), from the monitor's attach socket, or from
the container's cgroup. So a new driver instance, after a daemon restart,
knows every container the old one started.
"""

from __future__ import annotations

import dataclasses
import os
import select
import shutil
import signal as signals
import socket
import threading
import time
from pathlib import Path
from typing import Any, Mapping

from barge import errors
from barge.execdriver import ContainerSpec, ExecState, ProcessSpec, Resources, spec_from_json, to_json
from barge.execdriver.base import ExecDriver
from barge_exec_native import state as st
from barge_exec_native.attach import EXIT, AttachClient, ProtocolError
from barge_exec_native.spawn_client import SpawnerClient, SpawnError

#: How long create waits for the monitor to report "created".
CREATE_TIMEOUT = 60.0
#: How long delete waits for a monitor to end after its container was killed.
MONITOR_END_TIMEOUT = 10.0


class StartFailed(errors.InvalidParameter):
    """The container's command could not be run; ``exit_code`` is 127 or 126.

    The message holds Docker's text (``exec: "x": executable file not found
    in $PATH``, ``permission denied``), which core maps to the exit code.
    """

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code


def _error(kind: str | None, message: str) -> errors.BargeError:
    """The BargeError a monitor's answer ``{"type": kind, "error": message}`` stands for."""
    simple = {
        "InvalidParameter": errors.InvalidParameter, "NotFound": errors.NotFound,
        "Conflict": errors.Conflict, "Forbidden": errors.Forbidden, "Unavailable": errors.Unavailable,
    }
    if kind in simple:
        return simple[kind](message)
    from barge_exec_native.libcontainer import ContainerError

    return ContainerError(message)


def _check_supported() -> None:
    if os.geteuid() != 0:
        raise errors.DriverNotSupported("native", "needs root (namespaces, mounts and cgroups)")
    try:
        with open("/proc/self/status") as f:
            cap_eff = next(int(line.split()[1], 16) for line in f if line.startswith("CapEff:"))
    except (OSError, StopIteration, ValueError):
        cap_eff = 0
    if not cap_eff & (1 << 21):
        raise errors.DriverNotSupported("native", "CAP_SYS_ADMIN is missing")
    for kind in ("mnt", "pid", "net", "ipc", "uts"):
        if not os.path.exists(f"/proc/self/ns/{kind}"):
            raise errors.DriverNotSupported("native", f"kernel without {kind} namespaces")
        limit = f"/proc/sys/user/max_{kind}_namespaces"
        try:
            with open(limit) as f:
                if int(f.read()) == 0:
                    raise errors.DriverNotSupported("native", f"{kind} namespaces are disabled ({limit} is 0)")
        except (OSError, ValueError):
            pass
    if not hasattr(os, "pidfd_open"):
        raise errors.DriverNotSupported("native", "pidfd_open is missing (Linux 5.3 or later needed)")
    from barge_exec_native.libcontainer import Cgroup, ContainerError

    try:
        Cgroup.layout()
    except ContainerError as exc:
        raise errors.DriverNotSupported("native", str(exc)) from None


class FilterCache:
    """Compiled seccomp programs by filter: libseccomp takes ~15 ms for
    Docker's default profile, and nearly every container has that one."""

    SIZE = 32

    def __init__(self) -> None:
        self._programs: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def program(self, seccomp) -> bytes:
        from barge_exec_native.libcontainer import seccomp as compiler

        key = repr(seccomp)  # the dataclasses' repr names every field: a tenth of the cost of asdict + dumps
        with self._lock:
            program = self._programs.pop(key, None)
            if program is None:
                program = compiler.compile_filter(seccomp)
            self._programs[key] = program  # most recent last
            while len(self._programs) > self.SIZE:
                del self._programs[next(iter(self._programs))]
            return program


class NativeDriver(ExecDriver):
    name = "native"
    options_schema = {}

    def __init__(self, home: Path, options: Mapping[str, Any] | None = None):
        super().__init__(home, options)
        _check_supported()
        self._spawner = SpawnerClient()
        self._filters = FilterCache()

    # -- helpers ----------------------------------------------------------------------------

    @staticmethod
    def _p(state_dir: str, name: str) -> str:
        return os.path.join(state_dir, name)

    def _spec(self, state_dir: str) -> ContainerSpec | None:
        try:
            with open(self._p(state_dir, st.SPEC)) as f:
                return spec_from_json(f.read())
        except FileNotFoundError:
            return None

    def _cgroup(self, container_id: str, state_dir: str):
        from barge_exec_native.libcontainer import Cgroup

        spec = self._spec(state_dir)
        if spec is None:
            raise errors.NotFound(f"No such container: {container_id}")
        return Cgroup(spec.cgroup_path)

    def _monitor_pidfd(self, state_dir: str) -> int | None:
        rec = st.read_pidfile(self._p(state_dir, st.MONITOR_PID))
        return st.open_pidfd(*rec) if rec else None

    def _monitor_alive(self, state_dir: str) -> bool:
        fd = self._monitor_pidfd(state_dir)
        if fd is None:
            return False
        os.close(fd)
        return True

    def _control(self, container_id: str, state_dir: str, message: dict, timeout: float = 30.0) -> dict:
        try:
            with AttachClient(self._p(state_dir, st.ATTACH_SOCK), message, timeout) as client:
                return client.reply
        except (FileNotFoundError, ConnectionError, ProtocolError):
            raise errors.Conflict(f"container {container_id} is not running") from None

    def _clean_dir(self, state_dir: str) -> None:
        """Remove what a previous monitor left (a re-created container reuses its dir)."""
        for name in st.MONITOR_FILES:
            st.remove_quietly(self._p(state_dir, name))
        for name in os.listdir(state_dir):
            if name.startswith(st.EXEC_PREFIX) and name.endswith(".json"):
                st.remove_quietly(self._p(state_dir, name))

    # -- life cycle -------------------------------------------------------------------------

    def create(self, spec: ContainerSpec, state_dir: str) -> int:
        made_dir = not os.path.isdir(state_dir)
        os.makedirs(state_dir, mode=0o700, exist_ok=True)
        if self._monitor_alive(state_dir):
            raise errors.Conflict(f"container {spec.id} already has a running monitor")
        self._clean_dir(state_dir)
        try:
            self._write_spec(spec, state_dir)
        except BaseException:
            self._undo_create(spec, state_dir, made_dir)
            raise
        try:
            report = self._spawner.spawn(state_dir, CREATE_TIMEOUT)
        except SpawnError as exc:
            self._undo_create(spec, state_dir, made_dir)
            raise errors.BargeError(str(exc)) from None
        except BaseException:
            self._undo_create(spec, state_dir, made_dir)
            raise
        if not report.get("ok"):
            self._undo_create(spec, state_dir, made_dir)
            raise _error(report.get("type"), report.get("error") or "container set-up failed")
        return int(report["pid"])

    def _write_spec(self, spec: ContainerSpec, state_dir: str) -> None:
        """spec.json, and the seccomp filter compiled into seccomp.bpf.

        The rules stay out of spec.json: the monitor keeps the spec in memory
        for the container's life, and the compiled program is what its
        helpers need.
        """
        if spec.seccomp is not None:
            st.write_atomic(self._p(state_dir, st.SECCOMP), self._filters.program(spec.seccomp))
            spec = dataclasses.replace(spec, seccomp=dataclasses.replace(spec.seccomp, syscalls=[]))
        else:
            st.remove_quietly(self._p(state_dir, st.SECCOMP))
        st.write_atomic(self._p(state_dir, st.SPEC), to_json(spec))

    def _undo_create(self, spec: ContainerSpec, state_dir: str, made_dir: bool) -> None:
        """A failed create leaves no process, no cgroup and none of its files."""
        from barge_exec_native.libcontainer import Cgroup, ContainerError

        fd = self._monitor_pidfd(state_dir)
        if fd is not None:  # it did not report in time: end it
            try:
                signals.pidfd_send_signal(fd, signals.SIGKILL)
            except ProcessLookupError:
                pass
            select.select([fd], [], [], 5.0)
            os.close(fd)
        try:
            Cgroup(spec.cgroup_path).destroy()
        except ContainerError:
            pass
        self._clean_dir(state_dir)
        st.remove_quietly(self._p(state_dir, st.SPEC))
        st.remove_quietly(self._p(state_dir, st.SECCOMP))
        if made_dir:
            try:
                os.rmdir(state_dir)
            except OSError:
                pass

    def start(self, container_id: str, state_dir: str) -> None:
        reply = self._control(container_id, state_dir, {"control": "start"})
        if reply.get("ok"):
            return
        message = reply.get("error") or "start failed"
        if reply.get("type") == "ExecFailed":
            raise StartFailed(message, int(reply.get("exit_code") or 126))
        raise _error(reply.get("type"), message)

    def state(self, container_id: str, state_dir: str) -> ExecState:
        ex = st.read_json(self._p(state_dir, st.EXIT))
        rec = st.read_json(self._p(state_dir, st.STATE)) or {}
        if ex is not None:
            return ExecState(
                status="stopped", pid=0, exit_code=ex.get("exit_code"), oom_killed=bool(ex.get("oom_killed")),
                started_at=ex.get("started_at") or rec.get("started_at") or "",
                finished_at=ex.get("finished_at") or "", error=ex.get("error") or "",
            )
        if not rec:
            if self._monitor_alive(state_dir):  # still setting up
                return ExecState(status="created")
            return ExecState(status="unknown")
        pid, started = int(rec.get("pid") or 0), rec.get("started_at") or ""
        if self._monitor_alive(state_dir):
            status = rec.get("status", "unknown")
        elif st.alive(pid, int(rec.get("pid_start") or 0)):
            status = rec.get("status", "unknown")  # orphaned by a dead monitor, still running
        else:
            # The monitor died before it could record the exit (killed); the exit is lost.
            if st.read_json(self._p(state_dir, st.EXIT)) is not None:
                return self.state(container_id, state_dir)
            return ExecState(status="stopped", exit_code=255, started_at=started,
                             error="container monitor died; exit status lost")
        if status == "running":
            try:
                if self._cgroup(container_id, state_dir).frozen():
                    status = "paused"
            except errors.BargeError:
                pass
        return ExecState(status=status, pid=pid, started_at=started)

    def wait(self, container_id: str, state_dir: str, timeout: float | None) -> ExecState | None:
        deadline = None if timeout is None else time.monotonic() + timeout

        def left() -> float | None:
            return None if deadline is None else max(0.0, deadline - time.monotonic())

        while True:
            current = self.state(container_id, state_dir)
            if current.status in ("stopped", "unknown"):
                return current
            if deadline is not None and time.monotonic() >= deadline:
                return None
            if not self._wait_monitor(state_dir, left()):
                self._end_orphan(state_dir)

    def _wait_monitor(self, state_dir: str, timeout: float | None) -> bool:
        """Follow the monitor's attach stream up to the exit frame; False without a monitor."""
        try:
            client = AttachClient(self._p(state_dir, st.ATTACH_SOCK),
                                  {"stdin": False, "stdout": False, "stderr": False}, timeout=timeout)
        except (FileNotFoundError, ConnectionError, ProtocolError):
            fd = self._monitor_pidfd(state_dir)
            if fd is None:
                return False
            try:  # monitor still setting up or shutting down: wait a little and look again
                select.select([fd], [], [], 0.05 if timeout is None else min(timeout, 0.05))
            finally:
                os.close(fd)
            return True
        except (socket.timeout, TimeoutError):
            return True
        try:
            client.settimeout(timeout)
            while True:
                got = client.read_frame()
                if got is None or got[0] == EXIT:
                    return True
        except (socket.timeout, TimeoutError, ProtocolError, OSError):
            return True
        finally:
            client.close()

    def _end_orphan(self, state_dir: str) -> None:
        """The monitor died (killed) and left the init running: with no one to keep its log, serve
        attach and exec or record its exit, the container cannot go on. Its init is killed, so that
        its exit is recorded (status lost, with the error saying why) and its restart policy applies."""
        rec = st.read_json(self._p(state_dir, st.STATE)) or {}
        fd = st.open_pidfd(int(rec.get("pid") or 0), int(rec.get("pid_start") or 0))
        if fd is None:
            return
        try:
            signals.pidfd_send_signal(fd, signals.SIGKILL)
            select.select([fd], [], [], MONITOR_END_TIMEOUT)
        except ProcessLookupError:
            pass
        finally:
            os.close(fd)

    def kill(self, container_id: str, state_dir: str, signal: int) -> None:
        current = self.state(container_id, state_dir)
        if current.status not in ("running", "paused"):
            raise errors.Conflict(f"Container {container_id} is not running")
        rec = st.read_json(self._p(state_dir, st.STATE)) or {}
        fd = st.open_pidfd(int(rec.get("pid") or 0), int(rec.get("pid_start") or 0))
        if fd is None:
            raise errors.Conflict(f"Container {container_id} is not running")
        try:
            signals.pidfd_send_signal(fd, signal)
        except ProcessLookupError:
            raise errors.Conflict(f"Container {container_id} is not running") from None
        except OSError as exc:
            raise errors.InvalidParameter(f"kill {container_id} with signal {signal}: {exc.strerror}") from None
        finally:
            os.close(fd)

    def pause(self, container_id: str, state_dir: str) -> None:
        current = self.state(container_id, state_dir)
        if current.status == "paused":
            raise errors.Conflict(f"Container {container_id} is already paused")
        if current.status != "running":
            raise errors.Conflict(f"Container {container_id} is not running")
        self._cgroup(container_id, state_dir).freeze()

    def resume(self, container_id: str, state_dir: str) -> None:
        if self.state(container_id, state_dir).status != "paused":
            raise errors.Conflict(f"Container {container_id} is not paused")
        self._cgroup(container_id, state_dir).thaw()

    def delete(self, container_id: str, state_dir: str) -> None:
        if not os.path.isdir(state_dir):
            return
        spec = self._spec(state_dir)
        cg = None
        if spec is not None and spec.cgroup_path:
            from barge_exec_native.libcontainer import Cgroup

            cg = Cgroup(spec.cgroup_path)
            if cg.exists():
                cg.kill_all(signals.SIGKILL)  # the init's death ends its monitor
        fd = self._monitor_pidfd(state_dir)
        if fd is not None:
            try:
                if not select.select([fd], [], [], MONITOR_END_TIMEOUT)[0]:
                    signals.pidfd_send_signal(fd, signals.SIGKILL)
                    select.select([fd], [], [], 5.0)
            except ProcessLookupError:
                pass
            finally:
                os.close(fd)
        if cg is not None:
            cg.destroy()
        shutil.rmtree(state_dir, ignore_errors=True)

    def audit(self, container_id: str, state_dir: str, cgroup_path: str, running: bool) -> list:
        from barge.consistency import finding
        from barge_exec_native.libcontainer import Cgroup

        spec = self._spec(state_dir)
        path = spec.cgroup_path if spec is not None and spec.cgroup_path else cgroup_path
        cg = Cgroup(path) if path else None
        if running:
            if cg is not None and not cg.exists():
                return [finding("containers", container_id, f"runs without its cgroup {path}",
                                left="restart the container to give it one again")]
            return []
        out = []
        if self._monitor_alive(state_dir):
            out.append(finding("containers", container_id, "is not running but its monitor still is",
                               remedy="end the monitor and what runs under it",
                               repair=lambda: self._release(container_id, state_dir, cg)))
        elif cg is not None and cg.exists():
            pids = cg.pids()
            out.append(finding("containers", container_id, f"is not running but its cgroup {path} is left"
                               + (f" with {len(pids)} process(es) in it" if pids else ""),
                               remedy="kill what is in it and remove it",
                               repair=lambda: self._release(container_id, state_dir, cg)))
        return out

    def _release(self, container_id: str, state_dir: str, cg) -> str:
        self.delete(container_id, state_dir)
        if cg is not None:
            cg.destroy()  # kills what is left first
        return "ended its processes and removed its cgroup"

    # -- exec -------------------------------------------------------------------------------

    def exec(self, container_id: str, state_dir: str, exec_id: str, process: ProcessSpec) -> int:
        try:
            st.exec_file(exec_id)
        except ValueError as exc:
            raise errors.InvalidParameter(str(exc)) from None
        message = {"control": "exec", "exec_id": exec_id, "process": dataclasses.asdict(process)}
        reply = self._control(container_id, state_dir, message)
        if reply.get("ok"):
            return int(reply["pid"])
        text = reply.get("error") or "exec failed"
        if reply.get("type") == "ExecFailed":
            raise StartFailed(text, int(reply.get("exit_code") or 126))
        raise _error(reply.get("type"), text)

    def exec_state(self, container_id: str, state_dir: str, exec_id: str) -> ExecState:
        try:
            rec = st.read_json(self._p(state_dir, st.exec_file(exec_id)))
        except ValueError:
            rec = None
        if rec is None:
            raise errors.NotFound(f"No such exec instance: {exec_id}")
        common = {"pid": int(rec.get("pid") or 0), "started_at": rec.get("started_at") or ""}
        if rec.get("status") == "stopped":
            return ExecState(status="stopped", exit_code=rec.get("exit_code"), finished_at=rec.get("finished_at") or "",
                             error=rec.get("error") or "", **common)
        if self._monitor_alive(state_dir) or st.alive(common["pid"], int(rec.get("pid_start") or 0)):
            return ExecState(status="running", **common)
        again = st.read_json(self._p(state_dir, st.exec_file(exec_id)))
        if again and again.get("status") == "stopped":
            return self.exec_state(container_id, state_dir, exec_id)
        return ExecState(status="stopped", exit_code=255, error="container monitor died; exit status lost", **common)

    # -- cgroup -----------------------------------------------------------------------------

    def processes(self, container_id: str, state_dir: str) -> list[int]:
        return sorted(self._cgroup(container_id, state_dir).pids())

    def stats(self, container_id: str, state_dir: str) -> dict:
        return self._cgroup(container_id, state_dir).stats()

    def update(self, container_id: str, state_dir: str, resources: Resources) -> None:
        spec = self._spec(state_dir)
        if spec is None:
            raise errors.NotFound(f"No such container: {container_id}")
        self._cgroup(container_id, state_dir).set(resources)
        for f in dataclasses.fields(Resources):
            value = getattr(resources, f.name)
            if value is not None:
                setattr(spec.resources, f.name, value)
        st.write_atomic(self._p(state_dir, st.SPEC), to_json(spec))

    def close(self) -> None:
        """End the spawner (monitors keep running)."""
        self._spawner.close()
