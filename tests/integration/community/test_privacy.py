"""GDPR (#9) on SQLite and PostgreSQL: the data export covers every table that refers to a
user (the test fails when a new one is not covered), holds every area and no secrets; erasure
removes personal data everywhere in the database, keeps the ledger, the audit chain and
reconciliation with the chain intact, and refuses wrong passwords and other people (the pages
and API are in tests/web/accounts/test_privacy_pages.py)."""

from __future__ import annotations

import datetime as dt
import importlib
import json
import pkgutil

import pytest
from sqlalchemy import inspect, select

import booking
import community
import rewards
from booking import approvals, cancellation, ics, recurring, waitlist
from booking.models import Booking, Suspension, WaitlistEntry
from community import accounts, contributions, notifications, privacy
from community.db import Base
from community.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from community.evidence import evidence_path, store_evidence
from community.models import (
    ApiToken,
    Contribution,
    Notification,
    NotificationPreference,
    PollAnswer,
    PollOption,
    ProcessApplication,
    Role,
    User,
)
from community.notifications import notify
from community.polls import editing, kiosks, voting
from community.processes import building, joining, permissions, resources, success_stories, teamwork
from rewards import boards, catalogue
from rewards.audit.actions import verify_audit_log
from rewards.audit.canonical import canonical_entry
from rewards.audit.epochs import close_epoch
from rewards.badges import save_badge
from rewards.models import AuditLogRow, LedgerEntry, OutboxItem, Redemption, Wallet
from rewards.standings import BoardKey
from tests.support.booking import NOW, POLICY, Centre, at
from tests.support.community import PASSWORD, SECRET, Community
from tests.support.loyalty import Chain, fund
from tests.support.privacy import (
    APPEAL,
    APPLICATION,
    CANCEL_REASON,
    CONTRIBUTION_TEXT,
    EVIDENCE_NAME,
    EVIDENCE_URL,
    NAME,
    POLL_TEXT,
    PSEUDONYM,
    database_text,
)
from web import bootstrap


def _email(tag: str) -> str:
    return f"mara.liepina.{tag}@example.org"


