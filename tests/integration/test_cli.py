"""The ``barge`` CLI as a real process against a real daemon."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from barge.client import mkimage

pytestmark = pytest.mark.daemon


def barge(daemon, *args, input: bytes | None = None, check: bool = True, timeout: float = 120):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BARGE_", "DOCKER_"))}
    env["BARGE_HOST"] = daemon.url
    proc = subprocess.run([sys.executable, "-m", "barge", *args], input=input, capture_output=True, env=env, timeout=timeout)
    if check:
        assert proc.returncode == 0, f"barge {' '.join(args)}: {proc.returncode}\n{proc.stderr.decode()}"
    return proc


def text(proc) -> str:
    return proc.stdout.decode()


@pytest.fixture
def busybox(daemon):
    if mkimage.find_busybox() is None and os.geteuid() != 0:
        pytest.skip("busybox-static is missing and installing it needs root")
    proc = barge(daemon, "mkimage", "busybox", timeout=600)
    image_id = text(proc).splitlines()[-1]
    assert image_id.startswith("sha256:") and len(image_id) == 71
    return image_id


def test_version_info_plugins(daemon):
    out = text(barge(daemon, "version"))
    assert out.startswith("Client:\n Version:") and "\nServer:" in out and " Engine:\n" in out
    assert text(barge(daemon, "version", "--format", "{{.Server.ApiVersion}}")).strip() == "1.47"
    info = text(barge(daemon, "info"))
    assert f" Storage Driver: {daemon.driver}\n" in info and " Drivers:\n" in info
    assert text(barge(daemon, "info", "-f", "{{.Driver}}")).strip() == daemon.driver
    plugins = text(barge(daemon, "plugins")).splitlines()
    assert plugins[0].split() == ["KIND", "NAME", "PACKAGE", "STATUS", "REASON"]
    assert any(line.split()[:2] == ["graph", daemon.driver] and "selected" in line for line in plugins[1:])


def test_mkimage_images_history_inspect(daemon, busybox):
    lines = text(barge(daemon, "images")).splitlines()
    assert lines[0].split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
    row = lines[1].split()
    assert row[:3] == ["busybox", "latest", busybox[7:19]] and row[-1].endswith("MB")
    assert text(barge(daemon, "images", "-q")).split() == [busybox[7:19]]
    assert text(barge(daemon, "images", "--no-trunc", "--format", "{{.ID}}")).strip() == busybox
    inspected = json.loads(text(barge(daemon, "inspect", "busybox")))
    assert inspected[0]["Id"] == busybox
    assert inspected[0]["Config"]["Cmd"] == ["sh"]
    assert "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" in inspected[0]["Config"]["Env"]
    assert text(barge(daemon, "inspect", "--type", "image", "-f", "{{.Config.Cmd}} {{len .RootFS.Layers}}", "busybox")) == "[sh] 1\n"
    history = text(barge(daemon, "history", "busybox")).splitlines()
    assert history[0].split()[:2] == ["IMAGE", "CREATED"] and history[1].startswith(busybox[7:19])


def test_mkimage_is_reproducible(daemon, busybox):
    first = text(barge(daemon, "inspect", "-f", "{{index .RootFS.Layers 0}}", "busybox")).strip()
    barge(daemon, "mkimage", "busybox", "--tag", "again:1")
    assert text(barge(daemon, "inspect", "-f", "{{index .RootFS.Layers 0}}", "again:1")).strip() == first


def test_tag_save_rmi_load(daemon, busybox, tmp_path):
    barge(daemon, "tag", "busybox", "mine/bb:2")
    assert "mine/bb" in text(barge(daemon, "images"))
    archive = tmp_path / "bb.tar"
    barge(daemon, "save", "-o", str(archive), "busybox")
    assert archive.stat().st_size > 1_000_000
    removed = text(barge(daemon, "rmi", "busybox", "mine/bb:2")).splitlines()
    assert removed[0] == "Untagged: busybox:latest" and f"Deleted: {busybox}" in removed
    assert text(barge(daemon, "images", "-q")) == ""
    loaded = text(barge(daemon, "load", "-i", str(archive)))
    assert "Loaded image: busybox:latest" in loaded
    assert text(barge(daemon, "images", "--no-trunc", "-q")).strip() == busybox


def test_save_to_stdout_pipes_into_load(daemon, busybox):
    data = barge(daemon, "save", "busybox").stdout
    barge(daemon, "rmi", "busybox")
    assert "Loaded image" in text(barge(daemon, "load", input=data))


def test_import_from_stdin_with_changes(daemon, busybox):
    data = barge(daemon, "save", "busybox").stdout
    # a rootfs tar of our own making: mkimage's builder
    rootfs = mkimage.build_rootfs(mkimage.find_busybox(), ["sh"])
    out = text(barge(daemon, "import", "-c", "CMD [\"true\"]", "-m", "from stdin", "-", "imported:1", input=rootfs)).strip()
    assert out.startswith("sha256:")
    assert text(barge(daemon, "inspect", "-f", "{{.Config.Cmd}}", "imported:1")) == "[true]\n"
    assert data  # the saved tar of the other image was non-empty


def test_errors_are_one_line_exit_1(daemon):
    proc = barge(daemon, "rmi", "nothere", check=False)
    assert proc.returncode == 1
    err = proc.stderr.decode()
    assert err.startswith("Error response from daemon: No such image: nothere") and err.count("\n") == 1
    # no rows, so only parsing can fail (docker too executes per row)
    proc = barge(daemon, "images", "--format", "{{.Nope", check=False)
    assert proc.returncode == 1 and proc.stderr.decode() == "template parsing error: template: :1: unclosed action\n"
    proc = barge(daemon, "load", "-i", "/nonexistent.tar", check=False)
    assert proc.returncode == 1 and proc.stderr.decode().count("\n") == 1


def test_unreachable_daemon(daemon):
    daemon.stop()
    proc = barge(daemon, "images", check=False)
    assert proc.returncode == 1
    assert proc.stderr.decode() == f"Cannot connect to the barge daemon at {daemon.url}. Is the daemon running?\n"


def test_save_refuses_a_terminal(daemon, busybox):
    import pty

    leader, follower = pty.openpty()
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("BARGE_")}
        env["BARGE_HOST"] = daemon.url
        proc = subprocess.run([sys.executable, "-m", "barge", "save", "busybox"], stdout=follower, stderr=subprocess.PIPE, env=env, timeout=60)
    finally:
        os.close(follower)
        os.close(leader)
    assert proc.returncode == 1
    assert proc.stderr.decode() == "cowardly refusing to save to a terminal. Use the -o flag or redirect\n"


def test_cli_starts_fast(daemon):
    start = time.monotonic()
    barge(daemon, "--help")
    assert time.monotonic() - start < 2.0
