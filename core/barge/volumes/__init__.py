"""Volumes of the ``local`` driver: records in the daemon's db, files under ``<data_root>/volumes``.

* :mod:`.store` - create, inspect, list, remove, prune (Docker's shapes);
* :mod:`.copyup` - a fresh volume filled from the image's content at its
  mount point (Docker's copy-up on a container's start).
"""

from barge.volumes.store import ANONYMOUS_LABEL, VolumeStore, validate_name

__all__ = ["ANONYMOUS_LABEL", "VolumeStore", "validate_name"]
