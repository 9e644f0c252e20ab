"""medledger."""
