"""go-units' ``HumanDuration``, shared by the daemon and the CLI.

The daemon needs it for ``ps``'s Status ("Up 3 seconds"), the client for
CREATED columns ("2 hours ago"); it lives here, with nothing but builtins,
so that the CLI imports no server code to get it.
"""

from __future__ import annotations


def human_duration(seconds: float) -> str:
    """go-units ``HumanDuration``: ``2 hours``, ``About a minute``.

    Hours round half up (``int(h + 0.5)``), as Go does.
    """
    s = int(seconds)
    if s < 1:
        return "Less than a second"
    if s == 1:
        return "1 second"
    if s < 60:
        return f"{s} seconds"
    minutes = int(seconds / 60)
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = int(seconds / 3600 + 0.5)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{int(seconds / 3600) // 24 // 365} years"
