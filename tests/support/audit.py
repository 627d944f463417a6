"""An audited community on a real anvil for the auditor's tests: members with minted points
(``Setup``), and altering a ledger row the way an attacker with database access would."""

from __future__ import annotations

from sqlalchemy import select, text

from community.models import Role, User
from rewards.audit.epochs import close_epoch, entry_proof
from rewards.chain.audit import reconcile
from rewards.chain.deploy import ANCHOR, recorded_deployment
from rewards.chain.relay import Relay
from rewards.models import LedgerEntry, Wallet
from tests.support.chain import deploy_for
from tests.support.relay import drain


class Setup:
    def __init__(self, db, vault, community, anvil):
        self.db = db
        self.w3, self.minter, self.token, self.block = deploy_for(db, vault, anvil.url)
        self.rpc = anvil.url
        self.admin = community.user(Role.ADMIN)
        self.staff = community.user(Role.STAFF)
        self.members = [community.user() for _ in range(3)]
        for i, member in enumerate(self.members):
            for _ in range(2):
                community.approved(member, self.staff, community.task(self.staff, complexity=20 + 20 * i))
        self.relay = Relay(db, self.w3, self.minter)
        drain(self.relay)

    def report(self) -> dict:
        with self.db.read_sessions() as session:
            return reconcile(session, self.w3)

    def address(self, member: int) -> str:
        with self.db.read_sessions() as session:
            return session.scalars(select(Wallet.address).where(Wallet.user_id == member)).one()

    def entry_ids(self) -> list[int]:
        with self.db.read_sessions() as session:
            return list(session.scalars(select(LedgerEntry.id).order_by(LedgerEntry.id)))

    def anchor_address(self) -> str:
        with self.db.read_sessions() as session:
            return recorded_deployment(session, self.w3.eth.chain_id, ANCHOR).address

    def close_and_anchor(self) -> dict:
        result = close_epoch(self.db.unit_of_work(), actor_id=self.admin)
        drain(self.relay)
        return result

    def proof(self, entry_id: int, viewer: int | None = None) -> dict:
        with self.db.read_sessions() as session:
            return entry_proof(session, session.get(User, viewer or self.staff), entry_id)


def tamper_points(db, entry_id: int, points: int) -> None:
    """What an attacker with database access does: get past the append-only trigger."""
    with db.engine.begin() as conn:
        if db.engine.dialect.name == "sqlite":
            conn.exec_driver_sql("DROP TRIGGER ledger_entries_no_update")
        else:
            conn.exec_driver_sql("ALTER TABLE ledger_entries DISABLE TRIGGER ledger_entries_append_only")
        conn.execute(text("UPDATE ledger_entries SET points = :p WHERE id = :i"),
                     {"p": points, "i": entry_id})
