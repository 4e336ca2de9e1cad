""".dockerignore as Docker reads and applies it (barge.dockerfile.dockerignore).

Every expected value here was checked against the Go code it ports: Go
1.19's path/filepath, moby/patternmatcher v0.6.0 and ignorefile (the docker
CLI 28's), moby 20.10's pkg/fileutils (``legacy``), and for the walks the
tar the real docker CLI 28 sends (``DOCKER_BUILDKIT=0``).
"""

from __future__ import annotations

import os

import pytest

from barge.dockerfile.dockerignore import (
    BAD_PATTERN,
    ContextFilter,
    DockerignoreError,
    PatternMatcher,
    _moby_regexp,
    check_context_readable,
    daemon_removes,
    filter_entries,
    go_clean,
    go_dir,
    go_match,
    matches,
    read_dockerignore,
    trim_build_files,
    walk_context,
)
from barge.errors import InvalidParameter

# ---------------------------------------------------------------- Go's paths

CLEAN = [
    ("", "."), ("abc", "abc"), ("abc/def", "abc/def"), (".", "."), ("..", ".."), ("../..", "../.."),
    ("../../abc", "../../abc"), ("/abc", "/abc"), ("/", "/"), ("abc/", "abc"), ("abc/def/", "abc/def"),
    ("./", "."), ("../", ".."), ("/abc/", "/abc"), ("abc//def//ghi", "abc/def/ghi"), ("//abc", "/abc"),
    ("///abc", "/abc"), ("//abc//", "/abc"), ("abc/./def", "abc/def"), ("/./abc/def", "/abc/def"), ("abc/.", "abc"),
    ("abc/def/ghi/../jkl", "abc/def/jkl"), ("abc/def/..", "abc"), ("abc/def/../..", "."), ("/abc/def/../..", "/"),
    ("abc/def/../../..", ".."), ("/abc/def/../../..", "/"), ("/../abc", "/abc"), ("abc/./../def", "def"),
    ("abc/../../././../def", "../../def"), ("a/./b", "a/b"), ("a//b", "a/b"), ("!./a", "!./a"), ("!a/../b", "b"),
]


@pytest.mark.parametrize("path, cleaned", CLEAN)
def test_go_clean(path, cleaned):
    assert go_clean(path) == cleaned


MATCH = [  # Go's own filepath.Match table, plus the syntax Go checks only where it looks
    ("abc", "abc", True), ("*", "abc", True), ("*c", "abc", True), ("a*", "a", True), ("a*", "abc", True),
    ("a*", "ab/c", False), ("a*/b", "abc/b", True), ("a*/b", "a/c/b", False), ("a*b*c*d*e*/f", "axbxcxdxe/f", True),
    ("a*b*c*d*e*/f", "axbxcxdxexxx/f", True), ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", False),
    ("a*b*c*d*e*/f", "axbxcxdxexxx/fff", False), ("a*b?c*x", "abxbbxdbxebxczzx", True),
    ("a*b?c*x", "abxbbxdbxebxczzy", False), ("ab[c]", "abc", True), ("ab[b-d]", "abc", True),
    ("ab[e-g]", "abc", False), ("ab[^c]", "abc", False), ("ab[^b-d]", "abc", False), ("ab[^e-g]", "abc", True),
    ("a\\*b", "a*b", True), ("a\\*b", "ab", False), ("a?b", "a☺b", True), ("a[^a]b", "a☺b", True),
    ("a???b", "a☺b", False), ("a[^a][^a][^a]b", "a☺b", False), ("[a-ζ]*", "α", True), ("*[a-ζ]", "A", False),
    ("a?b", "a/b", False), ("a*b", "a/b", False), ("[\\]a]", "]", True), ("[\\-]", "-", True), ("[x\\-]", "x", True),
    ("[x\\-]", "-", True), ("[x\\-]", "z", False), ("[\\-x]", "x", True), ("[\\-x]", "-", True), ("[\\-x]", "a", False),
    ("[]a]", "]", BAD_PATTERN), ("[-]", "-", BAD_PATTERN), ("[x-]", "x", BAD_PATTERN), ("[x-]", "-", BAD_PATTERN),
    ("[x-]", "z", BAD_PATTERN), ("[-x]", "x", BAD_PATTERN), ("[-x]", "-", BAD_PATTERN), ("[-x]", "a", BAD_PATTERN),
    ("\\", "a", BAD_PATTERN), ("[a-b-c]", "a", BAD_PATTERN), ("[", "a", BAD_PATTERN), ("[^", "a", BAD_PATTERN),
    ("[^bc", "a", BAD_PATTERN), ("a[", "a", BAD_PATTERN), ("a[", "ab", BAD_PATTERN), ("a[", "x", BAD_PATTERN),
    ("a/b[", "a/b", BAD_PATTERN), ("*x", "xxx", True), ("[!a]", "b", False), ("[!a]", "!", True),
    ("[^a]", "/", True), ("[^/]", "/", False), ("a/*/b[", ".", False), ("x*[", ".", False), ("*", ".", True),
]