class World:
    """A member with data in every area Kopa has, built through the real services, and a
    member of staff and an admin who acted on it."""

    def __init__(self, db, community_: Community, tmp_path, tag: str = "a") -> None:
        self.db = db
        self.root = tmp_path
        uow = db.unit_of_work
        self.centre = centre = Centre(db, community_)
        self.staff = staff = centre.staff
        self.admin = admin = community_.user(Role.ADMIN, name="Admin Aino")
        self.email = _email(tag)
        self.member = m = community_.user(name=NAME, email=self.email)
        self.other = other = community_.user(name="Otto Other")
        save_badge(uow(), actor_id=admin, name=f"Co-creator {tag}", metric="approved_contributions",
                   thresholds="1")
        # Co-creation: a contribution with a file and a link (approved), one rejected and appealed,
        # one of someone else's with Mara as co-contributor.
        self.process = building.create_process(uow(), actor_id=staff, title="Courtyards")
        task = building.create_task(uow(), actor_id=staff, process_id=self.process, title="Plant",
                                    complexity=40)
        self.evidence = store_evidence(tmp_path, EVIDENCE_NAME, b"photos of the herbs at Home Street 5\n")
        self.contribution = contributions.submit_contribution(
            uow(), member_id=m, task_id=task, text=CONTRIBUTION_TEXT, evidence_url=EVIDENCE_URL,
            evidence=self.evidence)
        contributions.approve_contribution(uow(), validator_id=staff, contribution_id=self.contribution,
                                           level="low")
        rejected = contributions.submit_contribution(uow(), member_id=m, task_id=task, text="A second try")
        contributions.reject_contribution(uow(), validator_id=staff, contribution_id=rejected,
                                          comment="needs photos")
        contributions.appeal_contribution(uow(), member_id=m, contribution_id=rejected, reason=APPEAL)
        contributions.submit_contribution(uow(), member_id=other, task_id=task, text="Watered the beds",
                                          co_contributors=self.email)
        team = teamwork.create_team(uow(), actor_id=staff, name=f"Courtyard crew {tag}", kind="citizens")
        teamwork.add_team_member(uow(), actor_id=staff, team_id=team, email=self.email)
        permissions.grant_permission(uow(), actor_id=staff, process_id=self.process, permission_name="view",
                                     user_email=self.email)
        applied = building.create_process(uow(), actor_id=staff, title="Bridge", membership="application")
        joining.apply_to_process(uow(), user_id=m, process_id=applied, message=APPLICATION)
        success_stories.opt_in_story(uow(), user_id=m, process_id=self.process)
        item = resources.create_library_item(uow(), actor_id=staff, title="Guide", kind="guide",
                                             link="https://example.org/guide")
        resources.rate_library_item(uow(), user_id=m, item_id=item, stars=4)
        # Polls: Mara's vote with a written answer, and an anonymous kiosk answer (never exported).
        self.poll = editing.create_poll(
            uow(), actor_id=staff, question="Which yard first?", options=["North", "South"],
            closes_at=dt.datetime.now(dt.UTC) + dt.timedelta(days=1), allow_text=True, kiosk_enabled=True)
        with db.read_sessions() as session:
            north = session.scalars(select(PollOption.id).where(PollOption.poll_id == self.poll)
                                    .order_by(PollOption.position)).first()
        voting.vote(uow(), member_id=m, poll_id=self.poll, choices=[north], text=POLL_TEXT)
        kiosks.kiosk_answer(
            uow(), poll_id=self.poll, kiosk_session=kiosks.new_kiosk_session(), choices=[north]
        )
        # Booking: a paid room, a hall staff approve, a free weekly series, a waitlist, a suspension.
        centre.give_credits(m, 200)
        room = centre.resource(name=f"Room {tag}", price_per_hour=10)
        hall = centre.resource(name=f"Hall {tag}", needs_approval=True, price_per_hour=20, slot_minutes=60,
                               min_minutes=60)
        free = centre.resource(name=f"Free room {tag}")
        self.room_booking = centre.book(m, room, at(1, 10), at(1, 12)).id
        self.hall_booking = centre.book(m, hall, at(2, 10), at(2, 11)).id
        approvals.decide(uow(), staff_id=staff, booking_id=self.hall_booking, approve=True, now=NOW,
                                policy=POLICY)
        self.series = recurring.book_series(
            uow(), member_id=m, resource_id=free, start=at(3, 10).isoformat(), end=at(3, 11).isoformat(),
            count=2, now=NOW, policy=POLICY)
        self.others_booking = centre.book(other, free, at(4, 10), at(4, 11)).id
        self.waiting = waitlist.join_waitlist(
            uow(), member_id=m, resource_id=free, start=at(4, 10).isoformat(), end=at(4, 11).isoformat(),
            now=NOW, policy=POLICY)
        cancelled = centre.book(m, free, at(5, 10), at(5, 11)).id
        cancellation.cancel(uow(), actor_id=m, booking_id=cancelled, reason=CANCEL_REASON, now=NOW,
                                policy=POLICY)
        with db.write_sessions() as session, session.begin():
            session.add(Suspension(member_id=m, starts_at=at(-30, 9), ends_at=at(-23, 9),
                                   reason="3 no-shows"))
        ics.rotate_feed(uow(), secret=SECRET, user_id=m)
        # Rewards: a redemption still open, the board profile, a frozen board naming her.
        coffee = catalogue.save_item(uow(), actor_id=staff, name=f"Coffee {tag}", price=2)
        self.redemption = catalogue.redeem_item(uow(), member_id=m, item_id=coffee).id
        boards.update_board_profile(uow(), member_id=m, opt_out=False, pseudonym=PSEUDONYM)
        boards.freeze_board(uow(), actor_id=staff, key=BoardKey())
        # Account: an API token and a notification of her own.
        self.token = accounts.issue_api_token(uow(), m)
        with db.write_sessions() as session, session.begin():
            notify(session, m, "test", f"Hello {NAME}, your herbs look great")
        notifications.set_preferences(uow(), user_id=m, changes={"points_minted": {"mode": "digest"}})
        close_epoch(uow(), actor_id=admin)

    def export(self, viewer: int | None = None) -> dict:
        with self.db.read_sessions() as session:
            return privacy.export_member_data(session, viewer_id=viewer or self.member)


