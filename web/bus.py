"""After a unit of work commits, its events are handled here, in one place. Features
subscribe their handlers when they are bound to the app (e.g. the live boards)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

_handlers: dict[Callable[[], None], tuple[type, ...]] = {}


def subscribe(handler: Callable[[], None], *kinds: type) -> None:
    """``handler()`` runs once after a dispatch whose events include one of ``kinds``."""
    _handlers[handler] = kinds


def dispatch(events: Iterable[object]) -> None:
    events = list(events)
    for handler, kinds in _handlers.items():
        if any(isinstance(e, kinds) for e in events):
            handler()
