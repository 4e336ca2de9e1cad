"""Parsed Dockerfile nodes to typed instructions and build stages (moby's ``instructions``).

Each instruction checks its arguments and flags as dockerd 20.10's classic
builder does, in the same order, so the first complaint is the same one.
Values stay as written (quotes, ``$vars``): :func:`expand` applies a scope's
variables the way the classic builder does before dispatching a step, and
only to the instructions and fields moby expands (ENV, LABEL, ADD, COPY,
WORKDIR, USER, VOLUME, STOPSIGNAL, ARG, and EXPOSE word by word; FROM with
the meta ARGs, :func:`expand_from`). RUN, CMD, ENTRYPOINT, SHELL,
HEALTHCHECK, MAINTAINER and ONBUILD are never expanded by the builder.

:func:`parse_stages` gives the ARGs before the first FROM and the stages;
:func:`select_target` keeps the stages up to ``--target`` as dockerd does.
What only a build can check (a stage name used twice, a RUN flag, COPY's
``--chmod``) is left to the dispatcher, as in dockerd; the checks it needs
are here (:func:`check_stage_name`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from barge.dockerfile.parser import Dockerfile, Node, parse
from barge.dockerfile.shell_lex import (
    DEFAULT_ESCAPE,
    go_lower,
    go_upper,
    process_word,
    process_words,
    trim_go_space,
)
from barge.errors import InvalidParameter
from barge.goquote import go_quote

MINIMUM_DURATION_NS = 1_000_000  # container.MinimumDuration: 1ms
_STAGE_NAME = re.compile(r"[a-z][a-z0-9\-_.]*")
_ONBUILD_PREFIX = re.compile(r"^[\t\n\f\r ]*ONBUILD[\t\n\f\r ]*", re.IGNORECASE)


class InstructionError(InvalidParameter):
    """An instruction is malformed; the message is moby's, ``line`` where it starts."""

    def __init__(self, message: str, line: int = 0):
        super().__init__(message)
        self.line = line


class UnknownInstruction(InstructionError):
    """The keyword is no Dockerfile instruction (dockerd counts these apart)."""


# -- the instructions ---------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Instruction:
    """What every instruction has: its keyword, its text for ``Step N/M :``, its lines."""

    name: str
    original: str
    line: int = 0
    end_line: int = 0


@dataclass(frozen=True, kw_only=True)
class From(Instruction):
    image: str
    stage_name: str = ""
    platform: str = ""


@dataclass(frozen=True, kw_only=True)
class Run(Instruction):
    command: tuple[str, ...]
    prepend_shell: bool
    flags_used: tuple[str, ...] = ()
    mounts: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Cmd(Instruction):
    command: tuple[str, ...]
    prepend_shell: bool


@dataclass(frozen=True, kw_only=True)
class Entrypoint(Instruction):
    command: tuple[str, ...] | None  # None: ``ENTRYPOINT []`` or no argument at all
    prepend_shell: bool


@dataclass(frozen=True, kw_only=True)
class Env(Instruction):
    pairs: tuple[tuple[str, str], ...]


@dataclass(frozen=True, kw_only=True)
class Label(Instruction):
    pairs: tuple[tuple[str, str], ...]
    expand: bool = True  # ``--label`` options are taken literally


@dataclass(frozen=True, kw_only=True)
class Arg(Instruction):
    args: tuple[tuple[str, str | None], ...]  # (name, default or None)


@dataclass(frozen=True, kw_only=True)
class Expose(Instruction):
    ports: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class Volume(Instruction):
    paths: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class User(Instruction):
    user: str


@dataclass(frozen=True, kw_only=True)
class Workdir(Instruction):
    path: str


@dataclass(frozen=True, kw_only=True)
class Add(Instruction):
    sources: tuple[str, ...]
    dest: str
    chown: str = ""
    chmod: str = ""


@dataclass(frozen=True, kw_only=True)
class Copy(Instruction):
    sources: tuple[str, ...]
    dest: str
    chown: str = ""
    chmod: str = ""
    from_: str = ""  # a stage name or an image, never expanded by the classic builder


