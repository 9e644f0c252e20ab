"""`medledger gateway serve|verify|proof|authorize|revoke|device`: the device gateway, its provider's
credentials for gateways and devices, and a reader's check of an anchored window."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from medledger.cli.context import EXIT_REFUSED, EXIT_USAGE, AppContext, connection_options, guarded, pass_app
from medledger.cli.usage import address_value
from medledger.scopes import Purpose


@click.group("gateway")
def command() -> None:
    """Device streams: devices post signed readings; the gateway anchors one Merkle root per patient and window."""


@command.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8711, show_default=True, help="Port to listen on.")
@click.option("--category", default="labs", show_default=True, help="Record category of the windows (name or number).")
@click.option(
    "--window",
    "window_seconds",
    type=click.IntRange(1, 3600),
    default=60,
    show_default=True,
    help="Seconds per window.",
)
@click.option(
    "--grace",
    "grace_seconds",
    type=click.IntRange(0, 3599),
    default=5,
    show_default=True,
    help="Seconds a window stays open after its end, for readings in flight.",
)
@click.option(
    "--max-skew",
    type=click.IntRange(1, 3600),
    default=120,
    show_default=True,
    help="Largest difference in seconds between a reading's time and the gateway's clock.",
)
@click.option(
    "--batch",
    "max_windows",
    type=click.IntRange(1, 200),
    default=40,
    show_default=True,
    help="Most windows anchored per transaction.",
)
@click.option(
    "--database",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The gateway's state (SQLite) [default: <home>/gateway/<address>.sqlite].",
)
@click.option(
    "--log-level",
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
    default="warning",
    show_default=True,
    help="uvicorn's log level (no level logs a reading or a key).",
)
@connection_options
@pass_app
@guarded
def serve(
    app: AppContext,
    host: str,
    port: int,
    category: str,
    window_seconds: int,
    grace_seconds: int,
    max_skew: int,
    max_windows: int,
    database: Path | None,
    log_level: str,
) -> None:
    """Serve POST /v1/readings, GET /v1/proofs/DEVICE/SEQUENCE and GET /health until SIGTERM or
    Ctrl-C; then seal and anchor the open windows and exit. The account is the gateway's, which
    its provider authorised with `medledger gateway authorize`."""
    from medledger.gateway import Gateway, GatewayNotAuthorizedError, GatewayPolicy, GatewayStore
    from medledger.gateway.server import serve as run
    from medledger.scopes import category as parse_category

    if grace_seconds >= window_seconds:
        raise click.UsageError("--grace must be shorter than --window")
    policy = GatewayPolicy(
        category=int(parse_category(category)),
        window_seconds=window_seconds,
        grace_seconds=grace_seconds,
        max_skew_seconds=max_skew,
        max_windows_per_tx=max_windows,
    )
    chain = app.chain()
    if chain.is_embedded:
        raise click.UsageError("a gateway needs a chain other processes reach: pass --rpc-url or run a devnet")
    session = app.session()
    path = database or app.settings.home / "gateway" / f"{session.address}.sqlite"
    store = GatewayStore(path)
    try:
        gateway = Gateway(session, store, policy)
    except GatewayNotAuthorizedError as exc:
        store.close()
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(EXIT_REFUSED) from None
    click.echo(
        f"gateway {session.address} for provider {gateway.provider} on http://{host}:{port} "
        f"(chain {gateway.chain_id}, stream anchors {gateway.stream_anchors}, {window_seconds} s windows, "
        f"state {path})",
        err=True,
    )
    try:
        run(gateway, host=host, port=port, log_level=log_level)
    finally:
        gateway.close()
    click.echo("gateway stopped; open windows sealed and anchored", err=True)


@command.command("verify")
@click.argument("patient", callback=address_value("patient"))
@click.argument("digest")
@click.option("--purpose", default="TREAT", show_default=True, help="Purpose of the read (logged on chain).")
@connection_options
@pass_app
@guarded
def verify(app: AppContext, patient: str, digest: str, purpose: str) -> None:
    """Fetch and decrypt PATIENT's window record DIGEST (like `record fetch`), then check every
    reading's device signature, the order and bounds, and the root and count anchored on chain.
    Exit 0 when it holds; 3 when a reading was tampered with, dropped, added or reordered."""
    from medledger.flows.windows import ReadingError, read_window
    from medledger.ledger.base import checked_address
    from medledger.scopes import purpose as parse_purpose

    try:
        raw = bytes.fromhex(digest.removeprefix("0x"))
    except ValueError:
        raise click.BadParameter("DIGEST is the record's 32-byte digest in hex", param_hint="DIGEST") from None
    if len(raw) != 32:
        raise click.BadParameter("DIGEST is the record's 32-byte digest in hex", param_hint="DIGEST")
    try:
        contents, verification = read_window(
            app.session(), checked_address(patient, "patient"), raw, purpose=Purpose(parse_purpose(purpose))
        )
    except ReadingError as exc:  # the record decrypted, but it is not a window of device readings
        click.echo(f"error: record {digest} is not a device-stream window: {exc}", err=True)
        raise SystemExit(EXIT_USAGE) from None
    devices = sorted({r.device for r in contents.readings})
    payload: dict[str, Any] = {
        "ok": verification.ok,
        "windowId": "0x" + verification.window_id.hex(),
        "root": "0x" + verification.root.hex(),
        "count": verification.count,
        "start": contents.start,
        "end": contents.end,
        "gateway": contents.gateway,
        "provider": contents.provider,
        "devices": devices,
        "problems": list(verification.problems),
    }

    def human() -> None:
        state = "verified" if verification.ok else "FAILED"
        click.echo(
            f"window {payload['windowId']} {state}: {verification.count} readings from {len(devices)} devices, "
            f"[{contents.start}, {contents.end}), gateway {contents.gateway}"
        )
        for problem in verification.problems:
            click.echo(f"  - {problem}")

    app.output(payload, human)
    if not verification.ok:
        raise SystemExit(3)


@command.command("authorize")
@click.argument("gateway")
@connection_options
@pass_app
@guarded
def authorize(app: AppContext, gateway: str) -> None:
    """As a provider: authorise GATEWAY (an account) to anchor windows for you."""
    receipt = app.ledger().streams.authorize_gateway(gateway)
    app.output(
        {"gateway": gateway, "tx": receipt.tx_hash}, f"gateway {gateway} authorised (transaction {receipt.tx_hash})"
    )


@command.command("revoke")
@click.argument("gateway")
@connection_options
@pass_app
@guarded
def revoke(app: AppContext, gateway: str) -> None:
    """As a provider: revoke GATEWAY; it anchors nothing more."""
    receipt = app.ledger().streams.revoke_gateway(gateway)
    app.output(
        {"gateway": gateway, "tx": receipt.tx_hash}, f"gateway {gateway} revoked (transaction {receipt.tx_hash})"
    )


@command.group("device")
def device() -> None:
    """A provider's devices: register (for good) and retire."""


