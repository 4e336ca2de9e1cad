"""Dockerfile instructions applied to an image config (``docker import --change``).

Docker accepts exactly these at import and commit: CMD, ENTRYPOINT, ENV,
EXPOSE, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR; JSON (exec) form
or shell form where Dockerfiles allow both.
"""

from __future__ import annotations

import json
import posixpath
import re
import shlex
from typing import Any

from barge.errors import InvalidParameter

ALLOWED = ("CMD", "ENTRYPOINT", "ENV", "EXPOSE", "LABEL", "ONBUILD", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR")

_PORT_RE = re.compile(r"^(\d+)(?:-(\d+))?(?:/(tcp|udp|sctp))?$", re.IGNORECASE)


def empty_container_config() -> dict[str, Any]:
    """The ``container.Config`` Docker writes into an imported image's config."""
    return {
        "Hostname": "",
        "Domainname": "",
        "User": "",
        "AttachStdin": False,
        "AttachStdout": False,
        "AttachStderr": False,
        "Tty": False,
        "OpenStdin": False,
        "StdinOnce": False,
        "Env": None,
        "Cmd": None,
        "Image": "",
        "Volumes": None,
        "WorkingDir": "",
        "Entrypoint": None,
        "OnBuild": None,
        "Labels": None,
    }


def _json_list(rest: str) -> list[str] | None:
    if not rest.startswith("["):
        return None
    try:
        value = json.loads(rest)
    except ValueError:
        return None
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    return None


def _command(rest: str) -> list[str]:
    exec_form = _json_list(rest)
    if exec_form is not None:
        return exec_form
    return ["/bin/sh", "-c", rest]


def _pairs(instruction: str, rest: str) -> list[tuple[str, str]]:
    """``KEY=value KEY2="v 2"`` or the legacy ``KEY value`` form."""
    if not rest:
        raise InvalidParameter(f"{instruction} requires at least one argument")
    try:
        words = shlex.split(rest, posix=True)
    except ValueError as exc:
        raise InvalidParameter(f"{instruction}: {exc}") from None
    if words and "=" not in words[0]:
        key, _, value = rest.partition(" ") if " " in rest else rest.partition("\t")
        value = value.strip()
        if not value:
            raise InvalidParameter(f"{instruction} must have two arguments")
        return [(key, value)]
    out = []
    for word in words:
        key, sep, value = word.partition("=")
        if not sep or not key:
            raise InvalidParameter(f"{instruction} names can not be blank" if not key else f"Syntax error - can't find = in {word!r}. Must be of the form: name=value")
        out.append((key, value))
    return out


def _ports(rest: str) -> list[str]:
    out = []
    for word in rest.split():
        m = _PORT_RE.match(word)
        if not m:
            raise InvalidParameter(f"invalid containerPort: {word}")
        start, end, proto = int(m.group(1)), int(m.group(2) or m.group(1)), (m.group(3) or "tcp").lower()
        if end < start:
            raise InvalidParameter(f"invalid range specified for port: {word}")
        out.extend(f"{p}/{proto}" for p in range(start, end + 1))
    return out


def apply_changes(config: dict[str, Any], changes: list[str]) -> dict[str, Any]:
    """Apply each instruction in order to ``config`` (a container config dict)."""
    for line in changes:
        line = line.strip()
        if not line:
            continue
        instruction, _, rest = line.partition(" ")
        if "\t" in instruction:
            instruction, _, more = instruction.partition("\t")
            rest = more + " " + rest
        op = instruction.upper()
        rest = rest.strip()
        if op not in ALLOWED:
            raise InvalidParameter(f"{instruction.lower()} is not a valid change command")
        if op == "CMD":
            config["Cmd"] = _command(rest)
        elif op == "ENTRYPOINT":
            config["Entrypoint"] = _command(rest)
        elif op == "ENV":
            env = list(config.get("Env") or [])
            for key, value in _pairs(op, rest):
                env = [e for e in env if e.split("=", 1)[0] != key]
                env.append(f"{key}={value}")
            config["Env"] = env
        elif op == "LABEL":
            labels = dict(config.get("Labels") or {})
            labels.update(_pairs(op, rest))
            config["Labels"] = labels
        elif op == "EXPOSE":
            ports = dict(config.get("ExposedPorts") or {})
            for port in _ports(rest):
                ports[port] = {}
            config["ExposedPorts"] = ports
        elif op == "VOLUME":
            volumes = dict(config.get("Volumes") or {})
            paths = _json_list(rest)
            for path in paths if paths is not None else rest.split():
                if not path:
                    raise InvalidParameter("VOLUME specified can not be an empty string")
                volumes[path] = {}
            config["Volumes"] = volumes
        elif op == "USER":
            if not rest:
                raise InvalidParameter("USER requires exactly one argument")
            config["User"] = rest
        elif op == "WORKDIR":
            if not rest:
                raise InvalidParameter("WORKDIR requires exactly one argument")
            config["WorkingDir"] = posixpath.join("/", config.get("WorkingDir") or "/", rest)
        elif op == "STOPSIGNAL":
            if not rest:
                raise InvalidParameter("STOPSIGNAL requires exactly one argument")
            config["StopSignal"] = rest
        elif op == "ONBUILD":
            trigger, _, trigger_rest = rest.partition(" ")
            if trigger.upper() in ("ONBUILD", "FROM", "MAINTAINER"):
                raise InvalidParameter(f"{trigger.upper()} isn't allowed as an ONBUILD trigger")
            config["OnBuild"] = list(config.get("OnBuild") or []) + [f"{trigger.upper()} {trigger_rest}".strip()]
    return config
