"""The subset of Go's ``text/template`` that ``--format`` users type.

Supported: text and actions with ``{{-``/``-}}`` trim markers and comments;
fields (``.A.B``), ``.``, ``$``, variables (``$x := ...``, ``$x = ...``);
string, raw-string, number, ``true``/``false``/``nil`` literals; pipes
(``.X | json``) and parenthesised pipelines; ``if``/``else if``/``else``,
``range`` (with ``$i, $e :=``) and ``with``, each closed by ``end``; Go's
builtins (``and or not len index print printf println eq ne lt le gt ge
slice``) and docker's (``json join split title lower upper pad truncate``).

Values print as Go's ``fmt`` prints them: maps as ``map[k:v]`` with sorted
keys, lists as ``[a b]``, a JSON null as ``<nil>`` and a missing map key as
``<no value>``. Errors read like Go's (``template: :1:2: executing "" at
<.Foo>: can't evaluate field Foo in type ...``) because users paste them
into searches.
"""

from __future__ import annotations

import json
import re
from typing import Any, Callable


class TemplateError(Exception):
    """A parse or execution error, worded as Go's text/template words it."""


class _NoValue:
    """A missing map key: prints ``<no value>``, is false, ranges over nothing."""

    _instance = None

    def __new__(cls):
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "<no value>"


NO_VALUE = _NoValue()


class Struct:
    """Base for typed row contexts (an image row, a history row).

    Unlike a map, asking a struct for a field it lacks is an error, as in Go.
    Subclasses list their fields in ``FIELDS`` and may set ``GO_TYPE`` for
    the error text.
    """

    GO_TYPE = "struct"
    FIELDS: tuple[str, ...] = ()

    def template_field(self, name: str) -> Any:
        if name not in self.FIELDS:
            raise AttributeError(name)
        return getattr(self, name)

    def to_json(self) -> dict:
        """``{{json .}}`` of a row: every field, sorted, as docker's MarshalJSON."""
        return {name: getattr(self, name) for name in sorted(self.FIELDS)}


# ---------------------------------------------------------------- lexing

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<decl>:=)
  | (?P<assign>=)
  | (?P<pipe>\|)
  | (?P<lparen>\()
  | (?P<rparen>\))
  | (?P<comma>,)
  | (?P<string>"(?:[^"\\\n]|\\.)*")
  | (?P<raw>`[^`]*`)
  | (?P<char>'(?:[^'\\]|\\.)+')
  | (?P<number>[+-]?(?:0[xX][0-9a-fA-F_]+|(?:\d[\d_]*)?\.?\d+(?:[eE][+-]?\d+)?))
  | (?P<field>(?:\.[A-Za-z_][A-Za-z0-9_]*)+)
  | (?P<dot>\.)
  | (?P<variable>\$[A-Za-z0-9_]*)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
    """,
    re.VERBOSE,
)

_KEYWORDS = {"if", "else", "end", "range", "with", "define", "template", "block", "break", "continue"}


class _Record:
    """A positional record for tokens and parse nodes: what ``@dataclass``
    gave them, without its generated code (~0.5 ms a class at import, paid
    by every ``barge ps``). Fields are the annotations, parents' first."""

    _fields: tuple[str, ...] = ()

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        cls._fields = cls._fields + tuple(cls.__dict__.get("__annotations__", ()))

    def __init__(self, *args: Any) -> None:
        if len(args) != len(self._fields):
            raise TypeError(f"{type(self).__name__} takes {len(self._fields)} fields, got {len(args)}")
        for name, value in zip(self._fields, args):
            setattr(self, name, value)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in self._fields)

    def __repr__(self) -> str:
        inner = ", ".join(f"{n}={getattr(self, n)!r}" for n in self._fields)
        return f"{type(self).__name__}({inner})"


class _Tok(_Record):
    kind: str
    text: str
    pos: int


class _Text(_Record):
    text: str
    pos: int


class _Action(_Record):
    tokens: list[_Tok]
    pos: int
    src: str


def _lex(src: str) -> list[_Text | _Action]:
    items: list[_Text | _Action] = []
    i = 0
    trim_next = False
    while True:
        j = src.find("{{", i)
        text = src[i:] if j < 0 else src[i:j]
        if trim_next:
            text = text.lstrip(" \t\r\n")
        trim_next = False
        if j < 0:
            if text:
                items.append(_Text(text, i))
            return items
        start = j + 2
        if src.startswith("-", start) and start + 1 < len(src) and src[start + 1] in " \t\r\n":
            text = text.rstrip(" \t\r\n")
            start += 2
        if text:
            items.append(_Text(text, i))
        close = _find_close(src, start)
        if close < 0:
            raise TemplateError(f"template: :{_line(src, j)}: unclosed action")
        end = close
        if close >= 2 and src[close - 1] == "-" and src[close - 2] in " \t\r\n":
            trim_next = True
            end = close - 2
        body = src[start:end]
        stripped = body.strip()
        if stripped.startswith("/*"):
            if not stripped.endswith("*/"):
                raise TemplateError(f"template: :{_line(src, j)}: unclosed comment")
        else:
            items.append(_Action(_tokenize(src, body, start), j, body.strip()))
        i = close + 2


def _find_close(src: str, start: int) -> int:
    """Index of the ``}}`` closing the action at ``start``, skipping quotes."""
    k = start
    while k < len(src):
        c = src[k]
        if c in "\"'`":
            end = k + 1
            while end < len(src) and src[end] != c:
                end += 2 if (src[end] == "\\" and c != "`") else 1
            k = end + 1
            continue
        if src.startswith("}}", k):
            return k
        if c == "\n" and not src[start:k].strip().startswith("/*"):
            pass
        k += 1
    return -1


