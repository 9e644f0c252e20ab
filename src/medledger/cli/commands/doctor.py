"""`medledger doctor`: everything a command will need, checked in one go, one line each."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import click

from medledger.cli.context import EXIT_FAILED, PASSWORD_ENV, AppContext, connection_options, guarded, pass_app
from medledger.errors import MedLedgerError

OK, WARN, FAIL = "ok", "warn", "FAIL"
INDEX_BEHIND_WARN = 100  # blocks


@dataclass
class Check:
    name: str
    status: str
    detail: str
    fix: str = ""


class _Skip(MedLedgerError):
    """A check that cannot run because an earlier one failed."""


@click.command("doctor")
@click.option(
    "--db", default=None, envvar="MEDLEDGER_INDEX_DB", help="The indexer's database [default: <home>/index/...]."
)
@click.option("--timeout", type=float, default=3.0, show_default=True, help="Seconds to wait for each HTTP service.")
@connection_options
@pass_app
@guarded
def command(app: AppContext, db: str | None, timeout: float) -> None:
    """Check the RPC endpoint and chain id, the deployment's code against the shipped artifact,
    roles and settings, the IPFS API, the key-release services, the indexer's database and the
    keystore; print ok, warn or FAIL and what to fix, one line each. Exit 1 if anything FAILs.

    The keystore is parsed without its password; with MEDLEDGER_PASSWORD set it is also unlocked."""
    checks: list[Check] = []
    state: dict[str, Any] = {}

    def run(name: str, check: Callable[[], Check]) -> None:
        try:
            result = check()
        except _Skip as skip:
            result = Check(name, WARN, f"not checked: {skip}")
        except click.ClickException as exc:
            result = Check(name, FAIL, exc.format_message())
        except Exception as exc:  # a doctor reports what it finds, whatever it is
            from medledger.cli.context import exit_code_for

            known = exit_code_for(exc) is not None or isinstance(exc, OSError)
            result = Check(name, FAIL, str(exc) if known else f"{type(exc).__name__}: {exc}")
        checks.append(result)
        if not app.settings.json:
            mark = {OK: click.style("ok  ", fg="green"), WARN: click.style("warn", fg="yellow")}.get(
                result.status, click.style("FAIL", fg="red")
            )
            click.echo(f"{mark}  {result.name:<10} {result.detail}" + (f" — {result.fix}" if result.fix else ""))

    run("rpc", lambda: _rpc(app, state))
    run("deployment", lambda: _deployment(app, state))
    run("code", lambda: _code(app, state))
    run("roles", lambda: _roles(app, state))
    run("ipfs", lambda: _ipfs(app, timeout))
    run("services", lambda: _services(app, state, timeout))
    run("indexer", lambda: _indexer(app, state, db))
    run("account", lambda: _account(app, state))
    failed = [c.name for c in checks if c.status == FAIL]
    if app.settings.json:
        app.output({"ok": not failed, "checks": [asdict(c) for c in checks]}, "")
    else:
        warned = sum(c.status == WARN for c in checks)
        click.echo(f"{len(failed)} failed, {warned} warnings" + (f": {', '.join(failed)}" if failed else ""))
    if failed:
        sys.exit(EXIT_FAILED)


def _require_medledger(state: dict[str, Any]) -> None:
    if "deployment" not in state:
        raise _Skip("no deployment")
    if state.get("foreign_code"):
        raise _Skip("the code at the address is not MedLedger's")


def _rpc(app: AppContext, state: dict[str, Any]) -> Check:
    target = app.target()
    chain = app.chain()  # checks the network's chain id and --chain-id
    state["chain"] = chain
    head = chain.w3.eth.block_number
    expected = target.network.chain_id if target.network is not None else None
    matches = f", as network {target.name} expects" if expected is not None else f" (network {target.name})"
    return Check("rpc", OK, f"{target.rpc_url} answers: chain {chain.chain_id}{matches}, block {head}")


def _deployment(app: AppContext, state: dict[str, Any]) -> Check:
    from medledger.chain.deploy import deployment_path

    if "chain" not in state:
        raise _Skip("no chain")
    chain = state["chain"]
    if chain.is_embedded:
        deployment = app.deployment()
        state["deployment"] = deployment
        return Check("deployment", OK, f"embedded chain: deployed afresh at {deployment.ledger_address}")
    directory = app.deployments_dir()
    path = deployment_path(directory, chain.chain_id)
    if not path.exists():
        return Check(
            "deployment",
            FAIL,
            f"nothing recorded for chain {chain.chain_id} in {directory}",
            f"run `medledger deploy --network {app.target().name}` (or pass --deployments DIR)",
        )
    deployment = app.deployment()
    state["deployment"] = deployment
    return Check("deployment", OK, f"MedLedger at {deployment.ledger_address}, recorded in {path}")


def _code(app: AppContext, state: dict[str, Any]) -> Check:
    from eth_utils import to_checksum_address

    from medledger.chain.artifacts import load_artifact
    from medledger.chain.verify import compare_code

    if "deployment" not in state:
        raise _Skip("no deployment")
    chain, deployment = state["chain"], state["deployment"]
    artifact = load_artifact("MedLedger")
    code = bytes(chain.w3.eth.get_code(to_checksum_address(deployment.ledger_address)))
    result = compare_code(code, bytes.fromhex(artifact.deployed_bytecode.removeprefix("0x")))
    if not result.matches:
        state["foreign_code"] = True
        return Check(
            "code",
            FAIL,
            f"the code at {deployment.ledger_address} is not the shipped MedLedger: {result.reason}",
            "deploy this build, or use the medledger version that deployed it",
        )
    recorded = deployment.contracts["MedLedger"].artifact_digest
    if recorded != artifact.digest:
        return Check(
            "code",
            WARN,
            f"on-chain code matches the shipped artifact ({result.onchain_size} bytes), "
            "but the record names another artifact file",
        )
    return Check("code", OK, f"on-chain runtime code is the shipped artifact's ({result.onchain_size} bytes)")


def _roles(app: AppContext, state: dict[str, Any]) -> Check:
    _require_medledger(state)
    ledger = app.ledger(signed=False)
    contract = ledger.contract
    admin = contract.functions.defaultAdmin().call()
    paused = bool(contract.functions.paused().call())
    holders: dict[str, set[str]] = {"registrar": set(), "pauser": set()}
    roles = {
        bytes(contract.functions.REGISTRAR_ROLE().call()): "registrar",
        bytes(contract.functions.PAUSER_ROLE().call()): "pauser",
    }
    block = state["deployment"].contracts["MedLedger"].block
    try:
        events = [(e, True) for e in ledger.events("RoleGranted", from_block=block)]
        events += [(e, False) for e in ledger.events("RoleRevoked", from_block=block)]
        events.sort(key=lambda item: (item[0]["blockNumber"], item[0]["logIndex"]))
        for event, granted in events:
            role = roles.get(bytes(event["args"]["role"]))
            if role is not None:
                (holders[role].add if granted else holders[role].discard)(event["args"]["account"])
        counted = f"{len(holders['registrar'])} registrar(s), {len(holders['pauser'])} pauser(s)"
    except Exception:  # a node that limits log ranges: the counts are unknown, the rest holds
        counted = "registrars and pausers not counted (the node refused the log query)"
    functions = contract.functions
    settings = (
        f"admin delay {_span(functions.defaultAdminDelay().call())}, "
        f"max consent {_span(functions.maxConsentDuration().call())}, "
        f"max guardian term {_span(functions.maxGuardianTerm().call())}, "
        f"break-glass window {_span(functions.emergencyWindow().call())}"
    )
    detail = f"admin {admin}, {counted}; {settings}" + ("; PAUSED" if paused else "; not paused")
    state["paused"] = paused
    if paused:
        return Check("roles", WARN, detail, "key releases and break-glass are stopped until a pauser unpauses")
    if not holders["registrar"] and "not counted" not in counted:
        return Check("roles", WARN, detail, "appoint a registrar: `medledger provider add-registrar ADDRESS`")
    return Check("roles", OK, detail)


def _span(seconds: int) -> str:
    """`172800` -> `2d`, `3600` -> `1h`, `90` -> `90s`."""
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _ipfs(app: AppContext, timeout: float) -> Check:
    import httpx

    api = app.option("ipfs_api")
    if api is None and app.devnet:
        api = app.devnet["ipfs"]["api_url"]
    if api is None:
        return Check("ipfs", WARN, f"no IPFS API: the embedded block store {app.settings.home / 'blocks'} is used")
    try:
        response = httpx.post(str(api).rstrip("/") + "/api/v0/version", timeout=timeout)
        version = response.json().get("Version", "?")
    except (httpx.HTTPError, ValueError) as exc:
        return Check("ipfs", FAIL, f"the IPFS API {api} does not answer ({type(exc).__name__})", "start the daemon")
    return Check("ipfs", OK, f"{api} answers (version {version})")


def _services(app: AppContext, state: dict[str, Any], timeout: float) -> Check:
    import httpx

    from medledger.keyservice.client import service_directory

    _require_medledger(state)
    ledger = app.ledger(signed=False)
    version = ledger.services.current_version()
    if not version:
        return Check(
            "services",
            WARN,
            "no key-release service set is current: only patients and authors can read records",
            "`medledger admin propose-services --member ... -k K`",
        )
    threshold = ledger.services.service_set(version).threshold
    down = []
    members = service_directory(ledger, version)
    for service in members:
        try:
            healthy = bool(service.url) and bool(
                httpx.get(service.url.rstrip("/") + "/health", timeout=timeout).json().get("ok")
            )
        except (httpx.HTTPError, ValueError):
            healthy = False
        if not healthy:
            down.append(service.url or f"{service.address} (no URL published)")
    up = len(members) - len(down)
    detail = f"set {version}: {up} of {len(members)} healthy, {threshold} needed"
    if up < threshold:
        return Check("services", FAIL, detail + f"; down: {', '.join(down)}", "start the services or fix their URLs")
    if down:
        return Check("services", WARN, detail + f"; down: {', '.join(down)}")
    return Check("services", OK, detail)


def _indexer(app: AppContext, state: dict[str, Any], db: str | None) -> Check:
    from medledger.indexer import Indexer

    _require_medledger(state)
    chain, deployment = state["chain"], state["deployment"]
    if db is None:
        path = app.settings.home / "index" / f"{deployment.chain_id}-{deployment.ledger_address}.sqlite"
        if not path.exists():
            return Check("indexer", WARN, f"no index at {path}", "`medledger index sync` (audits need it)")
        db = str(path)
    indexer = Indexer.from_deployment(chain, deployment, db)
    try:
        cursor = indexer.cursor
    finally:
        indexer.close()
    behind = max(0, int(chain.w3.eth.block_number) - cursor)
    detail = f"synced to block {cursor}, {behind} blocks behind the head"
    if behind > INDEX_BEHIND_WARN:
        return Check("indexer", WARN, detail, "`medledger index sync`")
    return Check("indexer", OK, detail)


def _account(app: AppContext, state: dict[str, Any]) -> Check:
    from medledger.chain.accounts import from_keystore, read_keystore, stored_address
    from medledger.cli.context import resolve_account, resolve_keystore

    account, keystore = app.option("account"), app.option("keystore")
    if account is None and keystore is None:
        dev = app.option("dev_account")
        if dev is not None:
            return Check("account", OK, f"anvil dev account {dev}")
        return Check("account", WARN, "no account selected", "pass --account NAME (see `medledger account list`)")
    path = (
        resolve_account(app.settings.home, str(account)) if account else resolve_keystore(app.settings.home, keystore)
    )
    address = stored_address(read_keystore(path))
    password = os.environ.get(PASSWORD_ENV)
    if password is None:
        return Check(
            "account",
            OK,
            f"{path} is a keystore v3 file of {address or 'an unnamed address'}; "
            f"not unlocked (set {PASSWORD_ENV} to try)",
        )
    signer = from_keystore(path, password)
    balance = ""
    if "chain" in state:
        from medledger.chain.units import ether

        balance = f", holds {ether(int(state['chain'].w3.eth.get_balance(signer.address)))}"
    return Check("account", OK, f"{path} unlocks: {signer.address}{balance}")
