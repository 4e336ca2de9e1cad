"""Finding, loading and selecting drivers; building the plugin manager.

Three steps, as flake8 loads its plugins: *find* entry points without
importing them, *load* one (a failure carries the package's name), *select*
the driver of each kind that configuration asks for. stevedore picks the one
driver by name; pluggy then dispatches hooks to it and to any extension
plugins from the ``barge.plugins`` group.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any

import pluggy

from barge.config import DaemonConfig
from barge.engine import hookspecs
from barge.errors import BargeError, DriverLoadError, DriverNotSupported

log = logging.getLogger(__name__)

GRAPH_GROUP = "barge.graph_drivers"
NETWORK_GROUP = "barge.network_drivers"
EXEC_GROUP = "barge.exec_drivers"
EXTENSION_GROUP = "barge.plugins"
DRIVER_GROUPS = {"graph": GRAPH_GROUP, "network": NETWORK_GROUP, "exec": EXEC_GROUP}

#: Automatic selection tries these in order; others are used only when named.
GRAPH_PRIORITY = ("overlay", "btrfs", "vfs")
DEFAULT_NETWORK_DRIVER = "bridge"


@dataclass(frozen=True)
class FoundDriver:
    """An entry point seen, not yet imported."""

    kind: str
    name: str
    value: str
    package: str

    @classmethod
    def from_entry_point(cls, kind: str, ep: EntryPoint) -> "FoundDriver":
        dist = getattr(ep, "dist", None)
        package = f"{dist.name} {dist.version}" if dist is not None else "?"
        return cls(kind, ep.name, ep.value, package)


@dataclass
class DriverReport:
    """What ``barge plugins`` and ``/info`` say about one driver."""

    kind: str
    name: str
    package: str
    status: str  # "selected", "available", "not supported", "error", "not probed"
    reason: str = ""

    def to_dict(self) -> dict[str, str]:
        return {
            "Kind": self.kind,
            "Name": self.name,
            "Package": self.package,
            "Status": self.status,
            "Reason": self.reason,
        }


def find_drivers(kind: str) -> list[FoundDriver]:
    """Every driver of ``kind`` installed, by entry point, imported or not."""
    group = DRIVER_GROUPS[kind]
    found = [FoundDriver.from_entry_point(kind, ep) for ep in entry_points(group=group)]
    return sorted(found, key=lambda d: d.name)


def make_plugin_manager(load_extensions: bool = True) -> pluggy.PluginManager:
    """A fresh plugin manager with barge's hook specs and extension plugins."""
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    hookspecs.add_hookspecs(pm)
    if load_extensions:
        for ep in entry_points(group=EXTENSION_GROUP):
            try:
                plugin = ep.load()
            except Exception as exc:  # a failed extension is an error the user sees
                raise DriverLoadError(f"extension plugin {ep.name} ({ep.value}) failed to load: {exc}") from exc
            pm.register(plugin, name=f"ext:{ep.name}")
    return pm


def _contract_version(kind: str) -> int:
    if kind == "graph":
        from barge.graphdriver import API_VERSION
    elif kind == "network":
        from barge.netdriver import API_VERSION
    else:
        from barge.execdriver import API_VERSION
    return API_VERSION


def load_driver_plugin(kind: str, name: str, home: Path, options: dict[str, Any]) -> Any:
    """Import and construct driver ``name`` of ``kind`` through stevedore.

    Raises :class:`DriverNotSupported` when the driver cannot work here,
    :class:`DriverLoadError` when it is not installed or fails to load.
    """
    from stevedore import driver as sd_driver
    from stevedore.exception import NoMatches

    home.mkdir(parents=True, exist_ok=True)
    try:
        manager = sd_driver.DriverManager(
            namespace=DRIVER_GROUPS[kind],
            name=name,
            invoke_on_load=True,
            invoke_kwds={"home": home, "options": options},
            on_load_failure_callback=_reraise,
        )
    except NoMatches:
        known = ", ".join(d.name for d in find_drivers(kind)) or "none"
        raise DriverLoadError(f"{kind} driver {name!r} is not installed (found: {known})") from None
    except DriverNotSupported:
        _remove_if_empty(home)
        raise
    except BargeError:
        raise
    except Exception as exc:
        raise DriverLoadError(f"{kind} driver {name}: failed to load: {type(exc).__name__}: {exc}") from exc
    plugin: Any = manager.driver
    version = getattr(plugin.driver, "api_version", None)
    expected = _contract_version(kind)
    if version != expected:
        raise DriverLoadError(f"{kind} driver {name}: built for contract version {version}, barge speaks {expected}")
    return plugin


def load_graph_plugin(name: str, home: Path, options: dict[str, Any]) -> Any:
    """Import and construct the graph driver ``name`` (see :func:`load_driver_plugin`)."""
    return load_driver_plugin("graph", name, home, options)


def _reraise(manager, entrypoint, exc):
    raise exc


def _remove_if_empty(path: Path) -> None:
    try:
        path.rmdir()
    except OSError:
        pass


def prior_graph_state(data_root: Path) -> list[str]:
    """Names of drivers that left layers under ``<data_root>/graph``."""
    root = data_root / "graph"
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and any(p.iterdir()))


@dataclass
class GraphSelection:
    plugin: Any
    name: str
    reports: list[DriverReport]


