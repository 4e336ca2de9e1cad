""".dockerignore as Docker reads and applies it, quirks included.

A build context is filtered by whoever sends it: the docker CLI walks the
directory with moby's pattern matcher, and the classic builder in dockerd
only deletes the Dockerfile and .dockerignore afterwards when they are
excluded. A user's .dockerignore was written against those rules, so barge
ports them rather than borrowing gitignore's or the Docker SDK's, which
differ (docs/architecture.md says where):

- reading: ``ignorefile.ReadAll`` (comments, trimming, Go's path cleaning);
- matching: ``patternmatcher`` as vendored by the docker CLI 28 (moby's
  ``pkg/fileutils`` of dockerd 20.10 with ``legacy=True``), which turns each
  pattern into an RE2 regexp; barge builds the same regexp and translates it
  for Python's ``re``;
- sending: the CLI's ``TrimBuildFilesFromExcludes`` and go-archive's walk
  (an excluded directory is entered only when an exception starts with it);
- the daemon: ``removeDockerfile`` of dockerd 20.10's classic builder.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable, Iterable, Iterator, Sequence

from barge.errors import InvalidParameter

BAD_PATTERN = "syntax error in pattern"
"""Go's ``filepath.ErrBadPattern``: the text the docker CLI shows."""

# Go's unicode.IsSpace; str.strip() would also eat \x1c-\x1f, which Go keeps.
_GO_SPACE = "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a" \
            "\u2028\u2029\u202f\u205f\u3000"
_MAX_LINE = 64 * 1024  # bufio.MaxScanTokenSize
_BOM = b"\xef\xbb\xbf"


class DockerignoreError(InvalidParameter):
    """A .dockerignore that Docker refuses too: bad pattern, lone ``!``, huge line."""


# ---------------------------------------------------------------- Go's paths

def go_clean(path: str) -> str:
    """Go's ``filepath.Clean`` on Unix: lexical, ``""`` is ``"."``, ``/..`` is ``/``."""
    rooted = path.startswith("/")
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part != "..":
            parts.append(part)
        elif parts and parts[-1] != "..":
            parts.pop()
        elif not rooted:
            parts.append("..")
    cleaned = "/" * rooted + "/".join(parts)
    return cleaned or "."


def go_dir(path: str) -> str:
    """Go's ``filepath.Dir``: everything before the last slash, cleaned."""
    return go_clean(path[:path.rfind("/") + 1])


def go_match(pattern: str, name: str) -> bool:
    """Go's ``filepath.Match`` on Unix (Go 1.19 and later).

    ``*`` and ``?`` never match ``/``; ``[^...]`` negates (``!`` is a plain
    character); ``\\`` escapes. Raises for a malformed pattern, but, as Go,
    only for the part of it that was reached before the answer was known.
    """
    while pattern:
        star, chunk, pattern = _scan_chunk(pattern)
        if star and not chunk:
            return "/" not in name
        rest, ok = _match_chunk(chunk, name)
        if ok and (not rest or pattern):
            name = rest
            continue
        if not star:
            return False
        for i in range(len(name)):
            if name[i] == "/":
                return False
            rest, ok = _match_chunk(chunk, name[i + 1:])
            if ok and (pattern or not rest):
                name = rest
                break
        else:
            return False
    return not name


def _scan_chunk(pattern: str) -> tuple[bool, str, str]:
    """Split off leading stars and the star-free chunk after them."""
    stripped = pattern.lstrip("*")
    star, pattern = len(stripped) != len(pattern), stripped
    in_range, i = False, 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            i += 1 if i + 1 < len(pattern) else 0
        elif char in "[]":
            in_range = char == "["
        elif char == "*" and not in_range:
            break
        i += 1
    return star, pattern[:i], pattern[i:]


def _match_chunk(chunk: str, text: str) -> tuple[str, bool]:
    """Match a star-free chunk at the start of text; check all of it for syntax."""
    failed = False
    while chunk:
        failed = failed or not text
        char, chunk = chunk[0], chunk[1:]
        if char == "[":
            rune = None if failed else text[0]
            text = text if failed else text[1:]
            chunk, hit, negated = _match_class(chunk, rune)
            failed = failed or hit == negated
            continue
        if char == "\\":
            if not chunk:
                raise DockerignoreError(BAD_PATTERN)
            char, chunk = chunk[0], chunk[1:]
        elif char == "?" and not failed:
            failed, text = text[0] == "/", text[1:]
            continue
        elif char == "?":
            continue
        if not failed:
            failed, text = char != text[0], text[1:]
    return ("", False) if failed else (text, True)


