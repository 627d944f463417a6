"""Helpers for the loyalty tests: credits confirmed by a real relay on anvil, and reading
badges and burns from the chain with `cast` (independently of Kopa's relay code)."""

from __future__ import annotations

import json
from collections import Counter

from sqlalchemy import select
from web3 import Web3

from community.db import Database
from community.models import Role
from rewards.chain.deploy import BADGES, recorded_deployment
from rewards.chain.relay import Relay
from rewards.models import OutboxItem, OutboxStatus
from tests.support.chain import cast, deploy_for

CREDITS_REDEEMED = Web3.to_hex(Web3.keccak(text="CreditsRedeemed(address,uint256,bytes32)"))
BADGE_MINTED = Web3.to_hex(Web3.keccak(text="BadgeMinted(address,uint256,bytes32)"))


class Chain:
    """A deployment of Kopa's contracts for one test database and a relay delivering to it."""

    def __init__(self, db: Database, vault, rpc_url: str) -> None:
        self.db = db
        self.rpc_url = rpc_url
        self.w3, self.minter, self.credits, self.block = deploy_for(db, vault, rpc_url)
        with db.read_sessions() as session:
            self.badges = recorded_deployment(session, self.w3.eth.chain_id, BADGES).address
        self.relay = Relay(db, self.w3, self.minter)

    def drain(self, relay: Relay | None = None) -> None:
        relay = relay or self.relay
        for _ in range(50):
            if relay.run_once() == 0:
                return
        raise AssertionError("relay did not drain the outbox")

    def undelivered(self) -> list[OutboxItem]:
        with self.db.read_sessions() as session:
            query = select(OutboxItem).where(OutboxItem.status != OutboxStatus.DONE.value)
            return list(session.scalars(query))


def fund(community, chain: Chain, members: list[int], points: int, staff: int | None = None) -> int:
    """Give each member ``points`` confirmed credits (a multiple of 20): approved contributions
    at level low (points = task complexity, at most 100 each), delivered by the relay."""
    assert points > 0 and points % 20 == 0
    staff = staff or community.user(Role.STAFF)
    left = points
    while left:
        task = community.task(staff, complexity=min(left, 100))
        for member in members:
            community.approved(member, staff, task)
        left -= min(left, 100)
    chain.drain()
    return staff


def balance(rpc_url: str, token: str, holder: str) -> int:
    out = cast("call", token, "balanceOf(address)(uint256)", holder, "--rpc-url", rpc_url)
    return int(out.split()[0])


def badge_balance(rpc_url: str, token: str, holder: str, token_id: int) -> int:
    out = cast("call", token, "balanceOf(address,uint256)(uint256)", holder, str(token_id),
               "--rpc-url", rpc_url)
    return int(out.split()[0])


def _logs(rpc_url: str, address: str, topic: str, from_block: int) -> list[dict]:
    out = cast("logs", "--from-block", str(from_block), "--to-block", "latest", "--address", address,
               topic, "--rpc-url", rpc_url, "--json")
    return json.loads(out or "[]")


def redeemed_by_ref(rpc_url: str, token: str, from_block: int) -> dict[str, int]:
    """CreditsRedeemed(from indexed?, amount, ref): amount per ref, decoded from raw logs."""
    result: Counter = Counter()
    for log in _logs(rpc_url, token, CREDITS_REDEEMED, from_block):
        topics, data = log["topics"], bytes.fromhex(log["data"].removeprefix("0x"))
        words = [data[i : i + 32] for i in range(0, len(data), 32)]
        # Indexed fields are in topics; the rest in data, in declaration order.
        if len(topics) == 4:  # from, amount, ref all indexed
            amount, ref = int(topics[2], 16), topics[3]
        elif len(topics) == 3:  # from and ref indexed, amount in data
            amount, ref = int.from_bytes(words[0], "big"), topics[2]
        else:
            raise AssertionError(f"unexpected CreditsRedeemed layout: {log}")
        result[ref.lower()] += amount
    return dict(result)


def badge_mints(rpc_url: str, token: str, from_block: int) -> Counter:
    """How many BadgeMinted events each ref has."""
    return Counter(log["topics"][3].lower() for log in _logs(rpc_url, token, BADGE_MINTED, from_block))
