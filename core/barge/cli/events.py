"""``barge events``: the daemon's event stream, printed as docker does
(cli/command/system/events.go): one line per event in local time with
nanoseconds, attributes sorted, or each event through ``--format``."""

from __future__ import annotations

import time
from typing import Annotated, List, Optional

import typer

from barge.cli.common import client, fail, handles_errors, out


def rfc3339_nano_fixed(time_nano: int) -> str:
    """Go's ``RFC3339NanoFixed`` (``2006-01-02T15:04:05.000000000Z07:00``) in local time."""
    seconds, nanos = divmod(int(time_nano), 1_000_000_000)
    t = time.localtime(seconds)
    offset = t.tm_gmtoff or 0
    if offset == 0:
        zone = "Z"
    else:
        sign = "+" if offset > 0 else "-"
        hours, minutes = divmod(abs(offset) // 60, 60)
        zone = f"{sign}{hours:02d}:{minutes:02d}"
    return time.strftime("%Y-%m-%dT%H:%M:%S", t) + f".{nanos:09d}{zone}"


def pretty(event: dict) -> str:
    """docker's ``prettyPrintEvent``: time, type, action, actor id and ``(k=v, ...)``."""
    parts = []
    if event.get("timeNano"):
        parts.append(rfc3339_nano_fixed(event["timeNano"]) + " ")
    elif event.get("time"):
        parts.append(rfc3339_nano_fixed(int(event["time"]) * 1_000_000_000) + " ")
    actor = event.get("Actor") or {}
    parts.append(f"{event.get('Type', '')} {event.get('Action', '')} {actor.get('ID', '')}")
    attrs = actor.get("Attributes") or {}
    if attrs:
        parts.append(" (" + ", ".join(f"{k}={attrs[k]}" for k in sorted(attrs)) + ")")
    return "".join(parts) + "\n"


@handles_errors
def events(
    ctx: typer.Context,
    filter: Annotated[Optional[List[str]], typer.Option("-f", "--filter", help="Filter output based on conditions provided")] = None,
    format: Annotated[Optional[str], typer.Option("--format", help="Format output using a custom template")] = None,
    since: Annotated[str, typer.Option("--since", help="Show all events created since timestamp")] = "",
    until: Annotated[str, typer.Option("--until", help="Stream events until this timestamp")] = "",
) -> None:
    """Get real time events from the server."""
    from barge.cli.common import parse_filters
    from barge.client import formatter
    from barge.timefmt import get_timestamp as timestamp

    try:
        since_ts = timestamp(since) if since else None
        until_ts = timestamp(until) if until else None
    except ValueError as exc:
        raise fail(str(exc)) from None
    fmt = format or ""
    if fmt == "json":
        fmt = "{{json .}}"
    if fmt:
        formatter.parse_template(formatter._prepare(fmt))  # a bad template fails before streaming
    response = client(ctx).events(since_ts, until_ts, parse_filters(filter) or None)
    try:
        with response:
            for event in response.messages():
                out(formatter.render_one(fmt, event) if fmt else pretty(event))
    except KeyboardInterrupt:
        raise typer.Exit(130) from None


def register(app: typer.Typer, system_app: typer.Typer | None = None) -> None:
    from barge.cli.dockerflags import DockerCommand

    app.command("events", cls=DockerCommand)(events)
    if system_app is not None:
        system_app.command("events", cls=DockerCommand)(events)
