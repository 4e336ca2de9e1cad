"""Typed instructions, stages and expansion as dockerd 20.10's classic builder has them.

Cases follow moby's instructions package (parse.go, bflag.go and their
tests), written again as tables with exact values and exact error texts.
"""

import pytest

from barge.dockerfile.instructions import (
    Add,
    Arg,
    Cmd,
    Copy,
    Entrypoint,
    Env,
    Expose,
    From,
    Healthcheck,
    InstructionError,
    Label,
    Maintainer,
    Onbuild,
    Run,
    Shell,
    Stage,
    Stopsignal,
    UnknownInstruction,
    User,
    Volume,
    Workdir,
    check_stage_name,
    expand,
    expand_from,
    label_from_option,
    parse_go_duration,
    parse_go_int32,
    parse_instruction,
    parse_stages,
    parse_trigger,
    select_target,
    total_steps,
)
from barge.dockerfile.parser import parse
from barge.dockerfile.shell_lex import ExpansionError
from barge.errors import InvalidParameter


def one(line: str, escape: str = "\\"):
    """The typed instruction of one Dockerfile line."""
    prefix = "" if escape == "\\" else f"# escape={escape}\n"
    nodes = parse(f"{prefix}{line}\n").nodes
    assert len(nodes) == 1
    return parse_instruction(nodes[0])


def base(name: str, original: str, line: int = 1, end_line: int = 1) -> dict:
    return {"name": name, "original": original, "line": line, "end_line": end_line}


