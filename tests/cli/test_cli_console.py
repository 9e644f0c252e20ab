"""`medledger console`: a Python shell with chain, account, ledger, session and medledger open,
driven here as a user's script would: through stdin, -c CODE and a script file."""

from __future__ import annotations

import subprocess
from pathlib import Path

from .conftest import PATIENT, SUBPROCESS_TIMEOUT, Cli, address, clean_environ, medledger_executable

FAILED = 1


def _console(cli: Cli, *args: object, stdin: str = "", account: int | None = PATIENT) -> subprocess.CompletedProcess:
    argv = [
        medledger_executable(),
        *cli.argv(["console", *map(str, args)], account=account, connect=True, as_json=False),
    ]
    return subprocess.run(
        argv,
        cwd=cli.workdir,
        env=clean_environ(cli.env),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT,
    )


def test_the_console_reads_python_from_stdin_with_everything_open(world: Cli) -> None:
    result = _console(
        world,
        stdin="print('chain', chain.chain_id)\nprint('account', account.address)\n"
        "print('ledger', ledger.address == deployment.ledger_address)\n"
        "print('session', type(session).__name__, medledger.__name__)\n",
    )
    assert result.returncode == 0, result.stderr
    assert "chain 31337" in result.stdout
    assert f"account {address(PATIENT)}" in result.stdout
    assert "ledger True" in result.stdout
    assert "session Session medledger" in result.stdout


def test_the_banner_names_the_network_and_every_ready_object(world: Cli) -> None:
    banner = _console(world, stdin="").stderr
    assert "medledger console: network unnamed (chain 31337" in banner
    for name in ("chain", "account", "ledger", "session", "deployment", "medledger"):
        assert f"\n  {name} " in banner
    assert address(PATIENT) in banner


def test_dash_c_runs_code_against_the_typed_ledger(world: Cli) -> None:
    code = "print(ledger.keys.encryption_key_of(account.address) is not None)"
    result = _console(world, "-c", code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"  # the world published the patient's key


def test_a_script_file_runs_with_the_same_names(world: Cli, tmp_path: Path) -> None:
    script = tmp_path / "script.py"
    script.write_text("import sys\nprint(account.address, file=sys.stdout)\n")
    result = _console(world, script)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == address(PATIENT)


def test_an_exception_in_dash_c_prints_its_traceback_and_exits_1(world: Cli) -> None:
    result = _console(world, "-c", "raise ValueError('boom')")
    assert result.returncode == FAILED
    assert "ValueError: boom" in result.stderr


def test_without_an_account_the_console_is_read_only(world: Cli) -> None:
    result = _console(world, "-c", "print(account, session, ledger.signer)", account=None)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "None None None"


def test_the_embedded_network_gives_a_fresh_ledger_for_the_session(cli: Cli) -> None:
    argv = [medledger_executable(), "--home", str(cli.home), "console", "--network", "embedded", "--dev-account", "0"]
    result = subprocess.run(
        [*argv, "-c", "print(chain.is_embedded, ledger.providers.is_registrar(account.address))"],
        cwd=cli.workdir,
        env=clean_environ(),
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True False"
