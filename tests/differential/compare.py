"""What "the same answer" means between dockerd and barge, and the accepted differences.

Two answers are the same when their status codes are equal, their error
texts are equal once each side's own ids and names are replaced by
placeholders, and their JSON bodies have the same *shape*: the same keys in
every object, the same kind of value under each (null, string, number, bool,
list, object), and the same shapes inside lists. Values themselves (ids,
times, sizes, counts, versions, driver names) naturally differ and are not
compared.

A difference is described by a *spot*: ``"<METHOD> <path template>: <where>"``,
``<where>`` being ``status``, ``message``, ``body`` or a dotted key path
(``State.Health``, ``[].Names``: ``[]`` stands for the elements of a list).
``accepted.toml`` maps spots to the reason a user would accept the
difference (a spot accepts every difference at or beneath it), names the
fields accepted wherever they appear (those that API versions newer than the
reference's added or removed, say), pairs error texts that differ in words
only, and holds the rules for whole classes of answers.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

ACCEPTED_FILE = Path(__file__).with_name("accepted.toml")
_LONG_ID = re.compile(r"\b[0-9a-f]{64}\b")
_SHORT_ID = re.compile(r"\b[0-9a-f]{12}\b")


@dataclass
class Accepted:
    """``accepted.toml``: spots, fields (anywhere in any answer), texts and rules, each with its reason."""

    spots: dict[str, str]
    fields: dict[str, str]
    rules: dict[str, str]
    #: ``(dockerd's text, barge's text, reason)``: regular expressions that match whole error texts
    texts: list[tuple[str, str, str]] = field(default_factory=list)
    used: set[str] = field(default_factory=set)

    def covers(self, spot: str) -> bool:
        """Whether an entry accepts the difference at ``spot``; marks the entry used."""
        cover = next((a for a in self.spots if _covers(a, spot)), None)
        if cover is None:
            path = "." + spot.partition(": ")[2].replace("[]", "") + "."
            cover = next((f for f in self.fields if f".{f}." in path), None)
        if cover is not None:
            self.used.add(cover)
        return cover is not None

    def same_text(self, ref_text: str, barge_text: str) -> bool:
        """Whether a ``[[texts]]`` entry pairs the two error texts; marks it used."""
        for ref_pattern, barge_pattern, _ in self.texts:
            if re.fullmatch(ref_pattern, ref_text) and re.fullmatch(barge_pattern, barge_text):
                self.used.add(ref_pattern)
                return True
        return False

    def rule(self, name: str) -> bool:
        if name in self.rules:
            self.used.add(name)
            return True
        return False

    def entries(self) -> set[str]:
        return set(self.spots) | set(self.fields) | set(self.rules) | {t[0] for t in self.texts}


def load_accepted(path: Path = ACCEPTED_FILE) -> Accepted:
    with open(path, "rb") as fh:
        data = tomllib.load(fh)
    texts = [(t["dockerd"], t["barge"], t["reason"]) for t in data.get("texts", [])]
    return Accepted(dict(data.get("accepted", {})), dict(data.get("fields", {})), dict(data.get("rules", {})),
                    texts)


def kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    return "object"


def _merge_objects(items: list[dict]) -> dict[str, list[Any]]:
    """The elements of a list of objects seen as one: every key with all its values."""
    merged: dict[str, list[Any]] = {}
    for item in items:
        for key, value in item.items():
            merged.setdefault(key, []).append(value)
    return merged


def _id_keys(value: Any) -> Any:
    """An object keyed by ids (a network's ``Containers``) as one keyed ``<id>``: the ids differ by nature."""
    if isinstance(value, dict) and value and all(_LONG_ID.fullmatch(k) for k in value):
        return {"<id>": next(iter(value.values()))}
    return value


def shape_diff(ref: Any, barge: Any, where: str = "") -> list[str]:
    """Where the shapes of two JSON values part, as ``"<where>: <what>"`` lines.

    Lists compare the union of their elements' shapes; an empty list on
    either side says nothing about its elements.
    """
    ref, barge = _id_keys(ref), _id_keys(barge)
    here = where or "body"
    kr, kb = kind(ref), kind(barge)
    if kr != kb:
        return [f"{here}: dockerd has {kr}, barge has {kb}"]
    if kr == "object":
        return _keys_diff(ref, barge, where, shape_diff)
    if kr == "list" and ref and barge:
        return _list_diff(ref, barge, f"{where}[]")
    return []


def _list_diff(ref: list, barge: list, where: str) -> list[str]:
    ref, barge = [_id_keys(v) for v in ref], [_id_keys(v) for v in barge]
    kinds_r, kinds_b = {kind(v) for v in ref}, {kind(v) for v in barge}
    if kinds_r != kinds_b:
        return [f"{where}: dockerd has {sorted(kinds_r)}, barge has {sorted(kinds_b)}"]
    if kinds_r != {"object"}:
        if kinds_r == {"list"}:
            return _list_diff([x for v in ref for x in v], [x for v in barge for x in v], f"{where}[]")
        return []
    return _keys_diff(_merge_objects(ref), _merge_objects(barge), where, _values_diff)


def _keys_diff(ref: dict, barge: dict, where: str, diff: Callable[[Any, Any, str], list[str]]) -> list[str]:
    """The keys one side lacks, then ``diff`` of each value both have (``<where>.<key>``)."""
    out = []
    for key in sorted(set(ref) | set(barge)):
        sub = f"{where}.{key}" if where else key
        if key not in barge:
            out.append(f"{sub}: missing in barge")
        elif key not in ref:
            out.append(f"{sub}: barge only")
        else:
            out += diff(ref[key], barge[key], sub)
    return out


def _values_diff(ref: list[Any], barge: list[Any], where: str) -> list[str]:
    """All values one key holds across a list's elements, on both sides."""
    kinds_r, kinds_b = {kind(v) for v in ref}, {kind(v) for v in barge}
    if kinds_r != kinds_b:
        return [f"{where}: dockerd has {'|'.join(sorted(kinds_r))}, barge has {'|'.join(sorted(kinds_b))}"]
    if kinds_r == {"object"}:
        return _list_diff(ref, barge, where)
    if kinds_r == {"list"}:
        flat_r, flat_b = [x for v in ref for x in v], [x for v in barge for x in v]
        return _list_diff(flat_r, flat_b, f"{where}[]") if flat_r and flat_b else []
    return []




def normalize(text: str, names: dict[str, str]) -> str:
    """An error text with this side's ids and names (``names``: value -> placeholder) and any other
    hex id made neutral, and trailing whitespace dropped."""
    for value in sorted(names, key=len, reverse=True):
        if value:
            text = text.replace(value, names[value])
    text = _LONG_ID.sub("<id>", text)
    return _SHORT_ID.sub("<id>", text).strip()


def unaccepted(spot_prefix: str, lines: list[str], accepted: Accepted) -> list[str]:
    """The differences (``"<where>: <what>"``) that no accepted entry covers."""
    return [f"{spot_prefix}: {line}" for line in lines
            if not accepted.covers(f"{spot_prefix}: {line.split(': ', 1)[0]}")]


def _covers(accepted: str, spot: str) -> bool:
    return spot == accepted or spot.startswith(accepted + ".") or spot.startswith(accepted + "[]")
