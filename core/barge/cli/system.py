"""System commands: version, info, plugins, and ``system check``."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Optional

import typer

from barge import __version__
from barge.cli.common import client, fail, handles_errors, options, out

# Rendered with our Go-template engine and aligned like docker's
# ``tabwriter.NewWriter(out, 20, 1, 1, ' ', 0)``.
VERSION_TEMPLATE = """{{with .Client -}}
Client:{{if .Platform.Name}} {{.Platform.Name}}{{end}}
 Version:\t{{.Version}}
 API version:\t{{.APIVersion}}{{if ne .APIVersion .DefaultAPIVersion}} (downgraded from {{.DefaultAPIVersion}}){{end}}
 Python version:\t{{.PythonVersion}}
 OS/Arch:\t{{.Os}}/{{.Arch}}
 Context:\t{{.Context}}
{{- end}}
{{- if .ServerOK}}{{with .Server}}

Server:{{if .Platform.Name}} {{.Platform.Name}}{{end}}
 {{- range $c := .Components}}
 {{$c.Name}}:
  Version:\t{{$c.Version}}
  {{- if eq $c.Name "Engine"}}
  {{- with index $c.Details "ApiVersion"}}
  API version:\t{{.}}{{with index $c.Details "MinAPIVersion"}} (minimum version {{.}}){{end}}{{end}}
  {{- with index $c.Details "GoVersion"}}
  Go version:\t{{.}}{{end}}
  {{- with index $c.Details "GitCommit"}}
  Git commit:\t{{.}}{{end}}
  {{- with index $c.Details "BuildTime"}}
  Built:\t{{.}}{{end}}
  {{- with index $c.Details "Os"}}
  OS/Arch:\t{{.}}/{{index $c.Details "Arch"}}{{end}}
  {{- with index $c.Details "Experimental"}}
  Experimental:\t{{.}}{{end}}
  {{- else}}
  {{- range $k, $v := $c.Details}}
  {{$k}}:\t{{$v}}
  {{- end}}
  {{- end}}
 {{- end}}
{{- end}}{{end}}"""

_ENGINE_DETAILS = ("ApiVersion", "MinAPIVersion", "GoVersion", "GitCommit", "BuildTime", "Os", "Arch", "KernelVersion", "Experimental")


def _arch() -> str:
    import platform

    machine = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm"}.get(machine, machine)


def _client_version(api, negotiated: str | None) -> dict:
    import platform

    return {
        "Platform": {"Name": ""},
        "Version": __version__,
        "APIVersion": negotiated or api.client_version,
        "DefaultAPIVersion": api.client_version,
        "PythonVersion": platform.python_version(),
        "Os": sys.platform if sys.platform != "linux" else "linux",
        "Arch": _arch(),
        "Context": api.host,
    }


def _server_version(server: dict) -> dict:
    """Docker's shape; an Engine component built from the top level if missing."""
    server = dict(server)
    if not server.get("Components"):
        details = {k: server[k] for k in _ENGINE_DETAILS if server.get(k) not in (None, "")}
        if "Experimental" in server:
            details["Experimental"] = "true" if server["Experimental"] else "false"
        server["Components"] = [{"Name": "Engine", "Version": server.get("Version", ""), "Details": details}]
    for component in server["Components"]:
        details = component.get("Details") or {}
        component["Details"] = {k: (json.dumps(v) if isinstance(v, bool) else v) for k, v in details.items()}
    server.setdefault("Platform", {"Name": ""})
    return server


@handles_errors
def version(
    ctx: typer.Context,
    format: Annotated[Optional[str], typer.Option("-f", "--format", help="Format output using a Go template or 'json'.")] = None,
) -> None:
    """Show the barge version information."""
    from barge.client import formatter
    from barge.client.errors import ClientError
    from barge.client.tabwriter import align

    api = client(ctx)
    data: dict = {"Client": None, "Server": None, "ServerOK": False}
    error = None
    try:
        negotiated = api.api_version
        data["Server"] = _server_version(api.version())
        data["ServerOK"] = True
    except ClientError as exc:
        negotiated, error = None, exc
    data["Client"] = _client_version(api, negotiated)
    if format == "json":
        out(json.dumps({"Client": data["Client"], "Server": data["Server"]}, ensure_ascii=False) + "\n")
    elif format:
        out(formatter.render_one(format, data))
    else:
        text = formatter.parse_template(VERSION_TEMPLATE).execute(data) + "\n"
        out(align(text, minwidth=20, padding=1))
    if error is not None:
        raise fail(str(error))


def _driver_lines(drivers: list[dict]) -> list[str]:
    lines = []
    for d in drivers:
        status = d.get("Status", "")
        if d.get("Reason"):
            status += f": {d['Reason']}"
        lines.append(f"  {d.get('Kind', '')} {d.get('Name', '')}: {status} ({d.get('Package', '')})")
    return lines