def _match_class(chunk: str, rune: str | None) -> tuple[str, bool, bool]:
    """A ``[...]`` after its ``[``: (rest of chunk, rune in ranges, negated)."""
    negated = chunk.startswith("^")
    chunk = chunk[negated:]
    hit, ranges = False, 0
    while not (chunk.startswith("]") and ranges):
        low, chunk = _class_char(chunk)
        high = low
        if chunk[0] == "-":
            high, chunk = _class_char(chunk[1:])
        hit = hit or (rune is not None and low <= rune <= high)
        ranges += 1
    return chunk[1:], hit, negated


def _class_char(chunk: str) -> tuple[str, str]:
    """Go's ``getEsc``: one possibly escaped character of a class, never its end."""
    if not chunk or chunk[0] in "-]":
        raise DockerignoreError(BAD_PATTERN)
    if chunk[0] == "\\":
        chunk = chunk[1:]
        if not chunk:
            raise DockerignoreError(BAD_PATTERN)
    if len(chunk) < 2:
        raise DockerignoreError(BAD_PATTERN)
    return chunk[0], chunk[1:]


# ---------------------------------------------------------------- reading

def read_dockerignore(data: bytes | str) -> list[str]:
    """The patterns of a .dockerignore, as ``ignorefile.ReadAll`` returns them.

    A line is a comment only when ``#`` is its first character; lines are
    trimmed, cleaned and lose one leading ``/``; ``!`` keeps its place in
    front of the cleaned rest (``! /a/`` becomes ``!a``, a lone ``!`` stays
    for the matcher to refuse).
    """
    raw = data if isinstance(data, bytes) else data.encode("utf-8", "surrogateescape")
    lines = raw.split(b"\n")
    if not lines[-1]:
        lines.pop()
    patterns = []
    for number, line in enumerate(lines):
        if len(line) >= _MAX_LINE:
            raise DockerignoreError("bufio.Scanner: token too long")
        line = line.removeprefix(_BOM) if number == 0 else line
        text = line.removesuffix(b"\r").decode("utf-8", "surrogateescape")
        if text.startswith("#"):
            continue
        text = text.strip(_GO_SPACE)
        if text:
            patterns.append(_normalise(text))
    return patterns


def _normalise(pattern: str) -> str:
    """Clean one trimmed pattern, keeping its ``!`` and dropping a leading ``/``."""
    invert = pattern.startswith("!")
    if invert:
        pattern = pattern[1:].strip(_GO_SPACE)
    if pattern:
        pattern = go_clean(pattern)
        if len(pattern) > 1 and pattern.startswith("/"):
            pattern = pattern[1:]
    return "!" * invert + pattern


# ---------------------------------------------------------------- patterns

_EXACT, _PREFIX, _SUFFIX, _REGEXP = "exact", "prefix", "suffix", "regexp"


class Pattern:
    """One cleaned pattern; its regexp is built on first use, as moby does.

    A pattern that ``New`` let through but whose regexp does not compile
    fails only when a path is matched against it: Docker behaves the same.
    """

    def __init__(self, text: str, exclusion: bool, legacy: bool):
        self.text = text
        self.exclusion = exclusion
        self.dirs = text.split("/")
        self.legacy = legacy
        self._kind: str | None = None
        self._regexp: re.Pattern[str] | None = None

    def __repr__(self) -> str:
        return f"Pattern({'!' * self.exclusion}{self.text!r})"

    def match(self, path: str) -> bool:
        """Whether this pattern matches the path itself (parents are the matcher's job)."""
        if self._kind is None:
            self._kind, source = _moby_regexp(self.text, self.legacy)
            if self._kind == _REGEXP:
                self._regexp = _compile_re2(source)
        if self._kind == _EXACT:
            return path == self.text
        if self._kind == _PREFIX:
            return path.startswith(self.text[:-2])
        if self._kind == _SUFFIX:
            suffix = self.text[2:]
            return path.endswith(suffix) or (suffix.startswith("/") and path == suffix[1:])
        if self._regexp is None:
            raise DockerignoreError(BAD_PATTERN)
        return self._regexp.search(path) is not None


