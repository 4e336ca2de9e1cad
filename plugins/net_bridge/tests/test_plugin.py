"""The ``bridge`` entry point loads as core loads it, and probing touches nothing on the host."""

from __future__ import annotations

import os
import secrets

import pytest

from barge.engine.plugins import load_driver_plugin, make_plugin_manager, register_driver
from barge.errors import DriverNotSupported, InvalidParameter


def test_loads_through_the_entry_point_and_touches_nothing(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("the bridge driver needs root")
    from barge_net_bridge.nft import Nft

    table = f"barge_test_{secrets.token_hex(3)}"
    plugin = load_driver_plugin("network", "bridge", tmp_path / "bridge", {"table": table})
    pm = make_plugin_manager(load_extensions=False)
    register_driver(pm, plugin, "network", "bridge")
    assert plugin.driver.name == "bridge"
    status = dict(pm.hook.barge_network_status())
    assert status["Firewall Backend"] == "nftables" and status["Firewall Table"] == f"inet {table}"
    assert f"table inet {table}" not in Nft().run("list tables")


def test_unknown_or_bad_options_are_refused(tmp_path):
    from barge_net_bridge.driver import BridgeDriver

    for options in ({"tabel": "x"}, {"table": "no-dashes"}, {"ip_forward": "maybe"}, {"veth_prefix": "way-too-long"}):
        with pytest.raises((InvalidParameter, DriverNotSupported)):
            BridgeDriver(tmp_path, options)
