"""Seccomp profiles in Docker's JSON format -> one container's :class:`Seccomp`.

A profile (Docker's default, the daemon's ``seccomp_profile``, or the JSON a
client sends as ``SecurityOpt: ["seccomp=<json>"]`` — the docker CLI reads
``--security-opt seccomp=file.json`` and sends the file's content) is
checked once, at create, with moby's messages ("Decoding seccomp profile
failed: ..."), so a container that cannot start is refused then. At start it
is resolved as moby's ``setupSeccomp`` does: rules are kept or dropped by
the container's capabilities (``includes``/``excludes`` ``caps``), the
machine's architecture (``arches``, ``archMap``) and the kernel's version
(``minKernel``). The result is plain data the exec driver compiles.

Which profile a container gets (moby's ``WithSeccomp``): ``unconfined``
none; ``--privileged`` none unless it names a profile; a profile of its
own; else the daemon's (``builtin`` = Docker's default).
"""

from __future__ import annotations

import json
import os
from typing import Any, Iterable

from barge.errors import InvalidParameter
from barge.execdriver import Seccomp, SeccompArg, SeccompRule
from barge.security.default_seccomp import default_profile

UNCONFINED = "unconfined"
BUILTIN = "builtin"

ACTIONS = frozenset({
    "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_TRAP", "SCMP_ACT_ERRNO",
    "SCMP_ACT_TRACE", "SCMP_ACT_ALLOW", "SCMP_ACT_LOG",
})
OPERATORS = frozenset({
    "SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT",
    "SCMP_CMP_MASKED_EQ",
})
FLAGS = frozenset({
    "SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
})
#: ``uname -m`` -> (Go's name, as profiles' ``arches`` write it; libseccomp's native architecture).
MACHINES = {
    "x86_64": ("amd64", "SCMP_ARCH_X86_64"), "aarch64": ("arm64", "SCMP_ARCH_AARCH64"),
    "i686": ("386", "SCMP_ARCH_X86"), "i386": ("386", "SCMP_ARCH_X86"), "armv7l": ("arm", "SCMP_ARCH_ARM"),
    "armv6l": ("arm", "SCMP_ARCH_ARM"), "ppc64le": ("ppc64le", "SCMP_ARCH_PPC64LE"),
    "s390x": ("s390x", "SCMP_ARCH_S390X"), "riscv64": ("riscv64", "SCMP_ARCH_RISCV64"),
    "mips64": ("mips64", "SCMP_ARCH_MIPS64"), "loongarch64": ("loong64", "SCMP_ARCH_LOONGARCH64"),
}
_MAX_ARGS = 6


class ProfileError(InvalidParameter):
    """A profile that cannot be applied; the message is moby's."""

    def __init__(self, reason: str):
        super().__init__(f"Decoding seccomp profile failed: {reason}")


def load_profile(text: str) -> dict[str, Any]:
    """Parse and check a profile's JSON (raises :class:`ProfileError`)."""
    try:
        profile = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ProfileError(str(exc)) from None
    check_profile(profile)
    return profile


def check_profile(profile: Any) -> None:
    """Types and names of a profile's fields, each error naming the field."""
    if not isinstance(profile, dict):
        raise ProfileError("a profile is a JSON object")
    _check_action(profile.get("defaultAction") or "SCMP_ACT_ALLOW", "defaultAction")
    _check_uint(profile.get("defaultErrnoRet"), "defaultErrnoRet", optional=True)
    if profile.get("listenerPath"):
        raise ProfileError("listenerPath: seccomp agents (SCMP_ACT_NOTIFY) are not supported by barge")
    _check_names(profile.get("architectures"), "architectures")
    arch_map = profile.get("archMap")
    if profile.get("architectures") and arch_map:
        raise ProfileError("both 'architectures' and 'archMap' are specified in the seccomp profile, "
                           "use either 'architectures' or 'archMap'")
    for i, entry in enumerate(_list(arch_map, "archMap")):
        if not isinstance(entry, dict) or not isinstance(entry.get("architecture"), str):
            raise ProfileError(f"archMap[{i}]: an object with an architecture name")
        _check_names(entry.get("subArchitectures"), f"archMap[{i}].subArchitectures")
    for flag in _check_names(profile.get("flags"), "flags"):
        if flag not in FLAGS:
            raise ProfileError(f"flags: unknown flag {flag!r}")
    for i, rule in enumerate(_list(profile.get("syscalls"), "syscalls")):
        _check_rule(rule, f"syscalls[{i}]")


def _list(value: Any, where: str) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ProfileError(f"{where}: a list")
    return value


def _check_names(value: Any, where: str) -> list[str]:
    items = _list(value, where)
    if not all(isinstance(v, str) for v in items):
        raise ProfileError(f"{where}: a list of strings")
    return items


def _check_uint(value: Any, where: str, optional: bool = False) -> None:
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 1 << 64:
        raise ProfileError(f"{where}: an unsigned integer")


def _check_action(action: Any, where: str) -> None:
    if action == "SCMP_ACT_NOTIFY":
        raise ProfileError(f"{where}: SCMP_ACT_NOTIFY needs a seccomp agent, which barge does not support")
    if action not in ACTIONS:
        raise ProfileError(f"{where}: unknown action {action!r}")


