"""Signal names and numbers as ``docker kill -s`` and ``--stop-signal`` accept them (moby ``ParseSignal``)."""

from __future__ import annotations

import signal as _signal

from barge.errors import InvalidParameter

_BY_NAME = {s.name[3:]: int(s) for s in _signal.Signals if s.name.startswith("SIG") and not s.name.startswith("SIG_")}
_BY_NAME.update({"RTMIN": _signal.SIGRTMIN, "RTMAX": _signal.SIGRTMAX})
for _n in range(1, int(_signal.SIGRTMAX) - int(_signal.SIGRTMIN)):
    _BY_NAME[f"RTMIN+{_n}"] = int(_signal.SIGRTMIN) + _n
    _BY_NAME[f"RTMAX-{_n}"] = int(_signal.SIGRTMAX) - _n


def parse_signal(raw: str | int) -> int:
    """``TERM``, ``SIGTERM``, ``sigterm`` or ``15`` -> 15; anything else is Docker's 400."""
    text = str(raw).strip()
    if text.isdigit():
        number = int(text)
        if number == 0 or number > int(_signal.SIGRTMAX):
            raise InvalidParameter(f"Invalid signal: {raw}")
        return number
    name = text.upper()
    if name.startswith("SIG"):
        name = name[3:]
    if name not in _BY_NAME:
        raise InvalidParameter(f"Invalid signal: {raw}")
    return int(_BY_NAME[name])
