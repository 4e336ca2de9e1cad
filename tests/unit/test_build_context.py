"""The build context as the daemon receives it: unpacked safely, its Dockerfile found as dockerd finds it."""

from __future__ import annotations

import gzip
import io
import tarfile

import pytest

from barge.builder.context import read_context_dockerfile, receive, unpack
from barge.errors import InvalidParameter


def tar_of(entries: list[tuple[str, bytes | None, str]]) -> bytes:
    """(name, data, link target): a file, or a symlink when data is None."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data, link in entries:
            info = tarfile.TarInfo(name)
            if data is None:
                info.type, info.linkname = tarfile.SYMTYPE, link
                tf.addfile(info)
            else:
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_the_docker_clis_truncated_tar_is_accepted_and_a_cut_file_is_not(tmp_path):
    """docker CLI 28 ends a context with ``-f`` outside it without padding or end blocks."""
    data = b"FROM x\nRUN y\n"
    whole = tar_of([("Dockerfile", b"FROM busybox\n", ""), (".dockerfile.abc", data, "")])
    cut = whole[:3 * 512 + len(data)]
    unpack(io.BytesIO(cut), tmp_path / "ok")
    assert (tmp_path / "ok" / ".dockerfile.abc").read_bytes() == data
    with pytest.raises(InvalidParameter, match="unexpected end of stream in file data"):
        unpack(io.BytesIO(cut[:-3]), tmp_path / "cut")


def test_compressed_contexts_and_the_lowercase_fallback(tmp_path):
    body = gzip.compress(tar_of([("dockerfile", b"FROM busybox\n", "")]))
    ctx = receive(io.BytesIO(body), "", "", tmp_path, progress=lambda m: None)
    assert ctx.dockerfile_name == "dockerfile" and ctx.has_files


def test_a_dockerfile_outside_the_context_is_never_read(tmp_path):
    (tmp_path / "outside").write_text("FROM secret\n")
    unpack(io.BytesIO(tar_of([("link", None, str(tmp_path / "outside")), ("up", None, "../../outside")])),
           tmp_path / "ctx")
    for name in ("link", "up", "../outside", str(tmp_path / "outside")):
        with pytest.raises(InvalidParameter, match="Cannot locate specified Dockerfile"):
            read_context_dockerfile(tmp_path / "ctx", name)


def test_excluded_build_files_are_removed(tmp_path):
    body = tar_of([("Dockerfile", b"FROM busybox\n", ""), (".dockerignore", b"Dockerfile\n.dockerignore\n", ""),
                   ("kept", b"k", "")])
    ctx = receive(io.BytesIO(body), "", "", tmp_path, progress=lambda m: None)
    assert sorted(p.name for p in ctx.root.iterdir()) == ["kept"]
