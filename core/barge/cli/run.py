"""``run`` and ``create``: docker's container flags, and the run flow of
cli/command/container/run.go:

create (pull on 404) -> attach (unless -d) -> wait (``next-exit``, or
``removed`` with --rm; its headers are in before we go on) -> start ->
resize (TTY) -> stream until the output ends -> the exit code is the
container's ``StatusCode``. Daemon errors exit 125; a start failing with
"not found" 127, with "permission denied" 126, as docker decides.
"""

from __future__ import annotations

import inspect
import sys
import threading
from typing import Annotated, Any, List, Optional

import typer

from barge.cli.common import client, fail

# (parameter, type, declarations, default, help) for every container flag
# run and create share; the typer signatures are built from this table.
CONTAINER_FLAGS: list[tuple[str, Any, tuple[str, ...], Any, str]] = [
    ("attach", Optional[List[str]], ("-a", "--attach"), None, "Attach to STDIN, STDOUT or STDERR"),
    ("env", Optional[List[str]], ("-e", "--env"), None, "Set environment variables"),
    ("env_file", Optional[List[str]], ("--env-file",), None, "Read in a file of environment variables"),
    ("entrypoint", Optional[str], ("--entrypoint",), None, "Overwrite the default ENTRYPOINT of the image"),
    ("hostname", str, ("-h", "--hostname"), "", "Container host name"),
    ("domainname", str, ("--domainname",), "", "Container NIS domain name"),
    ("interactive", bool, ("-i", "--interactive"), False, "Keep STDIN open even if not attached"),
    ("tty", bool, ("-t", "--tty"), False, "Allocate a pseudo-TTY"),
    ("labels", Optional[List[str]], ("-l", "--label"), None, "Set meta data on a container"),
    ("label_file", Optional[List[str]], ("--label-file",), None, "Read in a line delimited file of labels"),
    ("read_only", bool, ("--read-only",), False, "Mount the container's root filesystem as read only"),
    ("restart", str, ("--restart",), "no", "Restart policy to apply when a container exits"),
    ("stop_signal", str, ("--stop-signal",), "", "Signal to stop the container"),
    ("stop_timeout", Optional[int], ("--stop-timeout",), None, "Timeout (in seconds) to stop a container"),
    ("health_cmd", str, ("--health-cmd",), "", "Command to run to check health"),
    ("health_interval", str, ("--health-interval",), "", "Time between running the check (ms|s|m|h) (default 0s)"),
    ("health_timeout", str, ("--health-timeout",), "", "Maximum time to allow one check to run (ms|s|m|h) (default 0s)"),
    ("health_retries", int, ("--health-retries",), 0, "Consecutive failures needed to report unhealthy"),
    ("health_start_period", str, ("--health-start-period",), "",
     "Start period for the container to initialize before starting health-retries countdown (ms|s|m|h) (default 0s)"),
    ("health_start_interval", str, ("--health-start-interval",), "",
     "Time between running the check during the start period (ms|s|m|h) (default 0s)"),
    ("no_healthcheck", bool, ("--no-healthcheck",), False, "Disable any container-specified HEALTHCHECK"),
    ("ulimits", Optional[List[str]], ("--ulimit",), None, "Ulimit options"),
    ("user", str, ("-u", "--user"), "", "Username or UID (format: <name|uid>[:<group|gid>])"),
    ("workdir", str, ("-w", "--workdir"), "", "Working directory inside the container"),
    ("auto_remove", bool, ("--rm",), False, "Automatically remove the container when it exits"),
    ("cap_add", Optional[List[str]], ("--cap-add",), None, "Add Linux capabilities"),
    ("cap_drop", Optional[List[str]], ("--cap-drop",), None, "Drop Linux capabilities"),
    ("privileged", bool, ("--privileged",), False, "Give extended privileges to this container"),
    ("security_opt", Optional[List[str]], ("--security-opt",), None, "Security Options"),
    ("network", Optional[List[str]], ("--network", "--net"), None, "Connect a container to a network"),
    ("network_alias", Optional[List[str]], ("--network-alias", "--net-alias"), None, "Add network-scoped alias for the container"),
    ("ip", str, ("--ip",), "", "IPv4 address (e.g., 172.30.100.104)"),
    ("ip6", str, ("--ip6",), "", "IPv6 address (e.g., 2001:db8::33)"),
    ("link_local_ip", Optional[List[str]], ("--link-local-ip",), None, "Container IPv4/IPv6 link-local addresses"),
    ("mac_address", str, ("--mac-address",), "", "Container MAC address (e.g., 92:d0:c6:0a:29:33)"),
    ("links", Optional[List[str]], ("--link",), None, "Add link to another container"),
    ("publish", Optional[List[str]], ("-p", "--publish"), None, "Publish a container's port(s) to the host"),
    ("publish_all", bool, ("-P", "--publish-all"), False, "Publish all exposed ports to random ports"),
    ("expose", Optional[List[str]], ("--expose",), None, "Expose a port or a range of ports"),
    ("dns", Optional[List[str]], ("--dns",), None, "Set custom DNS servers"),
    ("dns_search", Optional[List[str]], ("--dns-search",), None, "Set custom DNS search domains"),
    ("dns_option", Optional[List[str]], ("--dns-option", "--dns-opt"), None, "Set DNS options"),
    ("add_host", Optional[List[str]], ("--add-host",), None, "Add a custom host-to-IP mapping (host:ip)"),
    ("log_driver", str, ("--log-driver",), "", "Logging driver for the container"),
    ("log_opt", Optional[List[str]], ("--log-opt",), None, "Log driver options"),
    ("tmpfs", Optional[List[str]], ("--tmpfs",), None, "Mount a tmpfs directory"),
    ("volumes", Optional[List[str]], ("-v", "--volume"), None, "Bind mount a volume"),
    ("volumes_from", Optional[List[str]], ("--volumes-from",), None, "Mount volumes from the specified container(s)"),
    ("mounts", Optional[List[str]], ("--mount",), None, "Attach a filesystem mount to the container"),
    ("memory", Optional[str], ("-m", "--memory"), None, "Memory limit"),
    ("memory_swap", Optional[str], ("--memory-swap",), None, "Swap limit equal to memory plus swap: '-1' to enable unlimited swap"),
    ("memory_reservation", Optional[str], ("--memory-reservation",), None, "Memory soft limit"),
    ("memory_swappiness", int, ("--memory-swappiness",), -1, "Tune container memory swappiness (0 to 100)"),
    ("oom_kill_disable", bool, ("--oom-kill-disable",), False, "Disable OOM Killer"),
    ("oom_score_adj", int, ("--oom-score-adj",), 0, "Tune host's OOM preferences (-1000 to 1000)"),
    ("cpus", Optional[str], ("--cpus",), None, "Number of CPUs"),
    ("cpu_shares", int, ("-c", "--cpu-shares"), 0, "CPU shares (relative weight)"),
    ("cpu_period", int, ("--cpu-period",), 0, "Limit CPU CFS (Completely Fair Scheduler) period"),
    ("cpu_quota", int, ("--cpu-quota",), 0, "Limit CPU CFS (Completely Fair Scheduler) quota"),
    ("cpuset_cpus", str, ("--cpuset-cpus",), "", "CPUs in which to allow execution (0-3, 0,1)"),
    ("cpuset_mems", str, ("--cpuset-mems",), "", "MEMs in which to allow execution (0-3, 0,1)"),
    ("pids_limit", int, ("--pids-limit",), 0, "Tune container pids limit (set -1 for unlimited)"),
    ("shm_size", Optional[str], ("--shm-size",), None, "Size of /dev/shm"),
    ("init", Optional[bool], ("--init/--no-init",), None, "Run an init inside the container that forwards signals and reaps processes"),
    ("ipc", str, ("--ipc",), "", "IPC mode to use"),
    ("pid", str, ("--pid",), "", "PID namespace to use"),
    ("uts", str, ("--uts",), "", "UTS namespace to use"),
    ("cgroupns", str, ("--cgroupns",), "", "Cgroup namespace to use (host|private)"),
    ("cgroup_parent", str, ("--cgroup-parent",), "", "Optional parent cgroup for the container"),
    ("sysctls", Optional[List[str]], ("--sysctl",), None, "Sysctl options"),
    ("group_add", Optional[List[str]], ("--group-add",), None, "Add additional groups to join"),
    ("runtime", str, ("--runtime",), "", "Runtime to use for this container"),
    ("cidfile", str, ("--cidfile",), "", "Write the container ID to the file"),
    # create options (createOptions in docker)
    ("name", Optional[str], ("--name",), None, "Assign a name to the container"),
    ("pull", str, ("--pull",), "missing", 'Pull image before creating ("always", "missing", "never")'),
    ("quiet", bool, ("-q", "--quiet"), False, "Suppress the pull output"),
    ("platform", Optional[str], ("--platform",), None, "Set platform if server is multi-platform capable"),
]

