"""Dockerfile text to instruction nodes, as dockerd 20.10's classic builder reads it.

The rules are moby's (buildkit's ``frontend/dockerfile/parser``, which dockerd
20.10 vendors), kept to the letter because a Dockerfile that builds with
``docker build`` must build here, and one that fails must fail with the same
words: parser directives (``# escape=``, ``# syntax=``) only before anything
else, an unknown directive being a comment and a repeated one an error; the
escape character ending a line continues it; comment lines inside a
continued instruction are skipped; an empty continuation line is skipped with
a warning the build prints; a UTF-8 BOM and CRLF line ends are accepted.

Each instruction's arguments are split the way the classic parser splits
them for that instruction (JSON array or shell form for RUN, CMD,
ENTRYPOINT, SHELL; JSON or white-space list for COPY, ADD, VOLUME; the two
forms of ENV and LABEL; ...). Quotes and variables are left in place: the
builder removes and expands them per instruction (:mod:`.shell_lex`).
Unknown instructions parse (moby refuses them one level up,
:mod:`.instructions`). Errors here carry moby's message and, as ``line``, the
line they were found on; dockerd shows them without the line, as
``failed to parse Dockerfile: <message>`` (:func:`read_dockerfile`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass

from barge.dockerfile.shell_lex import (
    DEFAULT_ESCAPE,
    go_lower,
    is_go_space,
    trim_go_space,
    trim_left_go_space,
)
from barge.errors import InvalidParameter
from barge.goquote import go_quote

MAX_LINE_BYTES = 65535  # bufio.MaxScanTokenSize - 1: a longer line stops Go's scanner
NOT_STRING_ARRAY = "when using JSON array syntax, arrays must be comprised of strings only"
EMPTY_CONTINUATION_FINAL = "[WARNING]: Empty continuation lines will become errors in a future release."

_BOM = b"\xef\xbb\xbf"
_WHITESPACE = re.compile(r"[\t\v\f\r ]+")  # moby's reWhitespace (not Go's unicode spaces)
_GO_S = r"[\t\n\f\r ]"  # Go's regexp \s
_DIRECTIVE = re.compile(rf"#{_GO_S}*([a-zA-Z][a-zA-Z0-9]*){_GO_S}*={_GO_S}*(.+?){_GO_S}*")
_SURROGATES = re.compile("[\ud800-\udfff]")
_VALID_DIRECTIVES = ("escape", "syntax")
_SPACES, _WORD, _QUOTE = range(3)  # the phases of moby's word scanners


class DockerfileParseError(InvalidParameter):
    """The Dockerfile cannot be read; the message is moby's, ``line`` where it was found."""

    def __init__(self, message: str, line: int = 0):
        super().__init__(message)
        self.line = line


@dataclass(frozen=True)
class Node:
    """One instruction: moby's ``parser.Node`` flattened.

    ``keyword`` is lower-cased; ``flags`` are the ``--name=value`` words as
    written (quotes removed); ``args`` what moby's ``nodeArgs`` yields
    (for ONBUILD: the trigger's keyword, then its arguments); ``is_json`` says
    the arguments came from a JSON array; ``original`` is the instruction
    with its continuations joined (``Step N/M : <original>``); ``trigger``
    is ONBUILD's instruction, parsed.
    """

    keyword: str
    args: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    is_json: bool = False
    original: str = ""
    start_line: int = 0
    end_line: int = 0
    trigger: Node | None = None


@dataclass(frozen=True)
class Dockerfile:
    """The parse result: instructions in order, the escape character, warnings to print."""

    nodes: tuple[Node, ...]
    escape: str = DEFAULT_ESCAPE
    warnings: tuple[str, ...] = ()


def read_dockerfile(data: bytes | str, name: str = "Dockerfile") -> Dockerfile:
    """Parse a Dockerfile found in a build context, with dockerd's wording on failure."""
    if not data:
        raise InvalidParameter(f"the Dockerfile ({name}) cannot be empty")
    try:
        return parse(data)
    except DockerfileParseError as exc:
        raise DockerfileParseError(f"failed to parse {name}: {exc}", exc.line) from None


