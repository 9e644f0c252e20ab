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
import signal
import threading
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from types import FrameType
from typing import TYPE_CHECKING, Any

import anyio.to_thread
import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

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


def _refusal_reply(code: str, message: str, status: int) -> tuple[dict[str, Any], dict[str, Any]]:
    return _json_reply(status, {"error": {"code": code, "message": message}})


def create_app(service: ReleaseService) -> ASGIApp:
    """The ASGI application around one ReleaseService (closed when the app shuts down)."""
    limit = service.config.max_body_bytes
    # A release is mostly CPU under the GIL plus one short chain round trip: a few worker threads
    # keep the chain busy without the thrashing of many.
    workers = ThreadPoolExecutor(max_workers=WORKER_THREADS, thread_name_prefix="key-release")

    async def decide(body: bytes) -> tuple[dict[str, Any], dict[str, Any]]:
        try:
            data = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError):
            return _refusal_reply("bad-request", "the request body is not JSON", 400)
        try:
            reply = await asyncio.get_running_loop().run_in_executor(workers, service.release, data)
        except ReleaseRefusedError as refusal:
            return _json_reply(refusal.status, refusal.to_json())
        except Exception as exc:  # a bug: answer without details, keep the type in the log
            logger.error("release failed with %s", type(exc).__name__)
            return _refusal_reply("internal", "the service failed; see its log", 500)
        return _json_reply(200, reply)

    async def release(scope: Scope, receive: Receive, send: Send) -> None:
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
            start, body = _refusal_reply("too-large", f"the request body is over {limit} bytes", 413)
        else:
            start, body = await decide(bytes(received))
        await send(start)
        await send(body)

    async def health(request: Request) -> JSONResponse:
        state = await run_in_threadpool(service.health)
        return JSONResponse(state.to_json(), status_code=200 if state.ok else 503)

    async def release_not_allowed(request: Request) -> JSONResponse:
        return JSONResponse(
            {"error": {"code": "bad-request", "message": "use POST"}}, status_code=405, headers={"Allow": "POST"}
        )

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

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/v1/release" and scope["method"] == "POST":
            await release(scope, receive, send)
        else:
            await rest(scope, receive, send)

    return app


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
