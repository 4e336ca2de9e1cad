"""The graph's tables: layers, images, their tags and digests, and the layer journal.

Applied by :class:`barge.db.Database`; the image store requires it when built.
Change the tables by appending a step to :data:`SCHEMA`, never by editing one.
"""

from __future__ import annotations

from barge.db import Schema

TABLES_V1 = """
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
"""

SCHEMA = Schema("graph", (TABLES_V1,))
