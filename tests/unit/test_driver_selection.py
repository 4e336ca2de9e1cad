"""Graph driver discovery and selection, with the fake driver (a real entry point)."""

import pytest

from barge.config import load_config
from barge.engine.plugins import (
    find_drivers,
    load_graph_plugin,
    make_plugin_manager,
    probe_drivers,
    register_driver,
    select_graph_driver,
)
from barge.errors import DriverLoadError, DriverNotSupported


def cfg_for(tmp_path, text="", **over):
    path = tmp_path / "daemon.toml"
    path.write_text(text)
    return load_config(path, env={}, data_root=str(tmp_path / "root"), **over)


def test_fake_driver_is_found_without_import():
    found = {d.name: d for d in find_drivers("graph")}
    assert found["fake"].value == "barge.testing.fake:FakeGraphDriver"
    assert found["fake"].package.startswith("barge ")


def test_named_driver_is_loaded_and_dispatched(tmp_path):
    sel = select_graph_driver(cfg_for(tmp_path, graph_driver="fake"))
    assert sel.name == "fake"
    pm = make_plugin_manager(load_extensions=False)
    register_driver(pm, sel.plugin, "graph", sel.name)
    assert sel.plugin.driver.name == "fake"
    pm.hook.barge_graph_create(layer_id="l1", parent=None)
    assert sel.plugin.driver.exists("l1") is True
    assert (tmp_path / "root/graph/fake/l1").is_dir()


def test_named_unsupported_driver_stops_with_reason(tmp_path):
    cfg = cfg_for(tmp_path, '[graph]\ndriver = "fake"\n[graph.fake]\nunsupported = "no frobnicator here"\n')
    with pytest.raises(DriverNotSupported) as err:
        select_graph_driver(cfg)
    assert str(err.value) == "fake: not supported: no frobnicator here"


def test_named_missing_driver_lists_what_is_installed(tmp_path):
    with pytest.raises(DriverLoadError) as err:
        select_graph_driver(cfg_for(tmp_path, graph_driver="nosuch"))
    assert "'nosuch' is not installed" in str(err.value) and "fake" in str(err.value)


def test_prior_state_wins_over_priority(tmp_path):
    (tmp_path / "root/graph/fake/somelayer").mkdir(parents=True)
    sel = select_graph_driver(cfg_for(tmp_path))
    assert sel.name == "fake"


def test_state_of_two_drivers_is_an_error(tmp_path):
    names = [d.name for d in find_drivers("graph") if d.name != "fake"]
    if not names:
        pytest.skip("needs a second graph driver installed (vfs or overlay)")
    (tmp_path / "root/graph/fake/a").mkdir(parents=True)
    (tmp_path / f"root/graph/{names[0]}/b").mkdir(parents=True)
    with pytest.raises(DriverLoadError) as err:
        select_graph_driver(cfg_for(tmp_path))
    assert "several graph drivers" in str(err.value)


def test_auto_selection_never_picks_fake(tmp_path):
    names = {d.name for d in find_drivers("graph")}
    if not names & {"overlay", "btrfs", "vfs"}:
        with pytest.raises(DriverLoadError):
            select_graph_driver(cfg_for(tmp_path))
    else:
        assert select_graph_driver(cfg_for(tmp_path)).name in {"overlay", "btrfs", "vfs"}


def test_probe_reports_every_driver(tmp_path):
    cfg = cfg_for(tmp_path, "[graph.fake]\nunsupported = 'probe says no'\n")
    (tmp_path / "root").mkdir()
    reports = {r.name: r for r in probe_drivers(cfg) if r.kind == "graph"}
    assert reports["fake"].status == "not supported"
    assert reports["fake"].reason == "probe says no"
    assert not any(p.name.startswith(".probe-") for p in (tmp_path / "root").iterdir())


def test_load_rejects_other_contract_version(tmp_path, monkeypatch):
    from barge.testing.fake import FakeDriver

    monkeypatch.setattr(FakeDriver, "api_version", 99)
    with pytest.raises(DriverLoadError) as err:
        load_graph_plugin("fake", tmp_path / "g", {})
    assert "contract version 99" in str(err.value)
