"""JSON read the way Go's ``encoding/json`` reads it into moby's structs.

dockerd decodes every request body with Go's decoder, which checks each
field against the type of the struct field it fills and names that field
when it does not fit. Here the same check is data: a schema is a tree of the
types below (:data:`BOOL`, :class:`Str`, :class:`Int`, :class:`List`,
:class:`Map`, :class:`Obj`, :class:`StrSlice`, :class:`Array`,
:class:`Nullable`), and :func:`decode` walks a parsed value along it,
returning the checked value or raising :class:`~barge.errors.InvalidParameter`
with Go's words::

    json: cannot unmarshal string into Go struct field HostConfig.HostConfig.Dns of type []string

Go's rules, kept: object keys match fields exactly, else case-insensitively;
unknown keys are ignored (and left out of the result); null leaves a field
unset, and gives a list element or map value its type's zero value; an
integer field takes only an integer literal within its type's range
(``1e3``, ``1.0`` and ``1e300`` are no int64); lone UTF-16 surrogates become
U+FFFD, as Go decodes them. One rule of barge's on top: no string may hold a
NUL byte — every string of a body ends up a path, an argument, a variable
or a name the kernel reads as a C string (dockerd fails at start with a 500).

:func:`loads` is the parser in front: it refuses nesting deeper than
:data:`MAX_DEPTH` before Python's recursive parser sees it, keeps the text of
number literals (Go quotes it: ``number 1e300``), and refuses ``NaN`` and
``Infinity``, which are not JSON. Nothing here imports server code: the API,
the graph's filters and the registry's auth headers share it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

from barge.errors import InvalidParameter

#: Deepest nesting :func:`loads` accepts. moby's deepest body (a mount's
#: volume driver options in a create request) nests 7 levels; 100 leaves
#: room for any real client and stays far below Python's recursion limit.
MAX_DEPTH = 100

# ---------------------------------------------------------------------------
# parsing
# ---------------------------------------------------------------------------


class Number(float):
    """A JSON number that is not a plain int64-sized integer, with its text."""

    literal: str

    def __new__(cls, text: str) -> "Number":
        number = super().__new__(cls, text)
        number.literal = text
        return number


def _integer(text: str) -> int | Number:
    # Longer than any 64-bit integer: out of every Go int's range, and too
    # long for int() (Python limits it to 4300 digits).
    return int(text) if len(text) <= 20 else Number(text)


def _not_json(text: str) -> Any:
    raise ValueError(f"invalid character {text[0]!r} looking for beginning of value")


_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")  # +1 and -1 as signed bytes


def nesting(text: str) -> int:
    """How deep the brackets of ``text`` nest, strings left out: at C speed, no recursion."""
    skeleton = _NOT_BRACKET.sub("", _STRING.sub("", text)).encode()
    return max(accumulate(memoryview(skeleton.translate(_STEPS)).cast("b")), default=0)


def loads(data: bytes | str) -> Any:
    """Parse JSON text as Go would accept it; :class:`ValueError` says why not."""
    text = data.decode() if isinstance(data, (bytes, bytearray)) else data
    if nesting(text) > MAX_DEPTH:
        raise ValueError(f"nested deeper than {MAX_DEPTH} levels")
    try:
        return json.loads(text, parse_float=Number, parse_int=_integer, parse_constant=_not_json)
    except RecursionError:  # cannot happen after the check above; no 500 if it ever does
        raise ValueError(f"nested deeper than {MAX_DEPTH} levels") from None


# ---------------------------------------------------------------------------
# where a value sits, and Go's message when it does not fit
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Path:
    """A value's place as Go names it: the innermost struct, and the fields from the top."""

    struct: str = ""
    fields: tuple[str, ...] = ()

    def field(self, struct: str, name: str) -> "Path":
        return Path(struct, self.fields + (name,))

    def where(self) -> str:
        return f"Go struct field {self.struct}.{'.'.join(self.fields)}" if self.fields else "Go value"

    def mismatch(self, what: str, go_type: str) -> InvalidParameter:
        return InvalidParameter(f"json: cannot unmarshal {what} into {self.where()} of type {go_type}")


ROOT = Path()


def _kind(value: Any) -> str:
    """The JSON kind Go names in its message."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


_SURROGATE = re.compile("[\ud800-\udfff]")


def _text(value: str, path: Path) -> str:
    if "\0" in value:
        raise InvalidParameter(f"json: invalid string for {path.where()}: a NUL byte is not allowed")
    return _SURROGATE.sub("\ufffd", value)


# ---------------------------------------------------------------------------
# the types
# ---------------------------------------------------------------------------


class Type:
    """A Go type: its name as Go prints it, its zero value, and its check."""

    go: str = ""

    def zero(self) -> Any:
        raise NotImplementedError

    def check(self, value: Any, path: Path) -> Any:
        """``value`` (not null) if it fits, else Go's error."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{self.go}>"


def decode(schema: Type, value: Any, path: Path = ROOT) -> Any:
    """``value`` checked against ``schema``; null gives the zero value."""
    return schema.zero() if value is None else schema.check(value, path)


class Bool(Type):
    go = "bool"

    def zero(self) -> bool:
        return False

    def check(self, value: Any, path: Path) -> bool:
        if isinstance(value, bool):
            return value
        raise path.mismatch(_kind(value), self.go)


