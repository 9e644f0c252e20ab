"""What the project's HTTP servers share: the key-release service, the device gateway, the portal.

All three are Starlette applications on uvicorn (keyservice/server.py says why). This module holds
the parts that must behave the same in each: a JSON POST hot path that reads the body as a stream
and cuts it off at a byte limit before buffering it, the JSON error shape `{"error": {"code",
"message"}}`, a uvicorn server that treats SIGTERM and SIGINT as a requested stop, and a server run
from a background thread (tests, benchmarks, the demo's in-process services).
"""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Awaitable, Callable
from types import FrameType
from typing import Any, Self

import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send

from medledger.errors import error_payload

__all__ = [
    "GracefulServer",
    "ServerThread",
    "error_payload",
    "json_post_endpoint",
    "json_reply",
    "route_post",
    "uvicorn_config",
]

Reply = tuple[dict[str, Any], dict[str, Any]]  # the ASGI response start and body messages


def json_reply(status: int, payload: object) -> Reply:
    """A JSON response as its two ASGI messages (no Response object on the hot path)."""
    body = json.dumps(payload, separators=(",", ":")).encode()
    start = {
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
    }
    return start, {"type": "http.response.body", "body": body}


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


def json_post_endpoint(limit: int, decide: Callable[[bytes], Awaitable[Reply]]) -> ASGIApp:
    """A plain ASGI handler: read the body as a stream, answer 413 once it (or its declared length)
    is over `limit` bytes, before buffering more; otherwise answer what `decide(body)` returns."""

    async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
        declared = _declared_length(scope)
        too_large = declared is not None and declared > limit
        received = bytearray()
        while not too_large:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            received += message.get("body", b"")
            too_large = len(received) > limit
            if not message.get("more_body", False):
                break
        if too_large:
            start, body = json_reply(413, error_payload("too-large", f"the request body is over {limit} bytes"))
        else:
            start, body = await decide(bytes(received))
        await send(start)
        await send(body)

    return endpoint


def route_post(path: str, endpoint: ASGIApp, rest: ASGIApp) -> ASGIApp:
    """`POST path` straight to `endpoint` (no middleware or Request object per call), all else to `rest`."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == path and scope["method"] == "POST":
            await endpoint(scope, receive, send)
        else:
            await rest(scope, receive, send)

    return app


def uvicorn_config(
    app: ASGIApp,
    host: str,
    port: int,
    *,
    log_level: str = "warning",
    graceful_seconds: int = 5,
    keep_alive_seconds: int = 5,
) -> uvicorn.Config:
    """No access log (it would list who asked for what), no server header, lifespan on."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        access_log=False,
        timeout_graceful_shutdown=graceful_seconds,
        timeout_keep_alive=keep_alive_seconds,
        server_header=False,
        lifespan="on",
    )


class GracefulServer(uvicorn.Server):
    """uvicorn's server, except that a SIGTERM or SIGINT is a requested stop: it shuts down
    gracefully and `run` returns, so the process exits 0 (uvicorn re-raises the signal once shut
    down, which ends the process by that signal instead)."""

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self.should_exit and sig == signal.SIGINT:
            self.force_exit = True  # a second Ctrl-C: stop waiting for in-flight requests
        else:
            self.should_exit = True


class ServerThread:
    """A server run from a background thread of this process: `start()` returns once it listens,
    `stop()` shuts it down gracefully and waits."""

    def __init__(self, config: uvicorn.Config, *, name: str):
        self.name = name
        self._server = GracefulServer(config)
        self._thread = threading.Thread(target=self._server.run, name=name, daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.servers[0].sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        host, port = self._server.servers[0].sockets[0].getsockname()[:2]
        return f"http://{host}:{port}"

    def start(self, timeout: float = 30.0) -> Self:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the {self.name} did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join()