def _tokenize(src: str, body: str, offset: int) -> list[_Tok]:
    toks = []
    k = 0
    while k < len(body):
        m = _TOKEN.match(body, k)
        if not m:
            raise TemplateError(
                f"template: :{_line(src, offset + k)}: unexpected {body[k]!r} in command"
            )
        kind = m.lastgroup
        if kind != "space":
            toks.append(_Tok(kind, m.group(), offset + k))
        k = m.end()
    return toks


def _line(src: str, pos: int) -> int:
    return src.count("\n", 0, pos) + 1


def _where(src: str, pos: int) -> str:
    line = _line(src, pos)
    col = pos - (src.rfind("\n", 0, pos) + 1)
    return f"{line}:{col}"


# ---------------------------------------------------------------- parsing


class _Node(_Record):
    pos: int
    src: str


class _Field(_Node):
    names: list[str]


class _Dot(_Node):
    pass


class _Var(_Node):
    name: str
    names: list[str]


class _Ident(_Node):
    name: str


class _Literal(_Node):
    value: Any


class _Chain(_Node):
    node: Any
    names: list[str]


class _Command(_Node):
    args: list[Any]


class _Pipe(_Node):
    decls: list[str]
    assign: bool
    cmds: list[_Command]


class _ActionNode(_Node):
    pipe: _Pipe | None


class _Branch(_Node):
    kind: str
    pipe: _Pipe | None
    body: list[Any]
    orelse: list[Any]


class _TextNode(_Node):
    pass


