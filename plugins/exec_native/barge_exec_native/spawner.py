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
from barge_exec_native.libcontainer import Cgroup, ContainerError, cglimits  # noqa: F401 - Cgroup.set's, at every start

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
    except BaseException:  # noqa: BLE001 - a forked child must reach os._exit, never the spawner's loop
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
    os.closerange(3, control.fileno())  # anything else inherited (the interpreter's sealed copy)
    os.closerange(control.fileno() + 1, 1 << 20)  # would live on in every monitor
    os.chdir("/")
    try:
        Cgroup.layout()  # reads the cgroup mounts once, for every monitor
    except ContainerError:
        pass
    _warm_up()
    gc.collect()
    filler = _fill_pools()  # noqa: F841 - kept alive on purpose
    gc.freeze()
    gc.disable()  # the spawner allocates almost nothing; monitors re-enable it
    serve(control)
    return 0


def _warm_up() -> None:
    """Run once what every monitor runs, so that first-use work (attribute
    caches, specialised bytecode, lazily built tables) is done here, in
    pages the monitors share, instead of in each monitor."""
    import select

    from barge.logdriver.copier import open_logger
    from barge_exec_native import state as st
    from barge_exec_native.attach import frame

    monitor.warm_up()
    d = f"{'/dev/shm' if os.path.isdir('/dev/shm') else '/tmp'}/.barge-spawner-{os.getpid()}"
    os.mkdir(d, 0o700)
    try:
        log = open_logger({"driver": "json-file", "entry_point": "barge.logdriver.jsonfile:JsonFileDriver",
                           "path": os.path.join(d, "log"), "options": {"max-size": "1m", "max-file": "2"}})
        ep = select.epoll()
        a, b = socket.socketpair()
        a.setblocking(False)
        b.setblocking(False)
        ep.register(a.fileno(), select.EPOLLIN)
        for i in range(10):
            st.write_json(os.path.join(d, "state.json"), {"status": "running", "pid": i, "started_at": st.rfc3339_nano()})
            st.read_json(os.path.join(d, "state.json"))
            st.write_pidfile(os.path.join(d, "pid"), os.getpid())
            st.read_pidfile(os.path.join(d, "pid"))
            b.send(frame(1, b"output line\n") + json.dumps({"ok": True}).encode() + b"\n")
            for _fd, _mask in ep.poll(0):
                log.write("stdout", a.recv(65536))
            ep.modify(a.fileno(), select.EPOLLIN | select.EPOLLOUT)
            ep.modify(a.fileno(), select.EPOLLIN)
            json.loads(b'{"stdin": false, "stdout": true, "stderr": true, "exec_id": null}')
        ep.unregister(a.fileno())
        ep.close()
        a.close()
        b.close()
        log.close()
    finally:
        for name in os.listdir(d):
            os.unlink(os.path.join(d, name))
        os.rmdir(d)


def _fill_pools() -> list:
    """Fill the free blocks of pymalloc's partly used pools, and keep them.

    A monitor's new small objects would otherwise land in those free
    blocks, scattered over pages it shares with the spawner, unsharing a
    whole page for each; with the gaps filled they go to fresh pools, packed.
    """
    import re

    r, w = os.pipe()
    saved = os.dup(2)
    os.dup2(w, 2)
    os.close(w)
    try:
        sys._debugmallocstats()
    finally:
        os.dup2(saved, 2)
        os.close(saved)
    os.set_blocking(r, False)
    data = b""
    try:
        while chunk := os.read(r, 65536):
            data += chunk
    except BlockingIOError:
        pass
    os.close(r)
    gaps = []
    for line in data.decode(errors="replace").splitlines():
        m = re.match(r"\s+\d+\s+(\d+)\s+\d+\s+\d+\s+(\d+)$", line)
        if m:
            gaps.append((int(m.group(1)), int(m.group(2))))
    keep: list = []
    keep_append = keep.append
    for size, avail in gaps:
        for _ in range(avail):
            if size <= 16:
                keep_append(object())
            elif size <= 32:
                keep_append(1 << 40)
            else:
                keep_append(b"x" * (size - 33))
    return keep


if __name__ == "__main__":
    raise SystemExit(main())
