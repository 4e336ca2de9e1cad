"""Between a hijacked client connection and a monitor's attach socket.

Attach and exec start both carry a client's stdin to a process and its
output back, until the process exits, the client detaches (detach keys), or
the client goes. The client's EOF (its half-close) either closes the
process's stdin and output goes on until the exit (``close_stdin``: exec
always, attach with StdinOnce and no TTY, as moby does), or ends the
session (attach otherwise). Without stdin attached (the docker CLI
half-closes at once then) the EOF changes nothing.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass

from barge.api.hijack import Hijacked, frame
from barge.api.websocket import WsSession
from barge.contracts.attach import EXITED, HEADER, DetachScanner


@dataclass(frozen=True)
class Ended:
    """How a session ended: the process's exit code (None: it still runs), and whether by the detach keys."""

    code: int | None = None
    detached: bool = False


async def proxy(hj: Hijacked | WsSession, sock, *, tty: bool, stdin: bool, stdout: bool, stderr: bool, keys: bytes,
                close_stdin: bool) -> Ended:
    """Run the session until the exit, the detach keys or the client's end; output framed unless ``tty``.

    Long on purpose: the two directions of one session and the ways it ends
    (exit frame, detach keys, half-close, client gone) share their state.
    """
    sock.setblocking(False)
    m_reader, m_writer = await asyncio.open_unix_connection(sock=sock)
    scanner = DetachScanner(keys)
    close_stdin = close_stdin and stdin

    async def client_to_monitor() -> str:
        while True:
            data = await hj.incoming.read(1 << 16)
            if not data:
                if not stdin:
                    await hj.lost.wait()  # no stdin attached: the client's EOF means nothing
                    return "gone"
                if close_stdin:
                    held = scanner.flush()
                    if held:
                        m_writer.write(held)
                    if m_writer.can_write_eof():
                        m_writer.write_eof()  # the process's stdin ends
                return "eof"
            if not stdin:
                continue
            out, detached = scanner.feed(data)
            if out:
                m_writer.write(out)
                await m_writer.drain()
            if detached:
                return "detach"

    async def monitor_to_client() -> int | None:
        while True:
            try:
                head = await m_reader.readexactly(HEADER.size)
            except asyncio.IncompleteReadError:
                return None
            stream, length = HEADER.unpack(head)
            payload = await m_reader.readexactly(length) if length else b""
            if stream == EXITED:
                try:
                    return int(json.loads(payload)["exit_code"])
                except (ValueError, KeyError, TypeError):
                    return None
            if (stream == 1 and not stdout) or (stream == 2 and not stderr) or not payload:
                continue
            await hj.write(payload if tty else frame(stream, payload))

    inbound = asyncio.ensure_future(client_to_monitor())
    outbound = asyncio.ensure_future(monitor_to_client())
    lost = asyncio.ensure_future(hj.lost.wait())
    try:
        done, _ = await asyncio.wait({inbound, outbound, lost}, return_when=asyncio.FIRST_COMPLETED)
        if inbound in done and not inbound.cancelled() and inbound.exception() is None:
            if inbound.result() == "eof" and close_stdin and not hj.closed:
                # half-close: keep streaming output until the process exits or the client goes
                await asyncio.wait({outbound, lost}, return_when=asyncio.FIRST_COMPLETED)
        if outbound.done() and not outbound.cancelled() and outbound.exception() is None:
            return Ended(outbound.result())
        detached = inbound.done() and not inbound.cancelled() and inbound.exception() is None \
            and inbound.result() == "detach"
        return Ended(None, detached)
    finally:
        for task in (inbound, outbound, lost):
            task.cancel()
        await asyncio.gather(inbound, outbound, lost, return_exceptions=True)
        m_writer.close()
        try:
            await m_writer.wait_closed()
        except (ConnectionError, OSError):
            pass
