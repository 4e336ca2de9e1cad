"""The build context as the daemon receives it: spooled and indexed, unpacked safely when needed,
its Dockerfile found as dockerd finds it, its checksums moby's."""

from __future__ import annotations

import gzip
import io
import random
import tarfile

import pytest

from barge.builder.archive_context import ContextArchive
from barge.builder.context import read_context_dockerfile, receive
from barge.builder.sources import SourceRoot, copy_info, copy_infos
from barge.errors import InvalidParameter


def tar_of(entries: list[tuple[str, bytes | None, str]], fmt=tarfile.PAX_FORMAT) -> bytes:
    """(name, data, link target): a file, a directory (name ending in /), or a symlink (data None)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tf:
        for name, data, link in entries:
            info = tarfile.TarInfo(name)
            if name.endswith("/"):
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tf.addfile(info)
            elif data is None:
                info.type, info.linkname = tarfile.SYMTYPE, link
                tf.addfile(info)
            else:
                info.size, info.mode = len(data), 0o644
                tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_the_docker_clis_truncated_tar_is_accepted_and_a_cut_file_is_not(tmp_path):
    """docker CLI 28 ends a context with ``-f`` outside it without padding or end blocks."""
    data = b"FROM x\nRUN y\n"
    cut = tar_of([("Dockerfile", b"FROM busybox\n", ""), (".dockerfile.abc", data, "")], tarfile.USTAR_FORMAT)
    cut = cut[:3 * 512 + len(data)]
    (tmp_path / "ok").mkdir()
    archive = ContextArchive.receive(io.BytesIO(cut), tmp_path / "ok")
    assert archive.read(".dockerfile.abc", 1 << 20) == data
    assert (archive.materialize().root / ".dockerfile.abc").read_bytes() == data
    (tmp_path / "cut").mkdir()
    with pytest.raises(InvalidParameter, match="unexpected end of stream in file data"):
        ContextArchive.receive(io.BytesIO(cut[:-3]), tmp_path / "cut")


def test_compressed_contexts_and_the_lowercase_fallback(tmp_path):
    body = gzip.compress(tar_of([("dockerfile", b"FROM busybox\n", "")]))
    ctx = receive(io.BytesIO(body), "", "", tmp_path, progress=lambda m: None)
    assert ctx.dockerfile_name == "dockerfile" and ctx.files is not None


def test_a_dockerfile_outside_the_context_is_never_read(tmp_path):
    (tmp_path / "outside").write_text("FROM secret\n")
    (tmp_path / "c").mkdir()
    archive = ContextArchive.receive(io.BytesIO(tar_of([("link", None, str(tmp_path / "outside")),
                                                        ("up", None, "../../outside")])), tmp_path / "c")
    for files in (archive, archive.materialize()):
        for name in ("link", "up", "../outside", str(tmp_path / "outside")):
            with pytest.raises(InvalidParameter, match="Cannot locate specified Dockerfile"):
                read_context_dockerfile(files, name)


def test_excluded_build_files_are_removed(tmp_path):
    body = tar_of([("Dockerfile", b"FROM busybox\n", ""), (".dockerignore", b"Dockerfile\n.dockerignore\n", ""),
                   ("kept", b"k", "")])
    ctx = receive(io.BytesIO(body), "", "", tmp_path, progress=lambda m: None)
    assert [rel for rel, _ in ctx.files.walk("")] == ["kept"]
    assert sorted(p.name for p in ctx.files.materialize().root.iterdir()) == ["kept"]


def test_checksums_are_dockerds():
    """The value dockerd 20.10 writes for a.txt holding "a\\n" sent by the docker CLI (0644, root)."""
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        archive = ContextArchive.receive(io.BytesIO(tar_of([("a.txt", b"a\n", "")], tarfile.USTAR_FORMAT)),
                                         Path(tmp))
        assert copy_info(archive, "a.txt").hash == \
            "file:a596f0888def06c3cad1442667ede22d419985a1c8a3155b838b650c4cf52ecc"


def _random_tree(rng: random.Random) -> list[tuple[str, bytes | None, str]]:
    names = ["a", "b", "c", "d.txt", "e.md"]
    out: list[tuple[str, bytes | None, str]] = []
    made: list[str] = []
    dirs: list[str] = []
    for _ in range(rng.randint(3, 25)):
        depth = rng.randint(1, 3)
        path = "/".join(rng.choice(names) for _ in range(depth))
        if any(path.startswith(m + "/") for m in made if not m.endswith("/")) or path in made:
            continue  # no file used as a directory, no name twice
        if any(m.startswith(path + "/") for m in made):
            continue
        roll = rng.random()
        if roll < 0.2:
            # links to the root, above it, to directories, to nothing (through files, the kernel and moby differ)
            target = rng.choice(["/", "..", "../..", "nowhere", "/nowhere/x"] + dirs + ["/" + d for d in dirs])
            out.append((path, None, target.rstrip("/") or "/"))
        elif roll < 0.35:
            out.append((path + "/", b"", ""))
            dirs.append(path)
        else:
            out.append((path, rng.randbytes(rng.randint(0, 40)), ""))
        made.append(path)
    return out


def test_the_index_resolves_walks_and_hashes_as_the_unpacked_context_does(tmp_path):
    """Random trees with symlinks everywhere: paths resolve, walk, match wildcards and hash the same on the
    archive's index as on its unpacked files (the sums compared through their resolution)."""
    rng = random.Random(11)
    probes = ["a", "b", "a/b", "c/d.txt", "../a", "/b/c", "a/../b", "*", "*/b", "[ab]/*", "e.md", "a/e.md"]
    for n in range(60):
        where = tmp_path / str(n)
        where.mkdir()
        archive = ContextArchive.receive(io.BytesIO(tar_of(_random_tree(rng))), where)
        index = [(archive.resolve(p), archive.kind_of(p)) for p in probes]
        walks = [[rel for rel, _ in archive.walk(p)] for p in ("", "a", "b")]
        matched = []
        for p in probes:
            try:
                matched.append(sorted(info.path for info in copy_infos(archive, p)))
            except InvalidParameter:
                matched.append(None)
        disk = archive.materialize()
        assert [(disk.resolve(p), disk.kind_of(p)) for p in probes] == index
        assert [[rel for rel, _ in disk.walk(p)] for p in ("", "a", "b")] == walks
        for p, expected in zip(probes, matched):
            try:
                got = sorted(info.path for info in copy_infos(disk, p))
            except InvalidParameter:
                got = None
            assert got == expected, p


def test_the_disk_source_reads_regular_files_only(tmp_path):
    (tmp_path / "f").write_text("x")
    (tmp_path / "d").mkdir()
    root = SourceRoot(tmp_path)
    assert root.read("f", 10) == b"x" and root.read("d", 10) is None and root.read("nope", 10) is None
