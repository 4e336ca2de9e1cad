"""Log driver formats: json-file's bytes, local's frames, the copier's cutting, rotation and gzip."""

from __future__ import annotations

import gzip
import json
import re
import struct

import pytest

from barge.logdriver import driver_class, driver_names, log_driver_names, log_paths, validate
from barge.logdriver.base import LogDriverError, LogInfo, Message, PartialMeta
from barge.logdriver.copier import BUFFER, LogCopier, open_logger
from barge.logdriver.jsonfile import JsonFormat, encode_line, go_json_string
from barge.logdriver.local import LocalFormat, frame
from barge.logdriver.logfile import gzip_last_time, rotations
from barge.logdriver.protobuf import decode_entry, encode_entry
from barge.timefmt import rfc3339_nano

TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$")
T0 = 1_700_000_000_123_456_789


class Collect:
    """A driver that keeps what it is given (the copier's output, unencoded)."""

    def __init__(self):
        self.messages: list[Message] = []
        self.closed = False

    def log(self, msg):
        self.messages.append(msg)

    def close(self):
        self.closed = True


def entries(path):
    with open(path) as f:
        return [json.loads(line) for line in f]


# -- the registry ------------------------------------------------------------------------------------


def test_built_in_drivers_are_entry_points_and_none_is_not_listed():
    assert {"json-file", "local", "none", "syslog"} <= set(driver_names())
    assert "none" not in log_driver_names() and "local" in log_driver_names()
    with pytest.raises(LogDriverError, match='error looking up logging plugin bogus: plugin "bogus" not found'):
        driver_class("bogus")


@pytest.mark.parametrize("name, opts, text", [
    ("json-file", {"foo": "bar"}, "unknown log opt 'foo' for json-file log driver"),
    ("local", {"foo": "bar"}, "unknown log opt 'foo' for log driver local"),
    ("syslog", {"foo": "bar"}, "unknown log opt 'foo' for syslog log driver"),
    ("syslog", {"syslog-format": "bad"}, "Invalid syslog format"),
    ("syslog", {"syslog-facility": "bad"}, "invalid syslog facility"),
    ("syslog", {"syslog-address": "bad://x"}, "syslog-address should be in form proto://address, got bad://x"),
    ("syslog", {"syslog-address": "unix:///nonexistent/sock"}, "stat /nonexistent/sock: no such file or directory"),
    ("json-file", {"mode": "bad"}, "logger: logging mode not supported: bad"),
    ("json-file", {"mode": "non-blocking", "max-buffer-size": "abc"},
     "error parsing option max-buffer-size: invalid size: 'abc'"),
    ("json-file", {"cache-disabled": "maybe"}, "invalid value for option cache-disabled: maybe"),
])
def test_create_time_checks_say_what_dockerd_says(name, opts, text):
    with pytest.raises(LogDriverError) as info:
        validate(name, opts)
    assert str(info.value) == text


def test_start_time_options_pass_at_create():
    for name, opts in [("json-file", {"max-size": "abc"}), ("local", {"max-file": "x"}), ("none", {"foo": "bar"}),
                       ("syslog", {"syslog-address": "tcp://127.0.0.1:1", "cache-max-size": "1k"})]:
        validate(name, opts)


