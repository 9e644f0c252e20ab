"""Deploy MedLedger with medledger's deployer and record it where `medledger deploy` would.

    brownie run scripts/deploy.py [main ADMIN] [--network ID]

ADMIN (optional) receives DEFAULT_ADMIN_ROLE; default: the deploying account. The deployment
is resumable: when the record names a contract of the same build that is on chain, it is reused.
The deployer is BROWNIE_ACCOUNT (a development account index, or a brownie keystore id on live
networks) or MEDLEDGER_PRIVATE_KEY; the record goes to MEDLEDGER_DEPLOYMENTS if set, else where
the CLI keeps it: <home>/deployments/<network> (`devnet` when brownie is attached to
`medledger devnet up`'s anvil). See scripts/_medledger.py for every variable.

On a development network brownie launched itself (no node was listening on the network's port)
the chain is thrown away when the script ends, so the deployment is a rehearsal: it is recorded
in build/brownie/rehearsal/ and no deployment record under the home or ./deployments changes.
To keep a deployment, start `medledger devnet up` first; `make brownie-deploy` then attaches.
"""

from medledger.chain.deploy import LEDGER_CONTRACT, deploy
from scripts._medledger import chain, deployments_dir, fresh_rehearsal, is_rehearsal, one_line_errors, signer


@one_line_errors
def main(admin: str = ""):
    fresh_rehearsal()
    connection = chain()
    deployer = signer()
    directory = deployments_dir()
    result = deploy(connection, deployer, admin=admin or None, directory=directory)
    entry = result.contracts[LEDGER_CONTRACT]
    print(
        f"MedLedger at {result.ledger_address} on chain {result.chain_id} (admin {result.admin}, "
        f"block {entry.block}, gas {entry.gas_used}); recorded in {directory}/{result.chain_id}.json"
    )
    if is_rehearsal():
        print(
            "rehearsal: brownie launched this anvil and stops it when the script ends; "
            "start `medledger devnet up` first to keep a deployment"
        )
    return result
