"""``barge volume create|ls|inspect|rm|prune`` with docker's flags, columns,
prompts and messages (cli/command/volume/*.go)."""

from __future__ import annotations

import sys
from typing import Annotated, List, Optional

import typer

from barge.cli.common import add_commands, client, fail, handles_errors, inspect_each, out, parse_filters

volume_app = typer.Typer(help="Manage volumes.", no_args_is_help=True, rich_markup_mode=None, add_completion=False)

VOLUME_TABLE = "table {{.Driver}}\t{{.Name}}"
VOLUME_QUIET = "{{.Name}}"
VOLUME_HEADERS = {
    "Name": "VOLUME NAME", "Driver": "DRIVER", "Scope": "SCOPE", "Mountpoint": "MOUNTPOINT", "Labels": "LABELS",
    "Links": "LINKS", "Size": "SIZE", "Group": "GROUP", "Availability": "AVAILABILITY", "Status": "STATUS",
}
UNUSED_WARNING = ("WARNING! This will remove anonymous local volumes not used by at least one container.\n"
                  "Are you sure you want to continue?")
ALL_WARNING = ("WARNING! This will remove all local volumes not used by at least one container.\n"
               "Are you sure you want to continue?")


def _pairs(values: list[str] | None, what: str) -> dict[str, str]:
    """``k=v`` flags as a map; a bare ``k`` means ``k=""`` as docker's ListOpts/MapOpts do."""
    result: dict[str, str] = {}
    for value in values or []:
        key, _, val = value.partition("=")
        if not key.strip():
            raise fail(f'invalid argument "{value}" for "{what}" flag: invalid label \'{value}\': empty name')
        result[key] = val
    return result


def volume_row(volume: dict):
    """A row for ``volume ls --format`` (docker's ``volumeContext``)."""
    from barge.client import units
    from barge.client.templates import Struct

    class VolumeRow(Struct):
        GO_TYPE = "*formatter.volumeContext"
        FIELDS = tuple(VOLUME_HEADERS)

        def __init__(self, v: dict):
            self.v = v
            self.Name, self.Driver = v.get("Name", ""), v.get("Driver", "")
            self.Scope, self.Mountpoint = v.get("Scope", ""), v.get("Mountpoint", "")
            labels = v.get("Labels") or {}
            self.Labels = ",".join(f"{k}={labels[k]}" for k in sorted(labels))
            usage = v.get("UsageData") or {}
            ref, size = usage.get("RefCount", -1), usage.get("Size", -1)
            self.Links = "N/A" if ref is None or ref < 0 else str(ref)
            self.Size = "N/A" if size is None or size < 0 else units.human_size(size)
            self.Group, self.Availability, self.Status = "", "N/A", "N/A"

    return VolumeRow(volume)


@handles_errors
def create(
    ctx: typer.Context,
    volume: Annotated[Optional[str], typer.Argument(metavar="[VOLUME]", show_default=False)] = None,
    driver: Annotated[str, typer.Option("-d", "--driver", help="Specify volume driver name")] = "local",
    label: Annotated[Optional[List[str]], typer.Option("--label", help="Set metadata for a volume")] = None,
    opt: Annotated[Optional[List[str]], typer.Option("-o", "--opt", help="Set driver specific options")] = None,
    name: Annotated[str, typer.Option("--name", hidden=True, help="Specify volume name")] = "",
) -> None:
    """Create a volume."""
    if volume and name:
        raise fail("conflicting options: cannot specify a volume-name through both --name and as a positional arg")
    answer = client(ctx).create_volume(volume or name, driver, _pairs(opt, "--opt"), _pairs(label, "--label"))
    out(f"{answer.get('Name', '')}\n")


@handles_errors
def ls(
    ctx: typer.Context,
    filter: Annotated[Optional[List[str]], typer.Option("-f", "--filter", help="Provide filter values (e.g. \"dangling=true\")")] = None,
    format: Annotated[Optional[str], typer.Option("--format", help="Format output using a custom template")] = None,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="Only display volume names")] = False,
) -> None:
    """List volumes."""
    from barge.client import formatter

    answer = client(ctx).volumes(parse_filters(filter) or None)
    volumes = sorted(answer.get("Volumes") or [], key=lambda v: _natural(v.get("Name", "")))
    fmt = VOLUME_QUIET if quiet else (format or VOLUME_TABLE)
    out(formatter.render(fmt, [volume_row(v) for v in volumes], VOLUME_TABLE, VOLUME_HEADERS))
    for warning in answer.get("Warnings") or []:
        sys.stderr.write(f"{warning}\n")


def _natural(name: str) -> list:
    """docker sorts volume names naturally (``v2`` before ``v10``)."""
    import re

    return [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"(\d+)", name) if p]


@handles_errors
def inspect(
    ctx: typer.Context,
    volumes: Annotated[List[str], typer.Argument(metavar="VOLUME...", show_default=False)],
    format: Annotated[Optional[str], typer.Option("-f", "--format", help="Format output using a custom template")] = None,
) -> None:
    """Display detailed information on one or more volumes."""
    inspect_each(volumes, client(ctx).inspect_volume, format)


@handles_errors
def rm(
    ctx: typer.Context,
    volumes: Annotated[List[str], typer.Argument(metavar="VOLUME...", show_default=False)],
    force: Annotated[bool, typer.Option("-f", "--force", help="Force the removal of one or more volumes")] = False,
) -> None:
    """Remove one or more volumes."""
    from barge.cli.containers import _each

    api = client(ctx)
    _each(volumes, lambda v: api.remove_volume(v, force=force), parallel=False)


def confirm(message: str) -> bool:
    """docker's ``PromptForConfirmation``: ``[y/N]`` on stdout, one line from stdin."""
    out(f"{message} [y/N] ")
    answer = sys.stdin.readline()
    if not answer:
        out("\n")
    return answer.strip() in ("y", "Y")


@handles_errors
def prune(
    ctx: typer.Context,
    all: Annotated[bool, typer.Option("-a", "--all", help="Remove all unused volumes, not just anonymous ones")] = False,
    filter: Annotated[Optional[List[str]], typer.Option("--filter", help="Provide filter values (e.g. \"label=<label>\")")] = None,
    force: Annotated[bool, typer.Option("-f", "--force", help="Do not prompt for confirmation")] = False,
) -> None:
    """Remove unused local volumes."""
    from barge.client import units

    filters = parse_filters(filter)
    warning = UNUSED_WARNING
    if all:
        if "all" in filters:
            raise fail("conflicting options: cannot specify both --all and --filter all=1")
        filters["all"] = ["true"]
        warning = ALL_WARNING
    api = client(ctx)
    if not force and not confirm(warning):
        raise fail("volume prune has been cancelled", 0)
    report = api.prune_volumes(filters or None)
    deleted = report.get("VolumesDeleted") or []
    text = "Deleted Volumes:\n" + "".join(f"{name}\n" for name in deleted) if deleted else ""
    out(f"{text}\nTotal reclaimed space: {units.human_size(report.get('SpaceReclaimed') or 0)}\n")


# name, function, hidden aliases, groups
COMMANDS = (
    ("create", create, (), ("volume",)),
    ("ls", ls, ("list",), ("volume",)),
    ("inspect", inspect, (), ("volume",)),
    ("rm", rm, ("remove",), ("volume",)),
    ("prune", prune, (), ("volume",)),
)


def register(app: typer.Typer) -> None:
    from barge.cli.dockerflags import DockerCommand

    add_commands({"volume": volume_app}, COMMANDS, cls=DockerCommand)
    app.add_typer(volume_app, name="volume")
