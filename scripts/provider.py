"""Credential providers: appoint registrars (admin) and register, suspend, reinstate providers (registrar).

    brownie run scripts/provider.py main PROVIDER [KIND]      # register; KIND default clinician
    brownie run scripts/provider.py add_registrar ACCOUNT     # as the admin
    brownie run scripts/provider.py suspend PROVIDER
    brownie run scripts/provider.py reinstate PROVIDER

KIND: clinician, organization, researcher, insurer, auditor. Acts as BROWNIE_ACCOUNT (or
MEDLEDGER_PRIVATE_KEY) on the deployment the CLI would use (see scripts/_medledger.py).
"""

from scripts._medledger import one_line_errors, session


@one_line_errors
def main(provider: str, kind: str = "clinician"):
    receipt = session().ledger.providers.register(provider, kind)
    print(f"registered {provider} as {kind} (tx {receipt.tx_hash})")
    return receipt


@one_line_errors
def add_registrar(account: str):
    receipt = session().ledger.providers.add_registrar(account)
    print(f"{account} is a registrar (tx {receipt.tx_hash})")
    return receipt


@one_line_errors
def suspend(provider: str):
    receipt = session().ledger.providers.suspend(provider)
    print(f"suspended {provider}: all its access ends (tx {receipt.tx_hash})")
    return receipt


@one_line_errors
def reinstate(provider: str):
    receipt = session().ledger.providers.reinstate(provider)
    print(f"reinstated {provider} (tx {receipt.tx_hash})")
    return receipt
