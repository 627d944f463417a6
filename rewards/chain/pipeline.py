"""A pass's batches in flight: batch k+1 is signed and sent (with a locally counted nonce)
before batch k's receipt is read, so the node mines one while the relay records the other.
The intent is recorded before broadcasting, and only a successful receipt's logs mark a row
done; rows without a log there stay `sent` for the next pass to find on chain."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

from rewards.chain.host import RelayHost
from rewards.chain.lanes import Lane
from rewards.chain.transactions import wait_raw
from rewards.models import OutboxItem, OutboxStatus

BASE_GAS = 60_000


class MintReverted(Exception):
    """A batch reverted: paused contract or a revoked role. Worth waiting for an operator,
    not worth dying over: the relay backs off and tries again."""


class BatchPipeline:
    """Signs, sends and settles one pass's batches, keeping up to ``relay.in_flight`` of them
    sent and not yet recorded (1: send, wait, record, next)."""

    def __init__(self, relay: RelayHost) -> None:
        self.relay = relay
        # Sent batches not recorded yet (lane, rows, tx hash), oldest first, and the next nonce.
        self.sent: deque[tuple[Lane, list[OutboxItem], str]] = deque()
        self.nonce: int | None = None
        self.chain_id: int | None = None

    def deliver(self, lane: Lane, batches: Sequence[Sequence[OutboxItem]]) -> None:
        """Send ``batches`` with at most ``in_flight`` unrecorded at a time, then settle all."""
        try:
            for rows in batches:
                self.send(lane, rows)
                while len(self.sent) >= self.relay.in_flight:
                    self.settle()
            while self.sent:
                self.settle()
        except BaseException:
            # Batches still in flight stay `sent`: the next pass finds them on chain (and
            # records them from their logs) or not (and sends them again). The node gives
            # the next nonce then.
            self.sent.clear()
            self.nonce = None
            raise

    def next_nonce(self) -> int:
        if self.nonce is None:
            pending = self.relay.rpc("eth_getTransactionCount", [self.relay.minter.address, "pending"])
            self.nonce = int(pending, 16)
        nonce, self.nonce = self.nonce, self.nonce + 1
        return nonce

    def send(self, lane: Lane, rows: Sequence[OutboxItem]) -> None:
        """Sign and broadcast one batch; ``settle`` records it once its receipt is in."""
        relay = self.relay
        if self.chain_id is None:
            self.chain_id = int(relay.rpc("eth_chainId", []), 16)
        if relay.reorgs.fees is None:
            relay.reorgs.look_at_head()
        tx = {
            "type": 2,
            "chainId": self.chain_id,
            "nonce": self.next_nonce(),
            "to": lane.contract.address,
            "value": 0,
            "data": lane.batch_data(rows),
            "gas": BASE_GAS + lane.gas_per_item * len(rows),
            **relay.reorgs.fees,
        }
        signed = relay.minter.sign_transaction(tx)
        tx_hash = "0x" + bytes(signed.hash).hex()
        # Record the intent first: a crash after broadcasting leaves rows `sent` with the
        # hash, and the next pass finds them delivered (or not) on chain either way.
        relay.book.update(rows, status=OutboxStatus.SENT, tx_hash=tx_hash, sent=True)
        relay.w3.eth.send_raw_transaction(signed.raw_transaction)
        self.sent.append((lane, list(rows), tx_hash))

    def settle(self) -> None:
        """Wait for the oldest sent batch's receipt and record the rows its logs name. Only
        a successful receipt's logs mark a row done; rows without a log there (a ref some
        other sender used first) stay `sent` and the next pass records them from the chain."""
        lane, rows, tx_hash = self.sent.popleft()
        receipt = wait_raw(self.relay.w3, tx_hash, timeout=self.relay.receipt_timeout)
        if int(receipt["status"], 16) != 1:
            error = f"{lane.kind} batch {tx_hash} reverted"
            self.relay.book.update(rows, status=OutboxStatus.PENDING, error=error)
            raise MintReverted(
                f"{lane.kind} batch {tx_hash} reverted (contract paused or role revoked?)"
            )
        logs = lane.codec.decode_all(receipt["logs"], lane.contract.address)
        found = {lane.ref_of(ev.args): ev for ev in logs if ev.tx_hash == tx_hash.lower()}
        self.relay.book.mark_done(lane, [r for r in rows if r.ref in found], found)
