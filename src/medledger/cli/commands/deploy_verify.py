"""`medledger deploy verify`: check a live deployment on chain and write what a block explorer
needs to verify its source (Etherscan/Sourcify "Solidity (Standard-Json-Input)")."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from medledger.cli.context import EXIT_FAILED, AppContext, connection_options, guarded, pass_app
from medledger.cli.outfile import out_file_options

CONTRACT = "MedLedger"
# The constructor's Settings fields and the getters that read them back.
SETTING_GETTERS = {
    "adminDelay": "defaultAdminDelay",
    "emergencyWindow": "emergencyWindow",
    "emergencyCooldown": "emergencyCooldown",
    "emergencyKinds": "emergencyKinds",
    "defaultEmergencyCategories": "defaultEmergencyCategories",
    "maxConsentDuration": "maxConsentDuration",
    "maxGuardianTerm": "maxGuardianTerm",
}


def project_root(given: Path | None, source_unit: str) -> Path:
    """Where the contract sources are: --project, else the working directory or one above it,
    else the checkout this package runs from."""
    if given is not None:
        if not (given / source_unit).is_file():
            raise click.BadParameter(f"{given} has no {source_unit}", param_hint="--project")
        return given
    import medledger

    for candidate in (Path.cwd(), *Path.cwd().parents, Path(medledger.__file__).resolve().parents[2]):
        if (candidate / source_unit).is_file():
            return candidate
    raise click.UsageError(
        f"the contract sources ({source_unit}) are not here: run from the medledger checkout or pass --project DIR"
    )


@click.command("verify")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where to write the standard-JSON input; see --force, --parents "
    "[default: <deployments>/<chainId>.MedLedger.standard-input.json, rewritten each time].",
)
@click.option(
    "--project",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=None,
    help="The medledger checkout holding contracts/ and node_modules/ [default: found from here or the package].",
)
@out_file_options(inputs=("keystore",))
@connection_options
@pass_app
@guarded
def command(app: AppContext, out: Path | None, project: Path | None) -> None:
    """Check the recorded deployment against the shipped build (runtime code with immutables
    masked, constructor arguments from the creation transaction, settings read back) and write
    the standard-JSON input, contract name, compiler version and ABI-encoded constructor
    arguments an explorer's verification form asks for. Exit 1 if the code is not this build."""
    from eth_utils import to_checksum_address

    from medledger.chain.artifacts import load_artifact
    from medledger.chain.deploy import deployment_path
    from medledger.chain.verify import (
        artifact_data,
        compare_code,
        constructor_arguments,
        read_settings,
        source_hash,
        standard_json_input,
    )

    chain = app.chain()
    deployment = app.deployment()
    artifact = load_artifact(CONTRACT)
    data = artifact_data(CONTRACT)
    address = to_checksum_address(deployment.ledger_address)
    code = compare_code(bytes(chain.w3.eth.get_code(address)), bytes.fromhex(artifact.deployed_bytecode[2:]))
    entry = deployment.contracts[CONTRACT]
    decoded = constructor_arguments(chain, entry.tx_hash, artifact)
    settings = read_settings(chain, address, artifact.abi)
    mismatches: list[str] = []
    constructor: dict[str, Any] | None = None
    args_hex = None
    if decoded is not None:
        raw, constructor = decoded
        args_hex = raw.hex()
        if constructor["admin"] != deployment.admin:
            mismatches.append(f"admin {constructor['admin']} in the transaction, {deployment.admin} recorded")
        for field, getter in SETTING_GETTERS.items():
            given, now = constructor["settings"][field], settings.get(getter)
            if given != now:
                mismatches.append(f"{field} {given} in the transaction, {now} on chain")
    root = project_root(project, str(data["sourceUnit"]))
    if source_hash(root) != data["sourceHash"]:
        raise click.UsageError(
            f"the sources under {root} are not those the shipped artifact was built from (sourceHash differs); "
            "check out the release that deployed it, or run `make build`"
        )
    request = standard_json_input(root, CONTRACT)
    if out is None:
        out = deployment_path(app.deployments_dir(), chain.chain_id).with_suffix(f".{CONTRACT}.standard-input.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(request, indent=1) + "\n")
    os.replace(tmp, out)
    compiler = "v" + artifact.compiler.split(".Emscripten")[0]
    payload: dict[str, Any] = {
        "address": address,
        "chainId": chain.chain_id,
        "contractName": f"{data['sourceUnit']}:{CONTRACT}",
        "compilerVersion": compiler,
        "settings": {k: v for k, v in request["settings"].items() if k != "outputSelection"},
        "standardJson": str(out),
        "sources": len(request["sources"]),
        "constructorArguments": args_hex,
        "constructor": constructor,
        "code": {"matches": code.matches, "bytes": code.onchain_size, "detail": code.reason},
        "readBack": settings,
        "mismatches": mismatches,
        "ok": code.matches and not mismatches,
    }

    def human() -> None:
        mark = "ok  " if code.matches else "FAIL"
        click.echo(
            f"{mark}  code         {address} on chain {chain.chain_id}: {code.reason} ({code.onchain_size} bytes)"
        )
        if constructor is None:
            click.echo("warn  constructor  the creation transaction is not available: arguments not decoded")
        else:
            values = ", ".join(f"{k}={v}" for k, v in constructor["settings"].items())
            click.echo(f"ok    constructor  admin {constructor['admin']}; {values}")
        for line in mismatches:
            click.echo(f"FAIL  settings     {line}")
        if not mismatches and constructor is not None:
            click.echo("ok    settings     read back from the contract: as deployed")
        click.echo(f"wrote {out}: standard-JSON input of {len(request['sources'])} sources")
        click.echo(f"  contract name     {payload['contractName']}")
        built = payload["settings"]
        optimizer = built.get("optimizer", {})
        click.echo(
            f"  compiler          {compiler} (optimizer {'on' if optimizer.get('enabled') else 'off'}, "
            f"{optimizer.get('runs')} runs, viaIR {str(built.get('viaIR', False)).lower()}, "
            f"evmVersion {built.get('evmVersion')})"
        )
        click.echo(f"  constructor args  {args_hex or '(unknown)'}")

    app.output(payload, human)
    if not payload["ok"]:
        sys.exit(EXIT_FAILED)
