"""Build arguments with the classic builder's scopes (moby's ``BuildArgs``).

``--build-arg`` values come from the client; an ``ARG`` declares a name
(with an optional default) in the current stage only; ARGs before the first
FROM are *meta* args, which FROM lines (and a stage's ``ARG NAME`` without
a default) read. The proxy variables are always allowed, are given to RUN
without being declared, and stay out of the image's history unless
declared. A ``--build-arg`` nothing declared is warned about at the end.
"""

from __future__ import annotations

from collections.abc import Mapping

#: moby 20.10's ``builtinAllowedBuildArgs`` (``ALL_PROXY`` came later).
BUILTIN_ARGS = frozenset({
    "HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY", "ftp_proxy", "NO_PROXY", "no_proxy",
})


def env_keys(env: list[str]) -> set[str]:
    return {item.split("=", 1)[0] for item in env}


class BuildArgs:
    def __init__(self, from_options: Mapping[str, str | None]):
        self.from_options = dict(from_options)
        self.allowed: dict[str, str | None] = {}
        self.allowed_meta: dict[str, str | None] = {}
        self.referenced: set[str] = set()

    def clone(self) -> "BuildArgs":
        other = BuildArgs(self.from_options)
        other.allowed = dict(self.allowed)
        other.allowed_meta = dict(self.allowed_meta)
        other.referenced = set(self.referenced)
        return other

    def add_arg(self, key: str, value: str | None) -> None:
        self.allowed[key] = value
        self.referenced.add(key)

    def add_meta_arg(self, key: str, value: str | None) -> None:
        self.allowed_meta[key] = value

    def merge_referenced(self, other: "BuildArgs") -> None:
        self.referenced |= other.referenced

    def is_referenced_or_not_builtin(self, key: str) -> bool:
        return key in self.allowed or key not in BUILTIN_ARGS

    def _value(self, key: str, mapping: Mapping[str, str | None]) -> tuple[str, bool]:
        option = self.from_options.get(key)
        if key in self.from_options and option is not None:
            return option, True
        default = mapping.get(key)
        if default is None:
            meta = self.allowed_meta.get(key)
            if meta is not None:
                return meta, True
            return "", False
        return default, key in mapping

    def _all_from(self, mapping: Mapping[str, str | None]) -> dict[str, str]:
        out = {}
        for key in sorted(set(mapping) | BUILTIN_ARGS):
            value, ok = self._value(key, mapping)
            if ok:
                out[key] = value
        return out

    def all_allowed(self) -> dict[str, str]:
        """Declared args (and the proxies) that have a value."""
        return self._all_from(self.allowed)

    def all_meta(self) -> dict[str, str]:
        """What a FROM line sees: the meta args (and the proxies) that have a value."""
        return self._all_from(self.allowed_meta)

    def filter_allowed(self, env: list[str]) -> list[str]:
        """``KEY=value`` for the allowed args an ENV of the image does not already set."""
        keys = env_keys(env)
        return [f"{k}={v}" for k, v in self.all_allowed().items() if k not in keys]

    def unused_warning(self) -> str:
        """moby's ``WarnOnUnusedBuildArgs`` line, or ""."""
        left = sorted(k for k in self.from_options if k not in BUILTIN_ARGS and k not in self.referenced)
        if not left:
            return ""
        return f"[Warning] One or more build-args [{' '.join(left)}] were not consumed\n"


def prepend_env_on_cmd(args: BuildArgs, build_env: list[str], cmd: list[str]) -> list[str]:
    """A RUN's history/cache command with the build args it saw: ``|2 A=1 B=2 /bin/sh -c ...``."""
    shown = sorted(e for e in build_env if args.is_referenced_or_not_builtin(e.split("=", 1)[0]))
    return [f"|{len(shown)}", *shown, *cmd]
