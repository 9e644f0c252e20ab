"""Reads from a trustless HTTP gateway: one block at a time, each verified against its CID.

A trustless gateway (the IPFS "Trustless Gateway" specification) answers
`GET /ipfs/{cid}?format=raw` with header `Accept: application/vnd.ipld.raw` by the block's raw
bytes. Nothing it sends is trusted: each block is hashed and compared with the CID that named
it before it is used, so a gateway can make a read slower, never wrong. A gateway that does not
implement raw block responses (js-ipfs 0.66's gateway answers with the file's content instead)
is caught by the same check for any block whose bytes are not the file's content.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from urllib.parse import urlsplit

import httpx

from .cid import Cid
from .dag import MAX_BLOCK_SIZE, iter_file, verify_block
from .errors import BlobNotFoundError, CidMismatchError, StorageError, StorageTimeoutError, StorageUnavailableError
from .kubo import split_userinfo

RAW_BLOCK = "application/vnd.ipld.raw"
_LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}


class TrustlessGateway:
    """Read-only block source over a trustless HTTP gateway (`https://gateway.example`)."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 10.0,
        connect_timeout: float = 5.0,
        headers: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        base, url_auth = split_userinfo(url.rstrip("/"))
        if base.endswith("/ipfs"):
            base = base[: -len("/ipfs")]
        self.url = base
        self.timeout = timeout
        host = urlsplit(base).hostname or ""
        self._client = httpx.Client(
            base_url=base,
            transport=transport,
            headers={**dict(headers or {}), "Accept": RAW_BLOCK},
            auth=auth or url_auth,
            timeout=httpx.Timeout(timeout, connect=connect_timeout),
            trust_env=host not in _LOOPBACK_HOSTS,
            follow_redirects=False,
        )

    def __repr__(self) -> str:
        return f"TrustlessGateway({self.url!r})"

    def get_block(self, cid: Cid | str) -> bytes:
        """The block's bytes, verified against `cid` (CidMismatchError otherwise)."""
        block_cid = Cid.coerce(cid)
        path = f"/ipfs/{block_cid.to_v1()}"
        try:
            with self._client.stream("GET", path, params={"format": "raw"}) as response:
                if response.status_code in (404, 410):
                    raise BlobNotFoundError(
                        f"gateway {self.url} does not have block {block_cid} (HTTP {response.status_code})",
                        cid=str(block_cid),
                    )
                if response.status_code != 200:
                    raise StorageError(
                        f"gateway {self.url} refused block {block_cid}: HTTP {response.status_code} "
                        f"{response.reason_phrase}"
                    )
                data = bytearray()
                for piece in response.iter_bytes():
                    data += piece
                    if len(data) > MAX_BLOCK_SIZE:
                        raise CidMismatchError(
                            f"gateway {self.url} sent more than {MAX_BLOCK_SIZE} bytes for block {block_cid}",
                            expected=str(block_cid),
                        )
        except httpx.TimeoutException as exc:
            message = f"gateway {self.url} did not return block {block_cid} within {self.timeout}s"
            raise StorageTimeoutError(message) from exc
        except httpx.TransportError as exc:
            raise StorageUnavailableError(
                f"gateway {self.url} is unreachable ({type(exc).__name__}: {exc})", url=self.url
            ) from exc
        try:
            return verify_block(block_cid, bytes(data))
        except CidMismatchError as exc:
            raise CidMismatchError(
                f"gateway {self.url} sent bytes for block {block_cid} that do not match it "
                f"(content type {response.headers.get('content-type', 'none')}): {exc}",
                expected=exc.expected,
                actual=exc.actual,
            ) from None

    def get(self, cid: Cid | str) -> Iterator[bytes]:
        """The blob under `cid`, walked block by block, each verified."""
        root = Cid.coerce(cid)
        first = self.get_block(root)
        return iter_file(root, lambda block_cid: first if block_cid == root else self.get_block(block_cid))

    def close(self) -> None:
        self._client.close()
