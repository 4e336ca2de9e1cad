"""Exec instances: ``docker exec`` over the exec driver's ``barge_exec_exec``.

An exec instance is created (``POST /containers/{id}/exec``), started once
(``POST /exec/{id}/start``) and inspected (``GET /exec/{id}/json``). Like
moby, instances live in the daemon's memory: they describe processes of
running containers, which a daemon restart does not carry over; the exit
codes are kept until the container is removed (or the oldest of
:data:`LIMIT` go).

Start, attached (:meth:`ExecService.start_attached`, once the API took the
connection over): a connection to the container's monitor naming the exec
id comes *first* (the monitor holds that client until the process exists),
then the driver runs it, so no output is lost; the API proxies the
connection (:class:`ExecStream`), and the exit frame that ends the stream
carries the exit code, recorded before the client's connection is closed.
Start, detached: a watcher thread holds such a connection, without
streams, and records the exit when it comes.
"""

from __future__ import annotations

import collections
import logging
import secrets
import threading
from dataclasses import dataclass, field
from typing import Any

from barge.containers import monitor
from barge.containers.context import ContainerContext
from barge.containers.request import ALL_CAPABILITIES
from barge.containers.spec import capabilities, process_env
from barge.containers.users import read_file_in_root, resolve_user
from barge.contracts.attach import FrameBuffer, exit_code_of, parse_detach_keys
from barge.errors import BargeError, Conflict, InvalidParameter, NotFound
from barge.execdriver import ProcessSpec, Rlimit, User
from barge.hooks import hookimpl
from barge.security.options import parse_security_opt

log = logging.getLogger("barge.exec")

#: Exec instances kept (finished ones of live containers are dropped oldest first beyond it).
LIMIT = 4096
#: How long a resize waits for its exec's process to exist (moby waits 10 s too).
RESIZE_WAIT = 10.0
#: Exit code recorded for an exec whose monitor went without telling its exit (the container died).
KILLED_WITH_CONTAINER = 137


@dataclass
class ExecInstance:
    id: str
    container_id: str
    cmd: list[str]
    env: list[str]
    user: str
    working_dir: str
    tty: bool
    attach_stdin: bool
    attach_stdout: bool
    attach_stderr: bool
    privileged: bool
    detach_keys: str
    console_size: list[int] | None
    running: bool = False
    #: set once ``start`` claimed it (an instance starts once)
    claimed: bool = False
    exit_code: int | None = None
    pid: int = 0
    error: str = ""
    started: threading.Event = field(default_factory=threading.Event)

    def view(self) -> dict[str, Any]:
        """Docker's ``GET /exec/{id}/json``."""
        return {
            "CanRemove": False,
            "ContainerID": self.container_id,
            "DetachKeys": self.detach_keys,
            "ExitCode": self.exit_code,
            "ID": self.id,
            "OpenStderr": self.attach_stderr,
            "OpenStdin": self.attach_stdin,
            "OpenStdout": self.attach_stdout,
            "ProcessConfig": {
                "arguments": self.cmd[1:],
                "entrypoint": self.cmd[0] if self.cmd else "",
                "privileged": self.privileged,
                "tty": self.tty,
                **({"user": self.user} if self.user else {}),  # moby: ``user,omitempty``
            },
            "Running": self.running,
            "Pid": self.pid,
        }


def _console(size: list[int] | None) -> list[int] | None:
    """A decoded ``ConsoleSize`` ([height, width], Go's ``[2]uint``); a zero in it means no size."""
    return list(size) if size and size[0] and size[1] else None


@dataclass
class PreparedStart:
    """An attached start checked and claimed (:class:`barge.contracts.exec.PreparedExec`): the
    instance, its container and the process to run once the API took the connection over."""

    instance: ExecInstance
    container: Any
    state_dir: str
    process: ProcessSpec

    @property
    def tty(self) -> bool:
        return self.instance.tty

    @property
    def stdin(self) -> bool:
        return self.instance.attach_stdin

    @property
    def stdout(self) -> bool:
        return self.instance.attach_stdout

    @property
    def stderr(self) -> bool:
        return self.instance.attach_stderr

    @property
    def detach_keys(self) -> str:
        return self.instance.detach_keys

    def release(self) -> None:
        """The start did not happen: the instance may be started again."""
        self.instance.claimed = False


