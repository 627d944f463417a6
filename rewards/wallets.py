"""Custodial wallets: generated server-side, stored encrypted, only the address leaves."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from community.db import UnitOfWork
from community.events import MemberRegistered
from rewards.models import Wallet
from rewards.vault import KeyVault

# Returns (checksummed address, 32-byte private key); rewards.chain.keys provides it.
NewAccount = Callable[[], tuple[str, bytes]]


def create_wallet(session: Session, user_id: int, new_account: NewAccount, vault: KeyVault) -> Wallet:
    address, private_key = new_account()
    wallet = Wallet(
        user_id=user_id, address=address, encrypted_key=vault.encrypt(private_key, address)
    )
    session.add(wallet)
    return wallet


def wallet_of(session: Session, user_id: int) -> Wallet | None:
    return session.scalars(select(Wallet).where(Wallet.user_id == user_id)).one_or_none()


def open_wallet(
    uow: UnitOfWork, event: MemberRegistered, *, new_account: NewAccount, vault: KeyVault
) -> None:
    """Every member gets a custodial wallet in the transaction that registers them."""
    create_wallet(uow.session, event.member_id, new_account, vault)
