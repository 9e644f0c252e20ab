"""Threshold key release: the service that releases one share of a record's data key to a reader
whose access holds on chain and is logged, and the reader's client that combines k shares.

Knows the ledger, the crypto container and header proofs; knows nothing of flows or the CLI.
"""

from .errors import ConfigError, KeyServiceError, ReleaseFailedError, ReleaseRefusedError, ServiceAttempt

__all__ = ["ConfigError", "KeyServiceError", "ReleaseFailedError", "ReleaseRefusedError", "ServiceAttempt"]
