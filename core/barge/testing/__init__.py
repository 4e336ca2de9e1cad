"""Tools for testing barge and its drivers.

* :mod:`barge.testing.fake` - the ``fake`` graph driver and
  :mod:`barge.testing.fake_network` the ``fake`` network driver (real entry
  points) that core's unit tests run against.
* Conformance suites a driver package runs against itself (see
  ``docs/plugins.md``): :mod:`barge.testing.graph_conformance`
  (``GraphDriverConformance``; also importable from its first home,
  :mod:`barge.testing.conformance`), :mod:`barge.testing.exec_conformance`
  (``ExecDriverConformance``) and :mod:`barge.testing.network_conformance`
  (``NetworkDriverConformance``).
* :mod:`barge.testing.rootfs` - a busybox root file system for exec tests.
* :mod:`barge.testing.wait` - waiting for a condition instead of sleeping.
* :mod:`barge.testing.plugin` - the pytest plugin with the fixtures drivers share.
"""
