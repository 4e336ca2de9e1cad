"""Dockerfile text to nodes as dockerd 20.10's classic builder parses it.

Cases follow moby's parser tests and test files (frontend/dockerfile/parser),
written again here as tables with exact values and exact error messages.
"""

import pytest

from barge.dockerfile.parser import (
    EMPTY_CONTINUATION_FINAL,
    NOT_STRING_ARRAY,
    DockerfileParseError,
    Node,
    parse,
    parse_line,
    read_dockerfile,
)
from barge.errors import InvalidParameter


def only(text, escape="\\"):
    """The node of a one-instruction Dockerfile (after a FROM to keep it realistic)."""
    result = parse(f"FROM scratch\n{text}\n" if escape == "\\" else f"# escape={escape}\nFROM scratch\n{text}\n")
    assert len(result.nodes) == 2, result.nodes
    return result.nodes[1]


@pytest.mark.parametrize("line, keyword, args, is_json", [
    # the shell/exec forms
    ("RUN echo hi", "run", ("echo hi",), False),
    ("RUN   echo   hi  ", "run", ("echo   hi",), False),
    ('RUN ["echo", "hi"]', "run", ("echo", "hi"), True),
    ('CMD ["a"] trailing text', "cmd", ("a",), True),
    ("CMD []", "cmd", (), True),
    ('CMD [""]', "cmd", ("",), True),
    ("CMD\t[\t\"a\",\t\"b\"\t]\t", "cmd", ("a", "b"), True),
    ('CMD ["abc 123", "♥", "\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u0000"]', "cmd",
     ("abc 123", "♥", '" \\ / \b \f \n \r \t \x00'), True),
    ('ENTRYPOINT ["/bin/sh", "-c"]', "entrypoint", ("/bin/sh", "-c"), True),
    ('SHELL ["powershell", "-command"]', "shell", ("powershell", "-command"), True),
    ("SHELL powershell -command", "shell", ("powershell -command",), False),
    ("RUN", "run", (), False),
    # not JSON after all: the whole text is the shell form
    ("CMD [\"a\", 'b']", "cmd", ("[\"a\", 'b']",), False),
    ('CMD ["a", "b"', "cmd", ('["a", "b"',), False),
    ('CMD ["a" "b"]', "cmd", ('["a" "b"]',), False),
    ('CMD ["a",]', "cmd", ('["a",]',), False),
    ("CMD [NaN]", "cmd", ("[NaN]",), False),
    ('CMD ["\\x"]', "cmd", ('["\\x"]',), False),
    ('CMD {"a": "b"}', "cmd", ('{"a": "b"}',), False),
    ("CMD [ echo hi ]", "cmd", ("[ echo hi ]",), False),
    # white-space lists, with the JSON form
    ("COPY a b /dst/", "copy", ("a", "b", "/dst/"), False),
    ("COPY\t.\t/go/src", "copy", (".", "/go/src"), False),
    ('COPY [ "test file", "/tmp" ]', "copy", ("test file", "/tmp"), True),
    ('ADD [ "test file", "/tmp/test file" ]', "add", ("test file", "/tmp/test file"), True),
    ("ADD null /", "add", ("null", "/"), False),
    ("ADD 'a b' c", "add", ("'a", "b'", "c"), False),
    ('VOLUME ["/a", "/b"]', "volume", ("/a", "/b"), True),
    ("VOLUME /a /b", "volume", ("/a", "/b"), False),
    ("VOLUME [/a]", "volume", ("[/a]",), False),
    ("EXPOSE 80 443/udp", "expose", ("80", "443/udp"), False),
    ('EXPOSE ["80"]', "expose", ('["80"]',), False),
    ("FROM busybox AS build", "from", ("busybox", "AS", "build"), False),
    # one string
    ("USER  me:grp  ", "user", ("me:grp",), False),
    ("WORKDIR /a b", "workdir", ("/a b",), False),
    ("MAINTAINER Erik \\\\Hollensbe <erik@hollensbe.org>\\\"", "maintainer",
     ('Erik \\\\Hollensbe <erik@hollensbe.org>\\"',), False),
    ("STOPSIGNAL SIGKILL", "stopsignal", ("SIGKILL",), False),
    # ENV and LABEL, both forms, quotes kept for the builder
    ("ENV A b c", "env", ("A", "b c"), False),
    ("ENV A   b  c", "env", ("A", "b  c"), False),
    ('ENV A "b c"', "env", ("A", '"b c"'), False),
    ('ENV A=1 B="v 2" C=x\\ y D=\'q\'', "env", ("A", "1", "B", '"v 2"', "C", "x\\ y", "D", "'q'"), False),
    ("ENV A= B=", "env", ("A", "", "B", ""), False),
    ("ENV A=b=c", "env", ("A", "b=c"), False),
    ("ENV =x", "env", ("", "x"), False),
    ("ENV", "env", (), False),
    ("LABEL maintainer foo@bar.com", "label", ("maintainer", "foo@bar.com"), False),
    ('LABEL "com.x"="a b" k=v', "label", ('"com.x"', '"a b"', "k", "v"), False),
    # ARG: one argument per word, split later
    ("ARG a", "arg", ("a",), False),
    ('ARG a=1 b c="x y"', "arg", ("a=1", "b", 'c="x y"'), False),
    ("ARG", "arg", (), False),
    # HEALTHCHECK: a type word, then RUN's forms
    ("HEALTHCHECK NONE", "healthcheck", ("NONE",), False),
    ("HEALTHCHECK CMD", "healthcheck", ("CMD",), False),
    ("HEALTHCHECK   CMD   a b", "healthcheck", ("CMD", "a b"), False),
    ('HEALTHCHECK CMD ["foo", "bar"]', "healthcheck", ("CMD", "foo", "bar"), True),
    ("HEALTHCHECK CONNECT TCP 7000", "healthcheck", ("CONNECT", "TCP 7000"), False),
    ("HEALTHCHECK", "healthcheck", (), False),
    # unknown instructions parse; they are refused when typed
    ("RUNN x y", "runn", ("",), False),
    ("run lower case", "run", ("lower case",), False),
    ("Copy a b", "copy", ("a", "b"), False),
])
def test_arguments_split_per_instruction(line, keyword, args, is_json):
    node = only(line)
    assert (node.keyword, node.args, node.is_json) == (keyword, args, is_json)
    assert node.flags == ()