@pytest.mark.parametrize("pattern, name, expected", MATCH)
def test_go_match(pattern, name, expected):
    if expected == BAD_PATTERN:
        with pytest.raises(DockerignoreError, match=r"^syntax error in pattern$"):
            go_match(pattern, name)
    else:
        assert go_match(pattern, name) is expected


# ---------------------------------------------------------------- reading

READ = [
    ("", []),
    ("# comment\n\nnode_modules\n", ["node_modules"]),
    ("  # not a comment\n#comment\n", ["# not a comment"]),
    ("  a  \n\tb\t\r\n", ["a", "b"]),
    ("./a\n/a\na/\n//a//b/\na/./b/../c\n../x\n/\n", ["a", "a", "a", "a/b", "a/c", "../x", "/"]),
    ("!a\n! /b/\n!./c\n!\n! \t\n!/\n", ["!a", "!b", "!c", "!", "!", "!/"]),
    ("\ufeff# comment\nx\n", ["x"]),
    ("\ufeffx\n\ufeffy\n", ["x", "\ufeffy"]),
    ("x\x1c\n\x85y\xa0\n", ["x\x1c", "y"]),
    ("a\r\r\nb", ["a", "b"]),
    ("**/*.go\n!README*.md\n", ["**/*.go", "!README*.md"]),
]


@pytest.mark.parametrize("text, patterns", READ)
def test_read_dockerignore(text, patterns):
    assert read_dockerignore(text) == patterns
    assert read_dockerignore(text.encode()) == patterns


@pytest.mark.parametrize("text, error", [
    ("a" * 65535 + "\nb", None),
    ("a" * 65536 + "\nb", "bufio.Scanner: token too long"),
    ("a" * 65535 + "\r\nb", "bufio.Scanner: token too long"),
    ("b\n" + "a" * 65536, "bufio.Scanner: token too long"),
])
def test_a_line_of_64k_is_refused_as_go_scanner_refuses_it(text, error):
    if error is None:
        assert read_dockerignore(text) == ["a" * 65535, "b"]
    else:
        with pytest.raises(DockerignoreError, match=f"^{error}$"):
            read_dockerignore(text)


# ---------------------------------------------------------------- the matcher

@pytest.mark.parametrize("patterns, error", [
    (["!"], 'illegal exclusion pattern: "!"'),
    (["  !  "], 'illegal exclusion pattern: "!"'),
    (["a", "["], BAD_PATTERN),
    (["!["], BAD_PATTERN),
    (["a\\"], BAD_PATTERN),
    (["[]a]"], BAD_PATTERN),
])
def test_new_refuses_what_moby_refuses(patterns, error):
    with pytest.raises(DockerignoreError) as caught:
        PatternMatcher(patterns)
    assert str(caught.value) == error
    assert isinstance(caught.value, InvalidParameter)


def test_new_trims_cleans_and_drops_empty_patterns():
    matcher = PatternMatcher(["docs", "config", "", "  ", "  !docs/README.md  ", "a/./b/"])
    assert [(p.exclusion, p.text) for p in matcher.patterns] == [
        (False, "docs"), (False, "config"), (True, "docs/README.md"), (False, "a/b")]
    assert matcher.exclusions is True
    assert PatternMatcher(["docs"]).exclusions is False


