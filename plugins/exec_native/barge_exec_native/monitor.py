"""The per-container monitor: parent of the init, owner of its stdio, attach server.

One process per container (the role of conmon or containerd's shim), forked
by the spawner (:mod:`barge_exec_native.spawner`) and detached from the
daemon: it has its own session and its parent is not the daemon, so a daemon
killed with SIGKILL leaves it running. It is a child subreaper, so the
container's init and exec'd processes, created by short-lived helper
children, become its children.

The heavy set-up (spawn_init, spawn_exec) runs in short-lived helper
children (:mod:`barge_exec_native.helper`), so the memory it touches does not
stay with the monitor for the container's whole life.

One event loop (``epoll``) serves: the output of the init and of every
exec'd process (pipes, or a pty master with a terminal), their stdin, the
attach socket (ATTACH PROTOCOL in :mod:`barge.execdriver`; control messages
``start``, ``state``, ``resize``, ``exec``), SIGCHLD (through a wakeup fd),
and the json-file log. When the init has exited the monitor drains its
output, writes ``exit.json``, sends exit frames to attached clients, closes
them and exits; the state dir stays until the driver's ``delete``.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import json
import os
import select
import signal
import socket
import struct
import sys
import termios
import time

from barge_exec_native import helper
from barge_exec_native import state as st
from barge_exec_native.attach import EXIT, STDERR, STDOUT, frame, unix_address
from barge_exec_native.libcontainer import Cgroup
from barge_exec_native.logfile import JsonLogWriter


def _print_exc() -> None:
    """Print the current exception to stderr (monitor.log); traceback is
    imported only then, so monitors do not all carry it."""
    import traceback

    traceback.print_exc()

#: After a process exited, how long its output may take to reach EOF.
DRAIN_GRACE = 1.0
#: After the init's exit was recorded, how long attached clients get to read.
CLIENT_GRACE = 2.0
#: A client that lets this much output pile up unread is dropped.
MAX_CLIENT_BACKLOG = 8 << 20
READ_SIZE = 65536
#: How long a terminal's master may take to arrive once the helper said ok
#: (it is sent before that, so it is normally queued already).
CONSOLE_TIMEOUT = 5.0
IN, OUT = select.EPOLLIN, select.EPOLLOUT
HUP = select.EPOLLHUP | select.EPOLLERR  # always reported, even with no events asked

PR_SET_NAME = 15
PR_SET_CHILD_SUBREAPER = 36
_prctl = ctypes.CDLL(None, use_errno=True).prctl  # bound once, in the spawner


class SetupFailed(Exception):
    """The container could not be created; ``kind`` names the error class for the driver."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


def _ignore(signum, frame) -> None:
    """Signal handler that only wakes the loop (through the wakeup fd)."""


def _set_nonblocking(fd: int) -> None:
    os.set_blocking(fd, False)


def _exit_code(status: int) -> int:
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


def _set_winsize(fd: int, height: int, width: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))


