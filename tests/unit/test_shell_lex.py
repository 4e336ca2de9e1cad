"""Variable substitution and word splitting as the classic builder does them (moby's shell.Lex).

The cases follow moby's own tables (shell/envVarTest, shell/wordsTest),
written again here with exact results and, for failures, exact messages.
"""

import pytest

from barge.dockerfile.shell_lex import (
    ExpansionError,
    go_lower,
    go_upper,
    is_go_space,
    process_word,
    process_words,
    trim_go_space,
    trim_left_go_space,
)
from barge.errors import InvalidParameter
from barge.goquote import go_quote

ENV = {"PWD": "/home", "SHELL": "bash", "KOREAN": "한국어", "NULL": ""}


@pytest.mark.parametrize("word, expected", [
    # quotes and escapes
    ("hello", "hello"),
    ("he'll'o", "hello"),
    ("he\\'llo", "he'llo"),
    ("abc\\tdef", "abctdef"),
    ('"abc\\tdef"', "abc\\tdef"),
    ('"abc\\\\tdef"', "abc\\tdef"),
    ("'abc\\tdef'", "abc\\tdef"),
    ("hello\\", "hello"),
    ("hello\\\\", "hello\\"),
    ('"hel\'lo"', "hel'lo"),
    ("'hello\\'", "hello\\"),
    ("'hello\\there'", "hello\\there"),
    ("'hello\\\\there'", "hello\\\\there"),
    ("\"''\"", "''"),
    ("'\"hello\"'", '"hello"'),
    # plain variables
    ("$.", "$."),
    ("he$1x", "hex"),
    ("he$.x", "he$.x"),
    ("he$pwd.", "he."),
    ("he$PWD", "he/home"),
    ("he\\$PWD", "he$PWD"),
    ("he\\\\$PWD", "he\\/home"),
    ('"he\\$PWD"', "he$PWD"),
    ('"he\\\\$PWD"', "he\\/home"),
    ("'he\\$PWD'", "he\\$PWD"),
    ("'$PWD'", "$PWD"),
    ('"$PWD"', "/home"),
    ('"he\'$PWD\'"', "he'/home'"),
    ("'he${XX}'", "he${XX}"),
    ("$", "$"),
    ("a$", "a$"),
    # braces
    ("\\${}", "${}"),
    ("he\\${}xx", "he${}xx"),
    ("he${hi}xx", "hexx"),
    ("he${PWD}", "he/home"),
    ('"he${PWD}"', "he/home"),
    ("${aaa}}", "}"),
    # defaults and alternatives
    ("he${XXX:-000}xx", "he000xx"),
    ("he${PWD:-000}xx", "he/homexx"),
    ("he${XXX:-$PWD}xx", "he/homexx"),
    ("he${XXX:-${PWD:-yyy}}xx", "he/homexx"),
    ("he${XXX:-${YYY:-yyy}}xx", "heyyyxx"),
    ("he${NULL:-empty}", "heempty"),
    ("he${XXX:+${PWD}}xx", "hexx"),
    ("he${PWD:+${XXX}}xx", "hexx"),
    ("he${PWD:+${SHELL}}xx", "hebashxx"),
    ("he${XXX:+000}xx", "hexx"),
    ("he${PWD:+000}xx", "he000xx"),
    ("he${NULL:+000}xx", "hexx"),
    ("he${PWD:+${PWD}:}xx", "he/home:xx"),
    ("he${XXX:-\\$PWD:}xx", "he$PWD:xx"),
    ("he${XXX:-\\${PWD}z}xx", "he${PWDz}xx"),
    ("${aaa:-bbb}}", "bbb}"),
    ("${aaa:-bbb {foo}", "bbb {foo"),
    ("${aaa:-a b}", "a b"),
    # mandatory
    ("he${PWD?}", "he/home"),
    ("he${PWD:?}", "he/home"),
    ("he${NULL?}", "he"),
    # unicode
    ("안'녕'하세요", "안녕하세요"),
    ("안녕\\'하세요", "안녕'하세요"),
    ("안녕$KOREAN", "안녕한국어"),
    ("안녕${XXX:-000}xx", "안녕000xx"),
    ("$éa", ""),
    # positional and special parameters are never set
    ("$1", ""),
    ("${1:-bbb}", "bbb"),
    ("$999aaa", "aaa"),
    ("${001:-bbb}aaa", "bbbaaa"),
    ("$@@@", "@@"),
    ("${@:-bbb}aaa", "bbbaaa"),
    ("$*", ""),
    ("${#:+bbb}", ""),
    ("${?:-bbb}", "bbb"),
    ("${-:-bbb}", "bbb"),
    ("$$", ""),
    ("${!:-bbb}", "bbb"),
    ("$0", ""),
])
def test_process_word(word, expected):
    assert process_word(word, ENV) == expected


