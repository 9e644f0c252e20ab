from __future__ import annotations

import hashlib
from datetime import timedelta

from medledger.chain.deploy import LEDGER_CONTRACT
from medledger.ledger.records import CODEC_RAW
from medledger.scopes import Category, Permission, Purpose, category_mask, purpose_mask


def chain_logs(world) -> list[tuple[int, int]]:
    """(block, log index) of every log of the ledger and its key-release services module on the chain now."""
    entry = world.deployment.contracts[LEDGER_CONTRACT]
    addresses = [entry.address, world.ledger().services.address]
    logs = world.chain.w3.eth.get_logs({"address": addresses, "fromBlock": entry.block, "toBlock": "latest"})
    return sorted((int(log["blockNumber"]), int(log["logIndex"])) for log in logs)


def indexed_logs(indexer) -> list[tuple[int, int]]:
    return [(block, index) for block, index, _name, _args in indexer.iter_events()]


def digest(label: str) -> bytes:
    return hashlib.sha256(label.encode()).digest()


def grant(world, grantee, *, purposes="treatment", categories="labs", permissions=Permission.READ):
    world.ledger(world.actors.patient).consent.grant(
        grantee.address,
        categories=category_mask(categories),
        purposes=purpose_mask(purposes),
        permissions=permissions,
        expiry=timedelta(days=30),
    )


def add_record(world, label: str, category: Category = Category.LABS) -> bytes:
    d = digest(label)
    world.ledger(world.actors.patient).records.add(world.actors.patient.address, d, CODEC_RAW, int(category))
    return d


def story(world) -> bytes:
    """A patient's small story: grant, record, read, revoke. Returns the record digest."""
    a = world.actors
    grant(world, a.provider)
    record = add_record(world, "hba1c")
    world.ledger(a.provider).records.log_access(a.patient.address, record, Purpose.TREAT)
    world.ledger(a.patient).consent.revoke(a.provider.address)
    return record
