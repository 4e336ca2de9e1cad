"""Assembling the daemon's services from its configuration, and taking them down.

:func:`build_services` is the composition root: the one place services
are built, each given its dependencies as constructor arguments, nothing
attached afterwards. Order matters: directories, then the graph driver (a
named driver that cannot work stops everything here, before any socket is
opened), the exec and network drivers, the database, the container records
and their runtime table (shared by the network and container services),
the image store, the event hub, the volume store, the network service, the
container service; then the stores reconcile what a killed daemon left
half-done (and the containers still running under their monitors) before
any request is served, and the jobs are registered.

The exec driver: the one configuration names, else ``native``. A named
driver that cannot load stops the daemon; the default one merely missing
(not installed) lets the daemon start without containers, and every
container endpoint answers 501 "no exec driver: <reason>".
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import barge
from barge.config import DaemonConfig
from barge.daemon.services import Services
from barge.engine import Engine
from barge.engine.plugins import (
    DEFAULT_EXEC_DRIVER,
    DEFAULT_NETWORK_DRIVER,
    DriverReport,
    find_drivers,
    make_plugin_manager,
    probe_drivers,
    register_driver,
    select_exec_driver,
    select_graph_driver,
    select_network_driver,
)

if TYPE_CHECKING:  # pragma: no cover
    from barge.db import Database
    from barge.dockerplugins.service import PluginService
    from barge.network.service import NetworkService
    from barge.volumes import VolumeStore

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


def release_leftover_views(cfg: DaemonConfig) -> None:
    """The temporary views of layers (cp, commit, copy-up, builds) a killed daemon left mounted: no job
    runs yet, so every one is a leftover."""
    from barge.mount import leftover_views, release_view

    for view in leftover_views((cfg.data_root, cfg.exec_root)):
        log.info("unmounting %s, left mounted by a daemon that was killed", view)
        release_view(view)


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


def make_network_service(cfg: DaemonConfig, pm, db, hub, driver: str | None, error: str,
                         table) -> "NetworkService":
    """The network service's pieces, in their order (see :mod:`barge.network.service`): networks and
    the resolver on the container records, the embedded DNS server answering from the resolver, the
    endpoints (what the container service calls, start to exit), and attachments (connect and
    disconnect, under the containers' locks)."""
    from barge.containers.files import host_nameservers
    from barge.network.attachments import Attachments
    from barge.network.dns import EmbeddedDNS
    from barge.network.endpoints import Endpoints
    from barge.network.networks import Networks
    from barge.network.resolver import Resolver
    from barge.network.service import NetworkService
    from barge.network.store import NetworkStore

    store, net_cfg, records = NetworkStore(db), cfg.network, table.store
    networks = Networks(store=store, cfg=net_cfg, pm=pm, driver=driver, containers=records, driver_error=error,
                        emit=lambda action, nid, attrs: hub.publish("network", action, nid, attrs))
    resolver = Resolver(store=store, cfg=net_cfg, containers=records, host_nameservers=host_nameservers)
    dns = EmbeddedDNS(resolver.lookup, resolver.upstreams, reverse=resolver.reverse)
    dns.start()
    endpoints = Endpoints(store=store, networks=networks, pm=pm, cfg=net_cfg, exec_root=cfg.exec_root, dns=dns)
    attachments = Attachments(store=store, networks=networks, endpoints=endpoints, containers=records, locks=table)
    return NetworkService(networks=networks, attachments=attachments, endpoints=endpoints)


def make_volume_store(db, data_root: Path, hub, plugins: "PluginService") -> "VolumeStore":
    """The volume store, after removing what a killed daemon left (call before serving); volume
    drivers other than ``local`` are the plugin service's."""
    from barge.volumes import VolumeStore

    store = VolumeStore(db, data_root, emit=hub.volume_event, drivers=plugins.volume_driver,
                        listing=plugins.volume_drivers)
    store.recover()
    return store


def make_plugin_service(cfg: DaemonConfig, pm, db, hub, exec_name: str | None, exec_error: str,
                        reports: list[DriverReport]) -> "PluginService":
    """The plugin service: managed plugins' records read (what a cut-short create left removed), the
    legacy plugins' directories, and the runner when there is an exec driver. The enabled plugins are
    running when it returns, before the containers that use their volumes are reconciled."""
    from barge.dockerplugins.discovery import Discovery
    from barge.dockerplugins.managed import PluginStore
    from barge.dockerplugins.runner import PluginRunner
    from barge.dockerplugins.service import PluginService  # noqa: F811 - the class, at run time
    from barge.volumes.store import volumes_of_driver

    store = PluginStore(cfg.data_root / "plugins")
    store.load()
    runner = PluginRunner(pm, cfg.exec_root, cfg.data_root) if exec_name else None
    service = PluginService(
        store, runner, Discovery(cfg.plugin_socket_dir, tuple(cfg.plugin_spec_dirs)),
        emit=lambda action, pid, attrs: hub.publish("plugin", action, pid, attrs), docker_version=barge.__version__,
        volume_users=functools.partial(volumes_of_driver, db), reports=reports, exec_error=exec_error,
    )
    service.restore()
    return service


def driver_reports(cfg: DaemonConfig, graph: str, exec_name: str | None, exec_error: str, net_name: str | None,
                   net_error: str) -> list[DriverReport]:
    """Every driver found and its status (``info``'s BargeDrivers), the missing defaults with why."""
    selected = {"graph": graph}
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
    return reports


def register_jobs(services: Services) -> None:
    """Every job handler, each module given the services (it takes the ones it uses)."""
    from barge.daemon.jobs import (
        archive,
        build,
        containers,
        events,
        exec,
        images,
        networks,
        plugins,
        registry,
        system,
        volumes,
    )

    for module in (system, images, containers, events, volumes, networks, registry, exec, archive, build, plugins):
        module.register(services.engine, services)


def open_database(cfg: DaemonConfig) -> "Database":
    """The daemon's db, every store's tables created or migrated at open, in the order their references need."""
    from barge.builder.journal import SCHEMA as BUILDER
    from barge.containers.store import SCHEMA as CONTAINERS
    from barge.db import Database
    from barge.graph.schema import SCHEMA as GRAPH
    from barge.network.store import SCHEMA as NETWORKS
    from barge.registry.distmeta import SCHEMA as REGISTRY
    from barge.volumes.store import SCHEMA as VOLUMES

    return Database(cfg.data_root / "barge.db", (GRAPH, CONTAINERS, VOLUMES, NETWORKS, REGISTRY, BUILDER))


def default_log_config(cfg: DaemonConfig) -> dict:
    """The daemon's ``log_driver``/``log_opts`` as a LogConfig, checked as dockerd checks ``--log-opt`` at start."""
    from barge.errors import InvalidParameter
    from barge.logdriver import LogDriverError
    from barge.logdriver import validate as validate_log_config

    try:
        validate_log_config(cfg.log_driver, cfg.log_opts)
    except LogDriverError as exc:
        raise InvalidParameter(f"failed to set log opts: {exc}") from None
    return {"Type": cfg.log_driver, "Config": dict(cfg.log_opts)}


def make_builder(images, containers, pm, db):
    """The classic builder, after removing what builds a killed daemon left (step containers, work dirs)."""
    from barge.builder.journal import BuildJournal
    from barge.builder.service import BuildService

    builder = BuildService(images, containers, pm, BuildJournal(db), images.tmp_dir)
    leftovers = builder.recover()
    if any(leftovers.values()):
        log.info("builds a killed daemon left: removed %s", ", ".join(f"{v} {k}" for k, v in leftovers.items() if v))
    return builder


def build_services(cfg: DaemonConfig) -> Services:
    """Everything a request needs, or a :class:`barge.errors.BargeError` saying why not.

    The composition root: every service is built here, once, its
    dependencies passed to its constructor, in dependency order. The
    containers <-> networks need is met by building what both share first:
    the container records and their runtime table (locks), on which the
    network service and then the container service are built.
    Long on purpose: the order of construction is the point, read in one place.
    """
    from barge.containers.events import EventsHub
    from barge.containers.runtime import RuntimeTable
    from barge.containers.service import ContainerService
    from barge.containers.store import ContainerStore
    from barge.daemon.jobs.registry import clean_leftovers
    from barge.graph.store import ImageStore
    from barge.volumes.copyup import prepare_volumes

    prepare_dirs(cfg)
    release_leftover_views(cfg)
    selection = select_graph_driver(cfg)
    pm = make_plugin_manager()
    register_driver(pm, selection.plugin, "graph", selection.name)
    with contextlib.ExitStack() as undo:  # what is built so far, taken down if a later step fails
        undo.callback(pm.hook.barge_graph_cleanup)
        exec_name, exec_error = select_exec(cfg, pm)
        net_name, net_error = select_network(cfg, pm)
        db = open_database(cfg)
        undo.callback(db.close)
        table = RuntimeTable(ContainerStore(db, cfg.data_root, cfg.exec_root))
        images = ImageStore(db, pm, selection.name, users=table.store.users)
        hub = EventsHub(images)
        pm.register(hub, name="barge-events")  # before containers are reconciled, so it sees it
        reports = driver_reports(cfg, selection.name, exec_name, exec_error, net_name, net_error)
        plugins = make_plugin_service(cfg, pm, db, hub, exec_name, exec_error, reports)  # enabled ones running
        volumes = make_volume_store(db, cfg.data_root, hub, plugins)
        networks = make_network_service(cfg, pm, db, hub, net_name, net_error, table)
        undo.callback(networks.close)
        containers = ContainerService(
            table=table, images=images, pm=pm, graph_driver=selection.name, exec_driver=exec_name,
            exec_error=exec_error, seccomp_profile=cfg.seccomp_profile, networking=networks.endpoints,
            volumes=volumes, copy_up=functools.partial(prepare_volumes, volumes), default_log=default_log_config(cfg),
        )
        undo.callback(containers.close)
        images.recover()
        report = containers.recover()
        if any(report.values()):
            log.info("containers reconciled: %s", ", ".join(f"{k} {v}" for k, v in report.items() if v))
        clean_leftovers(cfg.data_root)
        builder = make_builder(images, containers, pm, db)
        pm.register(volumes, name="barge-volumes")  # unmount events at a container's die
        pm.register(containers.execs, name="barge-exec")  # forgets a removed container's exec instances
        pm.register(containers.health, name="barge-health")  # probes start and stop with their containers
        containers.health.resume()
        services = Services(
            config=cfg, pm=pm, engine=Engine(pm), graph_driver=selection.name, engine_id=engine_id(cfg.data_root),
            db=db, images=images, containers=containers, networks=networks, volumes=volumes, events=hub,
            builder=builder, plugins=plugins, driver_reports=reports, started_at=time.time(),
        )
        register_jobs(services)
        undo.pop_all()
    return services


def close_services(services: Services) -> None:
    """Release the drivers and the store; safe to call once at shutdown.

    Running containers keep running under their monitors; the next daemon
    reconciles them.
    """
    services.containers.close()
    services.networks.close()
    try:
        services.pm.hook.barge_graph_cleanup()
    finally:
        services.images.close()
        services.db.close()