@pytest.mark.parametrize("line, flags, args", [
    ("COPY --from=build a b", ("--from=build",), ("a", "b")),
    ("COPY --user=me --doit=true foo /tmp/", ("--user=me", "--doit=true"), ("foo", "/tmp/")),
    ("COPY --doit=true -- foo /tmp/", ("--doit=true",), ("foo", "/tmp/")),
    ("COPY -- foo /tmp/", (), ("foo", "/tmp/")),
    ("COPY -- --notaflag /tmp/", (), ("--notaflag", "/tmp/")),
    ('CMD --doit [ "a", "b" ]', ("--doit",), ("a", "b")),
    ('CMD --doit=true -- [ "a", "b" ]', ("--doit=true",), ("a", "b")),
    ("CMD --doit -- [ ]", ("--doit",), ()),
    ('COPY --chown="a b" x y', ("--chown=a b",), ("x", "y")),
    ("COPY --chown='a\\'b' x y", ("--chown=a'b",), ("x", "y")),
    ("COPY --chown=a\\ b x y", ("--chown=a b",), ("x", "y")),
    ('COPY --chown="" x y', ("--chown=",), ("x", "y")),
    ("COPY --from=x", ("--from=x",), ()),
    ("COPY --a --", ("--a",), ()),
    ("COPY -x a b", (), ("-x", "a", "b")),
    ("COPY a --from=x b", (), ("a", "--from=x", "b")),
    ("RUN --mount=type=cache,target=/c echo hi", ("--mount=type=cache,target=/c",), ("echo hi",)),
    ("FROM --platform=linux/arm64 busybox", ("--platform=linux/arm64",), ("busybox",)),
    # moby walks flags byte by byte: non-ASCII bytes come out as Latin-1 characters
    ("COPY --chown=jö x y", ("--chown=jÃ¶",), ("x", "y")),
])
def test_flags_are_taken_as_moby_takes_them(line, flags, args):
    node = only(line)
    assert node.flags == flags
    assert node.args == args