SINGLE = [  # moby's TestMatches table: (pattern, path, excluded)
    ("**", "file", True), ("**", "file/", True), ("**/", "file", True), ("**/", "file/", True), ("**", "/", True),
    ("**/", "/", True), ("**", "dir/file", True), ("**/", "dir/file", True), ("**", "dir/file/", True),
    ("**/", "dir/file/", True), ("**/**", "dir/file", True), ("**/**", "dir/file/", True), ("dir/**", "dir/file", True),
    ("dir/**", "dir/file/", True), ("dir/**", "dir/dir2/file", True), ("dir/**", "dir/dir2/file/", True),
    ("**/dir", "dir", True), ("**/dir", "dir/file", True), ("**/dir2/*", "dir/dir2/file", True),
    ("**/dir2/*", "dir/dir2/file/", True), ("**/dir2/**", "dir/dir2/dir3/file", True),
    ("**/dir2/**", "dir/dir2/dir3/file/", True), ("**file", "file", True), ("**file", "dir/file", True),
    ("**/file", "dir/file", True), ("**file", "dir/dir/file", True), ("**/file", "dir/dir/file", True),
    ("**/file*", "dir/dir/file", True), ("**/file*", "dir/dir/file.txt", True),
    ("**/file*txt", "dir/dir/file.txt", True), ("**/file*.txt", "dir/dir/file.txt", True),
    ("**/file*.txt*", "dir/dir/file.txt", True), ("**/**/*.txt", "dir/dir/file.txt", True),
    ("**/**/*.txt2", "dir/dir/file.txt", False), ("**/*.txt", "file.txt", True), ("**/**/*.txt", "file.txt", True),
    ("a**/*.txt", "a/file.txt", True), ("a**/*.txt", "a/dir/file.txt", True), ("a**/*.txt", "a/dir/dir/file.txt", True),
    ("a/*.txt", "a/dir/file.txt", False), ("a/*.txt", "a/file.txt", True), ("a/*.txt**", "a/file.txt", True),
    ("a[b-d]e", "ae", False), ("a[b-d]e", "ace", True), ("a[b-d]e", "aae", False), ("a[^b-d]e", "aze", True),
    (".*", ".foo", True), (".*", "foo", False), ("abc.def", "abcdef", False), ("abc.def", "abc.def", True),
    ("abc.def", "abcZdef", False), ("abc?def", "abcZdef", True), ("abc?def", "abcdef", False), ("a\\\\", "a\\", True),
    ("**/foo/bar", "foo/bar", True), ("**/foo/bar", "dir/foo/bar", True), ("**/foo/bar", "dir/dir2/foo/bar", True),
    ("abc/**", "abc", False), ("abc/**", "abc/def", True), ("abc/**", "abc/def/ghi", True), ("**/.foo", ".foo", True),
    ("**/.foo", "bar.foo", False), ("a(b)c/def", "a(b)c/def", True), ("a(b)c/def", "a(b)c/xyz", False),
    ("a.|)$(}+{bc", "a.|)$(}+{bc", True), ("dist/*.whl", "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", True),
    ("a\\*b", "a*b", True), ("foo", "foo/bar/baz", True), ("foo", "a/foo", False), ("*", "a/b/c", True),
    ("docs/", "docs/x", True), ("/docs", "docs", False), ("a/b", "a/b/c/d", True),
]
MULTI = [  # (patterns, path, excluded): the last matching pattern decides
    (["**", "!util/docker/web"], "util/docker/web/foo", False),
    (["**", "!util/docker/web", "util/docker/web/foo"], "util/docker/web/foo", True),
    (["**", "!dist/*.whl"], "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", False),
    (["*.md", "!README.md"], "README.md", False), (["*.md", "!README.md"], "CHANGES.md", True),
    (["*.md", "!README.md"], "docs/README.md", False), (["**/*.md", "!README.md"], "docs/README.md", True),
    (["docs", "!docs/keep.md"], "docs/keep.md", False), (["docs", "!docs/keep.md"], "docs/other.md", True),
    (["docs/*", "!docs/README.md"], "docs/README.md", False), (["!fileutils.go", "*.go"], "fileutils.go", True),
    (["*.go", "!fileutils.go"], "fileutils.go", False), (["*", "!a", "a/b"], "a/b/c", True),
]


