"""The daemon's flags: one table, two entry points (``barge daemon``, ``python -m barge.daemon.main``)."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer.main
from typer.testing import CliRunner

from barge.cli.main import app
from barge.daemon import main as daemon_main
from barge.flags import FLAGS

#: What both entry points took before the table (the typer one also takes --no-icc and --no-ip-masq).
FLAGS_BEFORE = {
    "--config-file", "-s", "--storage-driver", "--data-root", "--exec-root", "-H", "--host", "-p", "--pidfile",
    "--tlsverify", "--tlscacert", "--tlscert", "--tlskey", "-b", "--bridge", "--bip", "--mtu", "--icc", "--ip-masq",
    "--dns", "--dns-search", "--dns-opt", "--default-address-pool", "--network-opt", "--insecure-registry",
    "--registry-mirror", "--max-concurrent-downloads", "--max-concurrent-uploads", "--seccomp-profile", "-D",
    "--debug", "--label", "--ipv6", "--fixed-cidr-v6",
}


def _typer_command():
    return typer.main.get_command(app).commands["daemon"]


def test_both_entry_points_take_exactly_the_flags_of_before():
    typer_opts = {o for p in _typer_command().params for o in (*p.opts, *p.secondary_opts)} - {"-h", "--help"}
    assert typer_opts == FLAGS_BEFORE | {"--no-icc", "--no-ip-masq"}
    parser = daemon_main.build_parser()
    argparse_opts = {o for a in parser._actions for o in a.option_strings} - {"-h", "--help"}
    assert argparse_opts == FLAGS_BEFORE
    assert len(FLAGS) == len(_typer_command().params)  # one option each, from the one table


def test_both_entry_points_make_the_same_configuration(tmp_path, monkeypatch):
    common = ["--config-file", str(tmp_path / "absent.toml"), "-s", "vfs", "--data-root", str(tmp_path / "d"),
              "-H", "unix:///tmp/a.sock", "-H", "tcp://127.0.0.1:2375", "--tlsverify", "--tlscacert", "ca.pem",
              "--mtu", "1400", "--dns", "10.0.0.2", "--dns-opt", "ndots:2", "--network-opt", "bridge.x=1",
              "--insecure-registry", "reg:5000", "--max-concurrent-downloads", "7", "-D"]
    made = []
    monkeypatch.setattr(daemon_main, "serve", lambda cfg: made.append(cfg) and 0)
    result = CliRunner().invoke(app, ["daemon", *common, "--no-icc"])
    assert result.exit_code == 0, result.output
    from_typer = made[0]
    from_argparse = daemon_main.parse_args(common + ["--icc", "false"])
    assert from_typer == from_argparse
    cfg = from_argparse
    assert cfg.graph_driver == "vfs" and cfg.graph_driver_source == "command line"
    assert cfg.data_root == tmp_path / "d" and cfg.hosts == ["unix:///tmp/a.sock", "tcp://127.0.0.1:2375"]
    assert cfg.tls.verify is True and cfg.tls.cacert == "ca.pem" and cfg.debug is True
    assert cfg.network.mtu == 1400 and cfg.network.enable_icc is False and cfg.network.dns == ["10.0.0.2"]
    assert cfg.network.dns_options == ["ndots:2"] and cfg.network.options_tables == {"bridge": {"x": "1"}}
    assert cfg.registry.insecure_registries == ["reg:5000"] and cfg.registry.max_concurrent_downloads == 7


def test_a_flag_not_given_leaves_the_lower_levels(tmp_path):
    (tmp_path / "daemon.toml").write_text('[network]\nmtu = 1300\n')
    cfg = daemon_main.parse_args(["--config-file", str(tmp_path / "daemon.toml")])
    assert cfg.network.mtu == 1300 and cfg.config_file == Path(tmp_path / "daemon.toml")
    with pytest.raises(SystemExit):
        daemon_main.parse_args(["--icc", "maybe"])
