"""What every command shares: the client built from the global options, the
error boundary, and output helpers.

Kept light: importing this module imports neither the server nor any driver,
and the client modules only when a command runs.
"""

from __future__ import annotations

import functools
import os
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

import typer

if TYPE_CHECKING:  # pragma: no cover
    from barge.client.api import Client


@dataclass
class GlobalOptions:
    host: str | None = None
    tls: bool = False
    tlsverify: bool = False
    tlscacert: str | None = None
    tlscert: str | None = None
    tlskey: str | None = None
    debug: bool = False

    def client(self) -> "Client":
        from barge.client.api import Client
        from barge.client.transport import TLSOptions

        tls = TLSOptions.from_env(
            enabled=self.tls, verify=self.tlsverify, cacert=self.tlscacert, cert=self.tlscert, key=self.tlskey
        )
        return Client(self.host, tls)


def options(ctx: typer.Context) -> GlobalOptions:
    root = ctx.find_root()
    if not isinstance(root.obj, GlobalOptions):
        root.obj = GlobalOptions(host=os.environ.get("BARGE_HOST") or None)
    return root.obj


def client(ctx: typer.Context) -> "Client":
    return options(ctx).client()


def fail(message: str, code: int = 1) -> "typer.Exit":
    """Print one line on stderr and return the exit to raise."""
    sys.stderr.write(message.rstrip("\n") + "\n")
    sys.stderr.flush()
    return typer.Exit(code)


def handles_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The boundary: a client, stream, template or domain error becomes one
    line on stderr and exit status 1, as docker does for most commands."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from barge.client.errors import ClientError

        try:
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort, KeyboardInterrupt, SystemExit):
            raise
        except ClientError as exc:
            raise fail(str(exc)) from None
        except Exception as exc:
            known = _known_error(exc)
            if known is None:
                raise
            raise fail(known) from None

    return wrapper


def _known_error(exc: Exception) -> str | None:
    from barge.client.formatter import FormatError
    from barge.client.templates import TemplateError

    if isinstance(exc, FormatError):
        return str(exc)
    if isinstance(exc, TemplateError):
        return f"template parsing error: {exc}"
    if isinstance(exc, BrokenPipeError):
        return None
    mod = type(exc).__module__
    if mod == "barge.errors":
        return str(exc)
    if isinstance(exc, OSError):
        return f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else "")
    return None


def add_commands(groups: dict[str, typer.Typer], table, **settings: Any) -> None:
    """Register every row ``(name, function, aliases, group keys[, settings])``
    of ``table`` in each of its groups, in table order (help lists them so),
    with ``aliases`` as hidden extra names right after it. Only the
    registration is recorded here: ``barge.cli.lazy`` builds a command when
    it is run."""
    for name, fn, aliases, keys, *extra in table:
        options = {**settings, **(extra[0] if extra else {})}
        for key in keys:
            group = groups[key]
            group.command(name, **options)(fn)
            for alias in aliases:
                group.command(alias, hidden=True, **options)(fn)


def parse_filters(values: list[str] | None) -> dict[str, list[str]]:
    """``-f key=value`` flags as the API's filter map (keys lower-cased)."""
    filters: dict[str, list[str]] = {}
    for value in values or []:
        key, sep, val = value.partition("=")
        if not sep:
            raise fail(f"bad format of filter (expected name=value): {value}")
        filters.setdefault(key.strip().lower(), []).append(val)
    return filters


class NoSuchObject(Exception):
    """A name that no kind of object has; its text is the whole error line."""


def inspect_each(names: list[str], fetch: Callable[[str], Any], format: str | None) -> None:
    """docker's ``inspect`` output: fetch every name, print what was found
    (one template per object, one JSON line per object with ``json``, else
    one indented array), then fail with every error, one line each."""
    import json

    from barge.client import formatter
    from barge.client.errors import APIError

    found, errors = [], []
    for name in names:
        try:
            found.append(fetch(name))
        except (APIError, NoSuchObject) as exc:
            errors.append(str(exc))
    if format and format != "json":
        for item in found:
            out(formatter.render_one(format, item))
    elif format == "json":
        for item in found:
            out(json.dumps(item, ensure_ascii=False) + "\n")
    else:
        out((json.dumps(found, indent=4, ensure_ascii=False) if found else "[]") + "\n")
    if errors:
        raise fail("\n".join(errors))


def out(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


def stdout_is_tty() -> bool:
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False