RUN_FLAGS: list[tuple[str, Any, tuple[str, ...], Any, str]] = [
    ("detach", bool, ("-d", "--detach"), False, "Run container in background and print container ID"),
    ("sig_proxy", bool, ("--sig-proxy/--no-sig-proxy",), True, "Proxy received signals to the process"),
    ("detach_keys", str, ("--detach-keys",), "", "Override the key sequence for detaching a container"),
]

CREATE_KEYS = {"name", "pull", "quiet", "platform"}
COMMAND_SETTINGS = {"help_option_names": ["--help"], "allow_interspersed_args": False}


def _signature(flags) -> inspect.Signature:
    """``fn(ctx, *, <flags>, image, command)`` with typer annotations."""
    params = [inspect.Parameter("ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=typer.Context)]
    for name, kind, decls, default, help_ in flags:
        annotation = Annotated[kind, typer.Option(*decls, help=help_, show_default=False)]
        params.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation))
    params.append(inspect.Parameter(
        "image", inspect.Parameter.KEYWORD_ONLY,
        annotation=Annotated[str, typer.Argument(metavar="IMAGE", show_default=False)]))
    params.append(inspect.Parameter(
        "command", inspect.Parameter.KEYWORD_ONLY, default=None,
        annotation=Annotated[Optional[List[str]], typer.Argument(metavar="[COMMAND] [ARG...]", show_default=False)]))
    return inspect.Signature(params)


