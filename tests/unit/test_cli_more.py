"""Pure parts of cp, events and volume commands: argument splitting, path
entries, event lines and volume rows, as docker computes them."""

from __future__ import annotations

import os
import time

import pytest

from barge.cli import copy, events, volumes


@pytest.mark.parametrize("arg, expected", [
    ("c:/etc/passwd", ("c", "/etc/passwd")),
    ("/abs/with:colon", ("", "/abs/with:colon")),
    ("./rel:name", ("", "./rel:name")),
    ("plain", ("", "plain")),
    ("c:", ("c", "")),
])
def test_split_cp_arg(arg, expected):
    assert copy.split_cp_arg(arg) == expected


@pytest.mark.parametrize("path, expected", [
    ("/data", ("/", "data")),
    ("/data/", ("/", "data")),
    ("/data/.", ("/data", ".")),
    ("rel/x", ("rel", "x")),
    ("x", (".", "x")),
])
def test_split_dir_entry(path, expected):
    assert copy.split_dir_entry(path) == expected


def test_rfc3339_nano_fixed_keeps_nine_digits(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    try:
        assert events.rfc3339_nano_fixed(1_700_000_000_000_000_500) == "2023-11-14T22:13:20.000000500Z"
        monkeypatch.setenv("TZ", "EST+5")
        time.tzset()
        assert events.rfc3339_nano_fixed(1_700_000_000_123_456_789) == "2023-11-14T17:13:20.123456789-05:00"
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


def test_pretty_event_sorts_attributes(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    try:
        line = events.pretty({"Type": "container", "Action": "start", "timeNano": 1_700_000_000_000_000_000,
                              "Actor": {"ID": "abc", "Attributes": {"name": "x", "image": "busybox"}}})
        assert line == "2023-11-14T22:13:20.000000000Z container start abc (image=busybox, name=x)\n"
        bare = events.pretty({"Type": "volume", "Action": "prune", "time": 1_700_000_000, "Actor": {"ID": ""}})
        assert bare == "2023-11-14T22:13:20.000000000Z volume prune \n"
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


def test_volume_rows_and_table():
    from barge.client import formatter

    rows = [volumes.volume_row(v) for v in (
        {"Name": "v10", "Driver": "local", "Labels": {"b": "2", "a": "1"}},
        {"Name": "v2", "Driver": "local", "UsageData": {"RefCount": 1, "Size": 2048}},
    )]
    assert rows[0].Labels == "a=1,b=2" and rows[0].Links == "N/A" and rows[1].Size == "2.048kB"
    table = formatter.render("", rows, volumes.VOLUME_TABLE, volumes.VOLUME_HEADERS)
    assert table.splitlines()[0].split() == ["DRIVER", "VOLUME", "NAME"]
    assert sorted(["v10", "v2", "v1"], key=volumes._natural) == ["v1", "v2", "v10"]
    with pytest.raises(formatter.FormatError):
        formatter.render("{{.Nope}}", rows, volumes.VOLUME_TABLE, volumes.VOLUME_HEADERS)


def test_destination_info(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "f").write_text("")
    os.symlink("d", tmp_path / "link")
    assert copy._destination_info(str(tmp_path / "d")) == (str(tmp_path / "d"), True, True)
    assert copy._destination_info(str(tmp_path / "f"))[1:] == (True, False)
    assert copy._destination_info(str(tmp_path / "link"))[1:] == (True, True)
    assert copy._destination_info(str(tmp_path / "new"))[1:] == (False, False)
    with pytest.raises(FileNotFoundError):
        copy._destination_info(str(tmp_path / "no" / "new"))