@pytest.mark.parametrize("line, expected", [
    ("FROM busybox", From(**base("from", "FROM busybox"), image="busybox")),
    ("FROM busybox:1.36 AS Build-1.x_y", From(**base("from", "FROM busybox:1.36 AS Build-1.x_y"),
                                              image="busybox:1.36", stage_name="build-1.x_y")),
    ("from a as b", From(**base("from", "from a as b"), image="a", stage_name="b")),
    ("FROM a a\u017f b", From(**base("from", "FROM a a\u017f b"), image="a", stage_name="b")),
    ("FROM --platform=$BUILDPLATFORM golang AS build",
     From(**base("from", "FROM --platform=$BUILDPLATFORM golang AS build"), image="golang", stage_name="build",
          platform="$BUILDPLATFORM")),
    ("RUN echo $HOME", Run(**base("run", "RUN echo $HOME"), command=("echo $HOME",), prepend_shell=True)),
    ('RUN ["echo", "$HOME"]', Run(**base("run", 'RUN ["echo", "$HOME"]'), command=("echo", "$HOME"),
                                  prepend_shell=False)),
    ("RUN --mount=type=cache,target=/c --mount=type=tmpfs,target=/t make",
     Run(**base("run", "RUN --mount=type=cache,target=/c --mount=type=tmpfs,target=/t make"), command=("make",),
         prepend_shell=True, flags_used=("mount",), mounts=("type=cache,target=/c", "type=tmpfs,target=/t"))),
    ("RUN", Run(**base("run", "RUN"), command=(), prepend_shell=True)),
    ("CMD", Cmd(**base("cmd", "CMD"), command=(), prepend_shell=True)),
    ("CMD []", Cmd(**base("cmd", "CMD []"), command=(), prepend_shell=False)),
    ("CMD echo hi", Cmd(**base("cmd", "CMD echo hi"), command=("echo hi",), prepend_shell=True)),
    ('CMD ["sh"]', Cmd(**base("cmd", 'CMD ["sh"]'), command=("sh",), prepend_shell=False)),
    ("ENTRYPOINT []", Entrypoint(**base("entrypoint", "ENTRYPOINT []"), command=None, prepend_shell=False)),
    ("ENTRYPOINT", Entrypoint(**base("entrypoint", "ENTRYPOINT"), command=None, prepend_shell=True)),
    ("ENTRYPOINT nginx -g x", Entrypoint(**base("entrypoint", "ENTRYPOINT nginx -g x"), command=("nginx -g x",),
                                         prepend_shell=True)),
    ('ENV A=1 B="v 2"', Env(**base("env", 'ENV A=1 B="v 2"'), pairs=(("A", "1"), ("B", '"v 2"')))),
    ("ENV PATH /usr/bin:$PATH", Env(**base("env", "ENV PATH /usr/bin:$PATH"), pairs=(("PATH", "/usr/bin:$PATH"),))),
    ("LABEL a=b c=d", Label(**base("label", "LABEL a=b c=d"), pairs=(("a", "b"), ("c", "d")))),
    ("LABEL version 1.0", Label(**base("label", "LABEL version 1.0"), pairs=(("version", "1.0"),))),
    ("ARG a b=2 c= d=\"x y\"", Arg(**base("arg", 'ARG a b=2 c= d="x y"'),
                                  args=(("a", None), ("b", "2"), ("c", ""), ("d", '"x y"')))),
    ("ARG --unchecked x", Arg(**base("arg", "ARG --unchecked x"), args=(("x", None),))),
    ("EXPOSE 8080 443/udp 80", Expose(**base("expose", "EXPOSE 8080 443/udp 80"), ports=("443/udp", "80", "8080"))),
    ('VOLUME ["/a", " /b "]', Volume(**base("volume", 'VOLUME ["/a", " /b "]'), paths=("/a", "/b"))),
    ("VOLUME /a /b", Volume(**base("volume", "VOLUME /a /b"), paths=("/a", "/b"))),
    ("USER 1000:1000", User(**base("user", "USER 1000:1000"), user="1000:1000")),
    ("WORKDIR /app", Workdir(**base("workdir", "WORKDIR /app"), path="/app")),
    ("COPY a b /dst/", Copy(**base("copy", "COPY a b /dst/"), sources=("a", "b"), dest="/dst/")),
    ("COPY --from=build --chown=1:2 --chmod=644 /out /bin/",
     Copy(**base("copy", "COPY --from=build --chown=1:2 --chmod=644 /out /bin/"), sources=("/out",), dest="/bin/",
          chown="1:2", chmod="644", from_="build")),
    ('COPY ["a b", "/c d/"]', Copy(**base("copy", 'COPY ["a b", "/c d/"]'), sources=("a b",), dest="/c d/")),
    ("ADD --chown=me http://x/y.tgz /", Add(**base("add", "ADD --chown=me http://x/y.tgz /"),
                                            sources=("http://x/y.tgz",), dest="/", chown="me")),
    ("STOPSIGNAL SIGKILL", Stopsignal(**base("stopsignal", "STOPSIGNAL SIGKILL"), signal="SIGKILL")),
    ("STOPSIGNAL --ignored 9", Stopsignal(**base("stopsignal", "STOPSIGNAL --ignored 9"), signal="9")),
    ('SHELL ["/bin/bash", "-c"]', Shell(**base("shell", 'SHELL ["/bin/bash", "-c"]'), shell=("/bin/bash", "-c"))),
    ("MAINTAINER Jane <j@x>", Maintainer(**base("maintainer", "MAINTAINER Jane <j@x>"), maintainer="Jane <j@x>")),
    ("  RUN spaced   ", Run(**base("run", "RUN spaced"), command=("spaced",), prepend_shell=True)),
])
def test_each_instruction_is_typed(line, expected):
    assert one(line) == expected


def test_onbuild_keeps_the_trigger_text():
    instruction = one("ONBUILD  COPY --from=x a b")
    assert isinstance(instruction, Onbuild)
    assert instruction.expression == "COPY --from=x a b"
    assert instruction.trigger.keyword == "copy"
    assert one("onbuild run echo `$x", "`").expression == "run echo `$x"
    # an unknown trigger is only refused when a child image builds
    assert one("ONBUILD RUNN x").expression == "RUNN x"


