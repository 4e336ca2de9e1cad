"""``barge daemon``: the command line level of the daemon's configuration.

Its options are built from :data:`barge.flags.FLAGS`, the table
``python -m barge.daemon.main`` parses with too. The file and environment
levels (``daemon.toml``, ``BARGE_GRAPH_DRIVER``, ``DOCKER_DRIVER``) are read
by :func:`barge.config.load_config`; the server is imported only here, when
the command runs.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Annotated, Any, List, Optional

import typer

from barge.cli.common import fail
from barge.flags import FLAGS, Flag, load

#: The Python type typer parses each kind of flag into (None: not given).
_TYPES: dict[str, Any] = {
    "str": Optional[str], "int": Optional[int], "path": Optional[Path], "list": Optional[List[str]],
    "flag": Optional[bool], "switch": Optional[bool],
}


def _parameter(flag: Flag) -> inspect.Parameter:
    """The keyword parameter typer reads ``flag`` from."""
    names = flag.names
    if flag.kind == "switch":
        names = tuple(f"{name}/--no-{name[2:]}" for name in names)
    option = typer.Option(*names, help=flag.help)
    return inspect.Parameter(flag.dest, inspect.Parameter.KEYWORD_ONLY, default=None,
                             annotation=Annotated[_TYPES[flag.kind], option])


def daemon(**values: Any) -> None:
    """Run the barge daemon."""
    from barge.errors import BargeError

    try:
        cfg = load(values)
    except BargeError as exc:
        raise fail(str(exc)) from None
    from barge.daemon.main import serve

    code = serve(cfg)
    raise typer.Exit(code or 0)


# typer reads a command's options from its signature: this one's is the table.
daemon.__signature__ = inspect.Signature([_parameter(flag) for flag in FLAGS])  # type: ignore[attr-defined]


def register(app: typer.Typer) -> None:
    app.command("daemon")(daemon)
