"""Docker's flag spellings on top of typer: ``--rm=true``, ``--sig-proxy=false``.

pflag lets every boolean flag take ``=true``/``=false``; click does not. The
command class below rewrites those tokens into click's form before parsing
(``--x=true`` -> ``--x``, ``--x=false`` -> ``--no-x`` or nothing), walking
the arguments as the parser will, so a container's own arguments after the
image are never touched.
"""

from __future__ import annotations

from typer.core import TyperCommand

_TRUE = {"true", "1", "t"}
_FALSE = {"false", "0", "f"}


def _options(command) -> dict[str, object]:
    table: dict[str, object] = {}
    for param in command.params:
        for name in list(getattr(param, "opts", [])) + list(getattr(param, "secondary_opts", [])):
            table[name] = param
    return table


def _takes_value(param) -> bool:
    return not getattr(param, "is_flag", False) and not getattr(param, "count", False)


def normalize(command, args: list[str], interspersed: bool) -> list[str]:
    table = _options(command)
    out: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            out.extend(args[i:])
            break
        if arg.startswith("--"):
            name, eq, value = arg.partition("=")
            param = table.get(name)
            if param is not None and getattr(param, "is_flag", False) and eq and name in param.opts:
                low = value.lower()
                if low in _TRUE:
                    out.append(name)
                elif low in _FALSE:
                    if param.secondary_opts:
                        out.append(param.secondary_opts[0])
                else:
                    out.append(arg)  # click reports the bad value
                i += 1
                continue
            out.append(arg)
            if param is not None and _takes_value(param) and not eq and i + 1 < len(args):
                out.append(args[i + 1])
                i += 1
            i += 1
            continue
        if arg.startswith("-") and len(arg) > 1:
            out.append(arg)
            # A cluster of short flags; a value-taking one eats the rest or the next token.
            for j in range(1, len(arg)):
                param = table.get("-" + arg[j])
                if param is not None and _takes_value(param):
                    if j == len(arg) - 1 and i + 1 < len(args):
                        out.append(args[i + 1])
                        i += 1
                    break
            i += 1
            continue
        if not interspersed:
            out.extend(args[i:])
            break
        out.append(arg)
        i += 1
    return out


class DockerCommand(TyperCommand):
    """A typer command that also accepts ``--flag=true|false``."""

    def parse_args(self, ctx, args: list[str]) -> list[str]:
        return super().parse_args(ctx, normalize(self, args, ctx.allow_interspersed_args))
