"""What happened in rewards, named in the past tense: each drops the standings cache and
pushes the boards that changed once the unit of work has committed (``web.bootstrap``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LedgerChanged:
    """Any ledger write: standings caches must be dropped and boards pushed."""

    member_ids: tuple[int, ...]


@dataclass(frozen=True)
class BoardsChanged:
    """Something boards show changed without a ledger write (freeze, pseudonym, opt-out)."""
