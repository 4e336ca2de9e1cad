"""``container:<id>`` modes at create and at start (:mod:`barge.containers.sharing`), without a daemon."""

from __future__ import annotations

from pathlib import Path

import pytest

from barge.containers.sharing import Sharing, check_exposure, check_network_join, resolve_create_modes
from barge.containers.state import State
from barge.containers.store import Container
from barge.errors import Conflict, InvalidParameter, NotFound


def box(cid: str, running: bool = True, **config) -> Container:
    state = State()
    if running:
        state.set_running(4242, "2026-01-01T00:00:00Z")
    return Container(id=cid, name=f"/{cid[:4]}", image_id="", top_layer=None, rw_layer="", config=config,
                     host_config={}, network_config={}, mounts=[], created="", created_unix=0.0, state=state,
                     path="", args=[], log_path="", graph_driver="")


DONOR = box("d" * 64, Hostname="pod-host", Domainname="example.test")
IDLE = box("e" * 64, running=False)


def get(ref: str) -> Container:
    for c in (DONOR, IDLE):
        if ref in (c.id, c.name[1:]):
            return c
    raise NotFound(f"No such container: {ref}")


def test_donors_are_recorded_by_id_and_ipc_and_pid_ones_must_exist():
    host = {"NetworkMode": "container:dddd", "IpcMode": "container:dddd", "PidMode": "container:dddd"}
    resolve_create_modes(host, get)
    assert set(host.values()) == {f"container:{DONOR.id}"}
    host = {"NetworkMode": "container:nosuch", "IpcMode": "private"}
    resolve_create_modes(host, get)  # a network donor is looked up at start
    assert host["NetworkMode"] == "container:nosuch"
    for key in ("IpcMode", "PidMode"):
        with pytest.raises(InvalidParameter, match="^No such container: nosuch$"):
            resolve_create_modes({key: "container:nosuch"}, get)


def test_a_network_joiner_may_not_name_itself_nor_expose_ports():
    mode = {"NetworkMode": f"container:{DONOR.id}"}
    with pytest.raises(InvalidParameter, match="hostname and the network mode"):
        check_network_join({"Hostname": "h"}, mode)
    with pytest.raises(InvalidParameter, match="port exposing and the container type network mode"):
        check_exposure({"ExposedPorts": {"80/tcp": {}}}, mode)
    check_network_join({"Hostname": "h"}, {"NetworkMode": "none"})
    check_exposure({"ExposedPorts": {"80/tcp": {}}}, {"NetworkMode": "bridge"})


def test_at_start_the_joiner_takes_the_donors_names_and_namespaces(tmp_path: Path):
    sharing = Sharing(get, lambda cid: tmp_path / cid)
    joiner = box("f" * 64, Hostname="f" * 12)
    joiner.host_config = {"NetworkMode": f"container:{DONOR.id}", "IpcMode": f"container:{DONOR.id}",
                          "PidMode": f"container:{DONOR.id}"}
    donor = sharing.network_donor(joiner)
    assert donor is DONOR and sharing.adopt_hostname(joiner, donor) and not sharing.adopt_hostname(joiner, donor)
    assert (joiner.config["Hostname"], joiner.config["Domainname"]) == ("pod-host", "example.test")
    assert sharing.namespaces(joiner, donor) == {k: f"/proc/4242/ns/{k}" for k in ("net", "ipc", "pid")}
    with pytest.raises(InvalidParameter, match="non-shareable IPC"):  # the donor is private
        sharing.dev_shm(joiner, [])
    assert sharing.dev_shm(joiner, [{"Destination": "/dev/shm/"}]) == ""  # the user's own mount wins


def test_start_refusals_name_the_donor_as_dockerd_does():
    sharing = Sharing(get, lambda cid: Path("/nonexistent") / cid)
    idle = f"container:{IDLE.id}"
    joiner = box("f" * 64)
    joiner.host_config = {"NetworkMode": idle}
    with pytest.raises(Conflict, match=f"^cannot join network of a non running container: {IDLE.id}$"):
        sharing.network_donor(joiner)
    joiner.host_config = {"IpcMode": idle}
    with pytest.raises(Conflict, match=f"^can't join IPC of container {IDLE.id}: container {IDLE.id} is not running$"):
        sharing.ipc_donor(joiner)
    joiner.host_config = {"PidMode": "container:gone"}
    with pytest.raises(NotFound, match="^cannot join PID of a non running container: gone: No such container: gone$"):
        sharing.pid_donor(joiner)
    own = box("a" * 64)
    own.host_config = {"NetworkMode": f"container:{DONOR.id}"}
    own.id = DONOR.id
    with pytest.raises(InvalidParameter, match="^cannot join own network$"):
        sharing.network_donor(own)
