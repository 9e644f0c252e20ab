"""`medledger keyservice serve|status`: the commands around the running services."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from medledger.chain.deploy import save_deployment
from medledger.cli import main

from .conftest import SERVICE_COUNT, THRESHOLD, KeyWorld

pytestmark = [pytest.mark.anvil]


def status(kw: KeyWorld, tmp_path: Path) -> dict:  # type: ignore[type-arg]
    save_deployment(tmp_path / "deployments", kw.deployment)
    result = CliRunner().invoke(
        main,
        [
            "--home",
            str(tmp_path / "home"),
            "--json",
            "keyservice",
            "status",
            "--rpc-url",
            kw.anvil.rpc_url,
            "--deployments",
            str(tmp_path / "deployments"),
        ],
        env={"MEDLEDGER_CONFIG": None},
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_status_shows_the_current_set_and_every_healthy_service(kw: KeyWorld, tmp_path: Path) -> None:
    shown = status(kw, tmp_path)
    assert (shown["version"], shown["threshold"], shown["members"]) == (kw.set_version, THRESHOLD, SERVICE_COUNT)
    assert shown["healthy"] == SERVICE_COUNT and not shown["paused"]
    assert [row["url"] for row in shown["services"]] == [service.url for service in kw.fleet.services]


def test_status_names_a_service_that_is_down(kw: KeyWorld, tmp_path: Path) -> None:
    kw.fleet.stop(4)
    shown = status(kw, tmp_path)
    assert shown["healthy"] == SERVICE_COUNT - 1
    down = [row for row in shown["services"] if not row["ok"]]
    assert [row["address"] for row in down] == [kw.fleet[4].signer.address]
    assert "unreachable" in down[0]["detail"]


def test_a_service_stops_cleanly_on_sigterm(kw: KeyWorld) -> None:
    assert kw.fleet.stop(3) == 0
    assert "key-release service stopped" in kw.fleet[3].logs.read_text()


def test_serve_with_a_missing_config_is_one_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        ["--home", str(tmp_path), "keyservice", "serve", "--config", str(tmp_path / "absent.toml")],
        env={"MEDLEDGER_CONFIG": None},
    )
    assert result.exit_code != 0
    assert "absent.toml does not exist" in result.output
    assert len(result.output.strip().splitlines()) == 1