class _Parser:
    def __init__(self, src: str, funcs: dict[str, Callable]):
        self.src = src
        self.funcs = funcs
        self.items = _lex(src)
        self.i = 0

    def error(self, pos: int, msg: str) -> TemplateError:
        return TemplateError(f"template: :{_line(self.src, pos)}: {msg}")

    def parse(self) -> list[Any]:
        body, stop = self.parse_list()
        if stop is not None:
            raise self.error(stop.pos, f"unexpected {{{{{stop.src}}}}}")
        return body

    def parse_list(self) -> tuple[list[Any], _Action | None]:
        """Nodes up to an ``else``/``end`` action (returned, unconsumed meaning)."""
        nodes: list[Any] = []
        while self.i < len(self.items):
            item = self.items[self.i]
            self.i += 1
            if isinstance(item, _Text):
                nodes.append(_TextNode(item.pos, item.text))
                continue
            toks = item.tokens
            if not toks:
                raise self.error(item.pos, "missing value for command")
            head = toks[0]
            if head.kind == "ident" and head.text in ("else", "end"):
                return nodes, item
            if head.kind == "ident" and head.text in ("if", "range", "with"):
                nodes.append(self.parse_branch(item))
                continue
            if head.kind == "ident" and head.text in ("define", "template", "block", "break", "continue"):
                raise self.error(item.pos, f"{{{{{head.text}}}}} is not supported by barge's templates")
            nodes.append(_ActionNode(item.pos, item.src, self.parse_pipe(toks, item.pos, decl_ok=True)))
        return nodes, None

    def parse_branch(self, item: _Action, kind: str | None = None, toks: list[_Tok] | None = None) -> _Branch:
        toks = item.tokens[1:] if toks is None else toks
        kind = kind or item.tokens[0].text
        if not toks:
            raise self.error(item.pos, f"missing value for {kind}")
        pipe = self.parse_pipe(toks, item.pos, decl_ok=True, range_decl=(kind == "range"))
        body, stop = self.parse_list()
        if stop is None:
            raise self.error(len(self.src), "unexpected EOF")
        orelse: list[Any] = []
        if stop.tokens[0].text == "else":
            rest = stop.tokens[1:]
            if rest and rest[0].kind == "ident" and rest[0].text in ("if", "with") and kind in ("if", "with"):
                # `else if` nests a branch that shares our `end`.
                orelse = [self.parse_branch(stop, rest[0].text, rest[1:])]
                return _Branch(item.pos, item.src, kind, pipe, body, orelse)
            if rest:
                raise self.error(stop.pos, "unexpected tokens after else")
            orelse, stop = self.parse_list()
            if stop is None:
                raise self.error(len(self.src), "unexpected EOF")
            if stop.tokens[0].text != "end" or len(stop.tokens) > 1:
                raise self.error(stop.pos, f"expected end; found {{{{{stop.src}}}}}")
        elif len(stop.tokens) > 1:
            raise self.error(stop.pos, "unexpected tokens after end")
        return _Branch(item.pos, item.src, kind, pipe, body, orelse)

    def parse_pipe(self, toks: list[_Tok], pos: int, decl_ok: bool = False, range_decl: bool = False) -> _Pipe:
        decls: list[str] = []
        assign = False
        k = 0
        if decl_ok and toks and toks[0].kind == "variable":
            if len(toks) > 1 and toks[1].kind in ("decl", "assign"):
                decls, assign, k = [toks[0].text], toks[1].kind == "assign", 2
            elif range_decl and len(toks) > 3 and toks[1].kind == "comma" and toks[2].kind == "variable" and toks[3].kind in ("decl", "assign"):
                decls, assign, k = [toks[0].text, toks[2].text], toks[3].kind == "assign", 4
        cmds: list[_Command] = []
        current: list[Any] = []
        start = toks[k].pos if k < len(toks) else pos
        while k < len(toks):
            tok = toks[k]
            if tok.kind == "pipe":
                if not current:
                    raise self.error(tok.pos, "missing command")
                cmds.append(_Command(start, self._src(start, tok.pos), current))
                current = []
                k += 1
                start = toks[k].pos if k < len(toks) else tok.pos
                continue
            node, k = self.parse_operand(toks, k)
            current.append(node)
        if not current:
            raise self.error(pos, "missing value for command")
        end = toks[-1].pos + len(toks[-1].text)
        cmds.append(_Command(start, self._src(start, end), current))
        return _Pipe(pos, self._src(pos, end), decls, assign, cmds)

    def _src(self, a: int, b: int) -> str:
        return self.src[a:b].strip()

    def parse_operand(self, toks: list[_Tok], k: int) -> tuple[Any, int]:
        tok = toks[k]
        kind = tok.kind
        if kind == "field":
            node: Any = _Field(tok.pos, tok.text, tok.text[1:].split("."))
            k += 1
        elif kind == "dot":
            node, k = _Dot(tok.pos, "."), k + 1
        elif kind == "variable":
            node, k = _Var(tok.pos, tok.text, tok.text, []), k + 1
            if k < len(toks) and toks[k].kind == "field" and toks[k].pos == tok.pos + len(tok.text):
                node.names = toks[k].text[1:].split(".")
                node.src += toks[k].text
                k += 1
        elif kind == "ident":
            if tok.text in ("true", "false"):
                node = _Literal(tok.pos, tok.text, tok.text == "true")
            elif tok.text == "nil":
                node = _Literal(tok.pos, tok.text, None)
            elif tok.text in _KEYWORDS:
                raise self.error(tok.pos, f"unexpected {tok.text!r} in command")
            elif tok.text not in self.funcs:
                raise self.error(tok.pos, f'function "{tok.text}" not defined')
            else:
                node = _Ident(tok.pos, tok.text, tok.text)
            k += 1
        elif kind in ("string", "raw", "char", "number"):
            node, k = _Literal(tok.pos, tok.text, _literal(tok, self)), k + 1
        elif kind == "lparen":
            depth, j = 1, k + 1
            while j < len(toks) and depth:
                depth += {"lparen": 1, "rparen": -1}.get(toks[j].kind, 0)
                j += 1
            if depth:
                raise self.error(tok.pos, "unclosed left paren")
            inner = toks[k + 1 : j - 1]
            node = self.parse_pipe(inner, tok.pos)
            node.src = "(" + self._src(tok.pos + 1, toks[j - 1].pos) + ")"
            k = j
            if k < len(toks) and toks[k].kind == "field" and toks[k].pos == toks[j - 1].pos + 1:
                node = _Chain(tok.pos, node.src + toks[k].text, node, toks[k].text[1:].split("."))
                k += 1
        else:
            raise self.error(tok.pos, f"unexpected {tok.text!r} in command")
        return node, k


