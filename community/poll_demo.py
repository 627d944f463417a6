"""Demo polls: one in the demo process with a kiosk screen (and some answers from members and
from the screen), one standalone poll whose results wait for it to close."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from community.db import Database, utcnow
from community.models import PollOption
from community.polls import editing, kiosks, voting

KIOSK_POLL = {
    "question": "Which courtyard should get planters first?",
    "description": "The first planters are built at the Saturday workshop. Tell us where they should go.",
    "options": ["Slokas iela courtyard", "Kalnciema iela courtyard", "Mārupes iela courtyard"],
    "kind": "single",
    "results_visibility": "after_vote",
    "points": 5,
    "kiosk_enabled": True,
}
STANDALONE_POLL = {
    "question": "What should the innovation centre open on Saturdays?",
    "options": ["Repair café", "Coding club for children", "Open workshop hours", "Language exchange"],
    "kind": "multiple",
    "max_choices": 2,
    "allow_text": True,
    "results_visibility": "after_close",
}


def seed_polls(db: Database, ids: dict[str, int], process_id: int | None) -> list[int]:
    """Create the demo polls with a few answers; returns their ids."""
    staff = ids["staff@kopa.local"]
    now = utcnow()
    kiosk_poll = editing.create_poll(
        db.unit_of_work(), actor_id=staff, process_id=process_id, closes_at=now + dt.timedelta(days=30),
        **KIOSK_POLL,
    )
    standalone = editing.create_poll(
        db.unit_of_work(), actor_id=staff, closes_at=now + dt.timedelta(days=14), **STANDALONE_POLL
    )
    with db.read_sessions() as session:
        options = {
            poll_id: list(
                session.scalars(
                    select(PollOption.id).where(PollOption.poll_id == poll_id).order_by(PollOption.position)
                )
            )
            for poll_id in (kiosk_poll, standalone)
        }
    first, second, third = options[kiosk_poll]
    voting.vote(db.unit_of_work(), member_id=ids["member1@kopa.local"], poll_id=kiosk_poll, choices=[first])
    voting.vote(db.unit_of_work(), member_id=ids["member2@kopa.local"], poll_id=kiosk_poll, choices=[third])
    for choice in (first, first, second):
        kiosks.kiosk_answer(
            db.unit_of_work(), poll_id=kiosk_poll, kiosk_session=kiosks.new_kiosk_session(), choices=[choice]
        )
    repair, coding, *_ = options[standalone]
    voting.vote(
        db.unit_of_work(), member_id=ids["member1@kopa.local"], poll_id=standalone, choices=[repair, coding],
        text="A bike repair corner would be great.",
    )
    return [kiosk_poll, standalone]