def test_the_cli_walk_and_its_validation_can_disagree():
    """An inclusion skipped on the parent is not handed down: the walk sends a/b, the check excludes it."""
    matcher = PatternMatcher(["a", "!a/b", "a"])
    assert _ask(matcher, "matches_using_parent_results", "a/b") is False
    assert matcher.matches_or_parent_matches("a/b") is True
METHODS = ["matches_or_parent_matches", "matches_using_parent_results", "matches_using_no_parent_results"]


def _ask(matcher: PatternMatcher, method: str, path: str) -> bool:
    """The matcher's answer as each of its callers in Docker obtains it."""
    if method == "matches_or_parent_matches":
        return matcher.matches_or_parent_matches(path)
    if method == "matches_using_no_parent_results":
        return matcher.matches_using_parent_results(path)[0]
    results, parent = None, go_dir(path)  # as the CLI's walk: each parent's results handed down
    if parent != ".":
        dirs = parent.split("/")
        for depth in range(1, len(dirs) + 1):
            results = matcher.matches_using_parent_results("/".join(dirs[:depth]), results)[1]
    return matcher.matches_using_parent_results(path, results)[0]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("pattern, path, excluded", SINGLE)
def test_one_pattern(method, pattern, path, excluded):
    assert _ask(PatternMatcher([pattern]), method, path) is excluded


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("patterns, path, excluded", MULTI)
def test_several_patterns(method, patterns, path, excluded):
    assert _ask(PatternMatcher(patterns), method, path) is excluded


@pytest.mark.parametrize("patterns, path, modern, parent_depth, legacy", [
    # ``matches`` tries a parent at the pattern's depth only: **/b is 2 deep
    (["**/b"], "a/x/b/other", True, False, False),
    (["a/**/b"], "a/x/b/other", True, True, True),
    # the CLI 28 answers ``**name`` by suffix; 20.10 by regexp
    (["**file"], "xfile", True, True, False),
    # 20.10 escapes only . and $: a+ is a regexp there
    (["a+"], "aa", False, False, True),
    (["a+"], "a+", True, True, False),
    (["(x)"], "x", False, False, True),
])
def test_where_the_matchers_differ(patterns, path, modern, parent_depth, legacy):
    assert PatternMatcher(patterns).matches_or_parent_matches(path) is modern
    assert PatternMatcher(patterns).matches(path) is parent_depth
    assert PatternMatcher(patterns, legacy=True).matches(path) is legacy


@pytest.mark.parametrize("pattern, kind, regexp", [  # moby's TestCompile table
    ("*", "regexp", "^[^/]*$"), ("file*", "regexp", "^file[^/]*$"), ("*file", "regexp", "^[^/]*file$"),
    ("a*/b", "regexp", "^a[^/]*/b$"), ("**", "suffix", None), ("**/**", "regexp", "^(.*/)?.*$"),
    ("dir/**", "prefix", None), ("**/dir", "suffix", None), ("**/dir2/*", "regexp", "^(.*/)?dir2/[^/]*$"),
    ("**/dir2/**", "regexp", "^(.*/)?dir2/.*$"), ("**file", "suffix", None),
    ("**/file*txt", "regexp", "^(.*/)?file[^/]*txt$"), ("**/**/*.txt", "regexp", "^(.*/)?(.*/)?[^/]*\\.txt$"),
    ("a[b-d]e", "regexp", "^a[b-d]e$"), (".*", "regexp", "^\\.[^/]*$"), ("abc.def", "exact", None),
    ("abc?def", "regexp", "^abc[^/]def$"), ("**/foo/bar", "suffix", None), ("a(b)c/def", "exact", None),
    ("a.|)$(}+{bc", "exact", None), ("a|b*", "regexp", "^a|b[^/]*$"), ("x\\", "exact", None),
])
def test_the_regexp_is_mobys(pattern, kind, regexp):
    got_kind, source = _moby_regexp(pattern, legacy=False)
    assert got_kind == kind
    if regexp is not None:
        assert source == regexp


