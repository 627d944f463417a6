"""The relay: delivers pending outbox rows to the chain, exactly once per ledger entry.

Exactly-once does not depend on the relay being careful; it rests on the contracts:
``mintBatch``, ``redeemBatch`` and ``mintBadgeBatch`` skip refs already used. The relay
therefore may crash anywhere, run twice, or resend a batch: before sending it asks the chain
which refs are used and records those from their logs instead of sending them again.

Speed (#8): calls are encoded and logs decoded by ``rewards.chain.codec`` and receipts read
raw (web3's generic formatters took most of a batch's time), the bookkeeping is one UPDATE
per batch, and a pass pipelines its batches: batch k+1 is signed and sent (with a local
nonce) before batch k's receipt is read, so the node mines one while the relay records the
other. A row is only ever recorded from a successful receipt's log or from the chain's logs.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import requests
from eth_account.signers.local import LocalAccount
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.exceptions import TimeExhausted, Web3Exception

from community.db import Database, utcnow
from rewards.audit_models import AuditEpoch
from rewards.chain.client import (
    ChainError,
    anchor_contract,
    badges_contract,
    calls_at,
    credits_contract,
    rpc,
    rpc_batch,
)
from rewards.chain.codec import EventCodec, Log, decode_args, encode_call, event_codec
from rewards.chain.deploy import ANCHOR, BADGES, current_deployment, recorded_deployment
from rewards.chain.transactions import fee_fields_of, wait_raw
from rewards.models import OutboxItem, OutboxKind, OutboxStatus

log = logging.getLogger(__name__)

BASE_GAS = 60_000
# Blocks below the old head that ``watch`` re-checks after a reorg; deeper than any reorg a
# production chain has shown (and a node restarted from an older state file loses blocks
# above its new head, which the window always covers).
REORG_WINDOW = 64
TRANSIENT = (requests.exceptions.RequestException, TimeExhausted, Web3Exception, OSError)


class MintReverted(Exception):
    """A batch reverted: paused contract or a revoked role. Worth waiting for an operator,
    not worth dying over: the relay backs off and tries again."""


def _ref_bytes(ref: str) -> bytes:
    return bytes.fromhex(ref.removeprefix("0x"))


def _ref_hex(ref: bytes) -> str:
    return "0x" + bytes(ref).hex()


def _chunks(items: Sequence, size: int) -> Iterator[Sequence]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


@dataclass(slots=True)
class Recorded:
    """A delivery this relay recorded (what ``watch`` re-checks in the next pass)."""

    id: int
    ref: str
    tx_hash: str
    block_number: int


class Lane:
    """One kind of outbox row and the contract calls that deliver it exactly once: a batch
    function that skips refs already used, a batch view that says which refs are used, and
    the event (with an indexed ``ref``) that records where each landed."""

    kind: OutboxKind
    event_name: str
    gas_per_item: int
    # The batch function and its argument types (three arrays, one element per row) ...
    batch_function: str
    batch_types: tuple[str, ...] = ("address[]", "uint256[]", "bytes32[]")
    # ... and the view that says, per ref, whether it was used.
    check_function: str
    check_type = "bytes32[]"

    def __init__(self, relay: Relay) -> None:
        self.relay = relay
        self._codec: EventCodec | None = None

    @property
    def contract(self) -> Contract:
        return self.relay.contract

    @property
    def ready(self) -> bool:
        """Whether the lane has a contract to deliver to (it waits, idle, otherwise)."""
        return True

    @property
    def from_block(self) -> int:
        """Where to look for the lane's logs: the block its contract was deployed in."""
        return self.relay.deployment.block_number

    @property
    def codec(self) -> EventCodec:
        if self._codec is None:
            self._codec = event_codec(self.contract.abi, self.event_name)
        return self._codec

    def attach(self) -> None:
        """Find the lane's contract (called from ``Relay.prepare``)."""

    def check_args(self, refs: Sequence[bytes]) -> list:
        return list(refs)

    def check_data(self, refs: Sequence[bytes]) -> bytes:
        """Calldata of the batch view over ``refs``."""
        return encode_call(self.check_function, [self.check_type], [self.check_args(refs)])

    def delivered_flags(self, refs: Sequence[bytes]) -> list[bool]:
        return list(decode_args(["bool[]"], self.relay.call(self.contract.address, self.check_data(refs)))[0])

    def batch_args(self, rows: Sequence[OutboxItem]) -> list:
        """The batch function's arguments for ``rows`` (addresses as stored)."""
        return [
            [r.to_address for r in rows],
            [r.amount for r in rows],
            [_ref_bytes(r.ref) for r in rows],
        ]

    def batch_data(self, rows: Sequence[OutboxItem]) -> bytes:
        """Calldata of the batch function for ``rows``: what the relay signs and sends."""
        return encode_call(self.batch_function, self.batch_types, self.batch_args(rows))

    def batch_call(self, rows: Sequence[OutboxItem]) -> ContractFunction:
        """The same call as a web3 ``ContractFunction`` (for callers that build their own
        transaction, e.g. tests resending a delivered batch)."""
        args = [
            [Web3.to_checksum_address(a) for a in arg] if kind == "address[]" else arg
            for kind, arg in zip(self.batch_types, self.batch_args(rows), strict=True)
        ]
        return getattr(self.contract.functions, self.batch_function)(*args)

    def deliverable(self, rows: Sequence[OutboxItem]) -> list[OutboxItem]:
        """Rows that can go now (all, unless the chain state says some must wait)."""
        return list(rows)

    # The event argument that identifies a row; ``ref`` except for anchors (``epoch``).
    ref_arg = "ref"
    # The event arguments that must equal the row's holder and amount when a ref turns out to
    # be used already (None: the lane's events do not carry them).
    holder_arg: str | None = None

    def ref_of(self, args) -> str:
        """The outbox ref a decoded event belongs to."""
        return _ref_hex(args[self.ref_arg])

    def find_logs(self, refs: Sequence[str], from_block: int) -> dict[str, Log]:
        """Where the chain has the events of ``refs`` now (ref -> log), by one ``eth_getLogs``
        on the indexed ``ref_arg`` (a ref and an epoch are the same 32-byte topic word)."""
        codec = self.codec
        position = [name for name, _ in codec.indexed].index(self.ref_arg)
        topics: list = [codec.topic, *([None] * position), ["0x" + _ref_bytes(r).hex() for r in refs]]
        logs = self.relay.rpc("eth_getLogs", [{
            "address": self.contract.address, "fromBlock": hex(from_block), "toBlock": "latest",
            "topics": topics,
        }])
        return {self.ref_of(ev.args): ev for ev in codec.decode_all(logs, self.contract.address)}


