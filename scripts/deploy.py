"""Deploy MedLedger with medledger's deployer and record it in deployments/<chainId>.json.

    brownie run scripts/deploy.py [main ADMIN] [--network ID]

ADMIN (optional) receives DEFAULT_ADMIN_ROLE; default: the deploying account. The deployment
is resumable: when the record names a contract of the same build that is on chain, it is reused.
The deployer is BROWNIE_ACCOUNT (a development account index, or a brownie keystore id on live
networks) or MEDLEDGER_PRIVATE_KEY; the record goes to MEDLEDGER_DEPLOYMENTS (default
deployments). See scripts/_medledger.py for every variable.

On brownie's development network brownie launches anvil and stops it when the script ends, so
the deployment is a rehearsal; start anvil on the network's port first (brownie then attaches)
to keep it.
"""

from medledger.chain.deploy import LEDGER_CONTRACT, deploy
from scripts._medledger import chain, deployments_dir, signer


def main(admin: str = ""):
    connection = chain()
    deployer = signer()
    result = deploy(connection, deployer, admin=admin or None, directory=deployments_dir())
    entry = result.contracts[LEDGER_CONTRACT]
    print(
        f"MedLedger at {result.ledger_address} on chain {result.chain_id} (admin {result.admin}, "
        f"block {entry.block}, gas {entry.gas_used}); recorded in {deployments_dir()}/{result.chain_id}.json"
    )
    return result