def test_onbuild_keeps_its_trigger_parsed():
    node = only("ONBUILD COPY --from=x a b")
    assert node.keyword == "onbuild"
    assert node.args == ("copy", "a", "b")
    assert node.flags == ()
    assert node.trigger == Node("copy", ("a", "b"), ("--from=x",), False, "COPY --from=x a b", 2, 2)
    assert only('ONBUILD RUN ["a"]').trigger.is_json is True
    bare = only("ONBUILD")
    assert (bare.args, bare.trigger) == ((), None)
    assert only("ONBUILD --boo RUN x").flags == ("--boo",)


@pytest.mark.parametrize("text, escape, nodes", [
    ("# escape=`\nFROM image\nENV GOPATH `\n\\go\n", "`", [("from", ("image",)), ("env", ("GOPATH", "\\go"))]),
    ("# escape = `\n\nFROM x\nRUN a `\n b\n", "`", [("from", ("x",)), ("run", ("a  b",))]),
    ("#ESCAPE=`\nFROM x\nRUN a `\n b\n", "`", [("from", ("x",)), ("run", ("a  b",))]),
    ("  # escape=`\nFROM x\nRUN a `\n b\n", "`", [("from", ("x",)), ("run", ("a  b",))]),
    ("# escape=\\\nFROM x\nRUN a \\\n b\n", "\\", [("from", ("x",)), ("run", ("a  b",))]),
    ("# syntax=docker/dockerfile:1\n# escape=`\nFROM x\n", "`", [("from", ("x",))]),
    ("# escape=`\n# syntax=docker/dockerfile:1\nFROM x\n", "`", [("from", ("x",))]),
    ("\ufeff# escape=`\nFROM x\n", "`", [("from", ("x",))]),
    # a comment, a blank line or an unknown directive ends the directives
    ("# Comment here.\n# escape=`\nFROM image\nENV GOPATH \\\n\\go\n", "\\",
     [("from", ("image",)), ("env", ("GOPATH", "\\go"))]),
    ("\n# escape=`\nFROM x\n", "\\", [("from", ("x",))]),
    ("# foo=bar\n# escape=`\nFROM x\n", "\\", [("from", ("x",))]),
    ("# escape\n# escape=`\nFROM x\n", "\\", [("from", ("x",))]),
    ("FROM x\n# escape=`\n", "\\", [("from", ("x",))]),
    # after the directives, a repeated one is only a comment
    ("# escape=`\n\n# escape=`\nFROM x\n", "`", [("from", ("x",))]),
])
def test_parser_directives(text, escape, nodes):
    result = parse(text)
    assert result.escape == escape
    assert [(n.keyword, n.args) for n in result.nodes] == nodes


@pytest.mark.parametrize("text, message, line", [
    ("# escape=`\n# escape=\\\nFROM x\n", "only one escape parser directive can be used", 2),
    ("# syntax=a\n# syntax=b\nFROM x\n", "only one syntax parser directive can be used", 2),
    ("# escape=x\nFROM x\n", "invalid escape token 'x' does not match ` or \\", 1),
    ("# escape=``\nFROM x\n", "invalid escape token '``' does not match ` or \\", 1),
])
def test_directive_errors(text, message, line):
    with pytest.raises(DockerfileParseError) as exc:
        parse(text)
    assert str(exc.value) == message
    assert exc.value.line == line


