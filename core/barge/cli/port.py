"""``barge port CONTAINER [PRIVATE_PORT[/PROTO]]``: the published ports of a
container, read from its inspect's ``NetworkSettings.Ports`` as docker's
cli/command/container/port.go does."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from barge.cli.common import client, fail, handles_errors, out


def join_host_port(host: str, port: str) -> str:
    """Go's ``net.JoinHostPort``: an IPv6 host goes in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def port_lines(ports: dict | None, container: str, private: str | None = None) -> list[str]:
    """The lines docker prints, naturally sorted; a bad or unpublished private
    port is a ``ValueError`` carrying docker's message."""
    from barge.cli.networks import natural_key

    ports = ports or {}
    lines: list[str] = []
    if private:
        port, _, proto = private.partition("/")
        proto = proto or "tcp"
        if not port.isdigit() or int(port) > 65535:
            raise ValueError(f'Error: invalid port ({port}): strconv.ParseUint: parsing "{port}": '
                             + ("value out of range" if port.isdigit() else "invalid syntax"))
        key = f"{port}/{proto}"
        frontends = ports.get(key) or []
        if not frontends:
            raise ValueError(f"Error: No public port '{private}' published for {container}")  # as typed, as docker 28
        lines = [join_host_port(f.get("HostIp", ""), f.get("HostPort", "")) for f in frontends]
    else:
        for key, frontends in ports.items():
            for f in frontends or []:
                lines.append(f"{key} -> {join_host_port(f.get('HostIp', ''), f.get('HostPort', ''))}")
    return sorted(lines, key=natural_key)


@handles_errors
def port(
    ctx: typer.Context,
    container: Annotated[str, typer.Argument(metavar="CONTAINER", show_default=False)],
    private_port: Annotated[Optional[str], typer.Argument(metavar="[PRIVATE_PORT[/PROTO]]", show_default=False)] = None,
) -> None:
    """List port mappings or a specific mapping for the container."""
    info = client(ctx).inspect_container(container)
    try:
        lines = port_lines((info.get("NetworkSettings") or {}).get("Ports"), container, private_port)
    except ValueError as exc:
        raise fail(str(exc)) from None
    if lines:
        out("\n".join(lines) + "\n")


def register(app: typer.Typer, container_app: typer.Typer) -> None:
    from barge.cli.common import add_commands
    from barge.cli.dockerflags import DockerCommand

    add_commands({"": app, "container": container_app}, (("port", port, (), ("", "container")),), cls=DockerCommand)
