"""The daemon's command-line flags, declared once for both of its entry points.

``barge daemon`` (typer, :mod:`barge.cli.daemon`) and ``python -m
barge.daemon.main`` (argparse, what the test fixtures start) build their
options from :data:`FLAGS`, and both turn the values given into the
daemon's configuration with :func:`load`. No flag has a default of its own:
one not given leaves the value to the lower levels (environment, then
``daemon.toml``, then :class:`barge.config.DaemonConfig`'s defaults; see
:func:`barge.config.load_config`).

Kept light (no import beyond typing and dataclasses): the CLI reads it at every start.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:  # pragma: no cover
    from barge.config import DaemonConfig

#: What a flag takes: one value (str, int, path), a value per repetition
#: (list), nothing (flag: present means true), or on/off (switch: typer's
#: ``--icc/--no-icc``, argparse's ``--icc true|false``, as each took it before).
Kind = Literal["str", "int", "path", "list", "flag", "switch"]


@dataclass(frozen=True)
class Flag:
    """One daemon flag: its names, its help, and the configuration key it sets."""

    names: tuple[str, ...]
    #: :func:`barge.config.load_config`'s keyword; ``tls.<field>`` for a field of its ``tls`` table.
    key: str
    help: str
    kind: Kind = "str"

    @property
    def dest(self) -> str:
        """The flag's value's name in both parsers (an identifier)."""
        return self.key.replace(".", "_")


FLAGS: tuple[Flag, ...] = (
    Flag(("--config-file",), "config_file", "Daemon configuration file (TOML).", "path"),
    Flag(("-s", "--storage-driver"), "graph_driver", "Graph driver to use."),
    Flag(("--data-root",), "data_root", "Root directory of persistent state.", "path"),
    Flag(("--exec-root",), "exec_root", "Root directory of runtime state.", "path"),
    Flag(("-H", "--host"), "hosts", "Socket(s) to listen on.", "list"),
    Flag(("-p", "--pidfile"), "pidfile", "Path to use for the daemon PID file.", "path"),
    Flag(("--tlsverify",), "tls.verify", "Require clients to present a certificate signed by the CA.", "flag"),
    Flag(("--tlscacert",), "tls.cacert", "Trust certs signed only by this CA."),
    Flag(("--tlscert",), "tls.cert", "Path to TLS certificate file."),
    Flag(("--tlskey",), "tls.key", "Path to TLS key file."),
    Flag(("-b", "--bridge"), "bridge", "Interface of the default bridge network."),
    Flag(("--bip",), "bip", "The default bridge's address and subnet (CIDR)."),
    Flag(("--mtu",), "mtu", "MTU of container networks.", "int"),
    Flag(("--icc",), "enable_icc", "Inter-container communication on the default bridge.", "switch"),
    Flag(("--ip-masq",), "ip_masq", "Masquerade containers' outbound traffic.", "switch"),
    Flag(("--ipv6",), "ipv6", "Give the default bridge IPv6 (with --fixed-cidr-v6).", "flag"),
    Flag(("--fixed-cidr-v6",), "fixed_cidr_v6", "The default bridge's IPv6 subnet (CIDR)."),
    Flag(("--dns",), "dns", "DNS server for containers.", "list"),
    Flag(("--dns-search",), "dns_search", "DNS search domain for containers.", "list"),
    Flag(("--dns-opt",), "dns_options", "DNS option for containers.", "list"),
    Flag(("--default-address-pool",), "default_address_pools", "Address pool for new networks: base=CIDR,size=N.",
         "list"),
    Flag(("--network-opt",), "network_opts", "Network driver option: <driver>.<option>=<value>.", "list"),
    Flag(("--insecure-registry",), "insecure_registries",
         "Registry (host:port or CIDR) reached without TLS verification.", "list"),
    Flag(("--registry-mirror",), "registry_mirrors", "Mirror of docker.io to pull from first.", "list"),
    Flag(("--max-concurrent-downloads",), "max_concurrent_downloads", "Layers pulled at once (default 3).", "int"),
    Flag(("--max-concurrent-uploads",), "max_concurrent_uploads", "Layers pushed at once (default 5).", "int"),
    Flag(("--seccomp-profile",), "seccomp_profile",
         "Containers' default seccomp profile: builtin, unconfined, or a profile's path."),
    Flag(("-D", "--debug"), "debug", "Enable debug mode.", "flag"),
    Flag(("--label",), "labels", "Set key=value labels to the daemon.", "list"),
)


def load(values: Mapping[str, Any]) -> DaemonConfig:
    """The daemon's configuration from the flags' values (by :attr:`Flag.dest`; None: not given)."""
    from barge.config import load_config

    overrides: dict[str, Any] = {}
    tls: dict[str, Any] = {}
    for flag in FLAGS:
        value = values.get(flag.dest)
        if flag.kind == "list":
            value = list(value) if value else None
        table, _, field = flag.key.rpartition(".")
        if table == "tls":
            tls[field] = value
        else:
            overrides[flag.key] = value
    return load_config(tls=tls, **overrides)
