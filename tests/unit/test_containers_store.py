"""Container records on a real SQLite file with the ``fake`` graph driver: journal, recovery, rmi
rules, and the json-file log reader on real files."""

from __future__ import annotations

import time

import pytest

from barge.containers.logs import fixed_nano
from barge.containers.runtime import RuntimeTable
from barge.containers.service import ContainerService
from barge.containers.state import State
from barge.containers.store import Container, ContainerStore
from barge.errors import Conflict, InvalidParameter, NotFound, NotImplementedByDriver
from barge.timefmt import rfc3339_nano
from tests.unit.test_graph import build_store, make_tar


@pytest.fixture
def world(tmp_path):
    holder = []
    images, _, home = build_store(tmp_path, users=lambda image_id: holder[0].users(image_id) if holder else [])
    store = ContainerStore(images.db, tmp_path / "data", tmp_path / "exec")
    holder.append(store)
    svc = ContainerService(table=RuntimeTable(store), images=images, pm=images.pm, graph_driver="fake",
                           exec_driver=None, exec_error="not installed here")
    img = images.import_image(__import__("io").BytesIO(make_tar({"etc/passwd": b"root:x:0:0::/root:/bin/sh\n"})),
                              repo="base", tag="latest", changes=['CMD ["sh"]'])
    yield images, store, svc, img, home
    images.close()


def record(store: ContainerStore, img, cid: str, name: str, state: State | None = None) -> Container:
    layer = img.top_layer
    return Container(
        id=cid, name=name, image_id=img.id, top_layer=layer, rw_layer=cid, config={"Image": "base", "Cmd": ["sh"]},
        host_config={"NetworkMode": "bridge"}, network_config={}, mounts=[], created=rfc3339_nano(),
        created_unix=time.time(), state=state or State(), path="sh", args=[],
        log_path=str(store.container_dir(cid) / f"{cid}-json.log"), graph_driver="fake",
    )


