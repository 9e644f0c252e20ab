"""The key-release service over HTTP: `POST /v1/release`, `GET /health`.

Starlette on uvicorn, because: Starlette is a small ASGI toolkit (routing, requests, JSON
responses, lifespan) with nothing we do not use, and it lets the body be read as a stream, so a
request is cut off at `max_body_bytes` before it is buffered; uvicorn is the reference ASGI
server, stops gracefully on SIGTERM and SIGINT (finishes in-flight requests, then runs the
lifespan shutdown that closes the release log), and is what Starlette is tested against.
aiohttp would have worked as well, but would bring a second HTTP stack beside httpx (the client).

The release checks are synchronous (a blocking JSON-RPC batch, SQLite): each request runs them
in a worker thread, so one slow chain call never blocks the event loop. `POST /v1/release` is the
hot path, so it is a plain ASGI handler in front of the Starlette application (which serves
`/health`, the lifespan and every other path): no middleware stack or Request object per call,
and a `concurrent.futures` pool for the checks rather than anyio's thread limiter; together about
a fifth of a release's CPU time on one core (benchmarks/keyservice.py).

Replies: `200 {"sealedShare": base64, "index": n}`; a refusal is `4xx/503 {"error": {"code",
"message"}}` (codes in keyservice/service.py); `413` for an oversized body. Nothing logged here
holds a share, a key or a signature.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import anyio.to_thread
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

from .config import ServiceConfig
from .errors import ReleaseRefusedError
from .service import ReleaseService

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from medledger.chain.accounts import Signer
    from medledger.chain.connection import Chain

__all__ = ["ServiceThread", "create_app", "serve", "start_local_services"]

logger = logging.getLogger("medledger.keyservice")
WORKER_THREADS = 4


def _refusal_reply(code: str, message: str, status: int) -> Reply:
    return json_reply(status, error_payload(code, message))


def create_app(service: ReleaseService) -> ASGIApp:
    """The ASGI application around one ReleaseService (closed when the app shuts down)."""
    limit = service.config.max_body_bytes
    # A release is mostly CPU under the GIL plus one short chain round trip: a few worker threads
    # keep the chain busy without the thrashing of many.
    workers = ThreadPoolExecutor(max_workers=WORKER_THREADS, thread_name_prefix="key-release")

    async def decide(body: bytes) -> Reply:
        try:
            data = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError):
            return _refusal_reply("bad-request", "the request body is not JSON", 400)
        try:
            reply = await asyncio.get_running_loop().run_in_executor(workers, service.release, data)
        except ReleaseRefusedError as refusal:
            return json_reply(refusal.status, refusal.to_json())
        except Exception as exc:  # a bug: answer without details, keep the type in the log
            logger.error("release failed with %s", type(exc).__name__)
            return _refusal_reply("internal", "the service failed; see its log", 500)
        return json_reply(200, reply)

    async def health(request: Request) -> JSONResponse:
        state = await run_in_threadpool(service.health)
        return JSONResponse(state.to_json(), status_code=200 if state.ok else 503)

    async def release_not_allowed(request: Request) -> JSONResponse:
        return JSONResponse(error_payload("bad-request", "use POST"), status_code=405, headers={"Allow": "POST"})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        anyio.to_thread.current_default_thread_limiter().total_tokens = WORKER_THREADS
        try:
            yield
        finally:
            workers.shutdown(wait=True)
            service.close()

    rest = Starlette(
        routes=[
            Route("/health", health, methods=["GET"]),
            Route("/v1/release", release_not_allowed, methods=["GET", "PUT", "PATCH", "DELETE"]),
        ],
        lifespan=lifespan,
    )

    return route_post("/v1/release", json_post_endpoint(limit, decide), rest)


def serve(config: ServiceConfig, *, service: ReleaseService | None = None, log_level: str = "warning") -> None:
    """Run the service until SIGTERM or SIGINT, then shut down cleanly and return (blocks)."""
    service = service or ReleaseService(config)
    GracefulServer(
        uvicorn_config(create_app(service), config.host, config.port, log_level=log_level, graceful_seconds=10)
    ).run()


class ServiceThread(ServerThread):
    """A service served from a background thread of this process (the demo's in-process services,
    on the embedded chain): `start()` returns once it listens, `stop()` shuts it down cleanly."""

    def __init__(self, service: ReleaseService, *, host: str = "127.0.0.1", port: int = 0):
        self.service = service
        super().__init__(uvicorn_config(create_app(service), host, port), name=f"key-release service {service.address}")


def start_local_services(
    chain: Chain, ledger: str, signers: Sequence[Signer], directory: Path, **policy: Any
) -> list[ServiceThread]:
    """One service per signer, each a real HTTP server on a free loopback port in a thread of this
    process, its release log under `directory` (the demo's and the benchmarks' services). On the
    embedded chain the services read this process's py-evm through its web3; on any other they
    open their own connection. `policy` overrides ServiceConfig fields (rate limits, say)."""
    directory.mkdir(parents=True, exist_ok=True)
    threads: list[ServiceThread] = []
    try:
        for index, signer in enumerate(signers, start=1):
            config = ServiceConfig(
                rpc_url=chain.endpoint if chain.endpoint.startswith("http") else "http://embedded.invalid",
                ledger=ledger,
                chain_id=chain.chain_id,
                database=directory / f"releases-{index}.sqlite",
                private_key_env="MEDLEDGER_UNUSED",  # the signer is handed over directly
                **policy,
            )
            service = ReleaseService(config, signer=signer, chain=chain if chain.is_embedded else None)
            threads.append(ServiceThread(service).start())
    except BaseException:
        for thread in threads:
            thread.stop()
        raise
    return threads
