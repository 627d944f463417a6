"""The platform's minter account: generated once, stored encrypted like member wallets."""

from __future__ import annotations

import os

from eth_account import Account
from eth_account.signers.local import LocalAccount
from sqlalchemy.orm import Session

from rewards.chain.keys import new_account
from rewards.models import Setting
from rewards.vault import KeyVault


def minter_account(session: Session, vault: KeyVault) -> LocalAccount:
    """``KOPA_MINTER_KEY`` wins (keys kept in a secrets manager); otherwise the key that
    this instance generated for itself on first start."""
    if os.environ.get("KOPA_MINTER_KEY"):
        return Account.from_key(os.environ["KOPA_MINTER_KEY"])
    address_row = session.get(Setting, "minter_address")
    key_row = session.get(Setting, "minter_key")
    if address_row is None or key_row is None:
        address, key = new_account()
        session.merge(Setting(key="minter_address", value=address))
        session.merge(Setting(key="minter_key", value=vault.encrypt(key, address).hex()))
        session.commit()
        return Account.from_key(key)
    return Account.from_key(vault.decrypt(bytes.fromhex(key_row.value), address_row.value))
