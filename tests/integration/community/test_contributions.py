"""The flow's database half, on SQLite and PostgreSQL: approval writes the contribution's
state, one ledger entry and one outbox row together, or nothing at all."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from community import contributions
from community.errors import Conflict, Forbidden, InvalidInput, NotFound
from community.models import Contribution, ContributionTransition, Role
from rewards.ledger import entry_id_of_ref, entry_ref, hashed_ref, instance_id, pending_points, points_total
from rewards.models import LedgerEntry, OutboxItem, Setting, Wallet
from rewards.standings import compute_standings


def _count(db, model) -> int:
    with db.read_sessions() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_approval_writes_entry_and_outbox_once(db, community):
    staff = community.user(Role.STAFF)
    member = community.user()
    task = community.task(staff, complexity=40)
    cid = contributions.submit_contribution(db.unit_of_work(), member_id=member, task_id=task, text="mapped")

    uow = db.unit_of_work()
    [entry_id] = contributions.approve_contribution(
        uow, validator_id=staff, contribution_id=cid, comment="great", level="low"
    )

    with db.read_sessions() as session:
        entry = session.get(LedgerEntry, entry_id)
        assert (entry.member_id, entry.points, entry.contribution_id, entry.validator_id) == (
            member, 40, cid, staff)
        assert (entry.rule_id, entry.rule_version) == ("complexity-x-level", 1)
        # The ref on chain: a 24-byte tag of the installation above the 64-bit entry id.
        tag = hashlib.sha256(f"kopa/ledger/{instance_id(session)}".encode()).hexdigest()[:48]
        assert entry.ref == "0x" + tag + entry_id.to_bytes(8, "big").hex()
        assert entry_id_of_ref(instance_id(session), entry.ref) == entry_id
        outbox = entry.outbox
        wallet = session.scalars(select(Wallet).where(Wallet.user_id == member)).one()
        assert (outbox.amount, outbox.to_address, outbox.ref, outbox.status) == (
            40, wallet.address, entry.ref, "pending")
        contribution = session.get(Contribution, cid)
        assert (contribution.state, contribution.decided_by_id, contribution.decision_comment) == (
            "approved", staff, "great")
        states = [t.to_state for t in contribution.transitions]
        assert states == ["pending", "approved"]
        assert points_total(session, member) == 40
        assert pending_points(session, member) == 40
    assert [type(e).__name__ for e in uow.events] == ["ContributionApproved", "LedgerChanged"]

    with pytest.raises(Conflict, match="is approved; approval needs it pending"):
        contributions.approve_contribution(db.unit_of_work(), validator_id=staff, contribution_id=cid)
    assert _count(db, LedgerEntry) == 1
    assert _count(db, OutboxItem) == 1


def test_only_staff_validate_and_never_their_own(db, community):
    staff = community.user(Role.STAFF)
    member = community.user()
    other = community.user()
    task = community.task(staff)
    cid = contributions.submit_contribution(db.unit_of_work(), member_id=member, task_id=task, text="x")
    for actor in (member, other):
        with pytest.raises(Forbidden, match="only staff"):
            contributions.approve_contribution(db.unit_of_work(), validator_id=actor, contribution_id=cid)
        with pytest.raises(Forbidden, match="only staff"):
            contributions.reject_contribution(
                db.unit_of_work(), validator_id=actor, contribution_id=cid, comment="no")
    own = contributions.submit_contribution(db.unit_of_work(), member_id=staff, task_id=task, text="mine")
    with pytest.raises(Forbidden, match="contributor or co-contributor"):
        contributions.approve_contribution(db.unit_of_work(), validator_id=staff, contribution_id=own)
    assert _count(db, LedgerEntry) == 0


def test_rejection_needs_a_comment_and_awards_nothing(db, community):
    staff = community.user(Role.STAFF)
    member = community.user()
    cid = contributions.submit_contribution(
        db.unit_of_work(), member_id=member, task_id=community.task(staff), text="x")
    with pytest.raises(InvalidInput, match="comment must not be empty"):
        contributions.reject_contribution(db.unit_of_work(), validator_id=staff, contribution_id=cid,
                                          comment=" ")
    contributions.reject_contribution(
        db.unit_of_work(), validator_id=staff, contribution_id=cid, comment="off topic")
    with pytest.raises(Conflict):
        contributions.approve_contribution(db.unit_of_work(), validator_id=staff, contribution_id=cid)
    with db.read_sessions() as session:
        assert session.get(Contribution, cid).state == "rejected"
        assert points_total(session, member) == 0
    assert _count(db, LedgerEntry) == 0


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"text": ""}, InvalidInput, "text must not be empty"),
        ({"text": "   "}, InvalidInput, "text must not be empty"),
        ({"text": None}, InvalidInput, "text must not be empty"),
        ({"text": "x" * 10_001}, InvalidInput, "longer than"),
        ({"text": "ok", "evidence_url": "javascript:alert(1)"}, InvalidInput, "http or https"),
        ({"text": "ok", "evidence_url": 12}, InvalidInput, "evidence_url"),
        ({"text": "ok", "task_id": 999_999}, NotFound, "task 999999 not found"),
        ({"text": "ok", "task_id": "1"}, NotFound, "task not found"),
        ({"text": "ok", "task_id": 2**70}, NotFound, "task not found"),
    ],
)
def test_bad_contributions_are_refused_and_write_nothing(db, community, kwargs, error, message):
    staff = community.user(Role.STAFF)
    member = community.user()
    task = community.task(staff)
    args = {"task_id": task, **kwargs}
    with pytest.raises(error, match=message):
        contributions.submit_contribution(db.unit_of_work(), member_id=member, **args)
    assert _count(db, Contribution) == 0
    assert _count(db, ContributionTransition) == 0


def test_failed_approval_leaves_nothing_half_written(db, community):
    """A member without a wallet makes the outbox insert fail after the ledger entry and
    the state change were flushed: all of it must roll back."""
    staff = community.user(Role.STAFF)
    member = community.user()
    cid = contributions.submit_contribution(
        db.unit_of_work(), member_id=member, task_id=community.task(staff), text="x")
    with db.write_sessions() as session, session.begin():
        session.delete(session.scalars(select(Wallet).where(Wallet.user_id == member)).one())
    with pytest.raises(Exception, match="No row was found"):
        contributions.approve_contribution(db.unit_of_work(), validator_id=staff, contribution_id=cid)
    with db.read_sessions() as session:
        assert session.get(Contribution, cid).state == "pending"
        assert len(session.get(Contribution, cid).transitions) == 1
    assert _count(db, LedgerEntry) == 0
    assert _count(db, OutboxItem) == 0


def test_ledger_is_append_only_in_the_database(db, community):
    staff = community.user(Role.STAFF)
    community.approved(community.user(), staff, community.task(staff))
    for statement in ("UPDATE ledger_entries SET points = 1000", "DELETE FROM ledger_entries"):
        with pytest.raises(DBAPIError, match="append-only"), db.engine.begin() as conn:
            conn.execute(text(statement))
    with db.read_sessions() as session:
        assert session.scalars(select(LedgerEntry.points)).all() == [20]


def test_refs_are_salted_per_instance(db, community):
    with db.write_sessions() as session:
        first = instance_id(session)
        session.commit()
    with db.read_sessions() as session:
        assert instance_id(session) == first
        assert session.get(Setting, "instance_id").value == first
    assert entry_ref(first, 1) != entry_ref("other", 1)
    assert entry_ref(first, 1)[:50] == entry_ref(first, 2**64 - 1)[:50], "one tag per installation"
    assert [len(entry_ref(first, i)) for i in (1, 2**64 - 1)] == [66, 66]
    assert entry_id_of_ref(first, entry_ref(first, 2**64 - 1)) == 2**64 - 1
    assert entry_id_of_ref("other", entry_ref(first, 7)) is None, "another installation's ref"
    assert entry_id_of_ref(first, hashed_ref(first, "contribution:1:approved")) is None, "a ref from before"
    with pytest.raises(ValueError, match="does not fit"):
        entry_ref(first, 2**64)


def test_standings_rank_by_points_then_who_got_there_first(db, community):
    staff = community.user(Role.STAFF)
    a, b, c = (community.user(name=n) for n in ("Ann", "Ben", "Cid"))
    task = community.task(staff, complexity=20)
    big = community.task(staff, complexity=60)
    community.approved(b, staff, task)
    community.approved(a, staff, task)
    community.approved(c, staff, big)
    with db.read_sessions() as session:
        board = [(s.rank, s.member, s.points) for s in compute_standings(session)]
    assert board == [(1, "Cid", 60), (2, "Ben", 20), (3, "Ann", 20)]
