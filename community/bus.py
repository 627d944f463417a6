"""The message bus (cosmicpython's ``messagebus``): one place that knows who reacts to what.

Two kinds of handler, wired once in ``web.bootstrap``:
- in-transaction handlers run inside the unit of work as soon as an event is published,
  before the commit: what they write (ledger entries, outbox rows, badges, notifications)
  commits together with the change that raised the event, or not at all. They may publish
  further events; they may return ids of rows they wrote, which ``publish`` hands back.
- after-commit handlers run once the unit of work has committed (cache invalidation, live
  pushes, mail): nothing ever announces a change that was rolled back.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

InTransactionHandler = Callable[[Any, Any], object]  # (unit of work, event) -> result or None
AfterCommitHandler = Callable[[Any], None]  # (event) -> None


class MessageBus:
    def __init__(self) -> None:
        self._in_transaction: dict[type, list[InTransactionHandler]] = defaultdict(list)
        self._after_commit: dict[type, list[AfterCommitHandler]] = defaultdict(list)
        self._after_commit_batch: list[tuple[tuple[type, ...], Callable[[], None]]] = []

    def in_transaction(self, event_type: type, handler: InTransactionHandler) -> None:
        self._in_transaction[event_type].append(handler)

    def after_commit(self, event_type: type, handler: AfterCommitHandler) -> None:
        self._after_commit[event_type].append(handler)

    def once_after_commit(self, event_types: tuple[type, ...], handler: Callable[[], None]) -> None:
        """``handler`` runs once per commit that published any of ``event_types`` (one cache
        invalidation for a unit of work that wrote many ledger entries)."""
        self._after_commit_batch.append((event_types, handler))

    def handle_in_transaction(self, uow: Any, event: object) -> list[object]:
        results = []
        for handler in self._in_transaction.get(type(event), ()):
            result = handler(uow, event)
            if result is not None:
                results.append(result)
        return results

    def handle_after_commit(self, events: Iterable[object]) -> None:
        events = list(events)
        for event in events:
            for handler in self._after_commit.get(type(event), ()):
                handler(event)
        for event_types, handler in self._after_commit_batch:
            if any(isinstance(e, event_types) for e in events):
                handler()
