"""runc's ``/proc/self/exe`` overwrite, CVE-2019-5736.

runc's init entered the container as the host's runc binary; a container
process opened ``/proc/<pid>/exe`` of it (or made the command a
``#!/proc/self/exe`` script) and later wrote through that handle, replacing
runc on the host. barge's init and exec'd processes are forked from the
monitor, a Python process: until their ``execve`` their ``exe`` is the host's
Python interpreter, their cwd and root are the host's, and their open files
the monitor's. Such a process must not be reachable from the container
(non-dumpable until it execs, as runc's ``nsexec`` does), and nothing a
container process can open may be a host file, let alone a writable one.
"""

from __future__ import annotations

import os
import re
import sys

import pytest

from barge.testing.wait import wait_for
from tests.integration.helpers import rm
from tests.integration.test_exec_api import exec_create, exec_inspect
from tests.security.helpers import PROBE, container_files, exec_run, init_pid, logs, run_detached, wait_exit
from tests.security.images import compile_c, host_libraries, import_image, rootfs

#: ``opened <pid> <kind> <dev> <ino> <mode> <seals> <link>`` and ``writable <pid> exe`` from ``probe procscan``.
OPENED = re.compile(r"^opened (\d+) (\S+) (\d+) (\d+) ([0-7]+) (-?\d+) (.*)$", re.M)
#: F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE: a memfd no one can change.
SEALED = 0x1 | 0x2 | 0x4 | 0x8


def _scan(box, probe: str, seconds: float, work, **body) -> tuple[str, set[tuple[int, int]]]:
    """Run ``probe procscan`` as a container's command while ``work(cid)`` runs on the host;
    return the probe's output and the container's own files (taken while it runs)."""
    cid = run_detached(box, [PROBE, "procscan", str(seconds)], probe=probe, **body)
    try:
        wait_for(lambda: "ready" in logs(box, cid)[0], timeout=10, what="the container to say ready")
        tree = container_files(init_pid(box, cid))
        work(cid)
        assert wait_exit(box, cid, timeout=seconds + 30) == 0
        return logs(box, cid)[0], tree
    finally:
        rm(box, cid)


def _sealed_copy(m: re.Match) -> bool:
    """A sealed in-memory file (barge's copy of its interpreter): no host file, unchangeable."""
    return m.group(7).startswith("/memfd:") and int(m.group(6)) >= 0 and int(m.group(6)) & SEALED == SEALED


def _foreign(out: str, tree: set[tuple[int, int]]) -> list[str]:
    """The probe's successful opens of files and directories that are not the container's."""
    return [m.group(0) for m in OPENED.finditer(out)
            if (int(m.group(3)), int(m.group(4))) not in tree and not _sealed_copy(m)]


def _host_python() -> tuple[int, int]:
    st = os.stat(os.path.realpath(sys.executable))
    return st.st_dev, st.st_ino


def test_entering_exec_processes_expose_no_host_file(box, probe):
    """CVE-2019-5736 (and the fd half of CVE-2024-21626): while ``docker exec`` processes enter
    the container (root, the default capabilities, some with a TTY), a container process
    racing over /proc opens their exe, cwd, root and fds; it must only ever get the
    container's own files, never the host's Python (the exec'd process's exe before execve)
    nor a monitor's file, and never an exe it can write."""
    sleeper_pids: list[int] = []

    def work(cid):
        # the control: a process the probe can open (its exe is the container's busybox)
        background = exec_run(box, cid, ["sh", "-c", "sleep 3 & echo $!"])
        sleeper_pids.append(int(background.out.split()[-1]))
        for i in range(150):
            exec_run(box, cid, ["true"], Tty=(i % 5 == 0))

    out, tree = _scan(box, probe, 8, work)
    assert int(re.search(r"rounds (\d+)", out).group(1)) > 100, out
    assert any(m.group(2) == "exe" and int(m.group(1)) != 1 for m in OPENED.finditer(out)), out
    foreign = _foreign(out, tree)
    python = _host_python()
    assert not foreign, f"host files reached from the container (host python is {python}):\n" + "\n".join(foreign)
    assert "writable" not in out, out


def test_init_reaper_exposes_no_host_file(box, probe):
    """CVE-2019-5736 with ``--init``: PID 1 is barge's reaper, which never execs (it stays the
    monitor's Python); the container's processes must not reach its exe, fds, cwd or root."""
    out, tree = _scan(box, probe, 2, lambda cid: None, HostConfig={"Init": True})
    assert int(re.search(r"rounds (\d+)", out).group(1)) > 10, out
    assert not _foreign(out, tree), out
    assert "writable" not in out, out


SLOW_START = """
#include <unistd.h>
__attribute__((constructor)) static void hold(void) { sleep(3); }
"""


@pytest.fixture(scope="module")
def glibc_image(box, tmp_path_factory):
    """busybox plus the host's loader and every library the host's Python needs (a hostile
    image may ship any of them), ``/slow.so`` that holds a process for 3 s when preloaded,
    and ``/evil``: ``#!/proc/self/exe``."""
    tmp = tmp_path_factory.mktemp("glibc")
    slow = compile_c(SLOW_START, tmp / "slow.so", "-shared", "-fPIC")
    files = host_libraries(os.path.realpath(sys.executable))
    files["slow.so"] = (slow.read_bytes(), 0o755)
    files["evil"] = (b"#!/proc/self/exe\n", 0o755)
    return import_image(box, rootfs(files), "cve-2019-5736:glibc")


def test_a_script_run_by_proc_self_exe_runs_no_host_binary(box, probe, glibc_image):
    """CVE-2019-5736's entry: the exec'd command is a ``#!/proc/self/exe`` script, so the kernel
    runs as its interpreter whatever ``/proc/self/exe`` is at that execve: for barge the
    interpreter the monitor runs. With the host's libraries in the image it really starts
    (``/slow.so`` holds it 3 s); a container process must not then open the host's file
    through its exe: the interpreter barge runs is a sealed in-memory copy, as runc's is."""
    cid = run_detached(box, ["sleep", "600"], probe=probe, Image="cve-2019-5736:glibc")
    try:
        eid = exec_create(box, cid, ["/evil"], Env=["LD_PRELOAD=/slow.so"], AttachStdout=False,
                          AttachStderr=False)
        status, _, body = box.request("POST", f"/exec/{eid}/start", {"Detach": True})
        assert status == 200, body
        wait_for(lambda: exec_inspect(box, eid)["Running"], timeout=10, what="the exec to run")
        pid = exec_inspect(box, eid)["Pid"]
        res = exec_run(box, cid, [PROBE, "procscan", "1"])
        tree = container_files(init_pid(box, cid))
        held = [m for m in OPENED.finditer(res.out) if m.group(2) == "exe" and
                (int(m.group(3)), int(m.group(4))) not in tree]
        assert held, f"the interpreter run for /evil (host pid {pid}) was not seen: {res.out}"
        assert all(_sealed_copy(m) for m in held), "\n".join(m.group(0) for m in held)
        assert _host_python() not in {(int(m.group(3)), int(m.group(4))) for m in held}
        assert "writable" not in res.out, res.out
    finally:
        rm(box, cid)
