"""The graph driver conformance suite's first home, kept for drivers that import it from here.

New code imports :mod:`barge.testing.graph_conformance`; the exec and network
suites are :mod:`barge.testing.exec_conformance` and
:mod:`barge.testing.network_conformance`.
"""

from barge.testing.graph_conformance import (
    GraphDriverConformance,
    GraphUnderTest,
    LayerTar,
    NonSeekable,
    base_tar,
    child_tar,
    snapshot,
    user_xattrs_supported,
)

__all__ = [
    "GraphDriverConformance",
    "GraphUnderTest",
    "LayerTar",
    "NonSeekable",
    "base_tar",
    "child_tar",
    "snapshot",
    "user_xattrs_supported",
]
