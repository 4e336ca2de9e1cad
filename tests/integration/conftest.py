"""``box``: one daemon with busybox per test module (see ``helpers.busybox_daemon``).

Each test makes its own containers and removes them; the daemon is shared
because making busybox costs seconds.
"""

from __future__ import annotations

import pytest

from tests.integration.helpers import busybox_daemon


@pytest.fixture(scope="module")
def box(request):
    stem = request.module.__name__.rpartition(".")[2].removeprefix("test_")
    with busybox_daemon(f"barge-{stem[:8]}-") as d:
        yield d
