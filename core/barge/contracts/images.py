"""Arguments of the image jobs (list, inspect, history, tag, rmi, prune, import, save, load).

Shared by the API routes (which build them) and the job handlers in
:mod:`barge.daemon.jobs` (which take them): neither imports the other.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ImagesArgs:
    all: bool = False
    #: Decoded ``filters`` (see :func:`barge.filters.parse_filters`).
    filters: dict[str, list[str]] = field(default_factory=dict)
    digests: bool = False


@dataclass
class ImagePruneArgs:
    #: Decoded ``filters`` (checked against the prune filters by the job).
    filters: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class ImageInspectArgs:
    name: str = ""


@dataclass
class HistoryArgs:
    name: str = ""


@dataclass
class TagArgs:
    name: str = ""
    repo: str = ""
    tag: str = ""


@dataclass
class RmiArgs:
    name: str = ""
    force: bool = False
    prune: bool = True


@dataclass
class ImportArgs:
    #: ``-`` (the tar is the job's stdin) or an http(s) URL to fetch it from.
    src: str = "-"
    repo: str = ""
    tag: str = ""
    message: str = ""
    changes: list[str] = field(default_factory=list)


@dataclass
class SaveArgs:
    names: list[str] = field(default_factory=list)


@dataclass
class LoadArgs:
    quiet: bool = False
