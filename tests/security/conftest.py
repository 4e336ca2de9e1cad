"""The CVE regression suite's fixtures.

The shared daemon fixtures come from ``tests/conftest.py`` (imported here so
this package reads on its own); ``box`` is one daemon with busybox per test
module, as in ``tests/integration``; ``probe`` is the attacker's static
binary (``probe.c``), compiled once per session; ``reference`` is dockerd,
started when a test compares with it.
"""

from __future__ import annotations

import pytest

from tests.conftest import daemon, daemon_factory, shared_daemon  # noqa: F401 - shared fixtures
from tests.integration.helpers import busybox_daemon
from tests.reference_dockerd import reference_dockerd
from tests.security.helpers import compile_probe


@pytest.fixture(scope="module")
def box(request):
    stem = request.module.__name__.rpartition(".")[2].removeprefix("test_")
    with busybox_daemon(f"barge-s{stem[:7]}-") as d:
        yield d


@pytest.fixture(scope="session")
def reference():
    """Debian's dockerd, for the tests that compare with it (skipped, saying why, without it)."""
    with reference_dockerd() as ref:
        yield ref


@pytest.fixture(scope="session")
def probe(tmp_path_factory) -> str:
    """Path of the compiled probe (skips, saying why, without a C compiler or a static libc)."""
    return compile_probe(tmp_path_factory.mktemp("probe"))