class MintLane(Lane):
    kind = OutboxKind.MINT
    event_name = "RewardMinted"
    holder_arg = "to"
    gas_per_item = 60_000  # measured ~48k for a fresh holder incl. the once-per-ref slot
    batch_function = "mintBatch"
    check_function = "isMintedBatch"


class BurnLane(Lane):
    """Revocations, redemptions and booking payments. A burn larger than the holder's
    balance (credits spent before a revocation) waits, pending, until the balance covers it:
    the contract would revert the whole batch, and a balance never goes negative."""

    kind = OutboxKind.BURN
    event_name = "CreditsRedeemed"
    holder_arg = "from"
    gas_per_item = 45_000
    batch_function = "redeemBatch"
    check_function = "isRedeemedBatch"

    def deliverable(self, rows):
        addresses = sorted({r.to_address.lower() for r in rows})
        answers = self.relay.call_many(
            [(self.contract.address, encode_call("balanceOf", ["address"], [a])) for a in addresses]
        )
        left = {a: decode_args(["uint256"], data)[0] for a, data in zip(addresses, answers, strict=True)}
        ready, waiting = [], []
        for row in rows:
            address = row.to_address.lower()
            if row.amount <= left[address]:
                left[address] -= row.amount
                ready.append(row)
            else:
                waiting.append(row)
        if waiting:
            self.relay.note_waiting(waiting, "waiting: the holder's balance does not cover this burn yet")
        return ready


