"""Debian's dockerd as the reference, started by the tests that compare answers with it.

dockerd is the reference for behaviour; barge never needs it. A test that
compares takes the ``reference`` fixture: a dockerd of its own (data root,
exec root and socket under a scratch directory, its own containerd, no
bridge, no iptables, nothing on the host's network) with a ``busybox``
image imported from the host's static busybox. Without dockerd (``apt-get
install docker.io``) or the docker CLI the test is skipped, saying so.
"""

from __future__ import annotations

import io
import os
import shutil
import signal
import subprocess
import tarfile
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

from barge.testing.wait import WaitTimeout, wait_for
from tests.conftest import remove_tree

BUSYBOX = "/bin/busybox"
#: Made by dockerd and its containerd whatever their roots; removed afterwards when they were not there before
#: and hold nothing.
HOST_DIRS = (Path("/run/docker"), Path("/run/containerd"))


class Reference:
    def __init__(self, root: Path):
        self.root = root
        self.url = f"unix://{root / 'docker.sock'}"

    def docker(self, *args: str, input: bytes | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
        env.update(DOCKER_HOST=self.url, DOCKER_CONFIG=str(self.root / "docker-config"))
        return subprocess.run(["docker", *args], input=input, env=env, capture_output=True, timeout=timeout)


def _busybox_tar() -> bytes:
    """A root file system of the host's static busybox and its applets, as a tar."""
    buf = io.BytesIO()
    applets = subprocess.run([BUSYBOX, "--list"], capture_output=True, text=True, check=True).stdout.split()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        tf.add(BUSYBOX, "bin/busybox")
        for name in ("tmp", "proc", "sys", "dev", "etc"):
            info = tarfile.TarInfo(name)
            info.type, info.mode = tarfile.DIRTYPE, 0o1777 if name == "tmp" else 0o755
            tf.addfile(info)
        for applet in (a for a in applets if a != "busybox"):
            info = tarfile.TarInfo(f"bin/{applet}")
            info.type, info.linkname = tarfile.SYMTYPE, "busybox"
            tf.addfile(info)
    return buf.getvalue()


def _children(pid: int) -> list[int]:
    """The processes ``pid`` started (dockerd's containerd)."""
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return out


@contextmanager
def reference_dockerd() -> Iterator[Reference]:
    for tool in ("dockerd", "docker"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (apt-get install docker.io): no reference to compare with")
    if not os.path.exists(BUSYBOX):
        pytest.skip("no static busybox for the reference's image (apt-get install busybox-static)")
    new_dirs = [d for d in HOST_DIRS if not d.exists()]
    root = Path(tempfile.mkdtemp(prefix="barge-ref-", dir="/tmp"))
    ref = Reference(root)
    tag = f"barge-ref-{os.urandom(4).hex()}"  # containerd namespaces: letters, digits and single [._-]
    log = open(root / "dockerd.log", "wb")
    proc = subprocess.Popen(
        ["dockerd", "--data-root", str(root / "data"), "--exec-root", str(root / "exec"), "-H", ref.url,
         "--pidfile", str(root / "dockerd.pid"), "--bridge=none", "--iptables=false", "--ip6tables=false",
         "--ip-forward=false", "--ip-masq=false", "--userland-proxy=false", "--storage-driver=overlay2",
         "--containerd-namespace", tag, "--containerd-plugins-namespace", f"{tag}-plugins"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    children: list[int] = []
    try:
        try:
            wait_for(lambda: proc.poll() is not None or ref.docker("version").returncode == 0, 60, interval=0.2,
                     what="the reference dockerd to answer")
            started = proc.poll() is None
        except WaitTimeout:
            started = False
        if not started:
            pytest.skip(f"the reference dockerd did not start: {(root / 'dockerd.log').read_text()[-500:]}")
        made = ref.docker("import", "-c", 'CMD ["sh"]', "-", "busybox:latest", input=_busybox_tar())
        assert made.returncode == 0, made.stderr
        children = _children(proc.pid)
        yield ref
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()
        for pid in children:  # its containerd dumps its stacks there when it stops
            Path(f"/tmp/containerd.{pid}.stacks.log").unlink(missing_ok=True)
        remove_tree(root)
        for top in new_dirs:
            if top.is_dir() and all(p.is_dir() and not p.is_symlink() for p in top.rglob("*")):
                shutil.rmtree(top)