def select_graph_driver(cfg: DaemonConfig) -> GraphSelection:
    """Pick the graph driver by the precedence in the design.

    Named (command line, environment, config file): that driver or a hard
    error with its reason. Automatic: prior on-disk state of exactly one
    driver wins; state of several is an error; else the first supported of
    :data:`GRAPH_PRIORITY`.
    """
    found = {d.name: d for d in find_drivers("graph")}
    reports: dict[str, DriverReport] = {
        n: DriverReport("graph", n, d.package, "not probed") for n, d in found.items()
    }

    def attempt(name: str):
        report = reports.setdefault(name, DriverReport("graph", name, "?", "not installed"))
        try:
            plugin = load_graph_plugin(name, cfg.data_root / "graph" / name, cfg.driver_options(name))
        except DriverNotSupported as exc:
            report.status, report.reason = "not supported", exc.reason
            raise
        except DriverLoadError as exc:
            report.status, report.reason = "error", str(exc)
            raise
        report.status = "selected"
        return plugin

    if cfg.graph_driver:
        name = cfg.graph_driver
        plugin = attempt(name)  # a named driver that fails stops the daemon
        return GraphSelection(plugin, name, list(reports.values()))

    prior = [n for n in prior_graph_state(cfg.data_root) if n in found]
    if len(prior) > 1:
        raise DriverLoadError(
            f"{cfg.data_root}/graph holds layers of several graph drivers ({', '.join(prior)}); "
            "pick one with --storage-driver, DOCKER_DRIVER or [graph] driver in daemon.toml"
        )
    candidates = prior or [n for n in GRAPH_PRIORITY if n in found]
    errors = []
    for name in candidates:
        try:
            plugin = attempt(name)
        except (DriverNotSupported, DriverLoadError) as exc:
            if prior:
                raise
            errors.append(str(exc))
            continue
        return GraphSelection(plugin, name, list(reports.values()))
    detail = "; ".join(errors) or f"none of {', '.join(GRAPH_PRIORITY)} is installed"
    raise DriverLoadError(f"no usable graph driver: {detail}")


#: The exec driver used when configuration names none.
DEFAULT_EXEC_DRIVER = "native"


def _select_named(kind: str, name: str, home: Path, options: dict[str, Any]) -> GraphSelection:
    """Load driver ``name`` of ``kind``; its report says why when it cannot."""
    found = {d.name: d for d in find_drivers(kind)}
    report = DriverReport(kind, name, found[name].package if name in found else "?", "selected")
    try:
        plugin = load_driver_plugin(kind, name, home, options)
    except DriverNotSupported as exc:
        report.status, report.reason = "not supported", exc.reason
        raise
    except DriverLoadError as exc:
        report.status, report.reason = "error", str(exc)
        raise
    return GraphSelection(plugin, name, [report])


def select_exec_driver(cfg: DaemonConfig) -> GraphSelection:
    """Load the exec driver configuration names (default ``native``).

    There is no automatic fallback: a container engine that cannot run
    containers the way the user asked must say so, not pick another way.
    """
    name = cfg.exec_driver or DEFAULT_EXEC_DRIVER
    return _select_named("exec", name, cfg.exec_root / "exec" / name, cfg.exec_options(name))


def select_network_driver(cfg: DaemonConfig) -> GraphSelection:
    """Load the network driver configuration names (default ``bridge``); no fallback either."""
    name = cfg.network.driver or DEFAULT_NETWORK_DRIVER
    return _select_named("network", name, cfg.exec_root / "network" / name, cfg.network.driver_options(name))


def register_driver(pm: pluggy.PluginManager, plugin: Any, kind: str, name: str) -> None:
    """Register the chosen driver and fail loudly on a misspelled hook."""
    pm.register(plugin, name=f"{kind}:{name}")
    pm.check_pending()


def probe_drivers(cfg: DaemonConfig, selected: dict[str, str] | None = None) -> list[DriverReport]:
    """Status of every driver found, for ``barge plugins`` and ``/info``.

    Probing constructs a driver in a scratch home under the data root, so it
    never touches another driver's layers; the selected driver is not probed
    again.
    """
    import tempfile

    selected = selected or {}
    reports = []
    for kind in DRIVER_GROUPS:
        for found in find_drivers(kind):
            report = DriverReport(kind, found.name, found.package, "available")
            if selected.get(kind) == found.name:
                report.status = "selected"
            elif kind == "graph":
                scratch_parent = cfg.data_root if cfg.data_root.is_dir() else None
                try:
                    with tempfile.TemporaryDirectory(prefix=".probe-", dir=scratch_parent) as scratch:
                        try:
                            plugin = load_graph_plugin(found.name, Path(scratch) / found.name,
                                                       cfg.driver_options(found.name))
                            plugin.driver.cleanup()
                        except DriverNotSupported as exc:
                            report.status, report.reason = "not supported", exc.reason
                        except DriverLoadError as exc:
                            report.status, report.reason = "error", str(exc)
                except OSError as exc:  # a full disk: the daemon still starts, the report says why
                    report.status, report.reason = "error", f"cannot probe it: {exc.strerror}: {exc.filename}"
            reports.append(report)
    return reports


def main() -> None:  # pragma: no cover - exercised through `barge plugins`
    """Print driver reports as JSON: the CLI runs this in a child process so
    that the client itself never imports driver code."""
    import json
    import sys

    from barge.config import load_config

    cfg = load_config()
    json.dump([r.to_dict() for r in probe_drivers(cfg)], sys.stdout)


if __name__ == "__main__":  # pragma: no cover
    main()
