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
    assert all({"title", "details", "lines"} <= set(step) for step in steps)
    return steps[-1]["details"]


def _refusals(result) -> dict[str, list[str]]:
    """Title -> the services' answers, for each step in which the services refused the clinic."""
    steps = json.loads(result.stdout)
    return {
        step["title"]: step["lines"]
        for step in steps
        if step["lines"] and all(" refused: " in line for line in step["lines"])
    }


def test_embedded_demo_shows_the_services_refusing_a_narrowed_an_expired_and_a_revoked_grant(tmp_path: Path) -> None:
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
    refusals = _refusals(result)
    assert [title.split(":")[0] for title in refusals] == [
        "Patient narrowed the grant to allergies only (5 minutes)",
        "The narrowed grant expired (time travel)",
        "Patient granted allergies again, then revoked",
    ]
    assert all(len(lines) == 3 and all("no-access" in line for line in lines) for lines in refusals.values())


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
