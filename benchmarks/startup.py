"""Start-up benchmark: wall time of `medledger --help` and of bad-input errors, which must answer
before any heavy import (web3, eth_account, nacl, httpx) or connection.

Each command runs RUNS times as a fresh process (`python -m medledger.cli`, as the `medledger`
script does); the table gives the minimum and median wall time, the exit code, and whether web3
was imported (`-X importtime`, one more run). No chain, IPFS daemon or network is needed.

Run with `make bench-startup`, or `python benchmarks/startup.py [--runs 10]`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

GOOD = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"
COMMANDS: list[tuple[str, list[str]]] = [
    ("medledger --help", ["--help"]),
    ("medledger --version", ["--version"]),
    ("medledger consent grant --help", ["consent", "grant", "--help"]),
    (
        "consent grant 0xbad ...",
        ["consent", "grant", "0xbad", "--categories", "labs", "--purpose", "treatment", "--expires", "90d", "-y"],
    ),
    (
        "consent grant ... --expires 90x",
        ["consent", "grant", GOOD, "--categories", "labs", "--purpose", "treatment", "--expires", "90x", "-y"],
    ),
    (
        "consent grant ... --categories labz",
        ["consent", "grant", GOOD.lower(), "--categories", "labz", "--purpose", "treatment", "--expires", "90d"],
    ),
    (
        "record publish /missing ...",
        ["record", "publish", "/missing/file.json", "--patient", GOOD, "--category", "labs"],
    ),
    ("record fetch zz ...", ["record", "fetch", "zz", "--patient", GOOD, "--out", "out.json"]),
    ("record list --patient 0xbad", ["record", "list", "--patient", "0xbad"]),
    ("audit 0xbad", ["audit", "0xbad"]),
]


def run(args: list[str], env: dict[str, str], cwd: str) -> tuple[float, int]:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "medledger.cli", *args], env=env, cwd=cwd, capture_output=True, check=False
    )
    return time.perf_counter() - started, done.returncode


def imports_web3(args: list[str], env: dict[str, str], cwd: str) -> bool:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "medledger.cli", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    return any(line.rsplit("|", 1)[-1].strip() == "web3" for line in done.stderr.splitlines())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="medledger-bench-startup-") as home:
        # No network configured and no devnet running: an error that needed one would say so.
        env = {key: value for key, value in os.environ.items() if not key.startswith("MEDLEDGER_")}
        env["MEDLEDGER_HOME"] = home
        alone = []
        for _ in range(3):
            started = time.perf_counter()
            subprocess.run([sys.executable, "-c", "pass"], check=False)
            alone.append(time.perf_counter() - started)
        python_alone = min(alone)
        print(f"start-up, {options.runs} runs each; load average {os.getloadavg()[0]:.1f}")
        print(f"(python -c pass alone: {python_alone * 1000:.0f} ms)")
        print(f"{'command':<40}{'min ms':>8}{'median ms':>11}{'exit':>6}{'web3':>6}")
        for label, args in COMMANDS:
            times, code = [], 0
            for _ in range(options.runs):
                elapsed, code = run(args, env, home)
                times.append(elapsed)
            web3 = "yes" if imports_web3(args, env, home) else "no"
            print(f"{label:<40}{min(times) * 1000:>8.0f}{statistics.median(times) * 1000:>11.0f}{code:>6}{web3:>6}")


if __name__ == "__main__":
    main()
