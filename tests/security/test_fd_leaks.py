"""Leaked file descriptors and a working directory under ``/proc/self/fd``, CVE-2024-21626.

runc leaked a host directory fd (the host's cgroup dir) into the container's
process; ``-w /proc/self/fd/7`` (or ``exec -w``) then gave it a cwd outside
the container's root, and ``../../..`` from there reached the host's root.
In barge the container's processes are forked from the monitor, which holds
the container's state dir, its log, sockets, namespace fds: none of these may
be open in the container's init, an exec'd process or ``--init``'s reaper,
and no working directory may lie outside the container's root.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from barge.testing.wait import wait_for
from tests.integration.helpers import create, rm
from tests.integration.test_exec_api import exec_create
from tests.security.helpers import exec_run, init_pid, logs, run_detached, wait_exit

#: ``ls -l`` of the fds of the process running ``sleep <tag>``, listed by another process
#: (a shell listing its own fds shows its pipes and saved descriptors).
FDS_OF = ("for d in /proc/[0-9]*; do tr '\\0' ' ' < $d/cmdline 2>/dev/null | grep -q '^sleep {tag} ' "
          "&& ls -l $d/fd; done; true")


def _fds(text: str) -> dict[int, str]:
    """``{fd: target}`` from ``ls -l`` lines (``... <fd> -> <target>``)."""
    out = {}
    for line in text.splitlines():
        head, arrow, target = line.partition(" -> ")
        if arrow:
            out[int(head.split()[-1])] = target.strip()
    return out


def _stdio_only(fds: dict[int, str], tty: bool = False) -> bool:
    if set(fds) != {0, 1, 2}:
        return False
    if tty:
        return all(t.startswith("/dev/pts/") for t in fds.values())
    return (fds[0] == "/dev/null" or fds[0].startswith("pipe:")) and all(fds[n].startswith("pipe:") for n in (1, 2))


def test_init_holds_stdio_only(box):
    """CVE-2024-21626, leaked fds: the container's init (its command after execve) has fds 0, 1, 2
    and nothing of the monitor's (state dir, log, sockets, the host's namespaces); the control: an
    fd the command opened itself (``exec 5<``) shows in the same listing."""
    cid = run_detached(box, ["sh", "-c", "exec 5</etc/hostname; exec sleep 601"])
    try:
        fds = _fds(exec_run(box, cid, ["sh", "-c", FDS_OF.format(tag=601)]).out)
        assert 5 in fds and fds[5] == "/etc/hostname", fds
        del fds[5]
        assert _stdio_only(fds), fds
    finally:
        rm(box, cid)


@pytest.mark.parametrize("body", [{}, {"Tty": True}, {"User": "1000"}], ids=["plain", "tty", "user"])
def test_exec_holds_stdio_only(box, body):
    """CVE-2024-21626, leaked fds: an exec'd process (with and without a TTY, root and another user)
    holds 0, 1, 2 only."""
    cid = run_detached(box, ["sleep", "600"])
    try:
        eid = exec_create(box, cid, ["sleep", "602"], AttachStdout=False, AttachStderr=False, **body)
        status, _, data = box.request("POST", f"/exec/{eid}/start", {"Detach": True, "Tty": bool(body.get("Tty"))})
        assert status == 200, data
        lister = {"User": body["User"]} if "User" in body else {}  # only the same user may list them
        listing = lambda: exec_run(box, cid, ["sh", "-c", FDS_OF.format(tag=602)], **lister).out  # noqa: E731
        wait_for(lambda: "->" in listing(), what="the fd listing")
        fds = _fds(listing())
        assert _stdio_only(fds, tty=bool(body.get("Tty"))), fds
    finally:
        rm(box, cid)


def test_init_reaper_holds_nothing_of_the_monitor(box):
    """CVE-2024-21626, leaked fds, ``--init``: the reaper (PID 1, barge's Python, never exec'd) is
    closed to the container (non-dumpable: where its fds, exe and cwd lead cannot be read), and the
    command it runs holds stdio only; the control: the command's own links read fine."""
    cid = run_detached(box, ["sleep", "603"], HostConfig={"Init": True})
    try:
        res = exec_run(box, cid, ["sh", "-c", "ls -l /proc/1/fd; readlink /proc/1/exe /proc/1/cwd; "
                                              "echo own $(readlink /proc/$$/exe)"])
        assert "->" not in res.out and res.out.split()[-2:] in (["own", "/bin/sh"], ["own", "/bin/busybox"]), str(res)
        listed = [line.split()[-1] for line in res.out.splitlines() if line.startswith("l")]
        assert listed == ["0", "1", "2"], str(res)  # nothing but its /dev/null stdio
        assert _stdio_only(_fds(exec_run(box, cid, ["sh", "-c", FDS_OF.format(tag=603)]).out))
    finally:
        rm(box, cid)


@pytest.fixture
def host_marker():
    """A directory on the host that no container has: reaching it means an escape."""
    where = Path(tempfile.mkdtemp(prefix="barge-21626-"))
    yield where
    shutil.rmtree(where)


#: From the cwd, climb far enough to pass any root, then look for the host-only marker.
CLIMB = "ls -d {up}{marker} >/dev/null 2>&1 && echo ESCAPED; pwd; true"


def _climb(marker: Path) -> str:
    return CLIMB.format(up="../" * 40, marker=str(marker).lstrip("/"))


@pytest.mark.parametrize("n", range(3, 16))
def test_workdir_under_proc_self_fd_stays_inside(box, host_marker, n):
    """CVE-2024-21626: ``-w /proc/self/fd/<n>`` either fails to start or leaves the command's
    cwd inside the container (``../`` x40 from it does not reach a host-only directory)."""
    cid = create(box, Cmd=["sh", "-c", _climb(host_marker)], WorkingDir=f"/proc/self/fd/{n}")
    try:
        status, _, body = box.request("POST", f"/containers/{cid}/start")
        if status != 204:
            return  # refused: the command never ran
        wait_exit(box, cid)
        out, err = logs(box, cid)
        assert "ESCAPED" not in out, (out, err)
    finally:
        rm(box, cid)


def test_exec_workdir_under_proc_self_fd_stays_inside(box, host_marker):
    """CVE-2024-21626 through ``docker exec -w /proc/self/fd/<n>``, for n = 3..40; and the
    control: with ``-w /`` the same climb stops at the container's root too."""
    cid = run_detached(box, ["sleep", "600"])
    try:
        for n in range(3, 41):
            res = exec_run(box, cid, ["sh", "-c", _climb(host_marker)], WorkingDir=f"/proc/self/fd/{n}")
            assert "ESCAPED" not in res.out, (n, str(res))
        res = exec_run(box, cid, ["sh", "-c", _climb(host_marker)], WorkingDir="/")
        assert res.code == 0 and res.out.split() == ["/"], str(res)
    finally:
        rm(box, cid)


def test_control_the_climb_escapes_from_a_cwd_outside_the_root(box, host_marker):
    """CVE-2024-21626, the control for the two tests above: a process whose cwd lies outside its root (what a
    leaked directory fd gives; here chroot(2) into the container's files, keeping a host cwd)
    reaches the host-only directory with the same climb."""
    cid = run_detached(box, ["sleep", "600"])
    try:
        root = f"/proc/{init_pid(box, cid)}/root"
        proc = subprocess.run(["/bin/sh", "-c", _climb(host_marker)], cwd=str(host_marker),
                              preexec_fn=lambda: os.chroot(root), capture_output=True, text=True, timeout=30)
        assert "ESCAPED" in proc.stdout, (proc.stdout, proc.stderr)
    finally:
        rm(box, cid)
