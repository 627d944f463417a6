"""After a unit of work commits, its events are handled here, in one place."""

from __future__ import annotations

from collections.abc import Iterable

from flask import current_app

from community.events import LedgerChanged


def dispatch(events: Iterable[object]) -> None:
    from web import live

    ledger_changed = any(isinstance(e, LedgerChanged) for e in events)
    if ledger_changed:
        live.publish_standings()
        relay = current_app.extensions.get("kopa.relay")
        if relay is not None:
            relay.wake()
