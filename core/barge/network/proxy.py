"""A userland proxy for ports published on IPv6 host addresses (``-p [::1]:8080:80``), TCP and UDP.

barge's NAT is IPv4 only, as dockerd 20.10's without the experimental
ip6tables: there, docker-proxy serves IPv6 host addresses, and so does this.
There is no IPv6 ``route_localnet`` either, so ``::1`` could not be DNAT'd
to a bridge anyway. The listening socket is the one
:class:`barge.network.ports.PortReservations` already holds for the port;
each accepted connection is spliced to the container's address (its IPv6
one on a dual-stack network, else its IPv4 one, as docker-proxy is told)
by a pair of threads; each UDP client gets a socket of its own towards the
container, dropped after :data:`UDP_IDLE` seconds without traffic (as
docker-proxy's UDP conntrack). ``stop`` ends the proxy and what it relays.
"""

from __future__ import annotations

import contextlib
import logging
import os
import selectors
import socket
import threading
import time

log = logging.getLogger("barge.network.proxy")

#: connections queued on a proxied port before the proxy accepts them
BACKLOG = 128
CONNECT_TIMEOUT = 5.0
#: seconds a UDP client's relay socket lives without a datagram either way
UDP_IDLE = 90.0


class TcpProxy:
    """Accepts on ``listener`` and splices each connection to ``target`` (host, port)."""

    def __init__(self, listener: socket.socket, target: tuple[str, int]):
        self.listener = listener
        self.target = target
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._stopped = False
        listener.listen(BACKLOG)
        self._thread = threading.Thread(target=self._accept, name=f"proxy-{target[1]}", daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # stop() shut the listener
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self.target, timeout=CONNECT_TIMEOUT)
        except OSError as exc:
            log.debug("proxy to %s: %s", self.target, exc)
            client.close()
            return
        upstream.settimeout(None)
        with self._lock:
            if self._stopped:
                client.close()
                upstream.close()
                return
            self._conns.update((client, upstream))
        back = threading.Thread(target=_pump, args=(upstream, client), daemon=True)
        back.start()
        _pump(client, upstream)
        back.join()
        with self._lock:
            self._conns.difference_update((client, upstream))
        client.close()
        upstream.close()

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            conns, self._conns = list(self._conns), set()
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        for s in conns:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
        self._thread.join(5)


def _pump(src: socket.socket, dst: socket.socket) -> None:
    """Copy ``src`` to ``dst`` until ``src`` ends; then end ``dst``'s writing side."""
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    with contextlib.suppress(OSError):
        dst.shutdown(socket.SHUT_WR)


class UdpProxy:
    """Relays datagrams between clients of ``sock`` and ``target``, one thread, one socket per client."""

    def __init__(self, sock: socket.socket, target: tuple[str, int]):
        self.sock = sock
        self.target = target
        self._family = socket.AF_INET6 if ":" in target[0] else socket.AF_INET
        self._sel = selectors.DefaultSelector()
        self._wake_r, self._wake_w = os.pipe()
        self._clients: dict[tuple, tuple[socket.socket, float]] = {}
        sock.setblocking(False)
        self._sel.register(sock, selectors.EVENT_READ, None)
        self._sel.register(self._wake_r, selectors.EVENT_READ, "stop")
        self._thread = threading.Thread(target=self._run, name=f"udp-proxy-{target[1]}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while True:
                for key, _ in self._sel.select(timeout=UDP_IDLE / 3):
                    if key.data == "stop":
                        return
                    if key.data is None:
                        self._from_client()
                    else:
                        self._from_target(key.fileobj, key.data)  # type: ignore[arg-type]
                self._expire()
        finally:
            for up, _ in self._clients.values():
                up.close()
            self._clients.clear()
            self._sel.close()
            os.close(self._wake_r)

    def _from_client(self) -> None:
        try:
            data, addr = self.sock.recvfrom(65535)
        except OSError:
            return
        entry = self._clients.get(addr)
        if entry is None:
            up = socket.socket(self._family, socket.SOCK_DGRAM)
            up.setblocking(False)
            try:
                up.connect(self.target)
            except OSError:
                up.close()
                return
            self._sel.register(up, selectors.EVENT_READ, addr)
        else:
            up = entry[0]
        self._clients[addr] = (up, time.monotonic())
        with contextlib.suppress(OSError):
            up.send(data)

    def _from_target(self, up: socket.socket, addr: tuple) -> None:
        try:
            data = up.recv(65535)
        except OSError:
            return
        self._clients[addr] = (up, time.monotonic())
        with contextlib.suppress(OSError):
            self.sock.sendto(data, addr)

    def _expire(self) -> None:
        now = time.monotonic()
        for addr, (up, last) in list(self._clients.items()):
            if now - last > UDP_IDLE:
                self._sel.unregister(up)
                up.close()
                del self._clients[addr]

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"x")
        self._thread.join(5)
        os.close(self._wake_w)
