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
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor

import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp

from medledger.serving import (
    GracefulServer,
    Reply,
    ServerThread,
    error_payload,
    json_post_endpoint,
    json_reply,
    route_post,
    uvicorn_config,
)

from .collector import Gateway
from .errors import ReadingRefusedError

__all__ = ["GatewayThread", "create_app", "serve"]

logger = logging.getLogger("medledger.gateway")
WORKER_THREADS = 4


def _error(code: str, message: str, status: int) -> Reply:
    return json_reply(status, error_payload(code, message))


def create_app(gateway: Gateway, *, flush_on_shutdown: bool = True) -> ASGIApp:
    """The ASGI application around one Gateway: the sealer runs while the app does."""
    limit = gateway.policy.max_body_bytes
    workers = ThreadPoolExecutor(max_workers=WORKER_THREADS, thread_name_prefix="gateway")

    async def decide(body: bytes) -> Reply:
        try:
            data = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError):
            return _error("bad-request", "the request body is not JSON", 400)
        try:
            reply = await asyncio.get_running_loop().run_in_executor(workers, gateway.accept, data)
        except ReadingRefusedError as refusal:
            return json_reply(refusal.status, refusal.to_json())
        except Exception as exc:  # a bug or an unreachable chain: no details, the type in the log
            logger.error("accepting readings failed with %s", type(exc).__name__)
            return _error("unavailable", "the gateway could not check the readings; retry", 503)
        return json_reply(202, reply)

    async def proof(request: Request) -> JSONResponse:
        try:
            sequence = int(request.path_params["sequence"])
        except ValueError:
            return JSONResponse(error_payload("bad-request", "the sequence is a number"), status_code=400)
        try:
            found = await run_in_threadpool(gateway.proof, request.path_params["device"], sequence)
        except ReadingRefusedError as refusal:
            return JSONResponse(refusal.to_json(), status_code=refusal.status)
        return JSONResponse(found)

    async def health(request: Request) -> JSONResponse:
        return JSONResponse(gateway.health())

    async def not_allowed(request: Request) -> JSONResponse:
        return JSONResponse(error_payload("bad-request", "use POST"), status_code=405, headers={"Allow": "POST"})

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

    return route_post("/v1/readings", json_post_endpoint(limit, decide), rest)


def serve(gateway: Gateway, *, host: str = "127.0.0.1", port: int = 8711, log_level: str = "warning") -> None:
    """Run the gateway until SIGTERM or SIGINT, then seal, anchor and return (blocks)."""
    GracefulServer(_config(gateway, host, port, log_level)).run()


def _config(gateway: Gateway, host: str, port: int, log_level: str) -> uvicorn.Config:
    # Devices keep their connection between posts: a longer keep-alive than the other servers.
    return uvicorn_config(
        create_app(gateway), host, port, log_level=log_level, graceful_seconds=10, keep_alive_seconds=30
    )


class GatewayThread(ServerThread):
    """A gateway served from a background thread of this process (tests, benchmarks)."""

    def __init__(self, gateway: Gateway, *, host: str = "127.0.0.1", port: int = 0):
        self.gateway = gateway
        super().__init__(_config(gateway, host, port, "warning"), name="gateway")
