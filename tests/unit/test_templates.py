"""The Go-template subset behind ``--format``: output and errors as Go's."""

from __future__ import annotations

import pytest

from barge.client.templates import Struct, Template, TemplateError, go_str, sprintf

DATA = {
    "ID": "sha256:0123456789abcdef",
    "RepoTags": ["busybox:latest", "bb:1"],
    "Config": {"Env": ["PATH=/bin", "A=b"], "Cmd": ["sh"], "Labels": {"z": "1", "a": "2"}, "Entrypoint": None},
    "Size": 4261234,
    "Ratio": 0.5,
    "Big": 1e21,
    "Yes": True,
    "No": False,
    "Empty": [],
    "Name": "Hello World",
}


def render(src: str, data=DATA) -> str:
    return Template(src).execute(data)


@pytest.mark.parametrize(
    "src, expected",
    [
        ("{{.ID}}", "sha256:0123456789abcdef"),
        ("plain text", "plain text"),
        ("{{.Config.Env}}", "[PATH=/bin A=b]"),
        ("{{.Config.Labels}}", "map[a:2 z:1]"),
        ("{{.Config.Entrypoint}}", "<nil>"),
        ("{{.Missing}}", "<no value>"),
        ("{{.Yes}} {{.No}}", "true false"),
        ("{{.Size}} {{.Ratio}} {{.Big}}", "4261234 0.5 1e+21"),
        ("{{json .}}"[:0] + "{{json .Config.Cmd}}", '["sh"]'),
        ("{{json .Config}}", '{"Env":["PATH=/bin","A=b"],"Cmd":["sh"],"Labels":{"z":"1","a":"2"},"Entrypoint":null}'),
        ('{{json "<&>"}}', '"<&>"'),
        ("{{.Config | json}}", '{"Env":["PATH=/bin","A=b"],"Cmd":["sh"],"Labels":{"z":"1","a":"2"},"Entrypoint":null}'),
        ("{{index .RepoTags 0}}", "busybox:latest"),
        ('{{index .Config.Labels "z"}}', "1"),
        ("{{range .RepoTags}}{{.}} {{end}}", "busybox:latest bb:1 "),
        ("{{range $i, $t := .RepoTags}}{{$i}}={{$t}};{{end}}", "0=busybox:latest;1=bb:1;"),
        ("{{range $k, $v := .Config.Labels}}{{$k}}{{$v}}{{end}}", "a2z1"),
        ("{{range .Empty}}x{{else}}none{{end}}", "none"),
        ("{{range .Missing}}x{{end}}", ""),
        ("{{if .Yes}}y{{else}}n{{end}}", "y"),
        ("{{if .Empty}}y{{else}}n{{end}}", "n"),
        ("{{if .No}}a{{else if .Yes}}b{{else}}c{{end}}", "b"),
        ("{{with .Config}}{{.Cmd}}{{end}}", "[sh]"),
        ("{{with .Missing}}x{{else}}none{{end}}", "none"),
        ('{{join .RepoTags ","}}', "busybox:latest,bb:1"),
        ("{{upper .Name}} {{lower .Name}} {{title \"ab cd\"}}", "HELLO WORLD hello world Ab Cd"),
        ("{{len .RepoTags}} {{len .Name}} {{len .Config}}", "2 11 4"),
        ("{{println .Name}}", "Hello World\n"),
        ('{{printf "%s-%d-%5s|%-4s|%x|%q|%v" .Name .Size "ab" "c" 255 "q" .Yes}}', 'Hello World-4261234-   ab|c   |ff|"q"|true'),
        ('{{printf "%.2f" .Ratio}}', "0.50"),
        ('{{split "a,b,c" ","}}', "[a b c]"),
        ('{{pad "x" 1 2}}|', " x  |"),
        ("{{truncate .Name 5}}", "Hello"),
        ("a  {{- .Name -}}  b", "aHello Worldb"),
        ("a\n{{- /* comment */ -}}\nb", "ab"),
        ("{{/* c */}}x", "x"),
        ("{{$x := .Name}}{{$x}}", "Hello World"),
        ("{{$x := 1}}{{$x = 2}}{{$x}}", "2"),
        ("{{$.Name}}", "Hello World"),
        ("{{range .RepoTags}}{{$.Size}}{{end}}", "42612344261234"),
        ("{{(index .RepoTags 1)}}", "bb:1"),
        ('{{eq .Name "Hello World"}} {{ne 1 2}} {{lt 1 2}} {{ge 2 3}}', "true true true false"),
        ('{{eq .Size 1 2 4261234}}', "true"),
        ("{{and .Yes .Name}} {{or .No .Empty}} {{not .Yes}}", "Hello World [] false"),
        ('{{print "a" 1 2 "b"}}', "a1 2b"),
        ("{{`raw\\n`}}", "raw\\n"),
        ('{{"esc\\tx"}}', "esc\tx"),
        ("{{slice .RepoTags 1}}", "[bb:1]"),
    ],
)
def test_render(src, expected):
    assert render(src) == expected


