"""BlobStore over the Kubo RPC API (/api/v0), which Kubo and js-ipfs both serve.

The node is not trusted: `put` checks that the CID the node reports equals the CID computed
locally, and `get` fetches block by block (block/get), verifying each before use.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, BinaryIO
from urllib.parse import unquote, urlsplit, urlunsplit

import httpx

from medledger.errors import MedLedgerError

from .cid import CHUNK_SIZE, CODEC_RAW, Block, Cid, CidBuilder, compute_cid
from .dag import MAX_BLOCK_SIZE, iter_file, verify_block
from .errors import (
    BlobNotFoundError,
    CidMismatchError,
    StorageError,
    StorageTimeoutError,
    StorageUnavailableError,
)

DEFAULT_API_URL = "http://127.0.0.1:5001"

# Node-side error texts meaning "I do not have that block" (Kubo and js-ipfs wording).
_ABSENT_MARKERS = ("timed out", "deadline exceeded", "not found", "could not find", "aborted")
_LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}


class _NodeError(MedLedgerError):
    """The node answered with an error body; callers map it to a StorageError subclass."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message

    @property
    def means_absent(self) -> bool:
        text = self.message.lower()
        return any(marker in text for marker in _ABSENT_MARKERS)


def _duration(seconds: float) -> str:
    # Both Go's time.ParseDuration (Kubo) and parse-duration (js-ipfs) accept "<n>ms".
    return f"{max(1, round(seconds * 1000))}ms"


