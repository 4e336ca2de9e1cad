"""``barge registry serve``: the registry in the foreground until SIGINT or
SIGTERM, one access-log line per request on stderr.

Once listening it prints ``barge registry listening on <url>`` on stdout, with
the real port when ``--addr`` asked for port 0: tests and scripts read it.
Upload sessions left by a previous run are removed first (their running
hashes died with it; clients start such uploads again)."""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import ssl
import sys

from aiohttp import web

from barge.registry.server.app import make_app
from barge.registry.server.config import ConfigError, ServerConfig
from barge.registry.server.storage import BlobStore

ACCESS_FORMAT = '%a "%r" %s %b %Tfs'
log = logging.getLogger("barge.registry")


def ssl_context(cfg: ServerConfig) -> ssl.SSLContext | None:
    if not cfg.tls:
        return None
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_cert_chain(cfg.tls_cert, cfg.tls_key)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"cannot load TLS files: {exc}") from None
    return ctx


def bind(addr: str) -> socket.socket:
    host, _, port = addr.rpartition(":")
    host = host.strip("[]") or "0.0.0.0"
    try:
        family, _, _, _, sockaddr = socket.getaddrinfo(host, int(port), type=socket.SOCK_STREAM,
                                                       flags=socket.AI_PASSIVE)[0]
    except socket.gaierror as exc:
        raise ConfigError(f"invalid --addr {addr!r}: {exc.strerror}") from None
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(sockaddr)
        sock.listen(256)
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {addr}: {exc.strerror or exc}") from None
    return sock


def url_of(sock: socket.socket, tls: bool) -> str:
    host, port = sock.getsockname()[:2]
    if ":" in host:
        host = f"[{host}]"
    return f"{'https' if tls else 'http'}://{host}:{port}"


async def _serve(cfg: ServerConfig, sock: socket.socket, ctx: ssl.SSLContext | None) -> None:
    app = make_app(cfg)
    runner = web.AppRunner(app, access_log=logging.getLogger("barge.registry.access"),
                           access_log_format=ACCESS_FORMAT, handle_signals=False)
    await runner.setup()
    site = web.SockSite(runner, sock, ssl_context=ctx)
    await site.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    sys.stdout.write(f"barge registry listening on {url_of(sock, ctx is not None)}\n")
    sys.stdout.flush()
    try:
        await stop.wait()
    finally:
        log.info("shutting down")
        await runner.cleanup()


def run(cfg: ServerConfig) -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
    ctx = ssl_context(cfg)
    store = BlobStore(cfg.root)
    for uid in store.remove_stale_uploads():
        log.info("removed upload session %s left by a previous run", uid)
    sock = bind(cfg.addr)
    try:
        asyncio.run(_serve(cfg, sock, ctx))
    finally:
        sock.close()
    return 0
