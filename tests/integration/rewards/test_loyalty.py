"""Tiers, badges and the catalogue at service level, on SQLite and PostgreSQL; credits are
confirmed by the real relay on anvil."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import select

from community import contributions
from community.db import utcnow
from community.errors import Conflict, Forbidden, InvalidInput, NotFound
from community.models import Role
from rewards import badges, catalogue, loyalty
from rewards.badges import award_badges, longest_week_streak
from rewards.catalogue import LimitReached, NotAvailable, OutOfStock, WrongState
from rewards.errors import InsufficientCredits
from rewards.ledger import (
    SPENDING,
    entry_ref,
    hashed_ref,
    instance_id,
    pending_burns,
    points_total,
    spendable_credits,
)
from rewards.models import BadgeAward, CatalogueItem, LedgerEntry, OutboxItem, Redemption
from rewards.wallets import wallet_of
from tests.support.loyalty import Chain, balance, fund, redeemed_by_ref

pytestmark = pytest.mark.chain


@pytest.fixture
def chain(db, vault, anvil):
    return Chain(db, vault, anvil.url)


@pytest.fixture
def admin(community):
    return community.user(Role.ADMIN)


@pytest.fixture
def staff(community):
    return community.user(Role.STAFF)


def tiers(db, admin):
    for name, points, rank, discount in [("Bronze", 0, 1, 0), ("Silver", 100, 2, 5), ("Gold", 300, 3, 10)]:
        loyalty.save_tier(db.unit_of_work(), actor_id=admin, name=name, min_points=points, rank=rank,
                          discount_percent=discount)


def item(db, staff, **fields) -> int:
    values = {"name": "Coffee voucher", "price": 3, "stock": None, "per_member_limit": None} | fields
    return catalogue.save_item(db.unit_of_work(), actor_id=staff, **values)


def redeem(db, member, item_id):
    return catalogue.redeem_item(db.unit_of_work(), member_id=member, item_id=item_id)


# --- tiers -------------------------------------------------------------------------------


def test_tier_follows_all_time_points_and_shows_progress(db, community, admin, staff):
    tiers(db, admin)
    member = community.user()
    with db.read_sessions() as session:
        assert loyalty.member_tier(session, member).name == "Bronze"
        progress = loyalty.tier_progress(session, member)
        assert (progress.next_tier.name, progress.points_to_next, progress.percent) == ("Silver", 100, 0)
    task = community.task(staff, complexity=60)
    community.approved(member, staff, task)
    with db.read_sessions() as session:
        progress = loyalty.tier_progress(session, member)
        assert (progress.tier.name, progress.points_to_next, progress.percent) == ("Bronze", 40, 60)
    community.approved(member, staff, task)
    with db.read_sessions() as session:
        tier = loyalty.member_tier(session, member)
        assert (tier.name, tier.rank, tier.discount_percent) == ("Silver", 2, 5)
        progress = loyalty.tier_progress(session, member)
        assert (progress.points, progress.next_tier.name, progress.points_to_next, progress.percent) == (
            120, "Gold", 180, 10)


def test_no_tiers_means_no_tier(db, community):
    member = community.user()
    with db.read_sessions() as session:
        assert loyalty.member_tier(session, member) is None
        assert loyalty.tier_progress(session, member).percent == 100


def test_only_admins_edit_tiers_and_the_order_must_be_consistent(db, admin, staff):
    tiers(db, admin)
    uow = db.unit_of_work
    with pytest.raises(Forbidden):
        loyalty.save_tier(uow(), actor_id=staff, name="Platinum", min_points=900, rank=4, discount_percent=20)
    with pytest.raises(Conflict, match="ranks must rise"):
        loyalty.save_tier(uow(), actor_id=admin, name="Platinum", min_points=200, rank=4, discount_percent=1)
    with pytest.raises(Conflict, match="rank 3"):
        loyalty.save_tier(uow(), actor_id=admin, name="Platinum", min_points=900, rank=3, discount_percent=1)
    with pytest.raises(Conflict, match="called silver"):
        loyalty.save_tier(uow(), actor_id=admin, name="silver", min_points=900, rank=4, discount_percent=1)
    with pytest.raises(Conflict, match="300 points"):
        loyalty.save_tier(uow(), actor_id=admin, name="Platinum", min_points=300, rank=4, discount_percent=1)
    for bad in ({"discount_percent": 101}, {"min_points": -1}, {"rank": "2"}, {"name": " "}):
        values = {"name": "Platinum", "min_points": 900, "rank": 4, "discount_percent": 20} | bad
        with pytest.raises(InvalidInput):
            loyalty.save_tier(uow(), actor_id=admin, **values)
    platinum = loyalty.save_tier(uow(), actor_id=admin, name="Platinum", min_points=900, rank=4,
                                 discount_percent=20)
    loyalty.save_tier(uow(), actor_id=admin, tier_id=platinum, name="Platinum", min_points=1000, rank=4,
                      discount_percent=15)
    with db.read_sessions() as session:
        assert [(t.name, t.min_points, t.discount_percent) for t in loyalty.all_tiers(session)][-1] == (
            "Platinum", 1000, 15)
    with pytest.raises(NotFound):
        loyalty.delete_tier(uow(), actor_id=admin, tier_id=10**6)
    loyalty.delete_tier(uow(), actor_id=admin, tier_id=platinum)
    with db.read_sessions() as session:
        assert [t.name for t in loyalty.all_tiers(session)] == ["Bronze", "Silver", "Gold"]


def test_discount_rounds_up_to_whole_credits():
    gold = loyalty.Tier("Gold", 3, 300, 10)
    assert loyalty.discounted_price(1, gold) == 1
    assert loyalty.discounted_price(20, gold) == 18
    assert loyalty.discounted_price(25, gold) == 23  # 22.5 → 23
    assert loyalty.discounted_price(25, None) == 25
    assert loyalty.discounted_price(25, loyalty.Tier("Free", 9, 9, 100)) == 0


# --- badges ------------------------------------------------------------------------------


def test_week_streak_counts_consecutive_iso_weeks():
    d = dt.date
    assert longest_week_streak([]) == 0
    assert longest_week_streak([d(2026, 11, 2), d(2026, 11, 8)]) == 1  # Monday and Sunday: one week
    assert longest_week_streak([d(2026, 11, 2), d(2026, 11, 9), d(2026, 11, 16), d(2026, 11, 30)]) == 3
    # across a year boundary: ISO weeks 2026-W53, 2027-W01, 2027-W02
    assert longest_week_streak([d(2026, 12, 31), d(2027, 1, 4), d(2027, 1, 13)]) == 3


def _award(db, member):
    with db.write_sessions() as session, session.begin():
        return [(a.level.name, a.value) for a in award_badges(session, member)]


def test_crossing_a_threshold_awards_the_level_once_with_its_mint_request(db, community, admin, staff):
    badge = badges.save_badge(db.unit_of_work(), actor_id=admin, name="Co-creator",
                              metric="approved_contributions", thresholds=[2, 3])
    first = badges.save_badge(db.unit_of_work(), actor_id=admin, name="First contribution",
                              metric="approved_contributions", thresholds="1")
    member = community.user()
    task = community.task(staff, complexity=20)
    community.approved(member, staff, task)
    awarded = [name for name, _ in _award(db, member)]
    assert awarded in (["First contribution"], [])  # [] when approval already awarded it
    community.approved(member, staff, task)
    _award(db, member)
    assert _award(db, member) == [], "nothing is awarded twice"
    with db.read_sessions() as session:
        awards = session.scalars(select(BadgeAward).where(BadgeAward.member_id == member)).all()
        assert sorted(a.level.name for a in awards) == ["Co-creator I", "First contribution"]
        instance = instance_id(session)
        for award in awards:
            assert award.ref == hashed_ref(instance, f"badge:{member}:{award.badge_level_id}")
            row = session.scalars(select(OutboxItem).where(OutboxItem.ref == award.ref)).one()
            assert (row.kind, row.ledger_entry_id, row.amount) == ("badge", None, 1)
            assert row.token_id == award.level.token_id
        levels = {a.level.name: a.level.token_id for a in awards}
        assert levels["Co-creator I"] == badge * 100 + 1 and levels["First contribution"] == first * 100 + 1
    community.approved(member, staff, task)
    _award(db, member)
    with db.read_sessions() as session:
        names = [b.name for b in badges.earned_badges(session, member)]
        assert sorted(names) == ["Co-creator I", "Co-creator II", "First contribution"]
        assert all(b.chain_status == "pending" for b in badges.earned_badges(session, member))


def test_approval_awards_badges_in_its_own_transaction(db, community, admin, staff):
    badges.save_badge(db.unit_of_work(), actor_id=admin, name="First contribution",
                      metric="approved_contributions", thresholds=[1])
    member, co = community.user(), community.user()
    task = community.task(staff)
    cid = contributions.submit_contribution(db.unit_of_work(), member_id=member, task_id=task,
                                            text="together",
                                       co_contributors=[community.email_of(co)])
    contributions.approve_contribution(db.unit_of_work(), validator_id=staff, contribution_id=cid)
    with db.read_sessions() as session:
        assert [b.name for b in badges.earned_badges(session, member)] == ["First contribution"]
        assert [b.name for b in badges.earned_badges(session, co)] == ["First contribution"], "co-contributor"


def test_points_milestone_and_streak_badges(db, community, admin, staff):
    uow = db.unit_of_work
    badges.save_badge(uow(), actor_id=admin, name="Centurion", metric="points", thresholds=[100])
    badges.save_badge(uow(), actor_id=admin, name="Steady", metric="week_streak", thresholds=[1, 2])
    member = community.user()
    community.approved(member, staff, community.task(staff, complexity=60))
    _award(db, member)
    with db.read_sessions() as session:
        assert [b.name for b in badges.earned_badges(session, member)] == ["Steady I"]
    community.approved(member, staff, community.task(staff, complexity=40))
    _award(db, member)
    with db.read_sessions() as session:
        assert sorted(b.name for b in badges.earned_badges(session, member)) == ["Centurion", "Steady I"]


def test_inactive_badges_award_nothing(db, community, admin, staff):
    badges.save_badge(db.unit_of_work(), actor_id=admin, name="Later", metric="approved_contributions",
                      thresholds=[1], active=False)
    member = community.user()
    community.approved(member, staff, community.task(staff))
    assert _award(db, member) == []


def test_badge_admin_rules(db, community, admin, staff):
    uow = db.unit_of_work
    with pytest.raises(Forbidden):
        badges.save_badge(uow(), actor_id=staff, name="X", metric="points", thresholds=[1])
    for thresholds in ("5, 5", "5, 3", "", "a, b", [0], list(range(1, 13)), [True]):
        with pytest.raises(InvalidInput):
            badges.save_badge(uow(), actor_id=admin, name="X", metric="points", thresholds=thresholds)
    with pytest.raises(InvalidInput, match="metric"):
        badges.save_badge(uow(), actor_id=admin, name="X", metric="votes", thresholds=[1])
    badge = badges.save_badge(uow(), actor_id=admin, name="Co-creator", metric="approved_contributions",
                              thresholds="1; 2, 40")
    with pytest.raises(Conflict, match="already exists"):
        badges.save_badge(uow(), actor_id=admin, name="co-creator", metric="points", thresholds=[1])
    with pytest.raises(Conflict, match="metric"):
        badges.save_badge(uow(), actor_id=admin, badge_id=badge, name="Co-creator", metric="points",
                          thresholds=[1])
    member = community.user()
    task = community.task(staff)
    community.approved(member, staff, task)
    community.approved(member, staff, task)
    _award(db, member)
    cocreator = {"name": "Co-creator", "metric": "approved_contributions"}
    with pytest.raises(Conflict, match="level 2 of Co-creator is already held"):
        badges.save_badge(uow(), actor_id=admin, badge_id=badge, thresholds=[1], **cocreator)
    badges.save_badge(uow(), actor_id=admin, badge_id=badge, thresholds=[1, 2], **cocreator)
    badges.save_badge(uow(), actor_id=admin, badge_id=badge, thresholds=[1, 3, 10], **cocreator)
    with db.read_sessions() as session:
        (saved,) = badges.all_badges(session)
        assert [(lv.name, lv.threshold, lv.token_id) for lv in saved.levels] == [
            ("Co-creator I", 1, badge * 100 + 1), ("Co-creator II", 3, badge * 100 + 2),
            ("Co-creator III", 10, badge * 100 + 3)]
        assert badges.award_counts(session) == {saved.levels[0].id: 1, saved.levels[1].id: 1}


# --- catalogue -------------------------------------------------------------------------------


def test_redeeming_spends_discounted_credits_and_takes_stock(db, community, chain, admin, staff):
    tiers(db, admin)
    member = community.user()
    fund(community, chain, [member], 320, staff)  # Gold: 10% off
    coffee = item(db, staff, price=25, stock=2)
    redemption = redeem(db, member, coffee)
    assert (redemption.state, redemption.list_price, redemption.discount_percent, redemption.price) == (
        "requested", 25, 10, 23)
    with db.read_sessions() as session:
        assert session.get(CatalogueItem, coffee).stock == 1
        spend = session.get(LedgerEntry, redemption.spend_entry_id)
        assert (spend.points, spend.dimension, spend.cause) == (-23, SPENDING, "redemption")
        assert spend.source_key == f"redemption:{redemption.id}"
        assert spend.outbox.kind == "burn" and spend.outbox.amount == 23
        assert points_total(session, member) == 320, "spending never lowers points or tier"
        assert pending_burns(session, member) == 23
        assert spendable_credits(session, member) == 320 - 23


def test_credits_must_be_confirmed_and_pending_spends_count(db, community, chain, staff):
    member = community.user()
    shop = item(db, staff, price=12)
    task = community.task(staff, complexity=20)
    community.approved(member, staff, task)  # awarded, not yet on chain
    with pytest.raises(InsufficientCredits, match="you have 0 available"):
        redeem(db, member, shop)
    chain.drain()
    redeem(db, member, shop)
    with pytest.raises(InsufficientCredits, match="you have 8 available"):
        redeem(db, member, shop)
    with db.read_sessions() as session:
        assert session.scalar(select(Redemption.id).where(Redemption.state != "requested")) is None
        assert len(session.scalars(select(Redemption)).all()) == 1, "a refused redemption leaves nothing"


def test_per_member_limit_validity_window_stock_and_withdrawal(db, community, chain, staff):
    member, other = community.user(), community.user()
    fund(community, chain, [member, other], 40, staff)
    limited = item(db, staff, name="T-shirt", price=1, per_member_limit=2)
    first = redeem(db, member, limited)
    redeem(db, member, limited)
    with pytest.raises(LimitReached) as refused:
        redeem(db, member, limited)
    assert refused.value.code == "limit_reached"
    redeem(db, other, limited)  # the limit is per member
    catalogue.cancel_redemption(db.unit_of_work(), actor_id=member, redemption_id=first.id)
    redeem(db, member, limited)  # a cancelled redemption no longer counts

    now = utcnow()
    later = item(db, staff, name="Summer pass", valid_from=now + dt.timedelta(days=1))
    over = item(db, staff, name="Old pass", valid_from=now - dt.timedelta(days=2),
                valid_until=(now - dt.timedelta(days=1)).isoformat())
    running = item(db, staff, name="Now pass", valid_from=now - dt.timedelta(days=1),
                   valid_until=now + dt.timedelta(days=1))
    hidden = item(db, staff, name="Withdrawn", active=False)
    for item_id in (later, over, hidden):
        with pytest.raises(NotAvailable):
            redeem(db, member, item_id)
    redeem(db, member, running)

    last = item(db, staff, name="Last one", stock=1)
    redeem(db, member, last)
    with pytest.raises(OutOfStock):
        redeem(db, other, last)
    with pytest.raises(NotFound):
        redeem(db, member, 10**9)


def test_cancel_refunds_with_its_own_ref_and_restores_stock(db, community, chain, staff):
    member, other = community.user(), community.user()
    fund(community, chain, [member], 20, staff)
    voucher = item(db, staff, price=4, stock=1)
    redemption = redeem(db, member, voucher)
    with pytest.raises(Forbidden):
        catalogue.fulfil_redemption(db.unit_of_work(), actor_id=member, redemption_id=redemption.id)
    with pytest.raises(Forbidden):
        catalogue.cancel_redemption(db.unit_of_work(), actor_id=other, redemption_id=redemption.id)
    cancelled = catalogue.cancel_redemption(db.unit_of_work(), actor_id=staff, redemption_id=redemption.id,
                                            note="café closed")
    assert (cancelled.state, cancelled.note, cancelled.decided_by_id) == ("cancelled", "café closed", staff)
    with pytest.raises(WrongState):
        catalogue.cancel_redemption(db.unit_of_work(), actor_id=staff, redemption_id=redemption.id)
    with pytest.raises(WrongState):
        catalogue.fulfil_redemption(db.unit_of_work(), actor_id=staff, redemption_id=redemption.id)
    with db.read_sessions() as session:
        assert session.get(CatalogueItem, voucher).stock == 1
        spend = session.get(LedgerEntry, cancelled.spend_entry_id)
        refund = session.get(LedgerEntry, cancelled.refund_entry_id)
        assert (refund.points, refund.dimension, refund.source_key) == (
            4, SPENDING, f"redemption:{redemption.id}:refund")
        assert refund.ref != spend.ref and refund.outbox.kind == "mint" and spend.outbox.kind == "burn"
        # spends (burns) and refunds carry their entry's dense ref, like every ledger entry
        instance = instance_id(session)
        assert (spend.ref, refund.ref) == (entry_ref(instance, spend.id), entry_ref(instance, refund.id))
        assert (spend.outbox.ref, refund.outbox.ref) == (spend.ref, refund.ref)
    chain.drain()
    with db.read_sessions() as session:
        assert spendable_credits(session, member) == 20
    again = redeem(db, member, voucher)
    done = catalogue.fulfil_redemption(db.unit_of_work(), actor_id=staff, redemption_id=again.id)
    assert done.state == "fulfilled"
    with pytest.raises(WrongState):
        catalogue.cancel_redemption(db.unit_of_work(), actor_id=member, redemption_id=again.id)


def test_item_validation(db, staff, community):
    uow = db.unit_of_work
    member = community.user()
    with pytest.raises(Forbidden):
        catalogue.save_item(uow(), actor_id=member, name="X", price=1)
    for bad in ({"price": 0}, {"price": "1"}, {"stock": -1}, {"per_member_limit": 0}, {"name": ""},
                {"valid_from": "tomorrow"}, {"image_url": "javascript:alert(1)"},
                {"valid_from": "2026-12-02T00:00", "valid_until": "2026-12-01T00:00"}):
        with pytest.raises(InvalidInput):
            catalogue.save_item(uow(), actor_id=staff, **({"name": "X", "price": 1} | bad))


# --- concurrency ---------------------------------------------------------------------------


def _hammer(calls):
    results: list[object] = [None] * len(calls)
    start = threading.Barrier(len(calls))

    def run(i):
        start.wait()
        try:
            results[i] = calls[i]()
        except Exception as exc:  # collected and asserted on
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return results


def test_fifty_concurrent_redemptions_of_ten_in_stock(db, community, chain, staff):
    members = [community.user() for _ in range(10)]
    fund(community, chain, members, 20, staff)  # each can afford two at 8 credits
    scarce = item(db, staff, name="Scarce", price=8, stock=10)
    results = _hammer([lambda m=members[i % 10]: redeem(db, m, scarce) for i in range(50)])
    won = [r for r in results if isinstance(r, Redemption)]
    lost = [r for r in results if not isinstance(r, Redemption)]
    assert len(won) == 10
    assert all(isinstance(r, Conflict) for r in lost), {type(r).__name__ for r in lost}
    with db.read_sessions() as session:
        assert session.get(CatalogueItem, scarce).stock == 0
        for member in members:
            assert spendable_credits(session, member) >= 0, "no overspend"
    chain.drain()
    assert chain.undelivered() == []
    # On chain, read with cast: each won redemption burned its price once, nothing else burned.
    burned = redeemed_by_ref(chain.rpc_url, chain.credits, chain.block)
    with db.read_sessions() as session:
        refs = {session.get(LedgerEntry, r.spend_entry_id).ref: r.price for r in won}
        assert burned == refs and sum(burned.values()) == 10 * 8
        for member in members:
            spent = sum(r.price for r in won if r.member_id == member)
            assert balance(chain.rpc_url, chain.credits, wallet_of(session, member).address) == 20 - spent


def test_concurrent_spends_of_one_member_never_overspend(db, community, chain, staff):
    member = community.user()
    fund(community, chain, [member], 20, staff)
    unlimited = item(db, staff, name="Makerspace hour", price=6)
    results = _hammer([lambda: redeem(db, member, unlimited) for _ in range(10)])
    assert sum(isinstance(r, Redemption) for r in results) == 3
    assert sum(isinstance(r, InsufficientCredits) for r in results) == 7
    with db.read_sessions() as session:
        assert spendable_credits(session, member) == 2
