"""Variable substitution in Dockerfile words, as moby's ``shell.Lex`` does it.

The classic builder expands ``$var``, ``${var}``, ``${var:-default}``,
``${var:+alt}``, ``${var?msg}`` and ``${var:?msg}`` in the arguments of
some instructions, removing quotes and escapes on the way as a POSIX shell
would, but never running anything. ``${var-default}`` and ``${var+alt}``
(no colon) are *not* supported by the classic builder: they fail with
"missing ':' in substitution", and so they do here. Errors carry moby's
words, wrapped as ``failed to process "<word>": <reason>``, because the
docker CLI shows them verbatim.

The module also holds Go's notion of white space (``unicode.IsSpace``) and
Go's ``strconv.Quote``, which the Dockerfile parser shares: Python's
``str.isspace``/``repr`` differ from Go's on a few characters, and those
differences would show in splitting and in error messages.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping

from barge.errors import InvalidParameter
from barge.goquote import go_quote

DEFAULT_ESCAPE = "\\"
_LATIN1_SPACES = frozenset("\t\n\v\f\r \x85\xa0")
_SPECIAL_PARAMS = frozenset("@*#?-$!0")
class ExpansionError(InvalidParameter):
    """A word could not be expanded; ``reason`` is moby's inner message."""

    def __init__(self, word: str, reason: str):
        super().__init__(f"failed to process {go_quote(word)}: {reason}")
        self.word = word
        self.reason = reason


class _Reason(Exception):
    """Raised inside the lexer; becomes an ExpansionError naming the word."""


def is_go_space(ch: str) -> bool:
    """Go's ``unicode.IsSpace`` (Python's ``isspace`` also takes U+001C-U+001F)."""
    if ch < "\u0100":
        return ch in _LATIN1_SPACES
    return unicodedata.category(ch) in ("Zs", "Zl", "Zp")


def trim_left_go_space(text: str) -> str:
    """Go's ``strings.TrimLeftFunc(s, unicode.IsSpace)``."""
    start = 0
    while start < len(text) and is_go_space(text[start]):
        start += 1
    return text[start:]


def trim_go_space(text: str) -> str:
    """Go's ``strings.TrimSpace``."""
    text = trim_left_go_space(text)
    end = len(text)
    while end and is_go_space(text[end - 1]):
        end -= 1
    return text[:end]


def go_lower(text: str) -> str:
    """Go's ``strings.ToLower``: simple case mapping, undecodable bytes become U+FFFD."""
    return text.lower() if text.isascii() else "".join(_simple_case(ch, str.lower) for ch in text)


def go_upper(text: str) -> str:
    """Go's ``strings.ToUpper``: simple case mapping, undecodable bytes become U+FFFD."""
    return text.upper() if text.isascii() else "".join(_simple_case(ch, str.upper) for ch in text)


def _simple_case(ch: str, mapping) -> str:
    if "\ud800" <= ch <= "\udfff":
        return "\ufffd"
    mapped = mapping(ch)
    return mapped if len(mapped) == 1 else ch


def process_word(word: str, env: Mapping[str, str], escape: str = DEFAULT_ESCAPE) -> str:
    """``ProcessWord``: the word expanded, quotes and escapes removed, spaces kept."""
    return _ShellWord(word, env, escape).process()[0]


def process_words(word: str, env: Mapping[str, str], escape: str = DEFAULT_ESCAPE) -> list[str]:
    """``ProcessWords``: expanded, then split on unquoted white space (EXPOSE uses it)."""
    return _ShellWord(word, env, escape).process()[1]


class _Words:
    """Collects the split words as the lexer emits characters (moby's wordsStruct)."""

    def __init__(self) -> None:
        self.word = ""
        self.words: list[str] = []
        self.in_word = False

    def add_char(self, ch: str) -> None:
        if is_go_space(ch):
            if self.in_word and self.word:
                self.words.append(self.word)
                self.word = ""
                self.in_word = False
        else:
            self.add_raw(ch)

    def add_raw(self, text: str) -> None:
        self.word += text
        self.in_word = True

    def add_expanded(self, text: str) -> None:
        for ch in text:
            self.add_char(ch)

    def finish(self) -> list[str]:
        if self.word:
            self.words.append(self.word)
            self.word = ""
            self.in_word = False
        return self.words