def _moby_regexp(pattern: str, legacy: bool) -> tuple[str, str]:
    """moby's ``Pattern.compile``: (kind, RE2 source), character for character.

    ``**`` spans directories, ``*`` and ``?`` stop at ``/``, ``[``/``]`` and
    ``\\x`` pass into the regexp as they are. The CLI's matcher means to
    escape ``.+()|{}$`` but its bitmap drops ``{|}``, so ``a|b*`` is an RE2
    alternation there too; it answers plain, ``dir/**`` and ``**/name``
    patterns without a regexp. dockerd 20.10's (``legacy``) escapes only
    ``.$`` and always uses the regexp.
    """
    source, kind, i, step = "^", _EXACT, 0, 0
    escaped = ".$" if legacy else ".+()$"
    while i < len(pattern):
        char, i = pattern[i], i + 1
        if char == "*" and pattern.startswith("*", i):
            i += 2 if pattern.startswith("/", i + 1) else 1
            if i < len(pattern):
                source, kind = source + "(.*/)?", _REGEXP
            else:
                source, kind = source + ".*", _PREFIX if kind == _EXACT else _REGEXP
            kind = _SUFFIX if step == 0 else kind
        elif char in "*?":
            source, kind = source + ("[^/]*" if char == "*" else "[^/]"), _REGEXP
        elif char in escaped:
            source += "\\" + char
        elif char == "\\" and i < len(pattern):
            source, kind, i = source + "\\" + pattern[i], _REGEXP, i + 1
        else:
            source += char
            kind = _REGEXP if char in "[]" else kind
        step += 1
    return (_REGEXP if legacy else kind), source + "$"


# RE2's POSIX classes; Python's re has none.
_POSIX = {"alnum": "0-9A-Za-z", "alpha": "A-Za-z", "ascii": "\\x00-\\x7f", "blank": "\\t ", "cntrl": "\\x00-\\x1f\\x7f",
          "digit": "0-9", "graph": "!-~", "lower": "a-z", "print": " -~", "punct": "!-/:-@\\[-`{-~",
          "space": "\\t\\n\\v\\f\\r ", "upper": "A-Z", "word": "0-9A-Za-z_", "xdigit": "0-9A-Fa-f"}


_RE2_REPEAT = re.compile(r"\{(\d+)(?:,(\d*))?\}")


def _compile_re2(source: str) -> re.Pattern[str]:
    """Compile an RE2 regexp of moby's making with Python's re, or fail as Go does.

    Where the two read the same text differently, the text is rewritten:
    RE2 repeats an anchor (``^+``) and refuses stacked repeats (``c++``,
    which Python reads as possessive).
    """
    out: list[str] = []
    previous, i = "open", 0
    while i < len(source):
        text, i, kind = _re2_token(source, i)
        if kind == "repeat" and previous in ("open", "repeat"):
            raise DockerignoreError(BAD_PATTERN)  # missing argument, or a** / a++
        if kind == "repeat" and previous == "anchor":
            out[-1] = f"(?:{out[-1]})"
        out.append(text)
        previous = kind
    try:
        return re.compile("".join(out), re.ASCII)
    except re.error:
        raise DockerignoreError(BAD_PATTERN) from None


def _re2_token(source: str, i: int) -> tuple[str, int, str]:
    """One RE2 token outside a class: (Python text, end, atom|anchor|repeat|open)."""
    char = source[i]
    if char == "\\":
        text, end = _re2_escape(source, i, in_class=False)
        return text, end, "anchor" if source[i + 1:i + 2] in ("b", "B", "A", "z") else "atom"
    if char == "[":
        text, end = _re2_class(source, i + 1)
        return text, end, "atom"
    repeat = _RE2_REPEAT.match(source, i) if char == "{" else None
    if repeat and any(int(count) > 1000 for count in repeat.groups() if count):
        raise DockerignoreError(BAD_PATTERN)
    if repeat or char in "*+?":
        end = repeat.end() if repeat else i + 1
        lazy = source.startswith("?", end)  # a*? is one non-greedy repeat
        return source[i:end + lazy], end + lazy, "repeat"
    if char in "^$":
        return ("^" if char == "^" else "\\Z"), i + 1, "anchor"
    if char in "(|":
        return char, i + 1, "open"
    return ("\\{" if char == "{" else char), i + 1, "atom"