class FlagCommand:
    """``fn(ctx, image, command, **flags)`` with a signature typer can read,
    made when typer first asks for it: ~150 annotated flags cost a few ms
    that every ``barge`` call (``ps`` too) paid at import otherwise."""

    def __init__(self, fn, flags):
        self._fn = fn
        self._flags = flags
        self._signature: inspect.Signature | None = None
        self.__name__ = fn.__name__
        self.__qualname__ = fn.__qualname__
        self.__module__ = fn.__module__
        self.__doc__ = fn.__doc__
        self.__annotations__: dict = {}

    @property
    def __signature__(self) -> inspect.Signature:
        if self._signature is None:
            self._signature = _signature(self._flags)
        return self._signature

    def __call__(self, *args, **kwargs):
        return self._fn(*args, **kwargs)


def with_flags(flags):
    """Give ``fn(ctx, image, command, **flags)`` a signature typer can read."""

    def decorate(fn):
        return FlagCommand(fn, flags)

    return decorate


def _options_from(image: str, command: list[str] | None, flags: dict):
    from barge.client.runconfig import ContainerOptions

    fields = {k: v for k, v in flags.items() if k in ContainerOptions.__dataclass_fields__}
    for key, value in list(fields.items()):
        if value is None and ContainerOptions.__dataclass_fields__[key].default_factory is list:
            fields[key] = []  # a repeatable flag given zero times
    return ContainerOptions(image=image, args=list(command or []), **fields)


def with_help(message: str, command: str) -> str:
    """docker's ``withHelp``: the error, then where to read more."""
    return f"barge: {message}\n\nRun 'barge {command} --help' for more information"


def status_code_for(message: str) -> int:
    """docker's ``toStatusError``: 127 not found, 126 cannot invoke, else 125."""
    if "executable file not found" in message or "no such file or directory" in message \
            or "system cannot find the file specified" in message:
        return 127
    if "permission denied" in message or "is a directory" in message:
        return 126
    return 125


# ---------------------------------------------------------------- create

def _named_reference(image: str):
    """(familiar ``name:tag`` for messages, fromImage, tag) or None for an id."""
    from barge import reference
    from barge.errors import InvalidParameter

    if reference.is_full_id(image) or image.startswith("sha256:"):
        return None
    try:
        ref = reference.parse(image)
    except InvalidParameter:
        return None
    tag = ref.digest or ref.tag or "latest"
    shown = f"{ref.familiar_name}@{ref.digest}" if ref.digest else f"{ref.familiar_name}:{tag}"
    return shown, ref.name, tag


