"""``barge``: the typer application and its global options.

Commands live in small modules (containers, run, copy, commit, events, volumes,
images, build, system, daemon) and register
themselves here. Importing this module must stay cheap: no aiohttp, pluggy,
stevedore, server, graph or driver imports (tests/unit/test_cli_imports.py
checks it); typer is configured so rich is never imported.
"""

from __future__ import annotations

import os
from typing import Annotated, Optional

import typer

from barge import __version__
from barge.cli import common

app = typer.Typer(
    name="barge",
    help="A container engine that speaks the Docker Engine API.",
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(value: bool) -> None:
    if value:
        common.out(f"barge version {__version__}\n")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    host: Annotated[
        Optional[str],
        typer.Option("-H", "--host", envvar="BARGE_HOST", help="Daemon socket to connect to (unix:///path, tcp://host:port)."),
    ] = None,
    tls: Annotated[bool, typer.Option("--tls", help="Use TLS; implied by --tlsverify.")] = False,
    tlsverify: Annotated[
        bool, typer.Option("--tlsverify", envvar="BARGE_TLS_VERIFY", help="Use TLS and verify the remote.")
    ] = False,
    tlscacert: Annotated[Optional[str], typer.Option("--tlscacert", help="Trust certs signed only by this CA.")] = None,
    tlscert: Annotated[Optional[str], typer.Option("--tlscert", help="Path to TLS certificate file.")] = None,
    tlskey: Annotated[Optional[str], typer.Option("--tlskey", help="Path to TLS key file.")] = None,
    debug: Annotated[bool, typer.Option("-D", "--debug", help="Enable debug mode.")] = False,
    version: Annotated[
        bool,
        typer.Option("--version", "-v", callback=_print_version, is_eager=True, help="Print version information and quit."),
    ] = False,
) -> None:
    """A container engine that speaks the Docker Engine API."""
    ctx.obj = common.GlobalOptions(host, tls, tlsverify, tlscacert, tlscert, tlskey, debug)
    if debug:
        os.environ.setdefault("BARGE_DEBUG", "1")


from barge.cli import (  # noqa: E402  (they add commands to `app`)
    build,
    commit,
    containers,
    copy,
    daemon,
    events,
    images,
    networks,
    port,
    registry,
    registry_commands,
    system,
    volumes,
)

containers.register(app)
copy.register(app, containers.container_app)
commit.register(app, containers.container_app)
events.register(app, system.system_app)
volumes.register(app)
networks.register(app)
port.register(app, containers.container_app)
images.register(app)
build.register(app, images.image_app)
system.register(app)
daemon.register(app)
registry_commands.register(app)
registry.register(app)


def main() -> None:
    """Console entry point: the click tree is built lazily (see ``lazy``)."""
    from barge.cli.lazy import command

    command(app)(prog_name="barge")
