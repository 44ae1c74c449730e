"""Free TCP ports on 127.0.0.1 for local services (the demo's, and the tests').

Asking the kernel for port 0 returns a port from the *ephemeral* range, the same range the
kernel hands to outgoing connections: between choosing such a port and a server binding it,
any client socket on the machine may take it. Ports here are drawn below that range instead,
checked free the way a server would bind them (``SO_REUSEADDR``), and never handed out twice
by one process.
"""

from __future__ import annotations

import random
import socket

_LOW = 20000
_given: set[int] = set()


def _ephemeral_low() -> int:
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as fh:
            return int(fh.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on, outside the ephemeral range."""
    high = _ephemeral_low()
    rng = random.Random()
    for _ in range(500):
        port = rng.randrange(_LOW, high) if high > _LOW + 100 else rng.randrange(10000, 20000)
        if port not in _given and _bindable(port):
            _given.add(port)
            return port
    raise OSError("no free port found on 127.0.0.1")
