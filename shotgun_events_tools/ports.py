"""Loopback ports for the local servers (the emulator, moto, a local Function URL)."""

from __future__ import annotations

import socket


class PortInUse(OSError):
    """A port we were told to use is taken; the message names it."""


def free_port(requested: int = 0, what: str = "port") -> int:
    """`requested` on 127.0.0.1 if it is free (0: any free port), else `PortInUse` naming `what`."""
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", requested))
        except OSError:
            raise PortInUse(f"{what} {requested} on 127.0.0.1 is already in use") from None
        return int(probe.getsockname()[1])