class Str(Type):
    """``string``, or a named string type (``container.NetworkMode``)."""

    def __init__(self, go: str = "string") -> None:
        self.go = go

    def zero(self) -> str:
        return ""

    def check(self, value: Any, path: Path) -> str:
        if isinstance(value, str):
            return _text(value, path)
        raise path.mismatch(_kind(value), self.go)


class Int(Type):
    """An integer type and its range: a float or an out-of-range literal is quoted."""

    def __init__(self, go: str, low: int, high: int) -> None:
        self.go, self.low, self.high = go, low, high

    def zero(self) -> int:
        return 0

    def check(self, value: Any, path: Path) -> int:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise path.mismatch(_kind(value), self.go)
        if type(value) is int and self.low <= value <= self.high:
            return value
        raise path.mismatch(f"number {getattr(value, 'literal', value)}", self.go)


class List(Type):
    """``[]T``: a JSON array."""

    def __init__(self, of: Type, go: str = "") -> None:
        self.of, self.go = of, go or "[]" + of.go

    def zero(self) -> list:
        return []

    def check(self, value: Any, path: Path) -> list:
        if not isinstance(value, list):
            raise path.mismatch(_kind(value), self.go)
        return [decode(self.of, item, path) for item in value]


class Array(Type):
    """``[N]T``: extra elements are dropped and missing ones are zero, as Go does."""

    def __init__(self, of: Type, length: int) -> None:
        self.of, self.length, self.go = of, length, f"[{length}]{of.go}"

    def zero(self) -> list:
        return [self.of.zero() for _ in range(self.length)]

    def check(self, value: Any, path: Path) -> list:
        if not isinstance(value, list):
            raise path.mismatch(_kind(value), self.go)
        items = [decode(self.of, item, path) for item in value[: self.length]]
        return items + [self.of.zero() for _ in range(self.length - len(items))]


class Map(Type):
    """``map[string]T``: a JSON object with any keys."""

    def __init__(self, of: Type, go: str = "") -> None:
        self.of, self.go = of, go or "map[string]" + of.go

    def zero(self) -> dict:
        return {}

    def check(self, value: Any, path: Path) -> dict:
        if not isinstance(value, dict):
            raise path.mismatch(_kind(value), self.go)
        return {_text(key, path): decode(self.of, item, path) for key, item in value.items()}


class Obj(Type):
    """A struct: its fields by JSON name. Unknown keys are ignored, null fields left unset."""

    def __init__(self, go: str, fields: dict[str, Type]) -> None:
        self.go, self.fields = go, fields
        self.name = go.rpartition(".")[2]  # Go's messages name the struct without its package
        self._folded = {name.casefold(): name for name in reversed(fields)}

    def zero(self) -> dict:
        return {}

    def check(self, value: Any, path: Path) -> dict:
        if not isinstance(value, dict):
            raise path.mismatch(_kind(value), self.go)
        out: dict[str, Any] = {}
        for key, item in value.items():
            name = key if key in self.fields else self._folded.get(key.casefold())
            if name is not None and item is not None:
                out[name] = self.fields[name].check(item, path.field(self.name, name))
        return out


class StrSlice(Type):
    """moby's ``strslice.StrSlice``: a string or an array of strings, always a list here.

    Its decoder tries ``[]string`` and then ``string``, so a mismatch is
    reported against ``string``, as dockerd does.
    """

    go = "strslice.StrSlice"

    def zero(self) -> list:
        return []

    def check(self, value: Any, path: Path) -> list[str]:
        if isinstance(value, str):
            return [_text(value, path)]
        if isinstance(value, list) and all(item is None or isinstance(item, str) for item in value):
            return [_text(item or "", path) for item in value]
        raise path.mismatch(_kind(value), "string")


class Nullable(Type):
    """``*T`` where null means something of its own (build args): null stays None."""

    def __init__(self, of: Type) -> None:
        self.of, self.go = of, of.go

    def zero(self) -> None:
        return None

    def check(self, value: Any, path: Path) -> Any:
        return self.of.check(value, path)


BOOL = Bool()
STRING = Str()
INT64 = Int("int64", -(1 << 63), (1 << 63) - 1)
INT = Int("int", -(1 << 63), (1 << 63) - 1)  # Go's int on the 64-bit platforms dockerd runs on
UINT = Int("uint", 0, (1 << 64) - 1)
UINT16 = Int("uint16", 0, (1 << 16) - 1)
UINT64 = Int("uint64", 0, (1 << 64) - 1)
DURATION = Int("time.Duration", -(1 << 63), (1 << 63) - 1)  # integer nanoseconds
FILE_MODE = Int("fs.FileMode", 0, (1 << 32) - 1)
STRSLICE = StrSlice()

__all__ = [
    "Array", "BOOL", "Bool", "DURATION", "FILE_MODE", "INT", "INT64", "Int", "List", "MAX_DEPTH", "Map",
    "Nullable", "Number", "Obj", "Path", "ROOT", "STRING", "STRSLICE", "Str", "StrSlice", "Type", "UINT",
    "UINT16", "UINT64", "decode", "loads", "nesting",
]
