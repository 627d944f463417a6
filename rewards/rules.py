"""Scoring rules engine (issue #4). Until rules are defined, no rule matches any event."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from rewards.scoring import Award


def evaluate(
    session: Session,
    event: str,
    *,
    member_id: int,
    inputs: Mapping[str, float],
    context: Mapping[str, object],
) -> list[Award] | None:
    """Awards from the published rules matching ``event``, or None when no rule matches
    (the caller's default then applies)."""
    return None
