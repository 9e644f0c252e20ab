"""Serving the portal: uvicorn in the foreground (`medledger portal`) or in a thread (tests).

The same stack as the key-release service (keyservice/server.py): Starlette on uvicorn.
"""

from __future__ import annotations

import signal
import threading
import time
from types import FrameType

import uvicorn
from starlette.types import ASGIApp

from medledger.portal.app import build, create_app
from medledger.portal.config import PortalConfig


class _Server(uvicorn.Server):
    """A SIGTERM or SIGINT is a requested stop: shut down gracefully and return (exit 0)."""

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self.should_exit and sig == signal.SIGINT:
            self.force_exit = True
        else:
            self.should_exit = True


def _uvicorn_config(app: ASGIApp, host: str, port: int) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,  # an access log would list every page a patient opened
        timeout_graceful_shutdown=5,
        server_header=False,
        lifespan="on",
    )


def serve(config: PortalConfig, *, host: str = "127.0.0.1", port: int = 8600) -> None:
    """Serve until SIGTERM or SIGINT (blocks)."""
    _Server(_uvicorn_config(create_app(config), host, port)).run()


class PortalThread:
    """The portal served from a background thread of this process: `start()` returns once it listens."""

    def __init__(self, config: PortalConfig, *, host: str = "127.0.0.1", port: int = 0):
        app, self.portal = build(config)
        self._server = _Server(_uvicorn_config(app, host, port))
        self._thread = threading.Thread(target=self._server.run, name="medledger portal", daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.servers[0].sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> PortalThread:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the portal did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join()


__all__ = ["PortalThread", "serve"]