class OwnContractLane(Lane):
    """A lane whose contract is not KopaCredits: it finds its own deployment when the relay
    attaches, and waits, idle, while none is recorded for this chain."""

    contract_name: str
    contract_factory: Callable[[Web3, str], Contract]

    def __init__(self, relay: Relay) -> None:
        super().__init__(relay)
        self._contract: Contract | None = None
        self.deployment = None

    @property
    def contract(self) -> Contract:
        return self._contract

    @property
    def ready(self) -> bool:
        return self._contract is not None

    @property
    def from_block(self) -> int:
        return self.deployment.block_number

    def attach(self) -> None:
        w3 = self.relay.w3
        with self.relay.db.read_sessions() as session:
            if recorded_deployment(session, w3.eth.chain_id, self.contract_name) is None:
                log.warning("relay: no %s deployment recorded; %s rows wait until one is",
                            self.contract_name, self.kind)
                self._contract = self.deployment = None
                return
            self.deployment = current_deployment(session, w3, self.contract_name)
        self._contract = type(self).contract_factory(w3, self.deployment.address)


class BadgeLane(OwnContractLane):
    """Earned badge levels: soulbound ERC-1155 tokens on KopaBadges, one per level and member.
    ``mintBadgeBatch`` skips refs already minted and ids the holder already has; a row whose
    badge the holder already has under another ref (an older database against the same
    chain) is recorded as done without a mint of its own."""

    kind = OutboxKind.BADGE
    event_name = "BadgeMinted"
    gas_per_item = 90_000  # ERC-1155 fresh mint ~53k + once-per-ref slot + log
    contract_name = BADGES
    contract_factory = badges_contract
    batch_function = "mintBadgeBatch"
    check_function = "isMintedBatch"

    def batch_args(self, rows):
        return [
            [r.to_address for r in rows],
            [int(r.token_id) for r in rows],
            [_ref_bytes(r.ref) for r in rows],
        ]

    def deliverable(self, rows):
        if not rows:
            return []
        data = encode_call("balanceOfBatch", ["address[]", "uint256[]"],
                           [[r.to_address for r in rows], [int(r.token_id) for r in rows]])
        balances = decode_args(["uint256[]"], self.relay.call(self.contract.address, data))[0]
        if len(balances) != len(rows):
            raise ChainError("the contract answered with a different number of results")
        held = [r for r, balance in zip(rows, balances, strict=True) if balance > 0]
        if held:
            self.relay.mark_done_without_log(self, held, "the holder already had this badge on chain")
        return [r for r, balance in zip(rows, balances, strict=True) if balance == 0]


class AnchorLane(OwnContractLane):
    """Epoch roots of the ledger on KopaLedgerAnchor (issue #7). A row's ref is its epoch
    number as a bytes32 and ``token_id`` the epoch; the root comes from ``audit_epochs``.
    ``anchorBatch`` skips epochs that already have a root, so a resend writes nothing twice."""

    kind = OutboxKind.ANCHOR
    event_name = "EpochAnchored"
    gas_per_item = 75_000  # two fresh slots + log
    ref_arg = "epoch"
    contract_name = ANCHOR
    contract_factory = anchor_contract
    batch_function = "anchorBatch"
    batch_types = ("uint256[]", "bytes32[]", "uint256[]")
    check_function = "isAnchoredBatch"
    check_type = "uint256[]"

    def ref_of(self, args):
        return "0x" + int(args["epoch"]).to_bytes(32, "big").hex()

    def check_args(self, refs):
        return [int.from_bytes(r, "big") for r in refs]

    def batch_args(self, rows):
        with self.relay.db.read_sessions() as session:
            roots = {e.id: e.root for e in session.scalars(
                select(AuditEpoch).where(AuditEpoch.id.in_([int(r.token_id) for r in rows]))
            )}
        return [
            [int(r.token_id) for r in rows],
            [_ref_bytes(roots[int(r.token_id)]) for r in rows],
            [r.amount for r in rows],
        ]


