"""Arguments of the build jobs: ``POST /build``, ``/build/prune``, ``/build/cancel``.

The route decodes the query as moby's ``newImageBuildOptions`` does (the
JSON parameters against :mod:`barge.api.bodies`); the ``build`` job reads
the context from its stdin and writes Docker's JSON message stream.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class BuildArgs:
    tags: list[str] = field(default_factory=list)
    dockerfile: str = ""
    remote: str = ""
    quiet: bool = False
    nocache: bool = False
    cache_from: list[str] = field(default_factory=list)
    pull: bool = False
    remove: bool = True
    force_remove: bool = False
    memory: int = 0
    memory_swap: int = 0
    cpu_shares: int = 0
    cpuset_cpus: str = ""
    cpuset_mems: str = ""
    cpu_period: int = 0
    cpu_quota: int = 0
    cgroup_parent: str = ""
    shm_size: int = 0
    ulimits: list[dict] = field(default_factory=list)
    #: ``buildargs``: None is a declared ``--build-arg X`` the client had no value for (the default applies)
    build_args: dict[str, str | None] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    network_mode: str = ""
    extra_hosts: list[str] = field(default_factory=list)
    platform: str = ""
    target: str = ""
    #: ``X-Registry-Config`` decoded: credentials by registry host, for pulling base images
    auth_configs: dict[str, dict] = field(default_factory=dict)
    #: the client's ``buildid`` (``/build/cancel?id=`` names it)
    build_id: str = ""
    #: the API version of the request: the aux ID message is sent from 1.30
    want_aux: bool = True


@dataclass
class BuildPruneArgs:
    all: bool = False
    keep_storage: int = 0
    filters: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class BuildCancelArgs:
    build_id: str = ""
