"""`medledger admin` and the deployment settings of `medledger deploy`: the operator's duties."""

from __future__ import annotations

from .conftest import ADMIN, CLINIC, LAB, PATIENT, REGISTRAR, STRANGER, Cli, address, assert_clear_failure

PAUSER = 6
NEW_ADMIN = 7
SERVICES = (8, 9)


def _deploy(cli: Cli, *extra: str) -> dict:
    return cli.json("deploy", "--registrar", address(REGISTRAR), "--admin-delay", "1h", *extra, account=ADMIN)


def test_deploy_fixes_the_settings_it_is_given(cli: Cli) -> None:
    _deploy(cli, "--emergency-window", "2h", "--max-consent", "1y")
    status = cli.json("admin", "status")
    assert status["admin"] == address(ADMIN)
    assert status["adminDelaySeconds"] == 3600
    assert status["paused"] is False


def test_deploy_refuses_a_duration_that_is_not_one(cli: Cli) -> None:
    line = assert_clear_failure(cli.invoke("deploy", "--admin-delay", "soon", account=ADMIN), 2)
    assert "'soon' is not a positive duration" in line


def test_deploy_refuses_registrars_when_someone_else_will_be_admin(cli: Cli) -> None:
    result = cli.invoke("deploy", "--admin", address(NEW_ADMIN), "--registrar", address(REGISTRAR), account=ADMIN)
    line = assert_clear_failure(result, 2)
    assert "only the admin appoints registrars" in line
    assert not (cli.deployments / "31337.json").exists()


def test_admin_transfer_waits_for_the_delay_then_the_new_admin_accepts(cli: Cli) -> None:
    _deploy(cli)
    begun = cli.json("admin", "transfer", address(NEW_ADMIN), account=ADMIN)
    assert begun["pendingAdmin"] == address(NEW_ADMIN)
    early = cli.invoke("admin", "accept", account=NEW_ADMIN)
    assert_clear_failure(early, 3)
    cli.anvil.rpc("evm_increaseTime", [3601])
    cli.anvil.rpc("evm_mine")
    cli.ok("admin", "accept", account=NEW_ADMIN)
    assert cli.json("admin", "status")["admin"] == address(NEW_ADMIN)


def test_a_cancelled_transfer_cannot_be_accepted(cli: Cli) -> None:
    _deploy(cli)
    cli.ok("admin", "transfer", address(NEW_ADMIN), account=ADMIN)
    cli.ok("admin", "cancel-transfer", account=ADMIN)
    cli.anvil.rpc("evm_increaseTime", [3601])
    cli.anvil.rpc("evm_mine")
    assert_clear_failure(cli.invoke("admin", "accept", account=NEW_ADMIN), 3)
    assert cli.json("admin", "status")["pendingAdmin"] is None


def test_only_the_admin_may_begin_a_transfer(cli: Cli) -> None:
    _deploy(cli)
    assert_clear_failure(cli.invoke("admin", "transfer", address(STRANGER), account=STRANGER), 3)


def test_a_pauser_stops_registrations_until_unpaused(cli: Cli) -> None:
    _deploy(cli)
    cli.ok("admin", "add-pauser", address(PAUSER), account=ADMIN)
    cli.ok("admin", "pause", account=PAUSER)
    assert cli.json("admin", "status")["paused"] is True
    refused = cli.invoke("provider", "register", address(CLINIC), "--kind", "clinician", account=REGISTRAR)
    assert_clear_failure(refused, 3)
    cli.ok("admin", "unpause", account=PAUSER)
    assert cli.json("admin", "status")["paused"] is False
    cli.ok("provider", "register", address(CLINIC), "--kind", "clinician", account=REGISTRAR)


def test_the_admin_cannot_pause_without_the_pauser_role(cli: Cli) -> None:
    _deploy(cli)
    assert_clear_failure(cli.invoke("admin", "pause", account=ADMIN), 3)


def test_the_admin_cannot_also_be_a_pauser(cli: Cli) -> None:
    _deploy(cli)
    assert_clear_failure(cli.invoke("admin", "add-pauser", address(ADMIN), account=ADMIN), 3)


def test_a_service_set_is_proposed_with_the_keys_its_members_published(cli: Cli) -> None:
    _deploy(cli)
    for index in SERVICES:
        cli.ok("keys", "publish", account=index)
    proposed = cli.json(
        "admin",
        "propose-services",
        "--member",
        address(SERVICES[0]),
        "--member",
        address(SERVICES[1]),
        "-k",
        "2",
        account=ADMIN,
    )
    assert proposed["version"] == 1
    assert proposed["members"] == [address(i) for i in SERVICES]


def test_a_member_without_a_published_key_is_named(cli: Cli) -> None:
    _deploy(cli)
    result = cli.invoke("admin", "propose-services", "--member", address(LAB), "-k", "1", account=ADMIN)
    line = assert_clear_failure(result, 2)
    assert address(LAB) in line and "published no encryption key" in line


def test_a_threshold_above_the_member_count_is_refused_before_sending(cli: Cli) -> None:
    _deploy(cli)
    member = f"{address(PATIENT)}:0x{'11' * 32}"
    result = cli.invoke("admin", "propose-services", "--member", member, "-k", "2", account=ADMIN)
    line = assert_clear_failure(result, 2)
    assert "threshold 2" in line


def test_a_proposed_set_can_be_cancelled_before_it_is_current(cli: Cli) -> None:
    _deploy(cli)
    member = f"{address(PATIENT)}:0x{'22' * 32}"
    cli.ok("admin", "propose-services", "--member", member, "-k", "1", account=ADMIN)
    cancelled = cli.json("admin", "cancel-services", "1", account=ADMIN)
    assert cancelled["version"] == 1


def test_a_withdrawn_provider_cannot_be_reinstated(cli: Cli) -> None:
    _deploy(cli)
    cli.ok("provider", "register", address(CLINIC), "--kind", "clinician", account=REGISTRAR)
    cli.ok("provider", "withdraw", address(CLINIC), account=REGISTRAR)
    assert cli.json("provider", "show", address(CLINIC))["status"] == "withdrawn"
    assert_clear_failure(cli.invoke("provider", "reinstate", address(CLINIC), account=REGISTRAR), 3)


def test_a_registrar_corrects_a_providers_kind(cli: Cli) -> None:
    _deploy(cli)
    cli.ok("provider", "register", address(CLINIC), "--kind", "clinician", account=REGISTRAR)
    cli.ok("provider", "set-kind", address(CLINIC), "--kind", "organization", account=REGISTRAR)
    assert cli.json("provider", "show", address(CLINIC))["kind"] == "organization"


def test_a_signed_grant_cancelled_before_it_is_relayed_is_refused(cli: Cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    _deploy(cli)
    cli.ok("provider", "register", address(CLINIC), "--kind", "clinician", account=REGISTRAR)
    signed = tmp_path / "grant.json"
    cli.ok(
        "consent", "sign", address(CLINIC), "--categories", "labs", "--purpose", "treatment", "--expires", "30d",
        "--out", signed, account=PATIENT,
    )  # fmt: skip
    cli.ok("consent", "cancel-signatures", address(CLINIC), "--yes", account=PATIENT)
    assert_clear_failure(cli.invoke("relay", signed, account=STRANGER), 3)
    assert cli.json("consent", "list", account=PATIENT) == []
