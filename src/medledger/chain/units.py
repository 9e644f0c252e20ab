"""Amounts as people read them: ether for balances and costs, gwei for fees per gas (exact, no float)."""

from __future__ import annotations

from decimal import Decimal

GWEI = 10**9
ETHER = 10**18


def _exact(wei: int, unit: int) -> str:
    text = f"{Decimal(wei) / Decimal(unit):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def ether(wei: int) -> str:
    """`1500000000000000000` -> `1.5 ETH`."""
    return _exact(wei, ETHER) + " ETH"


def gwei(wei: int) -> str:
    """`2500000000` -> `2.5 gwei`."""
    return _exact(wei, GWEI) + " gwei"
