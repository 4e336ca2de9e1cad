"""``barge cp``: files between a container and the local filesystem, as
docker's cli/command/container/cp.go and moby's pkg/archive/copy.go do it.

From a container: ``GET /archive`` gives a tar whose top entry is the
path's base name (``.`` for ``dir/.``); it is unpacked with the layer
unpacker (entries never land outside the target) into a scratch directory
beside the destination, and the top entry is then renamed into place, which
is docker's "rebase the top entry to the destination's name"
(PrepareArchiveCopy) without rewriting the stream. To a container: the local
path is tarred with its top entry already named as the destination needs,
and ``PUT`` to the directory it must be extracted in.
"""

from __future__ import annotations

import os
import posixpath
import shutil
import stat
import sys
import threading
from typing import Annotated

import typer

from barge.cli.common import client, fail, handles_errors

#: Go's ``os.ModeDir`` and ``os.ModeSymlink`` bits in the path-stat header's ``mode``.
GO_DIR = 1 << 31
GO_SYMLINK = 1 << 27
GO_NON_REGULAR = GO_SYMLINK | (1 << 26) | (1 << 25) | (1 << 24) | (1 << 21) | (1 << 19)  # link, device, pipe, socket, char dev, irregular


class CopyError(Exception):
    """A refusal docker makes on the client side; printed as it is."""


def split_cp_arg(arg: str) -> tuple[str, str]:
    """``container:path`` or a local path (absolute, or ``./x:y``, or no colon)."""
    if arg.startswith("/"):
        return "", arg
    container, sep, path = arg.partition(":")
    if not sep or container.startswith("."):
        return "", arg
    return container, path


def split_dir_entry(path: str) -> tuple[str, str]:
    """moby's ``SplitPathDirEntry``: ``dir/.`` keeps ``.`` as its entry."""
    cleaned = posixpath.normpath(path) if path else "."
    if path.endswith("/.") or path == ".":
        cleaned = posixpath.join(cleaned, ".")
    return posixpath.dirname(cleaned) or ".", posixpath.basename(cleaned)


def asserts_directory(path: str) -> bool:
    return path.endswith("/") or path.endswith("/.") or path == "."


# ---------------------------------------------------------------- container -> local

def _destination_info(path: str) -> tuple[str, bool, bool]:
    """moby's ``CopyInfoDestinationPath``: ``(path, exists, is_dir)`` after following symlinks."""
    for _ in range(10):
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            parent, _ = split_dir_entry(path)
            pst = os.stat(parent)  # a missing parent is an error, as in docker
            if not stat.S_ISDIR(pst.st_mode):
                raise CopyError("not a directory") from None
            return path, False, False
        if not stat.S_ISLNK(st.st_mode):
            return path, True, stat.S_ISDIR(st.st_mode)
        target = os.readlink(path)
        if not os.path.isabs(target):
            target = os.path.join(os.path.dirname(path), target)
        path = target
    raise CopyError(f"too many symlinks in {path}")


def copy_from_container(api, container: str, src: str, dst: str, follow_link: bool) -> None:
    if follow_link:
        st = api.stat_path(container, src)
        if st.get("mode", 0) & GO_SYMLINK:
            target = st.get("linkTarget", "")
            src = target if target.startswith("/") else posixpath.join(split_dir_entry(src)[0], target)
    response, st = api.get_archive(container, src)
    with response:
        if dst == "-":
            sink = sys.stdout.buffer
            for chunk in response.chunks():
                sink.write(chunk)
            sink.flush()
            return
        src_is_dir = bool(st.get("mode", 0) & GO_DIR)
        src_base = split_dir_entry(src)[1] or "."
        dst_path, exists, is_dir = _destination_info(os.path.abspath(dst) + ("/" if dst.endswith("/") else ""))
        if exists and is_dir:
            _unpack(response, dst_path)
            return
        if exists and src_is_dir:
            raise CopyError("cannot copy directory")
        if not exists and not src_is_dir and asserts_directory(dst):
            raise CopyError("no such directory")
        _unpack_renamed(response, src_base, os.path.normpath(dst_path))


def _unpack(response, target: str) -> None:
    from barge.archive.apply import apply_layer
    from barge.archive.errors import ArchiveError

    try:
        apply_layer(response.raw, target, whiteouts=None, chown=False)
    except ArchiveError as exc:
        raise CopyError(str(exc)) from None


def _unpack_renamed(response, top: str, dst: str) -> None:
    """Unpack beside ``dst`` and move the tar's top entry ``top`` to ``dst``."""
    import tempfile

    scratch = tempfile.mkdtemp(prefix=".barge-cp-", dir=os.path.dirname(dst) or ".")
    try:
        _unpack(response, scratch)
        if top == ".":
            os.rename(scratch, dst)
            scratch = ""
            return
        entry = os.path.join(scratch, top)
        if not os.path.lexists(entry):
            raise CopyError(f"the archive of the container path has no entry {top!r}")
        os.rename(entry, dst)
    finally:
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)


