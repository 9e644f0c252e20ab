"""`medledger portal`: the patient's web page, served on loopback."""

from __future__ import annotations

import ipaddress
import os
import secrets
import socket
from pathlib import Path

import click

from medledger.cli.context import (
    AppContext,
    connection_options,
    guarded,
    pass_app,
    resolve_account,
    resolve_keystore,
)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _free_port(host: str, port: int) -> int:
    """`port` if it can be bound on `host` now (0: a free one the OS picks), else a one-line error."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise click.UsageError(f"cannot listen on {host}:{port} ({exc.strerror}): pass another --port") from None
        return int(sock.getsockname()[1])


@click.command("portal")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (loopback unless --public).")
@click.option("--port", type=click.IntRange(0, 65535), default=8600, show_default=True, help="TCP port (0: any free).")
@click.option(
    "--public",
    is_flag=True,
    help="Allow a non-loopback --host. The page then answers the network: put TLS in front of it.",
)
@click.option(
    "--allow-host",
    "allow_hosts",
    multiple=True,
    help="Another Host header name to accept (with --public, the name clients use), repeatable.",
)
@click.option(
    "--idle-timeout",
    type=click.IntRange(1, 24 * 60),
    default=15,
    show_default=True,
    help="Minutes without a request after which a session ends and its key is dropped.",
)
@click.option(
    "--names",
    "names_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help='Address book (TOML, [names] "0x.." = "Lakeside Clinic") [default: <home>/names.toml].',
)
@click.option(
    "--db",
    default=None,
    envvar="MEDLEDGER_INDEX_DB",
    help="Index database for the timeline (SQLite file or postgresql:// URL) [default: <home>/index/...].",
)
@connection_options
@pass_app
@guarded
def command(
    app: AppContext,
    host: str,
    port: int,
    public: bool,
    allow_hosts: tuple[str, ...],
    idle_timeout: int,
    names_file: Path | None,
    db: str | None,
) -> None:
    """Serve the patient's web page: who may see what and until when, a timeline of every access,
    grant / narrow / extend / revoke (with the confirmation the CLI shows), break-glass
    preferences, and your records to download.

    Sign-in: with a keystore (--account, --keystore, or any account under <home>/keystores) the page asks for
    its password and holds the unlocked key in memory for the session only (MEDLEDGER_PASSWORD is
    not used: the page's sign-in is the gate). With --dev-account N on a devnet or
    MEDLEDGER_PRIVATE_KEY, the page asks for the access code printed here.
    """
    from medledger.addressbook import AddressBook
    from medledger.chain.accounts import PRIVATE_KEY_ENV, keystore_address
    from medledger.cli.commands.index import open_indexer
    from medledger.portal import LOOPBACK_HOSTS, PortalConfig, serve

    if not _is_loopback(host) and not public:
        raise click.UsageError(
            f"--host {host} is not a loopback address: the page would answer the network; "
            "pass --public to do it anyway (and put TLS in front)"
        )
    if public and not _is_loopback(host):
        click.echo(
            f"warning: serving on {host}, reachable from the network; sessions travel unencrypted unless "
            "a TLS proxy is in front",
            err=True,
        )
    port = _free_port(host, port)
    chain, deployment, store = app.chain(), app.deployment(), app.store()
    open_indexer(app, db).close()  # binds (or creates) the index database now: a wrong one fails here
    index_db = db or str(app.settings.home / "index" / f"{deployment.chain_id}-{deployment.ledger_address}.sqlite")
    names = AddressBook.load(names_file or app.settings.home / "names.toml")

    keystores: dict[str, Path] = {}
    signer = None
    access_code = None
    account, keystore = app.option("account"), app.option("keystore")
    if account or keystore:
        path = (
            resolve_account(app.settings.home, str(account))
            if account
            else resolve_keystore(app.settings.home, str(keystore))
        )
        keystores[keystore_address(path)] = path
    elif os.environ.get(PRIVATE_KEY_ENV) or app.option("dev_account") is not None:
        signer = app.signer()
        access_code = secrets.token_urlsafe(12)
    else:
        directory = app.settings.home / "keystores"
        for path in sorted(directory.glob("*.json")) if directory.exists() else []:
            try:
                keystores[keystore_address(path)] = path
            except Exception:  # an unreadable file is not an account to offer
                continue
        if not keystores:
            raise click.UsageError(
                f"no account to sign in with: none in {directory}; create one with `medledger account new`, "
                "or pass --keystore FILE (or --dev-account N on a devnet)"
            )
    hosts = frozenset(LOOPBACK_HOSTS | {host.lower()} | {h.lower() for h in allow_hosts})
    config = PortalConfig(
        chain=chain,
        deployment=deployment,
        store=store,
        home=app.settings.home,
        index_db=index_db,
        names=names,
        keystores=keystores,
        signer=signer,
        access_code=access_code,
        policy=app.policy(),
        idle_timeout=idle_timeout * 60,
        hosts=hosts,
    )
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"medledger portal on http://{shown}:{port}/ (Ctrl-C to stop)")
    if access_code:
        click.echo(f"sign in as {signer.address if signer else ''} with the access code: {access_code}")
    else:
        click.echo(f"sign in with the password of {', '.join(keystores)}")
    serve(config, host=host, port=port)
