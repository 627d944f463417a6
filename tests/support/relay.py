"""Driving the real relay in tests and checking its result against the chain: every ledger
entry minted exactly once, recorded where the chain has it."""

from __future__ import annotations

from sqlalchemy import select

from community.models import Role
from rewards.chain.client import credits_contract
from rewards.chain.relay import Relay
from rewards.ledger import points_total
from rewards.models import LedgerEntry, OutboxItem, Wallet
from tests.support.chain import cast_balance, cast_total_supply, minted_ref_counts


def approvals(community, n: int, members: int = 3) -> list[int]:
    staff = community.user(Role.STAFF)
    people = [community.user() for _ in range(members)]
    task = community.task(staff, complexity=20)
    for i in range(n):
        community.approved(people[i % members], staff, task)
    return people


def drain(relay: Relay) -> None:
    for _ in range(50):
        if relay.run_once() == 0:
            return
    raise AssertionError("relay did not drain the outbox")


def assert_exactly_once(db, rpc_url: str, token: str, from_block: int) -> None:
    counts = minted_ref_counts(rpc_url, token, from_block)
    with db.read_sessions() as session:
        entries = session.scalars(select(LedgerEntry)).all()
        rows = session.scalars(select(OutboxItem)).all()
        assert {e.ref for e in entries} == set(counts), "every entry minted, nothing else"
        assert set(counts.values()) == {1}, "no ref minted twice"
        assert all(r.status == "done" and r.tx_hash and r.block_number for r in rows)
        assert cast_total_supply(rpc_url, token) == sum(e.points for e in entries)
        for wallet in session.scalars(select(Wallet)).all():
            assert cast_balance(rpc_url, token, wallet.address) == points_total(session, wallet.user_id)


def recorded_mints(db) -> dict[str, tuple[str, int]]:
    with db.read_sessions() as session:
        return {r.ref: (r.tx_hash, r.block_number) for r in session.scalars(select(OutboxItem))}


def canonical_mints(w3, token: str, from_block: int) -> dict[str, tuple[str, int]]:
    """Where each ref's RewardMinted is on the chain as it is now."""
    event = credits_contract(w3, token).events.RewardMinted()
    logs = event.get_logs(from_block=from_block, to_block="latest")
    return {"0x" + bytes(ev["args"]["ref"]).hex(): ("0x" + bytes(ev["transactionHash"]).hex(),
                                                    ev["blockNumber"]) for ev in logs}
