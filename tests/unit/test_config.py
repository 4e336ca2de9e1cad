"""Configuration precedence: command line > environment > daemon.toml > defaults."""

from pathlib import Path

import pytest

from barge.config import DEFAULT_SOCKET, load_config
from barge.errors import InvalidParameter


def write(tmp_path, text):
    path = tmp_path / "daemon.toml"
    path.write_text(text)
    return path


def test_defaults_without_file(tmp_path):
    cfg = load_config(tmp_path / "missing.toml", env={})
    assert cfg.data_root == Path("/var/lib/barge")
    assert cfg.hosts == [DEFAULT_SOCKET]
    assert cfg.graph_driver is None and cfg.graph_driver_source == "auto"
    assert cfg.pid_path == Path("/run/barge/barge.pid")


def test_file_then_env_then_command_line(tmp_path):
    path = write(tmp_path, '[graph]\ndriver = "vfs"\n[graph.overlay]\nfoo = 1\n')
    cfg = load_config(path, env={})
    assert (cfg.graph_driver, cfg.graph_driver_source) == ("vfs", f"config file {path}")
    assert cfg.driver_options("overlay") == {"foo": 1}

    cfg = load_config(path, env={"DOCKER_DRIVER": "overlay"})
    assert (cfg.graph_driver, cfg.graph_driver_source) == ("overlay", "environment DOCKER_DRIVER")

    cfg = load_config(path, env={"DOCKER_DRIVER": "overlay", "BARGE_GRAPH_DRIVER": "btrfs"})
    assert cfg.graph_driver == "btrfs"

    cfg = load_config(path, env={"DOCKER_DRIVER": "overlay"}, graph_driver="fake")
    assert (cfg.graph_driver, cfg.graph_driver_source) == ("fake", "command line")


def test_config_path_from_environment_and_overrides(tmp_path):
    path = write(tmp_path, 'data_root = "/srv/barge"\nhosts = "tcp://127.0.0.1:2375"\n')
    cfg = load_config(env={"BARGE_CONFIG": str(path)})
    assert cfg.data_root == Path("/srv/barge")
    assert cfg.hosts == ["tcp://127.0.0.1:2375"]
    cfg = load_config(path, env={}, data_root=str(tmp_path), hosts=[], tls={"verify": True, "cert": None})
    assert cfg.data_root == tmp_path
    assert cfg.hosts == ["tcp://127.0.0.1:2375"]
    assert cfg.tls.verify is True


@pytest.mark.parametrize(
    "text, fragment",
    [("data_root = ", "invalid TOML"), ("colour = 1\n", "unknown setting(s): colour"), ("[graph]\nvfs = 1\n", "[graph.vfs]")],
)
def test_bad_files_are_clear_errors(tmp_path, text, fragment):
    with pytest.raises(InvalidParameter) as err:
        load_config(write(tmp_path, text), env={})
    assert fragment in str(err.value)
