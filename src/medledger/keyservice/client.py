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

import base64
import binascii
import http.client
import json
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from urllib.parse import SplitResult, urlsplit

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
_STALE_CONNECTION = (
    http.client.RemoteDisconnected,
    http.client.CannotSendRequest,
    http.client.ResponseNotReady,
    BrokenPipeError,
    ConnectionResetError,
)


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

    Requests run on a small pool of worker threads, each keeping one keep-alive connection per
    service (the standard library's `http.client`: a request costs a fraction of a millisecond of
    CPU where an asyncio client costs several, and a read asks five services), so a read pays no
    connection setup, whether the caller is synchronous code or itself inside an event loop.
    Service directories are cached for `directory_ttl` seconds. `close()` (or a `with` block)
    stops the pool."""

    def __init__(
        self,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        lifetime: int = DEFAULT_LIFETIME,
        directory_ttl: float = 30.0,
        workers: int = 16,
    ):
        self.timeout = timeout
        self.lifetime = lifetime
        self.directory_ttl = directory_ttl
        self._workers = workers
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._local = threading.local()
        self._connections: list[http.client.HTTPConnection] = []
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
        (from the calling thread)."""
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
        attempts: dict[str, ServiceAttempt] = {}
        good: list[KeyShare] = []

        def note(attempt: ServiceAttempt) -> None:
            attempts[attempt.address] = attempt
            if on_answer is not None:
                on_answer(attempt)

        pool = self._executor()
        asked: dict[Future[tuple[int, object] | str], ServiceInfo] = {}
        for service in services:
            if not service.url:
                note(ServiceAttempt(service.address, "", "no-endpoint", detail="it published no URL"))
                continue
            request = ReleaseRequest(
                service=service.address,
                patient=patient,
                digest=digest,
                purpose=int(purpose),
                access_tx=access_tx,
                reader_key=reader_key.public,
                deadline=now + self.lifetime,
            )
            body = SignedRelease(request, request.sign(signer, domain, separator), tuple(proof)).to_json()
            asked[pool.submit(self._ask, service, json.dumps(body).encode())] = service

        def judge(future: Future[tuple[int, object] | str]) -> None:
            service = asked[future]
            attempt, share = self._judge(service, future.result(), header, reader_key)
            if share is not None and len(good) < section.threshold:
                good.append(share)
            note(attempt)

        judged: set[Future[tuple[int, object] | str]] = set()
        for future in as_completed(asked):
            judge(future)
            judged.add(future)
            if len(good) >= section.threshold:
                break
        for future, service in asked.items():  # answers already in are kept; the rest are not needed
            if future in judged:
                continue
            if future.done():
                judge(future)
            else:
                future.cancel()
                attempts[service.address] = ServiceAttempt(service.address, service.url, "not-needed")
        ordered = tuple(attempts[service.address] for service in services)
        if len(good) < section.threshold:
            reasons = "; ".join(attempt.describe() for attempt in ordered)
            raise ReleaseFailedError(
                f"only {len(good)} of the {section.threshold} shares needed (set {section.set_version}) were "
                f"released: {reasons}",
                ordered,
            )
        return ReleaseResult(data_key_from_shares(header, good), ordered)

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
            connections, self._connections = self._connections, []
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
        for connection in connections:
            connection.close()

    def _executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=self._workers, thread_name_prefix="key-release")
            return self._pool

    def _connection(self, url: SplitResult, *, fresh: bool) -> tuple[http.client.HTTPConnection, bool]:
        """This thread's keep-alive connection to `url`'s host (and whether it was reused)."""
        connections: dict[tuple[str, str, int | None], http.client.HTTPConnection] = self._local.__dict__.setdefault(
            "connections", {}
        )
        key = (url.scheme, url.hostname or "", url.port)
        connection = connections.get(key)
        if connection is not None and not fresh:
            return connection, True
        if connection is not None:
            connection.close()
        kind = http.client.HTTPSConnection if url.scheme == "https" else http.client.HTTPConnection
        connection = kind(url.hostname or "", url.port, timeout=self.timeout)
        connections[key] = connection
        with self._lock:
            self._connections.append(connection)
        return connection, False

    def _ask(self, service: ServiceInfo, body: bytes) -> tuple[int, object] | str:
        """(status, decoded JSON) or a one-line reason the service did not answer."""
        url = urlsplit(service.url.rstrip("/") + RELEASE_PATH)
        try:
            if url.scheme not in ("http", "https") or not url.hostname or (url.port or 1) < 1:
                raise ValueError(url.scheme)
        except ValueError:  # also a port that is not a number
            return "unreachable (its URL is not http(s)://host[:port])"
        headers = {"Content-Type": "application/json", "Connection": "keep-alive"}
        fresh = False
        while True:
            connection, reused = self._connection(url, fresh=fresh)
            try:
                connection.request("POST", url.path, body, headers)
                response = connection.getresponse()
                data = response.read()
            except TimeoutError:
                connection.close()
                return f"no answer within {self.timeout:g} s"
            except (OSError, http.client.HTTPException) as exc:
                connection.close()
                if reused and isinstance(exc, _STALE_CONNECTION):  # the service closed a kept-alive connection
                    fresh = True
                    continue
                return f"unreachable ({type(exc).__name__})"
            break
        try:
            return response.status, json.loads(data)
        except ValueError:
            return f"answered HTTP {response.status} without JSON"

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
