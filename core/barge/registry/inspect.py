"""``GET /distribution/{name}/json``: what a registry says of an image, without pulling it (moby's
``DistributionInspect``): the manifest's descriptor, and the platforms it is for (a list's entries,
or a single manifest's config)."""

from __future__ import annotations

import json
from typing import Any

from barge import reference
from barge.registry.auth import AuthConfig
from barge.registry.client import Repository, first_answering, pinged
from barge.registry.endpoints import RegistryConfig, endpoints_for
from barge.registry.mediatypes import INDEX_TYPES
from barge.registry.pull import fetch_config

_PLATFORM_KEYS = ("architecture", "os", "os.version", "os.features", "variant")


def _platform(source: dict[str, Any]) -> dict[str, Any]:
    """Go's ``v1.Platform`` as JSON: empty fields left out."""
    return {key: source[key] for key in _PLATFORM_KEYS if source.get(key)}


def distribution_inspect(cfg: RegistryConfig, name: str, auth: AuthConfig) -> dict[str, Any]:
    ref = reference.parse(name)
    target = ref.digest or ref.tag or reference.DEFAULT_TAG

    def inspect(endpoint) -> dict[str, Any]:
        repo = pinged(Repository(endpoint, ref.path, auth, ("pull",), cfg, display=ref.familiar_name))
        body, media_type, digest = repo.get_manifest(target)
        manifest = json.loads(body)
        platforms: list[dict[str, Any]] = []
        if media_type in INDEX_TYPES:
            platforms = [_platform(m.get("platform") or {}) for m in manifest.get("manifests") or []]
        elif (manifest.get("config") or {}).get("digest"):
            config = json.loads(fetch_config(repo, manifest["config"]["digest"], manifest["config"].get("size")))
            if config.get("os") or config.get("architecture"):
                platforms = [_platform(config)]
        return {"Descriptor": {"mediaType": media_type, "digest": digest, "size": len(body)},
                "Platforms": platforms}

    return first_answering(endpoints_for(ref.domain, cfg), inspect)