def _re2_class(source: str, i: int) -> tuple[str, int]:
    """An RE2 character class from just after its ``[``: (Python text, end)."""
    out = ["["]
    if source.startswith("^", i):
        out.append("^")
        i += 1
    first = True
    while i < len(source) and (first or source[i] != "]"):
        first, char = False, source[i]
        end = source.find(":]", i + 2) if source.startswith("[:", i) else -1
        if end != -1:
            name = source[i + 2:end]
            if name not in _POSIX:  # RE2 knows [:^name:] too; barge does not port it
                raise DockerignoreError(BAD_PATTERN)
            out.append(_POSIX[name])
            i = end + 2
        elif char == "\\":
            text, i = _re2_escape(source, i, in_class=True)
            out.append(text)
        else:
            out.append("\\" + char if char in "[]&~|" else char)
            i += 1
    if i >= len(source):
        raise DockerignoreError(BAD_PATTERN)
    return "".join(out) + "]", i + 1


_RE2_NUMBER = re.compile(r"(0[0-7]{0,2}|[1-7][0-7]{1,2})|x([0-9A-Fa-f]{2})|x\{([0-9A-Fa-f]{1,8})\}")


def _re2_escape(source: str, i: int, in_class: bool) -> tuple[str, int]:
    """RE2's escape at ``source[i]`` in Python's spelling: (text, end).

    RE2's Unicode classes (``\\pL``), ``\\Q...\\E`` and ``\\C`` have no Python
    spelling and fail here, where Docker would accept them.
    """
    char = source[i + 1:i + 2]
    if char.isascii() and char and not char.isalnum():
        return re.escape(char), i + 2
    if char and char in "afnrtvdDsSwW":
        return "\\" + char, i + 2
    if char and char in "bBAz" and not in_class:
        return ("\\Z" if char == "z" else "\\" + char), i + 2
    number = _RE2_NUMBER.match(source, i + 1)
    if number and int(number[1] or "0", 8) < 0x110000 and int(number[2] or number[3] or "0", 16) < 0x110000:
        value = int(number[1], 8) if number[1] else int(number[2] or number[3], 16)
        return re.escape(chr(value)), number.end()
    raise DockerignoreError(BAD_PATTERN)


# ---------------------------------------------------------------- the matcher

class PatternMatcher:
    """moby's ``PatternMatcher``: the last pattern that matches decides.

    A pattern also matches everything below a directory it matches; how far
    up it looks is what the three ``matches*`` methods differ in, each used
    by a different caller in Docker.
    """

    def __init__(self, patterns: Iterable[str], *, legacy: bool = False):
        self.legacy = legacy
        self.patterns: list[Pattern] = []
        for raw in patterns:
            text = raw.strip(_GO_SPACE)
            if not text:
                continue
            text = go_clean(text)
            exclusion = text.startswith("!")
            if text == "!":
                raise DockerignoreError('illegal exclusion pattern: "!"')
            text = text[exclusion:]
            go_match(text, ".")  # moby's syntax check, with Go's blind spots
            self.patterns.append(Pattern(text, exclusion, legacy))
        self.exclusions = any(p.exclusion for p in self.patterns)

    def matches(self, path: str) -> bool:
        """``Matches``: a parent is tried only at the pattern's own depth.

        Deprecated in moby, yet what ``TrimBuildFilesFromExcludes``, dockerd
        20.10's classic builder and its CLI's walker call: ``**/x`` does not
        reach ``a/x/y``.
        """
        parent = go_dir(path)
        dirs = parent.split("/")

        def at_depth(pattern: Pattern) -> bool:
            depth = len(pattern.dirs)
            return parent != "." and depth <= len(dirs) and pattern.match("/".join(dirs[:depth]))
        return self._last_match(path, at_depth)

    def matches_or_parent_matches(self, path: str) -> bool:
        """``MatchesOrParentMatches``: every parent directory is tried."""
        return self._last_match(path, lambda pattern: self._a_parent_matches(pattern, path))

    def matches_using_parent_results(self, path: str, parent: Sequence[bool] | None = None
                                     ) -> tuple[bool, tuple[bool, ...]]:
        """``MatchesUsingParentResults``, the walk of the docker CLI 28.

        ``parent`` is what this returned for the parent directory (None at
        the top): a pattern the parent matched matches here. Returns the
        answer and this path's own results, for its children.
        """
        if parent and len(parent) != len(self.patterns):
            raise ValueError("wrong number of values in parentMatched")
        matched, results = False, []
        for i, pattern in enumerate(self.patterns):
            hit = bool(parent and parent[i])
            if not hit and pattern.exclusion == matched:
                hit = pattern.match(path) or (not parent and self._a_parent_matches(pattern, path))
            results.append(hit)
            matched = (not pattern.exclusion) if hit else matched
        return matched, tuple(results)

    def _last_match(self, path: str, parent_matches: Callable[[Pattern], bool]) -> bool:
        matched = False
        for pattern in self.patterns:
            if pattern.exclusion != matched and not self.legacy:
                continue  # cannot change the answer (dockerd 20.10 looked anyway)
            if pattern.match(path) or parent_matches(pattern):
                matched = not pattern.exclusion
        return matched

    @staticmethod
    def _a_parent_matches(pattern: Pattern, path: str) -> bool:
        parent = go_dir(path)
        if parent == ".":
            return False
        dirs = parent.split("/")
        return any(pattern.match("/".join(dirs[:depth])) for depth in range(1, len(dirs) + 1))


