"""Plugin jobs: ``/plugins`` over the plugin service (:class:`barge.dockerplugins.service.PluginService`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from barge.contracts.plugins import (
    PluginCreateArgs,
    PluginEnableArgs,
    PluginForceArgs,
    PluginListArgs,
    PluginNameArgs,
    PluginRegistryArgs,
    PluginSetArgs,
)
from barge.filters import parse_filters

if TYPE_CHECKING:  # pragma: no cover
    from barge.daemon.services import Services
    from barge.engine import Engine

def register(engine: "Engine", services: "Services") -> None:
    plugins = services.plugins

    engine.register("plugin_list", PluginListArgs,
                    lambda job: plugins.list(parse_filters(job.args.filters, None)))
    engine.register("plugin_inspect", PluginNameArgs, lambda job: plugins.inspect(job.args.name))
    engine.register("plugin_create", PluginCreateArgs, lambda job: plugins.create(job.args.name, job.stdin))
    engine.register("plugin_enable", PluginEnableArgs, lambda job: plugins.enable(job.args.name, job.args.timeout))
    engine.register("plugin_disable", PluginForceArgs, lambda job: plugins.disable(job.args.name, job.args.force))
    engine.register("plugin_remove", PluginForceArgs, lambda job: plugins.remove(job.args.name, job.args.force))
    engine.register("plugin_set", PluginSetArgs, lambda job: plugins.set(job.args.name, job.args.args))
    engine.register("plugin_registry", PluginRegistryArgs,
                    lambda job: plugins.refuse_registry(job.args.name, job.args.remote))
