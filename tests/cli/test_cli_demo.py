"""`medledger demo`, run as the installed console script."""

from __future__ import annotations

import json
from pathlib import Path

from medledger.devnet.anvil import AnvilNode
from medledger.devnet.ipfs import IpfsDaemon

from .conftest import Cli, new_cli


def _final_step(result) -> dict:
    steps = json.loads(result.stdout)
    assert isinstance(steps, list) and steps
    assert all({"title", "details"} <= set(step) for step in steps)
    return steps[-1]["details"]


def test_embedded_demo_exits_0_and_the_revoked_clinic_can_neither_access_nor_decrypt(tmp_path: Path) -> None:
    cli = Cli(
        home=tmp_path / "home",
        deployments=tmp_path / "deployments",
        anvil=None,
        ipfs_api=None,  # type: ignore[arg-type]
        workdir=tmp_path,
    )
    result = cli.run("demo", "--workdir", tmp_path / "demo", connect=False, as_json=True)
    assert result.returncode == 0, result.stderr
    final = _final_step(result)
    assert final["clinic_has_access"] is False
    assert final["clinic_can_decrypt"] is False


def test_demo_runs_against_anvil_and_an_ipfs_daemon(
    tmp_path: Path, chain_snapshot: AnvilNode, ipfs_daemon: IpfsDaemon
) -> None:
    cli = new_cli(tmp_path, chain_snapshot, ipfs_daemon.api_url)
    result = cli.run(
        "demo",
        "--rpc-url",
        chain_snapshot.rpc_url,
        "--ipfs-api",
        ipfs_daemon.api_url,
        "--workdir",
        tmp_path / "demo",
        connect=False,
        as_json=True,
    )
    assert result.returncode == 0, result.stderr
    steps = json.loads(result.stdout)
    assert steps[0]["details"]["chain"] == chain_snapshot.rpc_url
    final = steps[-1]["details"]
    assert final["clinic_has_access"] is False
    assert final["clinic_can_decrypt"] is False