class Proc:
    """A process whose stdio the monitor owns: the init (key None) or an exec."""

    __slots__ = ("key", "process", "pid", "pid_start", "master", "stdin_fd", "outputs", "stdin_buf",
                 "stdin_closing", "clients", "exit_code", "drain_deadline", "finished", "error", "started_at",
                 "console")

    def __init__(self, key: str | None, process: dict):
        self.key = key
        self.process = process
        self.pid = 0
        self.pid_start = 0
        self.master: int | None = None  # pty master (read output, write stdin)
        self.console: socket.socket | None = None  # where the master arrives from (terminal only)
        self.stdin_fd: int | None = None  # pipe write end or the master
        self.outputs: dict[int, str] = {}  # fd -> "stdout" | "stderr"
        self.stdin_buf = bytearray()
        self.stdin_closing = False
        self.clients: list[Client] = []
        self.exit_code: int | None = None
        self.drain_deadline = 0.0
        self.finished = False
        self.error = ""
        self.started_at = ""

    def fds(self) -> list[int]:
        """The monitor's ends of this process's stdio."""
        fds = list(self.outputs)
        if self.stdin_fd is not None and self.stdin_fd not in fds:
            fds.append(self.stdin_fd)
        return fds

    def close_fds(self) -> None:
        if self.console is not None:
            self.console.close()  # a master still in flight is closed with it
            self.console = None
        for fd in self.fds():
            os.close(fd)
        self.outputs.clear()
        self.stdin_fd = self.master = None
        self.stdin_buf.clear()

    @property
    def stdin_once(self) -> bool:
        return bool(self.process.get("stdin_once"))

    def make_stdio(self) -> tuple[tuple[int, ...], bool]:
        """Create pipes or a console socket; return the child's fds and whether a terminal.

        Without a terminal: (stdin, stdout, stderr). With one: (console
        socket,); the container process opens the pty in its own devpts and
        sends the master back (:meth:`receive_console`), as runc does.
        """
        p = self.process
        if p.get("terminal"):
            self.console, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
            return (theirs.detach(),), True
        if p.get("stdin"):
            stdin_r, self.stdin_fd = os.pipe()
        else:
            stdin_r = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        self.outputs[out_r] = "stdout"
        self.outputs[err_r] = "stderr"
        return (stdin_r, out_w, err_w), False


    def receive_console(self) -> bool:
        """Take the pty master the container process sent; False if none came."""
        sock, self.console = self.console, None
        fds: list[int] = []
        try:
            sock.settimeout(CONSOLE_TIMEOUT)
            fds = socket.recv_fds(sock, 16, 4, socket.MSG_CMSG_CLOEXEC)[1]
        except OSError:
            pass
        finally:
            sock.close()
        for extra in fds[1:]:
            os.close(extra)
        if not fds:
            return False
        self.master = fds[0]
        self.outputs[self.master] = "stdout"
        self.stdin_fd = self.master if self.process.get("stdin") else None
        return True


class Client:
    """One connection on attach.sock."""

    __slots__ = ("sock", "inbuf", "out", "hello", "proc", "stdin", "stdout", "stderr", "closing", "read_open")

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.inbuf = b""
        self.out = bytearray()
        self.hello: dict | None = None
        self.proc: Proc | None = None
        self.stdin = self.stdout = self.stderr = False
        self.closing = False  # close once ``out`` is flushed
        self.read_open = True