def parse(data: bytes | str) -> Dockerfile:
    """Parse a whole Dockerfile (moby's ``parser.Parse``); raises DockerfileParseError.

    One loop that mirrors moby's line for line, so that which line is
    skipped, joined or warned about stays checkable against it.
    """
    raw = data.encode("utf-8", "surrogateescape") if isinstance(data, str) else data
    lines = _Scanner(raw)
    directives = _Directives()
    nodes: list[Node] = []
    warnings: list[str] = []
    while (text := lines.scan()) is not None:
        text = directives.process_line(text, lines.count, strip_left=True)
        start = lines.count
        line, complete = directives.trim_continuation(text)
        if complete and not line:
            continue
        empty_continuation = False
        while not complete and (following := lines.scan()) is not None:
            text = directives.process_line(following, lines.count, strip_left=False)
            if _is_comment(following):
                continue
            if not trim_left_go_space(text):
                empty_continuation = True
                continue
            text, complete = directives.trim_continuation(text)
            line += text
        if empty_continuation:
            warnings.append("[WARNING]: Empty continuation line found in:\n    " + line)
        nodes.append(_node_from_line(line, directives, start, lines.count))
    if warnings:
        warnings.append(EMPTY_CONTINUATION_FINAL)
    if not nodes:
        raise DockerfileParseError("file with no instructions", lines.count)
    if lines.too_long:
        raise DockerfileParseError(f"dockerfile line greater than max allowed size of {MAX_LINE_BYTES}",
                                   lines.count + 1)
    return Dockerfile(tuple(nodes), directives.escape, tuple(warnings))


def parse_line(line: str, escape: str = DEFAULT_ESCAPE) -> Node:
    """One instruction's text to a node (an ONBUILD trigger; ``docker commit --change``)."""
    directives = _Directives()
    directives.set_escape(escape)
    return _node_from_line(line, directives, 0, 0)


class _Scanner:
    """Go's ``bufio.Scanner`` with ``ScanLines``: LF ends a line, one CR before it goes.

    A line over the scanner's buffer stops the scan there (``too_long``);
    the first line loses a UTF-8 byte order mark. Lines are decoded as
    UTF-8 with undecodable bytes kept (``surrogateescape``).
    """

    def __init__(self, data: bytes):
        self._lines = data.split(b"\n")
        if self._lines[-1] == b"":
            self._lines.pop()
        self.count = 0
        self.too_long = False

    def scan(self) -> str | None:
        if self.too_long or self.count >= len(self._lines):
            return None
        line = self._lines[self.count]
        if len(line) > MAX_LINE_BYTES:
            self.too_long = True
            return None
        if line.endswith(b"\r"):
            line = line[:-1]
        if self.count == 0 and line.startswith(_BOM):
            line = line[len(_BOM):]
        self.count += 1
        return line.decode("utf-8", "surrogateescape")


def _is_comment(line: str) -> bool:
    return trim_left_go_space(line).startswith("#")


class _Directives:
    """The parser directives seen so far and the escape character they set."""

    def __init__(self) -> None:
        self.done = False
        self.seen: set[str] = set()
        self.set_escape(DEFAULT_ESCAPE)

    def set_escape(self, token: str) -> None:
        if token not in ("`", "\\"):
            raise DockerfileParseError(f"invalid escape token '{token}' does not match ` or \\")
        self.escape = token
        esc = re.escape(token)
        self._continuation = re.compile(rf"([^{esc}]){esc}[ \t]*$|^{esc}[ \t]*$")

    def process_line(self, line: str, number: int, strip_left: bool) -> str:
        """moby's ``processLine``: maybe a directive; a comment line becomes empty."""
        if strip_left:
            line = trim_left_go_space(line)
        try:
            self._possible_directive(line)
        except DockerfileParseError as exc:
            raise DockerfileParseError(str(exc), number) from None
        return "" if line.startswith("#") else line

    def _possible_directive(self, line: str) -> None:
        if self.done:
            return
        match = _DIRECTIVE.fullmatch(line)
        key = match.group(1).lower() if match else ""
        if key not in _VALID_DIRECTIVES:
            self.done = True
            return
        if key in self.seen:
            raise DockerfileParseError(f"only one {key} parser directive can be used")
        self.seen.add(key)
        if key == "escape":
            self.set_escape(match.group(2))

    def trim_continuation(self, line: str) -> tuple[str, bool]:
        """The line without its continuation character, and whether the instruction ends here."""
        if self._continuation.search(line):
            return self._continuation.sub(r"\1", line), False
        return line, True


