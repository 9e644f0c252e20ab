"""The brownie scripts in scripts/ tell the whole story on brownie's development network.

Each script's function is called in-process, as `brownie run scripts/X.py FUNCTION ARGS`
would call it, acting as the account BROWNIE_ACCOUNT names.
"""

import json

import pytest

from scripts import deploy, fetch, grant, provider, publish, revoke, setup_account

ADMIN, REGISTRAR, PATIENT, CLINIC, LAB = 0, 1, 2, 3, 4  # duties sit on separate accounts


@pytest.fixture
def act_as(monkeypatch, tmp_path):
    monkeypatch.delenv("MEDLEDGER_PRIVATE_KEY", raising=False)
    monkeypatch.delenv("MEDLEDGER_IPFS_API", raising=False)
    monkeypatch.setenv("MEDLEDGER_DEPLOYMENTS", str(tmp_path / "deployments"))
    monkeypatch.setenv("MEDLEDGER_HOME", str(tmp_path / "home"))

    def switch(index):
        monkeypatch.setenv("BROWNIE_ACCOUNT", str(index))

    return switch


def test_scripts_deploy_grant_publish_fetch_and_revoke(act_as, accounts, tmp_path):
    patient, clinic, lab = (accounts[i].address for i in (PATIENT, CLINIC, LAB))
    act_as(ADMIN)
    deployment = deploy.main()
    assert (tmp_path / "deployments" / f"{deployment.chain_id}.json").exists()
    provider.add_registrar(accounts[REGISTRAR].address)
    act_as(REGISTRAR)
    provider.main(lab, "organization")
    provider.main(clinic)
    for index in (PATIENT, LAB, CLINIC):
        act_as(index)
        setup_account.main()

    act_as(PATIENT)
    grant.main(lab, "labs", "treatment", "write", "365")
    grant.main(clinic)  # read labs for treatment, 30 days
    act_as(LAB)
    source = tmp_path / "hba1c.json"
    source.write_text(json.dumps({"resourceType": "Observation", "valueQuantity": {"value": 6.1, "unit": "%"}}))
    published = publish.main(patient, "labs", str(source))

    # The patient opens its own copy of the key; other readers go through the key-release
    # services (tests/keyservice runs them), so this story stops at the chain's refusal.
    act_as(PATIENT)
    fetched = fetch.main(patient, published.cid, str(tmp_path / "patient.json"))
    assert fetched.path.read_text() == source.read_text()

    revoke.main(clinic)
    act_as(CLINIC)
    with pytest.raises(SystemExit) as refused:
        fetch.main(patient, "0x" + published.digest.hex(), str(tmp_path / "again.json"))
    assert refused.value.code == 3  # refused, as the CLI says it
