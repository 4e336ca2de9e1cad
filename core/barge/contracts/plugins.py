"""Arguments of the plugin jobs (``/plugins``), shared by the routes and the job handlers."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class PluginListArgs:
    filters: str | None = None


@dataclass
class PluginNameArgs:
    name: str = ""


@dataclass
class PluginCreateArgs:
    """``POST /plugins/create?name=``: the tar of the plugin's folder is the job's stdin."""

    name: str = ""


@dataclass
class PluginEnableArgs:
    name: str = ""
    timeout: int = 30


@dataclass
class PluginForceArgs:
    """``disable`` and ``remove``: ``force`` overrides the in-use (and enabled) checks."""

    name: str = ""
    force: bool = False


@dataclass
class PluginSetArgs:
    name: str = ""
    args: list[str] = field(default_factory=list)


@dataclass
class PluginRegistryArgs:
    """Pull, push, upgrade, privileges: ``name`` (push, upgrade) and ``remote`` (pull, upgrade, privileges)."""

    name: str | None = None
    remote: str | None = None