def _fks_to_users_in_schema(engine) -> set[tuple[str, str]]:
    found = set()
    inspector = inspect(engine)
    for table in inspector.get_table_names():
        for fk in inspector.get_foreign_keys(table):
            if fk["referred_table"] == "users":
                found.update((table, column) for column in fk["constrained_columns"])
    return found


def _import_all_models() -> None:
    for package in (community, rewards, booking):
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            importlib.import_module(info.name)
    bootstrap.register_modules()  # the packages' privacy parts, as every entry point has them


# --- coverage ---------------------------------------------------------------------------------


def test_every_user_reference_in_the_migrated_schema_is_covered(db):
    """Fails when a migration adds a table (or column) pointing at users.id that the export
    has not decided about: add a Part (or a NOT_EXPORTED reason) in community/privacy.py, and
    decide what erasure does with it."""
    in_schema = _fks_to_users_in_schema(db.engine)
    assert ("ledger_entries", "member_id") in in_schema  # the inspection itself works
    missing = in_schema - privacy.covered_columns()
    assert missing == set(), f"not covered by community/privacy.py: {sorted(missing)}"


def test_every_mapped_user_reference_is_covered_and_nothing_stale():
    _import_all_models()
    mapped = {(t.name, fk.parent.name) for t in Base.metadata.sorted_tables for fk in t.foreign_keys
              if fk.column.table.name == "users" and fk.column.name == "id"}
    missing = mapped - privacy.covered_columns()
    assert missing == set(), f"not covered by community/privacy.py: {sorted(missing)}"
    stale = privacy.covered_columns() - mapped
    assert stale == set(), f"community/privacy.py names columns that no longer refer to users: {stale}"
    for table, column in privacy.UNLINKED:
        assert column in Base.metadata.tables[table].columns
    keys = [part.key for part in privacy.PARTS]
    assert len(keys) == len(set(keys))


# --- export -----------------------------------------------------------------------------------

MEMBER_AREAS = ("wallet", "ledger_entries", "badges", "board_totals", "process_board_totals",
                "notification_preferences", "scoring_events", "redemptions",
                "contributions", "co_contributions", "contribution_actions", "team_memberships", "grants",
                "process_applications", "story_opt_ins", "library_ratings", "poll_votes", "notifications",
                "api_tokens", "bookings", "booking_series", "waitlists", "booking_suspensions",
                "calendar_feed")
STAFF_AREAS = ("validations", "ledger_entries_validated", "contribution_actions", "processes_created",
               "polls_created", "bookings_decided", "board_freezes")


