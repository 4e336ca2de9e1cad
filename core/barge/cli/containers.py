"""Container commands besides run/create: start, attach, exec, ps, logs, stop,
kill, restart, pause, unpause, rm, wait, top, stats, rename, update, and the
``container`` group. Flags, output and exit codes follow docker's commands
(cli/command/container/*.go): names as typed are echoed on success, each
failure is one line on stderr, and the exit status is 1 if any failed.
"""

from __future__ import annotations

import sys
from typing import Annotated, Callable, List, Optional

import typer

from barge.cli.common import add_commands, client, fail, handles_errors, inspect_each, out, parse_filters

container_app = typer.Typer(help="Manage containers.", no_args_is_help=True, rich_markup_mode=None, add_completion=False)

Containers = Annotated[List[str], typer.Argument(metavar="CONTAINER...", show_default=False)]
Container = Annotated[str, typer.Argument(metavar="CONTAINER", show_default=False)]
DetachKeys = Annotated[str, typer.Option("--detach-keys", help="Override the key sequence for detaching a container")]
Signal = Annotated[str, typer.Option("-s", "--signal", help="Signal to send to the container")]
Timeout = Annotated[Optional[int], typer.Option("-t", "--timeout", help="Seconds to wait before killing the container")]
TimeoutAlias = Annotated[Optional[int], typer.Option("--time", hidden=True)]


def _timeout(timeout: int | None, time_: int | None) -> int | None:
    """``--timeout``, or its old spelling ``--time``; not both."""
    if timeout is not None and time_ is not None:
        raise fail("conflicting options: cannot specify both --timeout and --time")
    return timeout if timeout is not None else time_


def _each(names: list[str], op: Callable[[str], None], parallel: bool = True) -> None:
    """Run ``op`` on every name (up to 50 at once, like docker's
    ``parallelOperation``), print the names that worked in order, and fail
    with every error if any did not."""
    from barge.client.errors import ClientError

    def guarded(name: str):
        try:
            op(name)
            return None
        except ClientError as exc:
            return str(exc)

    if parallel and len(names) > 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=min(50, len(names))) as pool:
            results = list(pool.map(guarded, names))
    else:
        results = [guarded(n) for n in names]
    errors = []
    for name, error in zip(names, results):
        if error is None:
            out(f"{name}\n")
        else:
            errors.append(error)
    if errors:
        raise fail("\n".join(errors))


# ---------------------------------------------------------------- lifecycle

@handles_errors
def stop(
    ctx: typer.Context,
    containers: Containers,
    signal: Signal = "",
    timeout: Timeout = None,
    time_: TimeoutAlias = None,
) -> None:
    """Stop one or more running containers."""
    t = _timeout(timeout, time_)
    api = client(ctx)
    _each(containers, lambda c: api.stop(c, t, signal or None))


@handles_errors
def restart(
    ctx: typer.Context,
    containers: Containers,
    signal: Signal = "",
    timeout: Timeout = None,
    time_: TimeoutAlias = None,
) -> None:
    """Restart one or more containers."""
    t = _timeout(timeout, time_)
    api = client(ctx)
    _each(containers, lambda c: api.restart(c, t, signal or None), parallel=False)


@handles_errors
def kill(
    ctx: typer.Context,
    containers: Containers,
    signal: Signal = "",
) -> None:
    """Kill one or more running containers."""
    api = client(ctx)
    _each(containers, lambda c: api.kill(c, signal or None))


@handles_errors
def pause(ctx: typer.Context, containers: Containers) -> None:
    """Pause all processes within one or more containers."""
    api = client(ctx)
    _each(containers, api.pause)


@handles_errors
def unpause(ctx: typer.Context, containers: Containers) -> None:
    """Unpause all processes within one or more containers."""
    api = client(ctx)
    _each(containers, api.unpause)


