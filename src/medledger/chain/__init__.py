"""Ethereum plumbing: connections, accounts, transactions, deployment, revert decoding.

Knows nothing of medicine: it deploys and drives whatever compiled artifact it is given.
"""
