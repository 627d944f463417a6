"""Booking rules at the service level, on SQLite and PostgreSQL.

One migrated database per backend serves the whole module (migrating PostgreSQL costs ~4 s);
every test builds its own resources and members, so tests do not see each other's bookings.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
import time

import pytest
from icalendar import Calendar
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from booking import (
    approvals,
    attendance,
    cancellation,
    freebusy,
    housekeeping,
    ics,
    inventory,
    loading,
    opening,
    recurring,
    reminders,
    reservations,
    slots,
    waitlist,
)
from booking.errors import BookingSuspended, QuotaExceeded, SlotTaken, TooLate
from booking.models import Booking, State, WaitlistEntry
from community.errors import Conflict, Forbidden, InvalidInput
from community.models import Notification
from rewards import loyalty
from rewards.errors import InsufficientCredits
from rewards.ledger import held_credits, spendable_credits
from tests.support.booking import NOW, POLICY, Centre, at
from tests.support.community import SECRET
from tests.support.postgres import drop_pg_database, new_pg_database
from web import bootstrap
from web.migrate import upgrade


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def db(request, tmp_path_factory):
    if request.param == "sqlite":
        url, name = f"sqlite:///{tmp_path_factory.mktemp('booking') / 'kopa.sqlite3'}", None
    else:
        url, name = new_pg_database()
    upgrade(url)
    database = bootstrap.database(url, secret_key=SECRET)
    yield database
    database.dispose()
    if name:
        drop_pg_database(name)


@pytest.fixture
def centre(db, community):
    return Centre(db, community)


def notes(db, member: int) -> list[str]:
    with db.read_sessions() as session:
        return [
            n.kind
            for n in session.scalars(
                select(Notification).where(Notification.user_id == member).order_by(Notification.id)
            )
        ]


def state_of(db, booking_id: int) -> str:
    with db.read_sessions() as session:
        return session.get(Booking, booking_id).state


def test_opening_hours_length_grid_and_lead_time(centre):
    room = centre.resource(
        name="Ideas room", min_minutes=60, max_minutes=180, slot_minutes=30, lead_minutes=120
    )
    ana = centre.member("Ana")
    cases = [
        (at(1, 7), at(1, 8), "open 08:00–20:00"),  # before opening
        (at(1, 19), at(1, 20, 30), "open 08:00–20:00"),  # past closing
        (at(6, 10), at(6, 11), "closed on Sundays"),
        (at(1, 10), at(1, 10, 30), "at least 60 minutes"),
        (at(1, 10), at(1, 14), "at most 180 minutes"),
        (at(1, 10, 15), at(1, 11, 15), "30-minute slots"),
        (at(0, 8), at(0, 9), "at least 2 hours ahead"),  # NOW is 07:00, lead 2 h
        (at(1, 11), at(1, 10), "end after it starts"),
        (at(120, 10), at(120, 11), "at most 90 days ahead"),
    ]
    for start, end, message in cases:
        with pytest.raises(InvalidInput, match=message):
            centre.book(ana, room, start, end)
    with pytest.raises(InvalidInput, match="no UTC offset"):
        reservations.book(
            centre.db.unit_of_work(),
            member_id=ana,
            resource_id=room,
            start="2030-01-08T10:00:00",
            end="2030-01-08T11:00:00",
            now=NOW,
            policy=POLICY,
        )
    ok = centre.book(ana, room, at(0, 9), at(0, 10, 30))
    assert (ok.state, ok.credits) == ("confirmed", 0)
    assert len(ok.code) == 6
    last = centre.book(ana, room, at(5, 18), at(5, 20))  # Saturday until closing
    assert last.state == "confirmed"


def test_overlap_is_refused_naming_the_time_not_the_member(centre):
    room = centre.resource(name="Quiet room")
    ana, ben = centre.member("Ana Secretname"), centre.member("Ben")
    centre.book(ana, room, at(1, 10), at(1, 12))
    with pytest.raises(SlotTaken) as taken:
        centre.book(ben, room, at(1, 11), at(1, 13))
    assert "10:00–12:00" in taken.value.message and "Secretname" not in taken.value.message
    assert centre.book(ben, room, at(1, 12), at(1, 13)).state == "confirmed", "adjacent slots do not overlap"
    assert centre.book(ben, centre.resource(name="Other room"), at(1, 10), at(1, 12)).state == "confirmed"


def test_blackouts_and_availability(centre):
    room = centre.resource(name="Makerspace", slot_minutes=60, min_minutes=60)
    ana = centre.member()
    inventory.add_blackout(
        centre.db.unit_of_work(),
        actor_id=centre.staff,
        resource_id=room,
        start=at(1, 8).isoformat(),
        end=at(1, 13).isoformat(),
        reason="Maintenance",
    )
    with pytest.raises(Conflict, match=r"closed .*Maintenance"):
        centre.book(ana, room, at(1, 12), at(1, 14))
    with pytest.raises(Forbidden):
        inventory.add_blackout(
            centre.db.unit_of_work(),
            actor_id=ana,
            resource_id=room,
            start=at(2, 8).isoformat(),
            end=at(2, 9).isoformat(),
        )
    centre.book(ana, room, at(1, 15), at(1, 17))
    with centre.db.read_sessions() as session:
        avail = freebusy.availability(
            session, resource_id=room, start=at(0, 0), end=at(2, 0), now=NOW, policy=POLICY
        )
    assert avail.free == [
        (at(0, 8).astimezone(dt.UTC), at(0, 20).astimezone(dt.UTC)),  # NOW 07:00 + 1 h lead = 08:00
        (at(1, 13).astimezone(dt.UTC), at(1, 15).astimezone(dt.UTC)),
        (at(1, 17).astimezone(dt.UTC), at(1, 20).astimezone(dt.UTC)),
    ]
    assert [(s, e) for s, e, *_ in avail.busy] == [
        (at(1, 15).astimezone(dt.UTC), at(1, 17).astimezone(dt.UTC))
    ]
    with centre.db.read_sessions() as session, pytest.raises(InvalidInput, match="at most 62 days"):
        freebusy.availability(
            session, resource_id=room, start=at(0, 0), end=at(70, 0), now=NOW, policy=POLICY
        )


def test_quotas_hours_per_week_and_concurrent_bookings(centre, db):
    group = inventory.create_group(
        db.unit_of_work(),
        actor_id=centre.staff,
        name=f"Limited {centre.staff}",
        max_hours_per_week=4,
        max_concurrent=3,
    )
    a = centre.resource(group=group, name="A")
    b = centre.resource(group=group, name="B")
    free = centre.resource(name="Unlimited")
    ana = centre.member()
    centre.book(ana, a, at(0, 9), at(0, 11))
    centre.book(ana, b, at(1, 9), at(1, 11))
    with pytest.raises(QuotaExceeded, match="4 hours a week"):
        centre.book(ana, a, at(2, 9), at(2, 10))
    assert centre.book(ana, free, at(2, 9), at(2, 12)).state == "confirmed", "other groups do not count"
    centre.book(ana, a, at(7, 9), at(7, 10))  # next week: hours reset, third upcoming booking
    with pytest.raises(QuotaExceeded, match="limit is 3 at a time"):
        centre.book(ana, b, at(8, 9), at(8, 10))
    with db.read_sessions() as session:
        first = loading.member_bookings(session, ana)[-1]
    cancellation.cancel(
        db.unit_of_work(), actor_id=ana, booking_id=first.id, now=NOW - dt.timedelta(days=2), policy=POLICY
    )
    assert centre.book(ana, b, at(8, 9), at(8, 10)).state == "confirmed", "a cancellation frees quota"


def test_recurring_all_or_nothing_and_book_the_free_ones(centre, db):
    room = centre.resource(name="Workshop")
    ana, ben = centre.member(), centre.member()
    centre.book(ben, room, at(14, 18), at(14, 19))  # the third Monday is taken
    with pytest.raises(SlotTaken, match="nothing was booked"):
        recurring.book_series(
            db.unit_of_work(),
            member_id=ana,
            resource_id=room,
            start=at(0, 18).isoformat(),
            end=at(0, 19).isoformat(),
            count=4,
            now=NOW,
            policy=POLICY,
        )
    with db.read_sessions() as session:
        assert session.scalar(select(func.count()).select_from(Booking).where(Booking.member_id == ana)) == 0
    result = recurring.book_series(
        db.unit_of_work(),
        member_id=ana,
        resource_id=room,
        start=at(0, 18).isoformat(),
        end=at(0, 19).isoformat(),
        count=4,
        mode="free",
        now=NOW,
        policy=POLICY,
    )
    assert [b.starts_at for b in result.bookings] == [at(d, 18).astimezone(dt.UTC) for d in (0, 7, 21)]
    assert [d for d, _ in result.skipped] == [at(14, 0).date()]
    assert "already booked" in result.skipped[0][1]
    two = recurring.book_series(
        db.unit_of_work(),
        member_id=ben,
        resource_id=room,
        start=at(1, 9).isoformat(),
        end=at(1, 10).isoformat(),
        every_weeks=2,
        until=at(36, 0).date().isoformat(),
        now=NOW,
        policy=POLICY,
    )
    assert [b.starts_at.astimezone(POLICY.tz).date() for b in two.bookings] == [
        at(d, 0).date() for d in (1, 15, 29)
    ]
    # Cancel one occurrence, then the rest of the series.
    cancellation.cancel(
        db.unit_of_work(), actor_id=ana, booking_id=result.bookings[1].id, now=NOW, policy=POLICY
    )
    cancelled, kept = cancellation.cancel_series(
        db.unit_of_work(), actor_id=ana, series_id=result.series_id, now=at(0, 17, 30), policy=POLICY
    )
    assert cancelled == [result.bookings[2].id] and kept == [result.bookings[0].id], (
        "the occurrence inside the cancellation deadline stays"
    )
    with pytest.raises(Forbidden):
        cancellation.cancel_series(
            db.unit_of_work(), actor_id=ben, series_id=result.series_id, now=NOW, policy=POLICY
        )


def test_waitlist_serves_higher_tier_first_then_first_come(centre, db, monkeypatch):
    room = centre.resource(name="Hall")
    holder, early, late, gold = (centre.member(n) for n in ("Holder", "Early", "Late", "Gold"))
    taken = centre.book(holder, room, at(2, 10), at(2, 12))
    for member, minutes in ((early, 1), (gold, 3), (late, 2)):
        waitlist.join_waitlist(
            db.unit_of_work(),
            member_id=member,
            resource_id=room,
            start=at(2, 10).isoformat(),
            end=at(2, 12).isoformat(),
            now=NOW + dt.timedelta(minutes=minutes),
            policy=POLICY,
        )
    with pytest.raises(Conflict, match="already waiting"):
        waitlist.join_waitlist(
            db.unit_of_work(),
            member_id=late,
            resource_id=room,
            start=at(2, 10).isoformat(),
            end=at(2, 12).isoformat(),
            now=NOW,
            policy=POLICY,
        )
    with pytest.raises(Conflict, match="free"):
        waitlist.join_waitlist(
            db.unit_of_work(),
            member_id=late,
            resource_id=room,
            start=at(3, 10).isoformat(),
            end=at(3, 12).isoformat(),
            now=NOW,
            policy=POLICY,
        )
    monkeypatch.setattr(
        loyalty,
        "member_tier",
        lambda session, member_id: loyalty.Tier("Gold", 3, 1000, 10) if member_id == gold else None,
    )

    cancellation.cancel(db.unit_of_work(), actor_id=holder, booking_id=taken.id, now=NOW, policy=POLICY)
    with db.read_sessions() as session:
        offer = session.scalars(
            select(Booking).where(Booking.resource_id == room, Booking.state == State.OFFERED.value)
        ).one()
    assert offer.member_id == gold, "the higher tier is served first"
    assert "waitlist_offer" in notes(db, gold)
    with pytest.raises(Forbidden):
        waitlist.confirm_offer(
            db.unit_of_work(), member_id=early, booking_id=offer.id, now=NOW, policy=POLICY
        )
    # Gold lets the hold run out: the slot goes to the first come among the rest.
    later = NOW + POLICY.waitlist_hold + dt.timedelta(minutes=1)
    with pytest.raises(TooLate):
        waitlist.confirm_offer(
            db.unit_of_work(), member_id=gold, booking_id=offer.id, now=later, policy=POLICY
        )
    with db.read_sessions() as session:
        offer2 = session.scalars(
            select(Booking).where(Booking.resource_id == room, Booking.state == State.OFFERED.value)
        ).one()
        assert session.get(Booking, offer.id).state == State.EXPIRED
    assert offer2.member_id == early
    confirmed = waitlist.confirm_offer(
        db.unit_of_work(), member_id=early, booking_id=offer2.id, now=later, policy=POLICY
    )
    assert confirmed.state == "confirmed"
    with db.read_sessions() as session:
        states = {
            w.member_id: w.state
            for w in session.scalars(select(WaitlistEntry).where(WaitlistEntry.resource_id == room))
        }
    assert states == {gold: "expired", early: "booked", late: "waiting"}


def test_check_in_window_awards_points_once(centre, db):
    room = centre.resource(name="Studio", max_minutes=240)
    ana, ben = centre.member(), centre.member()
    b = centre.book(ana, room, at(0, 10), at(0, 13))
    kwargs = dict(booking_id=b.id, policy=POLICY)
    with pytest.raises(TooLate, match="opens at 09:45"):
        attendance.check_in(db.unit_of_work(), actor_id=ana, code=b.code, now=at(0, 9, 40), **kwargs)
    with pytest.raises(InvalidInput, match="does not match"):
        attendance.check_in(db.unit_of_work(), actor_id=ana, code="WRONG1", now=at(0, 10), **kwargs)
    with pytest.raises(Forbidden):
        attendance.check_in(db.unit_of_work(), actor_id=ben, code=b.code, now=at(0, 10), **kwargs)
    points = attendance.check_in(
        db.unit_of_work(), actor_id=ana, code=b.code.lower(), now=at(0, 9, 50), **kwargs
    )
    assert points == 3, "default rule: one point per hour"
    with pytest.raises(Conflict, match="already checked in"):
        attendance.check_in(db.unit_of_work(), actor_id=ana, code=b.code, now=at(0, 10), **kwargs)
    assert centre.entries(ana) == [(3, "booking_check_in", f"booking:{b.id}:check-in")]
    late = centre.book(ana, room, at(1, 10), at(1, 11))
    with pytest.raises(TooLate, match="closed at 10:15"):
        attendance.check_in(
            db.unit_of_work(),
            actor_id=centre.staff,
            code=late.code,
            booking_id=late.id,
            now=at(1, 10, 16),
            policy=POLICY,
        )


def test_no_shows_release_the_slot_and_suspend_after_three(centre, db):
    room = centre.resource(name="Lab", lead_minutes=0)
    ana, ben = centre.member(), centre.member()
    missed = [centre.book(ana, room, at(d, 10), at(d, 12)) for d in (0, 1, 2)]
    # 10:16 on the first day: the sweep in Ben's booking releases Ana's unattended slot.
    now = at(0, 10, 16)
    with pytest.raises(InvalidInput):
        centre.book(ben, room, at(0, 10), at(0, 12), now=now)  # the past part is gone, of course
    assert centre.book(ben, room, at(0, 10, 30), at(0, 12), now=now).state == "confirmed"
    assert state_of(db, missed[0].id) == State.NO_SHOW
    housekeeping.housekeeping(db.unit_of_work(), now=at(2, 11), policy=POLICY)
    assert [state_of(db, b.id) for b in missed] == [State.NO_SHOW] * 3
    assert "booking_suspended" in notes(db, ana)
    with pytest.raises(BookingSuspended, match="suspended until"):
        centre.book(ana, room, at(3, 10), at(3, 11), now=at(2, 12))
    assert centre.book(ana, room, at(10, 10), at(10, 11), now=at(9, 12)).state == "confirmed", "a week later"
    strict = dataclasses.replace(POLICY, no_show_limit=1)
    b2 = centre.book(ben, room, at(4, 10), at(4, 11))
    housekeeping.housekeeping(db.unit_of_work(), now=at(4, 11), policy=strict)
    with pytest.raises(BookingSuspended):
        centre.book(ben, room, at(5, 10), at(5, 11), now=at(4, 12), policy=strict)
    assert state_of(db, b2.id) == State.NO_SHOW


def test_cancellation_deadline_and_refunds(centre, db):
    room = centre.resource(
        name="Makerspace", price_per_hour=10, peak_price_per_hour=15, peak_from="17:00", peak_until="20:00"
    )
    ana, ben = centre.member(), centre.member()
    centre.give_credits(ana, 100)
    with db.read_sessions() as session:
        assert spendable_credits(session, ana) == 100
    b = centre.book(ana, room, at(3, 16), at(3, 18))  # one hour at 10, one at peak 15
    assert b.credits == 25
    with db.read_sessions() as session:
        assert spendable_credits(session, ana) == 75
    cancellation.cancel(db.unit_of_work(), actor_id=ana, booking_id=b.id, now=at(2, 15), policy=POLICY)
    refunded = [e for e in centre.entries(ana) if e[1] == "booking_refund"]
    assert refunded == [(25, "booking_refund", f"booking:{b.id}:refund")]
    with pytest.raises(Conflict, match="cancelled and cannot"):
        cancellation.cancel(db.unit_of_work(), actor_id=ana, booking_id=b.id, now=at(2, 15), policy=POLICY)
    assert [e[0] for e in centre.entries(ana)].count(25) == 1, "refunded exactly once"
    centre.deliver_all()
    late = centre.book(ana, room, at(3, 10), at(3, 12))
    with pytest.raises(TooLate, match="too late to cancel"):
        cancellation.cancel(db.unit_of_work(), actor_id=ana, booking_id=late.id, now=at(2, 11), policy=POLICY)
    with pytest.raises(Forbidden):
        cancellation.cancel(db.unit_of_work(), actor_id=ben, booking_id=late.id, now=at(2, 11), policy=POLICY)
    with pytest.raises(InvalidInput, match="reason"):
        cancellation.cancel(
            db.unit_of_work(), actor_id=centre.staff, booking_id=late.id, now=at(2, 11), policy=POLICY
        )
    cancellation.cancel(
        db.unit_of_work(),
        actor_id=centre.staff,
        booking_id=late.id,
        reason="Flooded",
        now=at(2, 11),
        policy=POLICY,
    )
    assert "booking_cancelled" in notes(db, ana)
    assert sum(p for p, *_ in centre.entries(ana)) == 100, "staff cancellations are refunded too"
    with pytest.raises(InsufficientCredits, match="costs 20 credits but you have 0"):
        centre.book(ben, room, at(4, 10), at(4, 12))
    with db.read_sessions() as session:
        assert session.scalar(select(func.count()).select_from(Booking).where(Booking.member_id == ben)) == 0


def test_approval_holds_credits_then_spends_or_releases(centre, db, monkeypatch):
    hall = centre.resource(
        name="Event hall", needs_approval=True, price_per_hour=20, slot_minutes=60, min_minutes=60
    )
    ana = centre.member()
    centre.give_credits(ana, 50)
    monkeypatch.setattr(loyalty, "member_tier", lambda session, member_id: loyalty.Tier("Silver", 2, 100, 10))
    pending = centre.book(ana, hall, at(3, 10), at(3, 12))
    assert (pending.state, pending.credits) == ("pending", 36), "40 credits less the 10 % tier discount"
    with db.read_sessions() as session:
        assert held_credits(session, ana) == 36 and spendable_credits(session, ana) == 14
    with pytest.raises(InsufficientCredits):
        centre.book(ana, hall, at(4, 10), at(4, 12))
    with pytest.raises(Forbidden):
        approvals.decide(
            db.unit_of_work(), staff_id=ana, booking_id=pending.id, approve=True, now=NOW, policy=POLICY
        )
    with pytest.raises(InvalidInput, match="comment"):
        approvals.decide(
            db.unit_of_work(),
            staff_id=centre.staff,
            booking_id=pending.id,
            approve=False,
            now=NOW,
            policy=POLICY,
        )
    assert (
        approvals.decide(
            db.unit_of_work(),
            staff_id=centre.staff,
            booking_id=pending.id,
            approve=True,
            now=NOW,
            policy=POLICY,
        )
        == "confirmed"
    )
    with db.read_sessions() as session:
        assert held_credits(session, ana) == 0 and spendable_credits(session, ana) == 14
    assert [e[:2] for e in centre.entries(ana)][-1] == (-36, "booking")
    centre.give_credits(ana, 50)
    # A second request is declined (hold released), a third expires undecided.
    second = centre.book(ana, hall, at(4, 10), at(4, 11))
    approvals.decide(
        db.unit_of_work(),
        staff_id=centre.staff,
        booking_id=second.id,
        approve=False,
        comment="Private event that day",
        now=NOW,
        policy=POLICY,
    )
    third = centre.book(ana, hall, at(5, 10), at(5, 11))
    with pytest.raises(TooLate, match="expired"):
        approvals.decide(
            db.unit_of_work(),
            staff_id=centre.staff,
            booking_id=third.id,
            approve=True,
            now=NOW + POLICY.approval_ttl,
            policy=POLICY,
        )
    assert state_of(db, second.id) == "declined" and state_of(db, third.id) == "expired"
    with db.read_sessions() as session:
        assert held_credits(session, ana) == 0 and spendable_credits(session, ana) == 64
    assert {"booking_approved", "booking_declined", "booking_expired"} <= set(notes(db, ana))


def test_reminders_once_and_calendar_feeds(centre, db):
    room = centre.resource(name="Quiet room", location="Room 210")
    ana = centre.member("Ana Private")
    b = centre.book(ana, room, at(1, 10), at(1, 11))
    mails = []
    sent = reminders.send_due_reminders(
        db.unit_of_work(), at(0, 11), policy=POLICY, send_mail=lambda *m: mails.append(m)
    )
    assert sent == 1 and mails[0][0] == centre.community.email_of(ana) and b.code in mails[0][2]
    assert reminders.send_due_reminders(db.unit_of_work(), at(0, 12), policy=POLICY) == 0, "only once"
    assert notes(db, ana).count("booking_reminder") == 1

    secret = "feed-secret"
    with db.read_sessions() as session:
        token = ics.feed_token(session, secret, ana)
        user = ics.user_for_feed(session, secret, token)
        assert user.id == ana and ics.user_for_feed(session, secret, token[:-1] + "x") is None
        mine = Calendar.from_ical(ics.member_feed(session, user, now=NOW))
        public = ics.resource_feed(session, session.get(Booking, b.id).resource, now=NOW)
    events = mine.walk("VEVENT")
    assert [str(e["summary"]) for e in events] == ["Quiet room"]
    assert events[0].decoded("dtstart") == at(1, 10)
    parsed = Calendar.from_ical(public)
    busy = parsed.walk("VEVENT")
    assert len(busy) == 1 and str(busy[0]["summary"]) == "Busy"
    assert busy[0].decoded("dtend") == at(1, 11)
    text = public.decode()
    for private in ("Ana", "Private", b.code, "booking-", "@example.org", "DESCRIPTION", "ATTENDEE"):
        assert private not in text
    rotated = ics.rotate_feed(db.unit_of_work(), secret=secret, user_id=ana)
    with db.read_sessions() as session:
        assert ics.user_for_feed(session, secret, token) is None
        assert ics.user_for_feed(session, secret, rotated).id == ana


def test_a_lost_race_is_a_409_naming_the_winners_time(centre, db):
    """Another transaction inserts an overlapping booking and commits while ours waits: on
    PostgreSQL the exclusion constraint refuses our insert, on SQLite BEGIN IMMEDIATE makes us
    wait and then see it. Either way: SlotTaken with the winner's time, never a 500."""
    room = centre.resource(name="Race room")
    ana, ben = centre.member(), centre.member()
    winner = Booking(
        resource_id=room,
        member_id=ana,
        starts_at=at(1, 10).astimezone(dt.UTC),
        ends_at=at(1, 11).astimezone(dt.UTC),
        state="confirmed",
        credits=0,
        code="RACE01",
    )
    outcome: list[BaseException | object] = []
    with db.write_sessions() as session:
        session.add(winner)
        session.flush()  # the row (and on SQLite the write lock) is held, not committed
        if db.engine.dialect.name == "postgresql":
            # Our check cannot see the uncommitted row; only the constraint can stop the insert.
            with db.read_sessions() as other:
                assert slots.blocking_overlap(other, room, at(1, 10), at(1, 12)) is None
        racer = threading.Thread(
            target=lambda: outcome.append(_try(lambda: centre.book(ben, room, at(1, 10, 30), at(1, 12))))
        )
        racer.start()
        time.sleep(0.5)
        assert racer.is_alive(), "the second booking waits for the first transaction"
        session.commit()
    racer.join(timeout=30)
    assert isinstance(outcome[0], SlotTaken), outcome
    assert "10:00–11:00" in outcome[0].message
    if db.engine.dialect.name == "postgresql":
        overlapping = Booking(
            resource_id=room,
            member_id=ben,
            starts_at=at(1, 10, 30).astimezone(dt.UTC),
            ends_at=at(1, 12).astimezone(dt.UTC),
            state="pending",
            credits=0,
            code="RACE02",
        )
        with db.write_sessions() as session, pytest.raises(IntegrityError, match="no_overlap"):
            session.add(overlapping)
            session.flush()


