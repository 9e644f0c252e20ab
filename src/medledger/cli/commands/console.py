"""`medledger console`: a Python shell with the network, the account, the typed ledger and a session open."""

from __future__ import annotations

import sys
import traceback
from pathlib import Path
from typing import Any

import click

from medledger.cli.context import EXIT_FAILED, AppContext, connection_options, guarded, pass_app


@click.command("console")
@click.argument("script", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-c", "code_text", default=None, metavar="CODE", help="Run CODE (Python) instead of a shell.")
@click.option("--no-ipython", is_flag=True, help="Use Python's own shell even when IPython is installed.")
@connection_options
@pass_app
@guarded
def command(app: AppContext, script: Path | None, code_text: str | None, no_ipython: bool) -> None:
    """An interactive Python shell (IPython when installed) with `chain`, `account`, `ledger` (the
    typed MedLedger), `session` (for the flows), `deployment`, `network` and the `medledger`
    package ready, for the selected --network and --account, as `brownie console` gives.

    `-c CODE` or a SCRIPT file runs without a shell; its exceptions print a traceback and exit 1.
    Without an account, `ledger` only reads and `account` and `session` are None. On the embedded
    network a fresh MedLedger is deployed for the session."""
    if script is not None and code_text is not None:
        raise click.UsageError("give -c CODE or a SCRIPT, not both")
    namespace = _namespace(app)
    if code_text is not None or script is not None:
        source = code_text if code_text is not None else script.read_text()  # type: ignore[union-attr]
        filename = "<-c>" if code_text is not None else str(script)
        namespace["__name__"] = "__main__"
        try:
            exec(compile(source, filename, "exec"), namespace)
        except SystemExit:
            raise
        except BaseException:
            traceback.print_exc()
            sys.exit(EXIT_FAILED)
        return
    banner = _banner(namespace)
    if not no_ipython and sys.stdin.isatty():
        try:
            from IPython import start_ipython  # type: ignore[import-not-found,unused-ignore]
        except ImportError:
            pass
        else:
            click.echo(banner)
            start_ipython(argv=["--no-banner"], user_ns=namespace)
            return
    import code  # the interpreter's console: only when one is opened

    code.interact(banner=banner, local=namespace, exitmsg="")


def _namespace(app: AppContext) -> dict[str, Any]:
    import medledger

    chain = app.chain()
    try:
        account = app.signer()
    except click.UsageError:
        account = None  # read-only: no account was selected
    deployment = app.deployment()
    ledger = app.ledger(signed=account is not None)
    session = app.session() if account is not None else None
    return {
        "medledger": medledger,
        "network": app.target(),
        "chain": chain,
        "account": account,
        "deployment": deployment,
        "ledger": ledger,
        "session": session,
    }


def _banner(namespace: dict[str, Any]) -> str:
    network, chain, account = namespace["network"], namespace["chain"], namespace["account"]
    who = account.address if account is not None else "none (read-only; pass --account NAME)"
    return "\n".join(
        [
            f"medledger console: network {network.name} (chain {chain.chain_id}, {chain.endpoint})",
            "  chain       Chain: web3 as chain.w3, chain.now()",
            f"  account     Signer: {who}",
            f"  ledger      MedLedger at {namespace['deployment'].ledger_address} "
            "(ledger.consent, .records, .providers, .keys, .services ...)",
            "  session     flows Session: medledger.flows.consent.grant(session, ...)"
            if namespace["session"] is not None
            else "  session     None (no account)",
            "  deployment  the deployment record",
            "  medledger   the package",
        ]
    )