class _ShellWord:
    """One pass over one word; ``None`` stands for Go's ``scanner.EOF``."""

    def __init__(self, text: str, env: Mapping[str, str], escape: str):
        self.text = text
        self.pos = 0
        self.env = env
        self.escape = escape

    def peek(self) -> str | None:
        return self.text[self.pos] if self.pos < len(self.text) else None

    def next(self) -> str | None:
        ch = self.peek()
        if ch is not None:
            self.pos += 1
        return ch

    def process(self) -> tuple[str, list[str]]:
        try:
            return self.process_until(None)
        except _Reason as exc:
            raise ExpansionError(self.text, str(exc)) from None

    def process_until(self, stop: str | None) -> tuple[str, list[str]]:
        """Read up to ``stop`` (consumed) or the end; the text and its split words."""
        result: list[str] = []
        words = _Words()
        while self.peek() is not None:
            ch = self.peek()
            if stop is not None and ch == stop:
                self.next()
                return "".join(result), words.finish()
            if ch in "'\"$":
                piece = {"'": self.single_quoted, '"': self.double_quoted, "$": self.dollar}[ch]()
                result.append(piece)
                if ch == "$":
                    words.add_expanded(piece)
                else:
                    words.add_raw(piece)
                continue
            ch = self.next()
            if ch == self.escape:
                ch = self.next()
                if ch is None:
                    break
                words.add_raw(ch)
            else:
                words.add_char(ch)
            result.append(ch)
        if stop is not None:
            raise _Reason(f"unexpected end of statement while looking for matching {stop}")
        return "".join(result), words.finish()

    def single_quoted(self) -> str:
        """Everything up to the next ``'`` taken as is; nothing escapes inside."""
        self.next()
        out: list[str] = []
        while True:
            ch = self.next()
            if ch is None:
                raise _Reason("unexpected end of statement while looking for matching single-quote")
            if ch == "'":
                return "".join(out)
            out.append(ch)

    def double_quoted(self) -> str:
        """Up to the next ``"``: ``$`` expands, the escape char escapes only ``" $`` and itself."""
        self.next()
        out: list[str] = []
        while True:
            ch = self.peek()
            if ch is None:
                raise _Reason("unexpected end of statement while looking for matching double-quote")
            if ch == '"':
                self.next()
                return "".join(out)
            if ch == "$":
                out.append(self.dollar())
                continue
            ch = self.next()
            if ch == self.escape:
                following = self.peek()
                if following is None:
                    continue
                if following in ('"', "$", self.escape):
                    ch = self.next()
            out.append(ch)

    def dollar(self) -> str:
        """``$name``, ``${name}`` and the ``${name<op>word}`` forms moby knows."""
        self.next()
        if self.peek() != "{":
            name = self.name()
            return self.env.get(name, "") if name else "$"
        self.next()
        ch = self.peek()
        if ch is None:
            raise _Reason("syntax error: missing '}'")
        if ch in "{}:":
            raise _Reason("syntax error: bad substitution")
        name = self.name()
        ch = self.next()
        if ch == "}":
            return self.env.get(name, "")
        if ch == "?":
            return self.required(name, self.operand(), empty_ok=True)
        if ch == ":":
            modifier = self.next()
            return self.modified(name, modifier, self.operand())
        raise _Reason("missing ':' in substitution")

    def operand(self) -> str:
        """The word after an operator, up to the closing brace (itself expanded)."""
        try:
            return self.process_until("}")[0]
        except _Reason:
            if self.peek() is None:
                raise _Reason("syntax error: missing '}'") from None
            raise

    def modified(self, name: str, modifier: str | None, word: str) -> str:
        value = self.env.get(name, "")
        if modifier == "+":
            return word if value else value
        if modifier == "-":
            return value or word
        if modifier == "?":
            return self.required(name, word, empty_ok=False)
        raise _Reason(f"unsupported modifier ({modifier}) in substitution")

    def required(self, name: str, word: str, empty_ok: bool) -> str:
        """``${name?msg}`` fails when unset, ``${name:?msg}`` also when empty."""
        if name not in self.env:
            raise _Reason(f"{name}: {word or 'is not allowed to be unset'}")
        value = self.env[name]
        if not value and not empty_ok:
            raise _Reason(f"{name}: {word or 'is not allowed to be empty'}")
        return value

    def name(self) -> str:
        """A variable name: letters, digits, ``_``; or all digits; or one special parameter."""
        out: list[str] = []
        while (ch := self.peek()) is not None:
            if not out and ch.isdecimal():
                while (ch := self.peek()) is not None and ch.isdecimal():
                    out.append(self.next())
                return "".join(out)
            if not out and ch in _SPECIAL_PARAMS:
                return self.next()
            if not (ch.isalpha() or ch.isdecimal() or ch == "_"):
                break
            out.append(self.next())
        return "".join(out)
