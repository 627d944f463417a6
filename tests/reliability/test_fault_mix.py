"""Reliability (#8, slow): exactly-once under faults, with a mix of 500 operations.

Approvals (mints), catalogue redemptions (burns) and their cancellations (refund mints),
booking payments (burns) and their cancellations (refund mints) run while

(a) three relays are killed at the three points of a delivery — before the broadcast (rows
    marked sent), after the broadcast before the record, and after the record — and come back
    as new relays (``Killed`` is raised inside the real ``Relay`` at those points);
(b) anvil is SIGKILLed and restarted from its state file (the last second of blocks is lost);
(c) ``anvil_reorg`` replaces the last 1-3 blocks (their transactions are dropped);
(d) every outbox row is delivered at least three times: three relays work the same outbox and
    a resender sends every recorded batch twice more (the contracts skip used refs).

Afterwards, for every holder: the database ledger = ``balanceOf`` (cast) = the replay of the
token's Transfer events; each positive entry minted once, each negative one burned once,
nothing else on chain; every outbox row done and recorded at the transaction that holds its
event now; nothing pending. Then the chain is reset under a running relay: it stops with
the reset error and sends nothing.
"""

from __future__ import annotations

import queue
import random
import signal
import threading
import time
from collections import Counter

import pytest
from sqlalchemy import select
from web3 import Web3

from booking import cancellation
from booking.policy import BookingPolicy
from community import contributions
from community.contributions import ContributionPolicy
from community.db import Database
from community.models import Role
from rewards import catalogue
from rewards.chain.anvil import Anvil
from rewards.chain.bookkeeping import Bookkeeper
from rewards.chain.client import ChainError, connect, credits_contract
from rewards.chain.lanes import BurnLane, MintLane
from rewards.chain.pipeline import BatchPipeline, MintReverted
from rewards.chain.relay import TRANSIENT, Relay
from rewards.chain.transactions import fee_fields, wait
from rewards.errors import InsufficientCredits
from rewards.ledger import credits_total, spendable_credits
from rewards.models import LedgerEntry, OutboxItem, Redemption, Wallet
from rewards.vault import KeyVault
from tests.support.booking import NOW, Centre, at
from tests.support.chain import (
    anvil_reorg,
    cast_balance,
    cast_total_supply,
    deploy_for,
    minted_ref_counts,
    redeemed_ref_counts,
    replayed_balances,
    transfer_log_report,
)
from tests.support.community import Community
from web import bootstrap

pytestmark = [pytest.mark.chain, pytest.mark.slow, pytest.mark.timeout(480)]

OPERATIONS = 500
RELAYS = 3
MEMBERS = 8
SECRET = "fault-mix-secret"
KILL_POINTS = ("before_send", "after_send", "after_record")
KILL_RATE = 0.08  # per hook reached
ANVIL_UPTIME = 2.5  # seconds before a SIGKILL (anvil dumps its state every second)
POLICY = BookingPolicy()
UNLIMITED = ContributionPolicy(submissions_per_hour=100_000)


class Killed(BaseException):
    """The relay process dies here: nothing after this point runs (a BaseException, so no
    handler of the relay catches it)."""


