"""The embedded chain finds a transaction by py-evm's hash index, not by a walk back from the
head (chain/embedded.py): the same answers, the same errors, for old and new transactions."""

from __future__ import annotations

import pytest
from web3.exceptions import TransactionNotFound

from medledger.chain.accounts import anvil_account
from medledger.chain.connection import connect, fund_signers
from medledger.chain.deploy import deploy
from medledger.ledger import MedLedger


def test_old_and_new_transactions_and_their_logs_are_found_by_hash() -> None:
    chain = connect()
    admin = anvil_account(0)
    fund_signers(chain, [admin])
    ledger = MedLedger.from_deployment(chain, deploy(chain, admin), signer=admin)
    receipts = [ledger.keys.publish(bytes([index + 1]) * 32) for index in range(12)]

    for index in (0, 5, 11):
        tx = chain.w3.eth.get_transaction(receipts[index].tx_hash)
        assert tx["blockNumber"] == receipts[index].block_number
        assert chain.w3.eth.get_transaction_receipt(receipts[index].tx_hash)["status"] == 1
    events = ledger.events("EncryptionKeySet", from_block=0)
    assert [bytes(event.args.publicKey) for event in events][-12:] == [bytes([i + 1]) * 32 for i in range(12)]
    with pytest.raises(TransactionNotFound):
        chain.w3.eth.get_transaction_receipt("0x" + "ab" * 32)
