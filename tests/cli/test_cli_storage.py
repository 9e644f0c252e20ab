"""`medledger storage stores|audit|repair` and replicated publish/erase from the CLI, over three
real js-ipfs daemons named in the config file's [storage] table: JSON, exit codes for cron
(0 healthy, 5 degraded, 4 a store did not answer), resume, bad configuration as one line, and
credentials never shown."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from medledger.chain.connection import connect
from medledger.chain.deploy import load_deployment
from medledger.devnet.ipfs import IpfsDaemons
from medledger.devnet.ports import free_loopback_port
from medledger.flows.durability import run_storage_audit
from medledger.indexer import Indexer
from medledger.storage import Cid, KuboStore, parse_storage_config
from medledger.storage.replicated import open_replicated

from .conftest import PATIENT, Cli, address, assert_clear_failure

pytestmark = [pytest.mark.anvil, pytest.mark.ipfs]

SECRET_TOKEN = "s3cret-bearer-token-do-not-print"
SECRET_PASSWORD = "s3cret-password-do-not-print"


@pytest.fixture(scope="module")
def daemons(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IpfsDaemons]:
    with IpfsDaemons(3, tmp_path_factory.mktemp("replicas")) as started:
        yield started


def storage_toml(urls: list[str], replication: int | None = 2, extra: str = "") -> str:
    text = "[storage]\n"
    if replication is not None:
        text += f"replication = {replication}\n"
    for index, url in enumerate(urls):
        text += f'[[storage.stores]]\nname = "node-{index}"\nurl = "{url}"\ntimeout = 1.0\n'
    return text + extra


@pytest.fixture
def replicated(world: Cli, daemons: IpfsDaemons) -> Cli:
    """The CLI world with no --ipfs-api: its store is the config file's three daemons, r = 2."""
    world.ipfs_api = None
    world.home.mkdir(parents=True, exist_ok=True)
    (world.home / "config.toml").write_text(storage_toml([d.api_url for d in daemons]))
    return world


def publish(cli: Cli, source: Path) -> dict:
    return cli.json(  # type: ignore[return-value]
        "record", "publish", source, "--patient", address(PATIENT), "--category", "labs", account=PATIENT
    )


def audit(cli: Cli, *args: str, command: str = "audit") -> tuple[int, dict]:
    result = cli.invoke("storage", command, *args, as_json=True)
    assert "Traceback" not in result.output, result.output
    return result.exit_code, json.loads(result.stdout)


def node(url: str) -> KuboStore:
    return KuboStore(url, block_timeout=1.0, has_timeout=0.5)


def test_publish_reports_the_stores_holding_a_copy(replicated: Cli, lab_result: Path) -> None:
    assert publish(replicated, lab_result)["stores"] == ["node-0", "node-1"]


def test_audit_of_healthy_records_exits_0_and_keeps_the_audit_in_the_index(replicated: Cli, lab_result: Path) -> None:
    published = publish(replicated, lab_result)

    code, report = audit(replicated)

    assert code == 0 and report["exit_code"] == 0
    assert report["statuses"] == {"healthy": 1} and report["problems"] == []
    assert report["replication"] == 2 and report["stores"] == ["node-0", "node-1", "node-2"]
    assert published["cid"]


def test_audit_without_json_prints_the_degraded_records_and_a_summary(
    replicated: Cli, daemons: IpfsDaemons, lab_result: Path
) -> None:
    cid = Cid.parse(publish(replicated, lab_result)["cid"])
    with node(daemons[0].api_url) as lost:
        lost.unpin(cid)
        lost.gc()

    result = replicated.invoke("storage", "audit")

    assert result.exit_code == 5
    assert str(cid) in result.stdout and "under-replicated" in result.stdout
    assert "storage audit: 1 records over 3 stores: 1 under-replicated" in result.stdout


def test_a_copy_garbage_collected_makes_audit_exit_5_and_repair_restores_it(
    replicated: Cli, daemons: IpfsDaemons, lab_result: Path
) -> None:
    cid = Cid.parse(publish(replicated, lab_result)["cid"])
    with node(daemons[1].api_url) as lost:
        lost.unpin(cid)
        lost.gc()

    code, report = audit(replicated)
    assert code == 5
    [problem] = report["problems"]
    assert problem["status"] == "under-replicated" and problem["copies"] == 1
    assert [s["state"] for s in problem["stores"]] == ["complete", "missing", "missing"]

    code, repaired = audit(replicated, command="repair")
    assert code == 0 and repaired["repaired"] == 1

    code, after = audit(replicated)
    assert code == 0 and after["statuses"] == {"healthy": 1}


def test_an_erased_record_still_served_by_a_store_makes_audit_exit_5(
    replicated: Cli, daemons: IpfsDaemons, lab_result: Path
) -> None:
    cid = Cid.parse(publish(replicated, lab_result)["cid"])
    with node(daemons[0].api_url) as store:
        block = store.get_block(cid)
    erased = replicated.json("record", "erase", str(cid), "--yes", account=PATIENT)
    assert [s["state"] for s in erased["stores"]] == ["gone", "gone", "gone"]
    assert audit(replicated)[0] == 0  # erased and gone everywhere

    with node(daemons[2].api_url) as store:  # a node that somehow got the blob back
        store.put_block(cid, block)

    code, report = audit(replicated)
    assert code == 5
    [problem] = report["problems"]
    assert problem["status"] == "erased-but-served"
    assert [s["state"] for s in problem["stores"]] == ["gone", "gone", "served"]


