"""One instruction of a stage, as the classic builder dispatches it (moby's ``dispatchers.go``).

Each handler changes the stage's run config and commits a step image,
unless the cache already has it. Metadata instructions commit a container
that never runs (``/bin/sh -c #(nop)  ENV a=b``); WORKDIR makes its
directory in one; RUN runs its command in one; COPY and ADD fill a scratch
layer (:mod:`barge.builder.copier`). The committed texts are moby's, so
``docker history`` reads as Docker's.
"""

from __future__ import annotations

import contextlib
import copy
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from barge import portspec
from barge.builder.buildargs import prepend_env_on_cmd
from barge.builder.copier import Copier, normalize_dest, parse_chown
from barge.builder.sources import CopyInfo, copy_infos, sources_hash
from barge.builder.state import StageState
from barge.containers.signals import parse_signal
from barge.containers.users import make_dirs_in_root
from barge.dockerfile import instructions as ins
from barge.errors import BargeError, InvalidParameter
from barge.goquote import go_duration, go_list, go_quote_list, go_quote_rune

if TYPE_CHECKING:  # pragma: no cover
    from barge.builder.build import Build

BUILDKIT_ONLY = "the --{} option requires BuildKit. Refer to https://docs.docker.com/go/buildkit/ to learn how to " \
                "build images with BuildKit enabled"


