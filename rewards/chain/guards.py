"""The checks that stop the relay (``ChainError``) rather than let it deliver anything twice
or lose a row's tokens: a ref used on chain for another holder or amount, and a chain that
was reset under recorded deliveries."""

from __future__ import annotations

from collections.abc import Sequence

from web3 import Web3

from community.db import Database
from rewards.chain.client import ChainError
from rewards.chain.codec import Log
from rewards.chain.deploy import current_deployment
from rewards.chain.lanes import Lane
from rewards.models import OutboxItem


def refuse_foreign_refs(lane: Lane, rows: Sequence[OutboxItem], found: dict[str, Log]) -> None:
    """Rows about to be recorded from the chain's logs (delivered earlier: a crash between
    send and record, or another relay). A ref used on chain for another holder or amount is
    not this row's delivery: a database restored from a backup older than the chain hands out
    refs again (docs/deployment.md). Recording it would lose the row's tokens without a trace,
    so the relay stops."""
    if lane.holder_arg is None:
        return
    holder = lane.holder_arg
    foreign = [
        row for row in rows if (ev := found.get(row.ref)) is not None
        and (ev.args[holder].lower(), ev.args["amount"]) != (row.to_address.lower(), row.amount)
    ]
    if foreign:
        raise ChainError(
            f"{len(foreign)} {lane.kind} ref(s) are used on chain for another holder or amount "
            f"(outbox rows {', '.join(str(r.id) for r in foreign[:5])}); the database is older "
            "than the chain (restored from a backup?): refusing to record them, see "
            "docs/deployment.md on restoring a backup"
        )


def refuse_reset_chain(db: Database, w3: Web3) -> None:
    """Before re-queuing deliveries the chain lost: a reset chain is no reorg, so stop
    (``current_deployment`` raises ChainError) rather than deliver anything again."""
    with db.read_sessions() as session:
        current_deployment(session, w3)
