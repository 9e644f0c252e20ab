"""The device gateway: devices post signed FHIR Observations; each patient's readings are sealed per
window into one encrypted record and anchored on chain by Merkle root (many patients per transaction)."""

from .collector import Gateway, GatewayPolicy
from .errors import GatewayError, GatewayNotAuthorizedError, ReadingRefusedError
from .store import GatewayStore

__all__ = [
    "Gateway",
    "GatewayError",
    "GatewayNotAuthorizedError",
    "GatewayPolicy",
    "GatewayStore",
    "ReadingRefusedError",
]
