"""Notifications (#9) at service level, on SQLite and PostgreSQL: every kind is made in its
feature's transaction; preferences decide the e-mail (immediately or in the daily digest); a
digest is never empty nor sent twice (tests/web/notifications has the app's e-mail, pages and
API; tests/e2e/test_notifications_live.py the live unread count)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from booking import cancellation, reminders, waitlist
from community import contributions
from community.errors import Conflict, InvalidInput
from community.models import Role
from community.notifications import (
    DIGEST,
    IMMEDIATE,
    MailSettings,
    NotificationDigest,
    digest_moment,
    notify,
    preferences,
    send_digests,
    set_preferences,
)
from rewards import catalogue
from rewards.chain.relay import Relay
from rewards.minted import notify_minted
from tests.support.booking import NOW, POLICY, RIGA, Centre, at
from tests.support.chain import deploy_for
from tests.support.notifications import kinds, rows, submitted
from web.boards.live import relay_pushes

# --- every kind, in its feature's transaction (SQLite and PostgreSQL) ------------------------------


def test_contribution_decisions_notify_the_members_concerned(db, community):
    staff = community.user(Role.STAFF)
    ana, ben = community.user(name="Ana"), community.user(name="Ben")
    task = community.task(staff, complexity=20)

    rejected = submitted(community, ana, task)
    contributions.reject_contribution(db.unit_of_work(), validator_id=staff, contribution_id=rejected,
                                 comment="No evidence attached")
    changes = submitted(community, ana, task)
    contributions.request_changes(db.unit_of_work(), validator_id=staff, contribution_id=changes,
                             comment="Add a photo")
    together = contributions.submit_contribution(db.unit_of_work(), member_id=ana, task_id=task,
                                                 text="with Ben",
                                            co_contributors=[community.email_of(ben)])
    contributions.approve_contribution(db.unit_of_work(), validator_id=staff, contribution_id=together,
                                  level="low")
    contributions.revoke_contribution(db.unit_of_work(), validator_id=staff, contribution_id=together,
                                 comment="Counted twice")

    assert kinds(db, ana) == ["contribution_rejected", "contribution_changes_requested",
                              "contribution_approved", "contribution_revoked"]
    assert kinds(db, ben) == ["contribution_approved", "contribution_revoked"], "co-contributors too"
    notes = rows(db, ana)
    assert "No evidence attached" in notes[0].text and notes[0].link == f"/contributions/{rejected}"
    assert "Add a photo" in notes[1].text
    assert "20 points" in notes[2].text and "20 points are taken back" in notes[3].text
    assert all(n.email == IMMEDIATE for n in notes), "contribution decisions are mailed at once by default"
    assert kinds(db, staff) == [], "the validator is not told about their own decision"


def test_notifications_exist_only_if_the_work_commits(db, community):
    staff = community.user(Role.STAFF)
    ana = community.user()
    cid = submitted(community, ana, community.task(staff))
    contributions.reject_contribution(db.unit_of_work(), validator_id=staff, contribution_id=cid,
                                      comment="no")
    with pytest.raises(Conflict, match="rejected"):  # a second decision is refused (409) ...
        contributions.reject_contribution(db.unit_of_work(), validator_id=staff, contribution_id=cid,
                                          comment="no")
    with pytest.raises(RuntimeError), db.unit_of_work() as uow:
        notify(uow.session, ana, "contribution_rejected", "never committed")
        uow.session.flush()
        raise RuntimeError("the work failed after notifying")
    assert kinds(db, ana) == ["contribution_rejected"], "... and neither adds a notification"


def test_booking_reminder_waitlist_promotion_and_redemption_fulfilled(db, community):
    centre = Centre(db, community)
    room = centre.resource(name="Quiet room")
    holder, waiting = centre.member("Holder"), centre.member("Waiting")

    taken = centre.book(holder, room, at(1, 10), at(1, 11))
    waitlist.join_waitlist(db.unit_of_work(), member_id=waiting, resource_id=room, start=at(1,
                                                                                            10).isoformat(),
                          end=at(1, 11).isoformat(), now=NOW, policy=POLICY)
    assert reminders.send_due_reminders(db.unit_of_work(), at(0, 11), policy=POLICY) == 1
    assert kinds(db, holder) == ["booking_reminder"]
    assert taken.code in rows(db, holder)[0].text

    cancellation.cancel(db.unit_of_work(), actor_id=holder, booking_id=taken.id, now=NOW, policy=POLICY)
    assert kinds(db, waiting) == ["waitlist_offer"], "the freed slot is offered to the member waiting"
    assert "Quiet room" in rows(db, waiting)[0].text

    member = centre.member("Redeemer")
    centre.give_credits(member, 5)
    item = catalogue.save_item(db.unit_of_work(), actor_id=centre.staff, name="Coffee voucher", price=2)
    redemption = catalogue.redeem_item(db.unit_of_work(), member_id=member, item_id=item)
    assert kinds(db, member) == [], "requesting is the member's own act"
    catalogue.fulfil_redemption(db.unit_of_work(), actor_id=centre.staff, redemption_id=redemption.id,
                                note="At the front desk")
    assert kinds(db, member) == ["redemption_fulfilled"]
    assert "Coffee voucher" in rows(db, member)[0].text and "front desk" in rows(db, member)[0].text


@pytest.mark.chain
def test_points_minted_when_the_relay_records_the_mint(db, community, vault, anvil):
    w3, minter, _address, _block = deploy_for(db, vault, anvil.url)
    staff = community.user(Role.STAFF)
    ana, ben = community.user(), community.user()
    for member in (ana, ben):
        community.approved(member, staff, community.task(staff, complexity=40), level="low")
    relay = Relay(db, w3, minter, on_delivered=relay_pushes(db, push=False))
    assert "points_minted" not in kinds(db, ana), "nothing is minted before the relay delivers"
    while relay.run_once():
        pass
    for member in (ana, ben):
        minted = [n for n in rows(db, member) if n.kind == "points_minted"]
        assert len(minted) == 1 and "40 points you earned" in minted[0].text, minted
        assert minted[0].email == DIGEST, "points minted go to the daily digest by default"
    assert notify_minted(db, []) == 0


# --- preferences --------------------------------------------------------------------------------


def test_preferences_default_change_and_validation(db, community):
    ana = community.user()
    with db.read_sessions() as session:
        default = preferences(session, ana)
    assert {k: v for k, v in default["contribution_decided"].items() if k != "label"} == {
        "in_app": True, "email": True, "mode": IMMEDIATE}
    assert default["points_minted"]["mode"] == DIGEST
    with db.write_sessions() as session, session.begin():
        waiting = notify(session, ana, "contribution_rejected", "waiting for the digest")
        waiting.email = DIGEST
    changed = set_preferences(db.unit_of_work(), user_id=ana, changes={
        "contribution_decided": {"email": False}, "points_minted": {"mode": IMMEDIATE}})
    decided = changed["contribution_decided"]
    assert decided["email"] is False and decided["mode"] == IMMEDIATE
    assert changed["points_minted"] == {**changed["points_minted"], "email": True, "mode": IMMEDIATE}
    assert rows(db, ana)[0].email is None, "switching e-mail off drops what was still to be mailed"

    with db.write_sessions() as session, session.begin():
        notify(session, ana, "contribution_approved", "in-app only now")
        notify(session, ana, "points_minted", "mailed at once now")
    assert [n.email for n in rows(db, ana)[1:]] == [None, IMMEDIATE]

    for bad, message in (
        ({"nonsense": {"email": True}}, "unknown category"),
        ({"points_minted": {"mode": "weekly"}}, "mode must be one of"),
        ({"points_minted": {"email": "yes"}}, "must be true or false"),
        ({"points_minted": {"in_app": False}}, "always on"),
        ([], "send an object"),
    ):
        with pytest.raises(InvalidInput, match=message):
            set_preferences(db.unit_of_work(), user_id=ana, changes=bad)
    with db.read_sessions() as session:
        assert preferences(session, ana)["points_minted"]["mode"] == IMMEDIATE, "all or nothing"


def test_digest_is_never_empty_never_twice_and_daily(db, community):
    ana, ben, cai = community.user(), community.user(), community.user()
    set_preferences(db.unit_of_work(), user_id=ben, changes={"contribution_decided": {"mode": DIGEST}})
    with db.write_sessions() as session, session.begin():
        for n in range(3):
            notify(session, ana, "points_minted", f"minted {n}", "/wallet")  # digest by default
        notify(session, ben, "booking_reminder", "mailed at once, not in a digest")
    sent: list[tuple[str, str, str]] = []

    def send(*mail):
        sent.append(mail)

    settings = MailSettings(site_url="http://kopa.test", tz=RIGA)
    first_run = dt.datetime.now(dt.UTC)
    assert send_digests(db, send, settings, now=first_run) == 1, "one: ben and cai have nothing waiting"
    (to, subject, text), = sent
    assert to == community.email_of(ana) and "3 notifications" in subject
    assert all(f"minted {n}" in text for n in range(3)) and "http://kopa.test/wallet" in text
    assert send_digests(db, send, settings) == 0 and len(sent) == 1, "nothing is sent twice, nothing empty"

    # The daily run (``due_since``: today's digest time): one digest a day per member.
    morning = dt.datetime(2030, 1, 8, 5, 30, tzinfo=dt.UTC)  # 07:30 in Riga
    moment = digest_moment(morning, 7, RIGA)
    assert moment == dt.datetime(2030, 1, 8, 5, 0, tzinfo=dt.UTC)
    before_seven = dt.datetime(2030, 1, 8, 4, 0, tzinfo=dt.UTC)
    assert digest_moment(before_seven, 7, RIGA) == moment - dt.timedelta(days=1)
    with db.write_sessions() as session, session.begin():
        notify(session, ana, "points_minted", "minted later")
    today = first_run - dt.timedelta(hours=1)
    assert send_digests(db, send, settings, due_since=today) == 0, "ana had today's digest already"
    tomorrow = first_run + dt.timedelta(seconds=1)
    assert send_digests(db, send, settings, due_since=tomorrow) == 1
    assert "minted later" in sent[-1][2] and "minted 0" not in sent[-1][2]
    with db.read_sessions() as session:
        digests = session.scalars(select(NotificationDigest).order_by(NotificationDigest.id)).all()
        sent_rows = [(d.user_id, d.count, d.sent_at is not None) for d in digests]
    assert sent_rows == [(ana, 3, True), (ana, 1, True)]
    assert cai not in {d.user_id for d in digests}
