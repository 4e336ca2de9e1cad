"""Image commands: images/image ls, import, tag, rmi, inspect, history, save,
load and mkimage. Flags, columns and messages follow the docker CLI."""

from __future__ import annotations

import os
import sys
from typing import Annotated, List, Optional

import typer

from barge.cli.common import (
    NoSuchObject,
    add_commands,
    client,
    fail,
    handles_errors,
    inspect_each,
    out,
    parse_filters,
    stdout_is_tty,
)

image_app = typer.Typer(help="Manage images.", no_args_is_help=True, rich_markup_mode=None, add_completion=False)
mkimage_app = typer.Typer(
    help="Build base images from the host's packages.", no_args_is_help=True, rich_markup_mode=None, add_completion=False
)

Format = Annotated[Optional[str], typer.Option("--format", help="Format output using a Go template, 'table' or 'json'.")]


@handles_errors
def list_images(
    ctx: typer.Context,
    repository: Annotated[Optional[str], typer.Argument(metavar="[REPOSITORY[:TAG]]", show_default=False)] = None,
    all: Annotated[bool, typer.Option("-a", "--all", help="Show all images (default hides intermediate images).")] = False,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="Only show image IDs.")] = False,
    digests: Annotated[bool, typer.Option("--digests", help="Show digests.")] = False,
    no_trunc: Annotated[bool, typer.Option("--no-trunc", help="Don't truncate output.")] = False,
    filter: Annotated[Optional[List[str]], typer.Option("-f", "--filter", help="Filter output based on conditions provided.")] = None,
    format: Format = None,
) -> None:
    """List images."""
    from barge.client import formatter

    filters = parse_filters(filter)
    if repository:
        filters.setdefault("reference", []).append(repository)
    images = client(ctx).images(all=all, filters=filters or None)
    rows = formatter.image_rows(images, digests=digests, trunc=not no_trunc)
    if quiet:
        fmt = formatter.IMAGE_QUIET
    elif format:
        fmt = format
    else:
        fmt = formatter.IMAGE_TABLE_DIGESTS if digests else formatter.IMAGE_TABLE
    out(formatter.render(fmt, rows, formatter.IMAGE_TABLE, formatter.IMAGE_HEADERS))


@handles_errors
def import_image(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(metavar="file|URL|-", help="Tar archive of a root filesystem ('-' for stdin).")],
    reference: Annotated[Optional[str], typer.Argument(metavar="[REPOSITORY[:TAG]]", show_default=False)] = None,
    change: Annotated[Optional[List[str]], typer.Option("-c", "--change", help="Apply Dockerfile instruction to the created image.")] = None,
    message: Annotated[Optional[str], typer.Option("-m", "--message", help="Set commit message for imported image.")] = None,
) -> None:
    """Import the contents from a tarball to create a filesystem image."""
    from barge.client import jsonmessage
    from barge.client import reference as refs

    if reference:
        refs.validate(reference)
    api = client(ctx)
    if source == "-":
        body = sys.stdin.buffer
    elif source.startswith(("http://", "https://")):
        body = source
    else:
        try:
            body = open(source, "rb")
        except OSError as exc:
            raise fail(f"open {source}: {exc.strerror.lower() if exc.strerror else exc}") from None
    try:
        response = api.import_image(body, repo=reference, message=message, changes=change)
    finally:
        if hasattr(body, "close") and body is not sys.stdin.buffer:
            body.close()
    with response:
        jsonmessage.display(response.messages(), sys.stdout, tty=stdout_is_tty())


@handles_errors
def tag(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(metavar="SOURCE_IMAGE[:TAG]")],
    target: Annotated[str, typer.Argument(metavar="TARGET_IMAGE[:TAG]")],
) -> None:
    """Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE."""
    from barge.client import reference as refs

    name, tag_, digest = refs.validate(target)
    if digest:
        raise fail("refusing to create a tag with a digest reference")
    client(ctx).tag(source, name, tag_ or "latest")


@handles_errors
def rmi(
    ctx: typer.Context,
    images: Annotated[List[str], typer.Argument(metavar="IMAGE...")],
    force: Annotated[bool, typer.Option("-f", "--force", help="Force removal of the image.")] = False,
    no_prune: Annotated[bool, typer.Option("--no-prune", help="Do not delete untagged parents.")] = False,
) -> None:
    """Remove one or more images."""
    from barge.client.errors import APIError

    api = client(ctx)
    errors = []
    for name in images:
        try:
            items = api.remove_image(name, force=force, noprune=no_prune)
        except APIError as exc:
            errors.append(str(exc))
            continue
        for item in items:
            if item.get("Untagged"):
                out(f"Untagged: {item['Untagged']}\n")
            if item.get("Deleted"):
                out(f"Deleted: {item['Deleted']}\n")
    if errors:
        raise fail("\n".join(errors))


def _inspect_one(api, kind: str | None, name: str):
    """Raw object for ``name``: containers first, then images, as docker does."""
    from barge.client.errors import APIError

    if kind:
        return api.inspect_raw(kind, name)
    for candidate in ("container", "image"):
        try:
            return api.inspect_raw(candidate, name)
        except APIError as exc:
            if exc.status != 404:
                raise
    raise NoSuchObject(f"Error: No such object: {name}")


