"""After a unit of work commits, its events are handled here, in one place."""

from __future__ import annotations

from collections.abc import Iterable

from community.events import LedgerChanged
from rewards.boards import BoardsChanged


def dispatch(events: Iterable[object]) -> None:
    from web import live

    # Ledger writes, freezes and board-profile changes share one invalidation and push.
    if any(isinstance(e, LedgerChanged | BoardsChanged) for e in events):
        live.publish_standings()