def _node_from_line(line: str, directives: _Directives, start: int, end: int) -> Node:
    keyword, flags, rest = _split_command(line)
    try:
        if keyword == "onbuild":
            trigger = _node_from_line(rest, directives, start, end) if rest else None
            args = (trigger.keyword, *trigger.args) if trigger else ()
            return Node(keyword, args, flags, False, line, start, end, trigger)
        args, is_json = _ARG_PARSERS.get(keyword, _ignore)(rest, directives)
    except DockerfileParseError as exc:
        raise DockerfileParseError(str(exc), exc.line or start) from None
    return Node(keyword, tuple(args), flags, is_json, line, start, end)


def _split_command(line: str) -> tuple[str, tuple[str, ...], str]:
    """The keyword (lower-cased), the leading ``--flags``, and the rest of the line."""
    parts = _WHITESPACE.split(trim_go_space(line), maxsplit=1)
    rest, flags = "", []
    if len(parts) == 2:
        rest, flags = _extract_flags(parts[1])
    return go_lower(parts[0]), tuple(flags), trim_go_space(rest)


def _byte_view(text: str) -> str:
    """One character per UTF-8 byte: moby walks some strings byte by byte."""
    return text.encode("utf-8", "surrogateescape").decode("latin-1")


def _from_byte_view(view: str) -> str:
    return view.encode("latin-1").decode("utf-8", "surrogateescape")


def _extract_flags(rest: str) -> tuple[str, list[str]]:
    """moby's ``extractBuilderFlags``: leading words starting ``--``, up to a bare ``--``.

    Like moby, it walks bytes: a non-ASCII byte in a flag becomes the
    Latin-1 character of that byte, and bytes 0x85 and 0xA0 count as space.
    A backslash (whatever the escape directive) escapes the next byte.
    """
    line = _byte_view(rest)
    words: list[str] = []
    word, quote, blank_ok, phase = "", "", False, _SPACES
    pos = -1
    while (pos := pos + 1) <= len(line):
        ch = line[pos] if pos < len(line) else ""
        if phase == _SPACES:
            if pos == len(line):
                break
            if is_go_space(ch):
                continue
            if not line.startswith("--", pos):
                return _from_byte_view(line[pos:]), words
            phase = _WORD
        if pos == len(line):
            if word != "--" and (blank_ok or word):
                words.append(word)
            break
        if phase == _WORD and is_go_space(ch):
            if word == "--":
                return _from_byte_view(line[pos:]), words
            if blank_ok or word:
                words.append(word)
            word, blank_ok, phase = "", False, _SPACES
        elif phase == _WORD and ch in "'\"":
            quote, blank_ok, phase = ch, True, _QUOTE
        elif phase == _QUOTE and ch == quote:
            phase = _WORD
        elif ch == "\\" and pos + 1 == len(line):
            phase = _WORD  # a backslash at the very end is dropped
        else:
            if ch == "\\":
                pos += 1
                ch = line[pos]
            word += ch
    return "", words


def _parse_words(rest: str, directives: _Directives) -> list[str]:
    """moby's ``parseWords``: split on spaces outside quotes, keeping quotes and escapes."""
    escape = directives.escape
    rest = _SURROGATES.sub("\ufffd", rest)
    words: list[str] = []
    word, quote, blank_ok, started = "", "", False, False
    pos = 0
    while pos < len(rest):
        ch = rest[pos]
        if not started:
            if is_go_space(ch):
                pos += 1
                continue
            started = True
        if not quote:
            if is_go_space(ch):
                if blank_ok or word:
                    words.append(word)
                word, blank_ok, started = "", False, False
                pos += 1
                continue
            if ch in "'\"":
                quote, blank_ok = ch, True
            elif ch == escape:
                if pos + 1 == len(rest):
                    break
                pos += 1
                word += ch
                ch = rest[pos]
            word += ch
        else:
            if ch == quote:
                quote = ""
            elif ch == escape and quote != "'":
                if pos + 1 == len(rest):
                    quote = ""
                    break
                pos += 1
                word += ch
                ch = rest[pos]
            word += ch
        pos += 1
    if started and (blank_ok or word):
        words.append(word)
    return words


