"""Bad input to the image endpoints loses nothing and leaves nothing behind."""

from __future__ import annotations

import io
import json
import os
import socket
import sqlite3
import tarfile
import uuid
from pathlib import Path

import pytest

from barge.testing.wait import wait_for


def tar_of(entries) -> bytes:
    """entries: (name, kind, payload) with kind 'file', 'dir', 'symlink', 'link'."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, kind, payload in entries:
            info = tarfile.TarInfo(name)
            info.mtime = 1_700_000_000
            if kind == "file":
                info.size = len(payload)
                tf.addfile(info, io.BytesIO(payload))
                continue
            info.type = {"dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE, "link": tarfile.LNKTYPE}[kind]
            if kind == "dir":
                info.mode = 0o755
            else:
                info.linkname = payload
            tf.addfile(info)
    return buf.getvalue()


def db_counts(daemon) -> dict[str, int]:
    conn = sqlite3.connect(daemon.data_root / "barge.db")
    try:
        return {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in ("images", "layers", "tags", "pending_layers")}
    finally:
        conn.close()


def layer_dirs(daemon) -> list[str]:
    """Layer directories the driver holds: vfs keeps them in `dir/`; overlay at its
    top, beside its short-link dir `l`."""
    root = daemon.data_root / "graph"
    out = []
    for driver in root.iterdir() if root.is_dir() else []:
        base = driver / "dir" if driver.name == "vfs" else driver
        if base.is_dir():
            out += [p.name for p in base.iterdir() if p.name != "l" and not p.name.startswith(".")]
    return out


def assert_nothing_recorded(daemon):
    assert db_counts(daemon) == {"images": 0, "layers": 0, "tags": 0, "pending_layers": 0}
    assert layer_dirs(daemon) == []
    kept = daemon.data_root / "layer-tars"
    assert not kept.exists() or list(kept.iterdir()) == []


def import_tar(daemon, data: bytes, repo="bad", tag="latest"):
    status, _, body = daemon.request(
        "POST", f"/images/create?fromSrc=-&repo={repo}&tag={tag}", body=data,
        headers={"Content-Type": "application/x-tar"},
    )
    return status, body


def test_truncated_tar_fails_and_leaves_nothing(daemon):
    data = tar_of([("big", "file", os.urandom(300_000)), ("after", "file", b"x")])
    status, body = import_tar(daemon, data[: len(data) // 2])
    text = body.decode()
    assert status == 400 or '"errorDetail"' in text, (status, text)
    assert "unexpected end" in text or "truncated" in text
    assert_nothing_recorded(daemon)
    assert json.loads(daemon.request("GET", "/images/json")[2]) == []


def test_dotdot_entry_is_refused_and_nothing_written_outside(daemon, tmp_path):
    marker = f"barge-escape-{uuid.uuid4().hex}"
    data = tar_of([("ok", "file", b"1"), (f"../../../../../../../tmp/{marker}", "file", b"pwned")])
    status, body = import_tar(daemon, data)
    assert status == 400 or b"errorDetail" in body
    assert b"escapes" in body
    assert not Path("/tmp", marker).exists()
    assert_nothing_recorded(daemon)


def test_absolute_and_symlink_escapes_stay_inside(daemon, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    data = tar_of(
        [
            (str(outside / "abs"), "file", b"absolute"),  # lands at <layer>/<outside>/abs
            ("evil", "symlink", str(outside)),
            ("evil/through-link", "file", b"via symlink"),
            ("hard", "link", str(outside / "abs")),  # resolved inside the layer
        ]
    )
    status, body = import_tar(daemon, data, repo="escapes")
    assert status == 200, body
    assert list(outside.iterdir()) == []  # nothing written outside the layer
    image = json.loads(daemon.request("GET", "/images/escapes/json")[2])
    # the layer holds the files at their confined places: save the image and look
    status, _, saved = daemon.request("GET", "/images/escapes/get")
    assert status == 200
    with tarfile.open(fileobj=io.BytesIO(saved)) as outer:
        layer_name = json.load(outer.extractfile("manifest.json"))[0]["Layers"][0]
        with tarfile.open(fileobj=outer.extractfile(layer_name)) as layer:
            names = layer.getnames()
    assert image["RootFS"]["Layers"]
    assert "evil/through-link" in names and "hard" in names


def test_invalid_references_and_unknown_images(daemon):
    status, _, body = daemon.request("POST", "/images/create?fromSrc=-&repo=BusyBox&tag=Latest", body=tar_of([("f", "file", b"1")]))
    assert status == 400
    assert json.loads(body)["message"].startswith("invalid reference format")
    assert_nothing_recorded(daemon)
    for method, path in (("GET", "/images/nosuch/json"), ("DELETE", "/images/nosuch"), ("GET", "/images/nosuch/history")):
        status, headers, body = daemon.request(method, path)
        assert status == 404 and headers["Content-Type"] == "application/json"
        assert json.loads(body)["message"] == "No such image: nosuch:latest"
    status, _, body = daemon.request("GET", "/images/json?filters=%7Bnot%20json")
    assert status == 400 and "message" in json.loads(body)


def _start_slow_import(daemon, head: bytes) -> socket.socket:
    """Send the request and part of the body, then keep the connection open."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(daemon.socket)
    sock.sendall(
        b"POST /v1.44/images/create?fromSrc=-&repo=half&tag=latest HTTP/1.1\r\nHost: barge\r\n"
        b"Content-Type: application/x-tar\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    sock.sendall(b"%x\r\n%s\r\n" % (len(head), head))
    return sock


def test_daemon_killed_mid_import_restarts_clean(daemon):
    data = tar_of([(f"f{i}", "file", os.urandom(200_000)) for i in range(40)])
    sock = _start_slow_import(daemon, data[: len(data) // 2])
    try:
        wait_for(lambda: layer_dirs(daemon), 20, what="the import to create its layer")
        assert db_counts(daemon)["pending_layers"] == 1
        daemon.kill()  # SIGKILL in the middle of the import
    finally:
        sock.close()
    daemon.start()
    assert_nothing_recorded(daemon)
    assert json.loads(daemon.request("GET", "/images/json")[2]) == []
    # and the daemon works as before
    status, body = import_tar(daemon, data, repo="whole")
    assert status == 200, body
    assert db_counts(daemon)["images"] == 1


@pytest.mark.parametrize("body", [b"", b"not a tar at all" * 100])
def test_garbage_import_is_a_clear_error(daemon, body):
    status, body = import_tar(daemon, body)
    assert status == 400 or b"errorDetail" in body
    assert_nothing_recorded(daemon)
