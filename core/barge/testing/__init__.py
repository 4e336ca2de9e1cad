"""Tools for testing barge and its drivers.

* :mod:`barge.testing.fake` - the ``fake`` graph driver (a real entry point)
  that core's unit tests run against.
* :mod:`barge.testing.conformance` - the graph driver conformance suite;
  a driver package runs it with ``GraphDriverConformance`` (see
  ``docs/plugins.md``).
"""
