"""One build: its stages in order, step by step (moby's ``dispatchDockerfileWithCancellation``).

Prints ``Step N/M : <instruction>`` before each step and `` ---> <id>``
after it, runs the base image's ONBUILD triggers at each FROM, keeps each
stage's image for ``FROM <stage>`` and ``COPY --from``, removes step
containers as ``rm``/``forcerm`` say, and warns about unused build args.
"""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator

from barge import reference
from barge.builder.buildargs import BuildArgs as Scope
from barge.builder.cache import ImageCache
from barge.builder.dispatch import Dispatcher
from barge.builder.downloads import Downloads
from barge.builder.output import BuildOutput
from barge.builder.sources import SourceRoot
from barge.builder.state import StageState
from barge.builder.steps import BuildCancelled, StepRunner, short_id
from barge.dockerfile import instructions as ins
from barge.errors import BargeError, ImageNotFound, InvalidParameter

if TYPE_CHECKING:  # pragma: no cover
    from barge.builder.context import BuildContext
    from barge.containers.service import ContainerService
    from barge.contracts.build import BuildArgs
    from barge.graph.store import Image, ImageStore

#: ``pull(image, platform, out)``: pull a base image, its progress written to ``out``.
Pull = Callable[[str, str, BuildOutput], None]


class Build:
    def __init__(self, *, options: "BuildArgs", context: "BuildContext", images: "ImageStore",
                 containers: "ContainerService", runner: StepRunner, out: BuildOutput, pull: Pull,
                 tmp_dir: Path, cancelled: threading.Event):
        self.options = options
        self.context = context
        self.images = images
        self.containers = containers
        self.runner = runner
        self.out = out
        self.pull = pull
        self.tmp_dir = tmp_dir
        self.cancelled = cancelled
        self.escape = context.dockerfile.escape
        self.cache = ImageCache(images, options.cache_from, options.nocache)
        self.context_source = context.files
        self.downloads = Downloads(tmp_dir, out, cancelled)
        self.stage_results: list[tuple[str, str]] = []  # (name, image id) of the stages built

    # -- files ------------------------------------------------------------

    @contextlib.contextmanager
    def scratch(self, image_id: str) -> Iterator[str]:
        image = self.images.get(image_id) if image_id else None
        with self.images.layers.scratch(image.top_layer if image is not None else None) as cache:
            yield cache

    @contextlib.contextmanager
    def mounted(self, cache: str) -> Iterator[Path]:
        with self.images.layers.mounted(cache, self.tmp_dir) as root:
            yield root

    @contextlib.contextmanager
    def image_files(self, name: str) -> Iterator[SourceRoot]:
        """The files of a stage or image, for ``COPY --from`` (moby's ``getImageMount``)."""
        try:
            image = self._stage_or_image(name)
        except BargeError as exc:
            raise type(exc)(f"invalid from flag value {name}: {exc}") from None
        with self.scratch(image.id if image is not None else "") as cache, self.mounted(cache) as root:
            yield SourceRoot(root)

    def _stage_or_image(self, name: str) -> "Image | None":
        for stage_name, image_id in self.stage_results:
            if stage_name and stage_name.lower() == name.lower():
                return self.images.get(image_id) if image_id else None
        if name.isdigit():
            index = int(name)
            if index >= len(self.stage_results):
                raise InvalidParameter(f"invalid stage index {index}")
            image_id = self.stage_results[index][1]
            return self.images.get(image_id) if image_id else None
        return self.base_image(name, platform=self.options.platform, local_only=False)

    def base_image(self, name: str, *, platform: str, local_only: bool) -> "Image | None":
        """An image by name or id, pulled when missing (or always, with ``pull``); None for scratch."""
        if name == "scratch":
            return None
        if self.options.pull and not local_only and not name.startswith("sha256:"):
            self.pull(name, platform, self.out)
        try:
            return self.images.resolve(name)
        except ImageNotFound:
            if local_only or self.options.pull:
                raise
        reference.parse(name)  # a malformed name is refused as such, not pulled
        self.pull(name, platform, self.out)
        return self.images.resolve(name)

    # -- the build --------------------------------------------------------

    def run(self) -> str:
        meta_args, stages = ins.parse_stages(self.context.dockerfile)
        if self.options.labels:  # one LABEL step per label, sorted, at the end (moby's addNodesForLabelOption)
            labels = tuple(ins.label_from_option(k, self.options.labels[k]) for k in sorted(self.options.labels))
            last = stages[-1]
            stages[-1] = ins.Stage(last.from_, last.commands + labels)
        stages = ins.select_target(stages, self.options.target)
        total = ins.total_steps(meta_args, stages)
        self.step = 0
        scope = Scope(self.options.build_args)
        for arg in meta_args:
            self._print_step(arg, total)
            expanded = ins.expand(arg, scope.all_allowed(), self.escape)
            for key, value in expanded.args:  # type: ignore[attr-defined]
                scope.add_arg(key, value)
                scope.add_meta_arg(key, value)
        state = None
        built: list[ins.Stage] = []
        for stage in stages:
            ins.check_stage_name(built, stage)
            built.append(stage)
            state = self._stage(stage, scope, total)
            scope.merge_referenced(state.build_args)
            self.stage_results.append((stage.name, state.image_id))
        self.out.stdout(scope.unused_warning())
        if state is None or not state.image_id:
            raise InvalidParameter("No image was generated. Is your Dockerfile empty?")
        return state.image_id

    def _print_step(self, instruction: ins.Instruction, total: int) -> None:
        """moby's ``printCommand``: the step, then its newline, as two messages."""
        self.step += 1
        self.out.stdout(f"Step {self.step}/{total} : {instruction.original}")
        self.out.stdout("\n")

    def _stage(self, stage: ins.Stage, scope: Scope, total: int) -> StageState:
        state = StageState(build_args=scope.clone())
        state.build_args.allowed = {}
        dispatcher = Dispatcher(self, state)
        self._print_step(stage.from_, total)
        self._begin(dispatcher, stage)
        state.update_image()
        self.out.stdout(f" ---> {short_id(state.image_id)}\n")
        for instruction in stage.commands:
            if self.cancelled.is_set():
                self.out.stdout("Build cancelled\n")
                raise BuildCancelled()
            self._print_step(instruction, total)
            self._dispatch(dispatcher, instruction)
            state.update_image()
            self.out.stdout(f" ---> {short_id(state.image_id)}\n")
        self.out.aux(state.image_id)
        return state

    def _begin(self, dispatcher: Dispatcher, stage: ins.Stage) -> None:
        """moby's ``initializeStage``: the base image (or stage), its config, its ONBUILD triggers."""
        self.cache.reset()
        meta = dispatcher.state.build_args.all_meta()
        name, platform = ins.expand_from(stage.from_, meta, self.escape)
        for stage_name, image_id in self.stage_results:
            if stage_name and stage_name.lower() == name.lower():
                image = self.images.get(image_id) if image_id else None
                break
        else:
            image = self.base_image(name, platform=platform or self.options.platform, local_only=False)
        config = dict((image.config.get("config") or {})) if image is not None else {}
        dispatcher.state.begin(stage.name, image.id if image is not None else "", config)
        triggers = list(dispatcher.state.run_config.get("OnBuild") or [])
        if not triggers:
            return
        dispatcher.state.run_config["OnBuild"] = None
        self.out.stdout(f"# Executing {len(triggers)} build trigger{'s' if len(triggers) > 1 else ''}\n")
        for trigger in triggers:
            dispatcher.state.update_image()
            self._dispatch(dispatcher, ins.parse_trigger(trigger))

    def _dispatch(self, dispatcher: Dispatcher, instruction: ins.Instruction) -> None:
        """One step; its containers removed as ``rm``/``forcerm`` say (moby's ``dispatch``)."""
        ok = False
        try:
            dispatcher.dispatch(instruction)
            ok = True
        finally:
            if self.options.force_remove or (self.options.remove and ok):
                self.runner.remove_all()