@pytest.mark.parametrize("name, opts, text", [
    ("json-file", {"max-size": "abc"}, "invalid size: 'abc'"),
    ("json-file", {"max-size": "1k", "max-file": "0"}, "max-file cannot be less than 1"),
    ("json-file", {"compress": "maybe"}, 'strconv.ParseBool: parsing "maybe": invalid syntax'),
    ("json-file", {"compress": "true"}, "compress cannot be true when max-file is less than 2 or max-size is not set"),
    ("local", {"max-size": "abc"}, "invalid value for max-size: abc: invalid size: 'abc'"),
    ("local", {"max-file": "x"}, 'invalid value for max-file: x: strconv.Atoi: parsing "x": invalid syntax'),
    ("local", {"max-file": "0"}, "compression cannot be enabled when max file count is 1"),
    ("local", {"compress": "maybe"}, 'error reading compress log option: strconv.ParseBool: parsing "maybe": invalid syntax'),
    ("json-file", {"tag": "{{.Bogus}}"},
     'template: log-tag:1:2: executing "log-tag" at <.Bogus>: can\'t evaluate field Bogus in type *logger.Info'),
    ("json-file", {"tag": "{{.Nope"}, "template: log-tag:1: unclosed action"),
    ("json-file", {"labels-regex": "("}, "error parsing regexp: missing closing ): `(`"),
    ("json-file", {"env-regex": "("}, "error parsing regexp: missing closing ): `(`"),
    ("local", {"max-file": "-1", "compress": "false"}, "max file count cannot be less than 0"),
])
def test_start_time_errors_say_what_dockerd_says(tmp_path, name, opts, text):
    with pytest.raises(LogDriverError) as info:
        driver_class(name)(LogInfo("c" * 64, config=opts, log_path=str(tmp_path / "log")))
    assert str(info.value) == text


def test_log_paths_per_driver_and_the_dual_logging_cache():
    d, cid = "/var/lib/barge/containers/abc", "abc"
    assert log_paths("json-file", {}, d, cid) == (f"{d}/abc-json.log", "")
    assert log_paths("local", {}, d, cid) == (f"{d}/local-logs/container.log", "")
    assert log_paths("syslog", {}, d, cid) == ("", f"{d}/container-cached.log")
    assert log_paths("syslog", {"cache-disabled": "true"}, d, cid) == ("", "")
    assert log_paths("none", {}, d, cid) == ("", "")


# -- the copier ----------------------------------------------------------------------------------------


def test_copier_cuts_lines_and_keeps_streams_apart():
    sink = Collect()
    c = LogCopier([sink])
    c.write("stdout", b"hi\nthere\npart")
    c.write("stderr", b"oops\n")
    c.write("stdout", b"ial\n")
    c.close()
    assert [(m.source, m.line, m.partial) for m in sink.messages] == [
        ("stdout", b"hi", None), ("stdout", b"there", None), ("stderr", b"oops", None), ("stdout", b"partial", None)]
    assert sink.closed


def test_copier_pieces_of_a_long_line_share_an_id_and_the_tail_is_not_last():
    sink = Collect()
    c = LogCopier([sink])
    c.write("stdout", b"x" * (BUFFER + 10) + b"\n" + b"no newline")
    c.close()
    first, second, tail = sink.messages
    assert first.line == b"x" * BUFFER and first.partial.ordinal == 1 and not first.partial.last
    assert second.line == b"x" * 10 and second.partial == PartialMeta(first.partial.id, 2, True)
    assert second.time_ns == first.time_ns  # pieces keep the first piece's time, as moby's copier
    assert len(first.partial.id) == 64
    assert tail.line == b"no newline" and tail.partial.ordinal == 1 and not tail.partial.last
    assert tail.partial.id != first.partial.id


# -- json-file -----------------------------------------------------------------------------------------


def test_json_line_bytes_are_dockerds():
    # dockerd 20.10 wrote this line for `printf 'a\tb<c>&d\001e\342\200\250f\377g\n'`
    assert encode_line(Message("stdout", b"a\tb<c>&d\x01e\xe2\x80\xa8f\xffg", 1_796_675_170_227_380_710)) == (
        b'{"log":"a\\u0009b\\u003cc\\u003e\\u0026d\\u0001e\\u2028f\\ufffdg\\n","stream":"stdout",'
        b'"time":"2026-12-07T20:26:10.22738071Z"}\n')
    msg = Message("stdout", b'a\tb<c>&d "q" \\ \x01\r\xff\xe2\x80\xa8', T0)
    assert encode_line(msg) == (b'{"log":"a\\u0009b\\u003cc\\u003e\\u0026d \\"q\\" \\\\ \\u0001\\r\\ufffd\\u2028\\n",'
                                b'"stream":"stdout","time":"2023-11-14T22:13:20.123456789Z"}\n')
    piece = Message("stderr", b"part", T0 + 211, PartialMeta("i", 1, False))
    assert encode_line(piece) == b'{"log":"part","stream":"stderr","time":"2023-11-14T22:13:20.123457Z"}\n'
    assert go_json_string("é€".encode()) == '"é€"'.encode()


