"""Loopback port allocation for local daemons."""

from __future__ import annotations

import socket


def free_loopback_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def loopback_port_free(port: int) -> bool:
    """Whether a server could bind 127.0.0.1:`port` now (someone listening there, on any
    address, makes it busy; a port in TIME_WAIT does not, as servers set SO_REUSEADDR)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def preferred_loopback_port(preferred: int) -> tuple[int, bool]:
    """`preferred` if it is free, else a free port; and whether the preferred one was taken.

    0 means no preference (any free port, never "taken")."""
    if preferred == 0:
        return free_loopback_port(), False
    if loopback_port_free(preferred):
        return preferred, False
    return free_loopback_port(), True
