"""Points minted (#9): the relay's word to members that their points are now credits on chain.

Called after the relay recorded a batch of delivered mints (``Relay.on_delivered``), in a
transaction of its own: one notification per member and batch, however many entries it
carried. A relay killed between the two writes loses the notice, never the mint.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy import select

from community.db import Database
from community.i18n import N_, NP_
from community.notifications import notify
from rewards.models import LedgerEntry

REFUNDS = ("booking_refund", "redemption refund")


def notify_minted(db: Database, entry_ids: Iterable[int]) -> int:
    """Add a ``points_minted`` notification per member of the given ledger entries; returns
    how many members were told."""
    ids = sorted(set(entry_ids))
    if not ids:
        return 0
    with db.write_sessions() as session, session.begin():
        entries = session.scalars(select(LedgerEntry).where(LedgerEntry.id.in_(ids), LedgerEntry.points > 0))
        earned: dict[int, int] = defaultdict(int)
        refunded: dict[int, int] = defaultdict(int)
        for entry in entries:
            (refunded if entry.cause in REFUNDS else earned)[entry.member_id] += entry.points
        for member_id in sorted(set(earned) | set(refunded)):
            parts = []
            if earned[member_id]:
                parts.append(NP_("%(num)s point you earned", "%(num)s points you earned", earned[member_id]))
            if refunded[member_id]:
                parts.append(NP_("%(num)s point refunded", "%(num)s points refunded", refunded[member_id]))
            what = parts[0] if len(parts) == 1 else N_("%(first)s and %(second)s", first=parts[0],
                                                         second=parts[1])
            notify(
                session,
                member_id,
                "points_minted",
                N_("Minted on chain: %(what)s are now credits in your wallet.", what=what),
                "/wallet",
            )
        return len(set(earned) | set(refunded))