class Monitor:
    def __init__(self, state_dir: str):
        self.dir = state_dir
        self.spec_text = st.read_bytes(self._path(st.SPEC)).decode()
        self.spec: dict = json.loads(self.spec_text)  # plain data: the helpers build the dataclasses
        self.ep = select.epoll()
        self.init: Proc | None = None
        self.init_helper: socket.socket | None = None
        self.execs: dict[str, Proc] = {}
        self.by_pid: dict[int, Proc] = {}
        self.pending: dict[str, list[Client]] = {}  # attach waiting for an exec id
        self.listener: socket.socket | None = None
        self.log: JsonLogWriter | None = None
        self.start_error: dict | None = None
        self.log_failed = False
        self.end_deadline = 0.0
        self.created_at = ""
        self._handlers: dict[int, object] = {}  # fd -> callback(epoll mask)

    def _path(self, name: str) -> str:
        return os.path.join(self.dir, name)

    # -- set-up ---------------------------------------------------------------

    def setup(self) -> int:
        """Create the container up to "init waits for start"; return init's pid."""
        st.write_pidfile(self._path(st.MONITOR_PID), os.getpid())
        self._prctl_subreaper()
        self._signals()
        log = self.spec.get("log")
        if log:
            self.log = JsonLogWriter(log["path"], log.get("max_size"), log.get("max_file") or 1)
        init = Proc(None, self.spec["process"])
        stdio, terminal = init.make_stdio()
        try:
            _, self.init_helper = helper.fork_helper(
                helper.init_job(self.spec_text, stdio, terminal, self.dir), list(stdio))
        except BaseException:
            init.close_fds()
            raise
        finally:
            for fd in set(stdio):
                os.close(fd)
        reply = helper.ask(self.init_helper)
        if not reply.get("ok"):
            init.close_fds()
            raise SetupFailed(reply.get("type") or "ContainerError", reply.get("error") or "set-up failed")
        if terminal and not init.receive_console():
            init.close_fds()
            raise SetupFailed("ContainerError", "the container's console (pty master) did not arrive")
        init.pid = int(reply["pid"])
        init.pid_start = st.proc_starttime(init.pid) or 0
        self.init = init
        self.by_pid[init.pid] = init
        self._watch_proc(init)
        self.created_at = st.rfc3339_nano()
        self._write_state("created")
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        sock_path = self._path(st.ATTACH_SOCK)
        st.remove_quietly(sock_path)
        unix_address(self.listener, sock_path, "bind")
        os.chmod(sock_path, 0o600)
        self.listener.listen(64)
        self.listener.setblocking(False)
        self._watch(self.listener.fileno(), IN, self._accept)
        return init.pid

    def _cgroup(self) -> Cgroup:
        """The container's cgroup, made only when needed: every object the
        monitor touches costs it a private page for the container's life."""
        return Cgroup(self.spec["cgroup_path"])

    def _prctl_subreaper(self) -> None:
        if _prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")
        _prctl(PR_SET_NAME, b"barge-monitor", 0, 0, 0)  # what ps -o comm shows

    def _signals(self) -> None:
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        # Only SIGCHLD matters; stray job-control and terminal signals must not
        # end the monitor. Ignoring them is safe for the container: libcontainer
        # resets every disposition and the mask before its execve.
        signal.signal(signal.SIGCHLD, _ignore)
        for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM, signal.SIGQUIT, signal.SIGPIPE):
            signal.signal(sig, signal.SIG_IGN)
        signal.set_wakeup_fd(self._wake_w.fileno(), warn_on_full_buffer=False)
        self._watch(self._wake_r.fileno(), IN, self._on_signal)

    def teardown_failed(self) -> None:
        """Undo a failed set-up: no process, no cgroup, none of our files."""
        if self.init_helper is not None:
            self.init_helper.close()  # the helper exits; a waiting init follows
            self.init_helper = None
        try:
            cg = self._cgroup()
            cg.kill_all(signal.SIGKILL)
            self._reap_all(block_for=2.0)
            cg.destroy()
        except Exception:
            pass
        if self.log is not None:
            self.log.close()
        for name in st.MONITOR_FILES:
            if name != st.MONITOR_LOG:
                st.remove_quietly(self._path(name))

    def _reap_all(self, block_for: float) -> None:
        end = time.monotonic() + block_for
        while time.monotonic() < end:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                time.sleep(0.01)

    # -- selector helpers -----------------------------------------------------

    def _watch(self, fd: int, events: int, callback) -> None:
        """Watch ``fd`` for ``events`` (0: only hang-up and errors)."""
        if fd in self._handlers:
            self.ep.modify(fd, events)
        else:
            self.ep.register(fd, events)
        self._handlers[fd] = callback

    def _unwatch(self, fd: int) -> None:
        if self._handlers.pop(fd, None) is not None:
            self.ep.unregister(fd)

    def _watch_proc(self, proc: Proc) -> None:
        for fd in proc.outputs:
            _set_nonblocking(fd)
            self._watch(fd, IN, lambda mask, p=proc, f=fd: self._proc_event(p, f, mask))
        if proc.stdin_fd is not None and proc.stdin_fd not in proc.outputs:
            _set_nonblocking(proc.stdin_fd)

    def _proc_fd_events(self, proc: Proc, fd: int) -> None:
        """(Re)register ``fd`` of ``proc`` for what it needs now."""
        events = 0
        if fd in proc.outputs:
            events |= IN
        if fd == proc.stdin_fd and (proc.stdin_buf or proc.stdin_closing):
            events |= OUT
        if events:
            self._watch(fd, events, lambda mask, p=proc, f=fd: self._proc_event(p, f, mask))
        else:
            self._unwatch(fd)

    # -- process output and stdin ---------------------------------------------

    def _proc_event(self, proc: Proc, fd: int, mask: int) -> None:
        if mask & (IN | HUP) and fd in proc.outputs:
            self._read_output(proc, fd)
        if mask & (OUT | HUP) and fd == proc.stdin_fd:
            self._flush_stdin(proc)

    def _read_output(self, proc: Proc, fd: int) -> int:
        """Read one chunk: 1 data, 0 nothing yet, -1 EOF (the fd is then closed)."""
        try:
            data = os.read(fd, READ_SIZE)
        except BlockingIOError:
            return 0
        except OSError as exc:
            if exc.errno != errno.EIO:  # EIO: pty slave closed
                raise
            data = b""
        if not data:
            self._close_output(proc, fd)
            return -1
        stream = proc.outputs[fd]
        if proc.key is None and self.log is not None:
            try:
                self.log.write(stream, data)
            except OSError as exc:  # a full disk must not cost the container its monitor
                if not self.log_failed:
                    print(f"monitor: writing the log failed: {exc}", file=sys.stderr, flush=True)
                self.log_failed = True
        number = STDOUT if stream == "stdout" else STDERR
        for client in list(proc.clients):
            if (client.stdout if number == STDOUT else client.stderr) and not client.closing:
                self._send(client, frame(number, data))
        return 1

    def _close_output(self, proc: Proc, fd: int) -> None:
        proc.outputs.pop(fd, None)
        if fd == proc.stdin_fd:  # the pty master: stdin goes with it
            proc.stdin_fd = None
            proc.stdin_buf.clear()
        if fd == proc.master:
            proc.master = None
        self._unwatch(fd)
        os.close(fd)
        if proc.exit_code is not None and not proc.outputs:
            self._finish(proc)

    def _flush_stdin(self, proc: Proc) -> None:
        fd = proc.stdin_fd
        if fd is None:
            return
        try:
            while proc.stdin_buf:
                n = os.write(fd, proc.stdin_buf)
                del proc.stdin_buf[:n]
        except BlockingIOError:
            pass
        except OSError:  # EPIPE, EIO: nobody reads stdin any more
            proc.stdin_buf.clear()
            proc.stdin_closing = True
        if not proc.stdin_buf and proc.stdin_closing:
            self._close_stdin(proc)
            return
        self._proc_fd_events(proc, fd)

    def _close_stdin(self, proc: Proc) -> None:
        fd = proc.stdin_fd
        proc.stdin_closing = False
        if fd is None:
            return
        if fd == proc.master:
            # A terminal has no half-close: send its EOF character, as a user would.
            try:
                os.write(fd, b"\x04")
            except OSError:
                pass
            proc.stdin_fd = None
            self._proc_fd_events(proc, fd)
            return
        proc.stdin_fd = None
        self._unwatch(fd)
        os.close(fd)

    def _stdin_data(self, proc: Proc, data: bytes) -> None:
        if proc.stdin_fd is None or proc.stdin_closing:
            return
        proc.stdin_buf += data
        self._flush_stdin(proc)

    # -- children -------------------------------------------------------------

    def _on_signal(self, mask: int) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except BlockingIOError:
            pass
        self._reap()

    def _reap(self) -> None:
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
                self._cgroup().kill_all(signal.SIGKILL)
            except Exception:
                pass
        for fd in list(proc.outputs):  # read what is there now; EOF may finish it
            while fd in proc.outputs and self._read_output(proc, fd) > 0:
                pass
        if not proc.outputs:
            self._finish(proc)

    def _finish(self, proc: Proc) -> None:
        """The process exited and its output is drained: record it, tell clients."""
        if proc.finished:
            return
        proc.finished = True
        for fd in proc.fds():
            self._unwatch(fd)
        proc.close_fds()
        now = st.rfc3339_nano()
        code = proc.exit_code if proc.exit_code is not None else 255
        if proc.key is None:
            if self.init_helper is not None:
                self.init_helper.close()
                self.init_helper = None
            if self.log is not None:
                self.log.close()
            error = ""
            if self.start_error is not None:
                code = int(self.start_error.get("exit_code") or code)
                error = self.start_error.get("error") or ""
            oom = False
            try:
                oom = bool(self._cgroup().oom_killed())
            except Exception:
                pass
            proc.exit_code = code
            st.write_json(self._path(st.EXIT), {
                "exit_code": code, "oom_killed": oom, "finished_at": now, "error": error,
                "started_at": proc.started_at, "pid": proc.pid,
            })
            self.end_deadline = time.monotonic() + CLIENT_GRACE
        else:
            self._write_exec(proc, "stopped", finished_at=now, exit_code=code, error=proc.error)
        payload = json.dumps({"exit_code": code}).encode()
        for client in list(proc.clients):
            self._send(client, frame(EXIT, payload))
            client.closing = True
            self._client_events(client)

    # -- state files ----------------------------------------------------------

    def _write_state(self, status: str) -> None:
        init = self.init
        st.write_json(self._path(st.STATE), {
            "status": status, "pid": init.pid, "pid_start": init.pid_start,
            "created_at": self.created_at, "started_at": init.started_at,
        })

    def _write_exec(self, proc: Proc, status: str, **extra) -> None:
        data = {"status": status, "pid": proc.pid, "pid_start": proc.pid_start,
                "started_at": proc.started_at, "exit_code": None, "finished_at": ""}
        data.update(extra)
        st.write_json(self._path(st.exec_file(proc.key)), data)

    # -- attach socket --------------------------------------------------------

    def _accept(self, mask: int) -> None:
        while True:
            try:
                sock, _ = self.listener.accept()
            except BlockingIOError:
                return
            sock.setblocking(False)
            client = Client(sock)
            self._watch(sock.fileno(), IN, lambda m, c=client: self._client_event(c, m))

    def _client_events(self, client: Client) -> None:
        fd = client.sock.fileno()
        if fd < 0:
            return
        if client.closing and not client.out:
            self._drop(client)
            return
        events = IN if client.read_open else 0
        if client.out:
            events |= OUT
        # Even with no events asked, epoll reports the client's hang-up.
        self._watch(fd, events, lambda m, c=client: self._client_event(c, m))

    def _client_event(self, client: Client, mask: int) -> None:
        if mask & OUT:
            self._flush_client(client)
        if mask & IN and client.read_open and client.sock.fileno() >= 0:
            try:
                data = client.sock.recv(READ_SIZE)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                self._client_eof(client)
            elif client.hello is None:
                client.inbuf += data
                if b"\n" in client.inbuf:
                    line, rest = client.inbuf.split(b"\n", 1)
                    client.inbuf = b""
                    self._hello(client, line, rest)
                elif len(client.inbuf) > 65536:
                    self._reply(client, {"ok": False, "error": "request line too long"}, close=True)
            elif client.proc is not None and client.stdin:
                self._stdin_data(client.proc, data)
        if mask & HUP and client.sock.fileno() >= 0:  # gone both ways: nobody to write to
            if client.read_open:
                self._client_eof(client)
            self._drop(client)
            return
        if client.sock.fileno() >= 0:
            self._client_events(client)

    def _client_eof(self, client: Client) -> None:
        """The client will send nothing more (half-close, hang-up).

        moby's rule: that closes a ``stdin_once`` process's stdin only when
        it has no terminal. With one (``docker run -it``), the client's EOF
        is a detach or a dropped client, and the shell must live on.
        """
        client.read_open = False
        proc = client.proc
        if (proc is not None and client.stdin and proc.stdin_once and proc.stdin_fd is not None
                and not proc.process.get("terminal")):
            proc.stdin_closing = True
            self._flush_stdin(proc)
        if client.hello is None or client.hello.get("control"):
            client.closing = True

    def _send(self, client: Client, data: bytes) -> None:
        if client.sock.fileno() < 0:
            return
        client.out += data
        if len(client.out) > MAX_CLIENT_BACKLOG:
            self._drop(client)
            return
        self._flush_client(client)
        if client.sock.fileno() >= 0:
            self._client_events(client)

    def _flush_client(self, client: Client) -> None:
        try:
            while client.out:
                n = client.sock.send(client.out)
                del client.out[:n]
        except BlockingIOError:
            return
        except OSError:
            self._drop(client)

    def _drop(self, client: Client) -> None:
        fd = client.sock.fileno()
        if fd >= 0:
            self._unwatch(fd)
        client.sock.close()
        if client.proc is not None and client in client.proc.clients:
            client.proc.clients.remove(client)
        for waiting in self.pending.values():
            if client in waiting:
                waiting.remove(client)

    def _reply(self, client: Client, answer: dict, close: bool = False) -> None:
        self._send(client, json.dumps(answer).encode() + b"\n")
        if close:
            client.closing = True
            client.read_open = False
            if client.sock.fileno() >= 0:
                self._client_events(client)

    def _hello(self, client: Client, line: bytes, rest: bytes) -> None:
        try:
            hello = json.loads(line)
            if not isinstance(hello, dict):
                raise ValueError("not an object")
        except ValueError as exc:
            self._reply(client, {"ok": False, "error": f"bad request: {exc}"}, close=True)
            return
        client.hello = hello
        control = hello.get("control")
        if control:
            try:
                answer = self._control(control, hello)
            except Exception as exc:  # report, never die on a client's request
                answer = {"ok": False, "error": str(exc) or type(exc).__name__, "type": type(exc).__name__}
            self._reply(client, answer, close=True)
            return
        client.stdin = bool(hello.get("stdin"))
        client.stdout = bool(hello.get("stdout"))
        client.stderr = bool(hello.get("stderr"))
        exec_id = hello.get("exec_id")
        if exec_id is None:
            proc = self.init
        else:
            proc = self.execs.get(exec_id)
            if proc is None:
                try:
                    st.exec_file(exec_id)
                except ValueError as exc:
                    self._reply(client, {"ok": False, "error": str(exc)}, close=True)
                    return
                self.pending.setdefault(exec_id, []).append(client)
                self._send(client, b'{"ok": true}\n')
                return
        self._send(client, b'{"ok": true}\n')
        self._attach(client, proc)
        if rest and client.stdin and client.proc is not None:
            self._stdin_data(client.proc, rest)

    def _attach(self, client: Client, proc: Proc) -> None:
        client.proc = proc
        if proc.finished:
            self._send(client, frame(EXIT, json.dumps({"exit_code": proc.exit_code}).encode()))
            client.closing = True
            return
        proc.clients.append(client)
        if not client.read_open and client.stdin and proc.stdin_once:
            self._client_eof(client)

    # -- control messages -----------------------------------------------------

    def _control(self, control: str, msg: dict) -> dict:
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
        init = self.init
        if init.started_at or init.exit_code is not None or self.init_helper is None:
            return {"ok": False, "error": "container already started", "type": "Conflict"}
        init.started_at = st.rfc3339_nano()
        reply = helper.ask(self.init_helper, "start")
        self.init_helper.close()
        self.init_helper = None
        self._write_state("running")
        if not reply.get("ok") and reply.get("type") == "ContainerError" and st.proc_starttime(init.pid) is None:
            reply["error"] = "container init exited before it was started"
        if not reply.get("ok"):
            self.start_error = reply
            return reply
        return {"ok": True, "pid": init.pid, "started_at": init.started_at}

    def _state(self) -> dict:
        init = self.init
        status = "stopped" if init.exit_code is not None else ("running" if init.started_at else "created")
        execs = {k: ("stopped" if p.exit_code is not None else "running") for k, p in self.execs.items()}
        return {"ok": True, "status": status, "pid": init.pid, "exit_code": init.exit_code,
                "started_at": init.started_at, "execs": execs}

    def _resize(self, msg: dict) -> dict:
        exec_id = msg.get("exec_id")
        proc = self.init if exec_id is None else self.execs.get(exec_id)
        if proc is None:
            return {"ok": False, "error": f"no such exec: {exec_id}", "type": "NotFound"}
        if proc.master is None:
            return {"ok": False, "error": "the process has no terminal", "type": "Conflict"}
        height, width = int(msg.get("height") or 0), int(msg.get("width") or 0)
        if height <= 0 or width <= 0 or height > 65535 or width > 65535:
            return {"ok": False, "error": f"invalid terminal size {height}x{width}", "type": "InvalidParameter"}
        _set_winsize(proc.master, height, width)
        return {"ok": True}

    def _exec(self, msg: dict) -> dict:
        exec_id = msg.get("exec_id")
        st.exec_file(exec_id or "")  # validates
        init = self.init
        if not init.started_at or init.exit_code is not None or self.start_error is not None:
            return {"ok": False, "error": "container is not running", "type": "Conflict"}
        if exec_id in self.execs:
            return {"ok": False, "error": f"exec {exec_id} already started", "type": "Conflict"}
        process = msg.get("process") or {}
        if not isinstance(process, dict) or not process.get("args"):
            return {"ok": False, "error": "exec: no command specified", "type": "InvalidParameter"}
        proc = Proc(exec_id, process)
        stdio, terminal = proc.make_stdio()
        proc.started_at = st.rfc3339_nano()
        try:
            _, sock = helper.fork_helper(
                helper.exec_job(self.spec_text, init.pid, process, stdio, terminal, self.dir), list(stdio))
        except BaseException:
            proc.close_fds()
            raise
        finally:
            for fd in set(stdio):
                os.close(fd)
        with sock:
            reply = helper.ask(sock)
        if not reply.get("ok"):
            proc.close_fds()
            if reply.get("type") != "ExecFailed":
                return reply
            proc.exit_code = int(reply.get("exit_code") or 126)
            proc.error = reply.get("error") or ""
            self.execs[exec_id] = proc
            self._finish_pending(proc)
            self._finish(proc)
            return reply
        proc.pid = int(reply["pid"])
        if terminal and not proc.receive_console():
            proc.close_fds()
            try:
                os.kill(proc.pid, signal.SIGKILL)  # reaped by the loop as an unknown child
            except ProcessLookupError:
                pass
            return {"ok": False, "error": "the exec's console (pty master) did not arrive", "type": "ContainerError"}
        proc.pid_start = st.proc_starttime(proc.pid) or 0
        self.execs[exec_id] = proc
        self.by_pid[proc.pid] = proc
        self._write_exec(proc, "running")
        self._watch_proc(proc)
        self._finish_pending(proc)
        # It may have exited (and been reaped as an unknown pid) before we knew it.
        if st.proc_starttime(proc.pid) is None:
            self._reap()
        return {"ok": True, "pid": proc.pid}

    def _finish_pending(self, proc: Proc) -> None:
        for client in self.pending.pop(proc.key, []):
            self._attach(client, proc)
            self._client_events(client)

    # -- loop -----------------------------------------------------------------

    def _timeout(self) -> float | None:
        deadlines = [p.drain_deadline for p in self._procs() if p.exit_code is not None and not p.finished]
        if self.end_deadline:
            deadlines.append(self.end_deadline)
        if not deadlines:
            return None
        return max(0.0, min(deadlines) - time.monotonic())

    def _procs(self):
        if self.init is not None:
            yield self.init
        yield from self.execs.values()

    def _done(self) -> bool:
        if self.init is None or not self.init.finished:
            return False
        if time.monotonic() >= self.end_deadline:
            return True
        return all(p.finished and not p.clients for p in self._procs())

    def run(self) -> None:
        self._reap()  # the init may have died before the loop
        while not self._done():
            timeout = self._timeout()
            for fd, mask in self.ep.poll(-1 if timeout is None else timeout):
                callback = self._handlers.get(fd)
                if callback is None:
                    continue
                try:
                    callback(mask)
                except Exception:  # one bad event must not cost the container its monitor
                    _print_exc()
            now = time.monotonic()
            for proc in list(self._procs()):
                if proc.exit_code is not None and not proc.finished and now >= proc.drain_deadline:
                    self._finish(proc)
        self.close()

    def close(self) -> None:
        if self.listener is not None:
            st.remove_quietly(self._path(st.ATTACH_SOCK))
            self.listener.close()
        for proc in self._procs():
            for client in list(proc.clients):
                self._drop(client)
        for waiting in list(self.pending.values()):
            for client in list(waiting):
                self._drop(client)


def serve(state_dir: str, result: socket.socket | None) -> int:
    """Body of a monitor process: set up, report to ``result``, run. Returns an exit status.

    ``result`` receives one JSON line: ``{"ok": true, "pid": <init pid>,
    "monitor_pid": ...}`` once the init waits for start, or ``{"ok": false,
    "type": <error class>, "error": <message>}``.
    """
    try:
        monitor = Monitor(state_dir)
    except Exception as exc:
        _report(result, {"ok": False, "type": type(exc).__name__, "error": f"monitor: bad state dir: {exc}"})
        return 1
    try:
        pid = monitor.setup()
    except SetupFailed as exc:
        monitor.teardown_failed()
        _report(result, {"ok": False, "type": exc.kind, "error": str(exc)})
        return 1
    except Exception as exc:
        _print_exc()
        monitor.teardown_failed()
        _report(result, {"ok": False, "type": type(exc).__name__, "error": str(exc) or type(exc).__name__})
        return 1
    _report(result, {"ok": True, "pid": pid, "monitor_pid": os.getpid()})
    try:
        monitor.run()
    except Exception:
        _print_exc()
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


if __name__ == "__main__":
    raise SystemExit(main())
