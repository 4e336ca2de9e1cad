"""The daemon's database: stores bring their own tables, and files of older barge open unchanged.

``LEGACY_V5`` is the schema barge wrote before each store owned its tables
(``core/barge/graph/db.py`` up to issue 10, ``PRAGMA user_version`` 1 to 5),
copied here as fixture data: it must never change.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from barge.containers import links as container_links
from barge.containers import store as containers_store
from barge.containers.store import ContainerStore
from barge.db import Database, MissingSchema, Schema, SchemaTooNew, migrate
from barge.engine.plugins import make_plugin_manager
from barge.graph import schema as graph_schema
from barge.graph.store import ImageStore
from barge.network import store as network_store
from barge.network.store import NetworkStore
from barge.registry import distmeta
from barge.volumes import store as volumes_store
from barge.volumes.store import VolumeStore

#: ``LEGACY_V5[n]`` took a file from user_version ``n`` to ``n + 1``.
LEGACY_V5 = (
    """
CREATE TABLE layers (
    chain_id   TEXT PRIMARY KEY,
    diff_id    TEXT NOT NULL,
    parent     TEXT REFERENCES layers(chain_id),
    cache_id   TEXT NOT NULL UNIQUE,
    size       INTEGER NOT NULL,
    created    REAL NOT NULL
);
CREATE INDEX layers_parent ON layers(parent);

CREATE TABLE images (
    id            TEXT PRIMARY KEY,
    config        BLOB NOT NULL,
    top_layer     TEXT REFERENCES layers(chain_id),
    parent        TEXT REFERENCES images(id),
    created       REAL NOT NULL,
    size          INTEGER NOT NULL,
    added         REAL NOT NULL,
    last_tag_time TEXT
);
CREATE INDEX images_top_layer ON images(top_layer);
CREATE INDEX images_parent ON images(parent);

CREATE TABLE tags (
    repo     TEXT NOT NULL,
    tag      TEXT NOT NULL,
    image_id TEXT NOT NULL REFERENCES images(id),
    created  REAL NOT NULL,
    PRIMARY KEY (repo, tag)
);
CREATE INDEX tags_image ON tags(image_id);

CREATE TABLE repo_digests (
    repo     TEXT NOT NULL,
    digest   TEXT NOT NULL,
    image_id TEXT NOT NULL REFERENCES images(id),
    created  REAL NOT NULL,
    PRIMARY KEY (repo, digest)
);
CREATE INDEX repo_digests_image ON repo_digests(image_id);

-- Driver layers being created: a daemon killed mid-import leaves rows here,
-- and recover() removes those layers at the next start.
CREATE TABLE pending_layers (
    cache_id TEXT PRIMARY KEY,
    created  REAL NOT NULL
);
""",
    """