# ---------------------------------------------------------------- local -> container

def _tar_stream(path: str, arcname: str, contents_only: bool):
    """A readable pipe carrying a PAX tar of ``path`` (written by a thread)."""
    import tarfile

    read_fd, write_fd = os.pipe()
    reader = os.fdopen(read_fd, "rb")
    failure: list[BaseException] = []

    def write() -> None:
        try:
            with os.fdopen(write_fd, "wb") as sink, tarfile.open(fileobj=sink, mode="w|", format=tarfile.PAX_FORMAT) as tar:
                if contents_only:
                    for name in sorted(os.listdir(path)):
                        tar.add(os.path.join(path, name), arcname=name)
                else:
                    tar.add(path, arcname=arcname)
        except BrokenPipeError:
            pass
        except BaseException as exc:  # noqa: BLE001 - the writer thread's failure, reported after the upload
            failure.append(exc)

    thread = threading.Thread(target=write, name="barge-cp-tar", daemon=True)
    thread.start()
    return reader, thread, failure


def copy_to_container(api, container: str, src: str, dst: str, follow_link: bool, copy_uid_gid: bool) -> None:
    from barge.client.errors import APIError

    dst_path = dst
    try:
        st = api.stat_path(container, dst)
        if st.get("mode", 0) & GO_SYMLINK:
            target = st.get("linkTarget", "")
            dst_path = target if target.startswith("/") else posixpath.join(split_dir_entry(dst)[0], target)
            st = api.stat_path(container, dst_path)
    except APIError:
        st = None  # missing: the parent may still exist (the PUT says if not)
    if st is not None and st.get("mode", 0) & GO_NON_REGULAR and not st.get("mode", 0) & GO_DIR:
        raise CopyError(f'destination "{container}:{dst}" must be a directory or a regular file')
    dst_exists = st is not None
    dst_is_dir = bool(st and st.get("mode", 0) & GO_DIR)

    if src == "-":
        if not dst_is_dir:
            raise CopyError(f'destination "{container}:{dst}" must be a directory')
        api.put_archive(container, dst_path, sys.stdin.buffer, copy_uid_gid=copy_uid_gid)
        return

    local = os.path.abspath(src) + ("/." if src.endswith("/.") or src == "." else "")
    contents_only = local.endswith("/.")
    real = local[:-2] if contents_only else local
    if follow_link:
        real = os.path.realpath(real)
    st_local = os.stat(real) if follow_link else os.lstat(real)
    src_is_dir = stat.S_ISDIR(st_local.st_mode)
    _, src_base = split_dir_entry(local)
    dst_dir, dst_base = split_dir_entry(dst_path)
    if dst_exists and dst_is_dir:
        target, arcname = dst_path, src_base
    elif dst_exists and src_is_dir:
        raise CopyError("cannot copy directory")
    elif not dst_exists and not src_is_dir and asserts_directory(dst_path):
        raise CopyError("no such directory")
    else:
        target, arcname = dst_dir, dst_base
        contents_only = False
    reader, thread, failure = _tar_stream(real, arcname, contents_only and dst_exists and dst_is_dir)
    try:
        api.put_archive(container, target, reader, copy_uid_gid=copy_uid_gid)
    finally:
        reader.close()
        thread.join()
    if failure:
        raise failure[0]


@handles_errors
def cp(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(metavar="SRC_PATH", show_default=False)],
    destination: Annotated[str, typer.Argument(metavar="DEST_PATH", show_default=False)],
    archive: Annotated[bool, typer.Option("-a", "--archive", help="Archive mode (copy all uid/gid information)")] = False,
    follow_link: Annotated[bool, typer.Option("-L", "--follow-link", help="Always follow symbol link in SRC_PATH")] = False,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="Suppress progress output during copy")] = False,
) -> None:
    """Copy files/folders between a container and the local filesystem.

    Use '-' as the source to read a tar archive from stdin and extract it to a
    directory destination in a container. Use '-' as the destination to stream
    a tar archive of a container source to stdout.
    """
    if not source:
        raise fail("source can not be empty")
    if not destination:
        raise fail("destination can not be empty")
    src_container, src_path = split_cp_arg(source)
    dst_container, dst_path = split_cp_arg(destination)
    if src_container and dst_container:
        raise fail("copying between containers is not supported")
    if not src_container and not dst_container:
        raise fail("must specify at least one container source")
    api = client(ctx)
    try:
        if src_container:
            copy_from_container(api, src_container, src_path, dst_path, follow_link)
        else:
            copy_to_container(api, dst_container, src_path, dst_path, follow_link, archive)
    except CopyError as exc:
        raise fail(str(exc)) from None


def register(app: typer.Typer, container_app: typer.Typer) -> None:
    from barge.cli.dockerflags import DockerCommand

    app.command("cp", cls=DockerCommand)(cp)
    container_app.command("cp", cls=DockerCommand)(cp)
