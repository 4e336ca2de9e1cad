"""A container's filesystem as a whole: ``diff``, ``export`` and ``commit``,
with docker's flags, output and messages (cli/command/container/{diff,
export,commit}.go)."""

from __future__ import annotations

import sys
from typing import Annotated, List, Optional

import typer

from barge.cli.common import client, fail, handles_errors, out, stdout_is_tty

Container = Annotated[str, typer.Argument(metavar="CONTAINER", show_default=False)]
#: ``Kind`` of ``GET /containers/{id}/changes`` as the letter docker prints.
KINDS = {0: "C", 1: "A", 2: "D"}


@handles_errors
def diff(ctx: typer.Context, container: Container) -> None:
    """Inspect changes to files or directories on a container's filesystem."""
    changes = client(ctx).changes(container)
    out("".join(f"{KINDS.get(c.get('Kind'), '?')} {c.get('Path', '')}\n" for c in changes))


@handles_errors
def export(
    ctx: typer.Context,
    container: Container,
    output: Annotated[Optional[str], typer.Option("-o", "--output", help="Write to a file, instead of STDOUT")] = None,
) -> None:
    """Export a container's filesystem as a tar archive."""
    from barge.cli.images import _write_atomically

    if not output and stdout_is_tty():
        raise fail("cowardly refusing to save to a terminal. Use the -o flag or redirect")
    response = client(ctx).export(container)
    with response:
        if output:
            _write_atomically(output, response.chunks())
            return
        sink = sys.stdout.buffer
        for chunk in response.chunks():
            sink.write(chunk)
        sink.flush()


def split_reference(reference: str) -> tuple[str, str]:
    """``REPO[:TAG]`` as the docker client sends it: tag ``latest`` unless given, no digests."""
    from barge.client import reference as refs

    name, tag, digest = refs.validate(reference)
    if digest:
        raise fail("refusing to create a tag with a digest reference")
    return name, tag or "latest"


@handles_errors
def commit(
    ctx: typer.Context,
    container: Container,
    reference: Annotated[Optional[str], typer.Argument(metavar="[REPOSITORY[:TAG]]", show_default=False)] = None,
    author: Annotated[str, typer.Option("-a", "--author", help='Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")')] = "",
    change: Annotated[Optional[List[str]], typer.Option("-c", "--change", help="Apply Dockerfile instruction to the created image")] = None,
    message: Annotated[str, typer.Option("-m", "--message", help="Commit message")] = "",
    pause: Annotated[bool, typer.Option("-p", "--pause/--no-pause", help="Pause container during commit")] = True,
) -> None:
    """Create a new image from a container's changes."""
    repo, tag = split_reference(reference) if reference else ("", "")
    answer = client(ctx).commit(container, repo, tag, comment=message, author=author, pause=pause, changes=change)
    out(f"{answer.get('Id', '')}\n")


def register(app: typer.Typer, container_app: typer.Typer) -> None:
    from barge.cli.dockerflags import DockerCommand

    for name, fn in (("diff", diff), ("export", export), ("commit", commit)):
        app.command(name, cls=DockerCommand)(fn)
        container_app.command(name, cls=DockerCommand)(fn)