def _check_rule(rule: Any, where: str) -> None:
    if not isinstance(rule, dict):
        raise ProfileError(f"{where}: an object")
    names = _check_names(rule.get("names"), f"{where}.names")
    if rule.get("name") is not None:
        if not isinstance(rule["name"], str):
            raise ProfileError(f"{where}.name: a string")
        if names:
            raise ProfileError("both 'name' and 'names' are specified in the seccomp profile, use either "
                               "'name' or 'names'")
    _check_action(rule.get("action"), f"{where}.action")
    _check_uint(rule.get("errnoRet"), f"{where}.errnoRet", optional=True)
    for j, arg in enumerate(_list(rule.get("args"), f"{where}.args")):
        at = f"{where}.args[{j}]"
        if not isinstance(arg, dict):
            raise ProfileError(f"{at}: an object")
        index = arg.get("index")
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < _MAX_ARGS:
            raise ProfileError(f"{at}.index: 0 to {_MAX_ARGS - 1}")
        _check_uint(arg.get("value", 0), f"{at}.value")
        _check_uint(arg.get("valueTwo", 0), f"{at}.valueTwo")
        if arg.get("op") not in OPERATORS:
            raise ProfileError(f"{at}.op: unknown operator {arg.get('op')!r}")
    for key in ("includes", "excludes"):
        filt = rule.get(key)
        if filt is None:
            continue
        if not isinstance(filt, dict):
            raise ProfileError(f"{where}.{key}: an object")
        _check_names(filt.get("caps"), f"{where}.{key}.caps")
        _check_names(filt.get("arches"), f"{where}.{key}.arches")
        if filt.get("minKernel") is not None:
            _kernel_version(filt["minKernel"], f"{where}.{key}.minKernel")


def _kernel_version(text: Any, where: str = "kernel") -> tuple[int, int]:
    if not isinstance(text, str):
        raise ProfileError(f"{where}: a version like \"4.8\"")
    parts = text.split("-", 1)[0].split(".")
    try:
        return int(parts[0]), int(parts[1]) if len(parts) > 1 else 0
    except ValueError:
        raise ProfileError(f"{where}: invalid kernel version {text!r}") from None


def resolve(profile: dict[str, Any], capabilities: Iterable[str], machine: str | None = None,
            kernel: str | None = None) -> Seccomp | None:
    """The filter a container with ``capabilities`` gets from a checked profile (moby's ``setupSeccomp``).

    ``machine`` and ``kernel`` default to this host's ``uname``. A profile
    with no default action and no rules means no filter.
    """
    if not profile.get("defaultAction") and not profile.get("syscalls"):
        return None
    uname = os.uname()
    go_arch, native = MACHINES.get(machine or uname.machine, (machine or uname.machine, ""))
    running = _kernel_version(kernel or uname.release)
    caps = set(capabilities)
    arches = list(profile.get("architectures") or [])
    for entry in profile.get("archMap") or []:
        if entry["architecture"] == native:
            arches += [entry["architecture"], *(entry.get("subArchitectures") or [])]
    rules = []
    for rule in profile.get("syscalls") or []:
        if _applies(rule, go_arch, caps, running):
            rules.append(SeccompRule(
                names=list(rule.get("names") or [rule["name"]]),
                action=rule["action"],
                errno_ret=rule.get("errnoRet"),
                args=[SeccompArg(a["index"], a.get("value", 0), a["op"], a.get("valueTwo", 0))
                      for a in rule.get("args") or []],
            ))
    return Seccomp(default_action=profile.get("defaultAction") or "SCMP_ACT_ALLOW",
                   default_errno_ret=profile.get("defaultErrnoRet"), architectures=arches,
                   flags=list(profile.get("flags") or []), syscalls=rules)


def _applies(rule: dict[str, Any], arch: str, caps: set[str], kernel: tuple[int, int]) -> bool:
    excludes, includes = rule.get("excludes") or {}, rule.get("includes") or {}
    if arch in (excludes.get("arches") or []) or caps & set(excludes.get("caps") or []):
        return False
    if excludes.get("minKernel") and kernel >= _kernel_version(excludes["minKernel"]):
        return False
    if includes.get("arches") and arch not in includes["arches"]:
        return False
    if not set(includes.get("caps") or []) <= caps:
        return False
    return not (includes.get("minKernel") and kernel < _kernel_version(includes["minKernel"]))


def daemon_profile(setting: str | None) -> dict[str, Any] | None:
    """The daemon's ``seccomp_profile`` setting -> its profile (None: unconfined).

    ``builtin`` or unset: Docker's default; ``unconfined``: none; anything
    else: a path to a profile in Docker's format, read once at start.
    """
    if not setting or setting == BUILTIN:
        return default_profile()
    if setting == UNCONFINED:
        return None
    try:
        with open(setting) as fh:
            text = fh.read()
    except OSError as exc:
        raise InvalidParameter(f"opening seccomp profile ({setting}) failed: {exc.strerror}") from None
    return load_profile(text)


def container_filter(requested: str | None, privileged: bool, capabilities: Iterable[str],
                     daemon: dict[str, Any] | None) -> Seccomp | None:
    """What one container gets (moby's ``WithSeccomp``); ``requested`` is its
    ``seccomp=`` value (``unconfined``, ``builtin`` or a profile's JSON)."""
    if requested == UNCONFINED:
        return None
    if requested == BUILTIN:
        return resolve(default_profile(), capabilities)
    if requested:
        return resolve(load_profile(requested), capabilities)
    if privileged or daemon is None:
        return None
    return resolve(daemon, capabilities)
