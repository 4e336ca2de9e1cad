"""``barge.testing.wait.wait_for``: the one way tests wait for something to happen."""

from __future__ import annotations

import time

import pytest

from barge.testing.wait import WaitTimeout, wait_for


def test_returns_the_first_true_answer():
    answers = iter([None, 0, "", "pid 42"])
    assert wait_for(lambda: next(answers), timeout=5, interval=0) == "pid 42"


def test_names_what_did_not_happen_and_the_last_answer():
    started = time.monotonic()
    with pytest.raises(WaitTimeout, match=r"^timed out after 0.2s waiting for the exit \(last: \[\]\)$") as info:
        wait_for(lambda: [], 0.2, what="the exit")
    assert isinstance(info.value, AssertionError)  # pytest reports it as a failure, not an error
    assert 0.2 <= time.monotonic() - started < 2


def test_ignored_exceptions_mean_not_yet_and_others_propagate():
    calls = []

    def connect():
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionRefusedError("not listening yet")
        return "connected"

    assert wait_for(connect, timeout=5, interval=0, ignore=(OSError,)) == "connected"
    calls.clear()
    with pytest.raises(WaitTimeout, match="ConnectionRefusedError"):  # still refusing at the deadline
        wait_for(connect, timeout=0, ignore=(OSError,))
    with pytest.raises(ZeroDivisionError):
        wait_for(lambda: 1 / 0, timeout=5, ignore=(OSError,))


def test_asks_once_more_at_the_deadline_and_at_least_once():
    calls = []
    with pytest.raises(WaitTimeout, match="waiting for a condition"):
        wait_for(lambda: calls.append(time.monotonic()), timeout=0)
    assert len(calls) == 1
    calls.clear()
    with pytest.raises(WaitTimeout):
        wait_for(lambda: calls.append(time.monotonic()), timeout=0.3, interval=10)
    assert len(calls) == 2 and calls[1] - calls[0] >= 0.3  # the long interval is cut at the deadline