@pytest.mark.parametrize("text, runs", [
    # moby's continueIndent test file
    ("RUN echo hello\\\n  world\\\n  goodnight  \\\n  moon\\\n  light\\\nning\n",
     ["echo hello  world  goodnight    moon  lightning"]),
    ("RUN echo hello  \\\n  world\n", ["echo hello    world"]),
    ("RUN echo hello \\\ngoodbye\\\nfrog\n", ["echo hello goodbyefrog"]),
    ("RUN echo hello  \\  \nworld\n", ["echo hello  world"]),
    ("RUN echo hi \\\n \\\n world \\\n\\\n good\\\n\\\nnight\n", ["echo hi   world  goodnight"]),
    # comments inside a continuation are skipped, indented or not
    ("RUN echo hello \\\n# this is a comment\n\n# another\n\nthis is more\n", ["echo hello this is more"]),
    ("RUN a \\\n    # indented comment\n    b\n", ["a     b"]),
    # an escaped escape ends the line
    ("RUN a \\\\\nRUN b\n", ["a \\\\", "b"]),
    # a continuation at the end of the file
    ("RUN something \\", ["something"]),
    ("RUN something \\\n", ["something"]),
    # a line that is only the escape joins the next one
    ("RUN a \\\n\\\n b\n", ["a  b"]),
])
def test_line_continuations(text, runs):
    result = parse("FROM x\n" + text)
    assert [n.args[0] for n in result.nodes[1:]] == runs


def test_backtick_continuations_leave_backslashes_alone():
    result = parse("# escape=`\nFROM x\nRUN dir c:\\ `\n  /s\nRUN a \\\nRUN b ``\nRUN c\n")
    assert [n.args for n in result.nodes[1:]] == [("dir c:\\   /s",), ("a \\",), ("b ``",), ("c",)]


def test_empty_continuation_lines_warn_with_moby_text():
    text = ("\nFROM alpine:3.6\n\nRUN something \\\n\n    following \\\n\n    more\n\n"
            "RUN another \\\n\n    thing\nRUN non-indented \\\n# this is a comment\n   after-comment\n\n"
            "RUN indented \\\n    # this is an indented comment\n    comment\n\t")
    result = parse(text)
    assert result.warnings == (
        "[WARNING]: Empty continuation line found in:\n    RUN something     following     more",
        "[WARNING]: Empty continuation line found in:\n    RUN another     thing",
        EMPTY_CONTINUATION_FINAL,
    )
    assert EMPTY_CONTINUATION_FINAL == "[WARNING]: Empty continuation lines will become errors in a future release."
    assert [n.original for n in result.nodes] == [
        "FROM alpine:3.6", "RUN something     following     more", "RUN another     thing",
        "RUN non-indented    after-comment", "RUN indented     comment"]
    assert parse("FROM x\nRUN a\n").warnings == ()


def test_line_numbers_follow_continuations_and_comments():
    text = ("# ESCAPE=\\\n\n\n\nFROM brimstone/ubuntu:14.04\n\n\n# TORUN -v /var/run/docker.sock:/var/run/docker.sock\n\n\n"
            "ENV GOPATH \\\n/go\n\n\n\n# Install the packages we need, clean up after them and us\n"
            "RUN apt-get update \\\n\t&& dpkg -l | awk '/^ii/ {print $2}' > /tmp/dpkg.clean \\\n\n\n"
            "    && apt-get install -y --no-install-recommends git golang ca-certificates \\\n"
            "    && apt-get clean \\\n    && rm -rf /var/lib/apt/lists \\\n\n"
            "\t&& go get -v github.com/brimstone/consuldock \\\n"
            "    && mv $GOPATH/bin/consuldock /usr/local/bin/consuldock \\\n\n"
            "\t&& dpkg -l | awk '/^ii/ {print $2}' > /tmp/dpkg.dirty \\\n"
            "\t&& apt-get remove --purge -y $(diff /tmp/dpkg.clean /tmp/dpkg.dirty | awk '/^>/ {print $2}') \\\n"
            "\t&& rm /tmp/dpkg.* \\\n\t&& rm -rf $GOPATH\n\n\n\n\n")
    result = parse(text)
    assert [(n.start_line, n.end_line) for n in result.nodes] == [(5, 5), (11, 12), (17, 31)]


def test_original_text_joins_continuations_and_trims_indentation():
    result = parse("FROM x\n   RUN echo a \\\n      b   \n")
    assert result.nodes[1].original == "RUN echo a       b   "
    assert result.nodes[1].args == ("echo a       b",)