def test_migration_adds_container_tables(world):
    images, store, *_ = world
    assert images.db.versions["containers"] >= 1
    tables = {r[0] for r in images.db.query("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"containers", "pending_containers"} <= tables


def test_names_are_unique_and_refs_resolve(world):
    images, store, svc, img, _ = world
    a = record(store, img, "ab" + "1" * 62, "/one")
    store.begin_create(a.id)
    store.finish_create(a)
    b = record(store, img, "ac" + "2" * 62, "/one")
    store.begin_create(b.id)
    with pytest.raises(Conflict) as err:
        store.finish_create(b)
    assert str(err.value) == (f'Conflict. The container name "/one" is already in use by container "{a.id}". '
                              "You have to remove (or rename) that container to be able to reuse that name.")
    assert [op for _, op in store.pending()] == ["create"]  # the journal row stays until undone
    store.drop_journal(b.id)
    assert store.resolve("one").id == a.id and store.resolve("/one").id == a.id
    assert store.resolve(a.id).id == a.id and store.resolve("ab1").id == a.id
    b.name = "/two"
    store.begin_create(b.id)
    store.finish_create(b)
    with pytest.raises(InvalidParameter, match="multiple IDs found with provided prefix: a"):
        store.resolve("a")
    with pytest.raises(NotFound, match="No such container: zzz"):
        store.resolve("zzz")
    store.rename(b.id, "/three")
    with pytest.raises(Conflict, match='Error when allocating new name: Conflict. The container name "/one"'):
        store.rename(b.id, "/one")


def test_no_exec_driver_answers_501(world):
    _, _, svc, _, _ = world
    with pytest.raises(NotImplementedByDriver, match="no exec driver: not installed here"):
        svc.creator.create({"Image": "base"})
    assert svc.queries.list(__import__("barge.containers.filters", fromlist=["ListQuery"]).ListQuery(all=True)) == []


def test_half_created_container_is_undone_at_start(world):
    images, store, svc, img, home = world
    cid = "d" * 64
    store.begin_create(cid)  # committed before anything exists: what a kill after this point leaves
    top = images.layers.get(img.top_layer)
    images.pm.hook.barge_graph_create_rw(layer_id=cid, parent=top.cache_id)
    store.container_dir(cid).mkdir(parents=True)
    (store.container_dir(cid) / "hosts").write_text("x")
    assert (home / cid).exists()
    report = svc.recover()
    assert report["undone"] == 1
    assert not (home / cid).exists() and not store.container_dir(cid).exists()
    assert store.pending() == [] and store.get(cid) is None


def test_half_removed_container_is_finished_at_start(world):
    images, store, svc, img, home = world
    cid = "e" * 64
    c = record(store, img, cid, "/gone")
    top = images.layers.get(img.top_layer)
    images.pm.hook.barge_graph_create_rw(layer_id=cid, parent=top.cache_id)
    store.container_dir(cid).mkdir(parents=True)
    store.begin_create(cid)
    store.finish_create(c)
    store.begin_remove(cid, c.state)  # a kill after this point: the row says removing
    assert store.get(cid).state.status == "removing"
    report = svc.recover()
    assert report["removed"] == 1
    assert store.get(cid) is None and store.pending() == []
    assert not (home / cid).exists() and not store.container_dir(cid).exists()


def test_running_record_without_driver_is_marked_exited(world):
    images, store, svc, img, _ = world
    state = State()
    state.set_running(12345)
    c = record(store, img, "f" * 64, "/was-running", state)
    store.begin_create(c.id)
    store.finish_create(c)
    svc.recover()
    st = store.get(c.id).state
    assert st.status == "exited" and st.ExitCode == 255 and "no exec driver" in st.Error


def test_rmi_refuses_an_image_a_container_uses(world):
    images, store, svc, img, _ = world
    state = State()
    state.set_running(1)
    c = record(store, img, "1" * 64, "/user", state)
    store.begin_create(c.id)
    store.finish_create(c)
    with pytest.raises(Conflict, match="image is being used by running container 111111111111"):
        images.delete(img.id, force=True)
    state.set_stopped(0)
    store.save_state(c.id, state)
    with pytest.raises(Conflict, match="being used by stopped container 111111111111"):
        images.delete(img.id)
    # forced: the image goes, its layers stay for the container (Docker keeps showing the old id)
    images.delete(img.id, force=True)
    assert images.get(img.id) is None and images.layers.get(c.top_layer) is not None
    released = store.finish_remove(c.id, release=images.layers.release_unused)
    assert [layer.chain_id for layer in released] == [c.top_layer]


def test_counts(world):
    images, store, svc, img, _ = world
    for i, (running, paused) in enumerate([(True, False), (True, True), (False, False)]):
        st = State()
        if running:
            st.set_running(1)
            st.Paused = paused
        c = record(store, img, str(i) * 64, f"/c{i}", st)
        store.begin_create(c.id)
        store.finish_create(c)
    assert store.counts() == {"Containers": 3, "ContainersRunning": 1, "ContainersPaused": 1, "ContainersStopped": 1}


# ---------------------------------------------------------------------------
# the json-file log
# ---------------------------------------------------------------------------


def test_timestamps_are_fixed_nano():
    assert fixed_nano("2023-11-14T22:13:20.5Z") == "2023-11-14T22:13:20.500000000Z"
    assert fixed_nano("2023-11-14T22:13:20Z") == "2023-11-14T22:13:20.000000000Z"
    assert fixed_nano("2023-11-14T22:13:20.123456789+01:00") == "2023-11-14T22:13:20.123456789+01:00"


def test_listing_reads_again_only_what_changed(world):
    """``ps``'s listing keeps parsed records; every write through the store makes it read that row again."""
    _, store, _, img, _ = world
    made = []
    for i in range(3):
        c = record(store, img, f"{i}d" + "0" * 62, f"/list{i}")
        store.begin_create(c.id)
        store.finish_create(c)
        made.append(c.id)
    first = {c.id: c for c in store.listing()}
    assert set(first) == set(made)
    again = {c.id: c for c in store.listing()}
    assert all(again[cid] is first[cid] for cid in made)  # nothing changed: nothing parsed again
    running = State()
    running.set_running(42)
    store.save_state(made[0], running)
    store.rename(made[1], "/renamed")
    store.save_host_config(made[2], {"NetworkMode": "none"})
    now = {c.id: c for c in store.listing()}
    assert now[made[0]].state.Running and now[made[0]].state.Pid == 42
    assert now[made[1]].name == "/renamed"
    assert now[made[2]].host_config == {"NetworkMode": "none"}
    assert [c.id for c in store.listing()] == [c.id for c in store.all()]
    store.begin_remove(made[0], now[made[0]].state)
    store.finish_remove(made[0])
    assert made[0] not in {c.id for c in store.listing()}