class KuboStore:
    """BlobStore backed by an IPFS node's RPC API.

    Timeouts (seconds): `timeout` bounds whole requests such as add; `block_timeout` bounds one
    block/get, and is passed to the node too so that a node looking for an absent block gives
    up instead of hanging; `has_timeout` is the same for has(); `pin_timeout` for pin/add.
    Connection failures are retried `retries` times with exponential backoff from `backoff`.

    Credentials: `headers` (for example `{"Authorization": "Bearer ..."}`) go with every request,
    and so does basic auth, given as `auth=(user, password)` or inside the URL
    (`http://user:password@host:5001`). Neither ever appears in `api_url`, in a message or in
    `repr()`: `api_url` is the URL without its user information.
    """

    def __init__(
        self,
        api_url: str = DEFAULT_API_URL,
        *,
        timeout: float = 120.0,
        block_timeout: float = 10.0,
        has_timeout: float = 2.0,
        pin_timeout: float = 60.0,
        connect_timeout: float = 5.0,
        retries: int = 2,
        backoff: float = 0.2,
        transport: httpx.BaseTransport | None = None,
        headers: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
    ) -> None:
        base, url_auth = split_userinfo(api_url.rstrip("/"))
        if base.endswith("/api/v0"):
            base = base[: -len("/api/v0")]
        self.api_url = base
        self.timeout = timeout
        self.block_timeout = block_timeout
        self.has_timeout = has_timeout
        self.pin_timeout = pin_timeout
        self.connect_timeout = connect_timeout
        self.retries = retries
        self.backoff = backoff
        host = urlsplit(base).hostname or ""
        self._client = httpx.Client(
            base_url=base + "/api/v0/",
            transport=transport,
            headers=dict(headers or {}),
            auth=auth or url_auth,
            timeout=httpx.Timeout(timeout, connect=connect_timeout),
            # A proxy from the environment must never see loopback daemon traffic.
            trust_env=host not in _LOOPBACK_HOSTS,
        )

    def __repr__(self) -> str:
        return f"KuboStore({self.api_url!r})"

    # -- BlobStore ----------------------------------------------------------------------
    def put(self, stream: BinaryIO) -> Cid:
        start = _tell(stream)
        attempt = 0
        while True:
            upload = _MultipartUpload(stream)
            try:
                response = self._client.post(
                    "add",
                    params={
                        "cid-version": "1",
                        "raw-leaves": "true",
                        "pin": "true",
                        "cid-base": "base32",
                        "chunker": f"size-{CHUNK_SIZE}",
                        "progress": "false",
                    },
                    content=upload.body(),
                    headers={"Content-Type": upload.content_type},
                )
            except httpx.ConnectError as exc:
                # Retry only if the body can be replayed from where it started.
                if attempt >= self.retries or (upload.consumed and start is None):
                    raise self._unavailable(exc) from exc
                if upload.consumed:
                    stream.seek(start)  # type: ignore[arg-type]
                attempt += 1
                time.sleep(self.backoff * 2 ** (attempt - 1))
                continue
            except httpx.TimeoutException as exc:
                raise StorageTimeoutError(
                    f"IPFS node at {self.api_url} did not finish add within {self.timeout}s"
                ) from exc
            except httpx.TransportError as exc:
                raise self._unavailable(exc) from exc
            break
        try:
            self._check(response)
        except _NodeError as exc:
            raise StorageError(f"IPFS node at {self.api_url} refused add: {exc.message}") from None
        reported = _last_hash(response.text)
        if reported is None:
            raise StorageError(f"IPFS node at {self.api_url} returned no CID for add: {response.text[:200]!r}")
        local = upload.builder.finish()
        if reported != local:
            raise CidMismatchError(
                f"IPFS node at {self.api_url} reported CID {reported} for the upload, but its bytes hash to {local}",
                expected=str(local),
                actual=str(reported),
            )
        return local

    def get(self, cid: Cid | str) -> Iterator[bytes]:
        root = Cid.coerce(cid)
        root_block = self._fetch_block(root)  # fail at the call if the root is absent

        def fetch(block_cid: Cid) -> bytes:
            return root_block if block_cid == root else self._fetch_block(block_cid)

        return iter_file(root, fetch)

    def pin(self, cid: Cid | str) -> None:
        root = Cid.coerce(cid)
        try:
            self._call(
                "pin/add",
                {
                    "arg": str(root.to_v1()),
                    "recursive": "true",
                    "timeout": _duration(self.pin_timeout),
                },
                read_timeout=self.pin_timeout + 5,
            )
        except _NodeError as exc:
            if exc.means_absent:
                raise BlobNotFoundError(
                    f"cannot pin {root}: IPFS node at {self.api_url} could not get its blocks "
                    f"within {self.pin_timeout}s ({exc.message})",
                    cid=str(root),
                ) from None
            raise StorageError(f"IPFS node at {self.api_url} refused pin/add {root}: {exc.message}") from None

    def unpin(self, cid: Cid | str) -> None:
        root = Cid.coerce(cid)
        try:
            self._call("pin/rm", {"arg": str(root.to_v1()), "recursive": "true"})
        except _NodeError as exc:
            if "not pinned" in exc.message.lower():
                return  # unpinning is idempotent
            raise StorageError(f"IPFS node at {self.api_url} refused pin/rm {root}: {exc.message}") from None

    def has(self, cid: Cid | str) -> bool:
        root = Cid.coerce(cid)
        try:
            self._call(
                "block/stat",
                # offline: Kubo answers from its own blockstore instead of asking the network
                # (js-ipfs accepts the flag but still waits, hence the timeout as well).
                {
                    "arg": str(root.to_v1()),
                    "offline": "true",
                    "timeout": _duration(self.has_timeout),
                },
                read_timeout=self.has_timeout + 5,
            )
        except _NodeError as exc:
            if exc.means_absent:
                return False
            raise StorageError(f"IPFS node at {self.api_url} refused block/stat {root}: {exc.message}") from None
        return True

    def get_block(self, cid: Cid | str) -> bytes:
        """block/get of the CID as base32 CIDv1, verified against `cid` before it is returned."""
        return self._fetch_block(Cid.coerce(cid))

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> KuboStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- extras -------------------------------------------------------------------------
    def is_pinned(self, cid: Cid | str) -> bool:
        root = Cid.coerce(cid)
        try:
            data = self._call("pin/ls", {"arg": str(root.to_v1()), "type": "recursive"}).json()
        except _NodeError as exc:
            if "not pinned" in exc.message.lower():
                return False
            raise StorageError(f"IPFS node at {self.api_url} refused pin/ls {root}: {exc.message}") from None
        keys = data.get("Keys") or {}
        return any(Cid.parse(key).to_v1() == root.to_v1() for key in keys)

    def gc(self) -> int:
        """Run the node's repo/gc; return how many blocks it reports removed."""
        try:
            response = self._call("repo/gc", {}, read_timeout=self.timeout)
        except _NodeError as exc:
            raise StorageError(f"IPFS node at {self.api_url} refused repo/gc: {exc.message}") from None
        return sum(1 for line in response.text.splitlines() if line.strip())

    def put_block(self, cid: Cid | str, data: bytes, *, pin: bool = False) -> None:
        """block/put one block whose bytes are already verified against `cid` (and with `pin`,
        pin it: a one-block blob is then stored and kept in one request); refuses
        (CidMismatchError) if the node names it differently."""
        block_cid = Cid.coerce(cid)
        verify_block(block_cid, data)
        codec = "raw" if block_cid.codec == CODEC_RAW else "dag-pb"
        boundary = "medledger-" + os.urandom(12).hex()
        body = (
            (
                f"--{boundary}\r\n"
                'Content-Disposition: form-data; name="file"; filename="block"\r\n'
                "Content-Type: application/octet-stream\r\n\r\n"
            ).encode()
            + data
            + f"\r\n--{boundary}--\r\n".encode()
        )
        try:
            response = self._client.post(
                "block/put",
                # js-ipfs reads `format` (the codec's name) and `version`; Kubo reads `cid-codec`.
                params={
                    "format": codec,
                    "cid-codec": codec,
                    "mhtype": "sha2-256",
                    "version": "1",
                    "cid-base": "base32",
                    "pin": "true" if pin else "false",
                },
                content=body,
                headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
            )
        except httpx.TimeoutException as exc:
            message = f"IPFS node at {self.api_url} did not finish block/put within {self.timeout}s"
            raise StorageTimeoutError(message) from exc
        except httpx.TransportError as exc:
            raise self._unavailable(exc) from exc
        try:
            self._check(response)
        except _NodeError as exc:
            raise StorageError(f"IPFS node at {self.api_url} refused block/put {block_cid}: {exc.message}") from None
        try:
            key = Cid.parse(str(response.json()["Key"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise StorageError(f"IPFS node at {self.api_url} answered block/put without a CID: {exc}") from None
        if key.to_v1() != block_cid.to_v1():
            raise CidMismatchError(
                f"IPFS node at {self.api_url} stored block {block_cid} as {key}",
                expected=str(block_cid),
                actual=str(key),
            )

    def pinned_roots(self) -> set[bytes]:
        """The sha-256 digests of every recursively pinned root (one pin/ls for the whole node)."""
        try:
            data = self._call("pin/ls", {"type": "recursive"}, read_timeout=self.timeout).json()
        except _NodeError as exc:
            raise StorageError(f"IPFS node at {self.api_url} refused pin/ls: {exc.message}") from None
        except ValueError:
            raise StorageError(f"IPFS node at {self.api_url} answered pin/ls with something other than JSON") from None
        return {_digest_of(key) for key in (data.get("Keys") or {})} - {b""}

    def local_blocks(self) -> set[bytes]:
        """The sha-256 digests of every block the node holds (one refs/local for the whole node)."""
        try:
            response = self._call("refs/local", {}, read_timeout=self.timeout)
        except _NodeError as exc:
            raise StorageError(f"IPFS node at {self.api_url} refused refs/local: {exc.message}") from None
        found: set[bytes] = set()
        for line in response.text.splitlines():
            if not line.strip():
                continue
            try:
                ref = json.loads(line).get("Ref", "")
            except (ValueError, AttributeError):
                continue
            found.add(_digest_of(str(ref)))
        return found - {b""}

    def id(self) -> dict[str, Any]:
        """The node's identity (also a cheap liveness check)."""
        try:
            return self._call("id", {}).json()
        except _NodeError as exc:
            raise StorageError(f"IPFS node at {self.api_url} refused id: {exc.message}") from None

    # -- transport ----------------------------------------------------------------------
    def _fetch_block(self, cid: Cid) -> bytes:
        params = {"arg": str(cid.to_v1()), "timeout": _duration(self.block_timeout)}
        try:
            with self._send_stream("block/get", params, read_timeout=self.block_timeout + 5) as response:
                if response.status_code != 200:
                    response.read()
                    self._check(response)
                data = bytearray()
                for piece in response.iter_bytes():
                    data += piece
                    if len(data) > MAX_BLOCK_SIZE:  # a lying node cannot make us buffer gigabytes
                        raise CidMismatchError(
                            f"IPFS node at {self.api_url} sent more than {MAX_BLOCK_SIZE} bytes for block {cid}",
                            expected=str(cid),
                        )
        except _NodeError as exc:
            if exc.means_absent:
                raise BlobNotFoundError(
                    f"block {cid} is not available from IPFS node at {self.api_url} "
                    f"within {self.block_timeout}s ({exc.message})",
                    cid=str(cid),
                ) from None
            raise StorageError(f"IPFS node at {self.api_url} refused block/get {cid}: {exc.message}") from None
        except httpx.TimeoutException as exc:
            raise StorageTimeoutError(
                f"IPFS node at {self.api_url} did not return block {cid} within {self.block_timeout}s"
            ) from exc
        except httpx.TransportError as exc:
            raise self._unavailable(exc) from exc
        return verify_block(cid, bytes(data))

    def _send_stream(
        self, path: str, params: dict[str, str], *, read_timeout: float
    ) -> contextlib.closing[httpx.Response]:
        """Open a streamed POST, retrying connection failures (nothing has been sent yet)."""
        timeout = httpx.Timeout(read_timeout, connect=self.connect_timeout)
        for attempt in range(self.retries + 1):
            try:
                request = self._client.build_request("POST", path, params=params, timeout=timeout)
                response = self._client.send(request, stream=True)
            except httpx.ConnectError as exc:
                if attempt >= self.retries:
                    raise self._unavailable(exc) from exc
                time.sleep(self.backoff * 2**attempt)
                continue
            return contextlib.closing(response)
        raise AssertionError("unreachable")  # pragma: no cover

    def _call(self, path: str, params: dict[str, str], *, read_timeout: float | None = None) -> httpx.Response:
        """POST and read the whole (small) answer; raises _NodeError for error answers."""
        seconds = read_timeout if read_timeout is not None else self.timeout
        try:
            with self._send_stream(path, params, read_timeout=seconds) as response:
                response.read()
        except httpx.TimeoutException as exc:
            raise StorageTimeoutError(f"IPFS node at {self.api_url} did not answer {path} within {seconds}s") from exc
        except httpx.TransportError as exc:
            raise self._unavailable(exc) from exc
        self._check(response)
        return response

    def put_many(self, blobs: Sequence[bytes], *, max_car_bytes: int = 32 * 1024 * 1024) -> list[Cid]:
        """Store and pin many blobs with `dag/import` of CAR files (one request per ~32 MiB)
        instead of one `add` each; the CIDs are computed here, exactly as `add` would name the
        blobs, and each root must come back pinned."""
        from .car import write_car

        cids: list[Cid] = []
        pending: list[Block] = []
        roots: list[Cid] = []
        size = 0
        for blob in blobs:
            blocks: list[Block] = []
            cid = compute_cid(blob, on_block=blocks.append)
            cids.append(cid)
            if pending and size + len(blob) > max_car_bytes:
                self._import_car(write_car(roots, pending), roots)
                pending, roots, size = [], [], 0
            pending += blocks
            roots.append(cid)
            size += len(blob)
        if roots:
            self._import_car(write_car(roots, pending), roots)
        return cids

    def _import_car(self, car: bytes, roots: list[Cid]) -> None:
        try:
            response = self._client.post(
                "dag/import",
                params={"pin-roots": "true"},
                files={"file": ("batch.car", car, "application/vnd.ipld.car")},
            )
        except httpx.TimeoutException as exc:
            raise StorageTimeoutError(f"IPFS node at {self.api_url} did not finish dag/import in time") from exc
        except httpx.TransportError as exc:
            raise self._unavailable(exc) from exc
        try:
            self._check(response)
        except _NodeError as exc:
            raise StorageError(f"IPFS node at {self.api_url} refused dag/import: {exc.message}") from None
        pinned = set()
        for line in response.text.splitlines():
            if not line.strip():
                continue
            root = json.loads(line).get("Root") or {}
            if root.get("PinErrorMsg"):
                raise StorageError(
                    f"IPFS node at {self.api_url} could not pin {root['Cid']['/']}: {root['PinErrorMsg']}"
                )
            pinned.add(str(Cid.parse(root["Cid"]["/"])))
        missing = [str(cid) for cid in roots if str(cid) not in pinned]
        if missing:
            raise StorageError(
                f"IPFS node at {self.api_url} did not pin {len(missing)} imported blobs, e.g. {missing[0]}"
            )

    @staticmethod
    def _check(response: httpx.Response) -> None:
        if response.status_code == 200:
            return
        try:
            message = str(response.json().get("Message", response.text))
        except (ValueError, AttributeError):
            message = response.text.strip() or response.reason_phrase
        raise _NodeError(response.status_code, f"HTTP {response.status_code}: {message}")

    def _unavailable(self, exc: Exception) -> StorageUnavailableError:
        return StorageUnavailableError(
            f"IPFS node at {self.api_url} is unreachable ({type(exc).__name__}: {exc}); "
            "start a daemon (`ipfs daemon`, or `jsipfs daemon --offline` from node_modules, or "
            "medledger.devnet.IpfsDaemon) or point the store at the right API URL",
            url=self.api_url,
        )


class _MultipartUpload:
    """One multipart/form-data file part streamed from `stream`, hashed locally on the way."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.builder = CidBuilder()
        self.consumed = False
        self.boundary = "medledger-" + os.urandom(12).hex()

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    def body(self) -> Iterator[bytes]:
        # js-ipfs rejects parts without a Content-Type header.
        yield (
            f"--{self.boundary}\r\n"
            'Content-Disposition: form-data; name="file"; filename="blob"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        while chunk := self.stream.read(CHUNK_SIZE):
            self.consumed = True
            self.builder.update(chunk)
            yield chunk
        yield f"\r\n--{self.boundary}--\r\n".encode()


def split_userinfo(url: str) -> tuple[str, tuple[str, str] | None]:
    """(the URL without user information, (user, password) if it had some)."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url, None
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = host + (f":{parts.port}" if parts.port is not None else "")
    clean = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    return clean, (unquote(parts.username or ""), unquote(parts.password or ""))


def _digest_of(text: str) -> bytes:
    """The sha-256 digest a CID string names (any version, any codec); b"" if it is not one.

    Kubo's refs/local names blocks by multihash (as raw CIDv1), js-ipfs by the CID it stored:
    comparing digests makes both agree."""
    try:
        cid = Cid.parse(text)
    except MedLedgerError:
        return b""
    return cid.digest


def _tell(stream: BinaryIO) -> int | None:
    try:
        return stream.tell() if stream.seekable() else None
    except (AttributeError, OSError, ValueError):
        return None


def _last_hash(text: str) -> Cid | None:
    """The root CID in an add answer: the last NDJSON object carrying a Hash."""
    found: Cid | None = None
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if isinstance(obj, dict):
            if obj.get("Type") == "error":
                raise StorageError(f"IPFS node failed add: {obj.get('Message')}")
            if "Hash" in obj:
                found = Cid.parse(str(obj["Hash"]))
    return found
