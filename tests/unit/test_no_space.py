"""A full disk, in the small: the db's SQLITE_FULL, a log record that does not fit, and the
words of the error (tests/integration/test_full_disk.py fills a real file system)."""

from __future__ import annotations

import errno
import json
import os
import resource
import signal
from dataclasses import dataclass

import pytest

from barge.db import Database, Schema
from barge.engine import Engine
from barge.errors import NoSpace, is_no_space
from barge.logdriver.logfile import RotatingFile

ITEMS = Schema("items", ("CREATE TABLE items (id INTEGER PRIMARY KEY, data BLOB NOT NULL)",))


def test_database_full_is_enospc_naming_the_file_and_rolls_back(tmp_path):
    """SQLite's own limit (max_page_count) answers SQLITE_FULL as a full disk does."""
    db = Database(tmp_path / "barge.db", [ITEMS])
    with db.write() as conn:
        conn.execute("INSERT INTO items (data) VALUES (?)", (b"kept",))
    pages = db.query_one("PRAGMA page_count")[0]
    db.query("PRAGMA max_page_count = %d" % pages)
    with pytest.raises(OSError) as info:
        with db.write() as conn:
            conn.execute("INSERT INTO items (data) VALUES (?)", (b"x" * (1 << 20),))
    assert info.value.errno == errno.ENOSPC and info.value.filename == str(tmp_path / "barge.db")
    assert is_no_space(info.value)
    assert str(NoSpace.wrap("container create failed", info.value)) == \
        f"container create failed: {tmp_path / 'barge.db'}: no space left on device"
    # no transaction stays open on the shared connection; nothing of the failed one remains
    db.query("PRAGMA max_page_count = 1000000")
    with db.write() as conn:
        conn.execute("INSERT INTO items (data) VALUES (?)", (b"after",))
    assert [r[0] for r in db.query("SELECT data FROM items ORDER BY id")] == [b"kept", b"after"]
    assert db.query_one("PRAGMA integrity_check")[0] == "ok"


def test_other_errors_still_roll_back_and_pass_through(tmp_path):
    db = Database(tmp_path / "barge.db", [ITEMS])
    with pytest.raises(KeyError):
        with db.write() as conn:
            conn.execute("INSERT INTO items (data) VALUES (?)", (b"gone",))
            raise KeyError("x")
    assert db.query("SELECT * FROM items") == []


@dataclass
class NoArgs:
    pass


def test_engine_names_the_job_a_full_disk_stopped():
    engine = Engine()

    def full(job):
        raise OSError(errno.ENOSPC, "No space left on device", "/data/containers/x/hostname")

    engine.register("container_start", NoArgs, full)
    with pytest.raises(NoSpace) as info:
        engine.call("container_start")
    assert info.value.status == 500
    assert str(info.value) == "container start failed: /data/containers/x/hostname: no space left on device"


def test_wrap_keeps_a_composed_message_and_chains():
    exc = OSError(errno.ENOSPC, "copying layer abc: no space left on device")
    assert str(NoSpace.wrap("container create failed", exc)) == \
        "container create failed: copying layer abc: no space left on device"
    inner = NoSpace("write /big: no space left on device")
    assert str(NoSpace.wrap("failed to register layer", inner)) == \
        "failed to register layer: write /big: no space left on device"
    assert str(NoSpace.wrap("x", OSError(errno.EDQUOT, "Disk quota exceeded"))) == "x: disk quota exceeded"
    assert not is_no_space(OSError(errno.EIO, "Input/output error"))


def in_child_with_file_limit(limit: int, fn) -> int:
    """Run ``fn`` in a forked child under RLIMIT_FSIZE ``limit`` (a write past it is cut short,
    the next fails with EFBIG, as on a full disk); its errno, 0 when it raised none. A child, so
    that no file of the test run itself meets the limit."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 0
        try:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))
            fn()
        except OSError as exc:
            code = exc.errno or 255
        finally:
            os._exit(code)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def test_a_log_record_that_does_not_fit_is_cut_back(tmp_path):
    path = tmp_path / "c-json.log"
    record = json.dumps({"log": "x" * 100 + "\n"}).encode() + b"\n"

    def write(time_ns: int) -> None:
        log = RotatingFile(str(path))
        try:
            log.write(record, time_ns)
        finally:
            log.close()

    write(1)
    assert in_child_with_file_limit(len(record) + 50, lambda: write(2)) == errno.EFBIG
    assert path.read_bytes() == record  # the second record was cut short, then cut back: none is torn
    write(3)
    assert path.read_bytes() == record * 2