@pytest.mark.parametrize("pattern, path, excluded", [
    # moby hands [ ] \x { } | ^ to RE2 as they are; barge reads them as RE2 does
    ("[[:digit:]]", "7", True), ("[[:digit:]]", "x", False), ("[[:alpha:]]*.txt", "a1.txt", True),
    ("\\d", "7", True), ("\\d", "d", False), ("\\101", "A", True), ("\\x41", "A", True),
    ("a|b*", "azz", True), ("a|b*", "xb", True), ("a|b*", "xyz", False), ("a|b", "a|b", True),
    ("a{2}*", "aa", True), ("a{2}*", "a{2}", False), ("a{,2}*", "a{,2}", True), ("^a*", "abc", True),
    ("^a*", "^a", False), ("[^a]", "b", True), ("[^a]", "/", True), ("[!a]", "b", False), ("[!a]", "!", True), ("[[]", "[", True),
    ("x?]", "xy]", True),
])
def test_regexp_passthrough_as_re2_reads_it(pattern, path, excluded):
    assert PatternMatcher([pattern]).matches_or_parent_matches(path) is excluded


@pytest.mark.parametrize("pattern", [
    "a{2}{3}*",     # RE2 refuses stacked repeats
    "a/*/b[",       # New lets it through (Go stops at the first chunk), the regexp fails
    "x*[[:foo:]]",  # an unknown POSIX class
])
def test_a_regexp_that_does_not_compile_fails_at_match_time(pattern):
    matcher = PatternMatcher([pattern])
    with pytest.raises(DockerignoreError, match=r"^syntax error in pattern$"):
        matcher.matches_or_parent_matches("anything")


@pytest.mark.parametrize("pattern", ["*[[:^digit:]]", "*\\pL", "*\\p{Greek}", "\\Qa*\\E"])
def test_re2_syntax_python_cannot_spell_is_refused(pattern):
    """Known gap: Docker accepts RE2's negated POSIX and Unicode classes and \\Q..\\E; barge refuses them."""
    with pytest.raises(DockerignoreError, match=r"^syntax error in pattern$"):
        PatternMatcher([pattern]).matches_or_parent_matches("x")


def test_dockerd_20_10_regexp_refuses_stacked_repeats():
    """20.10 hands + to RE2: c++ is an error there (Python would read a possessive repeat)."""
    assert PatternMatcher(["c++*"]).matches_or_parent_matches("c++x") is True
    with pytest.raises(DockerignoreError, match=r"^syntax error in pattern$"):
        PatternMatcher(["c++*"], legacy=True).matches("c++x")


def test_an_exception_never_reached_is_never_compiled():
    matcher = PatternMatcher(["a", "!b/*/x["])
    assert matcher.matches_or_parent_matches("c") is False
    with pytest.raises(DockerignoreError):
        matcher.matches_or_parent_matches("a")


def test_dockerd_20_10_evaluates_every_pattern():
    with pytest.raises(DockerignoreError):
        PatternMatcher(["a", "!b/*/x["], legacy=True).matches("c")


@pytest.mark.parametrize("path, patterns, expected", [
    ("fileutils.go", ["*"], True), ("fileutils.go", ["*.go"], True), (".", ["*"], False), ("./", ["*"], False),
    ("/any/path/there", [], False), ("docs/README.md", ["docs/", "!docs/README.md"], False),
    ("a//b/", ["a/b"], True),
])
def test_package_level_matches(path, patterns, expected):
    assert matches(path, patterns) is expected


def test_matches_using_parent_results_checks_its_input():
    with pytest.raises(ValueError, match="wrong number of values in parentMatched"):
        PatternMatcher(["a", "b"]).matches_using_parent_results("a/b", (True,))


# ---------------------------------------------------------------- build files

