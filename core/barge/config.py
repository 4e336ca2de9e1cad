"""Daemon configuration: defaults < ``daemon.toml`` < environment < command line.

The file (``/etc/barge/daemon.toml``, or ``--config-file``/``BARGE_CONFIG``)
looks like::

    data_root = "/var/lib/barge"
    exec_root = "/run/barge"
    hosts = ["unix:///run/barge/barge.sock"]
    seccomp_profile = "builtin"   # containers' default: builtin (Docker's), unconfined, or a profile's path
    log_driver = "json-file"      # containers' log driver when their LogConfig names none
    log_opts = {max-size = "10m"} # its options (dockerd's --log-driver and --log-opt)
    labels = ["zone=a"]           # the daemon's labels (--label); debug, labels and [registry] reload on SIGHUP
    plugin_socket_dir = "/run/docker/plugins"    # Docker's legacy plugins: <name>.sock here ...
    plugin_spec_dirs = ["/etc/docker/plugins", "/usr/lib/docker/plugins"]  # ... or <name>.spec|.json here

    [graph]
    driver = "overlay"

    [graph.overlay]      # the driver's own options
    ...

    [exec]
    driver = "native"

    [network]
    driver = "bridge"    # the network driver (barge.network_drivers)
    bridge = "barge0"    # the default bridge's interface (--bridge)
    bip = "172.17.0.1/16"  # its gateway address and subnet (--bip; default: a free pool)
    mtu = 1500
    enable_icc = true    # containers on one network may talk to each other
    ip_masq = true       # masquerade outbound traffic
    ipv6 = false         # the default bridge is dual-stack (--ipv6) ...
    fixed_cidr_v6 = "fd00:17::/64"  # ... on this IPv6 subnet (--fixed-cidr-v6)
    dns = ["10.0.0.2"]   # containers' resolvers when they name none (default: the host's)
    dns_search = []
    dns_options = []
    default_address_pools = [{base = "172.17.0.0/12", size = 16}]

    [network.options.bridge]   # the driver's own options

    [registry]
    insecure_registries = ["myregistry.local:5000", "10.0.0.0/8"]  # loopback always is
    registry_mirrors = ["https://mirror.example"]                   # for docker.io
    max_concurrent_downloads = 3
    max_concurrent_uploads = 5

    [tls]
    verify = true
    cacert = "/etc/barge/ca.pem"
    cert = "/etc/barge/cert.pem"
    key = "/etc/barge/key.pem"
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from barge.errors import InvalidParameter

DEFAULT_CONFIG_FILE = Path("/etc/barge/daemon.toml")
DEFAULT_SOCKET = "unix:///run/barge/barge.sock"


@dataclass
class TLSConfig:
    verify: bool = False
    cacert: str | None = None
    cert: str | None = None
    key: str | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.cert and self.key)


@dataclass
class NetworkConfig:
    """``[network]``: the network driver and the default bridge network."""

    driver: str | None = None
    bridge: str = "barge0"
    bip: str | None = None
    mtu: int = 0
    enable_icc: bool = True
    ip_masq: bool = True
    #: the default bridge is dual-stack (daemon.json ``ipv6``), on ``fixed_cidr_v6`` (``fixed-cidr-v6``)
    ipv6: bool = False
    fixed_cidr_v6: str | None = None
    #: daemon-wide ``--dns``, ``--dns-search``, ``--dns-option`` (Docker's daemon.json ``dns``...)
    dns: list[str] = field(default_factory=list)
    dns_search: list[str] = field(default_factory=list)
    dns_options: list[str] = field(default_factory=list)
    #: ``[{"base": "172.17.0.0/16", "size": 16}, ...]``; empty: Docker's defaults
    default_address_pools: list[dict[str, Any]] = field(default_factory=list)
    #: per-driver option tables: ``{"bridge": {...}}``
    options_tables: dict[str, dict[str, Any]] = field(default_factory=dict)

    def driver_options(self, name: str) -> dict[str, Any]:
        return dict(self.options_tables.get(name, {}))


_NETWORK_KEYS = {"driver": str, "bridge": str, "bip": str, "mtu": int, "enable_icc": bool, "ip_masq": bool,
                 "ipv6": bool, "fixed_cidr_v6": str,
                 "dns": list, "dns_search": list, "dns_options": list, "default_address_pools": list}


@dataclass
class RegistrySettings:
    """``[registry]``: how the daemon reaches registries (Docker's daemon.json keys)."""

    insecure_registries: list[str] = field(default_factory=list)
    registry_mirrors: list[str] = field(default_factory=list)
    max_concurrent_downloads: int = 3
    max_concurrent_uploads: int = 5


_REGISTRY_KEYS = {"insecure_registries": list, "registry_mirrors": list, "max_concurrent_downloads": int,
                  "max_concurrent_uploads": int}


@dataclass
class DaemonConfig:
    data_root: Path = Path("/var/lib/barge")
    exec_root: Path = Path("/run/barge")
    hosts: list[str] = field(default_factory=lambda: [DEFAULT_SOCKET])
    pidfile: Path | None = None
    #: Graph driver the user asked for (None: automatic), and where the ask came from.
    graph_driver: str | None = None
    graph_driver_source: str = "auto"
    #: Per-driver option tables: ``{"overlay": {...}}``.
    graph_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Exec driver (None: ``native``) and per-driver option tables.
    exec_driver: str | None = None
    exec_options_tables: dict[str, dict[str, Any]] = field(default_factory=dict)
    network: "NetworkConfig" = field(default_factory=lambda: NetworkConfig())
    registry: RegistrySettings = field(default_factory=RegistrySettings)
    tls: TLSConfig = field(default_factory=TLSConfig)
    debug: bool = False
    #: the daemon's labels (``key=value``), in ``info`` (dockerd's ``--label``)
    labels: list[str] = field(default_factory=list)
    config_file: Path | None = None
    #: the keys given on the command line: a reload from the file leaves them as they are
    command_line: frozenset[str] = frozenset()
    #: Containers' seccomp profile: ``builtin`` (Docker's default), ``unconfined``, or a profile's path.
    seccomp_profile: str | None = None
    #: Containers' log driver and its options when their LogConfig names none (dockerd's --log-driver/--log-opt).
    log_driver: str = "json-file"
    log_opts: dict[str, str] = field(default_factory=dict)
    #: Where Docker's legacy plugins are found (dockerd's directories; tests move them).
    plugin_socket_dir: Path = Path("/run/docker/plugins")
    plugin_spec_dirs: list[Path] = field(default_factory=lambda: [Path("/etc/docker/plugins"),
                                                                  Path("/usr/lib/docker/plugins")])

    @property
    def pid_path(self) -> Path:
        return self.pidfile or self.exec_root / "barge.pid"

    def driver_options(self, name: str) -> dict[str, Any]:
        return dict(self.graph_options.get(name, {}))

    def exec_options(self, name: str) -> dict[str, Any]:
        return dict(self.exec_options_tables.get(name, {}))


def _read_file(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        return {}
    except tomllib.TOMLDecodeError as exc:
        raise InvalidParameter(f"{path}: invalid TOML: {exc}") from None


def _apply_file(cfg: DaemonConfig, data: Mapping[str, Any], path: Path) -> None:
    known = {f.name for f in fields(DaemonConfig)} | {"graph", "exec", "tls"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise InvalidParameter(f"{path}: unknown setting(s): {', '.join(unknown)}")
    if "data_root" in data:
        cfg.data_root = Path(data["data_root"])
    if "exec_root" in data:
        cfg.exec_root = Path(data["exec_root"])
    if "hosts" in data:
        hosts = data["hosts"]
        cfg.hosts = [hosts] if isinstance(hosts, str) else list(hosts)
    if "pidfile" in data:
        cfg.pidfile = Path(data["pidfile"])
    if "debug" in data:
        cfg.debug = bool(data["debug"])
    if "labels" in data:
        cfg.labels = check_labels(data["labels"], str(path))
    if "plugin_socket_dir" in data:
        cfg.plugin_socket_dir = Path(str(data["plugin_socket_dir"]))
    if "plugin_spec_dirs" in data:
        if not isinstance(data["plugin_spec_dirs"], list):
            raise InvalidParameter(f"{path}: plugin_spec_dirs must be a list of directories")
        cfg.plugin_spec_dirs = [Path(str(d)) for d in data["plugin_spec_dirs"]]
    if "seccomp_profile" in data:
        if not isinstance(data["seccomp_profile"], str):
            raise InvalidParameter(f"{path}: seccomp_profile must be a string (builtin, unconfined or a path)")
        cfg.seccomp_profile = data["seccomp_profile"]
    if "log_driver" in data:
        if not isinstance(data["log_driver"], str) or not data["log_driver"]:
            raise InvalidParameter(f"{path}: log_driver must be a log driver's name")
        cfg.log_driver = data["log_driver"]
    if "log_opts" in data:
        opts = data["log_opts"]
        if not isinstance(opts, dict) or not all(isinstance(v, str) for v in opts.values()):
            raise InvalidParameter(f"{path}: log_opts must be a table of strings")
        cfg.log_opts = dict(opts)
    graph = dict(data.get("graph", {}))
    driver = graph.pop("driver", None)
    if driver:
        cfg.graph_driver, cfg.graph_driver_source = str(driver), f"config file {path}"
    for name, table in graph.items():
        if not isinstance(table, dict):
            raise InvalidParameter(f"{path}: [graph] {name} must be a table [graph.{name}]")
        cfg.graph_options[name] = table
    execs = dict(data.get("exec", {}))
    if execs.get("driver"):
        cfg.exec_driver = str(execs.pop("driver"))
    for name, table in execs.items():
        if not isinstance(table, dict):
            raise InvalidParameter(f"{path}: [exec] {name} must be a table [exec.{name}]")
        cfg.exec_options_tables[name] = table
    _apply_network(cfg.network, dict(data.get("network", {})), path)
    _apply_registry(cfg.registry, dict(data.get("registry", {})), path)
    tls = data.get("tls", {})
    for key in ("verify", "cacert", "cert", "key"):
        if key in tls:
            setattr(cfg.tls, key, tls[key])


def check_labels(labels: Any, where: str) -> list[str]:
    """Daemon labels: strings ``key=value`` (dockerd's ``ValidateLabel``)."""
    if not isinstance(labels, list) or not all(isinstance(v, str) for v in labels):
        raise InvalidParameter(f"{where}: labels must be a list of strings")
    for label in labels:
        if "=" not in label:
            raise InvalidParameter(f"{where}: bad attribute format: {label}")
    return list(labels)


def _apply_registry(reg: RegistrySettings, table: dict[str, Any], path: Path) -> None:
    for key, kind in _REGISTRY_KEYS.items():
        if key in table:
            value = table.pop(key)
            if not isinstance(value, kind) or (kind is int and (isinstance(value, bool) or value < 1)):
                raise InvalidParameter(f"{path}: [registry] {key} must be a {'positive ' if kind is int else ''}"
                                       f"{kind.__name__}")
            setattr(reg, key, value)
    if table:
        raise InvalidParameter(f"{path}: [registry] unknown setting(s): {', '.join(sorted(table))}")


def _apply_network(net: NetworkConfig, table: dict[str, Any], path: Path) -> None:
    for key, kind in _NETWORK_KEYS.items():
        if key in table:
            value = table.pop(key)
            if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
                raise InvalidParameter(f"{path}: [network] {key} must be a {kind.__name__}")
            setattr(net, key, value)
    options = table.pop("options", {})
    if table:
        raise InvalidParameter(f"{path}: [network] unknown setting(s): {', '.join(sorted(table))}")
    for name, sub in dict(options).items():
        if not isinstance(sub, dict):
            raise InvalidParameter(f"{path}: [network.options] {name} must be a table [network.options.{name}]")
        net.options_tables[name] = sub
    for pool in net.default_address_pools:
        if not isinstance(pool, dict) or set(pool) != {"base", "size"}:
            raise InvalidParameter(f"{path}: [network] default_address_pools entries are {{base = \"CIDR\", size = N}}")


#: command-line flags of the network (Docker's dockerd flags) -> NetworkConfig fields
NETWORK_FLAGS = ("bridge", "bip", "mtu", "enable_icc", "ip_masq", "ipv6", "fixed_cidr_v6", "dns", "dns_search",
                 "dns_options")


def parse_pool(text: str) -> dict[str, Any]:
    """``base=10.10.0.0/16,size=24`` (``--default-address-pool``)."""
    fields_ = dict(part.partition("=")[::2] for part in text.split(","))
    try:
        return {"base": fields_["base"], "size": int(fields_["size"])}
    except (KeyError, ValueError):
        raise InvalidParameter(f"invalid --default-address-pool {text!r}: expected base=CIDR,size=N") from None


def _apply_network_flags(net: NetworkConfig, overrides: dict[str, Any]) -> None:
    for key in NETWORK_FLAGS:
        value = overrides.pop(key, None)
        if value is not None and value != []:
            setattr(net, key, list(value) if isinstance(value, (list, tuple)) else value)
    pools = overrides.pop("default_address_pools", None)
    if pools:
        net.default_address_pools = [parse_pool(p) for p in pools]
    for item in overrides.pop("network_opts", None) or []:
        key, sep, value = item.partition("=")
        driver, dot, name = key.partition(".")
        if not sep or not dot or not name:
            raise InvalidParameter(f"invalid --network-opt {item!r}: expected <driver>.<option>=<value>")
        net.options_tables.setdefault(driver, {})[name] = value


def load_config(
    config_file: Path | None = None,
    env: Mapping[str, str] | None = None,
    **overrides: Any,
) -> DaemonConfig:
    """Build the daemon's configuration with the precedence the design asks for.

    ``overrides`` are command-line values; ``None`` means "not given".
    """
    env = os.environ if env is None else env
    cfg = DaemonConfig()
    cfg.command_line = frozenset(k for k, v in overrides.items() if v is not None and v != [] and k != "tls")
    path = config_file or (Path(env["BARGE_CONFIG"]) if env.get("BARGE_CONFIG") else DEFAULT_CONFIG_FILE)
    cfg.config_file = path
    _apply_file(cfg, _read_file(path), path)

    for var in ("BARGE_GRAPH_DRIVER", "DOCKER_DRIVER"):
        if env.get(var):
            cfg.graph_driver, cfg.graph_driver_source = env[var], f"environment {var}"
            break

    if overrides.get("graph_driver"):
        cfg.graph_driver, cfg.graph_driver_source = overrides.pop("graph_driver"), "command line"
    _apply_network_flags(cfg.network, overrides)
    for key in ("insecure_registries", "registry_mirrors", "max_concurrent_downloads", "max_concurrent_uploads"):
        value = overrides.pop(key, None)
        if value is not None and value != []:
            setattr(cfg.registry, key, value)
    tls = overrides.pop("tls", None)
    if tls:
        for key, value in tls.items():
            if value is not None:
                setattr(cfg.tls, key, value)
    for key, value in overrides.items():
        if value is None or value == []:
            continue
        if key in ("data_root", "exec_root", "pidfile"):
            value = Path(value)
        elif key == "labels":
            value = check_labels(list(value), "--label")
        setattr(cfg, key, value)
    return cfg


#: What a reload (SIGHUP) reads again from the file: the settings dockerd reloads that barge has.
RELOADABLE = ("debug", "labels", "insecure_registries", "registry_mirrors", "max_concurrent_downloads",
              "max_concurrent_uploads")


def reload_file(cfg: DaemonConfig) -> None:
    """Read ``cfg.config_file`` again and take its :data:`RELOADABLE` settings, in place.

    The whole file is checked first (a bad file changes nothing: dockerd
    keeps its configuration then); a setting given on the command line
    keeps its value, as the command line wins at the start.
    """
    path = cfg.config_file or DEFAULT_CONFIG_FILE
    fresh = DaemonConfig()
    _apply_file(fresh, _read_file(path), path)
    for key in RELOADABLE:
        if key in cfg.command_line:
            continue
        if hasattr(cfg.registry, key):
            setattr(cfg.registry, key, getattr(fresh.registry, key))
        else:
            setattr(cfg, key, getattr(fresh, key))
