"""skopeo (Debian's, containers/image) against barge's registry server:
copy an OCI layout in, inspect it, copy it back out, digests unchanged;
anonymous and with htpasswd Basic auth, and through the token service."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from barge.registry.server.testing import start_registry, stop_registry

SKOPEO = shutil.which("skopeo")
pytestmark = pytest.mark.skipif(SKOPEO is None, reason="skopeo is not installed (apt-get install skopeo)")

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def _blob(layout: Path, data: bytes) -> str:
    hexd = hashlib.sha256(data).hexdigest()
    (layout / "blobs" / "sha256" / hexd).write_bytes(data)
    return f"sha256:{hexd}"


def _layer(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(content), 0o644, 1700000000
            tar.addfile(info, io.BytesIO(content))
    # compressed already, so skopeo sends it as it is and the digests stay
    return gzip.compress(buf.getvalue(), mtime=0)


def make_layout(layout: Path, tag: str = "t") -> str:
    """A two-layer OCI image layout; return the manifest digest."""
    (layout / "blobs" / "sha256").mkdir(parents=True)
    (layout / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    layers = [_layer({"etc/hello": b"hello from barge\n"}), _layer({"bin/data": bytes(range(256)) * 512})]
    config = {"architecture": "amd64", "os": "linux", "config": {"Cmd": ["/bin/sh"]},
              "rootfs": {"type": "layers", "diff_ids": [f"sha256:{hashlib.sha256(gzip.decompress(x)).hexdigest()}"
                                                  for x in layers]}}
    config_bytes = json.dumps(config).encode()
    manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                           "digest": _blob(layout, config_bytes), "size": len(config_bytes)},
                "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": _blob(layout, x),
                            "size": len(x)} for x in layers]}
    manifest_bytes = json.dumps(manifest).encode()
    digest = _blob(layout, manifest_bytes)
    index = {"schemaVersion": 2, "manifests": [{"mediaType": OCI_MANIFEST, "digest": digest,
                                                "size": len(manifest_bytes),
                                                "annotations": {"org.opencontainers.image.ref.name": tag}}]}
    (layout / "index.json").write_text(json.dumps(index))
    return digest


def skopeo(tmp_path: Path, *args: str) -> str:
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": str(tmp_path), "XDG_RUNTIME_DIR": str(tmp_path)}
    out = subprocess.run([SKOPEO, "--insecure-policy", *args], capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, f"skopeo {' '.join(args)}:\n{out.stderr}"
    return out.stdout


def round_trip(tmp_path: Path, url: str, creds: str | None = None) -> None:
    digest = make_layout(tmp_path / "src")
    host = url.split("://", 1)[1]
    ref = f"docker://{host}/test/img:t"
    read = ["--creds", creds] if creds else []
    src, dest = (["--src-creds", creds], ["--dest-creds", creds]) if creds else ([], [])
    skopeo(tmp_path, "copy", "--dest-tls-verify=false", *dest, f"oci:{tmp_path / 'src'}:t", ref)
    info = json.loads(skopeo(tmp_path, "inspect", "--tls-verify=false", *read, ref))
    assert info["Digest"] == digest
    assert info["Os"] == "linux" and info["Architecture"] == "amd64" and len(info["Layers"]) == 2
    raw = skopeo(tmp_path, "inspect", "--raw", "--tls-verify=false", *read, ref)
    assert hashlib.sha256(raw.encode()).hexdigest() == digest.split(":")[1]
    tags = json.loads(skopeo(tmp_path, "list-tags", "--tls-verify=false", *read, f"docker://{host}/test/img"))
    assert tags["Tags"] == ["t"]
    skopeo(tmp_path, "copy", "--src-tls-verify=false", *src, ref, f"oci:{tmp_path / 'dst'}:t")
    index = json.loads((tmp_path / "dst" / "index.json").read_text())
    assert index["manifests"][0]["digest"] == digest
    for blob in (tmp_path / "src" / "blobs" / "sha256").iterdir():
        assert (tmp_path / "dst" / "blobs" / "sha256" / blob.name).read_bytes() == blob.read_bytes()
    # registry to registry, another repository: blobs mounted or skipped, same digest
    skopeo(tmp_path, "copy", "--src-tls-verify=false", "--dest-tls-verify=false", *src, *dest,
           ref, f"docker://{host}/test/copy:t2")
    info = json.loads(skopeo(tmp_path, "inspect", "--tls-verify=false", *read, f"docker://{host}/test/copy:t2"))
    assert info["Digest"] == digest


def test_skopeo_anonymous(tmp_path):
    url, proc = start_registry(tmp_path)
    try:
        round_trip(tmp_path, url)
    finally:
        stop_registry(proc)


def test_skopeo_htpasswd(tmp_path):
    url, proc = start_registry(tmp_path, auth="basic", users={"user": "pass"})
    try:
        out = subprocess.run([SKOPEO, "--insecure-policy", "inspect", "--tls-verify=false",
                              "--creds", "user:wrong", f"docker://{url.split('://')[1]}/test/img:t"],
                             capture_output=True, text=True, timeout=60,
                             env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
        assert out.returncode != 0 and ("unauthorized" in out.stderr.lower() or "401" in out.stderr)
        round_trip(tmp_path, url, "user:pass")
    finally:
        stop_registry(proc)


def test_skopeo_token_auth(tmp_path):
    url, proc = start_registry(tmp_path, auth="token", users={"user": "pass"})
    try:
        round_trip(tmp_path, url, "user:pass")
    finally:
        stop_registry(proc)