@pytest.mark.parametrize("line, test, interval, timeout, start_period, retries", [
    ("HEALTHCHECK NONE", ("NONE",), 0, 0, 0, 0),
    ("HEALTHCHECK none", ("NONE",), 0, 0, 0, 0),
    ("HEALTHCHECK --interval=0s --bogus NONE", ("NONE",), 0, 0, 0, 0),
    ("HEALTHCHECK CMD curl -f http://x/", ("CMD-SHELL", "curl -f http://x/"), 0, 0, 0, 0),
    ('HEALTHCHECK cmd ["curl", "x"]', ("CMD", "curl", "x"), 0, 0, 0, 0),
    ("HEALTHCHECK --interval=5s --timeout=3s --start-period=1m30s --retries=3 CMD true",
     ("CMD-SHELL", "true"), 5_000_000_000, 3_000_000_000, 90_000_000_000, 3),
    ("HEALTHCHECK --interval=1ms --retries=+7 CMD true", ("CMD-SHELL", "true"), 1_000_000, 0, 0, 7),
    ("HEALTHCHECK --timeout=1.5h CMD true", ("CMD-SHELL", "true"), 0, 5_400_000_000_000, 0, 0),
])
def test_healthcheck(line, test, interval, timeout, start_period, retries):
    check = one(line)
    assert isinstance(check, Healthcheck)
    assert (check.test, check.interval, check.timeout, check.start_period, check.retries) == (
        test, interval, timeout, start_period, retries)


