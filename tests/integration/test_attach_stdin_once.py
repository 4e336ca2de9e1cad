"""StdinOnce with a TTY (``docker run -it``): the attach ending never ends the shell.

moby closes a StdinOnce container's stdin when its attaching client's stdin
ends only without a TTY. With one, detach keys and a dropped client end the
attach and leave the shell running; the daemon closes its monitor
connection and the monitor applies the same rule (ATTACH PROTOCOL).
"""

from __future__ import annotations

import time

import pytest

from tests.integration.helpers import attach, create, inspect, rm

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")

STDIO = "stream=1&stdin=1&stdout=1&stderr=1"


def test_tty_stdin_once_shell_survives_detach_and_a_dropped_client(box):
    cid = create(box, Cmd=["sh"], Tty=True, OpenStdin=True, StdinOnce=True, AttachStdin=True, AttachStdout=True,
                 AttachStderr=True)
    try:
        att = attach(box, cid, STDIO)
        assert box.request("POST", f"/containers/{cid}/start")[0] == 204
        att.sock.sendall(b"echo one-$((40+2))\n")
        assert b"one-42" in att.read_until(b"one-42")
        att.sock.sendall(b"\x10\x11")  # ctrl-p ctrl-q
        att.sock.settimeout(5)
        att.read_all()  # the daemon ends the attach
        att.close()
        time.sleep(0.5)  # not a wait: time for the shell to end, which it must not
        assert inspect(box, cid)["State"]["Running"] is True
        dropped = attach(box, cid, STDIO)
        dropped.sock.sendall(b"echo two-$((40+3))\n")
        assert b"two-43" in dropped.read_until(b"two-43")
        dropped.close()  # gone without a word
        time.sleep(0.5)  # not a wait: as above
        assert inspect(box, cid)["State"]["Running"] is True
        last = attach(box, cid, STDIO)
        last.sock.sendall(b"exit 5\n")
        last.sock.settimeout(10)
        last.read_all()
        last.close()
        assert box.json("POST", f"/containers/{cid}/wait") == {"Error": None, "StatusCode": 5}
    finally:
        rm(box, cid)
