"""dockerd's ``none``: the output goes nowhere, and ``docker logs`` says it cannot read it.

dockerd ignores options given to it (the CLI refuses them; the API does not).
"""

from __future__ import annotations

from typing import Mapping

from barge.logdriver.base import LogDriver, Message


class NoneDriver(LogDriver):
    name = "none"

    @classmethod
    def validate(cls, opts: Mapping[str, str]) -> None:
        """Any option: dockerd creates the container and never reads them."""

    def log(self, msg: Message) -> None:
        """Dropped."""