@pytest.mark.parametrize("excludes, dockerfile, from_stdin, trimmed", [
    ([], "Dockerfile", False, []),
    (["node_modules"], "Dockerfile", False, ["node_modules"]),
    (["Dockerfile", ".dockerignore"], "Dockerfile", False,
     ["Dockerfile", ".dockerignore", "!.dockerignore", "!Dockerfile"]),
    (["*"], "Dockerfile", False, ["*", "!.dockerignore", "!Dockerfile"]),
    (["*"], "Dockerfile", True, ["*", "!.dockerignore"]),
    (["sub"], "sub/Dockerfile", False, ["sub", "!sub/Dockerfile"]),
    (["**/sub"], "sub/Dockerfile", False, ["**/sub"]),  # Matches looks one level: Docker loses the Dockerfile
    (["*", "["], "Dockerfile", False, ["*", "["]),  # New fails: the error counts as no match
    (["*", "a/*/b["], "Dockerfile", False, ["*", "a/*/b[", "!.dockerignore", "!Dockerfile"]),  # never compiled
    (["*", "!Dockerfile"], "Dockerfile", False, ["*", "!Dockerfile", "!.dockerignore"]),
])
def test_trim_build_files(excludes, dockerfile, from_stdin, trimmed):
    assert trim_build_files(excludes, dockerfile, dockerfile_from_stdin=from_stdin) == trimmed


@pytest.mark.parametrize("excludes, dockerfile, removed", [
    ([], "Dockerfile", []),
    (["Dockerfile"], "Dockerfile", ["Dockerfile"]),
    (["*"], "Dockerfile", [".dockerignore", "Dockerfile"]),
    (["*", "!Dockerfile"], "Dockerfile", [".dockerignore"]),
    (["sub"], "sub/Dockerfile", ["sub/Dockerfile"]),
    (["**/sub"], "sub/Dockerfile", []),
    (["*", "["], "Dockerfile", []),  # New fails: nothing is removed
    (["*", "a/*/b["], "Dockerfile", []),  # 20.10 compiles every pattern: the error wins
    (["Docker(file)"], "Dockerfile", ["Dockerfile"]),  # a regexp group in 20.10
])
def test_daemon_removes(excludes, dockerfile, removed):
    assert daemon_removes(excludes, dockerfile) == removed


# ---------------------------------------------------------------- the context

@pytest.mark.parametrize("excludes, relpath, skip", [
    (["docs"], "docs", True),
    (["docs", "!docs/keep.md"], "docs", False),
    (["docs", "!docs/*.md"], "docs", False),
    (["docs", "!**/keep.md"], "docs", True),  # a plain prefix test, as go-archive's
    (["docs", "!docs2/x"], "docs", True),
    (["a", "!a/b/c"], "a/b", False),
    (["a", "!a"], "a", False),
])
def test_skip_dir(excludes, relpath, skip):
    assert ContextFilter(excludes).skip_dir(relpath) is skip


TAR = [("Dockerfile", False), (".dockerignore", False), ("README.md", False), ("x.md", False), ("docs/", True),
       ("docs/keep.md", False), ("docs/other.md", False), ("a/x/b/keep", False), ("a/x/b/other", False),
       ("./node_modules/m/index.js", False), ("src/main.go", False)]
IGNORE = "*.md\n!README.md\ndocs\n!docs/keep.md\n**/b\n!a/x/b/keep\nnode_modules\nDockerfile\n.dockerignore\n"


def test_filter_entries_of_a_tar_listing():
    context_filter = ContextFilter.for_build(read_dockerignore(IGNORE))
    assert list(filter_entries(TAR, context_filter)) == [
        "Dockerfile", ".dockerignore", "README.md", "docs/keep.md", "a/x/b/keep", "src/main.go"]


def _tree(root, files, dirs=(), ignore=None):
    for name in dirs:
        os.makedirs(root / name, exist_ok=True)
    for name in files:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("x")
    if ignore is not None:
        (root / ".dockerignore").write_text(ignore)


def test_walk_sends_what_the_docker_cli_sends(tmp_path):
    _tree(tmp_path, ["Dockerfile", "README.md", "x.md", "docs/keep.md", "docs/other.md", "a/x/b/keep",
                     "a/x/b/other", "node_modules/m/index.js", "src/main.go"], ignore=IGNORE)
    sent = list(walk_context(tmp_path, ContextFilter.for_build(read_dockerignore(IGNORE))))
    assert sent == [".dockerignore", "Dockerfile", "README.md", "a", "a/x", "a/x/b/keep", "docs/keep.md", "src",
                    "src/main.go"]