@dataclass(frozen=True, kw_only=True)
class Onbuild(Instruction):
    expression: str  # the trigger's text, parsed again when a child image builds
    trigger: Node | None = None


@dataclass(frozen=True, kw_only=True)
class Stopsignal(Instruction):
    signal: str


@dataclass(frozen=True, kw_only=True)
class Healthcheck(Instruction):
    test: tuple[str, ...]  # ("NONE",), ("CMD", ...) or ("CMD-SHELL", "<command>")
    interval: int = 0  # nanoseconds, 0 when not given
    timeout: int = 0
    start_period: int = 0
    retries: int = 0


@dataclass(frozen=True, kw_only=True)
class Shell(Instruction):
    shell: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class Maintainer(Instruction):
    maintainer: str


@dataclass(frozen=True)
class Stage:
    """A FROM and the instructions after it, up to the next FROM."""

    from_: From
    commands: tuple[Instruction, ...] = ()

    @property
    def name(self) -> str:
        return self.from_.stage_name

    @property
    def base_name(self) -> str:
        return self.from_.image

    @property
    def source_code(self) -> str:
        return self.from_.original


# -- stages -------------------------------------------------------------------


def parse_stages(dockerfile: Dockerfile) -> tuple[list[Arg], list[Stage]]:
    """The ARGs before the first FROM, and the stages (moby's ``instructions.Parse``)."""
    meta_args: list[Arg] = []
    stages: list[tuple[From, list[Instruction]]] = []
    for node in dockerfile.nodes:
        try:
            instruction = parse_instruction(node)
        except InstructionError as exc:
            raise type(exc)(f"dockerfile parse error line {node.start_line}: {exc}", node.start_line) from None
        if isinstance(instruction, From):
            stages.append((instruction, []))
        elif not stages and isinstance(instruction, Arg):
            meta_args.append(instruction)
        elif not stages:
            raise InstructionError("no build stage in current context", node.start_line)
        else:
            stages[-1][1].append(instruction)
    return meta_args, [Stage(from_, tuple(commands)) for from_, commands in stages]


def select_target(stages: Sequence[Stage], target: str) -> list[Stage]:
    """The stages dockerd builds for ``--target``: every stage up to the target's."""
    if not target:
        return list(stages)
    for index, stage in enumerate(stages):
        if stage.name.casefold() == target.casefold():  # Go's EqualFold
            return list(stages[: index + 1])
    raise InvalidParameter(f"failed to reach build target {target} in Dockerfile")


def check_stage_name(built: Sequence[Stage], stage: Stage) -> None:
    """Refuse a stage named like one built before it (dockerd checks as it reaches it)."""
    if stage.name and any(previous.name.lower() == stage.name.lower() for previous in built):
        raise InvalidParameter(f"{stage.name} stage name already used")


def total_steps(meta_args: Sequence[Arg], stages: Sequence[Stage]) -> int:
    """The M of ``Step N/M``: meta ARGs, FROMs and every instruction."""
    return len(meta_args) + sum(1 + len(stage.commands) for stage in stages)


def parse_trigger(expression: str) -> Instruction:
    """An ONBUILD trigger as a child build reads it (default escape, one instruction)."""
    nodes = parse(expression).nodes
    if len(nodes) != 1:
        raise InvalidParameter("onbuild trigger should be a single expression")
    instruction = parse_instruction(nodes[0])
    if isinstance(instruction, From):
        raise InstructionError("*instructions.Stage is not a command type", nodes[0].start_line)
    return instruction


def label_from_option(key: str, value: str) -> Label:
    """A ``--label`` build option as the LABEL dockerd appends to the last stage."""
    return Label(name="label", original=f"LABEL {key}={value}", pairs=((key, value),), expand=False)


# -- expansion ----------------------------------------------------------------


