"""Device nodes of the host (no CVE number; the class behind ``mknod`` escapes such as
reading the host's disk or kernel memory from a container).

A default container keeps CAP_MKNOD (as in Docker), so it can make a node
for a host device; the devices cgroup must still refuse to open it, whoever
made the node: the container itself, ``docker cp`` of a tar holding one, or
the image's layer. The control: a ``--privileged`` container opens the same
node. The block device is the host's root disk when the host itself may open
it (this VM forbids even that), else a loop device.
"""

from __future__ import annotations

import io
import os
import tarfile

import pytest

from tests.integration.helpers import create, rm
from tests.security.helpers import PROBE, logs, outcomes, put_probe, run_once, start, wait_exit
from tests.security.images import import_image, rootfs


def _host_opens(major: int, minor: int, kind: str) -> bool:
    """Whether the host (this root process) can open such a node: else the test shows nothing."""
    path = f"/dev/.barge-devtest-{os.getpid()}"
    os.mknod(path, (0o060000 if kind == "b" else 0o020000) | 0o600, os.makedev(major, minor))
    try:
        os.close(os.open(path, os.O_RDONLY | os.O_NONBLOCK))
        return True
    except OSError:
        return False
    finally:
        os.unlink(path)


@pytest.fixture(scope="module")
def block_device() -> tuple[int, int]:
    """``(major, minor)`` of a block device the host can open: its root disk, else loop0."""
    dev = os.stat("/").st_dev
    for major, minor in ((os.major(dev), os.minor(dev)), (7, 0)):
        if major and os.path.exists(f"/sys/dev/block/{major}:{minor}") and _host_opens(major, minor, "b"):
            return major, minor
    pytest.skip("no block device the host itself may open (root disk or loop0)")


def _open_own_node(box, probe: str, kind: str, major: int, minor: int, **host) -> dict[str, str]:
    res = run_once(box, ["sh", "-c", f"mknod /tmp/node {kind} {major} {minor} && echo mknod ok 0; "
                                     f"{PROBE} open /tmp/node r"], probe=probe, HostConfig=host)
    return outcomes(res.out)


def test_host_block_device_made_in_a_container_cannot_be_opened(box, probe, block_device):
    """Device nodes: mknod of a host block device succeeds (CAP_MKNOD, as Docker keeps it) but opening it
    fails with EPERM: the devices cgroup allows only the default devices."""
    got = _open_own_node(box, probe, "b", *block_device)
    assert got.get("mknod") == "ok" and got.get("open") == "EPERM", got


@pytest.mark.parametrize("name, major, minor", [("mem", 1, 1), ("kmsg", 1, 11), ("port", 1, 4)])
def test_host_char_devices_cannot_be_opened(box, probe, name, major, minor):
    """Device nodes: /dev/mem, /dev/kmsg, /dev/port made by the container: EPERM on open."""
    assert _open_own_node(box, probe, "c", major, minor).get("open") == "EPERM", name


def test_privileged_control_opens_them(box, probe, block_device):
    """Device nodes, the control: a ``--privileged`` container opens the same nodes (so the devices cgroup
    is what refuses them above)."""
    assert _open_own_node(box, probe, "b", *block_device, Privileged=True).get("open") == "ok"
    if _host_opens(1, 11, "c"):
        assert _open_own_node(box, probe, "c", 1, 11, Privileged=True).get("open") == "ok"


