"""Running the daemon: pid file, services, listeners, serving until a signal.

``barge daemon`` (the CLI) builds a :class:`barge.config.DaemonConfig` and
calls :func:`serve`. ``python -m barge.daemon.main`` takes the same options
without the CLI; the test fixture starts daemons that way.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import stat
import sys
from pathlib import Path

from aiohttp import web

import barge
from barge.config import DaemonConfig
from barge.errors import BargeError, Conflict

log = logging.getLogger("barge.daemon")

#: Seconds running requests get to finish after a stop signal.
SHUTDOWN_GRACE = 5.0


# ---------------------------------------------------------------------------
# pid file
# ---------------------------------------------------------------------------


def _is_barge_process(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"barge" in cmdline


def write_pidfile(path: Path) -> None:
    """Write our pid atomically; refuse when the file names a live daemon."""
    try:
        old = int(path.read_text().strip() or "0")
    except (FileNotFoundError, ValueError):
        old = 0
    if old and old != os.getpid() and _is_barge_process(old):
        raise Conflict(f"pid file {path} names a running daemon (pid {old}); stop it first")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(f"{os.getpid()}\n")
    os.replace(tmp, path)


def remove_pidfile(path: Path) -> None:
    try:
        if path.read_text().strip() == str(os.getpid()):
            path.unlink()
    except (FileNotFoundError, ValueError):
        pass


# ---------------------------------------------------------------------------
# serve
# ---------------------------------------------------------------------------


def restrict_log_file(fd: int = 2) -> None:
    """When the daemon's stderr is a file (``barge daemon 2>>/var/log/barge.log``),
    make it readable by root and its group only: errors name containers, images
    and paths, which other users of the host have no business reading."""
    try:
        st = os.fstat(fd)
        if stat.S_ISREG(st.st_mode) and st.st_uid == os.geteuid() and st.st_mode & 0o027:
            os.fchmod(fd, stat.S_IMODE(st.st_mode) & 0o750)
    except OSError:
        pass


def setup_logging(debug: bool) -> None:
    restrict_log_file()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    # Libraries' own debug chatter (entry-point caches, selectors) drowns requests.
    for name in ("stevedore", "asyncio"):
        logging.getLogger(name).setLevel(logging.INFO)


def serve(cfg: DaemonConfig) -> int:
    """Run the daemon until SIGTERM or SIGINT (SIGHUP reloads its configuration); return the exit code."""
    from barge.api.listeners import open_listeners
    from barge.daemon.daemon import build_services, close_services, prepare_dirs

    setup_logging(cfg.debug)
    os.umask(0o022)  # as dockerd: the modes of layers, volumes and containers' files must not depend on the caller's
    pid_path = cfg.pid_path
    try:
        prepare_dirs(cfg)
        write_pidfile(pid_path)
    except (BargeError, OSError) as exc:
        print(f"barge daemon: {exc}", file=sys.stderr)
        return 1
    try:
        services = build_services(cfg)
    except BargeError as exc:
        remove_pidfile(pid_path)
        print(f"barge daemon: {exc}", file=sys.stderr)
        return 1
    except BaseException:
        remove_pidfile(pid_path)
        raise
    try:
        listeners = open_listeners(cfg)
    except BargeError as exc:
        close_services(services)
        remove_pidfile(pid_path)
        print(f"barge daemon: {exc}", file=sys.stderr)
        return 1
    try:
        asyncio.run(_run(services, listeners))
        return 0
    finally:
        for listener in listeners:
            listener.close()
        try:
            close_services(services)
        finally:
            remove_pidfile(pid_path)
            log.info("barge daemon stopped")


def _reload_soon(loop: asyncio.AbstractEventLoop, services) -> None:
    """SIGHUP: the configuration file read again (:mod:`barge.daemon.reload`), off the event loop."""
    from barge.daemon.reload import reload

    loop.run_in_executor(None, reload, services)


async def _run(services, listeners) -> None:
    from barge.api.server import ApiRunner, make_app
    from barge.daemon.check import check_at_start

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGHUP, _reload_soon, loop, services)

    app = make_app(services.engine)
    runner = ApiRunner(app, handle_signals=False, access_log=None, shutdown_timeout=SHUTDOWN_GRACE)
    await runner.setup()
    try:
        from barge.api.listeners import BACKLOG

        for listener in listeners:
            site = web.SockSite(runner, listener.sock, ssl_context=listener.ssl_context, backlog=BACKLOG)
            await site.start()
        log.info(
            "barge daemon %s listening on %s, graph driver %s",
            barge.__version__, ", ".join(lst.address for lst in listeners), services.graph_driver,
        )
        info = await loop.run_in_executor(None, services.engine.call, "info")
        services.pm.hook.barge_daemon_started(info=info)
        loop.run_in_executor(None, check_at_start, services)  # logs what recovery did not make whole
        await stop.wait()
        log.info("barge daemon shutting down")
        services.pm.hook.barge_daemon_stopping()
    finally:
        await runner.cleanup()


# ---------------------------------------------------------------------------
# python -m barge.daemon.main
# ---------------------------------------------------------------------------


def _bool(text: str) -> bool:
    if text.lower() in ("1", "true", "yes"):
        return True
    if text.lower() in ("0", "false", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, not {text!r}")


#: How argparse takes each kind of flag of :data:`barge.flags.FLAGS`.
_ARGPARSE: dict[str, dict] = {
    "str": {}, "int": {"type": int}, "path": {"type": Path}, "list": {"action": "append"},
    "flag": {"action": "store_true", "default": None}, "switch": {"type": _bool},
}


def build_parser() -> argparse.ArgumentParser:
    """The flags of ``barge daemon``, from the same table."""
    from barge.flags import FLAGS

    p = argparse.ArgumentParser(prog="python -m barge.daemon.main", description="Run the barge daemon.")
    for flag in FLAGS:
        p.add_argument(*flag.names, dest=flag.dest, help=flag.help, **_ARGPARSE[flag.kind])
    return p


def parse_args(argv: list[str] | None = None) -> DaemonConfig:
    """The daemon's configuration from ``argv``."""
    from barge.flags import load

    return load(vars(build_parser().parse_args(argv)))


def main(argv: list[str] | None = None) -> int:
    try:
        cfg = parse_args(argv)
    except BargeError as exc:
        print(f"barge daemon: {exc}", file=sys.stderr)
        return 1
    return serve(cfg)


if __name__ == "__main__":
    sys.exit(main())
