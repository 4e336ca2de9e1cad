"""``build``: docker CLI 28's client of the classic builder (``DOCKER_BUILDKIT=0
docker build``) - its flags and their checks, the context it sends
(:mod:`barge.client.buildcontext`), the lines it prints while sending, and how it
shows the daemon's stream: live on stdout; with ``-q`` kept back and only
the image id printed; an ``errorDetail`` ends the command with its message
on stderr and its ``code`` (1 when there is none) as the exit status.
A flag docker refuses exits 125 with the usage line.
"""

from __future__ import annotations

import io
import os
import sys
from typing import IO, Annotated, Iterable, Iterator, List, Optional

import typer

from barge.cli.common import client, fail, handles_errors, stdout_is_tty

USAGE = "Usage:  barge build [OPTIONS] PATH | URL | -"
SENDING = "Sending build context to Docker daemon"
DOWNLOADING = "Downloading build context from remote url: "

Strs = Optional[List[str]]


class BuildFailed(Exception):
    """The daemon's ``errorDetail``: docker exits with its code, or 1."""

    def __init__(self, message: str, code: int):
        super().__init__(message)
        self.message = message
        self.code = code or 1


def flag_error(value: str, flag: str, reason: str) -> typer.Exit:
    """pflag's refusal of a flag value, with the usage, exit 125."""
    return fail(f'invalid argument "{value}" for "{flag}" flag: {reason}\n\n{USAGE}\n\n'
                f"Run 'barge build --help' for more information", 125)


def _each(values: list[str] | None, flag: str, check) -> list:
    out = []
    for value in values or []:
        try:
            out.append(check(value))
        except ValueError as exc:
            raise flag_error(value, flag, str(exc)) from None
    return out


def _one(value: str | None, flag: str, check, default=0):
    return default if value is None else _each([value], flag, check)[0]


def _memory(value: str) -> int:
    from barge.client.runconfig import parse_size

    return parse_size(value)


def _swap(value: str) -> int:
    return -1 if value == "-1" else _memory(value)


def _build_arg(value: str) -> str:
    from barge.client.runconfig import OptionError, validate_env

    try:
        return validate_env(value, os.environ)
    except OptionError as exc:
        raise ValueError(str(exc)) from None


def _ulimit(value: str) -> dict:
    from barge.client.runconfig import parse_ulimit

    return parse_ulimit(value)


def options_from(flags: dict):
    """The flags as :class:`BuildOptions`, each checked as docker's flag type
    checks it (the first refusal exits 125)."""
    from barge.client import build as b

    ulimits: dict[str, dict] = {}
    for limit in _each(flags["ulimit"], "--ulimit", _ulimit):
        ulimits.pop(limit["Name"], None)
        ulimits[limit["Name"]] = limit
    cache_from = [name for names in _each(flags["cache_from"], "--cache-from", b.split_csv) for name in names]
    return b.BuildOptions(
        tags=_each(flags["tag"], "-t, --tag", b.validate_tag),
        build_args=b.build_arg_map(_each(flags["build_arg"], "--build-arg", _build_arg)),
        labels=dict(v.partition("=")[::2] for v in _each(flags["label"], "--label", b.validate_label)),
        extra_hosts=_each(flags["add_host"], "--add-host", b.validate_extra_host),
        cache_from=cache_from, security_opt=list(flags["security_opt"] or []), ulimits=list(ulimits.values()),
        quiet=flags["quiet"], no_cache=flags["no_cache"], remove=flags["rm"], force_remove=flags["force_rm"],
        pull=flags["pull"], isolation=flags["isolation"], cpuset_cpus=flags["cpuset_cpus"],
        cpuset_mems=flags["cpuset_mems"], network_mode=flags["network"],
        cpu_shares=_one(flags["cpu_shares"], "-c, --cpu-shares", b.parse_go_int),
        cpu_quota=_one(flags["cpu_quota"], "--cpu-quota", b.parse_go_int),
        cpu_period=_one(flags["cpu_period"], "--cpu-period", b.parse_go_int),
        memory=_one(flags["memory"], "-m, --memory", _memory),
        memory_swap=_one(flags["memory_swap"], "--memory-swap", _swap),
        shm_size=_one(flags["shm_size"], "--shm-size", _memory),
        cgroup_parent=flags["cgroup_parent"], target=flags["target"], platform=flags["platform"] or "",
    )


# ---------------------------------------------------------------- what is printed

