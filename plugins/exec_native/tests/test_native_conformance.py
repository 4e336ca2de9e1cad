"""native runs barge's exec driver conformance suite against itself."""

from barge.testing.exec_conformance import ExecDriverConformance


class TestNative(ExecDriverConformance):
    driver_name = "native"

    def release_driver(self, driver):
        driver.close()  # ends the monitor spawner; monitors end with their containers
