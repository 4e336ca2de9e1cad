"""Assembling the daemon's services from its configuration, and taking them down.

Order matters: directories, then the graph driver (a named driver that
cannot work stops everything here, before any socket is opened), then the
exec driver, the plugin manager and engine, then the image store and the
container service, which reconcile what a killed daemon left half-done (and
the containers still running under their monitors) before any request is
served.

The exec driver: the one configuration names, else ``native``. A named
driver that cannot load stops the daemon; the default one merely missing
(not installed) lets the daemon start without containers, and every
container endpoint answers 501 "no exec driver: <reason>".
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
from barge.engine.plugins import (
    DEFAULT_EXEC_DRIVER, DEFAULT_NETWORK_DRIVER, DriverReport, find_drivers, make_plugin_manager, probe_drivers,
    register_driver, select_exec_driver, select_graph_driver, select_network_driver,
)

log = logging.getLogger("barge.daemon")


def prepare_dirs(cfg: DaemonConfig) -> None:
    """The data root and the trees holding containers' files closed to other users (0710,
    moby's fix for CVE-2021-41091): none may reach a setuid program in a layer or a rootfs."""
    cfg.data_root.mkdir(parents=True, exist_ok=True)
    os.chmod(cfg.data_root, 0o710)
    for tree in ("graph", "containers"):
        (cfg.data_root / tree).mkdir(exist_ok=True)
        os.chmod(cfg.data_root / tree, 0o710)
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


def select_exec(cfg: DaemonConfig, pm) -> tuple[str | None, str]:
    """Register the exec driver; return (its name, "") or (None, why there is none)."""
    name = cfg.exec_driver or DEFAULT_EXEC_DRIVER
    if cfg.exec_driver is None and name not in {d.name for d in find_drivers("exec")}:
        reason = f"exec driver {name!r} is not installed (pip install -e plugins/exec_{name})"
        log.warning("starting without containers: %s", reason)
        return None, reason
    selection = select_exec_driver(cfg)  # a driver that is there but cannot work stops the daemon
    register_driver(pm, selection.plugin, "exec", selection.name)
    return selection.name, ""


def select_network(cfg: DaemonConfig, pm) -> tuple[str | None, str]:
    """Register the network driver, as :func:`select_exec` does the exec driver."""
    name = cfg.network.driver or DEFAULT_NETWORK_DRIVER
    if cfg.network.driver is None and name not in {d.name for d in find_drivers("network")}:
        reason = f"network driver {name!r} is not installed (pip install -e plugins/net_{name})"
        log.warning("starting without bridge networking: %s", reason)
        return None, reason
    selection = select_network_driver(cfg)
    register_driver(pm, selection.plugin, "network", selection.name)
    return selection.name, ""


def make_network_service(cfg: DaemonConfig, pm, db, hub, driver: str | None, error: str):
    """The network service with its embedded DNS server (answers come from the service's records)."""
    from barge.network.dns import EmbeddedDNS
    from barge.network.service import NetworkService
    from barge.network.store import NetworkStore

    service = NetworkService(store=NetworkStore(db), cfg=cfg.network, pm=pm, driver=driver, driver_error=error,
                             exec_root=cfg.exec_root,
                             emit=lambda action, nid, attrs: hub.publish("network", action, nid, attrs))
    service.dns = EmbeddedDNS(service.dns_lookup, service.dns_upstreams, reverse=service.dns_reverse)
    service.dns.start()
    return service


def build_services(cfg: DaemonConfig) -> Services:
    """Everything a request needs, or a :class:`barge.errors.BargeError` saying why not."""
    from barge.containers.service import ContainerService
    from barge.containers.store import ContainerStore
    from barge.daemon.jobs import archive as archive_jobs
    from barge.daemon.jobs import containers as container_jobs
    from barge.daemon.jobs import events as event_jobs
    from barge.daemon.jobs import exec as exec_jobs
    from barge.daemon.jobs import images as image_jobs
    from barge.daemon.jobs import networks as network_jobs
    from barge.daemon.jobs import registry as registry_jobs
    from barge.daemon.jobs import system as system_jobs
    from barge.daemon.jobs import volumes as volume_jobs
    from barge.graph.store import ImageStore

    prepare_dirs(cfg)
    selection = select_graph_driver(cfg)
    pm = make_plugin_manager()
    register_driver(pm, selection.plugin, "graph", selection.name)
    try:
        exec_name, exec_error = select_exec(cfg, pm)
        net_name, net_error = select_network(cfg, pm)
    except BaseException:
        pm.hook.barge_graph_cleanup()
        raise
    engine = Engine(pm)
    holder: list[ContainerService] = []
    store = ImageStore(cfg.data_root / "barge.db", pm, selection.name,
                       users=lambda image_id: holder[0].users(image_id) if holder else [])
    containers = None
    try:
        containers = ContainerService(
            store=ContainerStore(store.db, cfg.data_root, cfg.exec_root), images=store, pm=pm,
            graph_driver=selection.name, exec_driver=exec_name, exec_error=exec_error,
            seccomp_profile=cfg.seccomp_profile,
        )
        holder.append(containers)
        hub = event_jobs.make_hub(store, pm)
        containers.volumes = volume_jobs.make_store(store.db, cfg.data_root, hub)
        containers.networks = make_network_service(cfg, pm, store.db, hub, net_name, net_error)
        containers.networks.containers = containers
        store.recover()
        report = containers.recover()
        if any(report.values()):
            log.info("containers reconciled: %s", ", ".join(f"{k} {v}" for k, v in report.items() if v))
        selected = {"graph": selection.name}
        if exec_name:
            selected["exec"] = exec_name
        if net_name:
            selected["network"] = net_name
        reports = probe_drivers(cfg, selected=selected)
        if exec_name is None:
            reports.append(DriverReport("exec", cfg.exec_driver or DEFAULT_EXEC_DRIVER, "?", "not installed",
                                        exec_error))
        if net_name is None:
            reports.append(DriverReport("network", cfg.network.driver or DEFAULT_NETWORK_DRIVER, "?",
                                        "not installed", net_error))
        services = Services(
            config=cfg,
            pm=pm,
            engine=engine,
            graph_driver=selection.name,
            driver_reports=reports,
            images=store,
            containers=containers,
            networks=containers.networks,
            started_at=time.time(),
        )
        services.extra["engine_id"] = engine_id(cfg.data_root)
        services.extra["events"], services.extra["volumes"] = hub, containers.volumes
        system_jobs.register(engine, services)
        image_jobs.register(engine, services)
        container_jobs.register(engine, services)
        for module in (event_jobs, volume_jobs, network_jobs, registry_jobs, exec_jobs, archive_jobs):
            module.register(engine, services)
    except BaseException:
        if containers is not None:
            containers.close()
            if containers.networks is not None:
                containers.networks.close()
        store.close()
        pm.hook.barge_graph_cleanup()
        raise
    return services


def close_services(services: Services) -> None:
    """Release the drivers and the store; safe to call once at shutdown.

    Running containers keep running under their monitors; the next daemon
    reconciles them.
    """
    if services.containers is not None:
        services.containers.close()
    if services.networks is not None:
        services.networks.close()
    try:
        services.pm.hook.barge_graph_cleanup()
    finally:
        if services.images is not None:
            services.images.close()
