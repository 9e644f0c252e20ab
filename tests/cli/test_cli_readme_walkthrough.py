"""The README's walkthrough, pasted line by line into a non-interactive bash in a fresh directory
that is not the project: named networks and accounts, everything found through the home.

Each line runs as the user would paste it; its exit status is recorded. Lines whose comment says
"refused" must exit 3, every other line 0. `WALKTHROUGH_README` may point at another file holding
the block (a README draft)."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
from pathlib import Path

from .conftest import clean_environ, medledger_executable

ROOT = Path(__file__).resolve().parents[2]
REFUSED = 3
TIMEOUT = 600


def walkthrough_lines() -> list[str]:
    source = Path(os.environ.get("WALKTHROUGH_README", ROOT / "README.md"))
    text = source.read_text()
    heading = re.search(r"^##[^\n]*A five-minute walkthrough[^\n]*$", text, re.MULTILINE)
    assert heading, f"no walkthrough section in {source}"
    block = re.search(r"^```sh\n(.*?)^```", text[heading.end() :], re.MULTILINE | re.DOTALL)
    assert block, f"no ```sh block in the walkthrough of {source}"
    return [line for line in block.group(1).splitlines() if line.strip() and not line.lstrip().startswith("#")]


def _kill(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)


def test_the_readme_walkthrough_runs_pasted_line_by_line_from_another_directory(tmp_path: Path) -> None:
    lines = walkthrough_lines()
    joined = "\n".join(lines)
    assert "MEDLEDGER_NETWORK=devnet" in joined or "--network" in joined, "the walkthrough uses named networks"
    assert "--account" in joined and "--dev-account 0 " not in joined, "the walkthrough signs with named accounts"
    home, elsewhere, user = tmp_path / "home", tmp_path / "elsewhere", tmp_path / "user"
    elsewhere.mkdir()
    user.mkdir()
    status_file, pids_file = tmp_path / "status", tmp_path / "pids"
    script = []
    for number, line in enumerate(lines):
        script += [line, f'echo "{number} $?" >> {status_file}', f"jobs -p > {pids_file}"]
    bin_dir = str(Path(medledger_executable()).parent)
    env = clean_environ(
        {
            "MEDLEDGER_HOME": str(home),
            "HOME": str(user),
            "PATH": f"{bin_dir}:{os.environ['PATH']}",
            "PYTHONWARNINGS": "",
        }
    )
    try:
        result = subprocess.run(
            ["bash", "-s"],  # a non-interactive shell reading what is pasted
            input="\n".join(script) + "\n",
            cwd=elsewhere,
            env=env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )
    finally:
        pids = [int(p) for p in pids_file.read_text().split()] if pids_file.exists() else []
        _kill(pids)  # the key-release services, if the last line did not stop them
        subprocess.run(
            [medledger_executable(), "devnet", "down"], env=env, cwd=elsewhere, capture_output=True, timeout=60
        )
    statuses = dict(line.split() for line in status_file.read_text().splitlines())
    transcript = f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    for number, line in enumerate(lines):
        expected = REFUSED if "refused" in line.split("#", 1)[-1] and "#" in line else 0
        assert statuses.get(str(number)) == str(expected), f"line {number}: {line}\n{transcript}"
    assert "Traceback" not in result.stderr, transcript
    assert "nothing is deployed" not in result.stderr and "deploy` first" not in result.stderr, transcript
    assert (elsewhere / "clinic.json").read_bytes() == (elsewhere / "labs.json").read_bytes()
    assert not (elsewhere / "narrowed.json").exists()
    assert not (elsewhere / "deployments").exists()  # recorded in the home, not here
    assert (home / "deployments" / "devnet" / "31337.json").exists()