def _literal(tok: _Tok, parser: _Parser) -> Any:
    text = tok.text
    if tok.kind == "raw":
        return text[1:-1]
    if tok.kind == "string":
        try:
            return json.loads(text)
        except ValueError:
            import ast

            return ast.literal_eval(text)
    if tok.kind == "char":
        import ast

        return ord(ast.literal_eval(text))
    clean = text.replace("_", "")
    try:
        if clean.lower().lstrip("+-").startswith("0x"):
            return int(clean, 16)
        if re.fullmatch(r"[+-]?\d+", clean):
            return int(clean)
        return float(clean)
    except ValueError:
        raise parser.error(tok.pos, f"bad number syntax: {text!r}") from None


# ---------------------------------------------------------------- printing


def go_str(value: Any) -> str:
    """``fmt.Sprint(value)`` for values decoded from JSON."""
    if value is NO_VALUE:
        return "<no value>"
    if value is None:
        return "<nil>"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return _go_float(value)
    if isinstance(value, (list, tuple)):
        return "[" + " ".join(go_str(v) for v in value) + "]"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{go_str(k)}:{go_str(value[k])}" for k in sorted(value, key=str)) + "]"
    if isinstance(value, Struct):
        return "{" + " ".join(go_str(getattr(value, f)) for f in value.FIELDS) + "}"
    return str(value)


def _go_float(value: float) -> str:
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"
    if value == int(value) and abs(value) < 1e21:
        return str(int(value))
    text = repr(value)
    if "e" in text:
        mant, exp = text.split("e")
        sign = "-" if exp.startswith("-") else "+"
        return f"{mant}e{sign}{abs(int(exp)):02d}"
    return text


def go_json(value: Any) -> str:
    """docker's ``json`` template function (no HTML escaping, no newline)."""
    if isinstance(value, Struct):
        # docker marshals row contexts with json.Marshal first: HTML is escaped.
        text = json.dumps(value.to_json(), separators=(",", ":"), ensure_ascii=False)
        return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return json.dumps(_plain(value), separators=(",", ":"), ensure_ascii=False)


def _plain(value: Any) -> Any:
    if value is NO_VALUE:
        return None
    if isinstance(value, Struct):
        return value.to_json()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def truth(value: Any) -> bool:
    """Go's template truth: zero values and empty containers are false."""
    if value is NO_VALUE or value is None:
        return False
    if isinstance(value, (bool, int, float, str, list, tuple, dict)):
        return bool(value)
    return True


def _type_name(value: Any) -> str:
    if value is NO_VALUE or value is None:
        return "interface {}"
    if isinstance(value, Struct):
        return value.GO_TYPE
    return {
        bool: "bool", int: "int", float: "float64", str: "string",
        list: "[]interface {}", tuple: "[]interface {}", dict: "map[string]interface {}",
    }.get(type(value), type(value).__name__)


# ---------------------------------------------------------------- functions


def _sprint(*args: Any) -> str:
    out = []
    for i, arg in enumerate(args):
        if i and not isinstance(arg, str) and not isinstance(args[i - 1], str):
            out.append(" ")
        out.append(go_str(arg))
    return "".join(out)


_VERB = re.compile(r"%([-+# 0]*)(\d+|\*)?(?:\.(\d+|\*)?)?([a-zA-Z%])")


