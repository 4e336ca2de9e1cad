"""json-file log writer: Docker's line shape, partial lines, rotation."""

from __future__ import annotations

import json
import re

from barge_exec_native.logfile import MAX_PARTIAL, JsonLogWriter
from barge_exec_native.state import rfc3339_nano

TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$")


def entries(path):
    with open(path) as f:
        return [json.loads(line) for line in f]


def test_lines_split_at_newlines_and_streams_kept_apart(tmp_path):
    path = str(tmp_path / "c-json.log")
    log = JsonLogWriter(path)
    log.write("stdout", b"hi\nthere\npart")
    log.write("stderr", b"oops\n")
    log.write("stdout", b"ial\n")
    log.close()
    got = entries(path)
    assert [(e["log"], e["stream"]) for e in got] == [
        ("hi\n", "stdout"), ("there\n", "stdout"), ("oops\n", "stderr"), ("partial\n", "stdout"),
    ]
    assert all(TIME_RE.match(e["time"]) for e in got)
    with open(path) as f:
        assert f.readline().startswith('{"log":"hi\\n","stream":"stdout","time":"')


def test_partial_line_flushed_at_close_and_long_lines_cut(tmp_path):
    path = str(tmp_path / "log")
    log = JsonLogWriter(path)
    log.write("stdout", b"x" * (MAX_PARTIAL + 10))
    log.write("stdout", b"no newline")
    log.close()
    got = [e["log"] for e in entries(path)]
    assert got == ["x" * MAX_PARTIAL, "x" * 10 + "no newline"]


def test_invalid_utf8_is_replaced_not_fatal(tmp_path):
    path = str(tmp_path / "log")
    log = JsonLogWriter(path)
    log.write("stdout", b"\xff\xfeok\n")
    log.close()
    assert entries(path)[0]["log"] == "\ufffd\ufffdok\n"


def test_rotation_keeps_max_file_files_within_max_size(tmp_path):
    path = str(tmp_path / "log")
    log = JsonLogWriter(path, max_size=400, max_file=3)
    for i in range(40):
        log.write("stdout", f"line {i:03d}\n".encode())
    log.close()
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["log", "log.1", "log.2"]
    for name in names:
        assert (tmp_path / name).stat().st_size <= 400
    lines = [e["log"] for name in ("log.2", "log.1", "log") for e in entries(str(tmp_path / name))]
    # The newest lines survive, in order, with none missing between the files.
    numbers = [int(line.split()[1]) for line in lines]
    assert numbers == list(range(numbers[0], 40))
    assert numbers[0] > 0


def test_max_file_one_truncates_in_place(tmp_path):
    path = str(tmp_path / "log")
    log = JsonLogWriter(path, max_size=300, max_file=1)
    for i in range(30):
        log.write("stderr", f"l{i}\n".encode())
    log.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["log"]
    got = [e["log"] for e in entries(path)]
    assert got[-1] == "l29\n" and len(got) < 30


def test_appends_to_an_existing_log(tmp_path):
    path = str(tmp_path / "log")
    for word in ("one", "two"):
        log = JsonLogWriter(path)
        log.write("stdout", word.encode() + b"\n")
        log.close()
    assert [e["log"] for e in entries(path)] == ["one\n", "two\n"]


def test_rfc3339_nano_drops_trailing_zeros():
    assert rfc3339_nano(1_700_000_000_123_000_000) == "2023-11-14T22:13:20.123Z"
    assert rfc3339_nano(1_700_000_000_000_000_000) == "2023-11-14T22:13:20Z"
    assert rfc3339_nano(1_700_000_000_000_000_001) == "2023-11-14T22:13:20.000000001Z"