def _stdin_width() -> int:
    """The width docker's progress bars take: stdin's terminal's, else 200."""
    try:
        return os.get_terminal_size(0).columns
    except OSError:
        return 200


def progress_writer(out: IO[str], action: str, only_last: bool):
    """docker's raw progress output: ``<action> <progress>\\r``, and ``\\r\\n``
    after the last; off a terminal the sending line is written once, at the end."""
    from barge.client.jsonmessage import progress_bar

    def report(current: int, total: int, last: bool) -> None:
        if only_last and not last:
            return
        bar = progress_bar({"current": current, "total": total}, _stdin_width())
        out.write(f"{action} {bar}" + ("\r" if bar else "\r\n") + ("\r\n" if last else ""))
        out.flush()

    return report


def checked(messages: Iterable[dict]) -> Iterator[dict]:
    """The stream as docker reads it: ``errorDetail`` (only it) is the error."""
    for message in messages:
        detail = message.get("errorDetail")
        if detail is not None:
            detail = detail if isinstance(detail, dict) else {}
            code = detail.get("code")
            raise BuildFailed(str(detail.get("message") or ""), code if isinstance(code, int) else 0)
        if "error" in message:
            message = {k: v for k, v in message.items() if k != "error"}
        yield message


def show(response, out: IO[str], tty: bool) -> str:
    """Display the build's stream; the image id of its last ``aux``."""
    from barge.client import jsonmessage

    with response:
        aux = jsonmessage.display(checked(response.messages()), out, tty=tty)
    image_id = aux[-1].get("ID") if aux else ""
    return image_id if isinstance(image_id, str) else ""


# ---------------------------------------------------------------- the command

def _remove_iidfile(path: str) -> None:
    """Docker removes it first: a failed build leaves no stale id behind."""
    try:
        os.remove(path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise fail(f"Removing image ID file: remove {path}: {(exc.strerror or str(exc)).lower()}") from None


def run_build(ctx: typer.Context, path: str, flags: dict) -> None:
    """docker's ``runBuild``: its steps in its order (stdin checks, id file,
    context, compression, progress, request, stream, id), each with the
    error text and the buffered output that step shows when it fails."""
    from barge.client import build as b
    from barge.client import buildcontext as bc
    from barge.client.credentials import ConfigFile
    from barge.client.errors import ClientError

    options = options_from(flags)
    dockerfile = flags["file"] or ""
    if dockerfile == "-" and path == "-":
        raise fail("invalid argument: can't use stdin for both build context and dockerfile")
    quiet = options.quiet
    progress: IO[str] = io.StringIO() if quiet else sys.stdout
    build_out: IO[str] = io.StringIO() if quiet else sys.stdout
    if flags["iidfile"]:
        _remove_iidfile(flags["iidfile"])
    try:
        context = bc.prepare(path, dockerfile, sys.stdin.buffer, progress_writer(progress, DOWNLOADING + path, False))
    except bc.ContextError as exc:
        if quiet and bc.is_url(path):
            sys.stderr.write(progress.getvalue() + "\n")
        raise fail(f"unable to prepare context: {exc}") from None
    try:
        from barge.client.contexttar import coalesced, gzip_chunks

        body = coalesced(context.chunks)
        if flags["compress"]:
            body = gzip_chunks(body)
        body = bc.Progress(progress_writer(progress, SENDING, not stdout_is_tty())).count(body)
        api = client(ctx)
        config = ConfigFile.load_or_warn()
        options.build_args = b.with_proxies(config.raw, api.host, options.build_args)
        try:
            response = api.build(body, b.build_query(options, context.dockerfile), b.registry_config(config))
            image_id = show(response, build_out, tty=not quiet and stdout_is_tty())
        except ClientError:
            if quiet:
                sys.stderr.write(progress.getvalue())
            raise
        except BuildFailed as exc:
            if quiet:
                sys.stderr.write(progress.getvalue() + build_out.getvalue())
            if exc.message:
                raise fail(exc.message, exc.code) from None
            raise typer.Exit(exc.code) from None
    finally:
        context.close()
    if quiet:
        image_id = build_out.getvalue()
        sys.stdout.write(image_id)
        sys.stdout.flush()
    if flags["iidfile"]:
        _write_iidfile(flags["iidfile"], image_id)


def _write_iidfile(path: str, image_id: str) -> None:
    if not image_id:
        raise fail(f"Server did not provide an image ID. Cannot write {path}")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o666)
    with os.fdopen(fd, "w") as fh:
        fh.write(image_id)