def sprintf(fmt: str, *args: Any) -> str:
    """Go's ``fmt.Sprintf`` for the verbs people use in formats."""
    out: list[str] = []
    pos = 0
    argi = 0
    for m in _VERB.finditer(fmt):
        out.append(fmt[pos : m.start()])
        pos = m.end()
        flags, width, prec, verb = m.groups()
        if verb == "%":
            out.append("%")
            continue
        if argi >= len(args):
            out.append(f"%!{verb}(MISSING)")
            continue
        arg = args[argi]
        argi += 1
        out.append(_format_one(arg, flags, width, prec, verb))
    out.append(fmt[pos:])
    if argi < len(args):
        extra = ", ".join(f"{_type_name(a)}={go_str(a)}" for a in args[argi:])
        out.append(f"%!(EXTRA {extra})")
    return "".join(out)


def _format_one(arg: Any, flags: str, width: str | None, prec: str | None, verb: str) -> str:
    align = "<" if "-" in flags else ">"
    w = width or ""
    try:
        if verb in "sv":
            text = go_str(arg)
            if prec:
                text = text[: int(prec)]
        elif verb == "q":
            text = json.dumps(go_str(arg), ensure_ascii=False)
        elif verb == "t":
            text = go_str(arg) if isinstance(arg, bool) else f"%!t({_type_name(arg)}={go_str(arg)})"
        elif verb == "d":
            if isinstance(arg, bool) or not isinstance(arg, (int, float)):
                return f"%!d({_type_name(arg)}={go_str(arg)})"
            sign = "+" if "+" in flags else ""
            zero = "0" if "0" in flags and "-" not in flags else ""
            return format(int(arg), f"{align if not zero else ''}{sign}{zero}{w}d")
        elif verb in "xX":
            if isinstance(arg, str):
                text = arg.encode().hex()
            elif isinstance(arg, int):
                text = format(arg, "x")
            else:
                return f"%!{verb}({_type_name(arg)}={go_str(arg)})"
            if verb == "X":
                text = text.upper()
        elif verb in "feEgG":
            if isinstance(arg, bool) or not isinstance(arg, (int, float)):
                return f"%!{verb}({_type_name(arg)}={go_str(arg)})"
            p = f".{prec}" if prec else (".6" if verb in "feE" else "")
            sign = "+" if "+" in flags else ""
            return format(float(arg), f"{align}{sign}{w}{p}{verb}")
        else:
            return f"%!{verb}({_type_name(arg)}={go_str(arg)})"
    except ValueError:
        return f"%!{verb}({_type_name(arg)}={go_str(arg)})"
    return format(text, f"{align}{w}")


def _index(item: Any, *keys: Any) -> Any:
    for key in keys:
        if isinstance(item, dict):
            item = item.get(key)
        elif isinstance(item, (list, tuple, str)):
            if not isinstance(key, int) or isinstance(key, bool):
                raise ValueError(f"cannot index slice/array with type {_type_name(key)}")
            if not 0 <= key < len(item):
                raise ValueError(f"index out of range: {key}")
            item = item[key]
        elif item is None or item is NO_VALUE:
            raise ValueError("index of untyped nil")
        else:
            raise ValueError(f"can't index item of type {_type_name(item)}")
    return item


def _slice(item: Any, *idx: int) -> Any:
    if not isinstance(item, (list, tuple, str)):
        raise ValueError(f"can't slice item of type {_type_name(item)}")
    if len(idx) > 2:
        raise ValueError("too many slice indexes")
    start = idx[0] if idx else 0
    end = idx[1] if len(idx) > 1 else len(item)
    if not 0 <= start <= end <= len(item):
        raise ValueError(f"index out of range: {end if end > len(item) else start}")
    return item[start:end]


def _len(item: Any) -> int:
    if isinstance(item, (list, tuple, dict, str)):
        return len(item)
    raise ValueError(f"len of type {_type_name(item)}")


def _eq(a: Any, *others: Any) -> bool:
    if not others:
        raise ValueError("missing argument for comparison")
    return any(_cmp_ok(a, b) and a == b for b in others)


def _cmp_ok(a: Any, b: Any) -> bool:
    if a is NO_VALUE or b is NO_VALUE:
        raise ValueError("invalid type for comparison")
    num = (int, float)
    if isinstance(a, num) and isinstance(b, num) and not isinstance(a, bool) and not isinstance(b, bool):
        return True
    if type(a) is not type(b) and a is not None and b is not None:
        raise ValueError("incompatible types for comparison")
    return True