def test_json_attrs_from_labels_env_and_tag(tmp_path):
    info = LogInfo("f" * 64, config={"labels": "a,missing", "env": "E", "tag": "{{.Name}}/{{.ID}}"},
                   log_path=str(tmp_path / "c-json.log"), container_name="/web", labels={"a": "1<", "b": "2"},
                   env=["E=2", "F=3"])
    drv = driver_class("json-file")(info)
    drv.log(Message("stdout", b"hi", T0))
    drv.close()
    assert (tmp_path / "c-json.log").read_bytes() == (
        b'{"log":"hi\\n","stream":"stdout","attrs":{"E":"2","a":"1\\u003c","tag":"web/ffffffffffff"},'
        b'"time":"2023-11-14T22:13:20.123456789Z"}\n')


def test_json_rotation_keeps_max_file_files_within_max_size(tmp_path):
    path = tmp_path / "log"
    log = open_logger({"driver": "json-file", "path": str(path), "options": {"max-size": "400", "max-file": "3"}})
    for i in range(40):
        log.write("stdout", f"line {i:03d}\n".encode())
    log.close()
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["log", "log.1", "log.2"]
    assert all((tmp_path / n).stat().st_size <= 400 for n in names)
    lines = [e["log"] for name in ("log.2", "log.1", "log") for e in entries(tmp_path / name)]
    numbers = [int(line.split()[1]) for line in lines]
    assert numbers == list(range(numbers[0], 40)) and numbers[0] > 0
    assert all(TIME_RE.match(e["time"]) for e in entries(path))


def test_json_max_file_one_truncates_in_place_and_appends_across_opens(tmp_path):
    path = tmp_path / "log"
    for word in ("one", "two"):
        log = open_logger({"driver": "json-file", "path": str(path)})
        log.write("stdout", word.encode() + b"\n")
        log.close()
    assert [e["log"] for e in entries(path)] == ["one\n", "two\n"]
    log = open_logger({"driver": "json-file", "path": str(path), "options": {"max-size": "300"}})
    for i in range(30):
        log.write("stderr", f"l{i}\n".encode())
    log.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["log"]
    got = [e["log"] for e in entries(path)]
    assert got[-1] == "l29\n" and len(got) < 30


def test_json_compress_gzips_rotations_with_dockerds_header(tmp_path):
    path = tmp_path / "c-json.log"
    log = open_logger({"driver": "json-file", "path": str(path),
                       "options": {"max-size": "1k", "max-file": "3", "compress": "true"}})
    for i in range(100):
        log.write("stdout", f"line-{i}\n".encode())
    log.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c-json.log", "c-json.log.1.gz", "c-json.log.2.gz"]
    raw = (tmp_path / "c-json.log.1.gz").read_bytes()
    assert raw[:4] == b"\x1f\x8b\x08\x04" and raw[8:10] == b"\x00\xff"
    (xlen,) = struct.unpack("<H", raw[10:12])
    meta = json.loads(raw[12:12 + xlen])
    older = gzip.decompress(raw).splitlines()
    assert meta["lastTime"] == json.loads(older[-1])["time"] == gzip_last_time(tmp_path / "c-json.log.1.gz")
    assert len(gzip.decompress(raw)) <= 1024
    assert [p.name for p in rotations(path)] == ["c-json.log.2.gz", "c-json.log.1.gz"]


