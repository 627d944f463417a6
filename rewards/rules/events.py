"""What scoring rules can match: the event kinds, the named inputs and context each kind
passes, and the Award an event gives. Features (through ``rewards.scoring``) and the rules
engine both speak this vocabulary, so it sits below both."""

from __future__ import annotations

from dataclasses import dataclass

# Event kinds rules can match.
CONTRIBUTION_APPROVED = "contribution_approved"
POLL_ANSWERED = "poll_answered"
BOOKING_CHECKED_IN = "booking_checked_in"
STREAK_REACHED = "streak_reached"
EVENT_KINDS = (CONTRIBUTION_APPROVED, POLL_ANSWERED, BOOKING_CHECKED_IN, STREAK_REACHED)

# Named numeric inputs each event kind passes (what formulas may use).
EVENT_INPUTS: dict[str, tuple[str, ...]] = {
    CONTRIBUTION_APPROVED: ("complexity", "level"),  # level: low 1, average 2, high 3
    POLL_ANSWERED: ("points",),  # the poll's configured points
    BOOKING_CHECKED_IN: ("duration", "price"),  # hours, credits
    STREAK_REACHED: ("weeks",),
}
# Context each event kind passes (what conditions may match), with the kind of value:
# "id" positive whole numbers, "key" ids or names, "number" numbers (ranges allowed).
EVENT_CONTEXT: dict[str, dict[str, str]] = {
    CONTRIBUTION_APPROVED: {"process_id": "id", "task_id": "id", "complexity": "number"},
    POLL_ANSWERED: {"poll_id": "id", "process_id": "id"},
    BOOKING_CHECKED_IN: {"resource_id": "id", "group_id": "id"},
    STREAK_REACHED: {},
}
TIER = "tier"  # every kind: the member's loyalty tier name when the event happened


@dataclass(frozen=True)
class Award:
    points: int
    dimension: str
    rule_id: str
    rule_version: int
