"""Badges on a real anvil: a crossed threshold is minted once whatever the relay goes through,
the token cannot move, and revoking the contribution that crossed it keeps the badge."""

from __future__ import annotations

import pytest
from eth_account import Account
from sqlalchemy import select
from web3 import Web3
from web3.exceptions import ContractCustomError

from community import contributions
from community.models import Role
from rewards import badges
from rewards.badges import award_badges, member_metrics
from rewards.chain.client import badges_contract
from rewards.chain.lanes import BadgeLane
from rewards.chain.relay import Relay
from rewards.chain.transactions import send_signed, wait
from rewards.ledger import points_total
from rewards.models import BadgeAward, LedgerEntry, OutboxItem
from rewards.wallets import wallet_of
from tests.support.loyalty import Chain, badge_balance, badge_mints, balance

pytestmark = pytest.mark.chain

TRANSFER_DISABLED = Web3.to_hex(Web3.keccak(text="KopaBadgesTransferDisabled(address,address)")[:4])


def award(db, member: int) -> list[str]:
    """What approval does after its ledger writes (idempotent: a no-op if it already ran)."""
    with db.write_sessions() as session, session.begin():
        return [a.level.name for a in award_badges(session, member)]


def held(db, member: int) -> list[str]:
    with db.read_sessions() as session:
        return sorted(b.name for b in badges.earned_badges(session, member))


def test_badge_minted_once_soulbound_and_kept_after_revocation(db, vault, community, anvil, monkeypatch):
    chain = Chain(db, vault, anvil.url)
    admin, staff, member, other = (community.user(Role.ADMIN), community.user(Role.STAFF), community.user(),
                                   community.user())
    badge_id = badges.save_badge(db.unit_of_work(), actor_id=admin, name="Co-creator",
                                 metric="approved_contributions", thresholds=[2, 3])
    task = community.task(staff, complexity=20)
    community.approved(member, staff, task)
    award(db, member)
    assert held(db, member) == []
    crossing = community.approved(member, staff, task)
    award(db, member)
    assert held(db, member) == ["Co-creator I"]
    chain.drain()  # mints of the points; the badge row is delivered too
    with db.read_sessions() as session:
        wallet = wallet_of(session, member).address
        award_row = session.scalars(select(BadgeAward).where(BadgeAward.member_id == member)).one()
        row = session.scalars(select(OutboxItem).where(OutboxItem.ref == award_row.ref)).one()
        assert row.kind == "badge" and row.status == "done" and row.tx_hash and row.block_number
        assert row.contract_address == chain.badges
    token_id = badge_id * 100 + 1
    assert badge_balance(anvil.url, chain.badges, wallet, token_id) == 1
    assert badge_mints(anvil.url, chain.badges, chain.block)[award_row.ref] == 1

    # Relay killed between sending and recording, then run twice more: still one mint.
    community.approved(other, staff, task)
    community.approved(other, staff, task)
    award(db, other)
    crashing = Relay(db, chain.w3, chain.minter)
    record = crashing.book.mark_done

    def killed_before_recording_badges(lane, rows, found):
        if lane.kind == "badge":
            raise SystemExit("killed")
        record(lane, rows, found)

    monkeypatch.setattr(crashing.book, "mark_done", killed_before_recording_badges)
    with pytest.raises(SystemExit):
        crashing.run_once()
    with db.read_sessions() as session:
        other_wallet = wallet_of(session, other).address
        other_ref = session.scalars(select(BadgeAward.ref).where(BadgeAward.member_id == other)).one()
        assert session.scalars(select(OutboxItem.status).where(OutboxItem.ref == other_ref)).one() == "sent"
    assert badge_mints(anvil.url, chain.badges, chain.block)[other_ref] == 1, "on chain, not recorded"
    chain.drain(Relay(db, chain.w3, chain.minter))
    chain.drain(Relay(db, chain.w3, chain.minter))
    assert badge_mints(anvil.url, chain.badges, chain.block)[other_ref] == 1
    assert badge_balance(anvil.url, chain.badges, other_wallet, token_id) == 1
    with db.read_sessions() as session:
        row = session.scalars(select(OutboxItem).where(OutboxItem.ref == other_ref)).one()
        assert row.status == "done" and row.tx_hash and row.last_error is None

    # Resending the very same batch mints nothing: the contract skips used refs and held ids.
    lane = next(lane for lane in Relay(db, chain.w3, chain.minter).lanes if isinstance(lane, BadgeLane))
    lane.relay.prepare()
    with db.read_sessions() as session:
        rows = session.scalars(select(OutboxItem).where(OutboxItem.kind == "badge")).all()
    tx = lane.batch_call(rows).build_transaction({"from": chain.minter.address, "gas": 500_000})
    assert wait(chain.w3, send_signed(chain.w3, chain.minter, tx, gas=500_000))["status"] == 1
    assert set(badge_mints(anvil.url, chain.badges, chain.block).values()) == {1}

    # Soulbound: a transfer by the holder reverts with the contract's custom error.
    with db.read_sessions() as session:
        key = vault.decrypt(wallet_of(session, member).encrypted_key, wallet)
    holder = Account.from_key(key)
    contract = badges_contract(chain.w3, chain.badges)
    transfer = contract.functions.safeTransferFrom(holder.address, other_wallet, token_id, 1, b"")
    with pytest.raises(ContractCustomError) as refused:
        transfer.call({"from": holder.address})
    assert refused.value.data.startswith(TRANSFER_DISABLED), refused.value.data
    tx = transfer.build_transaction({"from": holder.address, "gas": 200_000, "maxFeePerGas": 0,
                                     "maxPriorityFeePerGas": 0})
    assert wait(chain.w3, send_signed(chain.w3, holder, tx, gas=200_000))["status"] == 0
    assert badge_balance(anvil.url, chain.badges, wallet, token_id) == 1

    # Revoking the contribution that crossed the threshold: recorded in the ledger, burned on
    # chain, the badge stays; the count must be re-earned before the NEXT level.
    points_before = balance(anvil.url, chain.credits, wallet)
    contributions.revoke_contribution(db.unit_of_work(), validator_id=staff, contribution_id=crossing,
                                      comment="duplicate of an earlier contribution")
    assert award(db, member) == []
    chain.drain()
    with db.read_sessions() as session:
        revocation = session.scalars(
            select(LedgerEntry).where(LedgerEntry.contribution_id == crossing,
                                      LedgerEntry.cause == "revocation")
        ).one()
        assert revocation.points == -20
        assert revocation.outbox.kind == "burn" and revocation.outbox.status == "done"
        assert member_metrics(session, member)["approved_contributions"] == 1
        on_chain = balance(anvil.url, chain.credits, wallet)
        assert on_chain == points_before - 20 == points_total(session, member)
    assert held(db, member) == ["Co-creator I"], "the badge is kept"
    assert badge_balance(anvil.url, chain.badges, wallet, token_id) == 1

    community.approved(member, staff, task)  # back to 2: level I is held already
    award(db, member)
    assert held(db, member) == ["Co-creator I"]
    community.approved(member, staff, task)  # 3: level II
    award(db, member)
    assert held(db, member) == ["Co-creator I", "Co-creator II"]
    chain.drain()
    assert badge_balance(anvil.url, chain.badges, wallet, token_id + 1) == 1
    assert set(badge_mints(anvil.url, chain.badges, chain.block).values()) == {1}