def _order(op: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def compare(a: Any, b: Any) -> bool:
        _cmp_ok(a, b)
        if isinstance(a, (bool, list, dict, type(None))):
            raise ValueError("invalid type for comparison")
        return op(a, b)

    return compare


def _join(items: Any, sep: str) -> str:
    if not isinstance(items, (list, tuple)):
        raise ValueError(f"wrong type for value; expected []string; got {_type_name(items)}")
    return sep.join(go_str(i) for i in items)


def _title(text: str) -> str:
    return re.sub(r"(^|(?<=[^\w]))(\w)", lambda m: m.group(2).upper(), text)


def _pad(text: Any, left: int, right: int) -> str:
    return " " * left + go_str(text) + " " * right


def _truncate(text: Any, length: int) -> str:
    return go_str(text)[:length]


def _and(*args: Any) -> Any:
    for arg in args:
        if not truth(arg):
            return arg
    return args[-1]


def _or(*args: Any) -> Any:
    for arg in args:
        if truth(arg):
            return arg
    return args[-1]


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "and": _and,
    "or": _or,
    "not": lambda v: not truth(v),
    "len": _len,
    "index": _index,
    "slice": _slice,
    "print": _sprint,
    "printf": sprintf,
    "println": lambda *a: " ".join(go_str(x) for x in a) + "\n",
    "eq": _eq,
    "ne": lambda a, b: not _eq(a, b),
    "lt": _order(lambda a, b: a < b),
    "le": _order(lambda a, b: a <= b),
    "gt": _order(lambda a, b: a > b),
    "ge": _order(lambda a, b: a >= b),
    # docker's additions (cli/templates)
    "json": go_json,
    "join": _join,
    "split": lambda s, sep: go_str(s).split(sep) if sep else list(go_str(s)),
    "title": lambda s: _title(go_str(s)),
    "lower": lambda s: go_str(s).lower(),
    "upper": lambda s: go_str(s).upper(),
    "pad": _pad,
    "truncate": _truncate,
}


# ---------------------------------------------------------------- execution


class Template:
    """A parsed template; :meth:`execute` renders it against one value."""

    def __init__(self, source: str, funcs: dict[str, Callable[..., Any]] | None = None):
        self.source = source
        self.funcs = dict(FUNCTIONS)
        if funcs:
            self.funcs.update(funcs)
        self.tree = _Parser(source, self.funcs).parse()

    def execute(self, data: Any) -> str:
        out: list[str] = []
        _Exec(self, out, {"$": data}).walk_list(self.tree, data)
        return "".join(out)


def parse(source: str, funcs: dict[str, Callable[..., Any]] | None = None) -> Template:
    return Template(source, funcs)