@handles_errors
def rm(
    ctx: typer.Context,
    containers: Containers,
    force: Annotated[bool, typer.Option("-f", "--force", help="Force the removal of a running container (uses SIGKILL)")] = False,
    volumes: Annotated[bool, typer.Option("-v", "--volumes", help="Remove anonymous volumes associated with the container")] = False,
    link: Annotated[bool, typer.Option("-l", "--link", help="Remove the specified link")] = False,
) -> None:
    """Remove one or more containers."""
    from barge.client.errors import APIError, ClientError

    api = client(ctx)

    def remove(name: str):
        name = name.strip("/")
        if not name:
            return "container name cannot be empty", False
        try:
            api.remove_container(name, force=force, volumes=volumes, link=link)
            return None, False
        except APIError as exc:
            return str(exc), exc.status == 404
        except ClientError as exc:
            return str(exc), False

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(50, max(1, len(containers)))) as pool:
        results = list(pool.map(remove, containers))
    errors = []
    for name, (error, missing) in zip(containers, results):
        if error is None:
            out(f"{name}\n")
        elif force and missing:
            sys.stderr.write(error + "\n")  # docker: not fatal with --force
        else:
            errors.append(error)
    if errors:
        raise fail("\n".join(errors))


@handles_errors
def wait(ctx: typer.Context, containers: Containers) -> None:
    """Block until one or more containers stop, then print their exit codes."""
    from barge.client.errors import ClientError

    api = client(ctx)
    errors = []
    for name in containers:
        try:
            result = api.wait(name).result()
        except ClientError as exc:
            errors.append(str(exc))
            continue
        out(f"{int(result.get('StatusCode', 0))}\n")
    if errors:
        raise fail("\n".join(errors))


@handles_errors
def rename(
    ctx: typer.Context,
    container: Container,
    new_name: Annotated[str, typer.Argument(metavar="NEW_NAME", show_default=False)],
) -> None:
    """Rename a container."""
    from barge.client.errors import ClientError

    old, new = container.strip(), new_name.strip()
    if not old or not new:
        raise fail("Error: Neither old nor new names may be empty")
    try:
        client(ctx).rename(old, new)
    except ClientError as exc:
        sys.stderr.write(f"{exc}\n")
        raise fail(f"Error: failed to rename container named {old}") from None


@handles_errors
def update(
    ctx: typer.Context,
    containers: Containers,
    blkio_weight: Annotated[int, typer.Option("--blkio-weight", help="Block IO (relative weight), between 10 and 1000, or 0 to disable")] = 0,
    cpu_period: Annotated[int, typer.Option("--cpu-period", help="Limit CPU CFS (Completely Fair Scheduler) period")] = 0,
    cpu_quota: Annotated[int, typer.Option("--cpu-quota", help="Limit CPU CFS (Completely Fair Scheduler) quota")] = 0,
    cpuset_cpus: Annotated[str, typer.Option("--cpuset-cpus", help="CPUs in which to allow execution (0-3, 0,1)")] = "",
    cpuset_mems: Annotated[str, typer.Option("--cpuset-mems", help="MEMs in which to allow execution (0-3, 0,1)")] = "",
    cpu_shares: Annotated[int, typer.Option("-c", "--cpu-shares", help="CPU shares (relative weight)")] = 0,
    cpus: Annotated[Optional[str], typer.Option("--cpus", help="Number of CPUs")] = None,
    memory: Annotated[Optional[str], typer.Option("-m", "--memory", help="Memory limit")] = None,
    memory_reservation: Annotated[Optional[str], typer.Option("--memory-reservation", help="Memory soft limit")] = None,
    memory_swap: Annotated[Optional[str], typer.Option("--memory-swap", help="Swap limit equal to memory plus swap: -1 to enable unlimited swap")] = None,
    pids_limit: Annotated[int, typer.Option("--pids-limit", help="Tune container pids limit (set -1 for unlimited)")] = 0,
    restart: Annotated[str, typer.Option("--restart", help="Restart policy to apply when a container exits")] = "",
) -> None:
    """Update configuration of one or more containers."""
    from barge.client.errors import ClientError
    from barge.client.runconfig import build_update_body

    given = [p.name for p in ctx.command.params
             if p.name != "containers" and ctx.get_parameter_source(p.name).name == "COMMANDLINE"]
    if not given:
        raise fail("you must provide one or more flags when using this command")
    body = build_update_body(memory, memory_swap, memory_reservation, cpus, cpu_shares, cpu_period, cpu_quota,
                             cpuset_cpus, cpuset_mems, pids_limit, blkio_weight, restart)
    api = client(ctx)
    warnings, errors = [], []
    for name in containers:
        try:
            answer = api.update(name, body)
        except ClientError as exc:
            errors.append(str(exc))
            continue
        out(f"{name}\n")
        warnings += answer.get("Warnings") or []
    if warnings:
        out("\n".join(warnings) + "\n")
    if errors:
        raise fail("\n".join(errors))