@pytest.mark.parametrize("word, reason", [
    ("he'llo", "unexpected end of statement while looking for matching single-quote"),
    ("he\\\\'llo", "unexpected end of statement while looking for matching single-quote"),
    ('"hello', "unexpected end of statement while looking for matching double-quote"),
    ('"hello\\"', "unexpected end of statement while looking for matching double-quote"),
    ("'hello", "unexpected end of statement while looking for matching single-quote"),
    ("${}", "syntax error: bad substitution"),
    ("he${}xx", "syntax error: bad substitution"),
    ("${{aaa}", "syntax error: bad substitution"),
    ("${:}", "syntax error: bad substitution"),
    ("${:-bbb}", "syntax error: bad substitution"),
    ("${", "syntax error: missing '}'"),
    ("he${.}", "missing ':' in substitution"),
    ("he${PWD", "missing ':' in substitution"),
    ("${aaa", "missing ':' in substitution"),
    ("he${XXX:YYY}", "unsupported modifier (Y) in substitution"),
    ("he${PWD:=000}xx", "unsupported modifier (=) in substitution"),
    ("${aaa:-bbb", "syntax error: missing '}'"),
    ("${aaa:-bbb ${foo}", "syntax error: missing '}'"),
    ("${aaa:-bbb\\", "syntax error: missing '}'"),
    ("he${XXX?}", "XXX: is not allowed to be unset"),
    ("he${XXX:?}", "XXX: is not allowed to be unset"),
    ("he${NULL:?}", "NULL: is not allowed to be empty"),
    ("${XXX?where is it}", "XXX: where is it"),
    # the classic builder has no colon-less default or alternative
    ("${XXX-default}", "missing ':' in substitution"),
    ("${PWD+alt}", "missing ':' in substitution"),
])
def test_process_word_errors(word, reason):
    with pytest.raises(ExpansionError) as exc:
        process_word(word, ENV)
    assert exc.value.reason == reason
    assert str(exc.value) == f"failed to process {go_quote(word)}: {reason}"
    assert isinstance(exc.value, InvalidParameter)


def test_mandatory_variables_show_their_expanded_message():
    word = "${VAR:?message here$ARG}"
    assert process_word(word, {"VAR": "plain", "ARG": "x"}) == "plain"
    for env in ({"VAR": "", "ARG": "x"}, {"ARG": "x"}):
        with pytest.raises(ExpansionError) as exc:
            process_word(word, env)
        assert str(exc.value) == 'failed to process "${VAR:?message here$ARG}": VAR: message herex'
    unset_only = "${VAR?message here$ARG}"
    assert process_word(unset_only, {"VAR": "", "ARG": "x"}) == ""
    with pytest.raises(ExpansionError, match="VAR: message herex"):
        process_word(unset_only, {"ARG": "x"})


WORDS_ENV = {"hi": "hi", "space": "abc  def", "leading": "  ab c", "trailing": "ab c   "}


