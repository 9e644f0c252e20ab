"""The reader's side of key release: ask every service of a record's set in parallel, keep the
shares that verify, combine as soon as k of them are in.

Each read uses a fresh one-time X25519 key pair: the services seal their shares to it, so a
request or a reply copied off the wire opens for no one else, and the pair is dropped after the
read. Every share is checked against its commitment in the container header before it is used
(`verify_share`); a service whose share does not verify is named (address and URL) and the
others are used. When fewer than k good shares arrive, one ReleaseFailedError names every
service tried and what it answered.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from medledger.chain.accounts import Signer
from medledger.crypto.container import ContainerHeader, DataKey, data_key_from_shares, verify_share
from medledger.crypto.errors import CryptoError
from medledger.crypto.keys import EncryptionKeyPair
from medledger.crypto.sealing import open_sealed
from medledger.crypto.shares import KeyShare, decode_share
from medledger.ledger import MedLedger

from .errors import ReleaseFailedError, ServiceAttempt
from .requests import ReleaseDomain, ReleaseRequest, SignedRelease

__all__ = ["DEFAULT_LIFETIME", "KeyReleaseClient", "ReleaseResult", "ServiceInfo", "service_directory"]

DEFAULT_LIFETIME = 60  # seconds a request stays valid (services accept at most their max lifetime)
DEFAULT_TIMEOUT = 10.0
RELEASE_PATH = "/v1/release"

OnAnswer = Callable[[ServiceAttempt], None]


@dataclass(frozen=True)
class ServiceInfo:
    """One member of an on-chain service set, with the endpoint it published."""

    address: str
    url: str
    index: int  # 1-based: its share index
    public: bytes


@dataclass(frozen=True)
class ReleaseResult:
    """A recovered data key and what each service answered."""

    data_key: DataKey = field(repr=False)
    attempts: tuple[ServiceAttempt, ...]

    @property
    def wrong(self) -> tuple[ServiceAttempt, ...]:
        """Services whose share failed its commitment (or did not open)."""
        return tuple(attempt for attempt in self.attempts if attempt.outcome == "wrong-share")


def service_directory(ledger: MedLedger, version: int) -> tuple[ServiceInfo, ...]:
    """The members of service set `version`, with their keys and published endpoints."""
    services = ledger.services
    found = services.service_set(version)
    return tuple(
        ServiceInfo(member, services.endpoint(member) or "", position + 1, key)
        for position, (member, key) in enumerate(zip(found.members, found.encryption_keys, strict=True))
    )


class KeyReleaseClient:
    """Asks key-release services for their shares; one instance serves many reads.

    Requests run on the client's own event loop in a background thread, with one HTTP connection
    pool kept across reads (so a read pays no client or connection setup), whether the caller is
    synchronous code or itself inside an event loop. Service directories are cached for
    `directory_ttl` seconds. `close()` (or a `with` block) stops the loop."""

    def __init__(
        self, *, timeout: float = DEFAULT_TIMEOUT, lifetime: int = DEFAULT_LIFETIME, directory_ttl: float = 30.0
    ):
        self.timeout = timeout
        self.lifetime = lifetime
        self.directory_ttl = directory_ttl
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._http: httpx.AsyncClient | None = None
        self._directories: dict[tuple[str, int], tuple[float, tuple[ServiceInfo, ...]]] = {}

    def __enter__(self) -> KeyReleaseClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def directory(self, ledger: MedLedger, version: int) -> tuple[ServiceInfo, ...]:
        """`service_directory`, cached for `directory_ttl` seconds."""
        key = (ledger.address, int(version))
        now = time.monotonic()
        with self._lock:
            cached = self._directories.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        services = service_directory(ledger, version)
        with self._lock:
            self._directories[key] = (now + self.directory_ttl, services)
        return services

    def request_key(
        self,
        signer: Signer,
        domain: ReleaseDomain,
        header: ContainerHeader,
        proof: Sequence[bytes],
        *,
        patient: str,
        digest: bytes,
        purpose: int,
        access_tx: bytes,
        services: Sequence[ServiceInfo],
        now: int,
        on_answer: OnAnswer | None = None,
    ) -> ReleaseResult:
        """The record's data key from k services of its set. `now` is the chain's time (deadlines
        are on the chain's clock); `on_answer` is called with each service's answer as it comes
        (from the client's thread)."""
        section = header.threshold
        if section is None:
            raise ReleaseFailedError("the record has no threshold section: no service holds a share of its key", ())
        if len(services) != section.share_count:
            raise ReleaseFailedError(
                f"service set {section.set_version} has {len(services)} members but the record holds "
                f"{section.share_count} shares",
                (),
            )
        reader_key = EncryptionKeyPair.generate()
        separator = domain.separator()
        bodies: dict[str, dict[str, Any]] = {}
        for service in services:
            request = ReleaseRequest(
                service=service.address,
                patient=patient,
                digest=digest,
                purpose=int(purpose),
                access_tx=access_tx,
                reader_key=reader_key.public,
                deadline=now + self.lifetime,
            )
            signature = request.sign(signer, domain, separator)
            bodies[service.address] = SignedRelease(request, signature, tuple(proof)).to_json()
        loop = self._running_loop()
        work = self._gather(header, services, bodies, reader_key, on_answer)
        return asyncio.run_coroutine_threadsafe(work, loop).result()

    def close(self) -> None:
        with self._lock:
            loop, thread, self._loop, self._thread = self._loop, self._thread, None, None
        if loop is None or thread is None:
            return
        if self._http is not None:
            asyncio.run_coroutine_threadsafe(self._http.aclose(), loop).result()
            self._http = None
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name="medledger-key-release", daemon=True)
                thread.start()
                self._loop, self._thread = loop, thread
            return self._loop

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:  # created on the loop's thread, used only there
            self._http = httpx.AsyncClient(timeout=self.timeout, limits=httpx.Limits(max_keepalive_connections=64))
        return self._http

    async def _gather(
        self,
        header: ContainerHeader,
        services: Sequence[ServiceInfo],
        bodies: dict[str, dict[str, Any]],
        reader_key: EncryptionKeyPair,
        on_answer: OnAnswer | None,
    ) -> ReleaseResult:
        section = header.threshold
        assert section is not None
        attempts: dict[str, ServiceAttempt] = {}
        good: list[KeyShare] = []

        def note(attempt: ServiceAttempt) -> None:
            attempts[attempt.address] = attempt
            if on_answer is not None:
                on_answer(attempt)

        http = self._client()
        tasks: dict[asyncio.Task[tuple[int, object] | str], ServiceInfo] = {}
        for service in services:
            if not service.url:
                note(ServiceAttempt(service.address, "", "no-endpoint", detail="it published no URL"))
                continue
            task = asyncio.create_task(self._ask(http, service, bodies[service.address]))
            tasks[task] = service
        pending = set(tasks)
        while pending and len(good) < section.threshold:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                service = tasks[task]
                attempt, share = self._judge(service, task.result(), header, reader_key)
                if share is not None and len(good) < section.threshold:
                    good.append(share)
                note(attempt)
        for task in pending:
            task.cancel()
            service = tasks[task]
            attempts[service.address] = ServiceAttempt(service.address, service.url, "not-needed")
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        ordered = tuple(attempts[service.address] for service in services)
        if len(good) < section.threshold:
            reasons = "; ".join(attempt.describe() for attempt in ordered)
            raise ReleaseFailedError(
                f"only {len(good)} of the {section.threshold} shares needed (set {section.set_version}) were "
                f"released: {reasons}",
                ordered,
            )
        return ReleaseResult(data_key_from_shares(header, good), ordered)

    async def _ask(
        self, http: httpx.AsyncClient, service: ServiceInfo, body: dict[str, Any]
    ) -> tuple[int, object] | str:
        """(status, decoded JSON) or a one-line reason the service did not answer."""
        try:
            response = await http.post(service.url.rstrip("/") + RELEASE_PATH, json=body)
        except httpx.TimeoutException:
            return f"no answer within {self.timeout:g} s"
        except httpx.HTTPError as exc:
            return f"unreachable ({type(exc).__name__})"
        try:
            return response.status_code, response.json()
        except ValueError:
            return f"answered HTTP {response.status_code} without JSON"

    @staticmethod
    def _judge(
        service: ServiceInfo, answer: tuple[int, object] | str, header: ContainerHeader, reader_key: EncryptionKeyPair
    ) -> tuple[ServiceAttempt, KeyShare | None]:
        if isinstance(answer, str):
            return ServiceAttempt(service.address, service.url, "unreachable", detail=answer), None
        status, data = answer
        if status != 200:
            error = data.get("error") if isinstance(data, dict) else None
            if isinstance(error, dict):
                return ServiceAttempt(
                    service.address,
                    service.url,
                    "refused",
                    code=str(error.get("code", "")),
                    detail=str(error.get("message", ""))[:300],
                ), None
            return ServiceAttempt(service.address, service.url, "refused", code=f"http-{status}"), None
        try:
            sealed = base64.b64decode(data["sealedShare"], validate=True)  # type: ignore[index]
            share = decode_share(open_sealed(sealed, reader_key))
        except (KeyError, TypeError, ValueError, binascii.Error, CryptoError):
            return ServiceAttempt(
                service.address, service.url, "wrong-share", detail="its reply does not open to a share"
            ), None
        try:
            verified = share.index == service.index and verify_share(header, share)
        except CryptoError:
            verified = False
        if not verified:
            return ServiceAttempt(
                service.address,
                service.url,
                "wrong-share",
                detail=f"the share for index {service.index} fails its commitment",
            ), None
        return ServiceAttempt(service.address, service.url, "share"), share