def _pull(api, from_image: str, tag: str, platform: str | None, quiet: bool) -> None:
    from barge.client import jsonmessage
    from barge.client.term import is_terminal

    response = api.pull(from_image, tag, platform)
    with response:
        messages = response.messages()
        if quiet:
            for msg in messages:
                error = jsonmessage.error_of(msg)
                if error is not None:
                    from barge.client.errors import StreamError

                    raise StreamError(error)
        else:
            jsonmessage.display(messages, sys.stderr, tty=is_terminal(sys.stderr))


def create_container(api, body: dict, name: str | None, pull: str, quiet: bool, platform: str | None,
                     cidfile: str = "") -> str:
    """docker's ``createContainer``: the new id; warnings on stderr."""
    import os

    from barge.client.errors import APIError

    if pull not in ("always", "missing", "never"):
        raise ValueError(f'invalid pull option: \'{pull}\': must be one of "always", "missing" or "never"')
    if cidfile and os.path.exists(cidfile):
        raise ValueError(f"container ID file found, make sure the other container isn't running or delete {cidfile}")
    named = _named_reference(body.get("Image", ""))
    if pull == "always" and named is not None:
        _pull(api, named[1], named[2], platform, quiet)
    try:
        response = api.create_container(body, name=name, platform=platform)
    except APIError as exc:
        if exc.status != 404 or named is None or pull != "missing":
            raise
        if not quiet:
            sys.stderr.write(f"Unable to find image '{named[0]}' locally\n")
            sys.stderr.flush()
        _pull(api, named[1], named[2], platform, quiet)
        response = api.create_container(body, name=name, platform=platform)
    for warning in response.get("Warnings") or []:
        sys.stderr.write(f"WARNING: {warning}\n")
    container_id = response.get("Id", "")
    if cidfile:
        with open(cidfile, "w") as fh:
            fh.write(container_id)
    return container_id


def _build_body(image: str, command, flags: dict, verb: str) -> dict:
    from barge.client.errors import ClientError
    from barge.client.runconfig import build_create_body
    from barge.client.term import is_terminal, size

    try:
        options = _options_from(image, command, flags)
        console = size(sys.stdout) if is_terminal(sys.stdout) else (0, 0)
        return build_create_body(options, console_size=console)
    except ClientError as exc:
        raise fail(with_help(str(exc), verb), 125) from None


def create_command(ctx: typer.Context, image: str, command=None, **flags) -> None:
    """Create a new container."""
    from barge.client.errors import ClientError

    body = _build_body(image, command, flags, "create")
    api = client(ctx)
    try:
        container_id = create_container(api, body, flags.get("name"), flags["pull"], flags["quiet"],
                                        flags.get("platform"), flags.get("cidfile") or "")
    except (ClientError, ValueError, OSError) as exc:
        raise fail(str(exc), 1 if not isinstance(exc, ValueError) else 125) from None
    sys.stdout.write(container_id + "\n")
    sys.stdout.flush()


# ---------------------------------------------------------------- run

def run_command(ctx: typer.Context, image: str, command=None, **flags) -> None:
    """Create and run a new container from an image."""
    from barge.cli.streams import configured_detach_keys
    from barge.client.errors import ClientError
    from barge.client.runconfig import DEFAULT_DETACH_KEYS, parse_detach_keys
    from barge.client.term import is_terminal

    body = _build_body(image, command, flags, "run")
    detach = flags["detach"]
    if not detach:
        if body["Tty"] and body["AttachStdin"] and not is_terminal(sys.stdin):
            raise fail("the input device is not a TTY", 1)
    else:
        if flags.get("attach"):
            raise fail("conflicting options: cannot specify both --attach and --detach", 1)
        body.update(AttachStdin=False, AttachStdout=False, AttachStderr=False, StdinOnce=False)
    keys_text = flags.get("detach_keys") or configured_detach_keys()
    try:
        keys = parse_detach_keys(keys_text) if keys_text else DEFAULT_DETACH_KEYS
    except ClientError as exc:
        raise fail(f"invalid detach keys ({keys_text}): {exc}", 1) from None

    api = client(ctx)
    try:
        container_id = create_container(api, body, flags.get("name"), flags["pull"], flags["quiet"],
                                        flags.get("platform"), flags.get("cidfile") or "")
    except (ClientError, ValueError, OSError) as exc:
        message = str(exc)
        raise fail(with_help(message, "run"), status_code_for(message)) from None
    try:
        code = run_container(api, container_id, body, detach=detach, sig_proxy=flags["sig_proxy"],
                             detach_keys=keys_text, detach_bytes=keys)
    except KeyboardInterrupt:  # --sig-proxy=false: ctrl-c ends the client, as it ends docker's
        raise typer.Exit(130) from None
    if code:
        raise typer.Exit(code)


