"""Build the click command tree lazily: only the command being run.

typer converts every registered command into a click command on each
invocation (reading signatures, evaluating annotations): with ~60 commands,
and ``run``/``create`` carrying ~70 flags each, that alone cost ~0.3 s per
``barge`` call. Here each group is built empty and its commands are made on
first lookup, so ``barge ps`` builds the root group and ``ps`` only; help
output, which lists everything, still builds everything.
"""

from __future__ import annotations

import copy
from typing import Callable

import typer
from typer import main as typer_main


class LazyCommands(dict):
    """A command table whose values are built when first looked up."""

    def __init__(self) -> None:
        super().__init__()
        self._builders: dict[str, Callable[[], object]] = {}

    def add(self, name: str, builder: Callable[[], object]) -> None:
        self._builders[name] = builder
        super().__setitem__(name, None)

    def _resolve(self, name: str):
        value = super().get(name)
        if value is None and name in self._builders:
            value = self._builders.pop(name)()
            super().__setitem__(name, value)
        return value

    def get(self, name, default=None):
        return self._resolve(name) if name in self else default

    def __getitem__(self, name):
        if name not in self:
            raise KeyError(name)
        return self._resolve(name)

    def items(self):
        return [(name, self._resolve(name)) for name in list(self.keys())]

    def values(self):
        return [self._resolve(name) for name in list(self.keys())]


def _group(info: typer_main.TyperInfo, app: typer.Typer, root: typer.Typer):
    shell = copy.copy(info.typer_instance)
    shell.registered_commands = []
    shell.registered_groups = []
    empty = copy.copy(info)
    empty.typer_instance = shell
    group = typer_main.get_group_from_info(
        empty,
        pretty_exceptions_short=root.pretty_exceptions_short,
        rich_markup_mode=root.rich_markup_mode,
        suggest_commands=root.suggest_commands,
    )
    commands = LazyCommands()
    for command_info in info.typer_instance.registered_commands:
        name = command_info.name or typer_main.get_command_name(command_info.callback.__name__)
        commands.add(name, lambda ci=command_info: typer_main.get_command_from_info(
            ci, pretty_exceptions_short=root.pretty_exceptions_short, rich_markup_mode=root.rich_markup_mode))
    for sub in info.typer_instance.registered_groups:
        name = sub.name if isinstance(sub.name, str) else None
        if name:
            commands.add(name, lambda s=sub: _group(s, s.typer_instance, root))
    group.commands = commands
    return group


def command(app: typer.Typer):
    """The click group for ``app``, with lazily built subcommands."""
    return _group(typer_main.TyperInfo(app), app, app)