class Relay:
    lane_types: tuple[type[Lane], ...] = (MintLane, BurnLane, BadgeLane, AnchorLane)

    def __init__(
        self,
        db: Database,
        w3: Web3,
        minter: LocalAccount,
        *,
        batch_size: int = 100,
        batches_per_pass: int = 5,
        in_flight: int = 2,
        receipt_timeout: float = 30.0,
        idle_seconds: float = 0.5,
        verify_window: int = 1000,
        reorg_window: int = REORG_WINDOW,
        on_delivered: Callable[[str, list[OutboxItem]], None] | None = None,
    ) -> None:
        self.db = db
        # Told after each recorded delivery (kind, rows), e.g. to push wallets to members;
        # it runs after the commit and its failure never stops the relay.
        self.on_delivered = on_delivered
        self.w3 = w3
        self.minter = minter
        self.batch_size = batch_size
        # A pass takes up to ``batches_per_pass`` batches per lane and keeps up to
        # ``in_flight`` of them sent and not yet recorded (1: send, wait, record, next).
        self.batches_per_pass = max(1, batches_per_pass)
        self.in_flight = max(1, in_flight)
        self.receipt_timeout = receipt_timeout
        self.idle_seconds = idle_seconds
        self.verify_window = verify_window
        self.reorg_window = reorg_window
        # The head seen by the last ``watch`` (number, hash), and what was recorded since.
        self._head: tuple[int, bytes] | None = None
        self._recorded: list[tuple[Lane, Recorded]] = []
        # Sent batches not recorded yet (lane, rows, tx hash), oldest first; the next nonce
        # and the fees of this pass (from the head block ``watch`` read).
        self._sent: deque[tuple[Lane, list[OutboxItem], str]] = deque()
        self._nonce: int | None = None
        self._fees: dict | None = None
        self._chain_id: int | None = None
        self.contract = None
        self.deployment = None
        self.error: str | None = None
        self.lanes = [lane(self) for lane in self.lane_types]

    # --- the node, raw ----------------------------------------------------------------------

    def rpc(self, method: str, params: list):
        return rpc(self.w3, method, params)

    def call(self, to: str, data: bytes) -> bytes:
        """``eth_call`` of ready-made calldata at the latest block; the raw answer."""
        return self.call_many([(to, data)])[0]

    def call_many(self, calls: Sequence[tuple[str, bytes]]) -> list[bytes]:
        """``eth_call``s at the latest block (``calls_at``); an empty answer raises
        ``BadFunctionCallOutput`` and ``prepare`` then tells a reset chain from a passing fault."""
        return calls_at(self.w3, calls)

    # --- lifecycle --------------------------------------------------------------------

    def prepare(self) -> None:
        """(Re)attach to the chain: check the contract is still there, then re-verify the
        most recent deliveries in case the node lost blocks (restart without a dump)."""
        with self.db.read_sessions() as session:
            self.deployment = current_deployment(session, self.w3)
        self.contract = credits_contract(self.w3, self.deployment.address)
        self._chain_id = int(self.rpc("eth_chainId", []), 16)
        for lane in self.lanes:
            lane.attach()
        # The head before verifying (a reorg after this shows in ``watch``); a relay that
        # reconnects keeps the head it saw last, so ``watch`` also sees what happened meanwhile.
        if self._head is None:
            self._look_at_head()
        self.verify_recent()

    def run_forever(self, stop: threading.Event) -> None:
        backoff = 0.5
        while not stop.is_set():
            try:
                if self.contract is None:
                    self.prepare()
                delivered = self.run_once()
                backoff = 0.5
                self.error = None
                if delivered == 0:
                    stop.wait(self.idle_seconds)
            except ChainError as exc:
                self.error = str(exc)
                log.error("relay stopped: %s", exc)
                raise
            except MintReverted as exc:
                self.error = str(exc)
                log.error("relay: %s; retrying in %.1fs", exc, backoff)
                stop.wait(backoff)
                backoff = min(backoff * 2, 30.0)
            except TRANSIENT as exc:
                log.warning("relay: chain unavailable (%s); retrying in %.1fs", exc, backoff)
                self.contract = None
                stop.wait(backoff)
                backoff = min(backoff * 2, 10.0)

    # --- one pass -------------------------------------------------------------------------

    def run_once(self) -> int:
        """Handle up to ``batches_per_pass`` batches of undelivered rows per lane; returns how
        many rows were sent or recorded (rows left waiting do not count, so an idle relay
        sleeps)."""
        if self.contract is None:
            self.prepare()
        # Nonces are counted locally within a pass only: a reorg or another sender may have
        # changed the next one since (the node's pending count is asked again).
        self._nonce = None
        self.watch()
        return sum(self._run_lane(lane) for lane in self.lanes)

    def _run_lane(self, lane: Lane) -> int:
        if not lane.ready:
            return 0
        with self.db.read_sessions() as session:
            rows = session.scalars(
                select(OutboxItem)
                .where(OutboxItem.status != OutboxStatus.DONE.value, OutboxItem.kind == lane.kind.value)
                .order_by(OutboxItem.id)
                .limit(self.batch_size * self.batches_per_pass)
            ).all()
        if not rows:
            return 0
        delivered = self._delivered(lane, [r.ref for r in rows])
        already = [r for r in rows if delivered[r.ref]]
        todo = lane.deliverable([r for r in rows if not delivered[r.ref]])
        for chunk in _chunks(already, self.batch_size):
            self._record_from_logs(lane, chunk)
        try:
            for chunk in _chunks(todo, self.batch_size):
                self._send(lane, chunk)
                while len(self._sent) >= self.in_flight:
                    self._settle()
            while self._sent:
                self._settle()
        except BaseException:
            # Batches still in flight stay `sent`: the next pass finds them on chain (and
            # records them from their logs) or not (and sends them again). The node gives
            # the next nonce then.
            self._sent.clear()
            self._nonce = None
            raise
        return len(already) + len(todo)

    def _delivered(self, lane: Lane, refs: Sequence[str]) -> dict[str, bool]:
        """Which refs the chain has used: one batch view per ``batch_size`` refs, all in one
        JSON-RPC request."""
        chunks = list(_chunks([_ref_bytes(r) for r in refs], self.batch_size))
        if len(chunks) == 1:
            flags = lane.delivered_flags(chunks[0])
        else:
            answers = self.call_many([(lane.contract.address, lane.check_data(c)) for c in chunks])
            flags = [f for answer in answers for f in decode_args(["bool[]"], answer)[0]]
        if len(flags) != len(refs):
            raise ChainError("the contract answered with a different number of results")
        return dict(zip(refs, (bool(f) for f in flags), strict=True))

    def _record_from_logs(self, lane: Lane, rows: Sequence[OutboxItem]) -> None:
        """Rows delivered earlier (a crash between send and record, or another relay). A ref
        used on chain for another holder or amount is not this row's delivery: a database
        restored from a backup older than the chain hands out refs again (docs/deployment.md).
        Recording it would lose the row's tokens without a trace, so the relay stops."""
        found = lane.find_logs([r.ref for r in rows], lane.from_block)
        if lane.holder_arg is not None:
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
        self._mark_done(lane, rows, found)

    def _next_nonce(self) -> int:
        if self._nonce is None:
            self._nonce = int(self.rpc("eth_getTransactionCount", [self.minter.address, "pending"]), 16)
        nonce, self._nonce = self._nonce, self._nonce + 1
        return nonce

    def _send(self, lane: Lane, rows: Sequence[OutboxItem]) -> None:
        """Sign and broadcast one batch; ``_settle`` records it once its receipt is in."""
        if self._chain_id is None:
            self._chain_id = int(self.rpc("eth_chainId", []), 16)
        if self._fees is None:
            self._look_at_head()
        tx = {
            "type": 2,
            "chainId": self._chain_id,
            "nonce": self._next_nonce(),
            "to": lane.contract.address,
            "value": 0,
            "data": lane.batch_data(rows),
            "gas": BASE_GAS + lane.gas_per_item * len(rows),
            **self._fees,
        }
        signed = self.minter.sign_transaction(tx)
        tx_hash = "0x" + bytes(signed.hash).hex()
        # Record the intent first: a crash after broadcasting leaves rows `sent` with the
        # hash, and the next pass finds them delivered (or not) on chain either way.
        self._update(rows, status=OutboxStatus.SENT, tx_hash=tx_hash, sent=True)
        self.w3.eth.send_raw_transaction(signed.raw_transaction)
        self._sent.append((lane, list(rows), tx_hash))

    def _settle(self) -> None:
        """Wait for the oldest sent batch's receipt and record the rows its logs name. Only
        a successful receipt's logs mark a row done; rows without a log there (a ref some
        other sender used first) stay `sent` and the next pass records them from the chain."""
        lane, rows, tx_hash = self._sent.popleft()
        receipt = wait_raw(self.w3, tx_hash, timeout=self.receipt_timeout)
        if int(receipt["status"], 16) != 1:
            self._update(rows, status=OutboxStatus.PENDING, error=f"{lane.kind} batch {tx_hash} reverted")
            raise MintReverted(
                f"{lane.kind} batch {tx_hash} reverted (contract paused or role revoked?)"
            )
        logs = lane.codec.decode_all(receipt["logs"], lane.contract.address)
        found = {lane.ref_of(ev.args): ev for ev in logs if ev.tx_hash == tx_hash.lower()}
        self._mark_done(lane, [r for r in rows if r.ref in found], found)

    # --- bookkeeping ----------------------------------------------------------------------

    @staticmethod
    def _reload(session: Session, rows: Sequence[OutboxItem]) -> list[OutboxItem]:
        """The same rows, attached to ``session``, in one query."""
        return session.scalars(
            select(OutboxItem).where(OutboxItem.id.in_([r.id for r in rows])).order_by(OutboxItem.id)
        ).all()

    @staticmethod
    def _set(session: Session, ids: Sequence[int], **values) -> None:
        """One UPDATE for all of ``ids`` (the batch's bookkeeping, not one per row)."""
        session.execute(
            update(OutboxItem).where(OutboxItem.id.in_(ids)).values(**values),
            execution_options={"synchronize_session": False},
        )

    def _mark_done(self, lane: Lane, rows: Sequence[OutboxItem], found: dict[str, Log]) -> None:
        """Record ``rows`` as delivered: at their log in ``found``, or (no log found) as
        delivered without one."""
        by_place: dict[tuple[str, int] | None, list[int]] = {}
        recorded = []
        for row in rows:
            ev = found.get(row.ref)
            place = (ev.tx_hash, ev.block_number) if ev is not None else None
            by_place.setdefault(place, []).append(row.id)
            if ev is not None:
                recorded.append(Recorded(row.id, row.ref, ev.tx_hash, ev.block_number))
        if by_place:
            now = utcnow()
            with self.db.write_sessions() as session, session.begin():
                done = {"status": OutboxStatus.DONE.value, "contract_address": lane.contract.address,
                        "done_at": now}
                for place, ids in by_place.items():
                    if place is None:
                        self._set(session, ids, **done,
                                  last_error=f"delivered on chain; its {lane.event_name} log was not found")
                    else:
                        tx_hash, block_number = place
                        self._set(session, ids, **done, tx_hash=tx_hash, block_number=block_number,
                                  last_error=None)
        self._recorded.extend((lane, item) for item in recorded)  # checked by the next ``watch``
        if self.on_delivered is not None and rows:
            try:
                self.on_delivered(lane.kind.value, list(rows))
            except Exception:  # a push must never undo or stall a delivery
                log.exception("relay: on_delivered failed")

    def mark_done_without_log(self, lane: Lane, rows: Sequence[OutboxItem], reason: str) -> None:
        self._mark_done(lane, rows, {})
        self.note_waiting(rows, reason)

    def note_waiting(self, rows: Sequence[OutboxItem], reason: str) -> None:
        with self.db.write_sessions() as session, session.begin():
            for item in self._reload(session, rows):
                if item.last_error != reason:
                    item.last_error = reason

    def _update(
        self,
        rows: Sequence[OutboxItem],
        *,
        status: OutboxStatus,
        tx_hash: str | None = None,
        sent: bool = False,
        error: str | None = None,
    ) -> None:
        values: dict = {"status": status.value, "last_error": error}
        if tx_hash is not None:
            values["tx_hash"] = tx_hash
        if sent:
            values["attempts"] = OutboxItem.attempts + 1
            values["sent_at"] = utcnow()
        with self.db.write_sessions() as session, session.begin():
            self._set(session, [r.id for r in rows], **values)

    def verify_recent(self) -> int:
        """Put back to pending any recorded delivery the chain no longer has (the last
        ``verify_window`` per lane); re-record those of the last ``reorg_window`` blocks that
        the chain has in another transaction now. Returns how many went back to pending."""
        lost = sum(self._verify_lane(lane) for lane in self.lanes)
        if self._head is None:
            self._look_at_head()
        lowest = self._head[0] - self.reorg_window
        ready = [lane for lane in self.lanes if lane.ready]
        return lost + sum(self._confirm(lane, self._recent(lane, lowest)) for lane in ready)

    def _verify_lane(self, lane: Lane) -> int:
        if not lane.ready:
            return 0
        with self.db.read_sessions() as session:
            rows = session.scalars(
                select(OutboxItem)
                .where(
                    OutboxItem.status == OutboxStatus.DONE.value,
                    OutboxItem.kind == lane.kind.value,
                    # Deliveries to an older deployment stay as they are: a replaced chain
                    # is the auditor's finding, never a reason to deliver again.
                    OutboxItem.contract_address == lane.contract.address,
                )
                .order_by(OutboxItem.id.desc())
                .limit(self.verify_window)
            ).all()
        if not rows:
            return 0
        delivered = self._delivered(lane, [r.ref for r in rows])
        lost = [r for r in rows if not delivered[r.ref]]
        self._requeue(lane, lost)
        return len(lost)

    def _requeue(self, lane: Lane, lost: Sequence[OutboxItem | Recorded]) -> None:
        """Back to pending, unless someone changed the row since it was read as delivered."""
        if not lost:
            return
        log.warning("relay: %d recorded %ss are not on chain any more; re-queuing", len(lost), lane.kind)
        checked = {r.id: r.tx_hash for r in lost}
        with self.db.write_sessions() as session, session.begin():
            for item in self._reload(session, lost):
                if item.status != OutboxStatus.DONE.value or item.tx_hash != checked[item.id]:
                    continue
                item.status = OutboxStatus.PENDING.value
                item.last_error = f"lost from chain (was {item.tx_hash}); re-queued"
                item.tx_hash = None
                item.block_number = None
                item.done_at = None

    # --- reorgs -----------------------------------------------------------------------------

    def _look_at_head(self) -> tuple[int, bytes] | None:
        """Remember the chain head (and this pass's fees from it); returns the previous one."""
        previous = self._head
        head = self.rpc("eth_getBlockByNumber", ["latest", False])
        self._head = (int(head["number"], 16), _ref_bytes(head["hash"]))
        self._fees = fee_fields_of(head)
        return previous

    def _still_on_chain(self, block: tuple[int, bytes]) -> bool:
        number, block_hash = block
        if block_hash == self._head[1]:
            return True
        if number > self._head[0]:
            return False
        found = self.rpc("eth_getBlockByNumber", [hex(number), False])
        return found is not None and _ref_bytes(found["hash"]) == block_hash

    def watch(self) -> int:
        """Re-check deliveries a reorg may have undone; returns how many went back to pending.

        Every pass checks what this relay recorded in its previous pass (a receipt can come
        from a block that is replaced before the record); when the block last seen as the head
        is no longer on the chain (a reorg, or a node restarted from an older state), also
        every delivery recorded in the ``reorg_window`` blocks below it, by any relay. A
        delivery whose transaction is no longer on the chain goes back to pending if its ref
        is unused, or is re-recorded where the chain has it now (another relay re-made it)."""
        previous = self._look_at_head()
        own, self._recorded = self._recorded, []
        if previous is None:
            return 0
        rows: dict[Lane, dict[int, OutboxItem | Recorded]] = {}
        for lane, item in own:
            rows.setdefault(lane, {})[item.id] = item
        if not self._still_on_chain(previous):
            lowest = min(previous[0], self._head[0]) - self.reorg_window
            log.warning("relay: block %d was replaced (reorg or node restart); re-checking deliveries "
                        "from block %d", previous[0], lowest)
            for lane in self.lanes:
                if lane.ready:
                    rows.setdefault(lane, {}).update((r.id, r) for r in self._recent(lane, lowest))
        return sum(self._confirm(lane, list(items.values())) for lane, items in rows.items())

    def _recent(self, lane: Lane, lowest_block: int) -> list[OutboxItem]:
        """The lane's deliveries recorded in blocks from ``lowest_block`` on."""
        with self.db.read_sessions() as session:
            return session.scalars(
                select(OutboxItem)
                .where(
                    OutboxItem.status == OutboxStatus.DONE.value,
                    OutboxItem.kind == lane.kind.value,
                    OutboxItem.contract_address == lane.contract.address,
                    OutboxItem.block_number >= lowest_block,
                )
                .order_by(OutboxItem.id.desc())
                .limit(self.verify_window)
            ).all()

    def _confirm(self, lane: Lane, rows: Sequence[OutboxItem | Recorded]) -> int:
        """Rows whose recorded transaction has no receipt in their recorded block any more:
        re-queued when their ref is unused, re-recorded from the logs otherwise."""
        if not rows:
            return 0
        hashes = sorted({r.tx_hash for r in rows})
        answers = rpc_batch(self.w3, [("eth_getTransactionReceipt", [h]) for h in hashes])
        receipts: dict[str, int | None] = {
            h: int(r["blockNumber"], 16) if r is not None and int(r["status"], 16) == 1 else None
            for h, r in zip(hashes, answers, strict=True)
        }
        suspect = [r for r in rows if receipts[r.tx_hash] != r.block_number]
        if not suspect:
            return 0
        delivered = self._delivered(lane, [r.ref for r in suspect])
        lost = [r for r in suspect if not delivered[r.ref]]
        if lost:
            # A reset chain is no reorg: stop (ChainError) rather than deliver anything again.
            with self.db.read_sessions() as session:
                current_deployment(session, self.w3)
        self._requeue(lane, lost)
        moved = [r for r in suspect if delivered[r.ref]]
        if moved:
            self._rerecord(lane, moved)
        return len(lost)

    def _rerecord(self, lane: Lane, rows: Sequence[OutboxItem | Recorded]) -> None:
        """Point rows at the transaction that holds their event on the chain as it is now."""
        lowest = min(r.block_number for r in rows)
        found = lane.find_logs([r.ref for r in rows], max(lane.from_block, lowest - self.reorg_window))
        checked = {r.id: r.tx_hash for r in rows}
        log.warning("relay: %d %s deliveries are in another transaction now; re-recorded",
                    len(found), lane.kind)
        with self.db.write_sessions() as session, session.begin():
            for item in self._reload(session, rows):
                ev = found.get(item.ref)
                if ev is None or item.status != OutboxStatus.DONE.value or item.tx_hash != checked[item.id]:
                    continue
                item.tx_hash = ev.tx_hash
                item.block_number = ev.block_number
