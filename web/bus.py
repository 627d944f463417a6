"""After a unit of work commits, its events are handled here, in one place."""

from __future__ import annotations

from collections.abc import Iterable

from community.events import LedgerChanged


def dispatch(events: Iterable[object]) -> None:
    from web import live

    if any(isinstance(e, LedgerChanged) for e in events):
        live.publish_standings()
