"""Validator statistics: decisions, approval rates, time to decide, four-eyes overrides
and signs of self-dealing, per validator."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict

from sqlalchemy import select
from sqlalchemy.orm import Session

from community.db import as_utc
from community.models import Contribution, ContributionState, ContributionTransition, TeamMember, User
from rewards.audit.access import check_auditor

S = ContributionState
DECIDED = (S.APPROVED.value, S.REJECTED.value, S.CHANGES_REQUESTED.value, S.AWAITING_SECOND.value)
COUNTED = ("approvals", "first_approvals", "rejections", "changes_requested", "overrides_made",
           "self_approvals")


def validator_stats(session: Session, viewer: User, *, repeat_threshold: int = 3) -> list[dict]:
    """Per validator: decisions, approvals, approval rate, median time to decide, four-eyes
    overrides (a second validator turning down a first approval, and first approvals
    overridden), and self-dealing signs: approvals of their own team mates, counted per
    mate, flagged from ``repeat_threshold`` approvals of the same mate."""
    check_auditor(viewer)
    stats, waits, mates = _tally(session)
    names = dict(session.execute(select(User.id, User.display_name)).all())
    return [
        _summary(s, names.get(vid), waits.get(vid, []), mates[vid], repeat_threshold)
        for vid, s in sorted(stats.items())
    ]


def _tally(session: Session) -> tuple[dict[int, dict], dict[int, list[float]], dict[int, Counter]]:
    """Counts per validator over every decision, seconds from submission to each decision,
    and approvals per team mate."""
    transitions = session.execute(
        select(ContributionTransition, Contribution.member_id, Contribution.created_at)
        .join(Contribution, Contribution.id == ContributionTransition.contribution_id)
        .where(ContributionTransition.to_state.in_(DECIDED))
        .order_by(ContributionTransition.id)
    ).all()
    teams: dict[int, set[int]] = defaultdict(set)
    for team_id, user_id in session.execute(select(TeamMember.team_id, TeamMember.user_id)):
        teams[user_id].add(team_id)
    stats: dict[int, dict] = {}
    waits: dict[int, list[float]] = defaultdict(list)
    mates: dict[int, Counter] = defaultdict(Counter)
    for tr, member_id, submitted in transitions:
        s = stats.setdefault(
            tr.actor_id,
            {"validator_id": tr.actor_id, "decisions": 0, "approvals": 0, "first_approvals": 0,
             "rejections": 0, "changes_requested": 0, "overrides_made": 0, "overrides_received": 0,
             "self_approvals": 0},
        )
        s["decisions"] += 1
        waits[tr.actor_id].append((as_utc(tr.at) - as_utc(submitted)).total_seconds())
        s[{S.APPROVED.value: "approvals", S.AWAITING_SECOND.value: "first_approvals",
           S.REJECTED.value: "rejections"}.get(tr.to_state, "changes_requested")] += 1
        if tr.from_state == S.AWAITING_SECOND.value and tr.to_state != S.APPROVED.value:
            s["overrides_made"] += 1
            first = _first_approver(session, tr)
            if first is not None:
                stats.setdefault(first, {"validator_id": first}).setdefault("overrides_received", 0)
                stats[first]["overrides_received"] = stats[first].get("overrides_received", 0) + 1
        if tr.to_state in (S.APPROVED.value, S.AWAITING_SECOND.value):
            if member_id == tr.actor_id:
                s["self_approvals"] += 1
            elif teams[member_id] & teams[tr.actor_id]:
                mates[tr.actor_id][member_id] += 1
    return stats, waits, mates


def _first_approver(session: Session, tr: ContributionTransition) -> int | None:
    """Who gave the first approval that ``tr`` (a second validator's decision) overrode."""
    return session.scalar(
        select(ContributionTransition.actor_id)
        .where(
            ContributionTransition.contribution_id == tr.contribution_id,
            ContributionTransition.to_state == S.AWAITING_SECOND.value,
            ContributionTransition.id < tr.id,
        )
        .order_by(ContributionTransition.id.desc())
        .limit(1)
    )


def _summary(s: dict, name: str | None, waits: list[float], mates: Counter, repeat_threshold: int) -> dict:
    """One validator's counts completed with the rates, the median wait and the flags."""
    s.setdefault("decisions", 0)
    for key in COUNTED:
        s.setdefault(key, 0)
    approving = s["approvals"] + s["first_approvals"]
    s["name"] = name
    s["approval_rate"] = round(approving / s["decisions"], 3) if s["decisions"] else None
    s["median_seconds_to_validate"] = statistics.median(waits) if waits else None
    s["team_mate_approvals"] = [
        {"member_id": m, "approvals": n, "flagged": n >= repeat_threshold} for m, n in mates.most_common()
    ]
    s["self_dealing"] = s["self_approvals"] > 0 or any(n >= repeat_threshold for n in mates.values())
    return s