def _server_info_text(info: dict) -> str:
    from barge.client.units import bytes_size

    lines = [
        "Server:",
        f" Containers: {info.get('Containers', 0)}",
        f"  Running: {info.get('ContainersRunning', 0)}",
        f"  Paused: {info.get('ContainersPaused', 0)}",
        f"  Stopped: {info.get('ContainersStopped', 0)}",
        f" Images: {info.get('Images', 0)}",
        f" Server Version: {info.get('ServerVersion', '')}",
        f" Storage Driver: {info.get('Driver', '')}",
    ]
    for pair in info.get("DriverStatus") or []:
        if isinstance(pair, (list, tuple)) and len(pair) == 2:
            lines.append(f"  {pair[0]}: {pair[1]}")
    for key, label in (("LoggingDriver", "Logging Driver"), ("CgroupDriver", "Cgroup Driver"), ("CgroupVersion", "Cgroup Version")):
        if info.get(key):
            lines.append(f" {label}: {info[key]}")
    firewall = info.get("FirewallBackend") or {}
    if firewall.get("Driver"):
        lines.append(f" Firewall Backend: {firewall['Driver']}")
        for pair in firewall.get("Info") or []:
            if isinstance(pair, (list, tuple)) and len(pair) == 2:
                lines.append(f"  {pair[0]}: {pair[1]}")
    drivers = info.get("BargeDrivers") or []
    if drivers:
        lines.append(" Drivers:")
        lines.extend(_driver_lines(drivers))
    for key, label in (
        ("KernelVersion", "Kernel Version"),
        ("OperatingSystem", "Operating System"),
        ("OSType", "OSType"),
        ("Architecture", "Architecture"),
        ("NCPU", "CPUs"),
    ):
        if info.get(key) not in (None, ""):
            lines.append(f" {label}: {info[key]}")
    if info.get("MemTotal"):
        lines.append(f" Total Memory: {bytes_size(info['MemTotal'])}")
    for key, label in (("Name", "Name"), ("ID", "ID"), ("DockerRootDir", "Docker Root Dir")):
        if info.get(key) not in (None, ""):
            lines.append(f" {label}: {info[key]}")
    lines.append(f" Debug Mode: {json.dumps(bool(info.get('Debug', False)))}")
    lines.append(f" Experimental: {json.dumps(bool(info.get('ExperimentalBuild', False)))}")
    lines.append(f" Live Restore Enabled: {json.dumps(bool(info.get('LiveRestoreEnabled', False)))}")
    for warning in info.get("Warnings") or []:
        lines.append(warning)
    return "\n".join(lines) + "\n"


@handles_errors
def info(
    ctx: typer.Context,
    format: Annotated[Optional[str], typer.Option("-f", "--format", help="Format output using a Go template or 'json'.")] = None,
) -> None:
    """Display system-wide information."""
    from barge.client import formatter
    from barge.client.errors import ClientError

    api = client(ctx)
    client_info = {"Version": __version__, "Context": api.host, "Debug": options(ctx).debug}
    try:
        server = api.info()
        error = None
    except ClientError as exc:
        server, error = None, exc
    if format:
        data = dict(server or {})
        data["ClientInfo"] = client_info
        out(json.dumps(data, ensure_ascii=False) + "\n" if format == "json" else formatter.render_one(format, data))
    else:
        text = (
            "Client:\n"
            f" Version:    {client_info['Version']}\n"
            f" Context:    {client_info['Context']}\n"
            f" Debug Mode: {json.dumps(client_info['Debug'])}\n\n"
        )
        if server is not None:
            text += _server_info_text(server)
        out(text)
    if error is not None:
        raise fail(str(error))


PLUGIN_COLUMNS = ["KIND", "NAME", "PACKAGE", "STATUS", "REASON"]


def probe_locally() -> list[dict]:
    """Driver reports from a child process, so this process imports no driver."""
    import subprocess

    proc = subprocess.run(
        [sys.executable, "-m", "barge.engine.plugins"], capture_output=True, text=True, timeout=120
    )
    if proc.returncode != 0:
        detail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"probing drivers failed: {detail}")
    return json.loads(proc.stdout)


@handles_errors
def plugins(ctx: typer.Context) -> None:
    """List every driver found, with its status (from the daemon, or probed here)."""
    import subprocess

    from barge.client.errors import DaemonUnreachable
    from barge.client.formatter import simple_table

    try:
        drivers = client(ctx).info().get("BargeDrivers")
        if drivers is None:
            raise fail("the daemon did not report its drivers (no BargeDrivers in /info)")
    except DaemonUnreachable:
        try:
            drivers = probe_locally()
        except (RuntimeError, ValueError, subprocess.SubprocessError) as exc:
            raise fail(str(exc)) from None
    rows = [[d.get("Kind"), d.get("Name"), d.get("Package"), d.get("Status"), d.get("Reason") or ""] for d in drivers]
    out(simple_table(PLUGIN_COLUMNS, rows))


@handles_errors
def check(
    ctx: typer.Context,
    repair: Annotated[bool, typer.Option("--repair", help="Fix what can be fixed without losing user data.")] = False,
    format: Annotated[Optional[str], typer.Option("-f", "--format", help="'json' for the daemon's answer.")] = None,
) -> None:
    """Check the daemon's records against the host (layers, mounts, cgroups, namespaces, rules, volumes).

    Exit status 0 when nothing is left inconsistent, 1 otherwise."""
    query = {"repair": "1"} if repair else None
    report = client(ctx).request("POST", "/system/check", query).json()
    findings = report.get("Findings") or []
    if format == "json":
        out(json.dumps(report, indent=2) + "\n")
    elif format:
        raise fail(f"unknown format {format!r}: only 'json'")
    else:
        lines = [f"{f['Area']} {f['Object']}: {f['Problem']} ({'repaired: ' if f['Repaired'] else ''}{f['Action']})"
                 for f in findings]
        checked = ", ".join(f"{v} {k}" for k, v in (report.get("Checked") or {}).items())
        left = sum(1 for f in findings if not f["Repaired"])
        summary = (f"checked {checked}: " + ("consistent" if not findings else
                   f"{len(findings)} inconsistenc{'y' if len(findings) == 1 else 'ies'}, {left} left"))
        out("".join(line + "\n" for line in lines) + summary + "\n")
    if any(not f["Repaired"] for f in findings):
        raise typer.Exit(1)


system_app = typer.Typer(help="Manage the engine.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command("version")(version)
    app.command("info")(info)
    app.command("plugins")(plugins)
    system_app.command("info")(info)
    system_app.command("check")(check)
    app.add_typer(system_app, name="system")