@handles_errors
def build(
    ctx: typer.Context,
    path: Annotated[str, typer.Argument(metavar="PATH | URL | -", show_default=False)],
    tag: Annotated[Strs, typer.Option("-t", "--tag", help='Name and optionally a tag in the "name:tag" format')] = None,
    file: Annotated[Optional[str], typer.Option("-f", "--file", help='Name of the Dockerfile (Default is "PATH/Dockerfile")')] = None,
    build_arg: Annotated[Strs, typer.Option("--build-arg", help="Set build-time variables")] = None,
    target: Annotated[str, typer.Option("--target", help="Set the target build stage to build.")] = "",
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Do not use cache when building the image")] = False,
    pull: Annotated[bool, typer.Option("--pull", help="Always attempt to pull a newer version of the image")] = False,
    rm: Annotated[bool, typer.Option("--rm/--no-rm", help="Remove intermediate containers after a successful build")] = True,
    force_rm: Annotated[bool, typer.Option("--force-rm", help="Always remove intermediate containers")] = False,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="Suppress the build output and print image ID on success")] = False,
    iidfile: Annotated[str, typer.Option("--iidfile", help="Write the image ID to the file")] = "",
    label: Annotated[Strs, typer.Option("--label", help="Set metadata for an image")] = None,
    network: Annotated[str, typer.Option("--network", help="Set the networking mode for the RUN instructions during build")] = "default",
    add_host: Annotated[Strs, typer.Option("--add-host", help='Add a custom host-to-IP mapping ("host:ip")')] = None,
    cache_from: Annotated[Strs, typer.Option("--cache-from", help="Images to consider as cache sources")] = None,
    shm_size: Annotated[Optional[str], typer.Option("--shm-size", help='Size of "/dev/shm"')] = None,
    memory: Annotated[Optional[str], typer.Option("-m", "--memory", help="Memory limit")] = None,
    memory_swap: Annotated[Optional[str], typer.Option("--memory-swap", help="Swap limit equal to memory plus swap: -1 to enable unlimited swap")] = None,
    cpu_shares: Annotated[Optional[str], typer.Option("-c", "--cpu-shares", help="CPU shares (relative weight)")] = None,
    cpu_period: Annotated[Optional[str], typer.Option("--cpu-period", help="Limit the CPU CFS (Completely Fair Scheduler) period")] = None,
    cpu_quota: Annotated[Optional[str], typer.Option("--cpu-quota", help="Limit the CPU CFS (Completely Fair Scheduler) quota")] = None,
    cpuset_cpus: Annotated[str, typer.Option("--cpuset-cpus", help="CPUs in which to allow execution (0-3, 0,1)")] = "",
    cpuset_mems: Annotated[str, typer.Option("--cpuset-mems", help="MEMs in which to allow execution (0-3, 0,1)")] = "",
    cgroup_parent: Annotated[str, typer.Option("--cgroup-parent", help='Set the parent cgroup for the "RUN" instructions during build')] = "",
    isolation: Annotated[str, typer.Option("--isolation", help="Container isolation technology")] = "",
    ulimit: Annotated[Strs, typer.Option("--ulimit", help="Ulimit options")] = None,
    security_opt: Annotated[Strs, typer.Option("--security-opt", help="Security options")] = None,
    platform: Annotated[Optional[str], typer.Option("--platform", envvar="DOCKER_DEFAULT_PLATFORM", help="Set platform if server is multi-platform capable")] = None,
    compress: Annotated[bool, typer.Option("--compress", help="Compress the build context using gzip")] = False,
    disable_content_trust: Annotated[bool, typer.Option("--disable-content-trust", hidden=True, help="Accepted for docker's scripts: barge has no content trust")] = True,
) -> None:
    """Build an image from a Dockerfile."""
    flags = dict(locals())
    del flags["ctx"], flags["path"]
    run_build(ctx, path, flags)


COMMAND_SETTINGS = {"help_option_names": ["--help"]}


def register(app: typer.Typer, image_app: typer.Typer) -> None:
    """``build`` at the top level and under ``image``, as docker has them."""
    from barge.cli.dockerflags import DockerCommand

    for target in (app, image_app):
        target.command("build", cls=DockerCommand, context_settings=COMMAND_SETTINGS)(build)