@pytest.mark.parametrize(
    "src, message",
    [
        ("{{.Nope.Deeper}}", 'template: :1:2: executing "" at <.Nope.Deeper>: nil pointer evaluating interface {}.Deeper'),
        ("{{index .RepoTags 5}}", 'template: :1:2: executing "" at <index .RepoTags 5>: error calling index: index out of range: 5'),
        ("{{len .Size}}", 'template: :1:2: executing "" at <len .Size>: error calling len: len of type int'),
        ("{{.Name.X}}", 'template: :1:2: executing "" at <.Name.X>: can\'t evaluate field X in type string'),
        ("{{nosuch .X}}", 'template: :1: function "nosuch" not defined'),
        ("{{.ID", "template: :1: unclosed action"),
        ("{{if .X}}a", "template: :1: unexpected EOF"),
        ("{{end}}", "template: :1: unexpected {{end}}"),
        ("{{$y}}", 'template: :1:2: executing "" at <$y>: undefined variable: $y'),
        ("x\n{{.ID.Q}}", 'template: :2:2: executing "" at <.ID.Q>: can\'t evaluate field Q in type string'),
    ],
)
def test_errors(src, message):
    with pytest.raises(TemplateError) as err:
        render(src)
    assert str(err.value) == message


class Row(Struct):
    GO_TYPE = "*formatter.imageContext"
    FIELDS = ("ID", "Repository")

    def __init__(self):
        self.ID, self.Repository = "abc", "<none>"


def test_struct_fields_are_strict():
    assert Template("{{.ID}} {{.Repository}}").execute(Row()) == "abc <none>"
    with pytest.raises(TemplateError) as err:
        Template("{{.Foo}}").execute(Row())
    assert str(err.value) == (
        'template: :1:2: executing "" at <.Foo>: can\'t evaluate field Foo in type *formatter.imageContext'
    )


def test_struct_json_escapes_html_like_docker():
    # docker marshals row contexts with json.Marshal, which escapes < and >.
    assert Template("{{json .}}").execute(Row()) == '{"ID":"abc","Repository":"\\u003cnone\\u003e"}'


def test_go_printing():
    assert go_str([1, "a", None, [True]]) == "[1 a <nil> [true]]"
    assert go_str({"b": [1], "a": {"x": 1}}) == "map[a:map[x:1] b:[1]]"
    assert go_str(3.0) == "3"
    assert sprintf("%s %d") == "%!s(MISSING) %!d(MISSING)"
    assert sprintf("%d", "x") == "%!d(string=x)"
    assert sprintf("%s", "a", 1) == "a%!(EXTRA int=1)"
    assert sprintf("100%%") == "100%"


def test_template_is_reusable():
    tmpl = Template("{{.A}}")
    assert [tmpl.execute({"A": i}) for i in range(3)] == ["0", "1", "2"]