def test_walk_as_dockerd_20_10s_cli_leaks_below_a_deep_double_star(tmp_path):
    _tree(tmp_path, ["Dockerfile", "a/x/b/keep", "a/x/b/other"], ignore="**/b\n!a/x/b/keep\n")
    excludes = read_dockerignore((tmp_path / ".dockerignore").read_text())
    assert list(walk_context(tmp_path, ContextFilter.for_build(excludes))) == [
        ".dockerignore", "Dockerfile", "a", "a/x", "a/x/b/keep"]
    assert list(walk_context(tmp_path, ContextFilter.for_build(excludes, legacy=True))) == [
        ".dockerignore", "Dockerfile", "a", "a/x", "a/x/b/keep", "a/x/b/other"]


@pytest.mark.parametrize("ignore, dockerfile, sent", [
    ("*\n", "Dockerfile", [".dockerignore", "Dockerfile"]),
    ("*\n!src\n", "Dockerfile", [".dockerignore", "Dockerfile", "src", "src/a.go", "src/b.txt"]),
    ("**/*.go\n", "Dockerfile", [".dockerignore", "Dockerfile", "src", "src/b.txt", "sub", "sub/Dockerfile"]),
    ("sub\n", "sub/Dockerfile", [".dockerignore", "Dockerfile", "src", "src/a.go", "src/b.txt", "sub/Dockerfile"]),
    ("**/sub\n", "sub/Dockerfile", [".dockerignore", "Dockerfile", "src", "src/a.go", "src/b.txt"]),
    ("src/**\n!src/*.go\n", "Dockerfile", [".dockerignore", "Dockerfile", "src", "src/a.go", "sub", "sub/Dockerfile"]),
    ("/src/\n./sub\n", "Dockerfile", [".dockerignore", "Dockerfile"]),
])
def test_walk_keeps_the_build_files(tmp_path, ignore, dockerfile, sent):
    _tree(tmp_path, ["Dockerfile", "src/a.go", "src/b.txt", "sub/Dockerfile"], ignore=ignore)
    context_filter = ContextFilter.for_build(read_dockerignore(ignore), dockerfile)
    assert list(walk_context(tmp_path, context_filter)) == sent


def test_walk_orders_by_bytes_and_does_not_follow_symlinks(tmp_path):
    _tree(tmp_path, ["B", "a", "é", "z/inner"])
    os.symlink(tmp_path / "z", tmp_path / "link")
    assert list(walk_context(tmp_path, ContextFilter([]))) == ["B", "a", "link", "z", "z/inner", "é"]


def test_walk_of_an_empty_or_missing_context(tmp_path):
    assert list(walk_context(tmp_path, ContextFilter(["*"]))) == []
    assert list(walk_context(tmp_path / "missing", ContextFilter([]))) == []


def test_a_bad_pattern_stops_the_walk(tmp_path):
    _tree(tmp_path, ["a"])
    with pytest.raises(DockerignoreError, match=r"^syntax error in pattern$"):
        list(walk_context(tmp_path, ContextFilter(["x/*/y["])))


def test_check_context_readable(tmp_path, monkeypatch):
    _tree(tmp_path, ["Dockerfile", "secret/key", "ok"])
    check_context_readable(tmp_path, [])
    with pytest.raises(DockerignoreError, match=r"^syntax error in pattern$"):
        check_context_readable(tmp_path, ["x/*/y["])
    real_open = os.open

    def refuse(path, flags, *args):
        if str(path).endswith("secret/key"):
            raise PermissionError(13, "denied")
        return real_open(path, flags, *args)
    monkeypatch.setattr(os, "open", refuse)
    with pytest.raises(DockerignoreError) as caught:
        check_context_readable(tmp_path, [])
    assert str(caught.value) == f"no permission to read from '{os.path.realpath(tmp_path)}/secret/key'"
    check_context_readable(tmp_path, ["secret", "!secret/other"])  # excluded: never opened, exceptions or not
