"""``stats``: one collector thread per container reading
``GET /containers/{id}/stats`` (one sample with ``--no-stream``), and a
display loop redrawing the table every half second, as docker's stats.go.

Without names, docker follows container events; here the running (or, with
``-a``, all) containers are listed again every second instead.
"""

from __future__ import annotations

import sys
import threading
import time

from barge.client import container_format as cf


class Collector:
    """Latest sample of one container (``entry``), or the error that ended it."""

    def __init__(self, api, container: str, stream: bool):
        self.container = container
        self.entry = cf.invalid_entry(container)
        self.error: Exception | None = None
        self.first = threading.Event()
        self.stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(api, stream), daemon=True)
        self._thread.start()

    def _run(self, api, stream: bool) -> None:
        from barge.client import jsonmessage
        from barge.client.errors import ClientError

        try:
            response = api.stats(self.container, stream=stream)
            with response:
                for sample in jsonmessage.decode(response.chunks(65536)):
                    self.entry = cf.stats_entry(self.container, sample)
                    self.first.set()
                    if not stream or self.stop.is_set():
                        return
        except (ClientError, OSError, ValueError) as exc:
            self.error = exc
        finally:
            self.first.set()


def _render(collectors: list[Collector], fmt: str, trunc: bool) -> str:
    from barge.client import formatter

    rows = [cf.StatsRow(c.entry, trunc) for c in collectors]
    return formatter.render(fmt, rows, cf.STATS_TABLE, cf.STATS_HEADERS)


def run(api, names: list[str], all_states: bool, fmt: str | None, no_stream: bool, no_trunc: bool) -> int:
    """Show stats; returns the exit code."""
    fmt = fmt or "table"
    if fmt == "table":
        fmt = cf.STATS_TABLE
    show_all = not names
    collectors: dict[str, Collector] = {}

    def refresh() -> None:
        current = [c["Id"] for c in api.containers(all=all_states)]
        for cid in current:
            if cid not in collectors:
                collectors[cid] = Collector(api, cid, not no_stream)
        if not all_states:
            for cid in list(collectors):
                if cid not in current:
                    collectors.pop(cid).stop.set()

    if show_all:
        refresh()
    else:
        for name in names:
            if name not in collectors:
                collectors[name] = Collector(api, name, not no_stream)
    for c in list(collectors.values()):
        c.first.wait(timeout=10)
    if not show_all:
        errors = [str(c.error) for c in collectors.values() if c.error is not None]
        if errors:
            sys.stderr.write("\n".join(errors) + "\n")
            return 1

    last_list = time.monotonic()
    try:
        while True:
            text = _render(list(collectors.values()), fmt, not no_trunc)
            if no_stream:
                sys.stdout.write(text)
                sys.stdout.flush()
                return 0
            lines = ["\033[H"] + [line + " \033[K\n" for line in text.split("\n")] + ["\033[J"]
            sys.stdout.write("".join(lines))
            sys.stdout.flush()
            if not show_all and all(c.error is not None for c in collectors.values()):
                return 0
            time.sleep(0.5)
            if show_all and time.monotonic() - last_list >= 1.0:
                refresh()
                last_list = time.monotonic()
    except KeyboardInterrupt:
        return 130
