"""The ``tag`` log opt (a Go template over the container's facts) and the ``labels``/``env`` attributes.

Only field actions (``{{.ID}}``, ``{{ .Name }}``) are understood: what
dockerd's documentation describes; any other action is refused at start
with a template error, as dockerd refuses an unknown field.
"""

from __future__ import annotations

import re

from barge.logdriver.base import LogDriverError, LogInfo

#: syslog's (and dockerd's) default tag.
DEFAULT_TEMPLATE = "{{.ID}}"

_ACTION = re.compile(r"\{\{(-?\s*)(.*?)(\s*-?)\}\}", re.S)


def _fields(info: LogInfo) -> dict[str, str]:
    return {
        "ID": info.container_id[:12],
        "FullID": info.container_id,
        "Name": info.container_name.removeprefix("/"),
        "ImageID": info.image_id[:12],
        "ImageFullID": info.image_id,
        "ImageName": info.image_name,
        "DaemonName": info.daemon_name,
        "Command": " ".join(info.command),
        "Hostname": info.hostname,
    }


def render_tag(info: LogInfo) -> str:
    """loggerutils' ``ParseLogTag``: the ``tag`` opt (else :data:`DEFAULT_TEMPLATE`) executed over ``info``."""
    template = info.config.get("tag") or DEFAULT_TEMPLATE
    fields = _fields(info)
    out, pos = [], 0
    for m in _ACTION.finditer(template):
        out.append(template[pos:m.start()])
        body = m.group(2)
        line = template.count("\n", 0, m.start()) + 1
        col = m.start(2) - (template.rfind("\n", 0, m.start()) + 1)
        if not re.fullmatch(r"\.[A-Za-z_][A-Za-z0-9_]*", body):
            raise LogDriverError(f"template: log-tag:{line}: unsupported action {{{{{body}}}}}")
        name = body[1:]
        if name not in fields:
            raise LogDriverError(f'template: log-tag:{line}:{col}: executing "log-tag" at <{body}>: '
                                 f"can't evaluate field {name} in type *logger.Info")
        out.append(fields[name])
        pos = m.end()
    rest = template[pos:]
    if "{{" in rest:
        line = template.count("\n", 0, pos + rest.index("{{")) + 1
        raise LogDriverError(f"template: log-tag:{line}: unclosed action")
    out.append(rest)
    return "".join(out)


def extra_attributes(info: LogInfo) -> dict[str, str]:
    """moby's ``Info.ExtraAttributes``: the labels and env vars the ``labels``/``env`` opts name."""
    cfg, extra = info.config, {}
    for name in (cfg.get("labels") or "").split(",") if cfg.get("labels") else []:
        if name in info.labels:
            extra[name] = info.labels[name]
    if cfg.get("labels-regex"):
        pattern = _compile(cfg["labels-regex"])
        extra.update({k: v for k, v in info.labels.items() if pattern.search(k)})
    env = dict(e.split("=", 1) for e in info.env if "=" in e)
    for name in cfg["env"].split(",") if cfg.get("env") else []:
        if name in env:
            extra[name] = env[name]
    if cfg.get("env-regex"):
        pattern = _compile(cfg["env-regex"])
        extra.update({k: v for k, v in env.items() if pattern.search(k)})
    return extra


#: Python's words for a bad pattern -> Go regexp's (RE2 syntax errors dockerd prints).
_GO_REGEXP_ERRORS = (("missing ), unterminated subpattern", "missing closing )"),
                     ("unbalanced parenthesis", "unexpected )"),
                     ("unterminated character set", "missing closing ]"),
                     ("nothing to repeat", "missing argument to repetition operator"),
                     ("multiple repeat", "invalid nested repetition operator"))


def _compile(pattern: str) -> re.Pattern[str]:
    """A ``labels-regex``/``env-regex``; a bad one fails the start with Go's words where they are known."""
    try:
        return re.compile(pattern)
    except re.error as exc:
        text = next((go for py, go in _GO_REGEXP_ERRORS if str(exc.msg).startswith(py)), str(exc.msg))
        raise LogDriverError(f"error parsing regexp: {text}: `{pattern}`") from None
