"""Things that happened in the kernel, named in the past tense. ``web.bootstrap`` wires who
handles each: in the publishing transaction (points, wallets) or after its commit."""

from dataclasses import dataclass


@dataclass(frozen=True)
class MemberRegistered:
    member_id: int


@dataclass(frozen=True)
class ContributionSubmitted:
    contribution_id: int
    member_id: int


@dataclass(frozen=True)
class ContributionApproved:
    contribution_id: int
    member_id: int
    validator_id: int
    level: str
    comment: str | None


@dataclass(frozen=True)
class ContributionRejected:
    contribution_id: int
    member_id: int
    validator_id: int


@dataclass(frozen=True)
class ContributionRevoked:
    contribution_id: int
    member_id: int
    validator_id: int
    comment: str


@dataclass(frozen=True)
class MemberErased:
    """An account is being erased: published inside the erasure, before the person's row is
    wiped (handlers still see the actor's role). ``counts``: what each step did, by name."""

    member_id: int
    actor_id: int
    counts: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class PollAnswered:
    """A member voted in a poll that gives points (``points`` is the poll's offer; the scoring
    rules decide what is awarded)."""

    poll_id: int
    member_id: int
    process_id: int | None
    points: int


@dataclass(frozen=True)
class TeamMembershipChanged:
    """A team was created or gained or lost a member: team boards and places follow."""

    team_id: int
