"""Registration of the ``native`` exec driver (entry point ``barge.exec_drivers``)."""

from barge.execdriver.plugin import ExecDriverPlugin
from barge_exec_native.driver import NativeDriver


class NativePlugin(ExecDriverPlugin):
    driver_class = NativeDriver