# ---------------------------------------------------------------- reading

@handles_errors
def ps(
    ctx: typer.Context,
    all: Annotated[bool, typer.Option("-a", "--all", help="Show all containers (default shows just running)")] = False,
    filter: Annotated[Optional[List[str]], typer.Option("-f", "--filter", help="Filter output based on conditions provided")] = None,
    format: Annotated[Optional[str], typer.Option("--format", help="Format output using a custom template")] = None,
    last: Annotated[int, typer.Option("-n", "--last", help="Show n last created containers (includes all states)")] = -1,
    latest: Annotated[bool, typer.Option("-l", "--latest", help="Show the latest created container (includes all states)")] = False,
    no_trunc: Annotated[bool, typer.Option("--no-trunc", help="Don't truncate output")] = False,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="Only display container IDs")] = False,
    size: Annotated[bool, typer.Option("-s", "--size/--no-size", help="Display total file sizes")] = False,
) -> None:
    """List containers."""
    from barge.client import container_format as cf
    from barge.client import formatter

    if format and quiet:
        sys.stderr.write("WARNING: Ignoring custom format, because both --format and --quiet are set.\n")
    if format:
        formatter.parse_template(formatter._prepare(format))  # refuse a bad template before asking
        size_given = ctx.get_parameter_source("size").name == "COMMANDLINE"
        if not quiet and not size and not size_given and ".Size" in format:
            size = True
    limit = 1 if latest and last == -1 else last
    containers = client(ctx).containers(all=all, limit=limit, size=size, filters=parse_filters(filter) or None)
    rows = cf.container_rows(containers, trunc=not no_trunc)
    fmt = cf.ps_format(format, quiet, size)
    out(formatter.render(fmt, rows, cf.PS_TABLE, cf.PS_HEADERS))


@handles_errors
def logs(
    ctx: typer.Context,
    container: Container,
    details: Annotated[bool, typer.Option("--details", help="Show extra details provided to logs")] = False,
    follow: Annotated[bool, typer.Option("-f", "--follow", help="Follow log output")] = False,
    since: Annotated[str, typer.Option("--since", help='Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)')] = "",
    tail: Annotated[str, typer.Option("-n", "--tail", help="Number of lines to show from the end of the logs")] = "all",
    timestamps: Annotated[bool, typer.Option("-t", "--timestamps", help="Show timestamps")] = False,
    until: Annotated[str, typer.Option("--until", help='Show logs before a timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)')] = "",
) -> None:
    """Fetch the logs of a container."""
    from barge.client import stdcopy
    from barge.timefmt import get_timestamp as timestamp

    api = client(ctx)
    info = api.inspect_container(container)
    try:
        since_ts = timestamp(since) if since else None
        until_ts = timestamp(until) if until else None
    except ValueError as exc:
        raise fail(str(exc)) from None
    response = api.logs(info["Id"], since=since_ts, until=until_ts, timestamps=timestamps,
                        follow=follow, tail=tail, details=details)
    read = response.raw.read1
    try:
        with response:
            if (info.get("Config") or {}).get("Tty"):
                stdcopy.copy_raw(read, stdcopy.sink_for(sys.stdout))
            else:
                stdcopy.demux(read, stdcopy.sink_for(sys.stdout), stdcopy.sink_for(sys.stderr))
    except KeyboardInterrupt:
        raise typer.Exit(130) from None


