"""The relay's lanes: one per outbox kind, each the contract calls that deliver its rows
exactly once (a batch function that skips refs already used, a batch view that says which
refs are used, and the event with an indexed ``ref`` that records where each landed), plus
the lane's own reasons a row must wait (a burn the balance does not cover yet)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence

from sqlalchemy import select
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction

from rewards.chain.client import ChainError, anchor_contract, badges_contract
from rewards.chain.codec import EventCodec, Log, decode_args, encode_call, event_codec
from rewards.chain.deploy import ANCHOR, BADGES, current_deployment, recorded_deployment
from rewards.chain.host import RelayHost
from rewards.models import AuditEpoch, OutboxItem, OutboxKind

log = logging.getLogger(__name__)


def ref_bytes(ref: str) -> bytes:
    return bytes.fromhex(ref.removeprefix("0x"))


def ref_hex(ref: bytes) -> str:
    return "0x" + bytes(ref).hex()


def chunks(items: Sequence, size: int) -> Iterator[Sequence]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


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

    def __init__(self, relay: RelayHost) -> None:
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

    def delivered(self, refs: Sequence[str], batch_size: int) -> dict[str, bool]:
        """Which refs the chain has used: one batch view per ``batch_size`` refs, all in one
        JSON-RPC request."""
        parts = list(chunks([ref_bytes(r) for r in refs], batch_size))
        if len(parts) == 1:
            flags = self.delivered_flags(parts[0])
        else:
            answers = self.relay.call_many([(self.contract.address, self.check_data(c)) for c in parts])
            flags = [f for answer in answers for f in decode_args(["bool[]"], answer)[0]]
        if len(flags) != len(refs):
            raise ChainError("the contract answered with a different number of results")
        return dict(zip(refs, (bool(f) for f in flags), strict=True))

    def batch_args(self, rows: Sequence[OutboxItem]) -> list:
        """The batch function's arguments for ``rows`` (addresses as stored)."""
        return [
            [r.to_address for r in rows],
            [r.amount for r in rows],
            [ref_bytes(r.ref) for r in rows],
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
        return ref_hex(args[self.ref_arg])

    def find_logs(self, refs: Sequence[str], from_block: int) -> dict[str, Log]:
        """Where the chain has the events of ``refs`` now (ref -> log), by one ``eth_getLogs``
        on the indexed ``ref_arg`` (a ref and an epoch are the same 32-byte topic word)."""
        codec = self.codec
        position = [name for name, _ in codec.indexed].index(self.ref_arg)
        topics: list = [codec.topic, *([None] * position), ["0x" + ref_bytes(r).hex() for r in refs]]
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
            self.relay.book.note_waiting(
                waiting, "waiting: the holder's balance does not cover this burn yet"
            )
        return ready


class OwnContractLane(Lane):
    """A lane whose contract is not KopaCredits: it finds its own deployment when the relay
    attaches, and waits, idle, while none is recorded for this chain."""

    contract_name: str
    contract_factory: Callable[[Web3, str], Contract]

    def __init__(self, relay: RelayHost) -> None:
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
            [ref_bytes(r.ref) for r in rows],
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
            self.relay.book.mark_done_without_log(self, held, "the holder already had this badge on chain")
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
            [ref_bytes(roots[int(r.token_id)]) for r in rows],
            [r.amount for r in rows],
        ]

