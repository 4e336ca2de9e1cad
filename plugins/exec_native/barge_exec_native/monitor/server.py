"""attach.sock: accept clients, read each one's first line, run its control message or attach it.

The wire format is the ATTACH PROTOCOL of :mod:`barge.execdriver`: one JSON
line from the client (``{"control": ...}`` or ``{"stdin": ..., "stdout":
..., "stderr": ..., "exec_id": ...}``), one JSON line back, then frames.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable

from barge_exec_native import state as st
from barge_exec_native.attach import unix_address
from barge_exec_native.monitor.client import Client
from barge_exec_native.monitor.container import Container
from barge_exec_native.monitor.loop import IN, Loop

OK = b'{"ok": true}\n'


class AttachServer:
    """The listening socket and the first line of each connection.

    ``control(name, message)`` answers a control message with a dict.
    """

    __slots__ = ("container", "loop", "control", "path", "listener")

    def __init__(self, container: Container, loop: Loop, control: Callable[[str, dict], dict]):
        self.container = container
        self.loop = loop
        self.control = control
        self.path = container.path(st.ATTACH_SOCK)
        self.listener: socket.socket | None = None

    def listen(self) -> None:
        """Bind attach.sock (mode 0600, root's only) and accept from the loop."""
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        st.remove_quietly(self.path)
        unix_address(self.listener, self.path, "bind")
        os.chmod(self.path, 0o600)
        self.listener.listen(64)
        self.listener.setblocking(False)
        self.loop.watch(self.listener.fileno(), IN, self._accept)

    def _accept(self, mask: int) -> None:
        while True:
            try:
                sock, _ = self.listener.accept()
            except BlockingIOError:
                return
            sock.setblocking(False)
            Client(sock, self.loop, self._hello)

    def _hello(self, client: Client, line: bytes, rest: bytes) -> None:
        try:
            hello = json.loads(line)
            if not isinstance(hello, dict):
                raise ValueError("not an object")
        except ValueError as exc:
            client.reply({"ok": False, "error": f"bad request: {exc}"}, close=True)
            return
        client.hello = hello
        control = hello.get("control")
        if control:
            try:
                answer = self.control(control, hello)
            except Exception as exc:  # noqa: BLE001 - answered to the client: never die on a client's request
                answer = {"ok": False, "error": str(exc) or type(exc).__name__, "type": type(exc).__name__}
            client.reply(answer, close=True)
            return
        client.stdin = bool(hello.get("stdin"))
        client.stdout = bool(hello.get("stdout"))
        client.stderr = bool(hello.get("stderr"))
        exec_id = hello.get("exec_id")
        proc = self.container.find(exec_id)
        if proc is None:
            try:
                st.exec_file(exec_id)
            except ValueError as exc:
                client.reply({"ok": False, "error": str(exc)}, close=True)
                return
            self.container.wait_for_exec(exec_id, client)
            client.send(OK)
            return
        client.send(OK)
        proc.attach(client)
        if rest and client.stdin and client.proc is not None:
            client.proc.write_stdin(rest)

    def close(self) -> None:
        """Remove attach.sock and hang up on every attached or waiting client."""
        if self.listener is not None:
            st.remove_quietly(self.path)
            self.listener.close()
        for client in self.container.clients():
            client.drop()
