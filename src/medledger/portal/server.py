"""Serving the portal: uvicorn in the foreground (`medledger portal`) or in a thread (tests).

The same stack as the key-release service (keyservice/server.py): Starlette on uvicorn.
"""

from __future__ import annotations

import uvicorn
from starlette.types import ASGIApp

from medledger.portal.app import build, create_app
from medledger.portal.config import PortalConfig
from medledger.serving import GracefulServer, ServerThread, uvicorn_config


def _uvicorn_config(app: ASGIApp, host: str, port: int) -> uvicorn.Config:
    return uvicorn_config(app, host, port)  # no access log: it would list every page a patient opened


def serve(config: PortalConfig, *, host: str = "127.0.0.1", port: int = 8600) -> None:
    """Serve until SIGTERM or SIGINT (blocks)."""
    GracefulServer(_uvicorn_config(create_app(config), host, port)).run()


class PortalThread(ServerThread):
    """The portal served from a background thread of this process: `start()` returns once it listens."""

    def __init__(self, config: PortalConfig, *, host: str = "127.0.0.1", port: int = 0):
        app, self.portal = build(config)
        super().__init__(_uvicorn_config(app, host, port), name="portal")


__all__ = ["PortalThread", "serve"]
