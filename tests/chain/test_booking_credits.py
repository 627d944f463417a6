"""Acceptance #3: paying for bookings with credits on a real anvil. Booking a priced resource
burns its price on chain exactly once (at once, or when staff approve); a cancellation before
the deadline is refunded exactly once (a mint with its own ref); nobody books beyond their
confirmed balance minus pending spends and holds, so no balance ever goes negative."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from booking import approvals, cancellation
from community.errors import Conflict
from rewards.chain.relay import Relay
from rewards.errors import InsufficientCredits
from rewards.ledger import credits_total, held_credits, spendable_credits
from rewards.models import LedgerEntry, OutboxItem
from rewards.wallets import wallet_of
from tests.support.booking import NOW, POLICY, Centre, at
from tests.support.chain import cast_balance, deploy_for, minted_ref_counts, redeemed_ref_counts

pytestmark = pytest.mark.chain


def drain(relay: Relay) -> None:
    for _ in range(50):
        if relay.run_once() == 0:
            return
    raise AssertionError("the relay did not drain the outbox")


def test_book_burn_cancel_refund_once_and_never_below_zero(db, vault, community, anvil):
    w3, minter, token, block = deploy_for(db, vault, anvil.url)
    relay = Relay(db, w3, minter)
    centre = Centre(db, community)
    room = centre.resource(name="Makerspace", price_per_hour=10, slot_minutes=60, min_minutes=60)
    hall = centre.resource(
        name="Event hall", price_per_hour=20, slot_minutes=60, min_minutes=60, needs_approval=True
    )
    ana = centre.member("Ana")
    with db.read_sessions() as session:
        address = wallet_of(session, ana).address

    def onchain() -> int:
        return cast_balance(anvil.url, token, address)

    def spendable() -> int:
        with db.read_sessions() as session:
            return spendable_credits(session, ana)

    def ref_of(source_key: str) -> str:
        with db.read_sessions() as session:
            return session.scalars(select(LedgerEntry.ref).where(LedgerEntry.source_key == source_key)).one()

    centre.give_credits(ana, 30, delivered=False)
    assert spendable() == 0, "credits count once confirmed on chain, not before"
    with pytest.raises(InsufficientCredits, match="costs 10 credits but you have 0"):
        centre.book(ana, room, at(3, 10), at(3, 11))
    drain(relay)
    assert onchain() == 30 and spendable() == 30

    with pytest.raises(InsufficientCredits, match="costs 40 credits but you have 30"):
        centre.book(ana, room, at(3, 10), at(3, 14))
    paid = centre.book(ana, room, at(3, 10), at(3, 12))
    assert (paid.state, paid.credits) == ("confirmed", 20)
    assert spendable() == 10, "the burn on its way already counts"
    with pytest.raises(InsufficientCredits, match="costs 20 credits but you have 10"):
        centre.book(ana, room, at(4, 10), at(4, 12))
    drain(relay)
    assert onchain() == 10
    burn_ref = ref_of(f"booking:{paid.id}")
    drain(relay)
    assert redeemed_ref_counts(anvil.url, token, block)[burn_ref.lower()] == 1, "burned on chain once"

    cancellation.cancel(db.unit_of_work(), actor_id=ana, booking_id=paid.id, now=NOW, policy=POLICY)
    with pytest.raises(Conflict):
        cancellation.cancel(db.unit_of_work(), actor_id=ana, booking_id=paid.id, now=NOW, policy=POLICY)
    drain(relay)
    refund_ref = ref_of(f"booking:{paid.id}:refund")
    assert refund_ref != burn_ref
    assert minted_ref_counts(anvil.url, token, block)[refund_ref.lower()] == 1, "refunded once"
    assert onchain() == 30 and spendable() == 30

    # Approval: the price is held (nothing burned) until staff approve, then burned once.
    pending = centre.book(ana, hall, at(5, 10), at(5, 11))
    assert (pending.state, pending.credits) == ("pending", 20)
    drain(relay)
    assert onchain() == 30 and spendable() == 10
    with db.read_sessions() as session:
        assert held_credits(session, ana) == 20
    with pytest.raises(InsufficientCredits):
        centre.book(ana, room, at(4, 14), at(4, 16))
    approvals.decide(
        db.unit_of_work(), staff_id=centre.staff, booking_id=pending.id, approve=True, now=NOW, policy=POLICY
    )
    drain(relay)
    assert onchain() == 10 and spendable() == 10
    assert redeemed_ref_counts(anvil.url, token, block)[ref_of(f"booking:{pending.id}").lower()] == 1
    # Past the deadline there is no refund: the credits stay spent.
    with pytest.raises(Conflict, match="too late"):
        cancellation.cancel(
            db.unit_of_work(), actor_id=ana, booking_id=pending.id, now=at(4, 11), policy=POLICY
        )

    with db.read_sessions() as session:
        assert credits_total(session, ana) == onchain() == 10
        rows = session.scalars(select(OutboxItem)).all()
        assert all(r.status == "done" for r in rows)
        assert spendable_credits(session, ana) >= 0