-- Containers (issue 3). ``top_layer`` references the image's top layer so
-- the layers a container runs on outlive an ``rmi -f`` of its image, as in
-- Docker: ``image_id`` has no foreign key for the same reason (Docker keeps
-- showing the deleted image's id). Config and HostConfig are Docker's JSON.
CREATE TABLE containers (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    image_id      TEXT NOT NULL,
    top_layer     TEXT REFERENCES layers(chain_id),
    rw_layer      TEXT NOT NULL,
    config        TEXT NOT NULL,
    host_config   TEXT NOT NULL,
    network_config TEXT NOT NULL,
    mounts        TEXT NOT NULL,
    created       TEXT NOT NULL,
    created_unix  REAL NOT NULL,
    state         TEXT NOT NULL,
    restart_count INTEGER NOT NULL DEFAULT 0,
    path          TEXT NOT NULL,
    args          TEXT NOT NULL,
    log_path      TEXT NOT NULL,
    graph_driver  TEXT NOT NULL
);
CREATE INDEX containers_image ON containers(image_id);
CREATE INDEX containers_top_layer ON containers(top_layer);

-- Containers being created or removed: the row is committed before the rw
-- layer or directories are touched (create) or before they are released
-- (remove). recover() finishes or undoes what a killed daemon left.
CREATE TABLE pending_containers (
    id      TEXT PRIMARY KEY,
    op      TEXT NOT NULL,
    created REAL NOT NULL
);
""",
    """
-- Volumes of the local driver (issue 3). The files live in
-- <data_root>/volumes/<name>/_data. Which containers use a volume is read
-- from the containers' mounts, so there is no reference table to keep in step.
-- Labels and options are JSON objects, anonymous volumes carry Docker's
-- com.docker.volume.anonymous label.
CREATE TABLE volumes (
    name     TEXT PRIMARY KEY,
    driver   TEXT NOT NULL,
    labels   TEXT NOT NULL,
    options  TEXT NOT NULL,
    created  TEXT NOT NULL
);
""",
    """
-- Networks and endpoints (issue 4). An endpoint is a running container's
-- attachment to a network: its row *is* the address allocation (unique per
-- network), so an address is never handed out twice and is free again the
-- moment the row goes. Endpoints live from a container's start to its exit;
-- recover() drops those of containers no longer running. ``state`` journals
-- network create/remove ('creating', 'ready', 'removing') so a killed daemon
-- finishes or undoes them at its next start.
CREATE TABLE networks (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    driver     TEXT NOT NULL,
    interface  TEXT NOT NULL,
    subnet     TEXT NOT NULL,
    gateway    TEXT NOT NULL,
    ip_range   TEXT NOT NULL,
    internal   INTEGER NOT NULL,
    attachable INTEGER NOT NULL,
    options    TEXT NOT NULL,
    labels     TEXT NOT NULL,
    created    TEXT NOT NULL,
    state      TEXT NOT NULL
);

CREATE TABLE endpoints (
    id           TEXT PRIMARY KEY,
    network_id   TEXT NOT NULL REFERENCES networks(id),
    container_id TEXT NOT NULL,
    ifname       TEXT NOT NULL,
    address      TEXT NOT NULL,
    prefixlen    INTEGER NOT NULL,
    mac          TEXT NOT NULL,
    gateway      TEXT NOT NULL,
    dns_names    TEXT NOT NULL,
    ports        TEXT NOT NULL,
    created      REAL NOT NULL,
    UNIQUE (network_id, address),
    UNIQUE (network_id, container_id)
);
CREATE INDEX endpoints_container ON endpoints(container_id);
""",
    """
-- Distribution metadata (issue 5): which compressed blob in which registry
-- repository holds a layer (by diff ID). Push uses it to skip blobs the
-- registry has (HEAD) or to mount them from another repository of the same
-- registry instead of compressing and uploading again. Pull records it.
CREATE TABLE blob_digests (
    digest     TEXT NOT NULL,
    diff_id    TEXT NOT NULL,
    registry   TEXT NOT NULL,
    repo       TEXT NOT NULL,
    media_type TEXT NOT NULL,
    size       INTEGER NOT NULL,
    created    REAL NOT NULL,
    PRIMARY KEY (registry, repo, digest)
);
CREATE INDEX blob_digests_diff ON blob_digests(diff_id);
""",
)

#: Every store's schema, in the order a daemon builds its stores.
ALL = (graph_schema.SCHEMA, containers_store.SCHEMA, volumes_store.SCHEMA, network_store.SCHEMA, distmeta.SCHEMA,
       container_links.SCHEMA)

IMAGE = "sha256:" + "1" * 64
LAYER = "sha256:" + "2" * 64
CONTAINER = "c" * 64
NETWORK = "n" * 64


def legacy_file(path: Path, version: int = 5) -> None:
    """A data root's db as barge wrote it at ``version``, with a row in every table it had."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    for step in range(version):
        conn.executescript(LEGACY_V5[step])
        conn.execute(f"PRAGMA user_version={step + 1}")
    rows = [
        ("INSERT INTO layers VALUES (?, ?, NULL, ?, 10, 1.0)", (LAYER, LAYER, "cache1")),
        ("INSERT INTO images VALUES (?, ?, ?, NULL, 1.0, 10, 1.0, NULL)",
         (IMAGE, json.dumps({"rootfs": {"diff_ids": [LAYER]}}).encode(), LAYER)),
        ("INSERT INTO tags VALUES ('docker.io/library/base', 'latest', ?, 1.0)", (IMAGE,)),
        ("INSERT INTO repo_digests VALUES ('docker.io/library/base', 'sha256:' || hex(randomblob(32)), ?, 1.0)",
         (IMAGE,)),
        ("INSERT INTO containers VALUES (?, '/old', ?, ?, ?, '{}', '{}', '{}', '[]', '2024-01-01T00:00:00Z', 1.0,"
         " '{}', 0, 'sh', '[]', 'log', 'fake')", (CONTAINER, IMAGE, LAYER, CONTAINER)),
        ("INSERT INTO volumes VALUES ('data', 'local', '{}', '{}', '2024-01-01T00:00:00Z')", ()),
        ("INSERT INTO networks VALUES (?, 'mynet', 'bridge', 'br-x', '10.9.0.0/24', '10.9.0.1', '', 0, 0, '{}',"
         " '{}', '2024-01-01T00:00:00Z', 'ready')", (NETWORK,)),
        ("INSERT INTO blob_digests VALUES ('sha256:b', ?, 'registry.test', 'base', 'gzip', 5, 1.0)", (LAYER,)),
    ]
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    for sql, params in rows:
        if sql.split()[2] in tables:
            conn.execute(sql, params)
    conn.close()


def layout(path: Path) -> dict[str, str]:
    """Every table and index of the file and its SQL, but the versions' own table."""
    conn = sqlite3.connect(path)
    try:
        return dict(conn.execute("SELECT name, sql FROM sqlite_master WHERE tbl_name != 'schema_versions'"))
    finally:
        conn.close()


def open_stores(db: Database, tmp_path: Path):
    pm = make_plugin_manager(load_extensions=False)
    images = ImageStore(db, pm, "fake")
    containers = ContainerStore(db, tmp_path / "data", tmp_path / "exec")
    volumes = VolumeStore(db, tmp_path / "data")
    networks = NetworkStore(db)
    db.require(distmeta.SCHEMA)
    return images, containers, volumes, networks


def test_a_version_5_file_opens_with_every_record(tmp_path):
    path = tmp_path / "barge.db"
    legacy_file(path)
    before = layout(path)
    db = Database(path, ALL)
    try:
        images, containers, volumes, networks = open_stores(db, tmp_path)
        assert images.get(IMAGE).top_layer == LAYER
        assert images.layers.get(LAYER).cache_id == "cache1"
        assert [str(t) for t in images.tags_of(IMAGE)] == ["docker.io/library/base:latest"]
        assert containers.get(CONTAINER).name == "/old"
        assert volumes.get("data").driver == "local"
        assert [n.name for n in networks.networks()] == ["mynet"]
        assert [r.digest for r in distmeta.known(db, LAYER, "registry.test")] == ["sha256:b"]
        assert db.versions == {s.name: s.version for s in ALL}
        assert db.query_one("PRAGMA user_version")[0] == migrate.FORMAT
    finally:
        db.close()
    # not a table or index of version 5 changed but by the steps stores added since (networks' IPv6 columns);
    # tables of schemas added since (legacy links) are new, beside them
    later = {"networks", "endpoints", "endpoints_address6"}
    after = layout(path)
    assert {k: after.get(k) for k in before if k not in later} == {k: v for k, v in before.items() if k not in later}


def test_a_fresh_file_has_the_tables_of_a_migrated_one(tmp_path):
    legacy_file(tmp_path / "old.db")
    Database(tmp_path / "old.db", ALL).close()
    Database(tmp_path / "new.db", ALL).close()
    assert layout(tmp_path / "new.db") == layout(tmp_path / "old.db")


@pytest.mark.parametrize("version", [1, 2, 3, 4])
def test_an_older_file_gains_the_tables_it_lacks(tmp_path, version):
    path = tmp_path / "barge.db"
    legacy_file(path, version)
    db = Database(path)
    assert db.versions == {name: 1 for name in migrate.LEGACY_STEPS[:version]}
    images, containers, volumes, networks = open_stores(db, tmp_path)
    assert images.get(IMAGE) is not None
    assert db.versions == {s.name: s.version for s in ALL}
    db.close()
    Database(tmp_path / "fresh.db", ALL).close()
    assert layout(path) == layout(tmp_path / "fresh.db")


def test_stores_build_their_tables_on_a_bare_database(tmp_path):
    db = Database(tmp_path / "barge.db")
    assert db.versions == {}
    open_stores(db, tmp_path)
    assert db.versions == {s.name: s.version for s in ALL}
    db.close()


def test_an_image_store_given_a_path_opens_and_closes_its_own_database(tmp_path):
    pm = make_plugin_manager(load_extensions=False)
    images = ImageStore(tmp_path / "barge.db", pm, "fake")
    assert images.db.versions == {"graph": 1}
    assert images.tmp_dir == tmp_path / "tmp"
    images.close()
    with pytest.raises(sqlite3.ProgrammingError):
        images.db.query("SELECT 1")


def test_an_image_store_leaves_a_shared_database_open(tmp_path):
    db = Database(tmp_path / "barge.db", ALL)
    ImageStore(db, make_plugin_manager(load_extensions=False), "fake").close()
    assert db.query_one("SELECT count(*) FROM images")[0] == 0
    db.close()


def test_a_file_of_a_newer_barge_is_refused(tmp_path):
    path = tmp_path / "barge.db"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version={migrate.FORMAT + 1}")
    conn.close()
    with pytest.raises(SchemaTooNew, match="newer than this barge knows"):
        Database(path)


def test_tables_of_a_newer_store_version_are_refused(tmp_path):
    path = tmp_path / "barge.db"
    Database(path, ALL).close()
    conn = sqlite3.connect(path)
    conn.execute("UPDATE schema_versions SET version = 2 WHERE name = 'volumes'")
    conn.commit()
    conn.close()
    with pytest.raises(SchemaTooNew, match="'volumes' are at version 2"):
        Database(path, ALL)


def test_a_schema_needs_the_ones_it_requires_first(tmp_path):
    db = Database(tmp_path / "barge.db", [graph_schema.SCHEMA])
    with pytest.raises(MissingSchema, match="'volumes' need those of containers"):
        db.require(volumes_store.SCHEMA)
    assert "volumes" not in db.versions
    db.close()


def test_a_new_step_runs_once_and_a_failing_one_changes_nothing(tmp_path):
    path = tmp_path / "barge.db"
    v1 = Schema("notes", ("CREATE TABLE notes (id TEXT PRIMARY KEY)",))
    v2 = Schema("notes", v1.steps + ("ALTER TABLE notes ADD COLUMN body TEXT NOT NULL DEFAULT ''",))
    Database(path, [v1]).close()
    db = Database(path, [v2])
    db.require(v2)  # already there: nothing runs again
    assert db.versions == {"notes": 2}
    assert [r["name"] for r in db.query("PRAGMA table_info(notes)")] == ["id", "body"]
    bad = Schema("notes", v2.steps + ("CREATE TABLE extra (x); CREATE TABLE notes (y)",))
    with pytest.raises(sqlite3.OperationalError):
        db.require(bad)
    assert db.versions == {"notes": 2}
    assert db.query_one("SELECT name FROM sqlite_master WHERE name = 'extra'") is None
    db.close()
