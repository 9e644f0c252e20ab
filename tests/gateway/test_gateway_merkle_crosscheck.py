"""The stream Merkle trees are OpenZeppelin's StandardMerkleTree: same roots, same proofs, as the
npm package `@openzeppelin/merkle-tree` computes them (tests/gateway/standard_tree.cjs)."""

from __future__ import annotations

import json
import random
import subprocess
from pathlib import Path

import pytest
from eth_utils import keccak, to_checksum_address

from medledger.crypto.merkle import MerkleTree, leaf_hash, verify_proof
from medledger.flows.windows import LEAF_TYPES, reading_leaf

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("standard_tree.cjs")


def reference(values: list[tuple], encoding: tuple[str, ...], *, sort_leaves: bool) -> dict:
    """What the npm package builds for `values` (JSON: addresses and hashes hex, numbers decimal strings)."""
    rendered = [
        [("0x" + v.hex()) if isinstance(v, bytes) else (str(v) if isinstance(v, int) else v) for v in value]
        for value in values
    ]
    completed = subprocess.run(
        ["node", str(SCRIPT)],
        input=json.dumps({"encoding": list(encoding), "values": rendered, "sortLeaves": sort_leaves}),
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
        timeout=60,
    )
    return json.loads(completed.stdout)


def readings(count: int, seed: int) -> list[tuple]:
    rng = random.Random(seed)
    devices = [to_checksum_address(keccak(text=f"device {seed} {i}")[:20]) for i in range(5)]
    return [
        (rng.choice(devices), sequence, 1_800_000_000 + sequence // 3, keccak(text=f"reading {seed} {sequence}"))
        for sequence in range(count)
    ]


@pytest.mark.parametrize("count", [1, 2, 3, 7, 64, 601])
@pytest.mark.parametrize("sort_leaves", [False, True])
def test_root_and_every_proof_match_the_npm_package(count, sort_leaves):
    values = readings(count, seed=count)
    tree = MerkleTree.of(values, LEAF_TYPES, sort_leaves=sort_leaves)
    expected = reference(values, LEAF_TYPES, sort_leaves=sort_leaves)
    assert expected["verified"]
    assert "0x" + tree.root.hex() == expected["root"]
    assert [["0x" + node.hex() for node in tree.proof(i)] for i in range(count)] == expected["proofs"]


def test_a_proof_from_the_npm_package_verifies_here():
    values = readings(33, seed=5)
    expected = reference(values, LEAF_TYPES, sort_leaves=False)
    root = bytes.fromhex(expected["root"][2:])
    for value, proof in zip(values, expected["proofs"], strict=True):
        assert verify_proof(root, leaf_hash(LEAF_TYPES, value), [bytes.fromhex(p[2:]) for p in proof])


def test_an_unsorted_tree_keeps_the_given_layout_but_sibling_order_is_not_committed():
    """Pairs are hashed sorted, so two sibling leaves may swap under the same root: the order of a
    window's readings is canonical and checked by the verifier, not left to the root."""
    values = readings(9, seed=9)
    unsorted = MerkleTree.of(values, LEAF_TYPES, sort_leaves=False)
    distant = [values[2], values[1], values[0], *values[3:]]
    siblings = [values[1], values[0], *values[2:]]
    assert MerkleTree.of(distant, LEAF_TYPES, sort_leaves=False).root != unsorted.root
    assert MerkleTree.of(siblings, LEAF_TYPES, sort_leaves=False).root == unsorted.root
    assert MerkleTree.of(distant, LEAF_TYPES).root == MerkleTree.of(values, LEAF_TYPES).root


def test_a_changed_reading_fails_its_proof():
    values = readings(10, seed=1)
    tree = MerkleTree.of(values, LEAF_TYPES, sort_leaves=False)
    device, sequence, timestamp, _ = values[4]
    forged = (device, sequence, timestamp, keccak(text="forged"))
    assert not verify_proof(tree.root, leaf_hash(LEAF_TYPES, forged), tree.proof(4))


def test_the_gateways_fast_leaf_is_the_standard_leaf():
    for value in readings(20, seed=3):
        assert reading_leaf(*value) == leaf_hash(LEAF_TYPES, value)


def test_an_empty_tree_is_refused():
    with pytest.raises(ValueError, match="at least one leaf"):
        MerkleTree.of([], LEAF_TYPES)
