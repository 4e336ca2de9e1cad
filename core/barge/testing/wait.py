"""Waiting in tests for something to happen, instead of sleeping and hoping.

A fixed ``time.sleep`` is too short on a busy machine (the test races) and
too long everywhere else (the suite crawls). :func:`wait_for` polls a
condition until it holds and, when it never does, fails naming what did not
happen and the last thing the condition saw::

    wait_for(lambda: inspect(cid)["State"]["Status"] == "exited", what="the container to exit")
    pid = wait_for(lambda: read_pid(path), ignore=(FileNotFoundError,), what="the monitor's pid file")

A sleep that is itself the subject of a test (letting time pass to show that
something did *not* happen) is not a wait, and stays a commented sleep.
"""

from __future__ import annotations

import time
from typing import Callable, TypeVar

T = TypeVar("T")


class WaitTimeout(AssertionError):
    """The condition did not hold in time (an AssertionError, so pytest reports it as a failure)."""


def wait_for(predicate: Callable[[], T], timeout: float = 10.0, interval: float = 0.05, what: str | None = None,
             ignore: tuple[type[BaseException], ...] = ()) -> T:
    """Call ``predicate`` every ``interval`` seconds until it returns a true value; return that value.

    Exceptions of the ``ignore`` types count as "not yet" (a socket that does
    not listen yet). After ``timeout`` seconds, raise :class:`WaitTimeout`
    naming ``what`` and the predicate's last answer. The predicate is always
    called at least once, and once more at the deadline.
    """
    end = time.monotonic() + timeout
    while True:
        last_try = time.monotonic() >= end
        try:
            value = predicate()
        except ignore as exc:
            last: object = exc
        else:
            if value:
                return value
            last = value
        if last_try:
            raise WaitTimeout(f"timed out after {timeout:g}s waiting for {what or _name(predicate)} (last: {last!r})")
        time.sleep(max(0.0, min(interval, end - time.monotonic())))


def _name(predicate: Callable) -> str:
    name = getattr(predicate, "__qualname__", None) or repr(predicate)
    return "a condition" if name.endswith("<lambda>") else name


__all__ = ["WaitTimeout", "wait_for"]
