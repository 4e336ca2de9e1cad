"""Assembling the daemon's services from its configuration, and taking them down.

Order matters: directories, then the graph driver (a named driver that
cannot work stops everything here, before any socket is opened), then the
plugin manager and engine, then the image store, which reconciles what a
killed daemon left half-done before any request is served.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from pathlib import Path

from barge.config import DaemonConfig
from barge.daemon.services import Services
from barge.engine import Engine
from barge.engine.plugins import make_plugin_manager, probe_drivers, register_driver, select_graph_driver

log = logging.getLogger("barge.daemon")


def prepare_dirs(cfg: DaemonConfig) -> None:
    cfg.data_root.mkdir(parents=True, exist_ok=True)
    os.chmod(cfg.data_root, 0o710)
    cfg.exec_root.mkdir(parents=True, exist_ok=True, mode=0o711)


def engine_id(data_root: Path) -> str:
    """A stable id for this engine (``docker info`` ID), created once."""
    path = data_root / "engine-id"
    try:
        value = path.read_text().strip()
        if value:
            return value
    except FileNotFoundError:
        pass
    value = str(uuid.uuid4())
    tmp = path.with_name(f".engine-id.{os.getpid()}")
    tmp.write_text(value + "\n")
    os.replace(tmp, path)
    return value


def build_services(cfg: DaemonConfig) -> Services:
    """Everything a request needs, or a :class:`barge.errors.BargeError` saying why not."""
    from barge.daemon.jobs import images as image_jobs
    from barge.daemon.jobs import system as system_jobs
    from barge.graph.store import ImageStore

    prepare_dirs(cfg)
    selection = select_graph_driver(cfg)
    pm = make_plugin_manager()
    register_driver(pm, selection.plugin, "graph", selection.name)
    engine = Engine(pm)
    store = ImageStore(cfg.data_root / "barge.db", pm, selection.name)
    try:
        store.recover()
        services = Services(
            config=cfg,
            pm=pm,
            engine=engine,
            graph_driver=selection.name,
            driver_reports=probe_drivers(cfg, selected={"graph": selection.name}),
            images=store,
            started_at=time.time(),
        )
        services.extra["engine_id"] = engine_id(cfg.data_root)
        system_jobs.register(engine, services)
        image_jobs.register(engine, services)
    except BaseException:
        store.close()
        pm.hook.barge_graph_cleanup()
        raise
    return services


def close_services(services: Services) -> None:
    """Release the driver and the store; safe to call once at shutdown."""
    try:
        services.pm.hook.barge_graph_cleanup()
    finally:
        if services.images is not None:
            services.images.close()