@handles_errors
def top(
    ctx: typer.Context,
    container: Container,
    ps_args: Annotated[Optional[List[str]], typer.Argument(metavar="[ps OPTIONS]", show_default=False)] = None,
) -> None:
    """Display the running processes of a container."""
    from barge.client.tabwriter import align

    procs = client(ctx).top(container, ps_args)
    lines = ["\t".join(procs.get("Titles") or [])]
    lines += ["\t".join(p) for p in procs.get("Processes") or []]
    out(align("\n".join(lines) + "\n", minwidth=20, padding=3))


@handles_errors
def stats(
    ctx: typer.Context,
    containers: Annotated[Optional[List[str]], typer.Argument(metavar="[CONTAINER...]", show_default=False)] = None,
    all: Annotated[bool, typer.Option("-a", "--all", help="Show all containers (default shows just running)")] = False,
    format: Annotated[Optional[str], typer.Option("--format", help="Format output using a custom template")] = None,
    no_stream: Annotated[bool, typer.Option("--no-stream", help="Disable streaming stats and only pull the first result")] = False,
    no_trunc: Annotated[bool, typer.Option("--no-trunc", help="Do not truncate output")] = False,
) -> None:
    """Display a live stream of container(s) resource usage statistics."""
    from barge.cli import stats as stats_impl

    code = stats_impl.run(client(ctx), containers or [], all, format, no_stream, no_trunc)
    if code:
        raise typer.Exit(code)


@handles_errors
def container_inspect(
    ctx: typer.Context,
    containers: Containers,
    format: Annotated[Optional[str], typer.Option("-f", "--format", help="Format output using a custom template")] = None,
    size: Annotated[bool, typer.Option("-s", "--size", help="Display total file sizes")] = False,
) -> None:
    """Display detailed information on one or more containers."""
    api = client(ctx)
    inspect_each(containers, lambda name: api.inspect_container(name, size=size), format)


# ---------------------------------------------------------------- streams

@handles_errors
def start(
    ctx: typer.Context,
    containers: Containers,
    attach: Annotated[bool, typer.Option("-a", "--attach", help="Attach STDOUT/STDERR and forward signals")] = False,
    detach_keys: DetachKeys = "",
    interactive: Annotated[bool, typer.Option("-i", "--interactive", help="Attach container's STDIN")] = False,
) -> None:
    """Start one or more stopped containers."""
    from barge.cli.streams import configured_detach_keys, start_attached

    api = client(ctx)
    if attach or interactive:
        if len(containers) > 1:
            raise fail("you cannot start and attach multiple containers at once")
        try:
            code = start_attached(api, containers[0], interactive, detach_keys or configured_detach_keys())
        except KeyboardInterrupt:
            raise typer.Exit(130) from None
        if code:
            raise typer.Exit(code)
        return
    from barge.client.errors import ClientError

    failed = []
    for name in containers:
        try:
            api.start(name)
        except ClientError as exc:
            sys.stderr.write(f"{exc}\n")
            failed.append(name)
            continue
        out(f"{name}\n")
    if failed:
        raise fail(f"Error: failed to start containers: {', '.join(failed)}")


@handles_errors
def attach(
    ctx: typer.Context,
    container: Container,
    detach_keys: DetachKeys = "",
    no_stdin: Annotated[bool, typer.Option("--no-stdin", help="Do not attach STDIN")] = False,
    sig_proxy: Annotated[bool, typer.Option("--sig-proxy/--no-sig-proxy", help="Proxy all received signals to the process")] = True,
) -> None:
    """Attach local standard input, output, and error streams to a running container."""
    from barge.cli.streams import attach_running, configured_detach_keys

    try:
        code = attach_running(client(ctx), container, no_stdin, sig_proxy, detach_keys or configured_detach_keys())
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    if code:
        raise typer.Exit(code)


