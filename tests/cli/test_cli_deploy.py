"""`medledger deploy` records its deployment and, run again, reuses it without sending anything."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from medledger.devnet.anvil import AnvilNode

from .conftest import ADMIN, REGISTRAR, SUBPROCESS_TIMEOUT, Cli, address, clean_environ, medledger_executable, new_cli


def test_deploy_writes_the_deployment_file_for_the_chain(cli: Cli) -> None:
    deployed = cli.json("deploy", "--registrar", address(REGISTRAR), account=ADMIN)
    assert deployed["reused"] is False
    assert deployed["chainId"] == 31337
    record = json.loads((cli.deployments / "31337.json").read_text())
    assert record["contracts"]["MedLedger"]["address"] == deployed["address"]


def test_deploy_twice_reuses_the_recorded_deployment_and_sends_nothing(cli: Cli) -> None:
    first = cli.json("deploy", "--registrar", address(REGISTRAR), account=ADMIN)
    nonces = cli.nonces()
    again = cli.ok("deploy", "--registrar", address(REGISTRAR), account=ADMIN)
    assert again.stdout.startswith("reusing MedLedger at " + first["address"])
    second = cli.json("deploy", "--registrar", address(REGISTRAR), account=ADMIN)
    assert second["reused"] is True
    assert (second["address"], second["txHash"]) == (first["address"], first["txHash"])
    assert cli.nonces() == nonces


def test_deploy_after_the_chain_was_reset_deploys_afresh_instead_of_claiming_reuse(cli: Cli) -> None:
    before_deploy = cli.anvil.snapshot()
    first = cli.json("deploy", account=ADMIN)
    cli.anvil.revert(before_deploy)  # the chain forgets the contract; the deployments file remembers it
    cli.anvil.rpc("evm_mine")  # a different block, so a fresh deployment has another transaction
    second = cli.json("deploy", account=ADMIN)
    assert second["reused"] is False
    assert second["txHash"] != first["txHash"]
    record = json.loads((cli.deployments / "31337.json").read_text())
    assert record["contracts"]["MedLedger"]["tx_hash"] == second["txHash"]


def test_a_redeployment_after_a_reset_is_not_called_reuse_even_when_its_transaction_is_the_same(cli: Cli) -> None:
    """Reverted to just before the deployment, the chain is where it was: the same signed
    transaction (same nonce, fees, block) is sent again and gets the same hash. It is a new
    deployment all the same, since the recorded contract was gone."""
    before_deploy = cli.anvil.snapshot()
    first = cli.json("deploy", account=ADMIN)
    cli.anvil.revert(before_deploy)
    second = cli.json("deploy", account=ADMIN)
    assert second["reused"] is False
    assert second["address"] == first["address"]


@pytest.fixture
def unmined_cli(tmp_path: Path) -> Iterator[Cli]:
    """A `medledger` on its own anvil that mines only when told to (`evm_mine`)."""
    node = AnvilNode(automine=False).start()
    try:
        yield new_cli(tmp_path, node, None)
    finally:
        node.stop()


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _interrupt_deploy_while_it_waits(cli: Cli) -> dict:
    """Start `medledger deploy`, press Ctrl-C once its transaction is sent; return the pending record."""
    pending = cli.deployments / "31337.pending.json"
    process = subprocess.Popen(
        [medledger_executable(), *cli.argv(["deploy"], account=ADMIN, connect=True, as_json=False)],
        cwd=cli.workdir,
        env=clean_environ(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        # As from a shell: Ctrl-C's default disposition, whatever the test worker's own (an ignored
        # SIGINT would be inherited, and the Ctrl-C below would never reach the command).
        preexec_fn=_default_sigint,
    )
    try:
        deadline = time.monotonic() + SUBPROCESS_TIMEOUT
        while not (pending.exists() and cli.anvil.rpc("txpool_status")["pending"] != "0x0"):
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "deploy never sent its transaction"
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=SUBPROCESS_TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode != 0
    return json.loads(pending.read_text())


def test_deploy_interrupted_while_waiting_then_rerun_deploys_exactly_one_contract(unmined_cli: Cli) -> None:
    cli = unmined_cli
    pending = _interrupt_deploy_while_it_waits(cli)
    cli.anvil.rpc("evm_mine")

    deployed = cli.json("deploy", account=ADMIN)

    assert deployed["txHash"] == pending["txHash"]
    assert deployed["resumed"] is True and deployed["reused"] is False
    assert cli.nonce(ADMIN) == 1  # one transaction from the deployer: one contract
    assert sorted(p.name for p in cli.deployments.iterdir()) == ["31337.json"]


def test_deploy_rerun_after_the_node_dropped_the_transaction_says_so_and_sends_again(unmined_cli: Cli) -> None:
    cli = unmined_cli
    pending = _interrupt_deploy_while_it_waits(cli)
    cli.anvil.rpc("anvil_dropTransaction", [pending["txHash"]])
    cli.anvil.set_automine(True)

    result = cli.ok("deploy", account=ADMIN)

    assert (
        f"warning: deployment transaction {pending['txHash']} was dropped by the node; sending a new one"
        in result.stderr
    )
    assert cli.nonce(ADMIN) == 1
