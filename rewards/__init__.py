"""Rewards domain: the append-only points ledger, the mint outbox, standings, wallets.

Only ``rewards.chain`` talks to the blockchain; everything else here is plain Python.
"""
