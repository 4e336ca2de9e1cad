"""``barge daemon``: the command line level of the daemon's configuration.

The file and environment levels (``daemon.toml``, ``BARGE_GRAPH_DRIVER``,
``DOCKER_DRIVER``) are read by :func:`barge.config.load_config`; the server
is imported only here, when the command runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, List, Optional

import typer

from barge.cli.common import fail


def daemon(
    config_file: Annotated[Optional[Path], typer.Option("--config-file", help="Daemon configuration file (TOML).")] = None,
    storage_driver: Annotated[Optional[str], typer.Option("-s", "--storage-driver", help="Graph driver to use.")] = None,
    data_root: Annotated[Optional[Path], typer.Option("--data-root", help="Root directory of persistent state.")] = None,
    exec_root: Annotated[Optional[Path], typer.Option("--exec-root", help="Root directory of runtime state.")] = None,
    host: Annotated[Optional[List[str]], typer.Option("-H", "--host", help="Socket(s) to listen on.")] = None,
    pidfile: Annotated[Optional[Path], typer.Option("-p", "--pidfile", help="Path to use for the daemon PID file.")] = None,
    tlsverify: Annotated[Optional[bool], typer.Option("--tlsverify", help="Require clients to present a certificate signed by the CA.")] = None,
    tlscacert: Annotated[Optional[str], typer.Option("--tlscacert", help="Trust certs signed only by this CA.")] = None,
    tlscert: Annotated[Optional[str], typer.Option("--tlscert", help="Path to TLS certificate file.")] = None,
    tlskey: Annotated[Optional[str], typer.Option("--tlskey", help="Path to TLS key file.")] = None,
    bridge: Annotated[Optional[str], typer.Option("-b", "--bridge", help="Interface of the default bridge network.")] = None,
    bip: Annotated[Optional[str], typer.Option("--bip", help="The default bridge's address and subnet (CIDR).")] = None,
    mtu: Annotated[Optional[int], typer.Option("--mtu", help="MTU of container networks.")] = None,
    icc: Annotated[Optional[bool], typer.Option("--icc/--no-icc", help="Inter-container communication on the default bridge.")] = None,
    ip_masq: Annotated[Optional[bool], typer.Option("--ip-masq/--no-ip-masq", help="Masquerade containers' outbound traffic.")] = None,
    dns: Annotated[Optional[List[str]], typer.Option("--dns", help="DNS server for containers.")] = None,
    dns_search: Annotated[Optional[List[str]], typer.Option("--dns-search", help="DNS search domain for containers.")] = None,
    dns_opt: Annotated[Optional[List[str]], typer.Option("--dns-opt", help="DNS option for containers.")] = None,
    default_address_pool: Annotated[Optional[List[str]], typer.Option("--default-address-pool", help="Address pool for new networks: base=CIDR,size=N.")] = None,
    network_opt: Annotated[Optional[List[str]], typer.Option("--network-opt", help="Network driver option: <driver>.<option>=<value>.")] = None,
    insecure_registry: Annotated[Optional[List[str]], typer.Option("--insecure-registry", help="Registry (host:port or CIDR) reached without TLS verification.")] = None,
    registry_mirror: Annotated[Optional[List[str]], typer.Option("--registry-mirror", help="Mirror of docker.io to pull from first.")] = None,
    max_concurrent_downloads: Annotated[Optional[int], typer.Option("--max-concurrent-downloads", help="Layers pulled at once (default 3).")] = None,
    max_concurrent_uploads: Annotated[Optional[int], typer.Option("--max-concurrent-uploads", help="Layers pushed at once (default 5).")] = None,
    seccomp_profile: Annotated[Optional[str], typer.Option("--seccomp-profile", help="Containers' default seccomp profile: builtin, unconfined, or a profile's path.")] = None,
    debug: Annotated[Optional[bool], typer.Option("-D", "--debug", help="Enable debug mode.")] = None,
) -> None:
    """Run the barge daemon."""
    from barge.config import load_config
    from barge.errors import BargeError

    try:
        cfg = load_config(
            config_file,
            graph_driver=storage_driver,
            data_root=data_root,
            exec_root=exec_root,
            hosts=list(host) if host else None,
            pidfile=pidfile,
            debug=debug,
            seccomp_profile=seccomp_profile,
            bridge=bridge,
            bip=bip,
            mtu=mtu,
            enable_icc=icc,
            ip_masq=ip_masq,
            dns=dns,
            dns_search=dns_search,
            dns_options=dns_opt,
            default_address_pools=default_address_pool,
            network_opts=network_opt,
            insecure_registries=insecure_registry,
            registry_mirrors=registry_mirror,
            max_concurrent_downloads=max_concurrent_downloads,
            max_concurrent_uploads=max_concurrent_uploads,
            tls={"verify": tlsverify, "cacert": tlscacert, "cert": tlscert, "key": tlskey},
        )
    except BargeError as exc:
        raise fail(str(exc)) from None
    from barge.daemon.main import serve

    code = serve(cfg)
    raise typer.Exit(code or 0)


def register(app: typer.Typer) -> None:
    app.command("daemon")(daemon)
