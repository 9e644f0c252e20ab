"""The `medledger` command. Library code never prints; this package does."""

from __future__ import annotations

from pathlib import Path

import click

from medledger.cli.commands import (
    account,
    admin,
    audit,
    claim,
    consent,
    console,
    demo,
    deploy,
    devnet,
    doctor,
    emergency,
    gateway,
    guardian,
    index,
    keys,
    keyservice,
    networks,
    portal,
    provider,
    record,
    record_import,
    relay,
    storage,
    study,
)
from medledger.cli.context import AppContext
from medledger.cli.settings import DEFAULT_HOME, Settings
from medledger.cli.usage import OneLineErrorsGroup, name_the_vocabulary


@click.group(cls=OneLineErrorsGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="MEDLEDGER_HOME",
    default=DEFAULT_HOME,
    show_default=True,
    help="Local state: keystores, journal, devnet, block store.",
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="MEDLEDGER_CONFIG",
    default=None,
    help="Config file (TOML) [default: <home>/config.toml].",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON output.")
@click.version_option(package_name="medledger")
@click.pass_context
def main(ctx: click.Context, home: Path, config_file: Path | None, as_json: bool) -> None:
    """medledger: patient-controlled consent and encrypted medical records on Ethereum + IPFS.

    Settings come from flags, then MEDLEDGER_* environment variables, then the config file.
    Exit codes: 0 ok, 1 failed, 2 bad input, 3 refused by the rules (on chain or by the
    key-release services), 4 a node did not answer.
    """
    settings = Settings(home=home, config_file=config_file, json=as_json)
    try:
        settings.load_config()
    except click.ClickException as exc:  # one clear line, as for every other bad input
        click.echo(f"error: {exc.format_message()}", err=True)
        ctx.exit(exc.exit_code)
    ctx.obj = AppContext(settings)


for module in (
    account,
    networks,
    console,
    doctor,
    deploy,
    admin,
    provider,
    keys,
    consent,
    guardian,
    record,
    emergency,
    relay,
    audit,
    index,
    devnet,
    demo,
    keyservice,
    gateway,
    storage,
    portal,
    claim,
    study,
):
    main.add_command(module.command)
main.add_command(index.export)
record.command.add_command(record_import.command)
record.command.add_command(record_import.fetch_all)
deploy.command.add_command(claim.deploy_claims)
deploy.command.add_command(study.deploy_studies)


def _set_json(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        app = ctx.find_object(AppContext)
        if app is not None:
            app.settings.json = True


def _accept_json_after(command: click.Command) -> None:
    """`medledger consent list --json` means what `medledger --json consent list` does."""
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            _accept_json_after(sub)
        if not command.invoke_without_command:  # a group that is a command too (`deploy`) takes it as well
            return
    if not any("--json" in param.opts for param in command.params):
        command.params.append(
            click.Option(
                ["--json"], is_flag=True, expose_value=False, callback=_set_json, help="Machine-readable JSON output."
            )
        )


for _command in main.commands.values():
    _accept_json_after(_command)
    name_the_vocabulary(_command)

__all__ = ["main"]