@pytest.mark.parametrize("line, message", [
    # argument counts
    ("FROM", "FROM requires either one or three arguments"),
    ("FROM a b", "FROM requires either one or three arguments"),
    ("FROM a AS", "FROM requires either one or three arguments"),
    ("FROM a FOR b", "FROM requires either one or three arguments"),
    ("FROM a AS b c", "FROM requires either one or three arguments"),
    ("FROM a AS 1st", 'invalid name for build stage: "1st", name can\'t start with a number or contain symbols'),
    ("FROM a AS b@c", 'invalid name for build stage: "b@c", name can\'t start with a number or contain symbols'),
    ("FROM --bogus a AS 9", 'invalid name for build stage: "9", name can\'t start with a number or contain symbols'),
    ("MAINTAINER", "MAINTAINER requires exactly one argument"),
    ("WORKDIR", "WORKDIR requires exactly one argument"),
    ("USER", "USER requires exactly one argument"),
    ("STOPSIGNAL", "STOPSIGNAL requires exactly one argument"),
    ("ENV", "ENV requires at least one argument"),
    ("LABEL", "LABEL requires at least one argument"),
    ("ONBUILD", "ONBUILD requires at least one argument"),
    ("HEALTHCHECK", "HEALTHCHECK requires at least one argument"),
    ("EXPOSE", "EXPOSE requires at least one argument"),
    ("VOLUME", "VOLUME requires at least one argument"),
    ("ARG", "ARG requires at least one argument"),
    ("SHELL", "SHELL requires at least one argument"),
    ("SHELL []", "SHELL requires at least one argument"),
    ("SHELL /bin/sh -c", "SHELL requires the arguments to be in JSON form"),
    ("ADD arg1", "ADD requires at least two arguments, but only one was provided. Destination could not be determined"),
    ("COPY arg1", "COPY requires at least two arguments, but only one was provided. Destination could not be determined"),
    ("COPY\t\n", "COPY requires at least two arguments, but only one was provided. Destination could not be determined"),
    ("ENV =x", "ENV names can not be blank"),
    ("LABEL =x", "LABEL names can not be blank"),
    ("ARG =x", "ARG names can not be blank"),
    ('VOLUME [""]', "VOLUME specified can not be an empty string"),
    ('VOLUME ["/a", "  "]', "VOLUME specified can not be an empty string"),
    # ONBUILD triggers
    ("ONBUILD ONBUILD RUN touch foobar", "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"),
    ("ONBUILD FROM scratch", "FROM isn't allowed as an ONBUILD trigger"),
    ("ONBUILD maintainer docker.io", "MAINTAINER isn't allowed as an ONBUILD trigger"),
    ("ONBUILD --x RUN a", "Unknown flag: x"),
    # flags
    ("MAINTAINER --boo joe@example.com", "Unknown flag: boo"),
    ("COPY --link a b", "Unknown flag: link"),
    ("COPY --chmod=1 --chmod=2 a b", "Duplicate flag specified: chmod"),
    ("COPY --from a b", "Missing a value on flag: from"),
    ("ADD --from=x a b", "Unknown flag: from"),
    ("RUN --network=none true", "Unknown flag: network"),
    ("RUN --security=insecure true", "Unknown flag: security"),
    ("RUN --mount true", "Missing a value on flag: mount"),
    ("FROM --platform=a --platform=b x", "Duplicate flag specified: platform"),
    ("ENV --x A=b", "Unknown flag: x"),
    ("CMD --doit=true -- [ \"a\", \"b\" ]", "Unknown flag: doit"),
    ("WORKDIR --x /a", "Unknown flag: x"),
    ("EXPOSE --x 80", "Unknown flag: x"),
    ("SHELL --x [\"a\"]", "Unknown flag: x"),
    # HEALTHCHECK's options
    ("HEALTHCHECK NONE x", "HEALTHCHECK NONE takes no arguments"),
    ("HEALTHCHECK CMD", "Missing command after HEALTHCHECK CMD"),
    ("HEALTHCHECK CMD []", "Missing command after HEALTHCHECK CMD"),
    ("HEALTHCHECK CONNECT TCP 7000", 'Unknown type "CONNECT" in HEALTHCHECK (try CMD)'),
    ("HEALTHCHECK --bogus=1 CONNECT TCP 7000", "Unknown flag: bogus"),
    ("HEALTHCHECK --interval=50ns CMD true", 'Interval "interval" cannot be less than 1ms'),
    ("HEALTHCHECK --timeout=0s CMD true", 'Interval "timeout" cannot be less than 1ms'),
    ("HEALTHCHECK --start-period=-1s CMD true", 'Interval "start-period" cannot be less than 1ms'),
    ("HEALTHCHECK --interval=5 CMD true", 'time: missing unit in duration "5"'),
    ("HEALTHCHECK --interval=5x CMD true", 'time: unknown unit "x" in duration "5x"'),
    ("HEALTHCHECK --interval=x CMD true", 'time: invalid duration "x"'),
    ("HEALTHCHECK --retries=0 CMD true", "--retries must be at least 1 (not 0)"),
    ("HEALTHCHECK --retries=-3 CMD true", "--retries must be at least 1 (not -3)"),
    ("HEALTHCHECK --retries=x CMD true", 'strconv.ParseInt: parsing "x": invalid syntax'),
    ("HEALTHCHECK --retries=2147483648 CMD true", 'strconv.ParseInt: parsing "2147483648": value out of range'),
    ("HEALTHCHECK --interval=5s --interval=6s CMD true", "Duplicate flag specified: interval"),
])
def test_instruction_errors(line, message):
    with pytest.raises(InstructionError) as exc:
        one(line)
    assert str(exc.value) == message
    assert exc.value.line == 1
    assert isinstance(exc.value, InvalidParameter)


def test_healthcheck_type_is_cut_at_a_byte_moby_takes_for_space():
    # U+00A0 is C2 A0 in UTF-8; moby looks for the end of the type word byte by byte
    node = parse("HEALTHCHECK CMD\u00a0true\n".encode()).nodes[0]
    assert node.args == ("CMD\udcc2", "true")
    with pytest.raises(InstructionError) as exc:
        parse_instruction(node)
    assert str(exc.value) == 'Unknown type "CMD\ufffd" in HEALTHCHECK (try CMD)'


def test_unknown_instruction():
    with pytest.raises(UnknownInstruction) as exc:
        one("foo bar")
    assert str(exc.value) == "unknown instruction: FOO"


