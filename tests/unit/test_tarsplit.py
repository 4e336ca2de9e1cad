"""A layer tar is rebuilt byte for byte from its skeleton and the unpacked files."""

import hashlib
import io
import os
import tarfile

import pytest

from barge.archive import apply_layer
from barge.archive.errors import ArchiveError
from barge.archive.tarsplit import SplitRecorder, reassemble


def build_tar(fmt=tarfile.PAX_FORMAT) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tf:
        def add(name, data=None, **kw):
            info = tarfile.TarInfo(name)
            for k, v in kw.items():
                setattr(info, k, v)
            info.mtime = 1_700_000_000
            if data is not None:
                info.size = len(data)
            tf.addfile(info, io.BytesIO(data) if data is not None else None)

        add("etc", type=tarfile.DIRTYPE, mode=0o755)
        add("etc/hello", b"hello\n")
        add("etc/empty", b"")
        add("d" * 120, type=tarfile.DIRTYPE)  # long name: PAX path or GNU longname
        add("d" * 120 + "/f" * 10, b"x" * 70000)
        add("etc/link", type=tarfile.SYMTYPE, linkname="hello")
        add("etc/hard", type=tarfile.LNKTYPE, linkname="etc/hello")
        add("etc/.wh.gone", b"")
        add("big", b"\x01" * (3 << 20))
    return buf.getvalue() + b"\0" * 4096  # trailing zero padding as some writers leave


@pytest.mark.parametrize("fmt", [tarfile.PAX_FORMAT, tarfile.GNU_FORMAT])
def test_round_trip_is_byte_exact(tmp_path, fmt):
    data = build_tar(fmt)
    root = tmp_path / "root"
    root.mkdir()
    skeleton = io.BytesIO()
    rec = SplitRecorder(io.BufferedReader(io.BytesIO(data)), skeleton)
    apply_layer(io.BufferedReader(rec, 1 << 16), str(root))
    rec.finish()
    assert rec.total == len(data)
    assert len(skeleton.getvalue()) < len(data) // 10  # contents are not kept
    assert rec.reproducible
    rebuilt = b"".join(reassemble(io.BytesIO(skeleton.getvalue()), str(root)))
    assert hashlib.sha256(rebuilt).hexdigest() == hashlib.sha256(data).hexdigest()


def test_changed_file_is_detected(tmp_path):
    data = build_tar()
    root = tmp_path / "root"
    root.mkdir()
    skeleton = io.BytesIO()
    rec = SplitRecorder(io.BytesIO(data), skeleton)
    apply_layer(rec, str(root))
    rec.finish()
    (root / "big").write_bytes(b"short")
    with pytest.raises(ArchiveError):
        b"".join(reassemble(io.BytesIO(skeleton.getvalue()), str(root)))


def test_reading_back_never_leaves_the_root(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_bytes(b"s" * 5)
    root = tmp_path / "root"
    root.mkdir()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        info = tarfile.TarInfo("f")
        info.size = 5
        tf.addfile(info, io.BytesIO(b"inner"))
    skeleton = io.BytesIO()
    rec = SplitRecorder(io.BytesIO(buf.getvalue()), skeleton)
    apply_layer(rec, str(root))
    rec.finish()
    os.unlink(root / "f")
    os.symlink(str(outside / "secret"), root / "f")  # swapped for a symlink afterwards
    with pytest.raises(OSError):
        b"".join(reassemble(io.BytesIO(skeleton.getvalue()), str(root)))


def test_a_name_written_twice_is_flagged(tmp_path):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for content in (b"first", b"second!"):
            info = tarfile.TarInfo("f")
            info.size = len(content)
            tf.addfile(info, io.BytesIO(content))
    rec = SplitRecorder(io.BytesIO(buf.getvalue()), io.BytesIO())
    apply_layer(rec, str(tmp_path))
    rec.finish()
    assert rec.reproducible is False
