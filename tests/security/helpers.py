"""What the CVE regression tests do again and again.

The attacker's tools (``probe.c``, compiled once), containers run to their
exit with their output, commands exec'd into running ones, the docker CLI
against barge and against the reference dockerd (to compare), and the set
of files a container can see (to tell its own files from the host's).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import stat
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import Daemon
from tests.integration.helpers import create, joined, rm
from tests.integration.test_exec_api import exec_create, exec_inspect, exec_start

PROBE_SOURCE = Path(__file__).with_name("probe.c")
#: Where the probe lands inside a container.
PROBE = "/probe"
DOCKER = shutil.which("docker")


def compile_probe(out_dir: Path) -> str:
    """``gcc -static probe.c``; skips (with the reason) when this machine cannot."""
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        pytest.skip("no C compiler (apt-get install gcc): the probe is a static C binary")
    out = Path(out_dir) / "probe"
    proc = subprocess.run([cc, "-static", "-O1", "-o", str(out), str(PROBE_SOURCE)], capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot build the static probe (libc6-dev with libc.a needed): {proc.stderr[-500:]}")
    return str(out)


def tar_of_files(files: dict[str, tuple[bytes, int]]) -> bytes:
    """A tar of regular files ``{name: (data, mode)}``."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, (data, mode) in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), mode, 1_700_000_000
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def put_files(d: Daemon, cid: str, files: dict[str, tuple[bytes, int]], path: str = "/") -> None:
    status, _, body = d.request("PUT", f"/containers/{cid}/archive?path={path}", tar_of_files(files),
                                {"Content-Type": "application/x-tar"})
    assert status == 200, body


def put_probe(d: Daemon, cid: str, probe: str) -> None:
    put_files(d, cid, {PROBE.lstrip("/"): (Path(probe).read_bytes(), 0o755)})


def start(d: Daemon, cid: str) -> None:
    status, _, body = d.request("POST", f"/containers/{cid}/start")
    assert status == 204, body


def wait_exit(d: Daemon, cid: str, timeout: float = 60) -> int:
    status, _, body = d.request("POST", f"/containers/{cid}/wait", timeout=timeout)
    assert status == 200, body
    return json.loads(body)["StatusCode"]


def logs(d: Daemon, cid: str) -> tuple[str, str]:
    status, _, body = d.request("GET", f"/containers/{cid}/logs?stdout=1&stderr=1")
    assert status == 200, body
    return joined(body, 1).decode(errors="replace"), joined(body, 2).decode(errors="replace")


@dataclass
class Result:
    code: int
    out: str
    err: str

    def __str__(self) -> str:
        return f"exit {self.code}\nstdout: {self.out}\nstderr: {self.err}"


def run_once(d: Daemon, cmd: list[str], probe: str | None = None, timeout: float = 60, **body) -> Result:
    """Create (``body`` as the create request), add the probe, start, wait, read the logs, remove."""
    cid = create(d, Cmd=cmd, **body)
    try:
        if probe:
            put_probe(d, cid, probe)
        start(d, cid)
        code = wait_exit(d, cid, timeout)
        out, err = logs(d, cid)
        return Result(code, out, err)
    finally:
        rm(d, cid)


def run_detached(d: Daemon, cmd: list[str], probe: str | None = None, **body) -> str:
    """Create, add the probe, start; the id (the caller removes it)."""
    cid = create(d, Cmd=cmd, **body)
    if probe:
        put_probe(d, cid, probe)
    start(d, cid)
    return cid


def exec_run(d: Daemon, cid: str, cmd: list[str], **body) -> Result:
    """Run ``cmd`` in running container ``cid`` (``body``: User, WorkingDir, Privileged...)."""
    eid = exec_create(d, cid, cmd, **body)
    r = exec_start(d, eid)
    try:
        if not r.status_line.startswith("HTTP/1.1 101"):  # refused: a plain answer on a kept-alive connection
            size = int(r.headers.get("content-length", 0))
            return Result(-1, "", (r.rest + r.sock.recv(size - len(r.rest)) if size > len(r.rest) else r.rest)
                          .decode(errors="replace"))
        data = r.read_all()
    finally:
        r.close()
    code = exec_inspect(d, eid)["ExitCode"]
    return Result(code, joined(data, 1).decode(errors="replace"), joined(data, 2).decode(errors="replace"))