def matches(path: str, patterns: Iterable[str], *, legacy: bool = False) -> bool:
    """moby's package-level ``Matches``: ``.`` is never excluded."""
    matcher = PatternMatcher(patterns, legacy=legacy)
    path = go_clean(path)
    return path != "." and matcher.matches(path)


def _quietly_matches(path: str, patterns: Iterable[str], legacy: bool = False) -> bool:
    """Docker's ``keep, _ := Matches(...)``: an error counts as no match."""
    try:
        return matches(path, patterns, legacy=legacy)
    except DockerignoreError:
        return False


# ---------------------------------------------------------------- build files

def trim_build_files(excludes: Sequence[str], dockerfile: str, *, dockerfile_from_stdin: bool = False) -> list[str]:
    """The CLI's ``TrimBuildFilesFromExcludes``: excluded build files get an exception.

    ``!.dockerignore`` and ``!<dockerfile>`` are appended when ``Matches``
    excludes them, so the daemon receives both. ``Matches`` looks at one
    parent only: with ``**/sub`` the Dockerfile ``sub/Dockerfile`` is not
    rescued and Docker fails to find it; so does barge.
    """
    excludes = list(excludes)
    if _quietly_matches(".dockerignore", excludes):
        excludes.append("!.dockerignore")
    if _quietly_matches(dockerfile, excludes) and not dockerfile_from_stdin:
        excludes.append("!" + dockerfile)
    return excludes


def daemon_removes(excludes: Sequence[str], dockerfile: str) -> list[str]:
    """What dockerd 20.10's ``removeDockerfile`` deletes from a context it received.

    After reading the Dockerfile, the classic builder removes it and
    .dockerignore when the context's own patterns exclude them, so that
    ``COPY . /`` leaves them out as the user asked.
    """
    return [name for name in (".dockerignore", dockerfile) if _quietly_matches(name, excludes, legacy=True)]


# ---------------------------------------------------------------- the context

