"""The devnet's state file: which anvil and IPFS daemon `medledger devnet up` started."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def devnet_dir(home: Path) -> Path:
    return home / "devnet"


def state_file(home: Path) -> Path:
    return devnet_dir(home) / "devnet.json"


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not is_zombie(pid)


def is_zombie(pid: int) -> bool:
    """Exited but not yet reaped (an orphaned devnet process waits for init to reap it)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[-1].split()[0] == "Z"
    except (OSError, IndexError):
        return False


def load_devnet(home: Path) -> dict[str, Any] | None:
    path = state_file(home)
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def load_live_devnet(home: Path) -> dict[str, Any] | None:
    """The devnet record if both of its processes are still running."""
    state = load_devnet(home)
    if state and pid_alive(state.get("anvil", {}).get("pid")) and pid_alive(state.get("ipfs", {}).get("pid")):
        return state
    return None


def save_devnet(home: Path, state: dict[str, Any]) -> None:
    path = state_file(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=1))
    os.replace(tmp, path)
