"""The indexer decodes logs straight through eth_abi: for every event the contracts emitted in a
story touching every module, the result equals web3's decoding (process_log) made plain."""

from __future__ import annotations

from eth_utils import event_abi_to_log_topic

from medledger.chain.artifacts import load_artifact
from medledger.indexer.decode import LogDecoder, hexstr, plain_args
from medledger.ledger.services import SERVICES_CONTRACT
from tests.indexer.helpers import story
from tests.indexer.test_services import propose


def test_the_fast_decoder_agrees_with_web3_on_every_event_emitted(world, anvil) -> None:
    story(world)
    propose(world, 3, 2)
    world.ledger(world.actors.patient).emergency.set_preferences(opt_out=True, categories=0)
    ledger_contract = world.ledger().contract
    services = world.ledger().services
    emitters = {
        ledger_contract.address.lower(): (ledger_contract, load_artifact("MedLedger").abi),
        services.address.lower(): (services.contract, load_artifact(SERVICES_CONTRACT).abi),
    }
    events = {
        (address, hexstr(event_abi_to_log_topic(item))): item
        for address, (_, abi) in emitters.items()
        for item in abi
        if item["type"] == "event"
    }
    decoder = LogDecoder(events)
    logs = world.chain.w3.eth.get_logs(
        {"address": [ledger_contract.address, services.address], "fromBlock": 0, "toBlock": "latest"}
    )

    names = set()
    for log in logs:
        contract, _ = emitters[str(log["address"]).lower()]
        abi = events[(str(log["address"]).lower(), hexstr(log["topics"][0]))]
        expected = getattr(contract.events, abi["name"])().process_log(log)
        name, args = decoder.decode(str(log["address"]), log["topics"], log["data"])
        assert (name, args) == (expected["event"], plain_args(expected["args"]))
        names.add(name)
    assert {"ServiceSetProposed", "RecordAdded", "AccessLogged", "ConsentGranted", "RoleGranted"} <= names
