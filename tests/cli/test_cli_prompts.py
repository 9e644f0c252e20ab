"""Every question the CLI asks names the way to skip it, so a walkthrough pasted into a
non-interactive shell knows what to pass: confirmations name --yes, password and key prompts the
environment variable. Run in a pseudo-terminal, as a person would see them."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import time
from pathlib import Path

import pytest

from .conftest import CLINIC, PATIENT, Cli, address, clean_environ, medledger_executable

pytestmark = [pytest.mark.anvil, pytest.mark.ipfs]


def _first_question(cli: Cli, *args: object, account: int | None, env: dict[str, str] | None = None) -> str:
    """Run `medledger ARGS` on a terminal until it asks something; answer no (or nothing); return the question."""
    leader, follower = pty.openpty()
    argv = [medledger_executable(), *cli.argv([str(a) for a in args], account=account, connect=True, as_json=False)]
    process = subprocess.Popen(
        argv, cwd=cli.workdir, env=clean_environ(env), stdin=follower, stdout=follower, stderr=follower
    )
    os.close(follower)
    seen = b""
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not seen.rstrip().endswith((b"?", b"]:", b":")):
            ready, _, _ = select.select([leader], [], [], 0.5)
            if ready:
                try:
                    seen += os.read(leader, 4096)
                except OSError:
                    break
            elif process.poll() is not None:
                break
        os.write(leader, b"n\n")
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(leader)
    return seen.decode(errors="replace").strip().splitlines()[-1]


def test_the_consent_confirmation_names_yes(world: Cli) -> None:
    grant = ["consent", "grant", address(CLINIC), "--categories", "labs", "--purpose", "treatment", "--expires", "30d"]
    question = _first_question(world, *grant, account=PATIENT)
    assert question.startswith("Send this transaction?") and "--yes" in question


def test_the_erase_confirmation_names_yes(world: Cli) -> None:
    question = _first_question(world, "record", "erase", "0x" + "11" * 32, account=PATIENT)
    assert question.startswith("Erase record 0x1111") and "--yes" in question


def test_the_keystore_password_prompt_names_the_environment_variable(world: Cli, tmp_path: Path) -> None:
    created = world.json("account", "new", "--kdf", "pbkdf2", connect=False, env={"MEDLEDGER_PASSWORD": "secret"})
    assert isinstance(created, dict)
    question = _first_question(world, "keys", "publish", "--keystore", created["keystore"], account=None)
    assert "Password for" in question and "MEDLEDGER_PASSWORD" in question