@handles_errors
def exec_(
    ctx: typer.Context,
    container: Container,
    command: Annotated[List[str], typer.Argument(metavar="COMMAND [ARG...]", show_default=False)],
    detach: Annotated[bool, typer.Option("-d", "--detach", help="Detached mode: run command in the background")] = False,
    detach_keys: DetachKeys = "",
    env: Annotated[Optional[List[str]], typer.Option("-e", "--env", help="Set environment variables")] = None,
    env_file: Annotated[Optional[List[str]], typer.Option("--env-file", help="Read in a file of environment variables")] = None,
    interactive: Annotated[bool, typer.Option("-i", "--interactive", help="Keep STDIN open even if not attached")] = False,
    privileged: Annotated[bool, typer.Option("--privileged", help="Give extended privileges to the command")] = False,
    tty: Annotated[bool, typer.Option("-t", "--tty", help="Allocate a pseudo-TTY")] = False,
    user: Annotated[str, typer.Option("-u", "--user", help="Username or UID (format: \"<name|uid>[:<group|gid>]\")")] = "",
    workdir: Annotated[str, typer.Option("-w", "--workdir", help="Working directory inside the container")] = "",
) -> None:
    """Execute a command in a running container."""
    import os

    from barge.cli.streams import configured_detach_keys, exec_in
    from barge.client.runconfig import read_kv_file, validate_env

    environ = os.environ
    detach_keys = detach_keys or configured_detach_keys()
    variables = []
    for path in env_file or []:
        variables += read_kv_file(path, environ)
    variables += [validate_env(e, environ) for e in env or []]
    body = {
        "User": user, "Privileged": privileged, "Tty": tty,
        "AttachStdin": interactive and not detach, "AttachStderr": not detach, "AttachStdout": not detach,
        "Detach": detach, "DetachKeys": detach_keys, "Env": variables or None, "WorkingDir": workdir,
        "Cmd": list(command),
    }
    try:
        code = exec_in(client(ctx), container, body, detach, detach_keys)
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    if code:
        raise typer.Exit(code)


_BOTH = ("", "container")
_NOT_INTERSPERSED = {"context_settings": {"allow_interspersed_args": False}}

# name, function, hidden aliases, groups ("" is the top level)[, settings]
COMMANDS = (
    ("start", start, (), _BOTH),
    ("attach", attach, (), _BOTH),
    ("logs", logs, (), _BOTH),
    ("stop", stop, (), _BOTH),
    ("kill", kill, (), _BOTH),
    ("restart", restart, (), _BOTH),
    ("pause", pause, (), _BOTH),
    ("unpause", unpause, (), _BOTH),
    ("rm", rm, (), ("",)),
    ("rm", rm, ("remove",), ("container",)),
    ("wait", wait, (), _BOTH),
    ("stats", stats, (), _BOTH),
    ("rename", rename, (), _BOTH),
    ("update", update, (), _BOTH),
    ("ps", ps, (), ("",)),
    ("top", top, (), ("",), _NOT_INTERSPERSED),
    ("exec", exec_, (), _BOTH, _NOT_INTERSPERSED),
    ("top", top, (), ("container",), _NOT_INTERSPERSED),
    ("ls", ps, ("ps", "list"), ("container",)),
    ("inspect", container_inspect, (), ("container",)),
)


def register(app: typer.Typer) -> None:
    """Top-level commands as docker has them, and the ``container`` group."""
    from barge.cli import run as run_cmds
    from barge.cli.dockerflags import DockerCommand

    add_commands({"": app, "container": container_app}, COMMANDS, cls=DockerCommand)
    run_cmds.register(app, container_app)
    app.add_typer(container_app, name="container")
