"""The brownie scripts and the `medledger` CLI share one config home, block store and deployment
record: what a script publishes the CLI fetches, and the reverse. A deployment on the throwaway
anvil brownie launched is a rehearsal, recorded in build/brownie/rehearsal/ only. Scripts fail
with one `error:` line and the CLI's exit codes."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from brownie import web3

from scripts import deploy, fetch, grant, provider, publish, revoke, setup_account

ADMIN, REGISTRAR, PATIENT, CLINIC = 0, 1, 2, 3
MEDLEDGER = str(Path(sys.executable).with_name("medledger"))


@pytest.fixture
def home(monkeypatch, tmp_path):
    """One home for scripts and CLI; no variable from the environment running the tests."""
    for name in list(os.environ):
        if name.startswith(("MEDLEDGER_", "BROWNIE_ACCOUNT")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("MEDLEDGER_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def act_as(monkeypatch, index):
    monkeypatch.setenv("BROWNIE_ACCOUNT", str(index))


def cli(home, *args, account):
    """`medledger` with the same home, on brownie's chain; nothing else configured."""
    argv = [MEDLEDGER, "--home", str(home), *map(str, args), "--rpc-url", web3.provider.endpoint_uri]
    argv += ["--deployments", str(home / "deployments" / "brownie"), "--dev-account", str(account)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDLEDGER_")}
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture
def deployed(home, monkeypatch, accounts):
    """Deployed by the scripts into <home>/deployments/brownie; the patient's key published."""
    monkeypatch.setenv("MEDLEDGER_DEPLOYMENTS", str(home / "deployments" / "brownie"))
    act_as(monkeypatch, ADMIN)
    deploy.main()
    act_as(monkeypatch, PATIENT)
    setup_account.main()
    return accounts[PATIENT].address


def test_what_a_script_published_the_cli_fetches(deployed, home, monkeypatch, tmp_path):
    source = tmp_path / "hba1c.json"
    source.write_text(json.dumps({"resourceType": "Observation", "valueQuantity": {"value": 6.1}}))
    published = publish.main(deployed, "labs", str(source))
    assert any((home / "blocks").rglob("*")), "the embedded store in the shared home holds the blob"

    out = tmp_path / "fetched-by-cli.json"
    result = cli(home, "record", "fetch", published.cid, "--patient", deployed, "--out", out, account=PATIENT)

    assert result.returncode == 0, result.stderr
    assert out.read_text() == source.read_text()


def test_what_the_cli_published_a_script_fetches(deployed, home, monkeypatch, tmp_path):
    source = tmp_path / "note.json"
    source.write_text(json.dumps({"resourceType": "Observation", "code": {"text": "BP"}}))
    args = ["--json", "record", "publish", source, "--patient", deployed, "--category", "notes"]
    result = cli(home, *args, account=PATIENT)
    assert result.returncode == 0, result.stderr
    cid = json.loads(result.stdout)["cid"]

    fetched = fetch.main(deployed, cid, str(tmp_path / "fetched-by-script.json"))

    assert fetched.path.read_text() == source.read_text()


def test_a_rehearsal_deployment_changes_no_deployment_record(home, monkeypatch, tmp_path):
    """brownie launched this anvil: the record goes to build/brownie/rehearsal/ under the working
    directory, and the devnet's record in the home and a project-local one stay as they were."""
    monkeypatch.chdir(tmp_path)
    devnet_record = home / "deployments" / "devnet" / "31337.json"
    local_record = tmp_path / "deployments" / "31337.json"
    for record in (devnet_record, local_record):
        record.parent.mkdir(parents=True)
        record.write_text('{"kept": true}')
    act_as(monkeypatch, ADMIN)

    result = deploy.main()

    assert (tmp_path / "build" / "brownie" / "rehearsal" / f"{result.chain_id}.json").is_file()
    assert devnet_record.read_text() == local_record.read_text() == '{"kept": true}'
    assert not (home / "deployments" / "unnamed").exists()


def test_a_missing_argument_is_one_line_and_exit_2(home, monkeypatch, capsys):
    act_as(monkeypatch, PATIENT)
    with pytest.raises(SystemExit) as failed:
        revoke.main()
    assert failed.value.code == 2
    expected = "error: missing the grantee: pass it as an argument or set MEDLEDGER_GRANTEE"
    assert capsys.readouterr().err.strip() == expected


def test_a_refusal_is_one_sentence_and_exit_3(deployed, home, monkeypatch, capsys, accounts):
    with pytest.raises(SystemExit) as refused:
        grant.main(accounts[CLINIC].address)  # not a registered provider yet
    assert refused.value.code == 3
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines == [f"error: {accounts[CLINIC].address} is not a registered provider"]


def test_a_bad_account_name_is_one_line(home, monkeypatch, capsys):
    act_as(monkeypatch, ADMIN)
    with pytest.raises(SystemExit) as failed:
        provider.main("0xnot-an-address")
    assert failed.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and len(err.splitlines()) == 1