def _try(call):
    try:
        return call()
    except BaseException as exc:
        return exc


def test_resource_definitions_are_validated(centre):
    assert opening.hours_text_of(opening.parse_hours("Mon-Fri 08:00-20:00; Sat 10:00-24:00")) == (
        "Mon-Fri 08:00-20:00; Sat 10:00-24:00"
    )
    bad = [
        ({"hours": "Mon-Fri 20:00-08:00"}, "opening must come before closing"),
        ({"hours": "Fri-Mon 08:00-20:00"}, "from Monday towards Sunday"),
        ({"hours": "weekdays"}, "cannot read opening hours"),
        ({"min_minutes": 120, "max_minutes": 60}, "must not exceed"),
        ({"min_minutes": 45}, "multiple of the slot length"),
        ({"peak_price_per_hour": 5}, "peak_from and peak_until together"),
        ({"photo_url": "//evil.example/x.png"}, "photo_url"),
        ({"photo_url": "javascript:alert(1)"}, "photo_url"),
        ({"kind": "vehicle"}, "kind must be"),
        ({"price_per_hour": -1}, "price_per_hour"),
    ]
    for fields, message in bad:
        with pytest.raises(InvalidInput, match=message):
            centre.resource(name="Bad", **fields)
    with pytest.raises(Forbidden):
        inventory.create_resource(
            centre.db.unit_of_work(),
            actor_id=centre.member(),
            group_id=centre.group,
            hours="Mon 08:00-10:00",
            name="Mine",
        )