@pytest.mark.parametrize("text, message", [
    ("FROM a\nRUN a\nRUNN b\n", "dockerfile parse error line 3: unknown instruction: RUNN"),
    ("FROM a\n\nCOPY \\\n  one\n", "dockerfile parse error line 3: COPY requires at least two arguments, "
                                    "but only one was provided. Destination could not be determined"),
    ("FROM\n", "dockerfile parse error line 1: FROM requires either one or three arguments"),
    ("ARG a\nFROM x\nENV a b\nFOO\n", "dockerfile parse error line 4: unknown instruction: FOO"),
    ("RUN x\nFROM a\n", "no build stage in current context"),
    ("ARG a\nENV b=c\nFROM a\n", "no build stage in current context"),
])
def test_stage_parse_errors(text, message):
    with pytest.raises(InstructionError) as exc:
        parse_stages(parse(text))
    assert str(exc.value) == message


def test_unknown_instruction_keeps_its_type_through_stages():
    with pytest.raises(UnknownInstruction):
        parse_stages(parse("FROM a\nRUNN x\n"))


MULTI = """\
ARG BASE=alpine:3.18
ARG TAG
FROM $BASE AS deps
RUN apk add make
ARG TAG
FROM golang:1.21 AS Build
COPY --from=deps /usr/bin/make /usr/bin/
RUN make
FROM scratch
COPY --from=build /out/app /app
FROM build AS test
RUN make test
"""


def test_multi_stage_parse():
    meta, stages = parse_stages(parse(MULTI))
    assert [arg.args for arg in meta] == [(("BASE", "alpine:3.18"),), (("TAG", None),)]
    assert [(s.name, s.base_name, s.source_code) for s in stages] == [
        ("deps", "$BASE", "FROM $BASE AS deps"),
        ("build", "golang:1.21", "FROM golang:1.21 AS Build"),
        ("", "scratch", "FROM scratch"),
        ("test", "build", "FROM build AS test"),
    ]
    assert [[c.original for c in s.commands] for s in stages] == [
        ["RUN apk add make", "ARG TAG"],
        ["COPY --from=deps /usr/bin/make /usr/bin/", "RUN make"],
        ["COPY --from=build /out/app /app"],
        ["RUN make test"],
    ]
    assert [(c.line, c.end_line) for c in stages[1].commands] == [(7, 7), (8, 8)]
    assert total_steps(meta, stages) == 2 + 4 + 6


@pytest.mark.parametrize("target, names", [
    ("", ["deps", "build", "", "test"]),
    ("deps", ["deps"]),
    ("build", ["deps", "build"]),
    ("BUILD", ["deps", "build"]),
    ("test", ["deps", "build", "", "test"]),
])
def test_select_target(target, names):
    _, stages = parse_stages(parse(MULTI))
    assert [s.name for s in select_target(stages, target)] == names


def test_select_target_missing():
    _, stages = parse_stages(parse(MULTI))
    with pytest.raises(InvalidParameter) as exc:
        select_target(stages, "nope")
    assert str(exc.value) == "failed to reach build target nope in Dockerfile"
    with pytest.raises(InvalidParameter, match="failed to reach build target 2 in Dockerfile"):
        select_target(stages, "2")


def test_stage_names_must_be_unique_when_reached():
    _, stages = parse_stages(parse("FROM a AS one\nFROM b AS two\nFROM c AS One\nFROM d\nFROM e\n"))
    check_stage_name(stages[:1], stages[1])
    check_stage_name(stages[:3], stages[4])
    with pytest.raises(InvalidParameter) as exc:
        check_stage_name(stages[:2], stages[2])
    assert str(exc.value) == "one stage name already used"


def test_stage_properties():
    stage = Stage(From(**base("from", "FROM x AS y"), image="x", stage_name="y"))
    assert (stage.name, stage.base_name, stage.source_code, stage.commands) == ("y", "x", "FROM x AS y", ())


