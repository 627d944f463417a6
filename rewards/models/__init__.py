"""Rewards' tables, one module per part: the ledger and its outbox, audit epochs and the
action log, board totals and freezes, the loyalty catalogue and badges, scoring rules."""

from rewards.models.audit import (
    AuditEpoch,
    AuditEpochEntry,
    AuditLogRow,
)
from rewards.models.boards import (
    BoardFreeze,
    BoardTotal,
    ProcessBoardTotal,
    freeze_of,
)
from rewards.models.ledger import (
    Deployment,
    LedgerEntry,
    OutboxItem,
    OutboxKind,
    OutboxStatus,
    Setting,
    Wallet,
)
from rewards.models.loyalty import (
    Badge,
    BadgeAward,
    BadgeLevel,
    BadgeMetric,
    CatalogueItem,
    Redemption,
    RedemptionState,
    TierRow,
)
from rewards.models.rules import (
    RuleVersion,
    ScoringEvent,
    ScoringRule,
)

__all__ = [
    "AuditEpoch",
    "AuditEpochEntry",
    "AuditLogRow",
    "Badge",
    "BadgeAward",
    "BadgeLevel",
    "BadgeMetric",
    "BoardFreeze",
    "BoardTotal",
    "CatalogueItem",
    "Deployment",
    "LedgerEntry",
    "OutboxItem",
    "OutboxKind",
    "OutboxStatus",
    "ProcessBoardTotal",
    "Redemption",
    "RedemptionState",
    "RuleVersion",
    "ScoringEvent",
    "ScoringRule",
    "Setting",
    "TierRow",
    "Wallet",
    "freeze_of",
]
