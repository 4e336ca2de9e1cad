"""A container's own line in /etc/hosts names it as libnetwork does: the FQDN, then the bare host name."""

from __future__ import annotations

import pytest

from barge.containers.files import own_names, write_files


@pytest.mark.parametrize(("hostname", "domainname", "names"), [
    ("box", "", "box"),
    ("box", "example.test", "box.example.test box"),
    ("box.corp.test", "", "box.corp.test box"),  # a dotted hostname is its own FQDN
    ("box.corp", "example.test", "box.corp.example.test box"),
])
def test_own_names(hostname, domainname, names):
    assert own_names(hostname, domainname) == names


def test_hosts_file_and_hostname_file(tmp_path):
    write_files(tmp_path, "box", {"NetworkMode": "bridge"}, address="10.1.2.3", address6="fd00::3",
                domainname="example.test")
    lines = (tmp_path / "hosts").read_text().splitlines()
    assert lines[-2:] == ["10.1.2.3\tbox.example.test box", "fd00::3\tbox.example.test box"]
    assert (tmp_path / "hostname").read_text() == "box\n"  # /etc/hostname keeps the bare name, as dockerd's