def test_json_format_decodes_only_complete_lines_and_tails():
    fmt = JsonFormat()
    data = b"".join(encode_line(Message("stdout", f"{i}".encode(), T0)) for i in range(5)) + b'{"log":"torn'
    got, used = fmt.decode(data)
    assert [e.data for e in got] == [b"0\n", b"1\n", b"2\n", b"3\n", b"4\n"] and data[used:] == b'{"log":"torn'
    start, found = fmt.tail_offset(data, 2)
    assert found == 2 and [e.data for e in fmt.decode(data[start:])[0]] == [b"3\n", b"4\n"]
    assert fmt.tail_offset(data, 9)[1] == 5


# -- local -----------------------------------------------------------------------------------------------


def test_local_frame_bytes_match_dockerd_and_round_trip():
    pid = "9b41a25d2dc31e950d5d9de30b5b3ef015988420e3450ee7cbf119f8ca31a1bc"
    # the last record of a file dockerd 20.10 wrote for `printf partial` at the end of the output
    body = (b"\n\x06stdout\x10\xc4\xe6\xa6\xa4\x8f\x98\xc4\xf7\x18\x1a\x07partial \x01*D\x12@" + pid.encode()
            + b"\x18\x01")
    msg = decode_entry(body)
    assert (msg.source, msg.line, msg.partial) == ("stdout", b"partial", PartialMeta(pid, 1, False))
    assert encode_entry(msg) == body
    framed = frame(msg)
    assert framed == struct.pack(">I", len(body)) + body + struct.pack(">I", len(body))
    full = Message("stderr", b"line-100", T0)
    assert decode_entry(encode_entry(full)) == full
    assert decode_entry(encode_entry(Message("stdout", b"", T0))).line == b""


def test_local_format_reads_records_adds_newlines_and_tails():
    fmt = LocalFormat()
    data = frame(Message("stdout", b"a", T0)) + frame(Message("stderr", b"b", T0 + 1)) + \
        frame(Message("stdout", b"piece", T0 + 2, PartialMeta("x", 1, False)))
    got, used = fmt.decode(data + b"\x00\x00")
    assert [(e.stream, e.data) for e in got] == [("stdout", b"a\n"), ("stderr", b"b\n"), ("stdout", b"piece")]
    assert used == len(data) and got[0].time == rfc3339_nano(T0)
    start, found = fmt.tail_offset(data, 2)
    assert found == 2 and [e.data for e in fmt.decode(data[start:])[0]] == [b"b\n", b"piece"]


def test_local_defaults_rotate_and_compress(tmp_path):
    path = tmp_path / "local-logs" / "container.log"
    log = open_logger({"driver": "local", "path": str(path), "options": {"max-size": "1k", "max-file": "3"}})
    for i in range(100):
        log.write("stdout", f"line-{i}\n".encode())
    log.close()
    assert sorted(p.name for p in path.parent.iterdir()) == ["container.log", "container.log.1.gz",
                                                            "container.log.2.gz"]
    assert oct(path.parent.stat().st_mode & 0o777) == "0o700" and oct(path.stat().st_mode & 0o777) == "0o640"
    fmt = LocalFormat()
    lines = []
    for p in rotations(path) + [path]:
        raw = p.read_bytes()
        data = gzip.decompress(raw) if p.name.endswith(".gz") else raw
        assert len(data) <= 1024
        got, used = fmt.decode(data)
        assert used == len(data)
        lines += [e.data for e in got]
    numbers = [int(x.decode().split("-")[1]) for x in lines]
    assert numbers == list(range(numbers[0], 100)) and numbers[0] > 0
    drv = driver_class("local")(LogInfo("c", log_path=str(tmp_path / "x.log")))
    assert (drv.file.max_size, drv.file.max_file, drv.file.compress) == (20 << 20, 5, True)
    drv.close()
