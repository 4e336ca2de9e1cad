"""Mount propagation from a container to the host (no CVE number; the class of
``rshared`` binds and privileged containers mounting over host paths).

A container's root is made rslave before anything is mounted and its binds
are rprivate by default: a mount made inside, even by a ``--privileged``
container, even under a bind of a host directory on a *shared* host mount,
never appears on the host. A client asking for ``rshared`` gets exactly
propagation under that one bind (what it asked for, as Docker gives it),
never elsewhere; ``rslave`` lets the host's mounts in and none out; both
are refused when the host directory is not on a shared mount.
Each mount made in a container is a tmpfs with a unique size, so the host's
mountinfo can be searched for it. The control makes the same mount from a
plain mount namespace that keeps the host's propagation, and it shows up.
"""

from __future__ import annotations

import ctypes
import os
import random
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.security.helpers import run_once

_libc = ctypes.CDLL(None, use_errno=True)
MS_BIND, MS_SHARED, MNT_DETACH = 0x1000, 1 << 20, 2


def _mounts_with(marker: str) -> list[str]:
    with open("/proc/self/mountinfo") as fh:
        return [line.split()[4] for line in fh if marker in line]


def _unique_size() -> str:
    return f"size={4 * random.randrange(2_500, 25_000)}k"  # whole pages: mountinfo shows it as given


@pytest.fixture
def shared_dir():
    """A host directory that is its own *shared* mount (as under systemd's ``/``), so that any
    mount propagation toward it would be seen; unmounted and removed afterwards."""
    where = Path(tempfile.mkdtemp(prefix="barge-prop-"))
    (where / "sub").mkdir()
    if _libc.mount(str(where).encode(), str(where).encode(), None, MS_BIND, None) != 0 or \
            _libc.mount(None, str(where).encode(), None, MS_SHARED, None) != 0:
        shutil.rmtree(where)
        pytest.skip(f"cannot make a shared bind mount here: {os.strerror(ctypes.get_errno())}")
    try:
        yield where
    finally:
        for target in sorted((m for m in _mounts_with(str(where))), key=len, reverse=True):
            _libc.umount2(target.encode(), MNT_DETACH)
        shutil.rmtree(where, ignore_errors=True)


def _leaked(marker: str) -> list[str]:
    found = _mounts_with(marker)
    for target in sorted(found, key=len, reverse=True):  # never leave one behind
        _libc.umount2(target.encode(), MNT_DETACH)
    return found


def test_control_a_mount_under_a_shared_dir_propagates(shared_dir):
    """Mount propagation, the control: from a new mount namespace that keeps the host's propagation
    (``unshare -m --propagation unchanged``), a tmpfs mounted under the shared directory shows on
    the host."""
    if shutil.which("unshare") is None:
        pytest.skip("util-linux unshare is not installed")
    marker = _unique_size()
    subprocess.run(["unshare", "-m", "--propagation", "unchanged", "mount", "-t", "tmpfs", "-o", marker, "tmpfs",
                    str(shared_dir / "sub")], check=True, timeout=30)
    assert _leaked(marker) == [str(shared_dir / "sub")]


def test_privileged_container_mounts_stay_inside(box):
    """Mount propagation: a ``--privileged`` container mounts a tmpfs on its /mnt and on /tmp:
    neither appears in the host's mount table."""
    marker = _unique_size()
    script = (f"mkdir -p /mnt && mount -t tmpfs -o {marker} tmpfs /mnt && "
              f"mount -t tmpfs -o {marker} tmpfs /tmp && grep -c '{marker}' /proc/self/mountinfo")
    res = run_once(box, ["sh", "-c", script],
                   HostConfig={"Privileged": True})
    assert res.out.strip() == "2", str(res)  # the mounts were made
    assert _leaked(marker) == []


@pytest.mark.parametrize("mode", ["", ":rprivate", ":rslave", ":rshared"], ids=["default", "rprivate", "rslave",
                                                                                 "rshared"])
def test_mounts_under_a_bind_of_a_shared_host_dir(box, shared_dir, mode):
    """Mount propagation: a privileged container with the shared host directory bound at /data
    mounts a tmpfs on /data/sub and on /mnt: with the default, rprivate and rslave the host sees
    neither; with ``rshared`` (asked for by the client) the one under /data, at the bound
    directory, and never the one on /mnt."""
    marker = _unique_size()
    res = run_once(box, ["sh", "-c", f"mount -t tmpfs -o {marker} tmpfs /data/sub && "
                                     f"mkdir -p /mnt && mount -t tmpfs -o {marker} tmpfs /mnt && echo MOUNTED"],
                   HostConfig={"Privileged": True, "Binds": [f"{shared_dir}:/data{mode}"]})
    assert "MOUNTED" in res.out, str(res)
    leaked = _leaked(marker)
    assert leaked == ([str(shared_dir / "sub")] if mode == ":rshared" else []), leaked


def test_rslave_bind_sees_the_hosts_later_mounts(box, shared_dir):
    """``rslave``: a mount the host makes under the directory after the container started shows
    inside it; the container's own under /data does not reach the host."""
    from tests.integration.helpers import rm
    from tests.security.helpers import exec_run, run_detached

    cid = run_detached(box, ["sleep", "60"], HostConfig={"Privileged": True, "Binds": [f"{shared_dir}:/data:rslave"]})
    marker = _unique_size()
    try:
        assert _libc.mount(b"tmpfs", str(shared_dir / "sub").encode(), b"tmpfs", 0, marker.encode()) == 0
        res = exec_run(box, cid, ["sh", "-c", f"grep -c '{marker}' /proc/self/mountinfo; mkdir -p /data/own && "
                                              f"mount -t tmpfs -o {marker} tmpfs /data/own && echo MOUNTED"])
        assert res.out.split()[0] == "1" and "MOUNTED" in res.out, str(res)
    finally:
        rm(box, cid)
    assert _leaked(marker) == [str(shared_dir / "sub")]  # the host's own, and nothing from the container


@pytest.mark.parametrize("mode, message", [("rshared", "is not a shared mount"),
                                           ("rslave", "is not a shared or slave mount")])
def test_propagation_needs_a_shared_host_mount(box, tmp_path, mode, message):
    """moby's ``ensureShared``: on a private host mount the kernel would quietly make the bind
    private; refused at create instead (``/`` here is private: no systemd)."""
    from barge.mount import mount_of

    holder = mount_of(str(tmp_path))
    if holder.propagation():
        pytest.skip(f"{holder.point} is a shared or slave mount on this host")
    status, _, body = box.request("POST", "/containers/create", {
        "Image": "busybox", "Cmd": ["true"], "HostConfig": {"Binds": [f"{tmp_path}:/data:{mode}"]}})
    assert status == 400 and message.encode() in body, body