class ContextFilter:
    """Which paths of a build context the docker CLI puts in the tar it sends.

    Paths are relative, slash-separated and clean, as the walk yields them.
    """

    def __init__(self, excludes: Iterable[str], *, legacy: bool = False):
        self.matcher = PatternMatcher(excludes, legacy=legacy)
        self._results: dict[str, tuple[bool, ...]] = {}
        self._open: dict[str, bool] = {}

    @classmethod
    def for_build(cls, excludes: Sequence[str], dockerfile: str = "Dockerfile", *,
                  dockerfile_from_stdin: bool = False, legacy: bool = False) -> ContextFilter:
        """The filter of ``docker build``: excludes with the build files trimmed."""
        return cls(trim_build_files(excludes, dockerfile, dockerfile_from_stdin=dockerfile_from_stdin), legacy=legacy)

    def excluded(self, relpath: str, is_dir: bool = False) -> bool:
        """Whether the matcher excludes this path (a directory may still be entered)."""
        if relpath == ".":
            return False
        if self.matcher.legacy:
            return self.matcher.matches(relpath)
        parent = go_dir(relpath)
        results = self._parent_results(parent) if parent != "." else None
        matched, own = self.matcher.matches_using_parent_results(relpath, results)
        if is_dir:
            self._results[relpath] = own
        return matched

    def skip_dir(self, relpath: str) -> bool:
        """For an excluded directory: true unless an exception starts with it.

        The test is a plain prefix, as go-archive's: ``!docs/*.md`` opens
        ``docs``, ``!**/keep.md`` opens nothing.
        """
        if not self.matcher.exclusions:
            return True
        prefix = relpath + "/"
        return not any(p.exclusion and (p.text + "/").startswith(prefix) for p in self.matcher.patterns)

    def sends(self, relpath: str, is_dir: bool = False) -> bool:
        """For a path listed in a tar: is it sent? Its directories need not be listed."""
        relpath = go_clean(relpath)
        parent = go_dir(relpath)
        return relpath != "." and (parent == "." or self._is_open(parent)) and not self.excluded(relpath, is_dir)

    def _parent_results(self, directory: str) -> tuple[bool, ...]:
        if directory not in self._results:
            self.excluded(directory, is_dir=True)
        return self._results[directory]

    def _is_open(self, directory: str) -> bool:
        """The walk enters this directory: every one above it is entered too."""
        if directory not in self._open:
            parent = go_dir(directory)
            entered = parent == "." or self._is_open(parent)
            self._open[directory] = entered and not (self.excluded(directory, True) and self.skip_dir(directory))
        return self._open[directory]


def walk_context(root: str | os.PathLike[str], context_filter: ContextFilter) -> Iterator[str]:
    """The relative paths the docker CLI sends from a context directory, in its order.

    Go's walk: names in byte order, depth first, symlinks not followed; a
    directory that cannot be read is sent without its contents.
    """
    stack = _children(os.path.realpath(root), "")
    while stack:
        path, relpath, is_dir = stack.pop()
        if not context_filter.excluded(relpath, is_dir):
            yield relpath
        elif not is_dir or context_filter.skip_dir(relpath):
            continue
        if is_dir:
            stack.extend(_children(path, relpath + "/"))


def _children(directory: str, prefix: str) -> list[tuple[str, str, bool]]:
    """A directory's entries, last name first (a stack pops them in order)."""
    try:
        with os.scandir(directory) as entries:
            found = [(os.fsencode(e.name), e.path, prefix + e.name, e.is_dir(follow_symlinks=False)) for e in entries]
    except OSError:
        return []
    return [(path, relpath, is_dir) for _, path, relpath, is_dir in sorted(found, reverse=True)]


def filter_entries(entries: Iterable[tuple[str, bool]], context_filter: ContextFilter) -> Iterator[str]:
    """Of (path, is_dir) pairs listed as in a tar, the paths the CLI would send."""
    for relpath, is_dir in entries:
        if context_filter.sends(relpath, is_dir):
            yield relpath


def check_context_readable(root: str | os.PathLike[str], excludes: Iterable[str], *, legacy: bool = False) -> None:
    """The CLI's ``ValidateContextDirectory``: fail early on what cannot be read.

    Excluded paths are skipped (an excluded directory whole, exceptions or
    not), as are symlinks and FIFOs; Docker's error texts.
    """
    matcher = PatternMatcher(excludes, legacy=legacy)
    excluded = matcher.matches if legacy else matcher.matches_or_parent_matches
    top = os.path.realpath(root)
    stack = [top]
    while stack:
        path = stack.pop()
        relpath = os.path.relpath(path, top)
        try:
            info = os.lstat(path)
            names = sorted(os.listdir(path), key=os.fsencode, reverse=True) if stat.S_ISDIR(info.st_mode) else None
        except PermissionError:
            raise DockerignoreError(f"can't stat '{path}'") from None
        except FileNotFoundError:
            raise DockerignoreError(f"file ('{path}') not found or excluded by .dockerignore") from None
        if relpath != "." and excluded(relpath):
            continue
        if names is not None:
            stack.extend(os.path.join(path, name) for name in names)
        elif stat.S_ISREG(info.st_mode) or stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode):
            _try_open(path)


def _try_open(path: str) -> None:
    try:
        os.close(os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK))
    except PermissionError:
        raise DockerignoreError(f"no permission to read from '{path}'") from None
    except OSError:
        pass  # Docker only reports a missing permission