def test_export_holds_every_area_and_no_secrets(db, community, tmp_path):
    w = World(db, community, tmp_path)
    data = w.export()
    assert data["kind"] == "kopa-member-data" and data["member_id"] == w.member
    assert data["profile"]["email"] == w.email and data["profile"]["display_name"] == NAME
    assert "password_hash" not in data["profile"]
    assert data["roles"] == {"role": "member", "team_admin_of": []}
    assert data["board_profile"] == {"opt_out": False, "pseudonym": PSEUDONYM}
    empty = [area for area in MEMBER_AREAS if not data[area]]
    assert empty == []
    with db.read_sessions() as session:
        address = session.scalars(select(Wallet.address).where(Wallet.user_id == w.member)).one()
    assert data["wallet"]["address"] == address and "encrypted_key" not in data["wallet"]
    [entry] = [e for e in data["ledger_entries"] if e["cause"] == "contribution"]
    assert entry["points"] == 40 and entry["chain"]["to_address"] == address
    [with_file] = [c for c in data["contributions"] if c["id"] == w.contribution]
    assert with_file["text"] == CONTRIBUTION_TEXT and with_file["evidence_url"] == EVIDENCE_URL
    assert (with_file["evidence_sha256"], with_file["evidence_filename"], with_file["evidence_size"]) == (
        w.evidence.sha256, EVIDENCE_NAME, w.evidence.size)
    assert [t["to"] for t in with_file["transitions"]] == ["pending", "approved"]
    assert {c["state"] for c in data["contributions"]} == {"approved", "appealed"}
    [vote] = data["poll_votes"]  # the kiosk answer is anonymous: not hers, not exported
    assert vote["text"] == POLL_TEXT and vote["choices"][0]["label"] == "North"
    assert "kiosk_session" not in vote
    assert {b["id"] for b in data["bookings"]} >= {w.room_booking, w.hall_booking}
    assert [x["state"] for x in data["waitlists"]] == ["waiting"]
    assert data["redemptions"][0]["state"] == "requested" and data["redemptions"][0]["item"] == "Coffee a"
    assert data["team_memberships"][0]["team"] == "Courtyard crew a"
    assert data["process_applications"][0]["message"] == APPLICATION
    assert data["calendar_feed"][0]["version"] == 2
    [token] = data["api_tokens"]
    assert set(token) == {"id", "user_id", "created_at", "expires_at", "revoked_at"}
    assert any(n["text"].startswith("Hello") for n in data["notifications"])
    dumped = json.dumps(data)
    assert w.token not in dumped and "token_hash" not in dumped and "password" not in dumped
    json.loads(dumped)  # plain JSON all the way down
    # The member of staff's export lists what they did, never the other person's text.
    staff = w.export(viewer=w.staff)
    assert [area for area in STAFF_AREAS if not staff[area]] == []
    assert {v["id"] for v in staff["validations"]} >= {w.contribution}
    assert CONTRIBUTION_TEXT not in json.dumps(staff) and APPEAL not in json.dumps(staff)
    admin = w.export(viewer=w.admin)
    assert admin["ledger_epochs_closed"] and admin["admin_actions"][-1]["action"] == "epoch.close"


def test_nobody_exports_another_members_data(db, community):
    member, other = community.user(), community.user()
    admin = community.user(Role.ADMIN)
    with db.read_sessions() as session:
        for viewer in (other, admin):
            with pytest.raises(Forbidden):
                privacy.export_member_data(session, viewer_id=viewer, member_id=member)
        assert privacy.export_member_data(session, viewer_id=member, member_id=member)["member_id"] == member


# --- erasure ----------------------------------------------------------------------------------


def _personal_strings(w: World) -> list[str]:
    return [NAME, w.email, PSEUDONYM, CONTRIBUTION_TEXT, EVIDENCE_URL, EVIDENCE_NAME, APPEAL, APPLICATION,
            POLL_TEXT, CANCEL_REASON, "Home Street 5"]


def _ledger(db) -> list[bytes]:
    with db.read_sessions() as session:
        entries = session.scalars(select(LedgerEntry).order_by(LedgerEntry.id))
        return [canonical_entry(e) for e in entries]