def test_a_store_that_is_down_makes_audit_exit_4_naming_it(
    replicated: Cli, daemons: IpfsDaemons, lab_result: Path
) -> None:
    publish(replicated, lab_result)
    down = f"http://127.0.0.1:{free_loopback_port()}"
    (replicated.home / "config.toml").write_text(storage_toml([daemons[0].api_url, down], replication=2))

    code, report = audit(replicated)

    assert code == 4
    assert list(report["unreachable"]) == ["node-1"] and down in report["unreachable"]["node-1"]


def test_an_interrupted_audit_continues_from_its_checkpoint(
    replicated: Cli, daemons: IpfsDaemons, lab_result: Path, tmp_path: Path
) -> None:
    for seed in range(3):
        source = tmp_path / f"record-{seed}.json"
        source.write_text(lab_result.read_text() + " " * seed)
        publish(replicated, source)
    chain = connect(replicated.anvil.rpc_url)
    deployment = load_deployment(replicated.deployments, chain)
    database = replicated.home / "index" / f"{deployment.chain_id}-{deployment.ledger_address}.sqlite"
    database.parent.mkdir(parents=True, exist_ok=True)
    config = parse_storage_config(
        {"replication": 2, "stores": [{"name": f"node-{i}", "url": d.api_url} for i, d in enumerate(daemons)]},
        home=replicated.home,
    )

    class Interrupted(Exception):
        pass

    def stop_after_first(_record: object) -> None:
        raise Interrupted

    with Indexer.from_deployment(chain, deployment, str(database)) as indexer, open_replicated(config) as store:
        indexer.sync()
        with pytest.raises(Interrupted):
            run_storage_audit(indexer, store, on_record=stop_after_first)

    code, report = audit(replicated)

    assert code == 0
    assert report["resumed"] is True and report["audited"] == 2 and report["total"] == 3


def test_restart_audits_every_record_again(replicated: Cli, lab_result: Path) -> None:
    publish(replicated, lab_result)
    audit(replicated)

    code, report = audit(replicated, "--restart")

    assert code == 0 and report["resumed"] is False and report["audited"] == 1


def test_replication_flag_above_the_number_of_stores_is_one_line_exit_2(replicated: Cli) -> None:
    result = replicated.invoke("storage", "audit", "--replication", "4")

    line = assert_clear_failure(result, 2)
    assert "--replication 4 needs at least 4 stores; 3 configured" in line


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        ('[storage]\nreplication = 5\n[[storage.stores]]\nurl = "http://127.0.0.1:1"\n', "storage.replication is 5"),
        ("[storage]\nreplication = 1\n", "needs at least one [[storage.stores]]"),
        ('[storage]\ncolour = "red"\n[[storage.stores]]\nurl = "http://127.0.0.1:1"\n', "unknown keys ['colour']"),
        ('[storage]\n[[storage.stores]]\nurl = "ftp://x"\n', "url must be an http:// or https://"),
        (
            '[storage]\n[[storage.stores]]\nurl = "http://127.0.0.1:1"\nbearer_token_env = "MEDLEDGER_NO_SUCH_TOKEN"\n',
            "environment variable MEDLEDGER_NO_SUCH_TOKEN (bearer_token) is not set",
        ),
    ],
)
def test_a_bad_storage_configuration_is_one_line_exit_2(replicated: Cli, toml: str, expected: str) -> None:
    (replicated.home / "config.toml").write_text(toml)

    result = replicated.invoke("storage", "audit")

    line = assert_clear_failure(result, 2)
    assert line.startswith("error: config file: ") and expected in line


def test_credentials_are_never_shown_by_stores_audit_or_errors(replicated: Cli, daemons: IpfsDaemons) -> None:
    down = free_loopback_port()
    extra = (
        f'[[storage.stores]]\nname = "token"\nurl = "{daemons[2].api_url}"\nbearer_token = "{SECRET_TOKEN}"\n'
        f'[[storage.stores]]\nname = "basic"\nurl = "http://medledger:{SECRET_PASSWORD}@127.0.0.1:{down}"\n'
    )
    (replicated.home / "config.toml").write_text(storage_toml([daemons[0].api_url], replication=2, extra=extra))

    stores = replicated.invoke("storage", "stores", as_json=True)
    audited = replicated.invoke("storage", "audit", as_json=True)
    human = replicated.invoke("storage", "stores")

    for result in (stores, audited, human):
        assert SECRET_TOKEN not in result.output and SECRET_PASSWORD not in result.output
    listed = json.loads(stores.stdout)
    assert stores.exit_code == 4  # the basic-auth store is down
    assert [s["credentials"] for s in listed["stores"]] == [[], ["bearer token"], ["basic auth as medledger"]]
    assert listed["stores"][2]["location"] == f"http://127.0.0.1:{down}"