class Dispatcher:
    """The handlers of one stage's instructions, over the build's runner, cache and sources."""

    def __init__(self, build: "Build", state: StageState):
        self.build = build
        self.state = state
        self.runner = build.runner

    # -- committing -------------------------------------------------------

    def probe(self, config: dict[str, Any]) -> bool:
        """moby's ``probeCache``: a cached image becomes the stage's image, ``Using cache`` said."""
        cached = self.build.cache.probe(self.state.image_id, config)
        if not cached:
            return False
        self.build.out.stdout(" ---> Using cache\n")
        self.state.image_id = cached
        return True

    def commit(self, comment: str) -> None:
        """A metadata step: the run config as it is now, under a ``#(nop)`` command."""
        st = self.state
        if not st.has_base:
            raise InvalidParameter("Please provide a source image with `from` prior to commit")
        config = st.comment_config(comment)
        if self.probe(config):
            return
        self._commit_unchanged(config)

    def _commit_unchanged(self, container_config: dict[str, Any]) -> None:
        st = self.state
        if not st.image_id:  # FROM scratch: no image to make a container of
            st.image_id = self.runner.commit_layer("", None, copy.deepcopy(st.run_config), container_config,
                                                   author=st.maintainer)
            return
        cid = self.runner.create(container_config)
        st.image_id = self.runner.commit_container(cid, copy.deepcopy(st.run_config), container_config,
                                                   author=st.maintainer, changed=False)

    def dispatch(self, instruction: ins.Instruction) -> None:
        st = self.state
        instruction = ins.expand(instruction, st.expansion_env(), self.build.escape)
        handler: Callable[[Any], None] | None = getattr(self, "do_" + type(instruction).__name__.lower(), None)
        if handler is None:
            raise InvalidParameter(f"unsupported command type: {type(instruction).__name__}")
        handler(instruction)

    # -- metadata ---------------------------------------------------------

    def do_env(self, i: ins.Env) -> None:
        env = self.state.env()
        message = "ENV"
        for key, value in i.pairs:
            item = f"{key}={value}"
            message += " " + item
            for n, existing in enumerate(env):
                if existing.split("=", 1)[0] == key:
                    env[n] = item
                    break
            else:
                env.append(item)
        self.state.run_config["Env"] = env
        self.commit(message)

    def do_maintainer(self, i: ins.Maintainer) -> None:
        self.state.maintainer = i.maintainer
        self.commit("MAINTAINER " + i.maintainer)

    def do_label(self, i: ins.Label) -> None:
        labels = dict(self.state.run_config.get("Labels") or {})
        message = "LABEL"
        for key, value in i.pairs:
            labels[key] = value
            message += f" {key}={value}"
        self.state.run_config["Labels"] = labels
        self.commit(message)

    def do_onbuild(self, i: ins.Onbuild) -> None:
        self.state.run_config["OnBuild"] = list(self.state.run_config.get("OnBuild") or []) + [i.expression]
        self.commit("ONBUILD " + i.expression)

    def do_cmd(self, i: ins.Cmd) -> None:
        cmd = self._command(i.command, i.prepend_shell)
        self.state.run_config["Cmd"] = cmd
        self.commit("CMD " + go_quote_list(cmd))
        if i.command:
            self.state.cmd_set = True

    def do_entrypoint(self, i: ins.Entrypoint) -> None:
        entrypoint = self._command(i.command or (), i.prepend_shell)
        self.state.run_config["Entrypoint"] = entrypoint
        if not self.state.cmd_set:
            self.state.run_config["Cmd"] = None
        self.commit("ENTRYPOINT " + go_quote_list(entrypoint))

    def do_healthcheck(self, i: ins.Healthcheck) -> None:
        old = self.state.run_config.get("Healthcheck") or {}
        if old.get("Test") and old["Test"][0] != "NONE":
            self.build.out.stdout(f"Note: overriding previous HEALTHCHECK: {go_list(old['Test'])}\n")
        health: dict[str, Any] = {"Test": list(i.test)}
        for key, value in (("Interval", i.interval), ("Timeout", i.timeout), ("StartPeriod", i.start_period),
                           ("Retries", i.retries)):
            if value:
                health[key] = value
        self.state.run_config["Healthcheck"] = health
        text = (f"&{{{go_quote_list(i.test)} \"{go_duration(i.interval)}\" \"{go_duration(i.timeout)}\" "
                f"\"{go_duration(i.start_period)}\" {go_quote_rune(i.retries)}}}")
        self.commit("HEALTHCHECK " + text)

    def do_expose(self, i: ins.Expose) -> None:
        ports = dict(self.state.run_config.get("ExposedPorts") or {})
        for port in portspec.parse_port_specs(list(i.ports))[0]:
            ports[port] = {}
        self.state.run_config["ExposedPorts"] = ports
        self.commit("EXPOSE " + " ".join(i.ports))

    def do_user(self, i: ins.User) -> None:
        self.state.run_config["User"] = i.user
        self.commit("USER " + i.user)

    def do_volume(self, i: ins.Volume) -> None:
        volumes = dict(self.state.run_config.get("Volumes") or {})
        for path in i.paths:
            if not path:
                raise InvalidParameter("VOLUME specified can not be an empty string")
            volumes[path] = {}
        self.state.run_config["Volumes"] = volumes
        self.commit("VOLUME " + go_list(i.paths))

    def do_stopsignal(self, i: ins.Stopsignal) -> None:
        parse_signal(i.signal)
        self.state.run_config["StopSignal"] = i.signal
        self.commit("STOPSIGNAL " + i.signal)

    def do_arg(self, i: ins.Arg) -> None:
        parts = []
        for key, value in i.args:
            parts.append(key if value is None else f"{key}={value}")
            self.state.build_args.add_arg(key, value)
        self.commit("ARG " + " ".join(parts))

    def do_shell(self, i: ins.Shell) -> None:
        self.state.run_config["Shell"] = list(i.shell)
        self.commit("SHELL " + go_list(i.shell))

    def do_workdir(self, i: ins.Workdir) -> None:
        st = self.state
        if not i.path:
            raise InvalidParameter("cannot normalize nothing")
        current = st.run_config.get("WorkingDir") or ""
        st.run_config["WorkingDir"] = i.path if i.path.startswith("/") else normalize_dest(current or "/", i.path)
        config = st.comment_config("WORKDIR " + st.run_config["WorkingDir"], single_word=True)
        if self.probe(config):
            return
        if not st.image_id:
            with self.build.scratch("") as cache:
                with self.build.mounted(cache) as root:
                    make_dirs_in_root(str(root), st.run_config["WorkingDir"])
                st.image_id = self.runner.commit_layer("", cache, copy.deepcopy(st.run_config), config,
                                                       author=st.maintainer)
            return
        cid = self.runner.create(config)
        with self.build.containers.files.root(cid) as (_c, fd):
            make_dirs_in_root(f"/proc/self/fd/{fd}", st.run_config["WorkingDir"])
        st.image_id = self.runner.commit_container(cid, copy.deepcopy(st.run_config), config, author=st.maintainer,
                                                   changed=True)

    # -- RUN --------------------------------------------------------------

    def _command(self, command: tuple[str, ...], prepend_shell: bool) -> list[str]:
        if not command:
            return []
        return self.state.shell() + list(command) if prepend_shell else list(command)

    def do_run(self, i: ins.Run) -> None:
        st = self.state
        if i.flags_used:
            raise InvalidParameter(BUILDKIT_ONLY.format(i.flags_used[0]))
        cmd = self._command(i.command, i.prepend_shell)
        build_env = st.build_args.filter_allowed(st.env())
        save_cmd = prepend_env_on_cmd(st.build_args, build_env, cmd) if build_env else cmd
        probe_config = st.with_cmd(save_cmd, **({"Entrypoint": None} if save_cmd else {}))
        if self.probe(probe_config):
            return
        if not st.image_id:
            raise InvalidParameter(f"failed to create the step's container: {' '.join(cmd)}: "
                                   "no such file or directory (the stage starts from scratch)")
        run_config = st.with_cmd(cmd, Env=st.env() + build_env, Healthcheck={"Test": ["NONE"]},
                                 **({"Entrypoint": [""]} if save_cmd else {}))
        cid = self.runner.create(run_config)
        self.runner.run(cid, cmd)
        st.image_id = self.runner.commit_container(cid, copy.deepcopy(st.run_config), probe_config,
                                                   author=st.maintainer, changed=True)

    # -- COPY and ADD -----------------------------------------------------

    def do_copy(self, i: ins.Copy) -> None:
        if i.chmod:
            raise InvalidParameter(BUILDKIT_ONLY.format("chmod"))
        if not i.from_:
            self._copy("COPY", i.sources, i.dest, i.chown, self.build.context_source, add=False, keep_owner=False)
            return
        with self.build.image_files(i.from_) as source:
            self._copy("COPY", i.sources, i.dest, i.chown, source, add=False, keep_owner=not i.chown)

    def do_add(self, i: ins.Add) -> None:
        if i.chmod:
            raise InvalidParameter(BUILDKIT_ONLY.format("chmod"))
        self._copy("ADD", i.sources, i.dest, i.chown, self.build.context_source, add=True, keep_owner=False)

    def _copy(self, name: str, sources: tuple[str, ...], dest: str, chown: str, root, *,
              add: bool, keep_owner: bool) -> None:
        st = self.state
        with contextlib.ExitStack() as stack:
            try:
                infos: list[CopyInfo] = []
                for source in sources:
                    if add and self.build.downloads.is_url(source):
                        infos.append(stack.enter_context(self.build.downloads.fetch(source, dest)))
                    elif root is None:
                        raise InvalidParameter("missing build context")
                    else:
                        infos.extend(copy_infos(root, source))
                if not infos:
                    raise InvalidParameter("no source files were specified")
            except BargeError as exc:
                raise type(exc)(f"{name} failed: {exc}") from None
            if len(infos) > 1 and not dest.endswith("/"):
                raise InvalidParameter(f"When using {name} with more than one source file, the destination must be "
                                       "a directory and end with a /")
            chown_comment = f"--chown={chown}" if chown else ""
            config = st.comment_config(f"{name} {chown_comment}{sources_hash(infos)} in {dest} ", single_word=True)
            if self.probe(config):
                return
            # the context is unpacked on a miss only, and only these sources
            infos = [replace(info, source=info.source.materialize(info.path)) for info in infos]
            with self.build.scratch(st.image_id) as cache:
                with self.build.mounted(cache) as root:
                    self._write(root, infos, normalize_dest(st.run_config.get("WorkingDir") or "", dest), chown,
                                keep_owner, add)
                st.image_id = self.runner.commit_layer(st.image_id, cache, copy.deepcopy(st.run_config), config,
                                                       author=st.maintainer)

    @staticmethod
    def _write(root: Path, infos: list[CopyInfo], dest: str, chown: str, keep_owner: bool, add: bool) -> None:
        owner = parse_chown(chown, root) if chown else (None if keep_owner else (0, 0))
        copier = Copier(root, owner)
        try:
            for info in infos:
                copier.copy(info, dest, allow_decompress=add)
        finally:
            copier.close()
