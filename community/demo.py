"""The demo community that `make run` seeds once (skipped with KOPA_DEMO=0)."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select

from community import accounts
from community.db import Database
from community.models import Process, Role, User
from community.processes import building
from community.registry import Registry

DEMO_PASSWORD = "kopa-demo-pass"
DEMO_ACCOUNTS = [
    ("admin@kopa.local", "Admin Alise", Role.ADMIN),
    ("staff@kopa.local", "Staff Sandra", Role.STAFF),
    ("staff2@kopa.local", "Staff Jānis", Role.STAFF),
    ("auditor@kopa.local", "Auditor Andris", Role.AUDITOR),
] + [(f"member{i}@kopa.local", name, Role.MEMBER) for i, name in enumerate(
    ["Līga", "Mārtiņš", "Elena", "Pablo", "Ilze"], start=1)]

DEMO_PROCESS = (
    "Green courtyards for Āgenskalns",
    "Residents and the city redesign three inner courtyards: map what is there, "
    "collect ideas, and build the first planters together.",
    [
        ("Map a courtyard", "Photograph and sketch one courtyard: entrances, trees, benches, bins.", 20),
        ("Collect neighbours' ideas", "Ask at least five neighbours what they would change.", 40),
        ("Draft a planting plan", "Propose plants and planter positions for one courtyard.", 60),
        ("Build a planter", "Join a Saturday workshop at the innovation centre and build a planter.", 80),
    ],
)


# Each package seeds its part of the demo: (database, account ids by e-mail, the demo process).
Seeder = Callable[[Database, dict[str, int], int], None]
seeders: Registry[Seeder] = Registry("demo seeders")


def seed_demo(db: Database) -> bool:
    """Create the demo accounts and process, then let every registered package seed its part;
    returns False if they already exist."""
    with db.read_sessions() as session:
        if session.scalar(select(User.id).where(User.email == DEMO_ACCOUNTS[0][0])) is not None:
            return False
    ids = {}
    for email, name, role in DEMO_ACCOUNTS:
        ids[email] = accounts.register_member(
            db.unit_of_work(), email=email, display_name=name, password=DEMO_PASSWORD, role=role
        )
    staff = ids["staff@kopa.local"]
    title, description, tasks = DEMO_PROCESS
    with db.read_sessions() as session:
        if session.scalar(select(Process.id).where(Process.title == title)) is not None:
            return True
    process_id = building.create_process(
        db.unit_of_work(), actor_id=staff, title=title, description=description
    )
    for task_title, task_description, complexity in tasks:
        building.create_task(
            db.unit_of_work(), actor_id=staff, process_id=process_id, title=task_title,
            description=task_description, complexity=complexity,
        )
    for seed in seeders:
        seed(db, ids, process_id)
    return True
