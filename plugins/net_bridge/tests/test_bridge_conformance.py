"""bridge runs barge's network driver conformance suite against itself."""

from barge.testing.network_conformance import NetworkDriverConformance


class TestBridge(NetworkDriverConformance):
    driver_name = "bridge"

    def driver_options(self, tag):
        # its own nftables table, recognisable veths, and the host's ip_forward left alone
        return {"table": f"barge_test_{tag}", "veth_prefix": "bt", "ip_forward": False}

    def release_driver(self, driver):
        driver.firewall.remove()
