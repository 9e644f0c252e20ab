"""`medledger admin ...`: the deployment's admin duties (roles, pause, admin transfer, service sets).

The admin should be a multisig (see the README's "Operating a deployment"): these commands then
serve an operator who signs from a single key on a devnet or testnet, and `--json` output plus the
function names in each help text let the same actions be prepared in a Safe's transaction builder.
"""

from __future__ import annotations

import click

from medledger.cli.context import AppContext, connection_options, guarded, pass_app
from medledger.cli.units import format_time
from medledger.cli.usage import address_value


@click.group("admin")
def command() -> None:
    """Admin duties: pausers, the circuit breaker, admin transfer, key-release service sets."""


@command.command("status")
@connection_options
@pass_app
@guarded
def status(app: AppContext) -> None:
    """Show the admin, a pending admin transfer, the admin delay and whether the ledger is paused."""
    ledger = app.ledger(signed=False)
    state = ledger.providers.admin_state()
    paused = ledger.providers.is_paused()
    payload = {
        "ledger": ledger.address,
        "admin": state.admin,
        "pendingAdmin": state.pending_admin,
        "pendingAcceptAfter": state.pending_accept_after or None,
        "adminDelaySeconds": state.delay,
        "paused": paused,
    }
    lines = [
        f"ledger {ledger.address}",
        f"admin {state.admin} (transfers wait {_duration(state.delay)})",
    ]
    if state.pending_admin:
        lines.append(
            f"pending transfer to {state.pending_admin}, acceptable from {format_time(state.pending_accept_after)}"
        )
    lines.append("PAUSED: break-glass, registrations and key releases are stopped" if paused else "not paused")
    app.output(payload, "\n".join(lines))


@command.command("transfer")
@click.argument("new_admin")
@connection_options
@pass_app
@guarded
def transfer(app: AppContext, new_admin: str) -> None:
    """Begin handing the admin role to NEW_ADMIN (beginDefaultAdminTransfer).

    NEW_ADMIN (a Safe, say) accepts with `admin accept` (acceptDefaultAdminTransfer) once the
    admin delay has passed; until then the current admin can `admin cancel-transfer`."""
    ledger = app.ledger()
    receipt = ledger.providers.begin_admin_transfer(new_admin)
    state = ledger.providers.admin_state()
    app.output(
        {"pendingAdmin": state.pending_admin, "acceptAfter": state.pending_accept_after, "txHash": receipt.tx_hash},
        f"admin transfer to {state.pending_admin} begun; it can accept from {format_time(state.pending_accept_after)}",
    )


@command.command("accept")
@connection_options
@pass_app
@guarded
def accept(app: AppContext) -> None:
    """Take over the admin role (run as the pending admin, after the delay)."""
    receipt = app.ledger().providers.accept_admin_transfer()
    app.output({"admin": app.signer().address, "txHash": receipt.tx_hash}, f"{app.signer().address} is now the admin")


@command.command("cancel-transfer")
@connection_options
@pass_app
@guarded
def cancel_transfer(app: AppContext) -> None:
    """Cancel a pending admin transfer (cancelDefaultAdminTransfer)."""
    receipt = app.ledger().providers.cancel_admin_transfer()
    app.output({"txHash": receipt.tx_hash}, "pending admin transfer cancelled")


@command.command("add-pauser")
@click.argument("address", callback=address_value("address"))
@connection_options
@pass_app
@guarded
def add_pauser(app: AppContext, address: str) -> None:
    """Give ADDRESS the pauser role (an account that holds no other duty)."""
    receipt = app.ledger().providers.add_pauser(address)
    app.output({"pauser": address, "txHash": receipt.tx_hash}, f"{address} is now a pauser")


@command.command("remove-pauser")
@click.argument("address", callback=address_value("address"))
@connection_options
@pass_app
@guarded
def remove_pauser(app: AppContext, address: str) -> None:
    """Take the pauser role from ADDRESS."""
    receipt = app.ledger().providers.remove_pauser(address)
    app.output({"pauser": address, "txHash": receipt.tx_hash}, f"{address} is no longer a pauser")


@command.command("pause")
@connection_options
@pass_app
@guarded
def pause(app: AppContext) -> None:
    """Circuit breaker (pauser only): stop break-glass, registrations and access logging, so no
    key-release service releases anything. Revocation, suspension and closing break-glass go on."""
    receipt = app.ledger().providers.pause()
    app.output({"paused": True, "txHash": receipt.tx_hash}, "ledger paused")


@command.command("unpause")
@connection_options
@pass_app
@guarded
def unpause(app: AppContext) -> None:
    """Lift the circuit breaker (pauser only)."""
    receipt = app.ledger().providers.unpause()
    app.output({"paused": False, "txHash": receipt.tx_hash}, "ledger unpaused")


def _member(text: str) -> tuple[str, bytes | None]:
    """`0xADDRESS` or `0xADDRESS:0xX25519KEY` (the service's public key, 32 bytes)."""
    address, _, key = text.partition(":")
    if not key:
        return address, None
    try:
        raw = bytes.fromhex(key.removeprefix("0x"))
    except ValueError:
        raise click.BadParameter(f"{key!r} is not a hex X25519 public key", param_hint="--member") from None
    if len(raw) != 32:
        raise click.BadParameter(f"an X25519 public key is 32 bytes, not {len(raw)}", param_hint="--member")
    return address, raw


@command.command("propose-services")
@click.option(
    "--member",
    "members",
    multiple=True,
    required=True,
    help="A service: 0xADDRESS[:0xX25519KEY], repeatable, in share order. Without a key, the key "
    "the service published in the key directory (`medledger keys publish` from its account).",
)
@click.option("--threshold", "-k", type=click.IntRange(1, 255), required=True, help="Shares needed to read (k).")
@connection_options
@pass_app
@guarded
def propose_services(app: AppContext, members: tuple[str, ...], threshold: int) -> None:
    """Propose a new key-release service set (proposeServiceSet); it becomes current after the
    admin delay, and earlier sets keep serving the records written under them."""
    from medledger.ledger.base import checked_address

    ledger = app.ledger()
    addresses, keys = [], []
    for text in members:
        address, key = _member(text)
        address = checked_address(address, "service member")
        if key is None:
            key = ledger.keys.encryption_key_of(address)
            if key is None:
                raise click.BadParameter(
                    f"{address} has published no encryption key; give it as {address}:0xKEY",
                    param_hint="--member",
                )
        addresses.append(address)
        keys.append(key)
    receipt = ledger.services.propose(addresses, keys, threshold)
    version = ledger.services.count()
    info = ledger.services.service_set(version)
    app.output(
        {
            "version": version,
            "threshold": threshold,
            "members": addresses,
            "activatesAt": info.activates_at,
            "txHash": receipt.tx_hash,
        },
        f"proposed service set {version}: {threshold} of {len(addresses)}, "
        f"current from {format_time(info.activates_at)}",
    )


@command.command("cancel-services")
@click.argument("version", type=click.IntRange(1))
@connection_options
@pass_app
@guarded
def cancel_services(app: AppContext, version: int) -> None:
    """Cancel a proposed service set before it becomes current (cancelServiceSet)."""
    receipt = app.ledger().services.cancel(version)
    app.output({"version": version, "txHash": receipt.tx_hash}, f"service set {version} cancelled")


def _duration(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
