"""docker-style output: units, tabwriter alignment, image and history rows."""

from __future__ import annotations

import json

import pytest

from barge.client import formatter, units
from barge.client.tabwriter import align


@pytest.mark.parametrize(
    "size, text",
    [(0, "0B"), (999, "999B"), (1000, "1kB"), (1234, "1.23kB"), (4261234, "4.26MB"), (12345678, "12.3MB"), (1.5e9, "1.5GB")],
)
def test_human_size_precision_3(size, text):
    assert units.human_size(size, 3) == text


def test_bytes_size_binary():
    assert units.bytes_size(25275000000) == "23.54GiB"
    assert units.bytes_size(1024) == "1KiB"


@pytest.mark.parametrize(
    "seconds, text",
    [
        (0.5, "Less than a second"), (1, "1 second"), (59, "59 seconds"), (60, "About a minute"),
        (150, "2 minutes"), (3600, "About an hour"), (7200, "2 hours"), (47 * 3600, "47 hours"),
        (3 * 86400, "3 days"), (20 * 86400, "2 weeks"), (90 * 86400, "3 months"), (800 * 86400, "2 years"),
    ],
)
def test_human_duration(seconds, text):
    assert units.human_duration(seconds) == text


def test_ids_and_ellipsis():
    assert units.truncate_id("sha256:" + "ab" * 32) == "abababababab"
    assert units.truncate_id("<missing>") == "<missing>"
    assert units.ellipsis("x" * 50, 45) == "x" * 44 + "…"
    assert units.ellipsis("short", 45) == "short"


def test_tabwriter_like_go():
    # minwidth 10, padding 3: a column is max(10, longest cell + 3) wide.
    text = "REPOSITORY\tTAG\tIMAGE ID\nbusybox\tlatest\tabc\na-very-long-repository\t1\tdef\n"
    assert align(text) == (
        "REPOSITORY" + " " * 15 + "TAG       IMAGE ID\n"
        "busybox" + " " * 18 + "latest    abc\n"
        "a-very-long-repository   1         def\n"
    )


def test_tabwriter_blocks_end_at_lines_without_tabs():
    text = "a\tb\nlong-cell-here\tc\nno tabs\nx\ty\n"
    assert align(text) == "a" + " " * 16 + "b\nlong-cell-here   c\nno tabs\nx         y\n"


def test_tabwriter_version_layout():
    assert align(" Version:\t1\n API version:\t2\n", minwidth=20, padding=1) == (
        " Version:           1\n API version:       2\n"
    )


NOW = 1_700_000_000


def image(**kw):
    base = {"Id": "sha256:" + "0123456789ab" + "f" * 52, "Created": NOW - 7200, "Size": 4261234,
            "RepoTags": ["busybox:latest"], "RepoDigests": [], "SharedSize": -1, "Containers": -1}
    base.update(kw)
    return base


def test_images_default_table():
    rows = formatter.image_rows([image(), image(RepoTags=[], RepoDigests=[], Id="sha256:" + "9" * 64)], now=NOW)
    text = formatter.render("", rows, formatter.IMAGE_TABLE, formatter.IMAGE_HEADERS)
    assert text.splitlines() == [
        "REPOSITORY   TAG       IMAGE ID       CREATED       SIZE",
        "busybox      latest    0123456789ab   2 hours ago   4.26MB",
        "<none>       <none>    999999999999   2 hours ago   4.26MB",
    ]


def test_images_rows_per_tag_and_digests():
    img = image(RepoTags=["a:1", "a:2", "docker.io/library/b:x"], RepoDigests=["a@sha256:" + "1" * 64, "c@sha256:" + "2" * 64])
    plain = [(r.Repository, r.Tag, r.Digest) for r in formatter.image_rows([img], now=NOW)]
    assert plain == [("a", "1", "<none>"), ("a", "2", "<none>"), ("b", "x", "<none>"), ("c", "<none>", "<none>")]
    with_digests = [(r.Repository, r.Tag, r.Digest) for r in formatter.image_rows([img], digests=True, now=NOW)]
    assert with_digests == [
        ("a", "1", "sha256:" + "1" * 64), ("a", "2", "sha256:" + "1" * 64), ("b", "x", "<none>"),
        ("c", "<none>", "sha256:" + "2" * 64),
    ]


def test_images_custom_formats():
    rows = formatter.image_rows([image()], now=NOW)
    assert formatter.render("{{.Repository}}:{{.Tag}}", rows, formatter.IMAGE_TABLE, formatter.IMAGE_HEADERS) == "busybox:latest\n"
    table = formatter.render("table {{.ID}}\\t{{.Size}}", rows, formatter.IMAGE_TABLE, formatter.IMAGE_HEADERS)
    assert table == "IMAGE ID       SIZE\n0123456789ab   4.26MB\n"
    line = formatter.render("json", rows, formatter.IMAGE_TABLE, formatter.IMAGE_HEADERS)
    data = json.loads(line)
    assert data["Repository"] == "busybox" and data["CreatedSince"] == "2 hours ago" and data["Containers"] == "N/A"
    assert sorted(data) == list(data)
    no_trunc = formatter.image_rows([image()], trunc=False, now=NOW)
    assert formatter.render("{{.ID}}", no_trunc, "", {}) == image()["Id"] + "\n"


def test_format_errors_are_docker_worded():
    rows = formatter.image_rows([image()], now=NOW)
    with pytest.raises(formatter.FormatError) as err:
        formatter.render("{{.Foo}}", rows, formatter.IMAGE_TABLE, formatter.IMAGE_HEADERS)
    assert str(err.value).startswith('template parsing error: template: :1:2: executing "" at <.Foo>: can\'t evaluate field Foo')
    with pytest.raises(formatter.FormatError):
        formatter.render("{{.ID", rows, formatter.IMAGE_TABLE, formatter.IMAGE_HEADERS)


def test_history_rows():
    items = [
        {"Id": "sha256:" + "a" * 64, "Created": NOW - 60, "CreatedBy": "/bin/sh -c\t#(nop) " + "x" * 60, "Size": 1234, "Comment": "hi"},
        {"Id": "<missing>", "Created": NOW - 120, "CreatedBy": "", "Size": 0, "Comment": ""},
    ]
    text = formatter.render("", formatter.history_rows(items, now=NOW), formatter.HISTORY_TABLE, formatter.HISTORY_HEADERS)
    lines = text.splitlines()
    assert lines[0].split() == ["IMAGE", "CREATED", "CREATED", "BY", "SIZE", "COMMENT"]
    assert lines[1].startswith("aaaaaaaaaaaa   About a minute ago   /bin/sh -c #(nop) xxx")
    assert "…" in lines[1] and lines[1].rstrip().endswith("1.23kB    hi")
    assert lines[2].startswith("<missing>      2 minutes ago")
    raw = formatter.history_rows(items, human=False, trunc=False, now=NOW)
    assert raw[0].Size == "1234" and raw[0].CreatedSince.startswith("2023-11-14T")
    assert raw[0].CreatedBy == "/bin/sh -c #(nop) " + "x" * 60


def test_simple_table():
    assert formatter.simple_table(["KIND", "NAME"], [["graph", "vfs"]]) == "KIND      NAME\ngraph     vfs\n"