class Faults:
    """Shared, seeded decisions: where relays die and which transactions went out."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.lock = threading.Lock()
        self.on = True
        self.kills: Counter = Counter()
        self.sent: dict[str, list[str]] = {}  # tx hash -> refs in it (relays and resender)
        self.requeued = 0  # recorded deliveries a relay found gone from the chain
        self.rerecorded = 0  # ... found in another transaction

    def maybe_kill(self, point: str) -> None:
        with self.lock:
            if self.on and self.rng.random() < KILL_RATE:
                self.kills[point] += 1
                raise Killed(point)

    def record(self, tx_hash: str, refs: list[str]) -> None:
        with self.lock:
            self.sent[tx_hash] = refs


class FaultyPipeline(BatchPipeline):
    """The real pipeline, noting every batch it broadcasts."""

    def send(self, lane, rows):
        self.relay._batch = [r.ref for r in rows]
        super().send(lane, rows)
        self.relay.delivered_batches.put((lane.kind, [r.id for r in rows]))


class FaultyBookkeeper(Bookkeeper):
    """The real bookkeeping with two death points, counting re-queued and re-recorded rows."""

    def requeue(self, lane, lost):
        with self.relay.faults.lock:
            self.relay.faults.requeued += len(lost)
        super().requeue(lane, lost)

    def rerecord(self, lane, rows):
        with self.relay.faults.lock:
            self.relay.faults.rerecorded += len(rows)
        super().rerecord(lane, rows)

    def mark_done(self, lane, rows, found):
        if rows:
            self.relay.faults.maybe_kill("after_send")  # on chain (or found there), not recorded
        super().mark_done(lane, rows, found)
        if rows:
            self.relay.faults.maybe_kill("after_record")


class FaultyRelay(Relay):
    """The real relay with three death points and a note of every batch it broadcasts."""

    def __init__(self, *args, faults: Faults, delivered: queue.Queue, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.faults = faults
        self.delivered_batches = delivered
        self._batch: list[str] = []
        self.pipeline = FaultyPipeline(self)
        self.book = FaultyBookkeeper(self)
        real_send = self.w3.eth.send_raw_transaction

        def send_raw_transaction(raw):
            faults.maybe_kill("before_send")  # rows are `sent` with the hash, nothing broadcast
            tx_hash = real_send(raw)
            faults.record("0x" + bytes(tx_hash).hex(), list(self._batch))
            return tx_hash

        self.w3.eth.send_raw_transaction = send_raw_transaction


class Resender:
    """Sends delivered batches again, as a second relay that never asks the chain first would:
    mintBatch/redeemBatch with the same refs. The contract must skip every used ref."""

    def __init__(self, db: Database, rpc_url: str, minter, token: str, faults: Faults) -> None:
        self.db = db
        self.w3 = connect(rpc_url)
        self.minter = minter
        self.faults = faults
        holder = Relay(db, self.w3, minter)
        holder.contract = credits_contract(self.w3, token)
        self.lanes = {"mint": MintLane(holder), "burn": BurnLane(holder)}
        self.resent = 0

    def send(self, kind: str, row_ids: list[int]) -> None:
        with self.db.read_sessions() as session:
            rows = session.scalars(select(OutboxItem).where(OutboxItem.id.in_(row_ids))).all()
        if not rows:
            return
        call = self.lanes[kind].batch_call(rows)
        tx = call.build_transaction({
            "from": self.minter.address,
            "gas": 60_000 + 60_000 * len(rows),
            "nonce": self.w3.eth.get_transaction_count(self.minter.address, "pending"),
            "chainId": self.w3.eth.chain_id,
            **fee_fields(self.w3),
        })
        signed = self.minter.sign_transaction(tx)
        tx_hash = self.w3.eth.send_raw_transaction(signed.raw_transaction)
        self.faults.record("0x" + bytes(tx_hash).hex(), [r.ref for r in rows])
        wait(self.w3, tx_hash, timeout=5)
        self.resent += 1


def test_exactly_once_with_a_mix_of_500_operations_under_faults(tmp_path, database_url):
    """On SQLite and on PostgreSQL (the relays' row claims and the services' locks differ)."""
    started = time.monotonic()
    rng = random.Random(20261122)
    state = tmp_path / "anvil-state.json"
    node = Anvil(state_file=state, state_interval=1, log_file=tmp_path / "anvil.log").start()
    node_started = time.monotonic()
    db = bootstrap.database(database_url, secret_key=SECRET)
    vault = KeyVault(SECRET)
    stop = threading.Event()
    threads: list[threading.Thread] = []
    try:
        w3, minter, token, deployed_at = deploy_for(db, vault, node.url)
        w3.provider.make_request("anvil_mine", [8])  # the deployment stays out of any reorg's reach
        community = Community(db, vault)
        staff = community.user(Role.STAFF)
        members = [community.user() for _ in range(MEMBERS)]
        tasks = [community.task(staff, complexity=c) for c in (20, 40, 60)]
        items = [
            catalogue.save_item(db.unit_of_work(), actor_id=staff, name="Coffee voucher", price=5),
            catalogue.save_item(db.unit_of_work(), actor_id=staff, name="Makerspace hour", price=15),
            catalogue.save_item(db.unit_of_work(), actor_id=staff, name="T-shirt", price=25, stock=40),
        ]
        centre = Centre(db, community)
        rooms = [centre.resource(name=f"Room {i}", price_per_hour=10, slot_minutes=60, min_minutes=60)
                 for i in range(4)]
        # Two-hour cells, each used once: Mon-Sat 08:00-20:00 from day 2 (cancellable, refunded).
        slots = iter([(d, h, r) for d in range(2, 60) if d % 7 != 6 for h in range(8, 20, 2) for r in rooms])

        faults = Faults(random.Random(rng.random()))
        delivered: queue.Queue = queue.Queue()
        errors: list[BaseException] = []
        stats: Counter = Counter()

        def relay_worker(index: int) -> None:
            """One relay process: a Killed one is replaced by a new one (a restart); a chain
            error makes it reconnect and re-verify, as ``run_forever`` does."""
            local = random.Random(index)
            relay = None
            while not stop.is_set():
                if relay is None:
                    relay = FaultyRelay(db, connect(node.url), minter, batch_size=local.choice((5, 10, 25)),
                                        receipt_timeout=5, faults=faults, delivered=delivered)
                try:
                    if relay.run_once() == 0:
                        time.sleep(0.2)
                except Killed:
                    relay = None
                    stats["relay restarts"] += 1
                except MintReverted:
                    stats["reverted"] += 1
                    time.sleep(0.2)
                except TRANSIENT:
                    relay.contract = None
                    stats["transient"] += 1
                    time.sleep(0.2)
                except BaseException as exc:  # a real bug: stop the test with it
                    errors.append(exc)
                    stop.set()
                    return

        resender = Resender(db, node.url, minter, token, faults)

        def resend_worker() -> None:
            local = random.Random(99)
            while not stop.is_set():
                try:
                    kind, ids = delivered.get(timeout=0.2)
                except queue.Empty:
                    continue
                for _ in range(2 if kind in resender.lanes else 0):
                    time.sleep(local.uniform(0, 0.3))
                    try:
                        resender.send(kind, ids)
                    except TRANSIENT:
                        stats["resend failed"] += 1  # anvil down, or a relay took the nonce
                    except Exception as exc:
                        errors.append(exc)
                        stop.set()
                        return

        chaos_done = threading.Event()

        def chaos() -> None:
            """Reorgs of depth 1-3 every second or so; three times, anvil SIGKILLed and restarted
            from its state file. After a restart anvil has no state for the blocks before it,
            so a reorg waits until the new blocks are deeper than it."""
            nonlocal node_started
            local = random.Random(7)
            base = 0
            while not chaos_done.is_set():
                time.sleep(local.uniform(0.4, 1.2))
                try:
                    if stats["anvil kills"] < 3 and time.monotonic() - node_started > 6:
                        node.stop(sig=signal.SIGKILL)
                        node.start()
                        node_started = time.monotonic()
                        base = connect(node.url).eth.block_number
                        stats["anvil kills"] += 1
                        continue
                    depth = local.randint(1, 3)
                    if connect(node.url).eth.block_number - base > depth:
                        anvil_reorg(node.url, depth)
                        stats["reorgs"] += 1
                        stats[f"reorg depth {depth}"] += 1
                except Exception as exc:
                    errors.append(exc)
                    stop.set()
                    return

        threads = [threading.Thread(target=relay_worker, args=(i,), daemon=True) for i in range(RELAYS)]
        threads += [threading.Thread(target=resend_worker, daemon=True), threading.Thread(target=chaos,
                                                                                         daemon=True)]
        for t in threads:
            t.start()

        # --- the 500 operations --------------------------------------------------------------
        redemptions: list[int] = []
        bookings: list[tuple[int, int]] = []
        ops: Counter = Counter()

        def approve() -> None:
            member, task = rng.choice(members), rng.choice(tasks)
            cid = contributions.submit_contribution(db.unit_of_work(), member_id=member, task_id=task,
                                                    text="did it", policy=UNLIMITED)
            contributions.approve_contribution(db.unit_of_work(), validator_id=staff, contribution_id=cid,
                                               level=rng.choice(("low", "average")))
            ops["approval"] += 1

        def spendable(member: int) -> int:
            with db.read_sessions() as session:
                return spendable_credits(session, member)

        for _ in range(OPERATIONS):
            if stop.is_set():
                break
            kind = rng.choices(("approve", "redeem", "cancel-redemption", "book", "cancel-booking"),
                               weights=(40, 22, 10, 18, 10))[0]
            member = max(members, key=lambda m: (spendable(m), rng.random())) if kind in (
                "redeem", "book") else None
            try:
                if kind == "redeem" and spendable(member) >= 25:
                    redemption = catalogue.redeem_item(db.unit_of_work(), member_id=member,
                                                       item_id=rng.choice(items))
                    redemptions.append(redemption.id)
                    ops["redemption"] += 1
                elif kind == "cancel-redemption" and redemptions:
                    rid = redemptions.pop(rng.randrange(len(redemptions)))
                    with db.read_sessions() as session:
                        owner = session.get(Redemption, rid).member_id
                    catalogue.cancel_redemption(db.unit_of_work(), actor_id=owner, redemption_id=rid)
                    ops["redemption refund"] += 1
                elif kind == "book" and spendable(member) >= 20:
                    day, hour, room = next(slots)
                    length = rng.choice((1, 2))
                    result = centre.book(member, room, at(day, hour), at(day, hour + length))
                    assert result.state == "confirmed" and result.credits == 10 * length
                    bookings.append((result.id, member))
                    ops["booking payment"] += 1
                elif kind == "cancel-booking" and bookings:
                    bid, owner = bookings.pop(rng.randrange(len(bookings)))
                    cancellation.cancel(
                        db.unit_of_work(), actor_id=owner, booking_id=bid, now=NOW, policy=POLICY
                    )
                    ops["booking refund"] += 1
                else:
                    approve()
            except (InsufficientCredits, catalogue.OutOfStock):
                # A reorg or a lost block took back credits the member had a moment ago.
                stats["refused"] += 1
                approve()
            time.sleep(rng.uniform(0, 0.02))
        chaos_done.set()
        assert not errors, errors
        assert sum(ops.values()) == OPERATIONS
        ops_done = time.monotonic()

        # --- let the relays finish without faults --------------------------------------------
        while threads[-1].is_alive():
            threads[-1].join(0.5)
        faults.on = False
        deadline = time.monotonic() + 120
        left = -1
        while time.monotonic() < deadline and not errors:
            with db.read_sessions() as session:
                left = len(session.scalars(select(OutboxItem.id).where(OutboxItem.status != "done")).all())
            if left == 0 and delivered.empty():
                break
            time.sleep(0.5)
        assert not errors, errors
        assert left == 0, "every outbox row delivered and recorded"

        # (d) every row at least three times: resend what the run did not cover yet.
        def mined_counts() -> Counter:
            """Per ref: transactions that carried it and succeeded on the chain as it is now."""
            counts: Counter = Counter()
            for tx_hash, refs in list(faults.sent.items()):
                receipt = w3.provider.make_request("eth_getTransactionReceipt", [tx_hash]).get("result")
                if receipt is not None and int(receipt["status"], 16) == 1:
                    counts.update(refs)
            return counts

        stop.set()
        for t in threads:
            t.join(30)
        with db.read_sessions() as session:
            rows = session.scalars(select(OutboxItem)).all()
        counts = mined_counts()
        for kind in ("mint", "burn"):
            short = [r.id for r in rows if r.kind == kind and counts[r.ref] < 3]
            for chunk in range(0, len(short), 50):
                for _ in range(3):
                    resender.send(kind, short[chunk:chunk + 50])
        counts = mined_counts()
        assert min(counts[r.ref] for r in rows) >= 3, "every row went out in three mined transactions"

        # Nothing lost: a last full verification by a fresh relay re-queues nothing.
        check = Relay(db, connect(node.url), minter)
        check.prepare()
        assert check.reorgs.verify_recent() == 0

        # --- the chain against the database ----------------------------------------------------
        with db.read_sessions() as session:
            entries = session.scalars(select(LedgerEntry)).all()
            rows = session.scalars(select(OutboxItem)).all()
            wallets = session.scalars(select(Wallet)).all()
            ledger = {w.address: credits_total(session, w.user_id) for w in wallets}
        replayed = replayed_balances(node.url, token, deployed_at)
        for address, total in ledger.items():
            balance = cast_balance(node.url, token, address)
            assert balance == total == replayed.get(address, 0), (
                f"{address}: ledger {total}, balanceOf {balance}, replay {replayed.get(address, 0)}\n"
                + transfer_log_report(node.url, token, deployed_at, address))
        assert set(replayed) <= set(ledger), "no credits outside Kopa's wallets"
        assert cast_total_supply(node.url, token) == sum(e.points for e in entries)

        minted = minted_ref_counts(node.url, token, deployed_at)
        burned = redeemed_ref_counts(node.url, token, deployed_at)
        assert set(minted) == {e.ref for e in entries if e.points > 0}, "every positive entry minted"
        assert set(burned) == {e.ref for e in entries if e.points < 0}, "every negative entry burned"
        assert set(minted.values()) == {1} and set(burned.values()) == {1}, "each ref exactly once"

        canonical = _canonical_events(w3, token, deployed_at)
        assert all(r.status == "done" for r in rows)
        assert {r.ref: (r.tx_hash, r.block_number) for r in rows} == canonical, (
            "every row recorded at the transaction that holds its event now")

        elapsed = time.monotonic() - started
        print(f"\nfault mix: {OPERATIONS} operations {dict(ops)}; {len(entries)} ledger entries, "
              f"{len(minted)} mints, {len(burned)} burns, {sum(ledger.values())} credits on "
              f"{len(ledger)} wallets; relay kills {dict(faults.kills)}, {stats['relay restarts']} relay "
              f"restarts, {stats['transient']} reconnects, {stats['anvil kills']} anvil SIGKILLs, "
              f"{stats['reorgs']} reorgs (depth 1-3), {faults.requeued} recorded deliveries found lost "
              "and re-queued, "
              f"{faults.rerecorded} re-recorded at another transaction, {len(faults.sent)} transactions sent "
              f"({resender.resent} resends), min/max mined deliveries per row "
              f"{min(counts[r.ref] for r in rows)}/{max(counts[r.ref] for r in rows)}; "
              f"operations {ops_done - started:.0f} s, total {elapsed:.0f} s")
        assert all(faults.kills[p] >= 3 for p in KILL_POINTS), faults.kills
        assert stats["anvil kills"] >= 2 and stats["reorgs"] >= 10, stats
        assert faults.requeued >= 1, "the faults dropped recorded deliveries, and they came back"
        assert ops["redemption"] >= 40 and ops["booking payment"] >= 40, ops
        assert ops["redemption refund"] >= 15 and ops["booking refund"] >= 15, ops

        # --- a chain reset under a running relay ----------------------------------------------
        relay = Relay(db, connect(node.url), minter, idle_seconds=0.05)
        relay.run_once()
        recorded = {r.ref: (r.tx_hash, r.block_number) for r in rows}
        node.stop(sig=signal.SIGKILL)
        state.unlink()
        node.start()  # same port, a fresh chain without Kopa's contracts
        cid = contributions.submit_contribution(db.unit_of_work(), member_id=members[0], task_id=tasks[0],
                                                text="after the reset", policy=UNLIMITED)
        contributions.approve_contribution(db.unit_of_work(), validator_id=staff, contribution_id=cid)
        with pytest.raises(ChainError, match="chain was reset"):
            relay.run_forever(threading.Event())
        assert connect(node.url).eth.block_number == 0, "nothing sent to the fresh chain"
        with db.read_sessions() as session:
            after = session.scalars(select(OutboxItem)).all()
        assert {r.ref: (r.tx_hash, r.block_number) for r in after if r.ref in recorded} == recorded
        assert [r.status for r in after if r.ref not in recorded] == ["pending"]
    finally:
        stop.set()
        for t in threads:
            t.join(30)
        node.stop()
        db.dispose()


def _canonical_events(w3: Web3, token: str, from_block: int) -> dict[str, tuple[str, int]]:
    contract = credits_contract(w3, token)
    found = {}
    for event in (contract.events.RewardMinted(), contract.events.CreditsRedeemed()):
        for ev in event.get_logs(from_block=from_block, to_block="latest"):
            found["0x" + bytes(ev["args"]["ref"]).hex()] = ("0x" + bytes(ev["transactionHash"]).hex(),
                                                           ev["blockNumber"])
    return found