def test_erasure_removes_personal_data_and_keeps_ledger_and_audit_chain(db, community, tmp_path):
    w = World(db, community, tmp_path)
    text_before = database_text(db)
    assert all(s in text_before for s in _personal_strings(w))  # the scan would find them
    ledger_before = _ledger(db)
    with db.read_sessions() as session:
        outbox_before = set(session.scalars(select(OutboxItem.id)))
        address = session.scalars(select(Wallet.address).where(Wallet.user_id == w.member)).one()
    file = evidence_path(tmp_path, w.evidence.sha256)
    assert file.is_file()

    result = privacy.erase_own_account(db.unit_of_work(), member_id=w.member, password=PASSWORD, now=NOW,
                                       policy=POLICY, evidence_root=tmp_path)

    series_ids = [b.id for b in w.series.bookings]
    assert sorted(result.bookings_cancelled) == sorted([w.room_booking, w.hall_booking, *series_ids])
    assert result.waitlists_left == [w.waiting] and result.redemptions_cancelled == [w.redemption]
    assert result.tokens_revoked == 1 and result.evidence_removed == [w.evidence.sha256]
    leftover = [s for s in _personal_strings(w) if s in database_text(db)]
    assert leftover == []
    assert not file.exists()
    # The ledger only grew: every earlier entry is byte for byte the same; refunds were added.
    ledger_after = _ledger(db)
    assert ledger_after[: len(ledger_before)] == ledger_before
    with db.read_sessions() as session:
        added = session.scalars(select(LedgerEntry).order_by(LedgerEntry.id).offset(len(ledger_before))).all()
        assert sorted((e.member_id, e.points, e.cause) for e in added) == sorted([
            (w.member, 20, "booking_refund"), (w.member, 20, "booking_refund"),
            (w.member, 2, "redemption refund")])
        outbox_after = set(session.scalars(select(OutboxItem.id)))
        assert outbox_before < outbox_after and len(outbox_after - outbox_before) == 3  # the refunds' mints
        user = session.get(User, w.member)
        assert (user.email, user.active, user.role) == (f"erased-{w.member}@erased.invalid", False, "member")
        assert user.display_name == f"Member {w.member} (erased)" and user.board_pseudonym is None
        assert user.board_opt_out is True
        wallet = session.scalars(select(Wallet).where(Wallet.user_id == w.member)).one()
        assert wallet.address == address and wallet.encrypted_key == b""
        assert session.scalars(select(ApiToken.revoked_at).where(ApiToken.user_id == w.member)).one()
        assert session.scalars(select(Notification).where(Notification.user_id == w.member)).all() == []
        assert session.scalars(select(NotificationPreference)
                               .where(NotificationPreference.user_id == w.member)).all() == []
        query = select(Booking.id, Booking.state).where(Booking.member_id == w.member)
        states = dict(session.execute(query).all())
        assert {states[i] for i in result.bookings_cancelled} == {"cancelled"}
        assert session.get(Booking, w.others_booking).state == "confirmed"
        assert session.get(WaitlistEntry, w.waiting).state == "left"
        assert session.get(Redemption, w.redemption).state == "cancelled"
        contribution = session.get(Contribution, w.contribution)
        assert contribution.state == "approved" and contribution.text == privacy.ERASED_TEXT
        assert contribution.evidence_sha256 == w.evidence.sha256 and contribution.evidence_url is None
        assert session.scalars(select(PollAnswer).where(PollAnswer.member_id == w.member)).one().text is None
        assert session.scalars(select(ProcessApplication.message)
                               .where(ProcessApplication.user_id == w.member)).one() == ""
        # The audit chain verifies and says who erased whom, pseudonymously.
        assert verify_audit_log(session) == []
        last = session.scalars(select(AuditLogRow).order_by(AuditLogRow.id.desc()).limit(1)).one()
        assert (last.action, last.subject, last.actor_id, last.actor_role) == (
            "member.erase", f"user {w.member}", w.member, "member")
        # Erased accounts cannot sign in, use a token or export.
        for email in (w.email, user.email):
            with pytest.raises(Unauthorized):
                accounts.authenticate(session, email, PASSWORD)
        assert accounts.user_for_token(session, w.token) is None
        with pytest.raises(NotFound):
            privacy.export_member_data(session, viewer_id=w.member)
    with pytest.raises(Conflict):
        privacy.erase_by_admin(db.unit_of_work(), admin_id=w.admin, member_id=w.member)


