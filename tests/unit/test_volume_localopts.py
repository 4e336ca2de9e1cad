"""The local driver's options as moby's validateOpts checks them, and the mount data they give."""

from __future__ import annotations

import pytest

from barge.errors import InvalidParameter
from barge.volumes import localopts


@pytest.mark.parametrize("opts,text", [
    ({"foo": "1", "type": "tmpfs"}, 'create v: invalid option: "foo"'),
    ({"type": "tmpfs"}, 'create v: missing required option: "device"'),
    ({"device": "/dev/loop0"}, 'create v: missing required option: "type"'),
    ({"o": "size=1m"}, 'create v: missing required option: "device"'),
    ({"size": "1m"}, "create v: quota size requested but no quota support"),
    ({"size": "lots"}, "create v: invalid size: 'lots'"),
])
def test_refused_with_dockerds_texts(opts, text):
    with pytest.raises(InvalidParameter) as err:
        localopts.validate("v", opts)
    assert str(err.value) == text


def test_accepted():
    for opts in ({"type": "tmpfs", "device": "tmpfs", "o": "size=100m,uid=1000"},
                 {"type": "none", "device": "/srv/data", "o": "bind"},
                 {"type": "btrfs", "device": "/dev/loop5"}, {"size": "0"}, {}):
        localopts.validate("v", opts)


def test_nfs_addr_given_as_an_address_is_kept():
    assert localopts._data({"type": "nfs", "o": "addr=127.0.0.1,rw"}) == "addr=127.0.0.1,rw"
    assert localopts._data({"type": "tmpfs", "o": "size=1m,,uid=1"}) == "size=1m,uid=1"
