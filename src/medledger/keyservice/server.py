"""The key-release service over HTTP: `POST /v1/release`, `GET /health`.

Starlette on uvicorn, because: Starlette is a small ASGI toolkit (routing, requests, JSON
responses, lifespan) with nothing we do not use, and it lets the body be read as a stream, so a
request is cut off at `max_body_bytes` before it is buffered; uvicorn is the reference ASGI
server, stops gracefully on SIGTERM and SIGINT (finishes in-flight requests, then runs the
lifespan shutdown that closes the release log), and is what Starlette is tested against.
aiohttp would have worked as well, but would bring a second HTTP stack beside httpx (the client).

The release checks are synchronous (web3's HTTP provider, SQLite): each request runs them in a
worker thread, so one slow chain call never blocks the event loop.

Replies: `200 {"sealedShare": base64, "index": n}`; a refusal is `4xx/503 {"error": {"code",
"message"}}` (codes in keyservice/service.py); `413` for an oversized body. Nothing logged here
holds a share, a key or a signature.
"""

from __future__ import annotations

import contextlib
import json
import logging
import signal
import threading
import time
from collections.abc import AsyncIterator
from types import FrameType

import anyio.to_thread
import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from medledger.errors import MedLedgerError

from .config import ServiceConfig
from .errors import ReleaseRefusedError
from .service import ReleaseService

__all__ = ["ServiceThread", "create_app", "serve"]

logger = logging.getLogger("medledger.keyservice")
WORKER_THREADS = 4


class _BodyTooLarge(MedLedgerError):
    pass


async def _bounded_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _BodyTooLarge
    received = bytearray()
    async for chunk in request.stream():
        received += chunk
        if len(received) > limit:
            raise _BodyTooLarge
    return bytes(received)


def _refusal(code: str, message: str, status: int) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def create_app(service: ReleaseService) -> Starlette:
    """The ASGI application around one ReleaseService (closed when the app shuts down)."""
    limit = service.config.max_body_bytes

    async def release(request: Request) -> JSONResponse:
        try:
            body = await _bounded_body(request, limit)
        except _BodyTooLarge:
            return _refusal("too-large", f"the request body is over {limit} bytes", 413)
        try:
            data = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError):
            return _refusal("bad-request", "the request body is not JSON", 400)
        try:
            reply = await run_in_threadpool(service.release, data)
        except ReleaseRefusedError as refusal:
            return JSONResponse(refusal.to_json(), status_code=refusal.status)
        except Exception as exc:  # a bug: answer without details, keep the type in the log
            logger.error("release failed with %s", type(exc).__name__)
            return _refusal("internal", "the service failed; see its log", 500)
        return JSONResponse(reply)

    async def health(request: Request) -> JSONResponse:
        state = await run_in_threadpool(service.health)
        return JSONResponse(state.to_json(), status_code=200 if state.ok else 503)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # A release is mostly CPU under the GIL plus one short chain round trip: a few worker
        # threads keep the chain busy without the thrashing of anyio's default forty.
        anyio.to_thread.current_default_thread_limiter().total_tokens = WORKER_THREADS
        try:
            yield
        finally:
            service.close()

    return Starlette(
        routes=[Route("/v1/release", release, methods=["POST"]), Route("/health", health, methods=["GET"])],
        lifespan=lifespan,
    )


class _Server(uvicorn.Server):
    """uvicorn's server, except that a SIGTERM or SIGINT is a requested stop: it shuts down
    gracefully and `serve` returns, so the process exits 0 (uvicorn re-raises the signal once shut
    down, which ends the process by that signal instead)."""

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self.should_exit and sig == signal.SIGINT:
            self.force_exit = True  # a second Ctrl-C: stop waiting for in-flight requests
        else:
            self.should_exit = True


def serve(config: ServiceConfig, *, service: ReleaseService | None = None, log_level: str = "warning") -> None:
    """Run the service until SIGTERM or SIGINT, then shut down cleanly and return (blocks)."""
    service = service or ReleaseService(config)
    server = _Server(
        uvicorn.Config(
            create_app(service),
            host=config.host,
            port=config.port,
            log_level=log_level,
            access_log=False,
            timeout_graceful_shutdown=10,
            timeout_keep_alive=5,
            server_header=False,
            lifespan="on",
        )
    )
    server.run()


class ServiceThread:
    """A service served from a background thread of this process (the demo's in-process services,
    on the embedded chain): `start()` returns once it listens, `stop()` shuts it down cleanly."""

    def __init__(self, service: ReleaseService, *, host: str = "127.0.0.1", port: int = 0):
        self.service = service
        self._server = _Server(
            uvicorn.Config(
                create_app(service),
                host=host,
                port=port,
                log_level="warning",
                access_log=False,
                timeout_graceful_shutdown=5,
                lifespan="on",
            )
        )
        self._thread = threading.Thread(target=self._server.run, name=f"key-release {service.address}", daemon=True)

    @property
    def url(self) -> str:
        socket = self._server.servers[0].sockets[0]
        host, port = socket.getsockname()[:2]
        return f"http://{host}:{port}"

    def start(self, timeout: float = 30.0) -> ServiceThread:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the key-release service {self.service.address} did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join()
