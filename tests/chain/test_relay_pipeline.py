"""The relay's pipelining (#8) against a real anvil: batch k+1 is sent before batch k's
receipt is read, and a lost receipt or a reorg with batches in flight still ends with every
entry minted exactly once and recorded where the chain has it."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from web3.exceptions import TimeExhausted

from rewards.chain.anvil import Anvil
from rewards.chain.client import rpc
from rewards.chain.pipeline import BatchPipeline
from rewards.chain.relay import Relay
from rewards.models import OutboxItem
from tests.support.chain import anvil_reorg, deploy_for, minted_ref_counts
from tests.support.relay import approvals, assert_exactly_once, canonical_mints, drain, recorded_mints

pytestmark = pytest.mark.chain


def _statuses(db) -> list[str]:
    with db.read_sessions() as session:
        return sorted(r.status for r in session.scalars(select(OutboxItem)))


def _nonce(w3, address: str) -> int:
    return int(rpc(w3, "eth_getTransactionCount", [address, "latest"]), 16)


def test_one_pass_sends_its_batches_with_consecutive_local_nonces(db, vault, community, anvil):
    w3, minter, token, block = deploy_for(db, vault, anvil.url)
    approvals(community, 7)
    before = _nonce(w3, minter.address)
    relay = Relay(db, w3, minter, batch_size=2, in_flight=3, batches_per_pass=4)
    sent: list[tuple[int, str]] = []
    real_send = relay.pipeline.send

    def send(lane, rows):
        real_send(lane, rows)
        sent.append((len(relay.pipeline.sent), relay.pipeline.sent[-1][2]))

    relay.pipeline.send = send
    assert relay.run_once() == 7
    assert [depth for depth, _ in sent] == [1, 2, 3, 3], "up to three batches sent, none recorded yet"
    assert _nonce(w3, minter.address) == before + 4 and len({h for _, h in sent}) == 4
    assert _statuses(db) == ["done"] * 7
    assert_exactly_once(db, anvil.url, token, block)
    assert recorded_mints(db) == canonical_mints(w3, token, block)


def test_a_lost_receipt_with_the_next_batch_in_flight_is_recorded_from_the_chain(
        db, vault, community, anvil, monkeypatch):
    """Batch k's receipt never arrives (a timeout) while batch k+1 is already sent: both stay
    `sent`, and the next pass finds both on chain and records them without sending again."""
    import rewards.chain.pipeline as pipeline_module

    w3, minter, token, block = deploy_for(db, vault, anvil.url)
    approvals(community, 4)
    real_wait = pipeline_module.wait_raw
    calls = []

    def wait_raw(*args, **kwargs):
        calls.append(args[1])
        if len(calls) == 1:
            raise TimeExhausted("no receipt (test)")
        return real_wait(*args, **kwargs)

    monkeypatch.setattr(pipeline_module, "wait_raw", wait_raw)
    relay = Relay(db, w3, minter, batch_size=2)
    with pytest.raises(TimeExhausted):
        relay.run_once()
    assert _statuses(db) == ["sent"] * 4
    assert sum(minted_ref_counts(anvil.url, token, block).values()) == 4, "both batches mined"
    nonce = _nonce(w3, minter.address)
    drain(relay)
    assert _nonce(w3, minter.address) == nonce, "recorded from the chain, nothing sent again"
    assert_exactly_once(db, anvil.url, token, block)
    assert recorded_mints(db) == canonical_mints(w3, token, block)


def test_a_reorg_under_batches_in_flight_loses_nothing_and_mints_nothing_twice(db, vault, community):
    """Three batches: k recorded, k+1 and k+2 sent and mined, when a reorg drops all three
    blocks. k+1's receipt never comes; the next pass re-queues k (its recorded block is
    gone), finds k+1 and k+2 unminted, and the relay mints the six entries once each."""

    class ReorgingPipeline(BatchPipeline):
        settled = 0

        def settle(self):
            self.settled += 1
            if self.settled == 2:  # k recorded; k+1 and k+2 in flight (mined, not recorded)
                assert len(self.sent) == 2
                anvil_reorg(node.url, 3)
            super().settle()

    class ReorgingRelay(Relay):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.pipeline = ReorgingPipeline(self)

    with Anvil() as node:
        w3, minter, token, block = deploy_for(db, vault, node.url)
        w3.provider.make_request("anvil_mine", [5])  # the deployment stays out of the reorg's reach
        approvals(community, 6)
        relay = ReorgingRelay(db, w3, minter, batch_size=2, in_flight=3, receipt_timeout=1.0)
        with pytest.raises(TimeExhausted):
            relay.run_once()
        assert sum(minted_ref_counts(node.url, token, block).values()) == 0, "all three batches dropped"
        assert _statuses(db) == ["done"] * 2 + ["sent"] * 4, "k recorded before the reorg"
        drain(relay)
        assert_exactly_once(db, node.url, token, block)
        assert recorded_mints(db) == canonical_mints(w3, token, block)