def test_wrong_password_or_the_last_admin_erases_nothing(db, community):
    member = community.user()
    accounts.issue_api_token(db.unit_of_work(), member)
    for password in ("not my password", "", None, 12345):
        with pytest.raises(InvalidInput):
            privacy.erase_own_account(db.unit_of_work(), member_id=member, password=password)
    admin = community.user(Role.ADMIN)
    with pytest.raises(Conflict, match="last admin"):
        privacy.erase_own_account(db.unit_of_work(), member_id=admin, password=PASSWORD)
    with db.read_sessions() as session:
        for user_id in (member, admin):
            user = session.get(User, user_id)
            assert user.active and "erased" not in user.email
            assert accounts.authenticate(session, user.email, PASSWORD).id == user_id
        assert session.scalars(select(ApiToken.revoked_at).where(ApiToken.user_id == member)).one() is None
        assert session.scalars(select(AuditLogRow)).all() == []
    second = community.user(Role.ADMIN)  # with another admin, an admin may leave
    privacy.erase_own_account(db.unit_of_work(), member_id=admin, password=PASSWORD)
    with db.read_sessions() as session:
        assert not session.get(User, admin).active and session.get(User, second).is_admin


def test_admin_erasure_is_for_admins_only_and_logged(db, community):
    member, staff, admin = community.user(), community.user(Role.STAFF), community.user(Role.ADMIN)
    for actor in (member, staff):
        with pytest.raises(Forbidden):
            privacy.erase_by_admin(db.unit_of_work(), admin_id=actor, member_id=admin)
    with pytest.raises(NotFound):
        privacy.erase_by_admin(db.unit_of_work(), admin_id=admin, member_id=999_999)
    with pytest.raises(Conflict):
        privacy.erase_by_admin(db.unit_of_work(), admin_id=admin, member_id=admin)
    privacy.erase_by_admin(db.unit_of_work(), admin_id=admin, member_id=staff)
    with db.read_sessions() as session:
        [row] = session.scalars(select(AuditLogRow)).all()
        assert (row.action, row.subject, row.actor_id, row.actor_role) == (
            "member.erase", f"user {staff}", admin, "admin")
        assert json.loads(row.detail)["by"] == "admin"
        assert not session.get(User, staff).is_staff and session.get(User, member).active
        assert verify_audit_log(session) == []


@pytest.mark.chain
def test_erasure_keeps_reconciliation_with_the_chain(db, vault, community, anvil):
    from rewards.chain.audit import reconcile

    chain = Chain(db, vault, anvil.url)
    member, other = community.user(name=NAME), community.user()
    staff = fund(community, chain, [member, other], 40)
    item = catalogue.save_item(db.unit_of_work(), actor_id=staff, name="Coffee", price=3)
    handed_over = catalogue.redeem_item(db.unit_of_work(), member_id=member, item_id=item).id
    catalogue.fulfil_redemption(db.unit_of_work(), actor_id=staff, redemption_id=handed_over)
    chain.drain()
    open_redemption = catalogue.redeem_item(db.unit_of_work(), member_id=member, item_id=item).id
    privacy.erase_own_account(db.unit_of_work(), member_id=member, password=PASSWORD)
    chain.drain()  # the open redemption's burn and its refund both reach the chain
    assert chain.undelivered() == []
    with db.read_sessions() as session:
        assert session.get(Redemption, open_redemption).state == "cancelled"
        assert session.get(Redemption, handed_over).state == "fulfilled"
        report = reconcile(session, chain.w3)
        assert verify_audit_log(session) == []
    assert report["ok"], report["mismatches"]
    [holder] = [h for h in report["holders"] if h["member_id"] == member]
    assert holder["ledger_total"] == holder["balance"] == 40 - 3  # the fulfilled one stays spent
