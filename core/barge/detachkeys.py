"""Detach keys as moby/term's ``ToBytes`` reads them, for the CLI and the daemon alike.

``ctrl-p,ctrl-q`` -> ``b"\\x10\\x11"``: a one-byte key stands for itself,
``ctrl-@``..``ctrl-z``, ``ctrl-[``, ``ctrl-\\``, ``ctrl-]``, ``ctrl-^``,
``ctrl-_`` and ``DEL`` name a control byte. Nothing but :mod:`barge.errors`,
so :mod:`barge.client` and :mod:`barge.contracts` share it; each words the
error its own way (the CLI passes moby/term's text on, the daemon answers
``Invalid detach keys (...) provided``).
"""

from __future__ import annotations

from barge.errors import InvalidParameter

_NAMES = ["ctrl-@"] + [f"ctrl-{chr(c)}" for c in range(ord("a"), ord("z") + 1)] + [
    "ctrl-[", "ctrl-\\", "ctrl-]", "ctrl-^", "ctrl-_"]


def to_bytes(spec: str) -> bytes:
    """moby/term ``ToBytes``; InvalidParameter ``Unknown character: '<key>'`` for a key it cannot read."""
    codes = bytearray()
    for key in spec.split(","):
        raw = key.encode(errors="surrogatepass")  # a lone surrogate (JSON's "\ud800") is no key, not a 500
        if len(raw) == 1:  # Go counts bytes: a non-ASCII character is no key
            codes += raw
        elif key in _NAMES:
            codes.append(_NAMES.index(key))
        elif key == "DEL":
            codes.append(127)
        else:
            raise InvalidParameter(f"Unknown character: '{key}'")
    return bytes(codes)