ENV = {"A": "a", "SPACE": "x  y", "EMPTY": "", "PORTS": "80 443/udp"}


@pytest.mark.parametrize("line, field, expected", [
    ('ENV K=$A K2="v $SPACE" ${A}key=1', "pairs", (("K", "a"), ("K2", "v x  y"), ("akey", "1"))),
    ('ENV K "quoted $A" \\$A', "pairs", (("K", "quoted a $A"),)),
    ("LABEL l=$A 'lit'=\"$A\"", "pairs", (("l", "a"), ("lit", "a"))),
    ("ARG x=$A y z=${EMPTY:-d}", "args", (("x", "a"), ("y", None), ("z", "d"))),
    ("ARG $A=1", "args", (("a", "1"),)),
    ("EXPOSE $PORTS 8080 ${EMPTY}", "ports", ("80", "443/udp", "8080")),
    ("VOLUME $A/data ${A:+/b}", "paths", ("a/data", "/b")),
    ('VOLUME ["$A"]', "paths", ("a",)),
    ("WORKDIR /srv/$A", "path", "/srv/a"),
    ("USER ${A}:$EMPTY", "user", "a:"),
    ("STOPSIGNAL SIG$A", "signal", "SIGa"),
])
def test_expand_applies_the_scope(line, field, expected):
    assert getattr(expand(one(line), ENV), field) == expected


def test_expand_copy_and_add():
    copy = expand(one("COPY --from=$A --chown=$A:$A --chmod=$A src-$A 'q' /dst/$A/"), ENV)
    assert (copy.sources, copy.dest, copy.chown, copy.chmod, copy.from_) == (
        ("src-a", "q"), "/dst/a/", "a:a", "$A", "$A")
    # the white-space form splits before quotes mean anything: each half is expanded alone
    with pytest.raises(ExpansionError) as exc:
        expand(one("COPY 'q t' /dst/"), ENV)
    assert str(exc.value) == 'failed to process "\'q": unexpected end of statement while looking for matching single-quote'
    add = expand(one('ADD ["$A", "/$A"]'), ENV)
    assert (add.sources, add.dest, add.chown) == (("a",), "/a", "")


@pytest.mark.parametrize("line", [
    "RUN echo $A", 'CMD ["$A"]', "ENTRYPOINT $A", 'SHELL ["$A"]', "HEALTHCHECK CMD $A",
    "MAINTAINER $A", "ONBUILD RUN $A", "FROM $A",
])
def test_expand_leaves_what_the_builder_leaves(line):
    instruction = one(line)
    assert expand(instruction, ENV) is instruction


def test_expand_label_from_option_is_literal():
    label = label_from_option("k", "$A")
    assert label == Label(name="label", original="LABEL k=$A", pairs=(("k", "$A"),), expand=False)
    assert expand(label, ENV) is label


def test_expand_with_backtick_escape():
    assert expand(one("WORKDIR C:\\dir\\$A `$A", "`"), ENV, "`").path == "C:\\dir\\a $A"


def test_expand_errors_are_the_lexers():
    with pytest.raises(ExpansionError) as exc:
        expand(one("WORKDIR ${A"), ENV)
    assert str(exc.value) == "failed to process \"${A\": missing ':' in substitution"


def test_expand_from():
    meta = {"BASE": "alpine", "ARCH": "arm64"}
    assert expand_from(one("FROM --platform=linux/$ARCH $BASE:3 AS x"), meta) == ("alpine:3", "linux/arm64")
    assert expand_from(one("FROM ${NOPE:-busybox}"), meta) == ("busybox", "")
    with pytest.raises(InvalidParameter) as exc:
        expand_from(one("FROM $NOPE"), meta)
    assert str(exc.value) == "base name ($NOPE) should not be blank"
    with pytest.raises(InvalidParameter) as exc:
        expand_from(one("FROM --platform=${X x"), meta)
    assert str(exc.value) == ("failed to process arguments for platform : "
                              "failed to process \"${X\": missing ':' in substitution")