def outcomes(text: str) -> dict[str, str]:
    """The probe's ``<what> ok N`` / ``<what> err <errno> <NAME>`` lines as ``{what: "ok" | NAME}``."""
    out = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[1] == "ok":
            out[parts[0]] = "ok"
        elif len(parts) >= 4 and parts[1] == "err":
            out[parts[0]] = parts[3]
    return out


def init_pid(d: Daemon, cid: str) -> int:
    return d.json("GET", f"/containers/{cid}/json")["State"]["Pid"]


#: File systems whose contents are the kernel's, not the container's files.
_KERNEL_DIRS = ("proc", "sys", "dev")


def container_files(pid: int) -> set[tuple[int, int]]:
    """``(st_dev, st_ino)`` of every file and directory the container whose
    init is ``pid`` has in its own mount namespace (kernel file systems left
    out): whatever a process inside may legitimately hold open."""
    root = f"/proc/{pid}/root"
    seen: set[tuple[int, int]] = set()
    st = os.stat(root)
    seen.add((st.st_dev, st.st_ino))
    for dirpath, dirnames, filenames in os.walk(root):
        if dirpath == root:
            dirnames[:] = [n for n in dirnames if n not in _KERNEL_DIRS]
        for name in dirnames + filenames:
            try:
                st = os.stat(os.path.join(dirpath, name), follow_symlinks=False)
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode):
                seen.add((st.st_dev, st.st_ino))
    return seen


# ---------------------------------------------------------------------------
# the docker CLI, against barge and against the reference dockerd
# ---------------------------------------------------------------------------


def docker(host: str, *args: str, input: bytes | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    if DOCKER is None:
        pytest.skip("the docker CLI is not installed")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    env["DOCKER_HOST"] = host
    env["DOCKER_CONFIG"] = "/nonexistent-barge-docker-config"
    return subprocess.run([DOCKER, *args], input=input, env=env, capture_output=True, timeout=timeout)


def barge_docker(d: Daemon, *args: str, **kw) -> subprocess.CompletedProcess:
    return docker(d.url, *args, **kw)


def ref_run_probe(ref, probe: str, args: list[str], *run_opts: str) -> str:
    """``docker run`` of the probe in the reference dockerd's busybox (``reference`` fixture): its output."""
    name = f"barge-ref-{os.getpid()}-{os.urandom(3).hex()}"
    made = ref.docker("create", "--name", name, *run_opts, "busybox", PROBE, *args)
    assert made.returncode == 0, made.stderr
    try:
        cp = ref.docker("cp", probe, f"{name}:{PROBE}")
        assert cp.returncode == 0, cp.stderr
        # start, wait, then the log: ``start -a`` of a process this short sometimes attaches after its output
        for step in (("start", name), ("wait", name)):
            done = ref.docker(*step)
            assert done.returncode == 0, done.stderr
        logs = ref.docker("logs", name)
        return logs.stdout.decode(errors="replace") + logs.stderr.decode(errors="replace")
    finally:
        ref.docker("rm", "-f", name)


def ref_exec_probe(ref, probe: str, args: list[str], *run_opts: str) -> str:
    """The probe ``docker exec``'d into a reference dockerd busybox running ``sleep``: its output."""
    name = f"barge-ref-{os.getpid()}-{os.urandom(3).hex()}"
    made = ref.docker("run", "-d", "--name", name, *run_opts, "busybox", "sleep", "600")
    assert made.returncode == 0, made.stderr
    try:
        cp = ref.docker("cp", probe, f"{name}:{PROBE}")
        assert cp.returncode == 0, cp.stderr
        ran = ref.docker("exec", name, PROBE, *args)
        return ran.stdout.decode(errors="replace") + ran.stderr.decode(errors="replace")
    finally:
        ref.docker("rm", "-f", name)