def _with_node(tar: bytes, name: str, major: int, minor: int) -> bytes:
    """``tar`` (possibly empty) with a block device node ``name`` (mode 0666) appended."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as out:
        if tar:
            with tarfile.open(fileobj=io.BytesIO(tar)) as src:
                for m in src.getmembers():
                    out.addfile(m, src.extractfile(m) if m.isfile() else None)
        info = tarfile.TarInfo(name)
        info.type, info.devmajor, info.devminor, info.mode = tarfile.BLKTYPE, major, minor, 0o666
        out.addfile(info)
    return buf.getvalue()


def test_a_node_copied_in_with_cp_cannot_be_opened(box, probe, block_device):
    """Device nodes: ``docker cp`` of a tar holding the host device's node: the daemon makes it (as dockerd
    does), the container still cannot open it."""
    cid = create(box, Cmd=[PROBE, "open", "/disk", "r"])
    try:
        put_probe(box, cid, probe)
        status, _, body = box.request("PUT", f"/containers/{cid}/archive?path=/",
                                      _with_node(b"", "disk", *block_device), {"Content-Type": "application/x-tar"})
        assert status == 200, body
        start(box, cid)
        wait_exit(box, cid)
        assert outcomes(logs(box, cid)[0]).get("open") == "EPERM"
    finally:
        rm(box, cid)


def test_a_node_in_the_image_cannot_be_opened(box, probe, block_device):
    """Device nodes: an image whose layer carries the host device's node (``/disk``, mode 0666)."""
    import_image(box, _with_node(rootfs(), "disk", *block_device), "devices:disk")
    res = run_once(box, [PROBE, "open", "/disk", "r"], probe=probe, Image="devices:disk")
    assert outcomes(res.out).get("open") == "EPERM", str(res)


# -- --device and --device-cgroup-rule: what was asked, nothing more --------------------------------


def test_a_device_given_opens_no_other(box, probe, block_device):
    """``--device /dev/null:/dev/mynull`` adds that node and its rule only: the host's block device made
    with mknod still cannot be opened, and a rule for one minor opens no neighbour."""
    got = _open_own_node(box, probe, "b", *block_device,
                         Devices=[{"PathOnHost": "/dev/null", "PathInContainer": "/dev/mynull", "CgroupPermissions": "rwm"}])
    assert got.get("mknod") == "ok" and got.get("open") == "EPERM", got
    major, minor = block_device
    got = _open_own_node(box, probe, "b", major, minor + 1, DeviceCgroupRules=[f"b {major}:{minor} rwm"])
    assert got.get("open") == "EPERM", got


def test_a_read_rule_gives_no_write(box, probe, block_device):
    """``--device-cgroup-rule 'b M:m r'``: the node opens for reading, never for writing."""
    major, minor = block_device
    res = run_once(box, ["sh", "-c", f"mknod /tmp/node b {major} {minor}; {PROBE} open /tmp/node w"], probe=probe,
                   HostConfig={"DeviceCgroupRules": [f"b {major}:{minor} r"]})
    assert outcomes(res.out).get("open") == "EPERM", str(res)


def test_a_symlinked_or_non_device_host_path_is_refused(box, tmp_path):
    """A host path that is a regular file, or a symlink to one, gives no node: the start is refused with
    dockerd's words and the container never runs (a symlink to a device is followed, as dockerd does)."""
    canary = tmp_path / "canary"
    canary.write_text("secret")
    link = tmp_path / "link"
    link.symlink_to(canary)
    for path in (canary, link):
        cid = create(box, Cmd=["cat", "/dev/x"], HostConfig={"Devices": [
            {"PathOnHost": str(path), "PathInContainer": "/dev/x", "CgroupPermissions": "rwm"}]})
        try:
            status, _, data = box.request("POST", f"/containers/{cid}/start")
            assert status == 400 and b"not a device node" in data, data
            assert box.json("GET", f"/containers/{cid}/json")["State"]["StartedAt"].startswith("0001-")
        finally:
            rm(box, cid)


def test_a_device_path_through_an_image_symlink_stays_in_the_container(box):
    """An image whose ``/evil`` is a symlink climbing out (``../../../../tmp``): ``--device`` at
    ``/evil/node`` is made inside the container's root, never in the host's /tmp."""
    name = f"barge-devnode-{os.getpid()}"
    import_image(box, rootfs(symlinks={"evil": "../../../../../../tmp"}), "devices:evil")
    res = run_once(box, ["sh", "-c", f"ls -l /tmp/{name} && echo inside"], Image="devices:evil", HostConfig={
        "Devices": [{"PathOnHost": "/dev/null", "PathInContainer": f"/evil/{name}", "CgroupPermissions": "rwm"}]})
    assert not os.path.lexists(f"/tmp/{name}")
    assert "inside" in res.out, str(res)
