"""`medledger keyservice serve|announce|status`: run a key-release service, publish its URL,
and check the services of a set."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from medledger.cli.context import EXIT_USAGE, AppContext, connection_options, guarded, pass_app

CONFIG_OPTION = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The service's TOML configuration file.",
)


@click.group("keyservice")
def command() -> None:
    """Key-release services: each releases its share of a record's key only to a logged, authorised read."""


def _load(config_path: Path) -> Any:
    from medledger.keyservice.config import load_config
    from medledger.keyservice.errors import ConfigError

    try:
        return load_config(config_path)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


@command.command("serve")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The service's TOML configuration file (operators). Without it, the service runs from the "
    "connection options below: the account, the chain and its recorded deployment (devnets, walkthroughs).",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (without --config).")
@click.option("--port", type=click.IntRange(0, 65535), default=8701, show_default=True, help="Port (without --config).")
@click.option(
    "--database",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The release log (SQLite) without --config [default: <home>/keyservice/<address>.sqlite].",
)
@click.option("--announce", is_flag=True, help="First publish http://HOST:PORT on chain as this service's endpoint.")
@click.option(
    "--log-level",
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
    default="warning",
    show_default=True,
    help="uvicorn's log level (no level logs a secret).",
)
@connection_options
@pass_app
@guarded
def serve(
    app: AppContext,
    config_path: Path | None,
    host: str,
    port: int,
    database: Path | None,
    announce: bool,
    log_level: str,
) -> None:
    """Serve POST /v1/release and GET /health until SIGTERM or Ctrl-C."""
    from medledger.keyservice.errors import ConfigError
    from medledger.keyservice.server import serve as run
    from medledger.keyservice.service import ReleaseService

    try:
        if config_path is not None:
            config = _load(config_path)
            signer = config.signer()
        else:
            config, signer = _config_from_connection(app, host, port, database)
        service = ReleaseService(config, signer=signer)
    except ConfigError as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(EXIT_USAGE) from None
    if announce:
        _announce(config, signer, config.url)
    click.echo(
        f"key-release service {service.address} on {config.url} (chain {config.chain_id}, "
        f"ledger {config.ledger}, log {config.database})",
        err=True,
    )
    run(config, service=service, log_level=log_level)
    click.echo("key-release service stopped", err=True)


def _config_from_connection(app: AppContext, host: str, port: int, database: Path | None) -> tuple[Any, Any]:
    """A service configuration from the CLI's own settings; the signer is handed over directly."""
    from medledger.keyservice.config import ServiceConfig

    chain = app.chain()
    if chain.is_embedded:
        raise click.UsageError("a key-release service needs a chain other processes reach: pass --rpc-url")
    signer = app.signer()
    path = database or app.settings.home / "keyservice" / f"{signer.address}.sqlite"
    path.parent.mkdir(parents=True, exist_ok=True)
    config = ServiceConfig(
        rpc_url=chain.endpoint,
        ledger=app.deployment().ledger_address,
        chain_id=chain.chain_id,
        database=path,
        private_key_env="MEDLEDGER_UNUSED",  # the [account] section's place is taken by `signer`
        host=host,
        port=port,
    )
    return config, signer


def _announce(config: Any, signer: Any, url: str) -> None:
    from medledger.chain.connection import connect
    from medledger.ledger import MedLedger

    ledger = MedLedger(connect(config.rpc_url, timeout=config.chain_timeout), config.ledger, signer=signer)
    if ledger.services.endpoint(signer.address) != url:
        receipt = ledger.services.set_endpoint(url)
        click.echo(f"{signer.address} now serves at {url} (transaction {receipt.tx_hash})", err=True)


@command.command("announce")
@CONFIG_OPTION
@click.option("--url", default=None, help="The public URL to publish [default: http://host:port from the config].")
@guarded
def announce(config_path: Path, url: str | None) -> None:
    """Publish this service's URL on chain (setServiceEndpoint, from the service's own account)."""
    from medledger.chain.connection import connect
    from medledger.keyservice.errors import ConfigError
    from medledger.ledger import MedLedger

    config = _load(config_path)
    try:
        signer = config.signer()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    ledger = MedLedger(connect(config.rpc_url, timeout=config.chain_timeout), config.ledger, signer=signer)
    url = url or config.url
    receipt = ledger.services.set_endpoint(url)
    click.echo(f"{signer.address} now serves at {url} (transaction {receipt.tx_hash})")


@command.command("status")
@click.option("--set", "version", type=click.IntRange(1), default=None, help="Set version [default: the current one].")
@click.option("--timeout", type=float, default=3.0, show_default=True, help="Seconds to wait for each /health.")
@connection_options
@pass_app
@guarded
def status(app: AppContext, version: int | None, timeout: float) -> None:
    """Show a service set on chain and ask each member's /health."""
    import httpx

    from medledger.keyservice.client import service_directory

    ledger = app.ledger(signed=False)
    version = version or ledger.services.current_version()
    if not version:
        raise click.ClickException("no service set is active on this ledger")
    found = ledger.services.service_set(version)
    threshold, activates_at, cancelled = found.threshold, found.activates_at, found.cancelled
    rows = []
    for service in service_directory(ledger, version):
        health: dict[str, Any] = {"ok": False, "detail": "no endpoint published"}
        if service.url:
            try:
                response = httpx.get(service.url.rstrip("/") + "/health", timeout=timeout)
                health = response.json()
            except (httpx.HTTPError, ValueError) as exc:
                health = {"ok": False, "detail": f"unreachable ({type(exc).__name__})"}
        rows.append(
            {
                "index": service.index,
                "address": service.address,
                "url": service.url,
                "ok": bool(health.get("ok")),
                "detail": health.get("detail", ""),
            }
        )
    payload = {
        "version": version,
        "threshold": threshold,
        "members": len(rows),
        "activatesAt": activates_at,
        "cancelled": cancelled,
        "services": rows,
        "healthy": sum(row["ok"] for row in rows),
        "paused": bool(ledger.sender.call(ledger.contract.functions.paused())),
    }

    def human() -> None:
        click.echo(
            f"service set {version}: {threshold} of {len(rows)}"
            f"{' (cancelled)' if cancelled else ''}{' — LEDGER PAUSED' if payload['paused'] else ''}"
        )
        for row in rows:
            state = "ok" if row["ok"] else f"DOWN: {row['detail']}"
            click.echo(f"  {row['index']:>2}  {row['address']}  {row['url'] or '-'}  {state}")
        verdict = "reads work" if payload["healthy"] >= threshold else "reads FAIL"
        click.echo(f"{payload['healthy']} of {len(rows)} healthy, {threshold} needed: {verdict}")

    app.output(payload, human)
