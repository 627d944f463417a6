"""Revocation on a real anvil: the member's on-chain balance drops by exactly the revoked
points, once, whatever happens to the relay in between (issue #3, acceptance 2)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from community import contributions
from community.models import Role
from rewards.chain.relay import Relay
from rewards.ledger import credits_total, spend_credits
from rewards.models import LedgerEntry, OutboxItem, Wallet
from tests.support.chain import (
    cast_balance,
    cast_total_supply,
    deploy_for,
    minted_ref_counts,
    redeemed_ref_counts,
)
from tests.support.relay import drain

pytestmark = pytest.mark.chain


def _wallet(db, member: int) -> str:
    with db.read_sessions() as session:
        return session.scalars(select(Wallet.address).where(Wallet.user_id == member)).one()


def _revoke(db, staff: int, cid: int) -> LedgerEntry:
    [entry_id] = contributions.revoke_contribution(db.unit_of_work(), validator_id=staff, contribution_id=cid,
                                                   comment="evidence was copied")
    with db.read_sessions() as session:
        return session.get(LedgerEntry, entry_id)


def _ledger_matches_chain(db, rpc_url: str, token: str) -> None:
    with db.read_sessions() as session:
        for wallet in session.scalars(select(Wallet)).all():
            assert cast_balance(rpc_url, token, wallet.address) == credits_total(session, wallet.user_id)
        assert cast_total_supply(rpc_url, token) == sum(session.scalars(select(LedgerEntry.points)).all())


def test_revocation_burns_exactly_once_even_if_the_relay_is_killed(db, vault, community, anvil, monkeypatch):
    w3, minter, token, block = deploy_for(db, vault, anvil.url)
    staff, member, other = community.user(Role.STAFF), community.user(), community.user()
    keep = community.approved(member, staff, community.task(staff, complexity=60))
    revoked = community.approved(member, staff, community.task(staff, complexity=40))
    community.approved(other, staff, community.task(staff, complexity=80))
    drain(Relay(db, w3, minter))
    assert cast_balance(anvil.url, token, _wallet(db, member)) == 100

    entry = _revoke(db, staff, revoked)
    assert (entry.points, entry.cause) == (-40, "revocation")

    # Killed after the burn was broadcast and mined, before it was recorded.
    crashing = Relay(db, w3, minter)
    monkeypatch.setattr(crashing.book, "mark_done", lambda *a: (_ for _ in ()).throw(SystemExit("killed")))
    with pytest.raises(SystemExit):
        crashing.run_once()
    with db.read_sessions() as session:
        burn = session.scalars(select(OutboxItem).where(OutboxItem.kind == "burn")).one()
        assert burn.status == "sent"
    assert cast_balance(anvil.url, token, _wallet(db, member)) == 60

    # A fresh relay finds the burn on chain, records it, and burns nothing more.
    drain(Relay(db, w3, minter))
    drain(Relay(db, w3, minter))
    assert cast_balance(anvil.url, token, _wallet(db, member)) == 60
    assert cast_balance(anvil.url, token, _wallet(db, other)) == 80
    burns = redeemed_ref_counts(anvil.url, token, block)
    assert burns == {entry.ref: 1}
    assert set(minted_ref_counts(anvil.url, token, block).values()) == {1}
    with db.read_sessions() as session:
        burn = session.scalars(select(OutboxItem).where(OutboxItem.kind == "burn")).one()
        assert (burn.status, burn.amount) == ("done", 40)
        assert burn.tx_hash and burn.block_number
    _ledger_matches_chain(db, anvil.url, token)
    assert keep  # the other contribution of the same member kept its 60


def test_revocation_before_the_mint_was_delivered(db, vault, community, anvil):
    """Mint and burn are both pending: one relay pass delivers the mint, then the burn."""
    w3, minter, token, _ = deploy_for(db, vault, anvil.url)
    staff, member = community.user(Role.STAFF), community.user()
    cid = community.approved(member, staff, community.task(staff, complexity=20))
    _revoke(db, staff, cid)
    drain(Relay(db, w3, minter))
    assert cast_balance(anvil.url, token, _wallet(db, member)) == 0
    _ledger_matches_chain(db, anvil.url, token)


def test_a_burn_larger_than_the_balance_waits_instead_of_going_negative(db, vault, community, anvil):
    w3, minter, token, _ = deploy_for(db, vault, anvil.url)
    staff, member = community.user(Role.STAFF), community.user()
    cid = community.approved(member, staff, community.task(staff, complexity=40))
    relay = Relay(db, w3, minter)
    drain(relay)
    with db.write_sessions() as session, session.begin():
        spend_credits(session, member_id=member, amount=30, cause="redemption", source_key="test:spend")
    drain(relay)
    assert cast_balance(anvil.url, token, _wallet(db, member)) == 10
    _revoke(db, staff, cid)  # 40 to burn, 10 on chain
    assert relay.run_once() == 0
    with db.read_sessions() as session:
        burn = session.scalars(select(OutboxItem).where(OutboxItem.kind == "burn",
                                                        OutboxItem.amount == 40)).one()
        assert burn.status == "pending" and "waiting" in burn.last_error
    assert cast_balance(anvil.url, token, _wallet(db, member)) == 10
    community.approved(member, staff, community.task(staff, complexity=40))  # earns 40 more
    drain(relay)
    assert cast_balance(anvil.url, token, _wallet(db, member)) == 10
    _ledger_matches_chain(db, anvil.url, token)
