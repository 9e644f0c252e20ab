"""Start-up: `--help` and bad input answer before any heavy import (web3, eth_account, nacl,
httpx) or connection. Each case runs the real command in a fresh interpreter and looks at what
it imported; the wall time is measured by `make bench-startup`, not here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

GOOD = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"
HEAVY = ("web3", "eth_account", "eth_abi", "nacl", "httpx", "requests")
_PROBE = """
import json, sys
from medledger.cli import main
try:
    main(sys.argv[1:], prog_name="medledger")
except SystemExit as exit:
    code = exit.code
else:
    code = 0
print(json.dumps({"code": code, "heavy": [m for m in %r if m in sys.modules]}), file=sys.__stdout__)
"""


def _run(args: list[str], home: Path) -> tuple[int, list[str], str]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE % (HEAVY,), *args],
        capture_output=True,
        text=True,
        env={"MEDLEDGER_HOME": str(home), "PATH": "/usr/bin:/bin"},
        cwd=home,
        check=False,
        timeout=60,
    )
    report = json.loads(done.stdout.strip().splitlines()[-1])
    return report["code"], report["heavy"], done.stderr.strip()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["consent", "grant", "0xbad", "--categories", "labs", "--purpose", "treatment", "--expires", "90d", "-y"],
            "error: grantee '0xbad' is not an Ethereum address",
        ),
        (
            ["consent", "grant", GOOD[:-1] + "7", "--categories", "labs", "--purpose", "treatment", "--expires", "90d"],
            "has a bad EIP-55 checksum",
        ),
        (
            ["consent", "grant", GOOD, "--categories", "labs", "--purpose", "treatment", "--expires", "90x", "-y"],
            "'90x' is neither a duration",
        ),
        (
            ["consent", "grant", GOOD, "--categories", "labz", "--purpose", "treatment", "--expires", "90d", "-y"],
            "unknown category 'labz'",
        ),
        (["record", "publish", "/missing/lab.json", "--patient", GOOD, "--category", "labs"], "does not exist"),
        (["record", "fetch", "zz", "--patient", GOOD, "--out", "out.json"], "zz is neither a CID"),
        (["record", "list", "--patient", "0xbad"], "patient '0xbad' is not an Ethereum address"),
        (["audit", "0x" + "0" * 40], "patient is the zero address"),
        (["record", "import", ".", "--patient", "0x12", "--category", "labs"], "patient '0x12' is not"),
    ],
)
def test_bad_input_is_refused_in_one_line_before_web3_is_imported(
    args: list[str], message: str, tmp_path: Path
) -> None:
    code, heavy, stderr = _run(args, tmp_path)

    assert code == 2
    assert message in stderr and len(stderr.splitlines()) == 1
    assert heavy == []


def test_help_imports_nothing_heavy(tmp_path: Path) -> None:
    code, heavy, _ = _run(["--help"], tmp_path)

    assert code == 0
    assert heavy == []


def test_a_valid_mixed_case_address_passes_the_early_check() -> None:
    from medledger.cli.usage import check_address

    check_address(GOOD, "patient")  # the EIP-55 spelling of a devnet account: no error
    check_address(GOOD.lower(), "patient")
    check_address(GOOD.upper().replace("0X", "0x"), "patient")
