"""Register an anvil development network with eth-brownie (`make brownie-network`).

eth-brownie keeps its networks in ~/.brownie/network-config.yaml, and a project's
brownie-config.yaml can change a development network's `cmd_settings` but not its `cmd` (the
program brownie launches). So the network is added, or modified when its settings changed,
with `brownie networks add|modify`; when it is already as wanted nothing runs (brownie's CLI
takes seconds to start).

The `cmd` is the bare word `anvil`: brownie picks its launcher by the command's first word (an
absolute path would get the ganache launcher, which fails on anvil's --version), so the anvil
binary is found on PATH; make puts build/bin, where it links node_modules' anvil, first on PATH.

Run with the brownie venv's Python:
    .venv-brownie/bin/python tools/brownie_network.py --id medledger-anvil --port 8545
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import yaml

HOST = "http://127.0.0.1"
CMD = "anvil"


def wanted_settings(port: int) -> dict[str, object]:
    """anvil flags via brownie's names: base fee 0 because brownie's development gas_price is 0."""
    return {"port": port, "accounts": 10, "evm_version": "cancun", "base_fee": 0}


def current_entry(config: Path, network_id: str) -> dict | None:
    if not config.exists():
        return None
    data = yaml.safe_load(config.read_text()) or {}
    return next((entry for entry in data.get("development") or [] if entry.get("id") == network_id), None)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--id", default="medledger-anvil", help="brownie network id")
    parser.add_argument("--port", type=int, default=8545)
    parser.add_argument("--brownie", default=str(Path(sys.executable).with_name("brownie")))
    args = parser.parse_args()

    config = Path.home() / ".brownie" / "network-config.yaml"
    settings = wanted_settings(args.port)
    entry = current_entry(config, args.id)
    if (
        entry is not None
        and entry.get("cmd") == CMD
        and entry.get("host") == HOST
        and entry.get("cmd_settings") == settings
    ):
        return 0
    fields = [f"cmd={CMD}", f"host={HOST}", *(f"{key}={value}" for key, value in settings.items())]
    if entry is None:
        command = [
            args.brownie,
            "networks",
            "add",
            "development",
            args.id,
            "name=medledger anvil (node_modules)",
            *fields,
        ]
    else:
        command = [args.brownie, "networks", "modify", args.id, *fields]
    return subprocess.run(command, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
