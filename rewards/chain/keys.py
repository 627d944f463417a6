"""Key generation for custodial wallets and the platform's minter."""

from __future__ import annotations

from eth_account import Account


def new_account() -> tuple[str, bytes]:
    """A fresh secp256k1 key from the OS's CSPRNG; returns (checksum address, key bytes)."""
    account = Account.create()
    return account.address, bytes(account.key)


def address_of(private_key: bytes | str) -> str:
    return Account.from_key(private_key).address