@handles_errors
def inspect(
    ctx: typer.Context,
    names: Annotated[List[str], typer.Argument(metavar="NAME|ID...")],
    format: Annotated[Optional[str], typer.Option("-f", "--format", help="Format output using a Go template or 'json'.")] = None,
    type: Annotated[Optional[str], typer.Option("--type", help="Only inspect objects of the given type (image, container).")] = None,
) -> None:
    """Return low-level information on barge objects."""
    if type is not None and type not in ("image", "container"):
        raise fail(f'"{type}" is not a valid value for --type')
    api = client(ctx)
    inspect_each(names, lambda name: _inspect_one(api, type, name), format)


@handles_errors
def image_inspect(
    ctx: typer.Context,
    names: Annotated[List[str], typer.Argument(metavar="IMAGE...")],
    format: Annotated[Optional[str], typer.Option("-f", "--format", help="Format output using a Go template or 'json'.")] = None,
) -> None:
    """Display detailed information on one or more images."""
    inspect_each(names, client(ctx).inspect_image, format)


@handles_errors
def history(
    ctx: typer.Context,
    image: Annotated[str, typer.Argument(metavar="IMAGE")],
    human: Annotated[bool, typer.Option("--human/--no-human", "-H", help="Print sizes and dates in human readable format.")] = True,
    no_trunc: Annotated[bool, typer.Option("--no-trunc", help="Don't truncate output.")] = False,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="Only show image IDs.")] = False,
    format: Format = None,
) -> None:
    """Show the history of an image."""
    from barge.client import formatter

    items = client(ctx).history(image)
    rows = formatter.history_rows(items, trunc=not no_trunc, human=human)
    fmt = "{{.ID}}" if quiet else (format or formatter.HISTORY_TABLE)
    out(formatter.render(fmt, rows, formatter.HISTORY_TABLE, formatter.HISTORY_HEADERS))


@handles_errors
def save(
    ctx: typer.Context,
    images: Annotated[List[str], typer.Argument(metavar="IMAGE...")],
    output: Annotated[Optional[str], typer.Option("-o", "--output", help="Write to a file, instead of STDOUT.")] = None,
) -> None:
    """Save one or more images to a tar archive (streamed to STDOUT by default)."""
    if not output and stdout_is_tty():
        raise fail("cowardly refusing to save to a terminal. Use the -o flag or redirect")
    response = client(ctx).save(images)
    with response:
        if output:
            _write_atomically(output, response.chunks())
        else:
            sink = sys.stdout.buffer
            for chunk in response.chunks():
                sink.write(chunk)
            sink.flush()


def _write_atomically(path: str, chunks) -> None:
    """Write to a temporary name beside ``path`` and rename: never half a tar."""
    import tempfile

    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".barge-save-", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            for chunk in chunks:
                fh.write(chunk)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


@handles_errors
def load(
    ctx: typer.Context,
    input: Annotated[Optional[str], typer.Option("-i", "--input", help="Read from tar archive file, instead of STDIN.")] = None,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="Suppress the load output.")] = False,
) -> None:
    """Load an image from a tar archive or STDIN."""
    from barge.client import jsonmessage

    if input:
        try:
            body = open(input, "rb")
        except OSError as exc:
            raise fail(f"open {input}: {(exc.strerror or str(exc)).lower()}") from None
    else:
        if sys.stdin.isatty():
            raise fail("requested load from stdin, but stdin is empty")
        body = sys.stdin.buffer
    try:
        response = client(ctx).load(body, quiet=quiet)
    finally:
        if body is not sys.stdin.buffer:
            body.close()
    with response:
        if response.content_type == "application/json":
            jsonmessage.display(response.messages(), sys.stdout, tty=stdout_is_tty() and not quiet)
        else:
            for chunk in response.chunks():
                sys.stdout.buffer.write(chunk)
            sys.stdout.flush()


@handles_errors
def mkimage_busybox(
    ctx: typer.Context,
    tag: Annotated[str, typer.Option("-t", "--tag", help="Name and tag of the image.")] = "busybox:latest",
) -> None:
    """Build a busybox image from Debian's busybox-static and import it."""
    from barge.client import mkimage
    from barge.client import reference as refs

    refs.validate(tag)
    api = client(ctx)
    api.negotiate()  # fail fast, before installing anything, if the daemon is down
    image_id = mkimage.busybox(api, tag, log=lambda line: out(line + "\n"))
    out(image_id + "\n")


# name, function, hidden aliases, groups ("" is the top level)
COMMANDS = (
    ("images", list_images, (), ("",)),
    ("ls", list_images, ("list",), ("image",)),
    ("import", import_image, (), ("", "image")),
    ("tag", tag, (), ("", "image")),
    ("rmi", rmi, (), ("",)),
    ("rm", rmi, (), ("image",)),
    ("inspect", inspect, (), ("",)),
    ("inspect", image_inspect, (), ("image",)),
    ("history", history, (), ("", "image")),
    ("save", save, (), ("", "image")),
    ("load", load, (), ("", "image")),
    ("busybox", mkimage_busybox, (), ("mkimage",)),
)


def register(app: typer.Typer) -> None:
    """Add the image commands, top-level and under ``image``."""
    add_commands({"": app, "image": image_app, "mkimage": mkimage_app}, COMMANDS)
    app.add_typer(image_app, name="image")
    app.add_typer(mkimage_app, name="mkimage")
