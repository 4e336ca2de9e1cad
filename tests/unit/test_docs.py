"""Docs are tested: every hook in the spec module is documented."""

from pathlib import Path

from barge.engine import hookspecs

ROOT = Path(__file__).resolve().parents[2]


def hook_names():
    return list(hookspecs.specs())


def test_every_hook_is_documented_in_plugins_md():
    text = (ROOT / "docs" / "plugins.md").read_text()
    missing = [name for name in hook_names() if f"`{name}`" not in text]
    assert not missing, f"docs/plugins.md does not document: {', '.join(missing)}"


def test_plugins_md_names_no_hook_that_does_not_exist():
    import re

    text = (ROOT / "docs" / "plugins.md").read_text()
    named = set(re.findall(r"`(barge_(?:graph|exec|network|daemon|image|job|container)_\w+)`", text))
    assert not named - set(hook_names())


def test_every_hook_has_a_docstring():
    bare = [name for name, spec in hookspecs.specs().items() if not (spec.__doc__ or "").strip()]
    assert not bare


def test_every_graph_hook_is_implemented_by_the_adapter():
    from barge.graphdriver import GraphDriverPlugin

    graph_hooks = [n for n in hook_names() if n.startswith("barge_graph_")]
    missing = [n for n in graph_hooks if not hasattr(GraphDriverPlugin, n)]
    assert not missing


def test_every_network_hook_is_implemented_by_the_adapter():
    from barge.netdriver.plugin import NetworkDriverPlugin

    hooks = [n for n in hook_names() if n.startswith("barge_network_")]
    missing = [n for n in hooks if not hasattr(NetworkDriverPlugin, n)]
    assert not missing
