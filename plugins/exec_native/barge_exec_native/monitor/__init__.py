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
and the container's log driver (:mod:`barge.logdriver`, loaded by name from
the spec). When the init has exited the monitor drains its
output, writes ``exit.json``, sends exit frames to attached clients, closes
them and exits; the state dir stays until the driver's ``delete``.

The parts, each in its module:

* :mod:`.process` - :class:`~.process.Monitor`: set-up, the loop until the
  end, and :func:`serve` / :func:`main`, the body of the process;
* :mod:`.loop` - epoll with a callback per fd, and SIGCHLD;
* :mod:`.container` - the processes, their exits, ``state.json``,
  ``exit.json`` and the exec files;
* :mod:`.proc` - one process's stdio: output to the log and clients, stdin;
* :mod:`.server` and :mod:`.client` - attach.sock and its connections;
* :mod:`.control` - the control messages.
"""

from __future__ import annotations

from barge_exec_native.monitor.client import Client
from barge_exec_native.monitor.container import Container
from barge_exec_native.monitor.control import Control
from barge_exec_native.monitor.loop import Loop
from barge_exec_native.monitor.proc import Proc
from barge_exec_native.monitor.process import Monitor, SetupFailed, detach_stdio, main, serve
from barge_exec_native.monitor.server import AttachServer

__all__ = ["Monitor", "SetupFailed", "detach_stdio", "main", "serve", "warm_up"]


def warm_up() -> None:
    """Look every attribute of the monitor's classes up once, in the spawner, before it forks.

    The first lookup on a class writes to it (its version tag, the type
    cache): done in each monitor, that write would cost every one of them a
    private copy of the class's pages (about 80 KiB per monitor, measured).
    """
    for cls in (Monitor, Container, Loop, AttachServer, Control, Proc, Client):
        for name in list(vars(cls)):
            getattr(cls, name)