class _Exec:
    def __init__(self, tmpl: Template, out: list[str], variables: dict[str, Any]):
        self.tmpl = tmpl
        self.out = out
        self.scopes: list[dict[str, Any]] = [variables]

    def error(self, node: _Node, msg: str) -> TemplateError:
        where = _where(self.tmpl.source, node.pos)
        return TemplateError(f'template: :{where}: executing "" at <{node.src}>: {msg}')

    # variables --------------------------------------------------------
    def lookup(self, node: _Var) -> Any:
        for scope in reversed(self.scopes):
            if node.name in scope:
                return scope[node.name]
        raise self.error(node, f"undefined variable: {node.name}")

    def set_var(self, name: str, value: Any, assign: bool, node: _Node) -> None:
        if assign:
            for scope in reversed(self.scopes):
                if name in scope:
                    scope[name] = value
                    return
            raise self.error(node, f"undefined variable: {name}")
        self.scopes[-1][name] = value

    # walking ----------------------------------------------------------
    def walk_list(self, nodes: list[Any], dot: Any) -> None:
        for node in nodes:
            self.walk(node, dot)

    def walk(self, node: Any, dot: Any) -> None:
        if isinstance(node, _TextNode):
            self.out.append(node.src)
        elif isinstance(node, _ActionNode):
            value = self.eval_pipe(node.pipe, dot)
            if not node.pipe.decls:
                self.out.append(go_str(value))
        elif isinstance(node, _Branch):
            self.walk_branch(node, dot)

    def scoped(self, nodes: list[Any], dot: Any, variables: dict[str, Any] | None = None) -> None:
        self.scopes.append(dict(variables or {}))
        try:
            self.walk_list(nodes, dot)
        finally:
            self.scopes.pop()

    def walk_branch(self, node: _Branch, dot: Any) -> None:
        if node.kind == "range":
            self.walk_range(node, dot)
            return
        self.scopes.append({})
        try:
            value = self.eval_pipe(node.pipe, dot)
            if truth(value):
                self.scoped(node.body, value if node.kind == "with" else dot)
            else:
                self.scoped(node.orelse, dot)
        finally:
            self.scopes.pop()

    def walk_range(self, node: _Branch, dot: Any) -> None:
        pipe = node.pipe
        value = self.eval_pipe(_Pipe(pipe.pos, pipe.src, [], False, pipe.cmds), dot)
        if isinstance(value, dict):
            pairs = [(k, value[k]) for k in sorted(value, key=str)]
        elif isinstance(value, (list, tuple)):
            pairs = list(enumerate(value))
        elif isinstance(value, int) and not isinstance(value, bool):
            pairs = [(i, i) for i in range(value)]
        elif value is None or value is NO_VALUE:
            pairs = []
        else:
            raise self.error(node.pipe, f"range can't iterate over {go_str(value)}")
        if not pairs:
            self.scoped(node.orelse, dot)
            return
        for key, elem in pairs:
            variables: dict[str, Any] = {}
            if len(pipe.decls) == 1:
                variables[pipe.decls[0]] = elem
            elif len(pipe.decls) == 2:
                variables[pipe.decls[0]], variables[pipe.decls[1]] = key, elem
            self.scoped(node.body, elem, variables)

    # evaluation -------------------------------------------------------
    def eval_pipe(self, pipe: _Pipe, dot: Any) -> Any:
        value: Any = _UNSET
        for cmd in pipe.cmds:
            value = self.eval_command(cmd, dot, value)
        for name in pipe.decls:
            self.set_var(name, value, pipe.assign, pipe)
        return value

    def eval_command(self, cmd: _Command, dot: Any, final: Any) -> Any:
        first = cmd.args[0]
        if isinstance(first, _Ident):
            args = [self.eval_arg(a, dot) for a in cmd.args[1:]]
            if final is not _UNSET:
                args.append(final)
            try:
                return self.tmpl.funcs[first.name](*args)
            except TemplateError:
                raise
            except TypeError as exc:
                raise self.error(cmd, f"wrong number of args for {first.name}: {exc}") from None
            except (ValueError, KeyError, AttributeError) as exc:
                raise self.error(cmd, f"error calling {first.name}: {exc}") from None
        if len(cmd.args) > 1 or final is not _UNSET:
            if isinstance(first, _Field):
                # A method with arguments, like docker's ``{{.Label "key"}}``.
                method = self.eval_arg(first, dot)
                if callable(method):
                    args = [self.eval_arg(a, dot) for a in cmd.args[1:]]
                    if final is not _UNSET:
                        args.append(final)
                    try:
                        return method(*args)
                    except TypeError as exc:
                        raise self.error(cmd, f"wrong number of args for {first.names[-1]}: {exc}") from None
            raise self.error(first, f"can't give argument to non-function {first.src}")
        return self.eval_arg(first, dot)

    def eval_arg(self, node: Any, dot: Any) -> Any:
        if isinstance(node, _Field):
            return self.eval_fields(node, dot, node.names)
        if isinstance(node, _Dot):
            return dot
        if isinstance(node, _Var):
            return self.eval_fields(node, self.lookup(node), node.names)
        if isinstance(node, _Literal):
            return node.value
        if isinstance(node, _Pipe):
            self.scopes.append({})
            try:
                return self.eval_pipe(node, dot)
            finally:
                self.scopes.pop()
        if isinstance(node, _Chain):
            return self.eval_fields(node, self.eval_arg(node.node, dot), node.names)
        if isinstance(node, _Ident):
            return self.eval_command(_Command(node.pos, node.src, [node]), dot, _UNSET)
        raise self.error(node, "can't evaluate")  # pragma: no cover

    def eval_fields(self, node: _Node, value: Any, names: list[str]) -> Any:
        for name in names:
            if isinstance(value, dict):
                value = value.get(name, NO_VALUE)
            elif isinstance(value, Struct):
                try:
                    value = value.template_field(name)
                except AttributeError:
                    raise self.error(node, f"can't evaluate field {name} in type {value.GO_TYPE}") from None
            elif value is None or value is NO_VALUE:
                raise self.error(node, f"nil pointer evaluating interface {{}}.{name}")
            else:
                raise self.error(node, f"can't evaluate field {name} in type {_type_name(value)}")
        return value


_UNSET = object()
