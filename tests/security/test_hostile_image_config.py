"""A hostile image config (no CVE number; the class of image-controlled paths that the
daemon follows on the host: ``Volumes``, ``WorkingDir``, ``User`` with ``..`` or symlinks).

The daemon acts on an image's files before the container runs: it copies a
volume's initial content out of the image, makes the working directory,
reads ``/etc/passwd`` to resolve the user. Each must resolve inside the
root file system, as runc's securejoin does, never on the host. The images
are loaded from hand-made ``docker save`` archives. Each control shows the
same path resolved by the host leads outside the root.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from pathlib import Path

import pytest

from tests.integration.helpers import create, rm
from tests.security.helpers import exec_run, logs, run_detached, run_once, start, wait_exit
from tests.security.images import load_config_image

CLIMB = "../" * 24
IMAGE_ETC = {"etc/passwd": b"root:x:0:0:root:/root:/bin/sh\n", "etc/group": b"root:x:0:\n",
             "etc/image-only": b"from the image\n"}


def _layer_roots(box, marker: str) -> list[Path]:
    """Layer directories on the host holding ``marker`` at their top (an image-made file)."""
    return [Path(dp) for dp, _, files in os.walk(box.data_root / "graph") if marker in files]


def _host_only_etc() -> set[str]:
    """Names in the host's /etc the container has no file of its own for (the daemon makes
    hostname, hosts and resolv.conf in every container)."""
    return set(os.listdir("/etc")) - {"passwd", "group", "image-only", "hostname", "hosts", "resolv.conf"}


# ---------------------------------------------------------------------------
# Volumes: the copy-up reads the image's directory inside the root
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("link", ["/etc", CLIMB + "etc"], ids=["absolute", "climbing"])
@pytest.mark.parametrize("kind", ["anonymous", "named"])
def test_volume_copy_up_through_a_symlink_reads_the_image(box, link, kind):
    """Hostile image config, ``Volumes``: the image's ``/data`` is a symlink to /etc (absolute, or
    ``../`` x24 then etc) and its config declares ``Volumes: {"/data": {}}``: the volume (anonymous,
    or named with ``-v``) is filled from the image's /etc, never the host's; the control: the same
    symlink followed on the host, from the layer, lands in the host's /etc."""
    ref = f"hostile-volume:{uuid.uuid4().hex[:8]}"
    load_config_image(box, ref, {"Cmd": ["true"], "Volumes": {"/data": {}}}, files=IMAGE_ETC, symlinks={"data": link})
    host = {"Binds": [f"vol-{uuid.uuid4().hex[:8]}:/data"]} if kind == "named" else {}
    cid = create(box, Image=ref, HostConfig=host)
    try:
        start(box, cid)
        wait_exit(box, cid)
        source = next(m["Source"] for m in box.json("GET", f"/containers/{cid}/json")["Mounts"])
        copied = set(os.listdir(source))
        assert "image-only" in copied and not copied & _host_only_etc(), copied
        layers = _layer_roots(box, "image-only")
        assert any(set(os.listdir(layer.parent / "data")) & _host_only_etc() for layer in layers
                   if (layer.parent / "data").is_symlink())  # what a host-side copy would read
    finally:
        rm(box, cid)


def test_volume_path_with_dotdot_stays_in_the_root(box):
    """Hostile image config: ``Volumes: {"/../../../../etc/": {}}`` is the image's /etc (the copy
    has the image's files), and the host's /etc is untouched."""
    ref = f"hostile-volume:{uuid.uuid4().hex[:8]}"
    load_config_image(box, ref, {"Cmd": ["true"], "Volumes": {"/../../../../etc/": {}}}, files=IMAGE_ETC)
    cid = create(box, Image=ref)
    try:
        start(box, cid)
        assert wait_exit(box, cid) == 0
        mount = box.json("GET", f"/containers/{cid}/json")["Mounts"][0]
        assert mount["Destination"] == "/etc"
        assert "image-only" in os.listdir(mount["Source"]) and not os.path.exists("/etc/image-only")
    finally:
        rm(box, cid)


def test_image_volume_over_proc_is_refused(box):
    """Hostile image config: ``Volumes: {"/proc": {}}`` would hide the container's procfs (and its
    masks): refused at create or start, as runc refuses a non-proc mount on /proc ("cannot be
    mounted because it is not of type proc"); the daemon stays up."""
    ref = f"hostile-volume:{uuid.uuid4().hex[:8]}"
    load_config_image(box, ref, {"Cmd": ["cat", "/proc/self/status"], "Volumes": {"/proc": {}}})
    status, _, body = box.request("POST", "/v1.47/containers/create", {"Image": ref})
    if status != 201:
        assert 400 <= status < 500 and b"not of type proc" in body, body
        return
    cid = json.loads(body)["Id"]
    try:
        status, _, body = box.request("POST", f"/containers/{cid}/start")
        assert status != 204 and b"not of type proc" in body, "a volume was mounted over /proc"
    finally:
        rm(box, cid)
    assert box.request("GET", "/_ping")[0] == 200