@device.command("add")
@click.argument("address", callback=address_value("device"))
@connection_options
@pass_app
@guarded
def device_add(app: AppContext, address: str) -> None:
    """As a provider: register the device ADDRESS (its signing key's account) under you."""
    receipt = app.ledger().streams.register_device(address)
    app.output(
        {"device": address, "tx": receipt.tx_hash}, f"device {address} registered (transaction {receipt.tx_hash})"
    )


@device.command("retire")
@click.argument("address", callback=address_value("device"))
@connection_options
@pass_app
@guarded
def device_retire(app: AppContext, address: str) -> None:
    """As its provider: retire the device ADDRESS for good; gateways refuse its readings."""
    receipt = app.ledger().streams.retire_device(address)
    _done(app, {"device": address, "tx": receipt.tx_hash}, f"device {address} retired")


@device.command("status")
@click.argument("address", callback=address_value("device"))
@connection_options
@pass_app
@guarded
def device_status(app: AppContext, address: str) -> None:
    """Who registered the device ADDRESS, and whether gateways accept its readings now."""
    streams = app.ledger(signed=False).streams
    provider, retired = streams.device_entry(address)
    active = streams.device_provider(address) is not None
    payload = {"device": address, "provider": provider, "retired": retired, "active": active}
    state = (
        "unregistered"
        if provider is None
        else ("retired" if retired else ("active" if active else "inactive provider"))
    )
    app.output(payload, f"device {address}: {state}" + (f" (provider {provider})" if provider else ""))


def _done(app: AppContext, payload: dict[str, Any], what: str) -> None:
    app.output(payload, f"{what} (transaction {payload['tx']})")
