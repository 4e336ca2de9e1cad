"""docs/hostconfig.md has one row per HostConfig field, and agrees with the code's lists."""

from __future__ import annotations

import re

import pytest

from barge.containers import limits
from barge.containers.request import HOST_CONFIG_FIELDS, HOST_DEFAULTS, normalize_create
from barge.errors import InvalidParameter
from tests.hostconfig_doc import DOC, TREATMENTS, rows

RESOURCES = HOST_CONFIG_FIELDS[HOST_CONFIG_FIELDS.index("CpuShares"):HOST_CONFIG_FIELDS.index("IOMaximumBandwidth") + 1]


def test_every_hostconfig_field_has_exactly_one_row_in_moby_s_order():
    fields = [r.field for r in rows()]
    assert len(fields) == len(set(fields)), "a field has two rows"
    missing = [f for f in HOST_CONFIG_FIELDS if f not in fields]
    extra = [f for f in fields if f not in HOST_CONFIG_FIELDS]
    assert not missing, f"docs/hostconfig.md has no row for: {', '.join(missing)}"
    assert not extra, f"docs/hostconfig.md has rows for fields HostConfig lacks: {', '.join(extra)}"
    assert fields == list(HOST_CONFIG_FIELDS)


def test_each_row_names_known_treatments_and_quotes_its_messages():
    for row in rows():
        assert row.treatments and row.treatments <= TREATMENTS, row
        if row.treatments & {"refused", "warned"}:
            assert re.search(r'"[^"]+"', row.how), f"{row.field}: a refused or warned row quotes the message"


def test_what_inspect_shows_is_in_the_table():
    """A key normalisation writes into the record (and so into inspect) needs a row."""
    host = normalize_create({"Image": "busybox", "Cmd": ["true"]}, {}, exists=lambda p: True).host_config
    assert set(HOST_DEFAULTS) <= set(HOST_CONFIG_FIELDS)
    assert set(host) <= set(HOST_CONFIG_FIELDS), set(host) - set(HOST_CONFIG_FIELDS)


def test_device_requests_are_refused_with_dockerd_s_words_the_row_quotes():
    """--gpus: no device driver here; the row quotes what create answers."""
    row = {r.field: r for r in rows()}["DeviceRequests"]
    body = {"Image": "busybox", "Cmd": ["true"], "HostConfig": {"DeviceRequests": [{"Count": -1, "Capabilities": [["gpu"]]}]}}
    with pytest.raises(InvalidParameter) as err:
        normalize_create(body, {}, exists=lambda p: True)
    assert row.treatments == {"refused"} and row.quotes(str(err.value))


def test_update_lists_every_resource_once_and_the_doc_says_which():
    assert set(limits.UPDATABLE) | set(limits.NOT_UPDATABLE) == set(RESOURCES)
    assert not set(limits.UPDATABLE) & set(limits.NOT_UPDATABLE)
    update = DOC.read_text().partition("## Update")[2]
    for key in (*limits.UPDATABLE, *limits.NOT_UPDATABLE):
        assert f"`{key}`" in update, f"the Update section does not say what update does with {key}"