# ---------------------------------------------------------------------------
# WorkingDir: made and entered inside the root
# ---------------------------------------------------------------------------


@pytest.fixture
def host_dir():
    where = Path(tempfile.mkdtemp(prefix="barge-workdir-"))
    yield where
    shutil.rmtree(where)


def test_workdir_with_dotdot_stays_in_the_root(box):
    """Hostile image config: ``WorkingDir: "/../../../../tmp/<x>"`` is the container's /tmp/<x>;
    nothing is made on the host."""
    name = f"barge-wd-{uuid.uuid4().hex[:8]}"
    ref = f"hostile-workdir:{uuid.uuid4().hex[:8]}"
    load_config_image(box, ref, {"Cmd": ["pwd"], "WorkingDir": f"/../../../../tmp/{name}"})
    res = run_once(box, ["pwd"], Image=ref)
    assert res.out.strip() == f"/tmp/{name}", str(res)
    assert not os.path.exists(f"/tmp/{name}")


@pytest.mark.parametrize("absolute", [True, False], ids=["absolute", "climbing"])
def test_symlinked_workdir_stays_in_the_root(box, host_dir, absolute):
    """Hostile image config, ``WorkingDir``: the image's ``/work`` is a symlink to a host directory
    (its absolute path, or ``../`` x24 then it) and ``WorkingDir`` is ``/work/sub``: the daemon
    makes ``sub`` inside the root (where the link leads there), the host directory stays empty; the
    control: the link followed on the host from the layer is that host directory."""
    target = str(host_dir) if absolute else CLIMB + str(host_dir).lstrip("/")
    ref = f"hostile-workdir:{uuid.uuid4().hex[:8]}"
    load_config_image(box, ref, {"Cmd": ["pwd"], "WorkingDir": "/work/sub"}, files=IMAGE_ETC,
                      symlinks={"work": target})
    res = run_once(box, ["pwd"], Image=ref)
    assert res.code == 0 and res.out.strip() == f"{host_dir}/sub", str(res)
    assert os.listdir(host_dir) == []
    layers = _layer_roots(box, "image-only")
    assert any(os.path.realpath(layer.parent / "work") == str(host_dir) for layer in layers)


# ---------------------------------------------------------------------------
# User: /etc/passwd read inside the root
# ---------------------------------------------------------------------------


def _host_user() -> tuple[str, int]:
    """A user the host has and the images here do not, with its host uid."""
    for line in Path("/etc/passwd").read_text().splitlines():
        name, _, uid = line.split(":")[:3]
        if name not in ("root",) and uid.isdigit() and int(uid) != 4242:
            return name, int(uid)
    pytest.skip("the host's /etc/passwd names no user but root")


def test_user_lookup_through_a_climbing_passwd_link_stays_in_the_root(box):
    """Hostile image config, ``User``: the image's /etc/passwd is ``../`` x24 then ``etc/passwd``:
    inside the root that is itself (a loop), on the host it is the host's passwd. ``User`` naming a
    host-only user must not resolve, at start or ``exec -u`` (runc's answer: no passwd, so no such
    user); the control: read on the host from the layer, the link gives the host's passwd with that
    user."""
    name, host_uid = _host_user()
    ref = f"hostile-user:{uuid.uuid4().hex[:8]}"
    load_config_image(box, ref, {"Cmd": ["id", "-u"], "User": name}, files={"etc/image-only": b"x\n"},
                      symlinks={"etc/passwd": CLIMB + "etc/passwd"})
    cid = create(box, Image=ref)
    try:
        status, _, body = box.request("POST", f"/containers/{cid}/start")
        if status == 204:
            wait_exit(box, cid)
            assert logs(box, cid)[0].strip() != str(host_uid), "the user came from the host's passwd"
        else:
            assert name.encode() in body and b"x:" not in body, body  # an error, and no file content in it
    finally:
        rm(box, cid)
    running = run_detached(box, ["sleep", "600"], Image=ref, User="0")  # a numeric user needs no passwd
    try:
        res = exec_run(box, running, ["id", "-u"], User=name)
        assert res.code != 0 and "unable to find user" in res.err and str(host_uid) not in res.out, str(res)
    finally:
        rm(box, running)
    layers = _layer_roots(box, "image-only")
    assert any(f"\n{name}:" in "\n" + (layer / "passwd").read_text() for layer in layers
               if (layer / "passwd").is_symlink())


def test_user_lookup_through_an_absolute_passwd_link_reads_the_image(box):
    """Hostile image config, ``User``: /etc/passwd -> /data/passwd (absolute): the image's
    /data/passwd, where the host-only user's name has uid 4242, decides; the container runs as 4242,
    not as the host's uid."""
    name, host_uid = _host_user()
    ref = f"hostile-user:{uuid.uuid4().hex[:8]}"
    load_config_image(box, ref, {"Cmd": ["id", "-u"], "User": name},
                      files={"data/passwd": f"{name}:x:4242:4242::/:/bin/sh\n".encode()},
                      symlinks={"etc/passwd": "/data/passwd"})
    res = run_once(box, ["id", "-u"], Image=ref)
    assert res.out.strip() == "4242", str(res)
