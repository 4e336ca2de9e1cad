"""The daemon's services as assembled by build_services (fake graph driver, no daemon process)."""

from __future__ import annotations

import pytest

from barge.config import load_config
from barge.errors import DriverNotSupported


def test_container_service_is_a_field_of_services(tmp_path):
    from barge.containers.service import ContainerService
    from barge.daemon.daemon import build_services, close_services

    (tmp_path / "daemon.toml").write_text('[network]\ndriver = "fake"\n')
    cfg = load_config(tmp_path / "daemon.toml", env={}, data_root=str(tmp_path / "data"),
                      exec_root=str(tmp_path / "exec"), graph_driver="fake")
    try:
        services = build_services(cfg)
    except DriverNotSupported as exc:  # the native exec driver installed, but not root here
        pytest.skip(str(exc))
    try:
        assert isinstance(services.containers, ContainerService)
        assert services.containers.queries.counts()["Containers"] == 0
        assert services.containers.ctx.networking is services.networks.endpoints
        assert services.containers.ctx.volumes is services.volumes
        assert services.containers.table.store.db is services.db is services.images.db
        assert {n["Name"] for n in services.networks.list({})} == {"bridge", "host", "none"}
    finally:
        close_services(services)