def test_parse_trigger():
    assert parse_trigger("RUN echo hi") == Run(**base("run", "RUN echo hi"), command=("echo hi",), prepend_shell=True)
    with pytest.raises(UnknownInstruction, match="^unknown instruction: RUNN$"):
        parse_trigger("RUNN x")
    with pytest.raises(InstructionError, match="^COPY requires at least two arguments"):
        parse_trigger("COPY a")
    with pytest.raises(InvalidParameter, match="^onbuild trigger should be a single expression$"):
        parse_trigger("RUN a\nRUN b")
    with pytest.raises(InstructionError, match=r"^\*instructions.Stage is not a command type$"):
        parse_trigger("FROM x")


@pytest.mark.parametrize("text, nanoseconds", [
    ("0", 0), ("+0", 0), ("-0", 0), ("1ns", 1), ("1us", 1000), ("1µs", 1000), ("1μs", 1000),
    ("1.5ms", 1_500_000), ("2s", 2_000_000_000), ("1m", 60_000_000_000), ("1h", 3_600_000_000_000),
    ("1h30m", 5_400_000_000_000), ("1.5h", 5_400_000_000_000), (".5s", 500_000_000), ("5.s", 5_000_000_000),
    ("-1.5s", -1_500_000_000), ("+2m3.5s", 123_500_000_000), ("0s", 0), ("1s1s", 2_000_000_000),
    ("9223372036854775807ns", 9223372036854775807), ("-9223372036854775808ns", -9223372036854775808),
    ("0.3333333333333333333h", 1_200_000_000_000), ("1.0000000001h", 3_600_000_000_360),
    ("1.00000000000000000000001s", 1_000_000_000),
])
def test_go_durations(text, nanoseconds):
    assert parse_go_duration(text) == nanoseconds


@pytest.mark.parametrize("text, message", [
    ("", 'time: invalid duration ""'),
    ("-", 'time: invalid duration "-"'),
    ("s", 'time: invalid duration "s"'),
    (".s", 'time: invalid duration ".s"'),
    ("1", 'time: missing unit in duration "1"'),
    ("1s2", 'time: missing unit in duration "1s2"'),
    ("3 s", 'time: unknown unit " s" in duration "3 s"'),
    ("1S", 'time: unknown unit "S" in duration "1S"'),
    ("1é", 'time: unknown unit "\\xc3\\xa9" in duration "1\\xc3\\xa9"'),
    ('1"', 'time: unknown unit "\\"" in duration "1\\""'),
    ("9223372036854775808ns", 'time: invalid duration "9223372036854775808ns"'),
    ("3000000h", 'time: invalid duration "3000000h"'),
    ("99999999999999999999s", 'time: invalid duration "99999999999999999999s"'),
])
def test_go_duration_errors(text, message):
    with pytest.raises(InstructionError) as exc:
        parse_go_duration(text)
    assert str(exc.value) == message


@pytest.mark.parametrize("text, value", [
    ("1", 1), ("+5", 5), ("-5", -5), ("007", 7), ("2147483647", 2147483647), ("-2147483648", -2147483648),
])
def test_go_int32(text, value):
    assert parse_go_int32(text) == value


@pytest.mark.parametrize("text, reason", [
    ("", "invalid syntax"), ("-", "invalid syntax"), ("1_0", "invalid syntax"), ("0x1", "invalid syntax"),
    (" 1", "invalid syntax"), ("2147483648", "value out of range"), ("-2147483649", "value out of range"),
    ("99999999999x", "value out of range"), ("9x9999999999", "invalid syntax"),
])
def test_go_int32_errors(text, reason):
    with pytest.raises(InstructionError) as exc:
        parse_go_int32(text)
    assert str(exc.value) == f'strconv.ParseInt: parsing "{text}": {reason}'
