"""The monitor spawner: a small pre-imported process that forks monitors.

A monitor forked from the daemon would carry the daemon's whole heap (aiohttp,
pluggy, the graph...) and dirty it page by page; an exec'd one pays the
interpreter's start-up for every container. The spawner is started once per
driver instance (``python -m barge_exec_native.spawner <fd>``), imports only
what a monitor runs, freezes those objects out of the garbage collector's
reach (``gc.freeze()``: collections would otherwise write to every inherited
object and unshare its page), and forks one monitor per request. Each monitor
is double-forked with its own session, so its parent is not the daemon and it
outlives both the daemon and the spawner.

Requests come over an inherited ``SOCK_SEQPACKET`` socket: one JSON packet
``{"state_dir": ...}`` carrying (SCM_RIGHTS) the socket on which the monitor
reports ``{"ok": true, "pid": ...}`` or its error (see
:func:`barge_exec_native.monitor.serve`). The spawner ends when that socket
reaches EOF, that is when the daemon is gone, however it died. (Not
PR_SET_PDEATHSIG: it fires when the *thread* that started the spawner ends,
and the daemon starts it from a worker thread.)
"""

from __future__ import annotations

import array
import gc
import json
import os
import socket
import sys

# What a monitor and its set-up helpers run, imported once here and shared
# copy-on-write.
from barge_exec_native import monitor
from barge_exec_native.libcontainer import Cgroup, ContainerError

MAX_REQUEST = 65536


def _recv_request(sock: socket.socket) -> tuple[dict | None, list[int]]:
    """One request and its fds; (None, []) at EOF."""
    fds = array.array("i")
    data, ancdata, _flags, _addr = sock.recvmsg(MAX_REQUEST, socket.CMSG_SPACE(4 * fds.itemsize))
    for level, kind, cdata in ancdata:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(cdata[: len(cdata) - (len(cdata) % fds.itemsize)])
    if not data:
        for fd in fds:
            os.close(fd)
        return None, []
    return json.loads(data), list(fds)


def _fork_monitor(control: socket.socket, state_dir: str, result_fd: int) -> None:
    pid = os.fork()
    if pid:
        os.close(result_fd)
        os.waitpid(pid, 0)  # the intermediate child exits at once
        return
    # Intermediate child: new session, fork the monitor, exit so it reparents.
    status = 1
    try:
        control.close()
        os.setsid()
        if os.fork() == 0:
            gc.enable()
            os.chdir("/")
            monitor.detach_stdio(state_dir)
            result = socket.socket(fileno=result_fd)
            status = monitor.serve(state_dir, result)
            os._exit(status)
        status = 0
    except BaseException:
        pass
    os._exit(status)


def serve(control: socket.socket) -> None:
    while True:
        try:
            request, fds = _recv_request(control)
        except InterruptedError:
            continue
        except ConnectionResetError:
            return
        if request is None:
            return
        if len(fds) != 1:
            for fd in fds:
                os.close(fd)
            continue
        state_dir = request.get("state_dir")
        if not isinstance(state_dir, str) or not os.path.isabs(state_dir):
            result = socket.socket(fileno=fds[0])
            result.sendall(json.dumps({"ok": False, "type": "InvalidParameter", "error": "bad state_dir"}).encode() + b"\n")
            result.close()
            continue
        try:
            _fork_monitor(control, state_dir, fds[0])
        except OSError as exc:  # fork failed: tell the driver, keep serving
            try:
                result = socket.socket(fileno=fds[0])
                result.sendall(json.dumps({"ok": False, "type": "OSError", "error": f"fork monitor: {exc}"}).encode() + b"\n")
                result.close()
            except OSError:
                pass


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    control = socket.socket(fileno=int(argv[0]))
    os.chdir("/")
    try:
        Cgroup.layout()  # reads the cgroup mounts once, for every monitor
    except ContainerError:
        pass
    gc.collect()
    gc.freeze()
    gc.disable()  # the spawner allocates almost nothing; monitors re-enable it
    serve(control)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
