"""The embedded blob store: IPFS-compatible blocks in a local directory.

Layout under the store root:

    blocks/<xy>/<cid>   one file per block, named by its base32 CIDv1; <xy> are the two
                        characters before the last (Kubo flatfs "next-to-last/2" sharding)
    pins/<cid>          an empty file per pinned root
    tmp/                partial writes, moved into place with os.replace (atomic)
    .lock               flock: shared while writing/pinning, exclusive while collecting
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from .cid import CHUNK_SIZE, Block, Cid, CidBuilder
from .dag import MAX_BLOCK_SIZE, iter_dag_cids, iter_file, verify_block
from .errors import BlobNotFoundError, CidMismatchError, StorageError

if sys.platform != "win32":  # POSIX file locks; on Windows the store is safe for one process at a time
    import fcntl


class LocalBlockStore:
    """Directory-backed BlobStore computing the same CIDs as Kubo's `add --raw-leaves`."""

    def __init__(self, root: str | os.PathLike[str], *, fsync: bool = True, auto_gc: bool = True) -> None:
        """`fsync`: flush each block to disk before it becomes visible (records must survive a
        crash). `auto_gc`: `unpin` collects garbage at once, so an erased blob leaves the disk."""
        self.root = Path(root)
        self.fsync = fsync
        self.auto_gc = auto_gc
        self._blocks = self.root / "blocks"
        self._pins = self.root / "pins"
        self._tmp = self.root / "tmp"
        for directory in (self._blocks, self._pins, self._tmp):
            directory.mkdir(parents=True, exist_ok=True)
        self._lock_path = self.root / ".lock"
        self._lock_path.touch(exist_ok=True)

    # -- BlobStore ----------------------------------------------------------------------
    def put(self, stream: BinaryIO) -> Cid:
        with self._locked(exclusive=False):
            builder = CidBuilder(on_block=self._write_block)
            while chunk := stream.read(CHUNK_SIZE):
                builder.update(chunk)
            root = builder.finish()
            self._pin_path(root).touch()
        return root

    def get(self, cid: Cid | str) -> Iterator[bytes]:
        root = Cid.coerce(cid)
        if not self.block_path(root).exists():  # fail at the call, not at first next()
            raise BlobNotFoundError(f"blob {root} is not in the local block store {self.root}", cid=str(root))
        return iter_file(root, self._read_block)

    def pin(self, cid: Cid | str) -> None:
        root = Cid.coerce(cid)
        with self._locked(exclusive=False):
            for block_cid in iter_dag_cids(root, self._read_block):
                if not self.block_path(block_cid).exists():
                    raise BlobNotFoundError(
                        f"cannot pin {root}: block {block_cid} is missing from {self.root}",
                        cid=str(root),
                    )
            self._pin_path(root).touch()

    def unpin(self, cid: Cid | str) -> None:
        root = Cid.coerce(cid)
        with contextlib.suppress(FileNotFoundError):
            self._pin_path(root).unlink()
        if self.auto_gc:
            self.gc()

    def has(self, cid: Cid | str) -> bool:
        return self.block_path(Cid.coerce(cid)).exists()

    def get_block(self, cid: Cid | str) -> bytes:
        block_cid = Cid.coerce(cid)
        return verify_block(block_cid, self._read_block(block_cid))

    def close(self) -> None:
        """Nothing to release: every operation opens and closes its own files."""

    def __enter__(self) -> LocalBlockStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- pins and garbage collection ----------------------------------------------------
    def is_pinned(self, cid: Cid | str) -> bool:
        return self._pin_path(Cid.coerce(cid)).exists()

    def pinned_roots(self) -> set[bytes]:
        """The sha-256 digests of every pinned root."""
        return {cid.digest for cid in self.pins()}

    def local_blocks(self) -> set[bytes]:
        """The sha-256 digests of every block on disk."""
        found: set[bytes] = set()
        for shard in self._blocks.iterdir():
            for block in shard.iterdir():
                with contextlib.suppress(StorageError):
                    found.add(Cid.parse(block.name).digest)
        return found

    def put_block(self, cid: Cid | str, data: bytes) -> None:
        """Store one block (verified against `cid` first), unpinned until `pin` names its root."""
        block_cid = Cid.coerce(cid)
        verify_block(block_cid, data)
        with self._locked(exclusive=False):
            self._write_block(Block(block_cid, data))

    def pins(self) -> list[Cid]:
        return sorted((Cid.parse(p.name) for p in self._pins.iterdir()), key=str)

    def gc(self) -> int:
        """Delete every block not reachable from a pin; return how many were removed.

        Refuses (StorageError) if a pinned DAG cannot be walked, since the children of an
        unreadable node are unknown and might otherwise be deleted.
        """
        with self._locked(exclusive=True):
            keep: set[str] = set()
            for pin in self.pins():
                try:
                    keep.update(str(c) for c in iter_dag_cids(pin, self._read_block))
                except (BlobNotFoundError, CidMismatchError) as exc:
                    raise StorageError(f"garbage collection refused: pinned blob {pin} is damaged: {exc}") from exc
            removed = 0
            for shard in self._blocks.iterdir():
                for block in shard.iterdir():
                    if block.name not in keep:
                        block.unlink()
                        removed += 1
                with contextlib.suppress(OSError):
                    shard.rmdir()  # only succeeds once the shard is empty
            for stale in self._tmp.iterdir():  # writers hold the shared lock, so none is live
                stale.unlink()
            return removed

    # -- blocks -------------------------------------------------------------------------
    def block_path(self, cid: Cid) -> Path:
        name = str(cid.to_v1())
        return self._blocks / name[-3:-1] / name

    def _pin_path(self, cid: Cid) -> Path:
        return self._pins / str(cid.to_v1())

    def _read_block(self, cid: Cid) -> bytes:
        path = self.block_path(cid)
        try:
            with path.open("rb") as handle:
                data = handle.read(MAX_BLOCK_SIZE + 1)
        except FileNotFoundError:
            raise BlobNotFoundError(f"block {cid} is not in the local block store {self.root}", cid=str(cid)) from None
        if len(data) > MAX_BLOCK_SIZE:
            raise CidMismatchError(f"block {cid} on disk is larger than any valid block", expected=str(cid))
        return data

    def _write_block(self, block: Block) -> None:
        path = self.block_path(block.cid)
        if path.exists():
            try:  # content-addressed: an intact copy is already there; a damaged one is replaced
                verify_block(block.cid, path.read_bytes())
                return
            except CidMismatchError:
                pass
        path.parent.mkdir(exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=self._tmp, prefix="block-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(block.data)
                if self.fsync:
                    handle.flush()
                    os.fsync(handle.fileno())
            os.replace(tmp_name, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp_name)
            raise

    @contextlib.contextmanager
    def _locked(self, *, exclusive: bool) -> Iterator[None]:
        if sys.platform == "win32":  # pragma: no cover
            yield
            return
        with self._lock_path.open("rb") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
