"""Fixtures for driving barge with the real docker CLI and the docker SDK."""

from __future__ import annotations

import functools
import http.server
import io
import os
import pty
import select
import shutil
import subprocess
import tarfile
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

from tests.conftest import (
    Daemon,
    make_busybox,
    remove_tree,
    require_exec_driver,
    require_graph_driver,
    short_exec_root,
    test_driver,
)

DOCKER = shutil.which("docker")
#: ``BARGE_COMPAT_REFERENCE=dockerd`` points the tests that take ``build_host`` at a private dockerd.
REFERENCE = os.environ.get("BARGE_COMPAT_REFERENCE", "") == "dockerd"


def small_rootfs_tar(files: dict[str, bytes] | None = None) -> bytes:
    """A tiny root file system tar with a few files, made here (no network)."""
    files = files or {"etc/hello.txt": b"hello from barge\n", "bin/tool": b"#!/bin/sh\necho tool\n"}
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        dirs = sorted({os.path.dirname(p) for p in files} - {""})
        for d in dirs:
            info = tarfile.TarInfo(d)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, 1_700_000_000
            tf.addfile(info)
        for path, data in sorted(files.items()):
            info = tarfile.TarInfo(path)
            info.size, info.mode, info.mtime = len(data), 0o755, 1_700_000_000
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


class DockerCLI:
    """Runs the real docker CLI against one barge daemon."""

    def __init__(self, daemon, tmp_path):
        self.env = dict(os.environ, DOCKER_HOST=daemon.url, DOCKER_CONFIG=str(tmp_path / "docker-config"))
        self.env.pop("DOCKER_API_VERSION", None)

    def __call__(self, *args: str, input: bytes | None = None, check: bool = True, timeout: float = 60):
        proc = subprocess.run(
            [DOCKER, *args], input=input, env=self.env, capture_output=True, timeout=timeout
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"docker {' '.join(args)} exited {proc.returncode}\nstdout: {proc.stdout.decode(errors='replace')}\n"
                f"stderr: {proc.stderr.decode(errors='replace')}"
            )
        return proc

    def out(self, *args: str, **kw) -> str:
        return self(*args, **kw).stdout.decode().strip()


@pytest.fixture
def docker_cli(daemon, tmp_path):
    if DOCKER is None:
        pytest.skip("the docker CLI is not installed (/usr/local/bin/docker on this machine kind)")
    return DockerCLI(daemon, tmp_path)


@contextmanager
def own_daemon(prefix: str) -> Iterator[Daemon]:
    """A daemon of its own (busybox imported), for a module-scoped fixture: one daemon for the module;
    skips without the exec driver or the graph driver."""
    require_exec_driver()
    require_graph_driver(test_driver())
    root = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp" if os.path.isdir("/tmp") else None))
    d = None
    try:
        d = Daemon(root, test_driver())
        make_busybox(d)
        yield d
    finally:
        if d is not None:
            d.close()
        remove_tree(root)
        remove_tree(short_exec_root(root))


@contextmanager
def own_daemon_cli(tmp_path_factory, prefix: str) -> Iterator[DockerCLI]:
    """The docker CLI on :func:`own_daemon`; skips without the CLI too."""
    if DOCKER is None:
        pytest.skip("the docker CLI is not installed (/usr/local/bin/docker on this machine kind)")
    with own_daemon(prefix) as d:
        yield DockerCLI(d, tmp_path_factory.mktemp("cli"))


@pytest.fixture
def docker_sdk(daemon):
    docker = pytest.importorskip("docker", reason="the docker SDK for Python is not installed")
    client = docker.DockerClient(base_url=daemon.url, version="auto", timeout=60)
    yield client
    client.close()


@pytest.fixture
def build_host(request):
    """The daemon a build test drives, with barge's busybox as ``busybox:latest``: barge's test daemon, or,
    with ``BARGE_COMPAT_REFERENCE=dockerd``, a private dockerd 20.10 (tests/reference_dockerd.py), so that
    every expectation can be checked against Docker itself. Its ``kind`` says which."""
    if not REFERENCE:
        require_exec_driver()
        daemon = request.getfixturevalue("daemon")
        make_busybox(daemon)
        daemon.kind = "barge"
        yield daemon
        return
    from barge.client.mkimage import CHANGES, applets, build_rootfs, find_busybox
    from tests.reference_dockerd import reference_dockerd

    binary = find_busybox()
    if binary is None:
        pytest.skip("no static busybox for the image (apt-get install busybox-static)")
    with reference_dockerd() as ref:
        ref.kind = "dockerd"
        changes = [arg for change in CHANGES for arg in ("-c", change)]
        assert ref.docker("rmi", "busybox").returncode == 0
        made = ref.docker("import", *changes, "-", "busybox:latest", input=build_rootfs(binary, applets(binary)))
        assert made.returncode == 0, made.stderr
        yield ref


class _QuietFiles(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass


@contextmanager
def serve_directory(root: Path) -> Iterator[str]:
    """An HTTP server on 127.0.0.1 (a free port) serving the files under ``root``, with
    Last-Modified headers; yields its base URL (``http://127.0.0.1:PORT``)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietFiles, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def rootfs_tar(tmp_path):
    path = tmp_path / "rootfs.tar"
    path.write_bytes(small_rootfs_tar())
    return path


def pty_run(env: dict, argv: list[str], script: list[tuple[bytes, bytes]], timeout: float = 20.0,
            size: tuple[int, int] | None = None):
    """Run ``argv`` on a real pty (``size`` rows x columns if given, else the
    pty's 0x0); for each (wait_for, send) pair, read until the bytes show, then
    type. Returns (exit code, everything read); the child is killed if it hangs."""
    pid, fd = pty.fork()
    if pid == 0:  # child: the command on the pty
        try:
            if size:
                import fcntl
                import struct
                import termios

                fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", size[0], size[1], 0, 0))
            os.execve(argv[0], argv, env)
        finally:
            os._exit(127)
    output = b""
    try:
        for needle, send in script:
            end = time.monotonic() + timeout
            while needle not in output and time.monotonic() < end:
                if select.select([fd], [], [], 0.2)[0]:
                    try:
                        output += os.read(fd, 4096)
                    except OSError:
                        break
            assert needle in output, f"never saw {needle!r}; got {output!r}"
            if send:
                os.write(fd, send)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if select.select([fd], [], [], 0.2)[0]:
                try:
                    output += os.read(fd, 4096)
                except OSError:  # EIO: the pty's other side is gone
                    pass
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                pid = 0
                return os.waitstatus_to_exitcode(status), output
        raise AssertionError(f"{argv[0]} did not exit; output {output!r}")
    finally:
        os.close(fd)
        if pid:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