@dataclass
class ExecStream:
    """An attached start running (:class:`barge.contracts.exec.ExecSession`): a monitor socket
    streaming the process; ``error`` is Docker's message when the command could not be run (its
    exit code, 126 or 127, is recorded already; the socket then only carries the exit)."""

    service: "ExecService"
    instance: ExecInstance
    sock: Any
    error: str = ""

    def finished(self, exit_code: int) -> None:
        """The exit frame came: record it (before the client sees EOF)."""
        self.service.finished(self.instance, exit_code)

    def follow(self) -> None:
        """The client left early: record the exit when it comes."""
        self.service.follow(self.instance)

    def detached(self) -> None:
        """The client detached (moby's ``exec_detach``); the process runs on."""
        c = self.service.ctx.store.get(self.instance.container_id)
        if c is not None:
            self.service._event("exec_detach", c, execID=self.instance.id)
        self.service.follow(self.instance)


def _event_command(cmd: list[str]) -> str:
    """The command in an ``exec_create``/``exec_start`` action: moby's ``entrypoint + " " + args``
    (``ls`` alone is ``"ls "``)."""
    return cmd[0] + " " + " ".join(cmd[1:])


class ExecService:
    def __init__(self, ctx: ContainerContext):
        self.ctx = ctx
        self.pm = ctx.pm
        self._lock = threading.Lock()
        self._execs: collections.OrderedDict[str, ExecInstance] = collections.OrderedDict()

    # -- lookups --------------------------------------------------------------

    def get(self, exec_id: str) -> ExecInstance:
        with self._lock:
            inst = self._execs.get(exec_id)
        if inst is None:
            raise NotFound(f"No such exec instance: {exec_id}")
        return inst

    def ids_for(self, container_id: str) -> list[str]:
        """ExecIDs of container inspect: instances not finished (moby drops finished ones there)."""
        with self._lock:
            return [i.id for i in self._execs.values() if i.container_id == container_id and i.exit_code is None]

    def _event(self, action: str, c, **attrs: Any) -> None:
        self.ctx.event(action, c, **attrs)  # an extension plugin's failure is logged, never raised

    @staticmethod
    def _running(c) -> None:
        if not c.state.Running:
            raise Conflict(f"Container {c.id} is not running")
        if c.state.Paused:
            raise Conflict(f"Container {c.id} is paused, unpause the container before exec")
        if c.state.Restarting:
            raise Conflict(f"container {c.id} is restarting, wait until the container is running")

    # -- create -----------------------------------------------------------------

    def create(self, ref: str, body: dict[str, Any]) -> dict[str, str]:
        """``POST /containers/{id}/exec`` (``body`` decoded): 404 no container, 409 not running, 400 bad config."""
        c = self.ctx.get(ref)
        cmd = body.get("Cmd", [])
        if not cmd:
            raise InvalidParameter("No exec command specified")
        env = body.get("Env", [])
        for entry in env:
            if not entry or entry.startswith("="):
                raise InvalidParameter(f"invalid environment variable: {entry}")
        keys = body.get("DetachKeys") or ""
        if keys:
            try:
                parse_detach_keys(keys)
            except InvalidParameter:  # exec's own wording; dockerd answers it with a 500, barge with a 400
                raise InvalidParameter(f"Invalid escape keys ({keys}) provided") from None
        self.ctx.require_driver()
        self._running(c)
        inst = ExecInstance(
            id=secrets.token_hex(32), container_id=c.id, cmd=cmd, env=env, user=body.get("User", ""),
            working_dir=body.get("WorkingDir", ""), tty=body.get("Tty", False),
            attach_stdin=body.get("AttachStdin", False), attach_stdout=body.get("AttachStdout", False),
            attach_stderr=body.get("AttachStderr", False), privileged=body.get("Privileged", False),
            detach_keys=keys, console_size=_console(body.get("ConsoleSize")),
        )
        with self._lock:
            self._execs[inst.id] = inst
            self._trim()
        self._event("exec_create: " + _event_command(cmd), c, execID=inst.id)
        return {"Id": inst.id}

    def _trim(self) -> None:
        """Inside the lock: forget the oldest finished instances beyond LIMIT."""
        excess = len(self._execs) - LIMIT
        if excess <= 0:
            return
        for key in [k for k, v in self._execs.items() if v.exit_code is not None][:excess]:
            del self._execs[key]

    # -- start --------------------------------------------------------------------

    def prepare(self, exec_id: str, *, detach: bool, console_size=None) -> PreparedStart:
        """Claim the instance (it starts once) and build its process; errors before any stream."""
        inst = self.get(exec_id)
        c = self.ctx.get(inst.container_id)
        with self._lock:
            if inst.running:
                raise Conflict(f"Error: Exec command {inst.id} is already running")
            if inst.claimed:
                raise Conflict(f"Error: Exec command {inst.id} has already run")
            inst.claimed = True
        try:
            self._running(c)
            size = _console(console_size) or inst.console_size
            process = self._process(inst, c, detach, size)
        except BaseException:
            inst.claimed = False
            raise
        return PreparedStart(inst, c, self.ctx.state_dir(c), process)

    def _process(self, inst: ExecInstance, c, detach: bool, size: list[int] | None) -> ProcessSpec:
        root = f"/proc/{c.state.Pid}/root"
        try:
            passwd = read_file_in_root(root, "/etc/passwd")
            group = read_file_in_root(root, "/etc/group")
        except OSError as exc:
            raise Conflict(f"container {c.id} is not running: {exc.strerror}") from None
        user = resolve_user(inst.user or c.config.get("User") or "", passwd, group, c.host_config.get("GroupAdd"))
        config = dict(c.config)
        config["Tty"] = inst.tty
        config["Env"] = list(c.config.get("Env") or []) + inst.env
        if inst.privileged:
            caps = list(ALL_CAPABILITIES[: self.ctx.cap_last + 1])
        else:
            caps = capabilities(c.host_config, self.ctx.cap_last)
        return ProcessSpec(
            args=list(inst.cmd),
            env=process_env(config, user.home),
            cwd=inst.working_dir or c.config.get("WorkingDir") or "/",
            user=User(uid=user.uid, gid=user.gid, additional_gids=list(user.sgids)),
            terminal=inst.tty,
            console_height=size[0] if size else 0,
            console_width=size[1] if size else 0,
            stdin=inst.attach_stdin and not detach,
            stdin_once=True,  # the client's EOF closes the process's stdin (moby's CloseStdin)
            capabilities=caps,
            no_new_privileges=parse_security_opt(c.host_config.get("SecurityOpt")).no_new_privileges,
            rlimits=[Rlimit("RLIMIT_" + u["Name"].upper(), int(u.get("Soft", 0)), int(u.get("Hard", 0)))
                     for u in c.host_config.get("Ulimits") or []],
        )

    def start_attached(self, p: PreparedStart) -> ExecStream:
        """After the API took the connection over: connect to the monitor first (it holds us until
        the process exists, so no output is lost), then run the process."""
        inst = p.instance
        try:
            sock = self.connect(inst, p.state_dir, stdin=inst.attach_stdin, stdout=inst.attach_stdout,
                                stderr=inst.attach_stderr)
        except BaseException:
            inst.claimed = False
            raise
        try:
            self.launch(inst, p.container, p.state_dir, p.process)
        except BargeError as exc:
            if getattr(exc, "exit_code", None) is None:
                sock.close()
                raise
            return ExecStream(self, inst, sock, str(exc))
        except BaseException:
            sock.close()
            raise
        return ExecStream(self, inst, sock)

    def start_detached(self, p: PreparedStart) -> None:
        """A watcher connection (no streams) first, then the process; the watcher records the exit."""
        inst = p.instance
        try:
            sock = self.connect(inst, p.state_dir, stdin=False, stdout=False, stderr=False)
        except BaseException:
            inst.claimed = False
            raise
        try:
            self.launch(inst, p.container, p.state_dir, p.process)
        except BaseException:
            sock.close()
            raise
        self.watch(inst, sock)

    def connect(self, inst: ExecInstance, state_dir: str, *, stdin: bool, stdout: bool, stderr: bool):
        """A monitor connection waiting for the exec's process (attach before it runs)."""
        return monitor.connect(state_dir, stdin=stdin, stdout=stdout, stderr=stderr, exec_id=inst.id,
                               detach_keys=None)

    def launch(self, inst: ExecInstance, c, state_dir: str, process: ProcessSpec) -> int:
        """Run the process; an exec that cannot run records its exit code (126/127) and raises."""
        try:
            pid = self.pm.hook.barge_exec_exec(container_id=c.id, state_dir=state_dir, exec_id=inst.id,
                                               process=process)
        except BargeError as exc:
            code = getattr(exc, "exit_code", None)
            if code is not None:  # the command could not be run: Docker's 126/127 and message, runc's words around it
                exc.args = (f"OCI runtime exec failed: exec failed: unable to start container process: {exc}: unknown",)
                inst.error = str(exc)
                inst.pid = 0
                inst.started.set()
                self._event("exec_start: " + _event_command(inst.cmd), c, execID=inst.id)
                self.finished(inst, int(code))
            else:
                inst.claimed = False
                inst.started.set()
            raise
        inst.pid = int(pid or 0)
        inst.running = True
        inst.started.set()
        self._event("exec_start: " + _event_command(inst.cmd), c, execID=inst.id)
        return inst.pid

    def finished(self, inst: ExecInstance, exit_code: int) -> None:
        """Record the exit (once) and emit ``exec_die``."""
        with self._lock:
            if inst.exit_code is not None:
                return
            inst.exit_code = int(exit_code)
            inst.running = False
        c = self.ctx.store.get(inst.container_id)
        if c is not None:
            self._event("exec_die", c, execID=inst.id, exitCode=str(inst.exit_code))

    def watch(self, inst: ExecInstance, sock) -> None:
        """Follow ``sock`` (a stream-less monitor connection) to the exit frame in a thread, then record it."""
        t = threading.Thread(target=self._watcher, args=(inst, sock), name=f"exec-watch-{inst.id[:12]}",
                             daemon=True)
        t.start()

    def _watcher(self, inst: ExecInstance, sock) -> None:
        code = None
        try:
            code = read_exit(sock)
        except OSError:
            pass
        finally:
            sock.close()
        if code is None:  # the monitor went without an exit frame: the container died under it
            code = self._driver_exit(inst)
        self.finished(inst, KILLED_WITH_CONTAINER if code is None else code)

    def _driver_exit(self, inst: ExecInstance) -> int | None:
        try:
            es = self.pm.hook.barge_exec_exec_state(container_id=inst.container_id,
                                                    state_dir=self.ctx.state_dir(inst.container_id),
                                                    exec_id=inst.id)
        except BargeError:
            return None
        if es is not None and es.status == "stopped" and es.exit_code is not None:
            return int(es.exit_code)
        return None

    def follow(self, inst: ExecInstance) -> None:
        """After an attached client left early: record the exit when it comes."""
        if inst.exit_code is not None or not inst.running:
            return
        try:
            sock = monitor.connect(self.ctx.state_dir(inst.container_id), stdin=False, stdout=False,
                                   stderr=False, exec_id=inst.id)
        except BargeError:
            code = self._driver_exit(inst)
            self.finished(inst, KILLED_WITH_CONTAINER if code is None else code)
            return
        self.watch(inst, sock)

    # -- inspect, resize --------------------------------------------------------

    def inspect(self, exec_id: str) -> dict[str, Any]:
        inst = self.get(exec_id)
        if inst.running and inst.exit_code is None:
            code = self._driver_exit(inst)
            if code is not None:
                self.finished(inst, code)
        return inst.view()

    def resize(self, exec_id: str, height: int, width: int) -> None:
        inst = self.get(exec_id)
        if not inst.started.wait(RESIZE_WAIT if inst.claimed else 0):
            raise Conflict("timeout waiting for exec session ready")  # dockerd's words, after its wait
        if not inst.running:
            raise Conflict(f"exec {exec_id} is not running")
        if not inst.tty:
            return  # nothing to size: moby ignores it too
        monitor.resize(self.ctx.state_dir(inst.container_id), height, width, exec_id=inst.id)

    # -- container lifecycle --------------------------------------------------------

    @hookimpl
    def barge_container_event(self, action: str, container_id: str, attributes: dict) -> None:
        if action == "destroy":
            with self._lock:
                for key in [k for k, v in self._execs.items() if v.container_id == container_id]:
                    del self._execs[key]


def read_exit(sock) -> int | None:
    """Read monitor frames until the exit frame; its exit code (None if the connection ended first)."""
    frames = FrameBuffer()
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        for stream, payload in frames.feed(chunk):
            if stream == monitor.EXITED:
                return exit_code_of(payload)
