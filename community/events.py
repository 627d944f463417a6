"""Things that happened, named in the past tense; handled after the commit."""

from dataclasses import dataclass


@dataclass(frozen=True)
class ContributionSubmitted:
    contribution_id: int
    member_id: int


@dataclass(frozen=True)
class ContributionApproved:
    contribution_id: int
    member_id: int
    validator_id: int
    ledger_entry_id: int | None  # None when the award is zero points


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


@dataclass(frozen=True)
class LedgerChanged:
    """Any ledger write: standings caches must be dropped and boards pushed."""

    member_ids: tuple[int, ...]
