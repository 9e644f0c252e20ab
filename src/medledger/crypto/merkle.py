"""Merkle trees in the format of OpenZeppelin's `@openzeppelin/merkle-tree` StandardMerkleTree.

So a proof built here verifies with that npm package, with OpenZeppelin Contracts' `MerkleProof`,
and with `StreamAnchors.verifyReading` on chain, and the other way round.

Format (standard-v1):
- leaf      = keccak256(keccak256(abi.encode(types, values)))  (double hashing: a 64-byte internal
              node can never be passed off as a leaf)
- node      = keccak256(min(a, b) || max(a, b))  (sorted pairs: a proof is a plain list of siblings)
- layout    = a complete binary tree in one array of 2n-1 nodes: node i has children 2i+1 and 2i+2,
              the root is node 0, and leaf k sits at index 2n-2-k (the leaves fill the array's end
              in reverse order)
- sortLeaves (the package's default): leaves are sorted by hash before they are laid out, so the
              root does not depend on the order of the values. `sort_leaves=False` keeps the given
              order, so the root also commits to the order (the device streams use this).
- proof     = the siblings from the leaf up to (not including) the root.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eth_abi import encode

try:  # safe-pysha3's C Keccak, when installed, is about four times faster than pycryptodome's
    from sha3 import keccak_256 as _keccak_256  # type: ignore[import-not-found, import-untyped, unused-ignore]

    def keccak256(data: bytes) -> bytes:
        """Keccak-256 (Ethereum's hash)."""
        return bytes(_keccak_256(data).digest())

except ImportError:  # pragma: no cover - the fallback every install has
    from Crypto.Hash import keccak as _pycryptodome_keccak

    def keccak256(data: bytes) -> bytes:
        """Keccak-256 (Ethereum's hash)."""
        return bytes(_pycryptodome_keccak.new(digest_bits=256, data=data).digest())


__all__ = [
    "MerkleTree",
    "build_nodes",
    "keccak256",
    "leaf_hash",
    "node_hash",
    "process_proof",
    "proof_at",
    "verify_proof",
]


def leaf_hash(types: Sequence[str], values: Sequence[Any]) -> bytes:
    """The standard leaf: keccak256(bytes.concat(keccak256(abi.encode(values...))))."""
    return keccak256(keccak256(encode(list(types), list(values))))


def node_hash(a: bytes, b: bytes) -> bytes:
    """The parent of two nodes: the hash of the pair, smaller first."""
    return keccak256(a + b) if a <= b else keccak256(b + a)


def process_proof(leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """The root `proof` leads to from `leaf` (OpenZeppelin's MerkleProof.processProof)."""
    node = leaf
    for sibling in proof:
        node = node_hash(node, sibling)
    return node


def verify_proof(root: bytes, leaf: bytes, proof: Sequence[bytes]) -> bool:
    return process_proof(leaf, proof) == root


def build_nodes(leaves: Sequence[bytes]) -> list[bytes]:
    """The tree's 2n-1 nodes, root first, over leaf hashes laid out in the given order."""
    if not leaves:
        raise ValueError("a Merkle tree needs at least one leaf")
    size = 2 * len(leaves) - 1
    nodes: list[bytes] = [b""] * size
    for position, leaf in enumerate(leaves):
        nodes[size - 1 - position] = leaf
    for i in range(size - 1 - len(leaves), -1, -1):
        nodes[i] = node_hash(nodes[2 * i + 1], nodes[2 * i + 2])
    return nodes


def proof_at(nodes: Sequence[bytes], position: int) -> list[bytes]:
    """The proof of the leaf laid out at `position` (0 = first leaf) in `nodes`."""
    node = len(nodes) - 1 - position
    proof = []
    while node > 0:
        sibling = node + 1 if node % 2 == 1 else node - 1
        proof.append(nodes[sibling])
        node = (node - 1) // 2
    return proof


@dataclass(frozen=True)
class MerkleTree:
    """A StandardMerkleTree over `values`, each encoded as `types`."""

    types: tuple[str, ...]
    values: tuple[tuple[Any, ...], ...]
    nodes: tuple[bytes, ...]  # the 2n-1 nodes, root first
    tree_index: tuple[int, ...]  # the node index of each value's leaf, in value order

    @classmethod
    def of(cls, values: Sequence[Sequence[Any]], types: Sequence[str], *, sort_leaves: bool = True) -> MerkleTree:
        if not values:
            raise ValueError("a Merkle tree needs at least one leaf")
        hashed = [(leaf_hash(types, value), index) for index, value in enumerate(values)]
        if sort_leaves:
            hashed.sort(key=lambda item: item[0])
        nodes = build_nodes([leaf for leaf, _ in hashed])
        tree_index = [0] * len(values)
        for position, (_, value_index) in enumerate(hashed):
            tree_index[value_index] = len(nodes) - 1 - position
        return cls(tuple(types), tuple(tuple(v) for v in values), tuple(nodes), tuple(tree_index))

    @property
    def root(self) -> bytes:
        return self.nodes[0]

    def __len__(self) -> int:
        return len(self.values)

    def leaf(self, index: int) -> bytes:
        """The leaf hash of value `index`."""
        return self.nodes[self.tree_index[index]]

    def proof(self, index: int) -> list[bytes]:
        """The inclusion proof of value `index` (in the order the values were given)."""
        return proof_at(self.nodes, len(self.nodes) - 1 - self.tree_index[index])

    def verify(self, index: int, proof: Sequence[bytes]) -> bool:
        return verify_proof(self.root, leaf_hash(self.types, self.values[index]), proof)
