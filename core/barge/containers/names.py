"""Container names: Docker's rules, and generated ``adjective_surname`` names.

A name is stored with its leading ``/`` (``Names: ["/web"]``), as Docker
does. Generated names pair an adjective with the surname of a scientist or
engineer; the lists are barge's own.
"""

from __future__ import annotations

import random
import re
from typing import Callable

from barge.errors import InvalidParameter

VALID_NAME = re.compile(r"^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$")

ADJECTIVES = (
    "admiring", "agile", "amazing", "ardent", "awesome", "blissful", "bold", "brave", "busy", "calm",
    "charming", "clever", "compassionate", "confident", "cool", "crafty", "curious", "dazzling", "determined",
    "diligent", "dreamy", "eager", "ecstatic", "elastic", "elegant", "eloquent", "epic", "exciting", "fervent",
    "festive", "focused", "friendly", "frosty", "gallant", "gentle", "gifted", "gracious", "happy", "hardcore",
    "heuristic", "hopeful", "humble", "inspiring", "intelligent", "jolly", "jovial", "keen", "kind", "laughing",
    "loving", "lucid", "magical", "modest", "musing", "mystifying", "nervous", "nice", "nifty", "nimble",
    "nostalgic", "objective", "optimistic", "patient", "peaceful", "pensive", "playful", "practical",
    "priceless", "quirky", "quizzical", "relaxed", "reverent", "romantic", "serene", "sharp", "silly",
    "sleepy", "stoic", "strange", "sweet", "tender", "thirsty", "trusting", "upbeat", "vibrant", "vigilant",
    "vigorous", "wizardly", "wonderful", "youthful", "zealous", "zen",
)

SURNAMES = (
    "agnesi", "albattani", "archimedes", "babbage", "banach", "bardeen", "bartik", "bell", "bhabha",
    "blackwell", "bohr", "boole", "borg", "bose", "brahmagupta", "brattain", "carson", "cerf", "chandrasekhar",
    "clarke", "curie", "darwin", "dijkstra", "easley", "einstein", "elion", "engelbart", "euclid", "euler",
    "faraday", "fermat", "fermi", "feynman", "franklin", "galileo", "gauss", "goldberg", "goodall", "hamilton",
    "hawking", "heisenberg", "hertz", "hodgkin", "hopper", "hypatia", "jackson", "jennings", "johnson",
    "kalam", "kepler", "khorana", "knuth", "kowalevski", "lamarr", "lamport", "leakey", "lovelace", "lumiere",
    "mayer", "mccarthy", "mcclintock", "meitner", "mendel", "mirzakhani", "morse", "newton", "nobel", "noether",
    "pascal", "pasteur", "perlman", "planck", "poincare", "raman", "ramanujan", "ritchie", "rosalind",
    "shannon", "shockley", "sinoussi", "snyder", "swartz", "tesla", "thompson", "torvalds", "turing",
    "varahamihira", "volhard", "wiles", "wilson", "wing", "wozniak", "wright", "yalow", "yonath",
)


def validate_name(name: str) -> str:
    """Return ``/name``; raise Docker's 400 for a name outside its rules."""
    if not VALID_NAME.match(name):
        raise InvalidParameter(f"Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
    return name if name.startswith("/") else "/" + name


def generate_name(taken: Callable[[str], bool], rng: random.Random | None = None) -> str:
    """A free ``/adjective_surname``; after collisions a digit is appended, as Docker does."""
    rng = rng or random.SystemRandom()
    for attempt in range(64):
        name = f"{rng.choice(ADJECTIVES)}_{rng.choice(SURNAMES)}"
        if attempt >= 8:
            name += str(rng.randrange(10))
        if not taken("/" + name):
            return "/" + name
    raise RuntimeError("could not find a free container name")
