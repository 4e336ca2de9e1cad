"""The driver's side of the monitor spawner (see :mod:`barge_exec_native.spawner`)."""

from __future__ import annotations

import array
import fcntl
import json
import os
import select
import socket
import subprocess
import sys
import threading
import time


class SpawnError(Exception):
    """The spawner or the monitor could not be started or did not answer."""


class SpawnerClient:
    """Starts the spawner lazily, restarts it when it died, asks it for monitors."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = None
        self._sock: socket.socket | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def _start(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        exe = sealed_interpreter()
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-S", "-m", "barge_exec_native.spawner", str(theirs.fileno())],
                executable=f"/proc/self/fd/{exe}", pass_fds=[theirs.fileno(), exe],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, cwd="/", env=_spawner_env(),
            )
        finally:
            theirs.close()
            os.close(exe)
        self._sock = ours

    def _reap_dead(self) -> None:
        if self._proc is not None and self._proc.poll() is not None:
            self._drop()

    def _drop(self) -> None:
        if self._sock is not None:
            self._sock.close()
        self._sock = None
        if self._proc is not None:
            try:
                self._proc.wait(timeout=0)
            except subprocess.TimeoutExpired:
                pass
        self._proc = None

    def spawn(self, state_dir: str, timeout: float = 60.0) -> dict:
        """Fork a monitor for ``state_dir``; return its report (``{"ok": ..., ...}``)."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            request = json.dumps({"state_dir": state_dir}).encode()
            fds = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [theirs.fileno()]))]
            with self._lock:
                for attempt in (1, 2):
                    self._reap_dead()
                    if self._sock is None:
                        self._start()
                    try:
                        self._sock.sendmsg([request], fds)
                        break
                    except (BrokenPipeError, ConnectionResetError, ConnectionRefusedError):
                        self._drop()  # the spawner died: start a new one once
                        if attempt == 2:
                            raise SpawnError("monitor spawner is not answering") from None
            theirs.close()
            return _read_report(ours, timeout, state_dir)
        finally:
            theirs.close()
            ours.close()

    def close(self) -> None:
        """End the spawner (monitors it forked live on)."""
        with self._lock:
            proc = self._proc
            self._drop()
            if proc is not None:
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


def sealed_interpreter() -> int:
    """A sealed in-memory copy of this Python's executable (an fd), which the spawner runs.

    Every monitor, and every container init and exec'd process until its
    execve, is forked from the spawner, so ``/proc/<pid>/exe`` of each is
    this copy, not the host's interpreter: a container that makes its
    command a ``#!/proc/self/exe`` script (CVE-2019-5736) gets the copy to
    run and to hold, and no seal lets anyone change it. runc runs itself
    from such a copy for the same reason. The launcher is small (the
    interpreter's code is in its libraries), so the copy costs little.
    """
    fd = os.memfd_create("barge-python", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
    try:
        with open(os.path.realpath(sys.executable), "rb") as src:
            while chunk := src.read(1 << 20):
                while chunk:
                    chunk = chunk[os.write(fd, chunk):]
        fcntl.fcntl(fd, fcntl.F_ADD_SEALS,
                    fcntl.F_SEAL_SEAL | fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_WRITE)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _spawner_env() -> dict[str, str]:
    """The spawner runs with ``-S`` (no site: its import hooks and .pth files
    cost every monitor memory); it finds barge and this package through
    PYTHONPATH set to where they were imported from here."""
    import barge
    import barge_exec_native

    paths = []
    for module in (barge_exec_native, barge):
        root = os.path.dirname(os.path.dirname(os.path.abspath(module.__file__)))
        if root not in paths:
            paths.append(root)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return env


def _read_report(sock: socket.socket, timeout: float, state_dir: str) -> dict:
    deadline = time.monotonic() + timeout
    buf = b""
    while b"\n" not in buf:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([sock], [], [], left)[0]:
            raise SpawnError(f"monitor for {state_dir} did not report within {timeout:.0f}s")
        chunk = sock.recv(65536)
        if not chunk:
            log = os.path.join(state_dir, "monitor.log")
            raise SpawnError(f"monitor for {state_dir} died during set-up (see {log})")
        buf += chunk
    try:
        return json.loads(buf.split(b"\n", 1)[0])
    except ValueError as exc:
        raise SpawnError(f"monitor for {state_dir} sent a bad report") from exc
