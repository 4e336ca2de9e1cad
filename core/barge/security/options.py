"""``HostConfig.SecurityOpt`` as dockerd reads it on a kernel without AppArmor or SELinux.

moby's ``parseSecurityOpt``: ``no-new-privileges`` (alone, or ``=true`` /
``=false``), ``seccomp=<unconfined|builtin|profile JSON>``, ``apparmor=<profile>``
and ``label=<...>`` (``label:...`` with the old colon too). On this host
there is no AppArmor and no SELinux, so dockerd accepts ``apparmor=`` and
``label=`` and has nothing to apply them to; barge does the same. Anything
else is refused at create with dockerd's message. ``systempaths=unconfined``
is the docker CLI's: it sends empty ``MaskedPaths`` and ``ReadonlyPaths``
instead; barge also takes it from clients that pass it through (the SDK).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from barge.errors import InvalidParameter
from barge.security.seccomp import BUILTIN, UNCONFINED, load_profile

_TRUE = {"1", "t", "T", "true", "TRUE", "True"}
_FALSE = {"0", "f", "F", "false", "FALSE", "False"}


@dataclass
class SecurityOptions:
    no_new_privileges: bool = False
    #: ``unconfined``, ``builtin``, a profile's JSON, or None (the daemon's).
    seccomp: str | None = None
    apparmor: str | None = None
    labels: list[str] = field(default_factory=list)
    #: ``systempaths=unconfined``: no masked or read-only /proc and /sys paths.
    unmasked: bool = False


def parse_security_opt(opts: list[str] | None) -> SecurityOptions:
    """Check ``SecurityOpt`` (400 with dockerd's message) and say what it asks for."""
    out = SecurityOptions()
    for opt in opts or []:
        if opt == "no-new-privileges":
            out.no_new_privileges = True
            continue
        if opt == "disable":
            out.labels.append("disable")
            continue
        sep = "=" if "=" in opt else ":" if ":" in opt else ""
        if not sep:
            raise InvalidParameter(f'invalid --security-opt 1: "{opt}"')
        key, _, value = opt.partition(sep)
        if key == "label":
            out.labels.append(value)
        elif key == "apparmor":
            out.apparmor = value
        elif key == "seccomp":
            if value not in (UNCONFINED, BUILTIN):
                load_profile(value)  # refused now rather than at start
            out.seccomp = value
        elif key == "no-new-privileges" and value in _TRUE | _FALSE:
            out.no_new_privileges = value in _TRUE
        elif key == "systempaths" and value == "unconfined":
            out.unmasked = True
        else:
            raise InvalidParameter(f'invalid --security-opt 2: "{opt}"')
    return out
