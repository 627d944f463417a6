"""Re-checks of recorded deliveries a reorg (or a node restarted from an older state) may have
undone: a delivery whose transaction is no longer on the chain goes back to pending if its
ref is unused, or is re-recorded where the chain has it now (another relay re-made it). A
chain that was reset is no reorg: the relay stops instead (``guards.refuse_reset_chain``)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from rewards.chain.bookkeeping import Recorded
from rewards.chain.client import rpc_batch
from rewards.chain.guards import refuse_reset_chain
from rewards.chain.host import RelayHost
from rewards.chain.lanes import Lane, ref_bytes
from rewards.chain.transactions import fee_fields_of
from rewards.models import OutboxItem

log = logging.getLogger(__name__)

# Blocks below the old head that ``watch`` re-checks after a reorg; deeper than any reorg a
# production chain has shown (and a node restarted from an older state file loses blocks
# above its new head, which the window always covers).
REORG_WINDOW = 64


class ReorgWatch:
    """The chain head the relay saw last (and this pass's fees from it), and the re-checks
    of deliveries against the chain as it is now."""

    def __init__(self, relay: RelayHost) -> None:
        self.relay = relay
        # The head seen by the last ``watch`` (number, hash), and the fees read from it.
        self.head: tuple[int, bytes] | None = None
        self.fees: dict | None = None

    def look_at_head(self) -> tuple[int, bytes] | None:
        """Remember the chain head (and this pass's fees from it); returns the previous one."""
        previous = self.head
        head = self.relay.rpc("eth_getBlockByNumber", ["latest", False])
        self.head = (int(head["number"], 16), ref_bytes(head["hash"]))
        self.fees = fee_fields_of(head)
        return previous

    def still_on_chain(self, block: tuple[int, bytes]) -> bool:
        number, block_hash = block
        if block_hash == self.head[1]:
            return True
        if number > self.head[0]:
            return False
        found = self.relay.rpc("eth_getBlockByNumber", [hex(number), False])
        return found is not None and ref_bytes(found["hash"]) == block_hash

    def watch(self) -> int:
        """Re-check deliveries a reorg may have undone; returns how many went back to pending.

        Every pass checks what this relay recorded in its previous pass (a receipt can come
        from a block that is replaced before the record); when the block last seen as the head
        is no longer on the chain (a reorg, or a node restarted from an older state), also
        every delivery recorded in the ``reorg_window`` blocks below it, by any relay."""
        book = self.relay.book
        previous = self.look_at_head()
        own, book.recorded = book.recorded, []
        if previous is None:
            return 0
        rows: dict[Lane, dict[int, OutboxItem | Recorded]] = {}
        for lane, item in own:
            rows.setdefault(lane, {})[item.id] = item
        if not self.still_on_chain(previous):
            lowest = min(previous[0], self.head[0]) - self.relay.reorg_window
            log.warning("relay: block %d was replaced (reorg or node restart); re-checking deliveries "
                        "from block %d", previous[0], lowest)
            for lane in self.relay.lanes:
                if lane.ready:
                    rows.setdefault(lane, {}).update((r.id, r) for r in book.delivered_rows(lane, lowest))
        return sum(self.confirm(lane, list(items.values())) for lane, items in rows.items())

    def verify_recent(self) -> int:
        """Put back to pending any recorded delivery the chain no longer has (the last
        ``verify_window`` per lane); re-record those of the last ``reorg_window`` blocks that
        the chain has in another transaction now. Returns how many went back to pending."""
        lanes = self.relay.lanes
        lost = sum(self.verify_lane(lane) for lane in lanes)
        if self.head is None:
            self.look_at_head()
        lowest = self.head[0] - self.relay.reorg_window
        ready = [lane for lane in lanes if lane.ready]
        return lost + sum(self.confirm(lane, self.relay.book.delivered_rows(lane, lowest)) for lane in ready)

    def verify_lane(self, lane: Lane) -> int:
        if not lane.ready:
            return 0
        rows = self.relay.book.delivered_rows(lane)
        if not rows:
            return 0
        delivered = lane.delivered([r.ref for r in rows], self.relay.batch_size)
        lost = [r for r in rows if not delivered[r.ref]]
        self.relay.book.requeue(lane, lost)
        return len(lost)

    def confirm(self, lane: Lane, rows: Sequence[OutboxItem | Recorded]) -> int:
        """Rows whose recorded transaction has no receipt in their recorded block any more:
        re-queued when their ref is unused, re-recorded from the logs otherwise."""
        if not rows:
            return 0
        relay = self.relay
        hashes = sorted({r.tx_hash for r in rows})
        answers = rpc_batch(relay.w3, [("eth_getTransactionReceipt", [h]) for h in hashes])
        receipts: dict[str, int | None] = {
            h: int(r["blockNumber"], 16) if r is not None and int(r["status"], 16) == 1 else None
            for h, r in zip(hashes, answers, strict=True)
        }
        suspect = [r for r in rows if receipts[r.tx_hash] != r.block_number]
        if not suspect:
            return 0
        delivered = lane.delivered([r.ref for r in suspect], relay.batch_size)
        lost = [r for r in suspect if not delivered[r.ref]]
        if lost:
            refuse_reset_chain(relay.db, relay.w3)
        relay.book.requeue(lane, lost)
        moved = [r for r in suspect if delivered[r.ref]]
        if moved:
            relay.book.rerecord(lane, moved)
        return len(lost)