@pytest.mark.parametrize("word, expected", [
    ("hello", ["hello"]),
    ("hello${hi}bye", ["hellohibye"]),
    ("hello${nothere}bye", ["hellobye"]),
    ("hello${space}bye", ["helloabc", "defbye"]),
    ('hello"${space}"bye', ["helloabc  defbye"]),
    ('hello "${space}"bye', ["hello", "abc  defbye"]),
    ("hello${leading}def", ["hello", "ab", "cdef"]),
    ('hello"${leading}" def', ["hello  ab c", "def"]),
    ('hello"${leading}"', ["hello  ab c"]),
    ("hello${leading}", ["hello", "ab", "c"]),
    ("hello${trailing}", ["helloab", "c"]),
    ("hello${trailing}d", ["helloab", "c", "d"]),
    ('hello"${trailing}"d', ["helloab c   d"]),
    ('hel"lo${trailing}"', ["helloab c   "]),
    ('hello" there  "', ["hello there  "]),
    ("hello there", ["hello", "there"]),
    ("  hello   there  ", ["hello", "there"]),
    ("hello\\ there", ["hello there"]),
    ('hello\\" there', ['hello"', "there"]),
    ('hello"\\\\there"', ["hello\\there"]),
    ('hello"\\there"', ["hello\\there"]),
    ("hello'\\\\there'", ["hello\\\\there"]),
    ("hello'\\there'", ["hello\\there"]),
    ("hello'$there'", ["hello$there"]),
    ('""', []),
    ("a '' b", ["a", "b"]),
    ("", []),
])
def test_process_words(word, expected):
    assert process_words(word, WORDS_ENV) == expected


def test_process_words_error():
    with pytest.raises(ExpansionError) as exc:
        process_words('hello" there', WORDS_ENV)
    assert exc.value.reason == "unexpected end of statement while looking for matching double-quote"


@pytest.mark.parametrize("word, expected", [
    ("a`$b", "a$b"),
    ("a\\$b", "a\\B"),
    ('"a`"b"', 'a"b'),
    ('"a\\b"', "a\\b"),
    ("C:\\path\\$b", "C:\\path\\B"),
    ("end`", "end"),
    ("a``b", "a`b"),
])
def test_backtick_escape(word, expected):
    assert process_word(word, {"b": "B"}, escape="`") == expected


def test_variables_are_case_sensitive():
    assert process_word("$pwd-$PWD", ENV) == "-/home"


@pytest.mark.parametrize("text, quoted", [
    ("plain", '"plain"'),
    ('a"b\\c', '"a\\"b\\\\c"'),
    ("tab\there\nnew", '"tab\\there\\nnew"'),
    ("\x00\x7f", '"\\x00\\x7f"'),
    ("é한", '"é한"'),
    ("\u200b", '"\\u200b"'),
    ("\U000e0001", '"\\U000e0001"'),
    ("bad\udcff", '"bad\\xff"'),
])
def test_go_quote(text, quoted):
    assert go_quote(text) == quoted


@pytest.mark.parametrize("ch, space", [
    (" ", True), ("\t", True), ("\v", True), ("\x85", True), ("\xa0", True), ("\u2003", True),
    ("\u3000", True), ("\u2028", True), ("\x1c", False), ("a", False), ("\u200b", False),
])
def test_go_space(ch, space):
    assert is_go_space(ch) is space


def test_go_trims():
    assert trim_go_space("\xa0 \tab c\v\n") == "ab c"
    assert trim_left_go_space("\u3000 x ") == "x "
    assert trim_go_space("\x1cx\x1c") == "\x1cx\x1c"


def test_go_case_mapping():
    assert go_upper("run") == "RUN"
    assert go_lower("RuN") == "run"
    # one rune for one rune, and bytes that are no UTF-8 become U+FFFD, as Go's strings.Map does
    assert go_upper("straße\udcc2") == "STRAßE\ufffd"
    assert go_lower("ÉTÉ\udcff") == "été\ufffd"