def test_crlf_line_ends_and_bom():
    result = parse(b"\xef\xbb\xbfFROM x\r\nRUN a \\\r\n b\r\nCMD [\"c\"]\r\n")
    assert [(n.keyword, n.args, n.start_line) for n in result.nodes] == [
        ("from", ("x",), 1), ("run", ("a  b",), 2), ("cmd", ("c",), 4)]
    # a lone CR ends no line: it is white space between arguments
    assert parse(b"FROM x\rRUN y\n").nodes[0].args == ("x", "RUN", "y")


def test_str_and_bytes_parse_alike():
    text = "FROM x\nLABEL a=\"é\"\n"
    assert parse(text) == parse(text.encode())
    assert parse(b"FROM x\nLABEL a=\xff\n").nodes[1].args == ("a", "\ufffd")
    assert parse(b"FROM x\nLABEL a \xff\n").nodes[1].args == ("a", "\udcff")


@pytest.mark.parametrize("text, message, line", [
    ("", "file with no instructions", 0),
    ("# only a comment\n\n   \n", "file with no instructions", 3),
    ("FROM x\nENV A\n", "ENV must have two arguments", 2),
    ("FROM x\nLABEL A\n", "LABEL must have two arguments", 2),
    ("FROM x\nENV A=b c\n", 'Syntax error - can\'t find = in "c". Must be of the form: name=value', 2),
    ("FROM x\nLABEL a=b \"c d\"\n", 'Syntax error - can\'t find = in "\\"c d\\"". Must be of the form: name=value', 2),
    ('FROM x\nCMD ["a", 1]\n', NOT_STRING_ARRAY, 2),
    ('FROM x\nRUN [["echo", "hi"]]\n', NOT_STRING_ARRAY, 2),
    ('FROM x\nCOPY ["a", null]\n', NOT_STRING_ARRAY, 2),
    ('FROM x\nVOLUME [true]\n', NOT_STRING_ARRAY, 2),
    ('FROM x\nHEALTHCHECK CMD [{}]\n', NOT_STRING_ARRAY, 2),
    ('FROM x\nONBUILD CMD [1]\n', NOT_STRING_ARRAY, 2),
    ('FROM x\nRUN \\\n\n ["a", 1]\n', NOT_STRING_ARRAY, 2),
])
def test_parse_errors(text, message, line):
    with pytest.raises(DockerfileParseError) as exc:
        parse(text)
    assert str(exc.value) == message
    assert exc.value.line == line
    assert isinstance(exc.value, InvalidParameter)


def test_a_line_longer_than_gos_scanner_buffer():
    long_label = "a" * 65536
    with pytest.raises(DockerfileParseError) as exc:
        parse(f"\n\t\tFROM image\n\t\tLABEL test={long_label}\n")
    assert str(exc.value) == "dockerfile line greater than max allowed size of 65535"
    fits = "LABEL test=" + "a" * (65535 - len("LABEL test="))
    assert parse(f"FROM x\n{fits}\n").nodes[1].args[1] == "a" * (65535 - len("LABEL test="))
    with pytest.raises(DockerfileParseError, match="file with no instructions"):
        parse("RUN " + "a" * 70000 + "\nFROM x\n")


def test_read_dockerfile_speaks_as_dockerd():
    with pytest.raises(InvalidParameter) as exc:
        read_dockerfile(b"", "Dockerfile.dev")
    assert str(exc.value) == "the Dockerfile (Dockerfile.dev) cannot be empty"
    with pytest.raises(DockerfileParseError) as exc:
        read_dockerfile(b"FROM x\nENV A\n")
    assert str(exc.value) == "failed to parse Dockerfile: ENV must have two arguments"
    assert exc.value.line == 2
    with pytest.raises(DockerfileParseError, match="^failed to parse Dockerfile: file with no instructions$"):
        read_dockerfile(b"# nothing\n")
    assert read_dockerfile(b"FROM x").nodes[0].args == ("x",)


def test_parse_line_reads_one_instruction():
    assert parse_line("RUN a `$b", "`") == Node("run", ("a `$b",), (), False, "RUN a `$b", 0, 0)
    assert parse_line("ENV A B").args == ("A", "B")
    with pytest.raises(DockerfileParseError, match="ENV must have two arguments"):
        parse_line("ENV A")