def run_container(api, container_id: str, body: dict, detach: bool, sig_proxy: bool,
                  detach_keys: str, detach_bytes: bytes) -> int:
    """Everything after create; returns the exit code.

    Long on purpose: docker's ``runContainer`` step by step (attach before
    start, wait, signals, resize, detach, ``--rm``), each step's clean-up
    needing the ones before it.
    """
    from barge.cli.streams import Events, ExitWatch, next_event, resize_loop, stream_in_thread
    from barge.client.attach import Detached, Streamer
    from barge.client.errors import ClientError
    from barge.client.signals import SignalRouter
    from barge.client.term import is_terminal

    tty = bool(body.get("Tty"))
    want_in, want_out, want_err = body["AttachStdin"], body["AttachStdout"], body["AttachStderr"]
    attached = want_in or want_out or want_err
    auto_remove = bool(body["HostConfig"].get("AutoRemove"))
    resizing = tty and attached and is_terminal(sys.stdout)
    started = threading.Event()

    def forward(name: str) -> None:
        try:
            api.kill(container_id, name)
        except ClientError:
            pass

    def on_winch() -> None:
        if started.is_set():
            resize_loop(api, container_id)

    events = Events()
    streamer = None
    with SignalRouter(forward if sig_proxy else None, on_winch if resizing else None):
        if attached:
            try:
                conn = api.attach(container_id, stdin=want_in, stdout=want_out, stderr=want_err,
                                  stream=True, detach_keys=detach_keys or None)
            except ClientError as exc:
                sys.stderr.write(f"{exc}\n")
                return 1
            streamer = Streamer(conn, sys.stdin if want_in else None, sys.stdout if want_out else None,
                                (sys.stdout if tty else sys.stderr) if want_err else None, tty, detach_bytes)
            streamer.start()
        else:
            sys.stdout.write(container_id + "\n")
            sys.stdout.flush()

        watch = ExitWatch(api, container_id, auto_remove, events)
        try:
            api.start(container_id)
        except ClientError as exc:
            if streamer is not None:
                streamer.cancel()
            if auto_remove:
                next_event(events, "status", timeout=30)
            watch.close()
            message = str(exc)
            sys.stderr.write(with_help(message, "run") + "\n")
            return status_code_for(message)
        started.set()
        if not attached:
            watch.close()  # docker drops the wait once the id is out
            return 0
        if resizing:
            resize_loop(api, container_id)
        stream_in_thread(streamer, events)
        kind, value = next_event(events)
        if kind == "stream":
            if isinstance(value, Detached):
                watch.close()
                return 0
            if value is not None:
                watch.close()
                sys.stderr.write(f"{value}\n")
                return 1
            return next_event(events, "status")[1]
        # The container ended first: let the output drain.
        if not want_out and not want_err:
            streamer.cancel()
        next_event(events, "stream")
        streamer.conn.close()
        return value


def register(app: typer.Typer, container_app: typer.Typer) -> None:
    from barge.cli.common import handles_errors
    from barge.cli.dockerflags import DockerCommand

    run = with_flags(CONTAINER_FLAGS + RUN_FLAGS)(handles_errors(run_command))
    create = with_flags(CONTAINER_FLAGS)(handles_errors(create_command))
    for target in (app, container_app):
        target.command("run", cls=DockerCommand, context_settings=COMMAND_SETTINGS)(run)
        target.command("create", cls=DockerCommand, context_settings=COMMAND_SETTINGS)(create)

