"""A stage's state while it builds (moby's ``dispatchState``), and the run configs of its steps.

``run_config`` is the container config the next image gets (Go's field
names, as in an image's ``config``). Every step is committed with a copy
whose ``Cmd`` says what the step did; that copy is the image's
``container_config``, its ``Cmd`` joined is the history's ``CreatedBy``,
and it is what the cache compares.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from barge.builder.buildargs import BuildArgs

DEFAULT_SHELL = ["/bin/sh", "-c"]
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#: The empty container config moby starts a stage from (``container.Config{}`` as JSON).
EMPTY_CONFIG: dict[str, Any] = {
    "Hostname": "", "Domainname": "", "User": "", "AttachStdin": False, "AttachStdout": False,
    "AttachStderr": False, "Tty": False, "OpenStdin": False, "StdinOnce": False, "Env": None, "Cmd": None,
    "Image": "", "Volumes": None, "WorkingDir": "", "Entrypoint": None, "OnBuild": None, "Labels": None,
}


@dataclass
class StageState:
    build_args: BuildArgs
    stage_name: str = ""
    image_id: str = ""
    #: FROM has run: an image, or scratch (``image_id`` "" until the first commit)
    has_base: bool = False
    base_top_layer: str | None = None
    run_config: dict[str, Any] = field(default_factory=lambda: copy.deepcopy(EMPTY_CONFIG))
    maintainer: str = ""
    cmd_set: bool = False

    def begin(self, name: str, image_id: str, config: dict[str, Any] | None) -> None:
        """moby's ``beginStage``: the base image's config, PATH defaulted, stdin closed."""
        self.stage_name = name
        self.image_id = image_id
        self.has_base = True
        self.run_config = copy.deepcopy(EMPTY_CONFIG)
        if config:
            self.run_config.update(copy.deepcopy(config))
        env = list(self.run_config.get("Env") or [])
        if not any(e.split("=", 1)[0] == "PATH" for e in env):
            env.append("PATH=" + DEFAULT_PATH)
        self.run_config["Env"] = env
        self.run_config["OpenStdin"] = False
        self.run_config["StdinOnce"] = False

    def update_image(self) -> None:
        """moby's ``updateRunConfig``: the config names the image the next step starts from."""
        self.run_config["Image"] = self.image_id

    def env(self) -> list[str]:
        return list(self.run_config.get("Env") or [])

    def expansion_env(self) -> dict[str, str]:
        """The words' scope: the image's ENV, then the declared args it does not set (later wins)."""
        out: dict[str, str] = {}
        for item in self.env() + self.build_args.filter_allowed(self.env()):
            key, _, value = item.partition("=")
            out[key] = value
        return out

    def shell(self) -> list[str]:
        return list(self.run_config.get("Shell") or DEFAULT_SHELL)

    def with_cmd(self, cmd: list[str], **changes: Any) -> dict[str, Any]:
        """A copy of the run config with ``Cmd`` (and other fields) replaced."""
        out = copy.deepcopy(self.run_config)
        out["Cmd"] = list(cmd)
        out.update(changes)
        return out

    def comment_config(self, comment: str, *, single_word: bool = False) -> dict[str, Any]:
        """The config a metadata step commits: ``<shell> #(nop) <what>`` (SHELL's shell, as dockerd 20.10
        writes it). WORKDIR, COPY and ADD use moby's older one-word form."""
        words = ["#(nop) " + comment] if single_word else ["#(nop) ", comment]
        return self.with_cmd(self.shell() + words)