def _ignore(rest: str, directives: _Directives) -> tuple[list[str], bool]:
    """Unknown instructions keep one empty argument, as moby's; they are refused when typed."""
    return [""], False


def _name_value(keyword: str) -> Callable[[str, _Directives], tuple[list[str], bool]]:
    """ENV and LABEL: ``KEY name value`` or ``KEY n1=v1 n2="v 2"``, as key, value, key, value..."""

    def parse_pairs(rest: str, directives: _Directives) -> tuple[list[str], bool]:
        words = _parse_words(rest, directives)
        if not words:
            return [], False
        if "=" not in words[0]:
            parts = _WHITESPACE.split(rest, maxsplit=1)
            if len(parts) < 2:
                raise DockerfileParseError(f"{keyword} must have two arguments")
            return parts, False
        args: list[str] = []
        for word in words:
            if "=" not in word:
                raise DockerfileParseError(
                    f"Syntax error - can't find = in {go_quote(word)}. Must be of the form: name=value")
            args.extend(word.split("=", 1))
        return args, False

    return parse_pairs


def _names_or_pairs(rest: str, directives: _Directives) -> tuple[list[str], bool]:
    """ARG: one argument per word, ``name`` or ``name=value`` (split later)."""
    return _parse_words(rest, directives), False


def _whitespace_list(rest: str, directives: _Directives) -> tuple[list[str], bool]:
    return (_WHITESPACE.split(rest) if rest else []), False


def _string(rest: str, directives: _Directives) -> tuple[list[str], bool]:
    return ([rest] if rest else []), False


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


_JSON = json.JSONDecoder(parse_constant=_reject_constant)


def _json_array(rest: str) -> list[str] | None:
    """The strings of a JSON array, or None when ``rest`` is not one (Go's decoder rules).

    Text after the array is ignored, as Go's ``json.Decoder`` ignores it;
    an array holding anything but strings is an error, not a fallback.
    """
    rest = trim_left_go_space(rest)
    if not rest.startswith("["):
        return None
    try:
        value, _ = _JSON.raw_decode(rest)
    except ValueError:
        return None
    except RecursionError:  # only a nested array gets this deep: Go decodes it, then refuses it
        raise DockerfileParseError(NOT_STRING_ARRAY) from None
    if not all(isinstance(item, str) for item in value):
        raise DockerfileParseError(NOT_STRING_ARRAY)
    return [_SURROGATES.sub("\ufffd", item) for item in value]


def _maybe_json(rest: str, directives: _Directives) -> tuple[list[str], bool]:
    """RUN, CMD, ENTRYPOINT, SHELL: a JSON array, else the whole text as one argument."""
    if not rest:
        return [], False
    array = _json_array(rest)
    return ([rest], False) if array is None else (array, True)


def _maybe_json_list(rest: str, directives: _Directives) -> tuple[list[str], bool]:
    """COPY, ADD, VOLUME: a JSON array, else the white-space separated words."""
    array = _json_array(rest)
    return _whitespace_list(rest, directives) if array is None else (array, True)


def _health(rest: str, directives: _Directives) -> tuple[list[str], bool]:
    """HEALTHCHECK: the type word (split at a byte moby sees as space), then RUN's forms."""
    view = _byte_view(rest)
    sep = 0
    while sep < len(view) and not is_go_space(view[sep]):
        sep += 1
    if sep == 0:
        return [], False
    following = sep
    while following < len(view) and is_go_space(view[following]):
        following += 1
    command, is_json = _maybe_json(_from_byte_view(view[following:]), directives)
    return [_from_byte_view(view[:sep]), *command], is_json


_ARG_PARSERS: dict[str, Callable[[str, _Directives], tuple[list[str], bool]]] = {
    "add": _maybe_json_list,
    "arg": _names_or_pairs,
    "cmd": _maybe_json,
    "copy": _maybe_json_list,
    "entrypoint": _maybe_json,
    "env": _name_value("ENV"),
    "expose": _whitespace_list,
    "from": _whitespace_list,
    "healthcheck": _health,
    "label": _name_value("LABEL"),
    "maintainer": _string,
    "run": _maybe_json,
    "shell": _maybe_json,
    "stopsignal": _string,
    "user": _string,
    "volume": _maybe_json_list,
    "workdir": _string,
}