def expand(instruction: Instruction, env: Mapping[str, str], escape: str = DEFAULT_ESCAPE) -> Instruction:
    """The instruction with ``env`` applied where the classic builder applies it.

    ``env`` is the step's scope as dockerd builds it: the image's ENV, then
    the ARGs declared so far that have a value. Quotes and escapes go on the
    way (``ENV A="a b"`` sets ``a b``); EXPOSE alone splits a value in words.
    """

    def word(text: str) -> str:
        return process_word(text, env, escape)

    def pairs(items: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
        return tuple((word(key), word(value)) for key, value in items)

    if isinstance(instruction, Env):
        return replace(instruction, pairs=pairs(instruction.pairs))
    if isinstance(instruction, Label):
        return replace(instruction, pairs=pairs(instruction.pairs)) if instruction.expand else instruction
    if isinstance(instruction, (Add, Copy)):
        chown = word(instruction.chown)
        sources = tuple(word(source) for source in instruction.sources)
        return replace(instruction, chown=chown, sources=sources, dest=word(instruction.dest))
    if isinstance(instruction, Arg):
        args = tuple((word(key), None if value is None else word(value)) for key, value in instruction.args)
        return replace(instruction, args=args)
    if isinstance(instruction, Expose):
        ports = tuple(port for text in instruction.ports for port in process_words(text, env, escape))
        return replace(instruction, ports=ports)
    if isinstance(instruction, Volume):
        return replace(instruction, paths=tuple(word(path) for path in instruction.paths))
    for kind, field in ((Workdir, "path"), (User, "user"), (Stopsignal, "signal")):
        if isinstance(instruction, kind):
            return replace(instruction, **{field: word(getattr(instruction, field))})
    return instruction


def expand_from(from_: From, meta_args: Mapping[str, str], escape: str = DEFAULT_ESCAPE) -> tuple[str, str]:
    """FROM's image and platform with the meta ARGs applied, refused as dockerd refuses them."""
    platform = ""
    if from_.platform:
        try:
            platform = process_word(from_.platform, meta_args, escape)
        except InvalidParameter as exc:
            raise InvalidParameter(f"failed to process arguments for platform : {exc}") from None
    image = process_word(from_.image, meta_args, escape)
    if not image:
        raise InvalidParameter(f"base name ({from_.image}) should not be blank")
    return image, platform


# -- parsing one instruction --------------------------------------------------


def parse_instruction(node: Node) -> Instruction:
    """One node to its typed instruction (moby's ``ParseInstruction``)."""
    parse_one = _PARSERS.get(node.keyword)
    if parse_one is None:
        raise UnknownInstruction(f"unknown instruction: {go_upper(node.keyword)}", node.start_line)
    try:
        return parse_one(_Request(node))
    except InstructionError as exc:
        raise type(exc)(str(exc), node.start_line) from None


class _Request:
    """A node's arguments and flags as one instruction's parser sees them (BFlags)."""

    def __init__(self, node: Node):
        self.node = node
        self.args = list(node.args)
        self.used: list[str] = []

    def common(self) -> dict:
        return {"name": self.node.keyword, "original": trim_go_space(self.node.original),
                "line": self.node.start_line, "end_line": self.node.end_line}

    def flags(self, **kinds: str) -> dict[str, str | list[str]]:
        """The flags' values; ``kinds`` maps each allowed flag to "string" or "strings"."""
        values: dict[str, str | list[str]] = {n: ([] if k == "strings" else "") for n, k in kinds.items()}
        for flag in self.node.flags:
            if not flag.startswith("--"):
                raise InstructionError(f"Arg should start with -- : {flag}")
            if flag == "--":
                break
            name, has_value, value = flag[2:].partition("=")
            if name not in kinds:
                raise InstructionError(f"Unknown flag: {name}")
            if name in self.used and kinds[name] != "strings":
                raise InstructionError(f"Duplicate flag specified: {name}")
            if name not in self.used:
                self.used.append(name)
            if not has_value:
                raise InstructionError(f"Missing a value on flag: {name}")
            if kinds[name] == "strings":
                values[name].append(value)  # type: ignore[union-attr]
            else:
                values[name] = value
        return values

    def command_line(self) -> list[str]:
        """moby's ``handleJSONArgs``: exec form as is, shell form as one string."""
        if not self.args:
            return []
        return self.args if self.node.is_json else [" ".join(self.args)]


def _at_least_one(keyword: str) -> InstructionError:
    return InstructionError(f"{keyword} requires at least one argument")


def _exactly_one(request: _Request, keyword: str) -> str:
    if len(request.args) != 1:
        raise InstructionError(f"{keyword} requires exactly one argument")
    return request.args[0]


def _pairs(request: _Request, keyword: str) -> tuple[tuple[str, str], ...]:
    """ENV and LABEL: key, value, key, value... (moby's ``parseKvps``)."""
    args = request.args
    if not args:
        raise _at_least_one(keyword)
    if len(args) % 2:
        raise InstructionError(f"Bad input to {keyword}, too many arguments")
    if any(not key for key in args[::2]):
        raise InstructionError(f"{keyword} names can not be blank")
    return tuple(zip(args[::2], args[1::2]))


def _parse_env(request: _Request) -> Env:
    request.flags()
    return Env(**request.common(), pairs=_pairs(request, "ENV"))


def _parse_label(request: _Request) -> Label:
    request.flags()
    return Label(**request.common(), pairs=_pairs(request, "LABEL"))


def _parse_maintainer(request: _Request) -> Maintainer:
    maintainer = _exactly_one(request, "MAINTAINER")
    request.flags()
    return Maintainer(**request.common(), maintainer=maintainer)


def _sources_and_dest(request: _Request, keyword: str) -> tuple[tuple[str, ...], str]:
    if len(request.args) < 2:
        raise InstructionError(f"{keyword} requires at least two arguments, but only one was provided. "
                               "Destination could not be determined")
    return tuple(request.args[:-1]), request.args[-1]


def _parse_add(request: _Request) -> Add:
    sources, dest = _sources_and_dest(request, "ADD")
    flags = request.flags(chown="string", chmod="string")
    return Add(**request.common(), sources=sources, dest=dest, chown=flags["chown"], chmod=flags["chmod"])


def _parse_copy(request: _Request) -> Copy:
    sources, dest = _sources_and_dest(request, "COPY")
    flags = request.flags(chown="string", chmod="string", **{"from": "string"})
    return Copy(**request.common(), sources=sources, dest=dest, chown=flags["chown"], chmod=flags["chmod"],
                from_=flags["from"])


def _parse_from(request: _Request) -> From:
    args = request.args
    stage_name = ""
    if len(args) == 3 and args[1].casefold() == "as":  # Go's EqualFold
        stage_name = go_lower(args[2])
        if not _STAGE_NAME.fullmatch(stage_name):
            raise InstructionError(f"invalid name for build stage: {go_quote(args[2])}, "
                                   "name can't start with a number or contain symbols")
    elif len(args) != 1:
        raise InstructionError("FROM requires either one or three arguments")
    flags = request.flags(platform="string")
    return From(**request.common(), image=args[0], stage_name=stage_name, platform=flags["platform"])


def _parse_onbuild(request: _Request) -> Onbuild:
    if not request.args:
        raise _at_least_one("ONBUILD")
    request.flags()
    trigger = go_upper(trim_go_space(request.args[0]))
    if trigger == "ONBUILD":
        raise InstructionError("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
    if trigger in ("MAINTAINER", "FROM"):
        raise InstructionError(f"{trigger} isn't allowed as an ONBUILD trigger")
    expression = _ONBUILD_PREFIX.sub("", request.node.original, count=1)
    return Onbuild(**request.common(), expression=expression, trigger=request.node.trigger)


def _parse_workdir(request: _Request) -> Workdir:
    path = _exactly_one(request, "WORKDIR")
    request.flags()
    return Workdir(**request.common(), path=path)


def _parse_run(request: _Request) -> Run:
    """RUN: only ``--mount`` parses (the dispatcher then says it needs BuildKit)."""
    flags = request.flags(mount="strings")
    return Run(**request.common(), command=tuple(request.command_line()), prepend_shell=not request.node.is_json,
               flags_used=tuple(request.used), mounts=tuple(flags["mount"]))


def _parse_cmd(request: _Request) -> Cmd:
    request.flags()
    return Cmd(**request.common(), command=tuple(request.command_line()), prepend_shell=not request.node.is_json)


def _parse_entrypoint(request: _Request) -> Entrypoint:
    request.flags()
    command = request.command_line()
    return Entrypoint(**request.common(), command=tuple(command) if command else None,
                      prepend_shell=not request.node.is_json)


def _parse_expose(request: _Request) -> Expose:
    if not request.args:
        raise _at_least_one("EXPOSE")
    request.flags()
    return Expose(**request.common(), ports=tuple(sorted(request.args, key=_go_order)))


def _go_order(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def _parse_user(request: _Request) -> User:
    user = _exactly_one(request, "USER")
    request.flags()
    return User(**request.common(), user=user)


def _parse_volume(request: _Request) -> Volume:
    if not request.args:
        raise _at_least_one("VOLUME")
    request.flags()
    paths = tuple(trim_go_space(path) for path in request.args)
    if not all(paths):
        raise InstructionError("VOLUME specified can not be an empty string")
    return Volume(**request.common(), paths=paths)


def _parse_stopsignal(request: _Request) -> Stopsignal:
    """STOPSIGNAL: moby never looks at its flags."""
    return Stopsignal(**request.common(), signal=_exactly_one(request, "STOPSIGNAL"))


def _parse_arg(request: _Request) -> Arg:
    """ARG: ``name`` or ``name=default``, several per line; moby never looks at its flags."""
    if not request.args:
        raise _at_least_one("ARG")
    args: list[tuple[str, str | None]] = []
    for text in request.args:
        name, has_value, value = text.partition("=")
        if has_value and not name:
            raise InstructionError("ARG names can not be blank")
        args.append((name, value if has_value else None))
    return Arg(**request.common(), args=tuple(args))


def _parse_shell(request: _Request) -> Shell:
    request.flags()
    shell = request.command_line()
    if not shell:
        raise _at_least_one("SHELL")
    if not request.node.is_json:
        raise InstructionError("SHELL requires the arguments to be in JSON form")
    return Shell(**request.common(), shell=tuple(shell))


def _parse_healthcheck(request: _Request) -> Healthcheck:
    """HEALTHCHECK NONE, or CMD with its options checked as moby checks them."""
    if not request.args:
        raise _at_least_one("HEALTHCHECK")
    kind, args = go_upper(request.args[0]), request.args[1:]
    if kind == "NONE":
        if args:
            raise InstructionError("HEALTHCHECK NONE takes no arguments")
        return Healthcheck(**request.common(), test=("NONE",))
    flags = request.flags(interval="string", timeout="string", **{"start-period": "string"}, retries="string")
    if kind != "CMD":
        raise InstructionError(f"Unknown type {go_quote(kind)} in HEALTHCHECK (try CMD)")
    command = args if request.node.is_json else ([" ".join(args)] if args else [])
    if not command:
        raise InstructionError("Missing command after HEALTHCHECK CMD")
    test = ("CMD" if request.node.is_json else "CMD-SHELL", *command)
    interval, timeout, start_period = (_interval(name, flags[name]) for name in ("interval", "timeout", "start-period"))
    retries = _retries(flags["retries"])
    return Healthcheck(**request.common(), test=test, interval=interval, timeout=timeout,
                       start_period=start_period, retries=retries)


def _interval(name: str, text: str) -> int:
    if not text:
        return 0
    duration = parse_go_duration(text)
    if duration < MINIMUM_DURATION_NS:
        raise InstructionError(f"Interval {go_quote(name)} cannot be less than 1ms")
    return duration


def _retries(text: str) -> int:
    if not text:
        return 0
    retries = parse_go_int32(text)
    if retries < 1:
        raise InstructionError(f"--retries must be at least 1 (not {retries})")
    return retries


_PARSERS = {
    "env": _parse_env, "maintainer": _parse_maintainer, "label": _parse_label, "add": _parse_add,
    "copy": _parse_copy, "from": _parse_from, "onbuild": _parse_onbuild, "workdir": _parse_workdir,
    "run": _parse_run, "cmd": _parse_cmd, "healthcheck": _parse_healthcheck, "entrypoint": _parse_entrypoint,
    "expose": _parse_expose, "user": _parse_user, "volume": _parse_volume, "stopsignal": _parse_stopsignal,
    "arg": _parse_arg, "shell": _parse_shell,
}


# -- Go's number formats ------------------------------------------------------

_DURATION_UNITS = {"ns": 1, "us": 10**3, "\u00b5s": 10**3, "\u03bcs": 10**3, "ms": 10**6, "s": 10**9,
                   "m": 60 * 10**9, "h": 3600 * 10**9}
_DIGITS = re.compile(r"[0-9]*")
_UNIT = re.compile(r"[^0-9.]*")


def _time_quote(text: str) -> str:
    """The quoting of Go's ``time`` errors: non-ASCII and control bytes as ``\\xNN``."""
    out = ['"']
    for ch in text:
        if ch < " " or ch >= "\x80":
            out.extend(f"\\x{byte:02x}" for byte in ch.encode("utf-8", "surrogateescape"))
        else:
            out.append("\\" + ch if ch in '"\\' else ch)
    return "".join(out) + '"'


def parse_go_duration(text: str) -> int:
    """Go's ``time.ParseDuration`` in nanoseconds, with its error messages."""
    invalid = InstructionError(f"time: invalid duration {_time_quote(text)}")
    rest, negative = text, text[:1] == "-"
    if rest[:1] in ("-", "+"):
        rest = rest[1:]
    if rest == "0":
        return 0
    if not rest:
        raise invalid
    total = 0
    while rest:
        whole = _DIGITS.match(rest).group()
        rest = rest[len(whole):]
        fraction = ""
        if rest[:1] == ".":
            fraction = _DIGITS.match(rest, 1).group()
            rest = rest[1 + len(fraction):]
        if not whole and not fraction:
            raise invalid
        unit_text = _UNIT.match(rest).group()
        rest = rest[len(unit_text):]
        if not unit_text:
            raise InstructionError(f"time: missing unit in duration {_time_quote(text)}")
        if unit_text not in _DURATION_UNITS:
            raise InstructionError(f"time: unknown unit {_time_quote(unit_text)} in duration {_time_quote(text)}")
        total += _component(whole, fraction, _DURATION_UNITS[unit_text], invalid)
        if total > 1 << 63:
            raise invalid
    if not negative and total > (1 << 63) - 1:
        raise invalid
    return -total if negative else total


def _component(whole: str, fraction: str, unit: int, invalid: InstructionError) -> int:
    """One ``<number><unit>`` of a duration, with Go's overflow rules and float rounding."""
    value = int(whole) if whole else 0
    if value > 1 << 63 or value > (1 << 63) // unit:
        raise invalid
    value *= unit
    digits, scale = 0, 1.0
    for digit in fraction:
        following = digits * 10 + int(digit)
        if digits > ((1 << 63) - 1) // 10 or following > 1 << 63:
            break  # Go stops gathering precision here
        digits, scale = following, scale * 10
    if digits:
        value += int(float(digits) * (float(unit) / scale))
        if value > 1 << 63:
            raise invalid
    return value


def parse_go_int32(text: str) -> int:
    """Go's ``strconv.ParseInt(text, 10, 32)``, with its error messages."""
    body = text[1:] if text[:1] in ("+", "-") else text
    value = 0
    for ch in body:
        if not "0" <= ch <= "9":
            raise InstructionError(f"strconv.ParseInt: parsing {go_quote(text)}: invalid syntax")
        value = value * 10 + int(ch)
        if value > 0xFFFFFFFF:
            break
    if not body:
        raise InstructionError(f"strconv.ParseInt: parsing {go_quote(text)}: invalid syntax")
    value = -value if text[:1] == "-" else value
    if not -(1 << 31) <= value < 1 << 31:
        raise InstructionError(f"strconv.ParseInt: parsing {go_quote(text)}: value out of range")
    return value
