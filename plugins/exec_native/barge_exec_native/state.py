"""The files of a container's state dir, shared by the driver and the monitor.

The monitor writes them, the driver reads them; a driver started after a
daemon restart knows a container from these files alone. Every write is a
temporary file renamed into place, so a reader never sees half a file.

* ``spec.json``      the ContainerSpec (written by the driver), its seccomp
  filter without the rules;
* ``seccomp.bpf``    that filter compiled (written by the driver, read by the
  helpers that start the init and exec'd processes);
* ``monitor.pid``    ``"<pid> <starttime>"`` of the monitor;
* ``state.json``     ``{"status": "created"|"running", "pid", "pid_start",
  "created_at", "started_at"}`` of the init;
* ``exit.json``      the init's exit (see :mod:`barge.execdriver`);
* ``exec-<id>.json`` one exec'd process: ``{"status": "running"|"stopped",
  "pid", "pid_start", "started_at", "exit_code", "finished_at"}``;
* ``attach.sock``    the monitor's attach socket.

Processes are named by pid *and* start time (field 22 of ``/proc/<pid>/stat``):
pids recycle fast, so a bare pid is never trusted.
"""

from __future__ import annotations

import json
import os
import time

SPEC = "spec.json"
SECCOMP = "seccomp.bpf"
MONITOR_PID = "monitor.pid"
STATE = "state.json"
EXIT = "exit.json"
ATTACH_SOCK = "attach.sock"
MONITOR_LOG = "monitor.log"
EXEC_PREFIX = "exec-"

#: Every file the monitor may leave in a state dir (besides exec-*.json).
MONITOR_FILES = (MONITOR_PID, STATE, EXIT, ATTACH_SOCK, MONITOR_LOG)


def exec_file(exec_id: str) -> str:
    if not exec_id or "/" in exec_id or exec_id.startswith("."):
        raise ValueError(f"invalid exec id {exec_id!r}")
    return f"{EXEC_PREFIX}{exec_id}.json"


def rfc3339_nano(ns: int | None = None) -> str:
    """Go's ``time.RFC3339Nano`` in UTC (trailing zeros of the fraction dropped).

    Written without ``datetime`` to keep the monitor's imports small.
    """
    ns = time.time_ns() if ns is None else ns
    seconds, frac = divmod(ns, 1_000_000_000)
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    fraction = f"{frac:09d}".rstrip("0")
    return f"{base}.{fraction}Z" if fraction else f"{base}Z"


def read_bytes(path: str) -> bytes:
    """A small file's content, with plain os calls.

    The monitor reads files this way: ``open()`` builds a buffered text
    stack (codecs, decoders) whose first use touches, and unshares, pages
    the monitor would otherwise keep sharing with the spawner.
    """
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        chunks = []
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
    finally:
        os.close(fd)


def write_atomic(path: str, data: str | bytes) -> None:
    tmp = f"{path}.tmp{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        view = memoryview(data.encode() if isinstance(data, str) else data)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)
    os.rename(tmp, path)


def write_json(path: str, data: dict) -> None:
    write_atomic(path, json.dumps(data, sort_keys=True))


def read_json(path: str) -> dict | None:
    try:
        return json.loads(read_bytes(path))
    except (FileNotFoundError, NotADirectoryError, ValueError):
        return None


def proc_starttime(pid: int) -> int | None:
    """Start time of ``pid`` in clock ticks since boot, or None when it is gone."""
    try:
        data = read_bytes(f"/proc/{pid}/stat")
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name may hold spaces and parentheses: split after the last ')'.
    fields = data[data.rindex(b")") + 2 :].split()
    if fields[0] == b"Z" or fields[0] == b"X":
        return None
    return int(fields[19])


def write_pidfile(path: str, pid: int) -> None:
    write_atomic(path, f"{pid} {proc_starttime(pid) or 0}\n")


def read_pidfile(path: str) -> tuple[int, int] | None:
    try:
        pid, start = read_bytes(path).split()
        return int(pid), int(start)
    except (FileNotFoundError, ValueError):
        return None


def open_pidfd(pid: int, starttime: int) -> int | None:
    """A pidfd for the process ``pid`` started at ``starttime``, or None.

    The pidfd is opened first and the start time checked after: once the fd
    exists it pins that process, so a match proves it is the one recorded.
    """
    if pid <= 0:
        return None
    try:
        fd = os.pidfd_open(pid)
    except (ProcessLookupError, OSError):
        return None
    if proc_starttime(pid) != starttime:
        os.close(fd)
        return None
    return fd


def alive(pid: int, starttime: int) -> bool:
    fd = open_pidfd(pid, starttime)
    if fd is None:
        return False
    os.close(fd)
    return True


def remove_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        pass
