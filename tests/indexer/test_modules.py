"""Modules beside the ledger (claims, studies, any `deploy_module` contract) are indexed with it;
one deployed after the index was made is backfilled from its deployment block on the next sync."""

from __future__ import annotations

from medledger.chain.deploy import deploy_module, save_deployment
from medledger.indexer import Indexer, open_store
from medledger.ledger.tokens import TokenClient
from tests.indexer.helpers import story

TOKEN = "SettlementToken"


def _token_logs(world, address: str, since: int) -> list[tuple[int, int]]:
    logs = world.chain.w3.eth.get_logs({"address": address, "fromBlock": since, "toBlock": "latest"})
    return sorted((int(log["blockNumber"]), int(log["logIndex"])) for log in logs)


def _module_events(indexer: Indexer) -> list[tuple[int, int]]:
    return [(block, index) for block, index, name, _args in indexer.iter_events() if name == "Transfer"]


def _mint(world, address: str, times: int) -> None:
    token = TokenClient(world.chain, address, signer=world.actors.admin)
    for n in range(times):
        token.mint(world.actors.provider.address, 10 + n)


def test_a_module_deployed_after_the_index_is_backfilled_then_followed(world, database, tmp_path):
    story(world)
    with Indexer.from_deployment(world.chain, world.deployment, open_store(database)) as indexer:
        indexer.sync()
    save_deployment(tmp_path, world.deployment)
    deployment = deploy_module(world.chain, world.actors.admin, tmp_path, TOKEN, ["Test Dollar", "TUSD", 6])
    module = deployment.module(TOKEN)
    _mint(world, module.address, 2)
    with Indexer.from_deployment(world.chain, world.deployment, open_store(database)) as old:
        old.sync()  # an indexer that does not know the module moves its cursor past the mints
    with Indexer.from_deployment(world.chain, deployment, open_store(database)) as indexer:
        report = indexer.sync()
        assert _module_events(indexer) == _token_logs(world, module.address, module.block)
        assert report.events == 2
        _mint(world, module.address, 1)
        indexer.sync()
        assert _module_events(indexer) == _token_logs(world, module.address, module.block)
        assert len(_module_events(indexer)) == 3
    with Indexer.from_deployment(world.chain, deployment, open_store(database)) as reopened:
        assert reopened.sync().events == 0  # backfilled once, not again


def test_a_module_known_from_the_start_is_indexed_with_the_ledger(world, database, tmp_path):
    save_deployment(tmp_path, world.deployment)
    deployment = deploy_module(world.chain, world.actors.admin, tmp_path, TOKEN, ["Test Dollar", "TUSD", 6])
    module = deployment.module(TOKEN)
    _mint(world, module.address, 2)
    with Indexer.from_deployment(world.chain, deployment, open_store(database)) as indexer:
        indexer.sync()
        assert _module_events(indexer) == _token_logs(world, module.address, module.block)
