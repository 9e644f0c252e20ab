"""The embedded chain (web3's EthereumTesterProvider on py-evm), kept fast over thousands of blocks.

eth-tester finds a transaction by hash by walking back from the head block, decoding every block
on the way (`eth_tester.backends.pyevm.main._get_transaction_by_hash`, marked TODO there). Every
receipt, and every log of a log scan, pays that walk, so one scan of 400 blocks took 87 s and grew
with the square of the chain's length. py-evm already keeps a transaction-hash index
(`ChainDB.get_transaction_index`, written when a block is imported); `speed_up` makes eth-tester
use it: the head block (whose transactions are not indexed until it is sealed) is searched first,
as before, then the index gives the block and position at once. Same answers, same errors.
"""

from __future__ import annotations

from typing import Any

_patched = False


def speed_up() -> None:
    """Look transactions up by py-evm's index instead of a walk from the head (idempotent)."""
    global _patched
    if _patched:
        return
    from eth.exceptions import TransactionNotFound as IndexMiss
    from eth_tester.backends.pyevm import main as pyevm  # type: ignore[import-untyped]
    from eth_tester.exceptions import TransactionNotFound  # type: ignore[import-untyped]
    from eth_utils import encode_hex

    def get_transaction_by_hash(chain: Any, transaction_hash: bytes) -> tuple[Any, Any, int]:
        head = chain.get_block()
        for index, transaction in enumerate(head.transactions):
            if transaction.hash == transaction_hash:
                return head, transaction, index
        try:
            number, index = chain.chaindb.get_transaction_index(transaction_hash)
        except IndexMiss:
            raise TransactionNotFound(
                f"No transaction found for transaction hash: {encode_hex(transaction_hash)}"
            ) from None
        block = chain.get_canonical_block_by_number(number)
        return block, block.transactions[index], index

    pyevm._get_transaction_by_hash = get_transaction_by_hash
    _patched = True
