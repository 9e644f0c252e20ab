"""The device gateway over HTTP: `POST /v1/readings`, `GET /v1/proofs/{device}/{sequence}`, `GET /health`.

Starlette on uvicorn, as the key-release service (keyservice/server.py, which says why): the hot
path `POST /v1/readings` is a plain ASGI handler in front of the Starlette application, the body is
read as a stream and cut off at `max_body_bytes` before it is buffered, and the checks (signature
recovery, FHIR validation, a cached chain read now and then) run in a small thread pool so the
event loop only moves bytes. SIGTERM or SIGINT stop it gracefully: in-flight requests finish,
then every open window is sealed and anchored before the process exits.

Replies: `202 {"accepted": n}`; a refusal is `4xx {"error": {"code", "message"}}` (codes in
gateway/collector.py); `413` for an oversized body. Nothing logged holds a reading or a key.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import threading
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from types import FrameType
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from .collector import Gateway
from .errors import ReadingRefusedError

__all__ = ["GatewayThread", "create_app", "serve"]

logger = logging.getLogger("medledger.gateway")
WORKER_THREADS = 4


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


def _json_reply(status: int, payload: object) -> tuple[dict[str, Any], dict[str, Any]]:
    body = json.dumps(payload, separators=(",", ":")).encode()
    start = {
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
    }
    return start, {"type": "http.response.body", "body": body}


def _error(code: str, message: str, status: int) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def create_app(gateway: Gateway, *, flush_on_shutdown: bool = True) -> ASGIApp:
    """The ASGI application around one Gateway: the sealer runs while the app does."""
    limit = gateway.policy.max_body_bytes
    workers = ThreadPoolExecutor(max_workers=WORKER_THREADS, thread_name_prefix="gateway")

    async def decide(body: bytes) -> tuple[dict[str, Any], dict[str, Any]]:
        try:
            data = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError):
            return _json_reply(400, _error("bad-request", "the request body is not JSON", 400))
        try:
            reply = await asyncio.get_running_loop().run_in_executor(workers, gateway.accept, data)
        except ReadingRefusedError as refusal:
            return _json_reply(refusal.status, refusal.to_json())
        except Exception as exc:  # a bug or an unreachable chain: no details, the type in the log
            logger.error("accepting readings failed with %s", type(exc).__name__)
            return _json_reply(503, _error("unavailable", "the gateway could not check the readings; retry", 503))
        return _json_reply(202, reply)

    async def readings(scope: Scope, receive: Receive, send: Send) -> None:
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
            start, body = _json_reply(413, _error("too-large", f"the request body is over {limit} bytes", 413))
        else:
            start, body = await decide(bytes(received))
        await send(start)
        await send(body)

    async def proof(request: Request) -> JSONResponse:
        try:
            sequence = int(request.path_params["sequence"])
        except ValueError:
            return JSONResponse(_error("bad-request", "the sequence is a number", 400), status_code=400)
        try:
            found = await run_in_threadpool(gateway.proof, request.path_params["device"], sequence)
        except ReadingRefusedError as refusal:
            return JSONResponse(refusal.to_json(), status_code=refusal.status)
        return JSONResponse(found)

    async def health(request: Request) -> JSONResponse:
        return JSONResponse(gateway.health())

    async def not_allowed(request: Request) -> JSONResponse:
        return JSONResponse(_error("bad-request", "use POST", 405), status_code=405, headers={"Allow": "POST"})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        gateway.start()
        try:
            yield
        finally:
            workers.shutdown(wait=True)
            await run_in_threadpool(gateway.stop, flush=flush_on_shutdown)

    rest = Starlette(
        routes=[
            Route("/health", health, methods=["GET"]),
            Route("/v1/proofs/{device}/{sequence}", proof, methods=["GET"]),
            Route("/v1/readings", not_allowed, methods=["GET", "PUT", "PATCH", "DELETE"]),
        ],
        lifespan=lifespan,
    )

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/v1/readings" and scope["method"] == "POST":
            await readings(scope, receive, send)
        else:
            await rest(scope, receive, send)

    return app


class _Server(uvicorn.Server):
    """A SIGTERM or SIGINT is a requested stop: shut down gracefully and return (exit 0)."""

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self.should_exit and sig == signal.SIGINT:
            self.force_exit = True
        else:
            self.should_exit = True


def _config(gateway: Gateway, host: str, port: int, log_level: str) -> uvicorn.Config:
    return uvicorn.Config(
        create_app(gateway),
        host=host,
        port=port,
        log_level=log_level,
        access_log=False,
        timeout_graceful_shutdown=10,
        timeout_keep_alive=30,
        server_header=False,
        lifespan="on",
    )


def serve(gateway: Gateway, *, host: str = "127.0.0.1", port: int = 8711, log_level: str = "warning") -> None:
    """Run the gateway until SIGTERM or SIGINT, then seal, anchor and return (blocks)."""
    _Server(_config(gateway, host, port, log_level)).run()


class GatewayThread:
    """A gateway served from a background thread of this process (tests, benchmarks)."""

    def __init__(self, gateway: Gateway, *, host: str = "127.0.0.1", port: int = 0):
        self.gateway = gateway
        self._server = _Server(_config(gateway, host, port, "warning"))
        self._thread = threading.Thread(target=self._server.run, name="gateway", daemon=True)

    @property
    def url(self) -> str:
        socket = self._server.servers[0].sockets[0]
        host, port = socket.getsockname()[:2]
        return f"http://{host}:{port}"

    def start(self, timeout: float = 30.0) -> GatewayThread:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the gateway did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join()
