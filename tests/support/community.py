"""Builds a community for tests through the real services: users of each role (one ``people``
factory for every test module), processes, tasks and approved contributions."""

from __future__ import annotations

import uuid

from community import accounts, contributions
from community.db import Database
from community.models import Role, User
from community.processes import building
from rewards.vault import KeyVault

PASSWORD = "correct horse battery"
SECRET = "test-secret-key-for-kopa"


class Community:
    """Builds users, processes and tasks through the real services."""

    def __init__(self, db: Database, vault: KeyVault) -> None:
        self.db = db
        self.vault = vault
        self._n = 0

    def user(self, role: Role = Role.MEMBER, email: str | None = None, name: str | None = None) -> int:
        self._n += 1
        return accounts.register_member(
            self.db.unit_of_work(),
            email=email or f"user{self._n}-{uuid.uuid4().hex[:6]}@example.org",
            display_name=name or f"User {self._n}",
            password=PASSWORD,
            role=role,
        )

    def people(self, **who: Role | str | tuple[Role, str]) -> dict[str, int]:
        """Users by key, made in the order given: a role (default name), a display name (a
        member) or (role, display name). ``people(staff=Role.STAFF, ana="Ana")``."""
        made = {}
        for key, spec in who.items():
            if isinstance(spec, Role):
                made[key] = self.user(spec)
            elif isinstance(spec, str):
                made[key] = self.user(name=spec)
            else:
                role, name = spec
                made[key] = self.user(role, name=name)
        return made

    def task(self, staff_id: int, complexity: int = 20, **process_options) -> int:
        """A task in a new (open) process that ``staff_id`` manages."""
        process_id = building.create_process(
            self.db.unit_of_work(), actor_id=staff_id, title="Process", **process_options
        )
        return building.create_task(
            self.db.unit_of_work(), actor_id=staff_id, process_id=process_id, title="Task",
            complexity=complexity,
        )

    def approved(self, member_id: int, staff_id: int, task_id: int, level: str = "low") -> int:
        """A submitted and approved contribution; level low awards the task's complexity."""
        cid = contributions.submit_contribution(
            self.db.unit_of_work(), member_id=member_id, task_id=task_id, text="did it"
        )
        contributions.approve_contribution(
            self.db.unit_of_work(), validator_id=staff_id, contribution_id=cid, level=level
        )
        return cid

    def email_of(self, user_id: int) -> str:
        with self.db.read_sessions() as session:
            return session.get(User, user_id).email
