"""Points for answering a poll: the in-transaction handler of the kernel's ``PollAnswered``
(wired in ``web.bootstrap``). The scoring rules decide the award; the poll's own points are
the default. A member votes once per poll, and the source key makes a replay award nothing."""

from __future__ import annotations

from community.db import UnitOfWork
from community.events import PollAnswered
from rewards import scoring
from rewards.events import LedgerChanged

POLL_POINTS_RULE = ("poll-points", 1)


def award_answer(uow: UnitOfWork, event: PollAnswered) -> None:
    awards = scoring.awards_for(
        uow.session,
        scoring.POLL_ANSWERED,
        member_id=event.member_id,
        inputs={"points": event.points},
        context={"poll_id": event.poll_id, "process_id": event.process_id},
        default=scoring.Award(event.points, "participation", *POLL_POINTS_RULE),
    )
    if awards:
        scoring.record_awards(
            uow.session, awards, member_id=event.member_id, cause="poll",
            source_key=f"poll:{event.poll_id}:vote:{event.member_id}",
        )
        uow.publish(LedgerChanged((event.member_id,)))
