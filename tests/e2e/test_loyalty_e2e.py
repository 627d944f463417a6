"""Redemption under concurrency over HTTP: a real `kopa run` server (gunicorn, its relay
process) on SQLite and a real anvil; the chain is read with `cast`."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sqlalchemy import select

from community import accounts
from community.db import Database
from community.models import Role
from rewards import catalogue
from rewards.chain.client import connect
from rewards.chain.deploy import CREDITS, recorded_deployment
from rewards.ledger import spendable_credits
from rewards.models import CatalogueItem, LedgerEntry, OutboxItem, Redemption
from rewards.vault import KeyVault
from rewards.wallets import wallet_of
from tests.support.chain import cast_total_supply
from tests.support.community import Community
from tests.support.loyalty import balance, redeemed_by_ref
from tests.support.servers import start_server
from web import bootstrap

pytestmark = pytest.mark.chain

SECRET = "loyalty-e2e-secret"


@pytest.fixture(scope="module")
def server(anvil, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("kopa-loyalty")
    process, base = start_server(tmp, anvil.url, SECRET, KOPA_DEMO="0")
    db = bootstrap.database(f"sqlite:///{tmp / 'kopa.sqlite3'}", secret_key=SECRET)
    yield base, db
    process.stop()
    db.dispose()


def wait_delivered(db: Database, timeout: float = 60) -> None:
    """Until the server's relay has delivered every outbox row."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with db.read_sessions() as session:
            if session.scalar(select(OutboxItem.id).where(OutboxItem.status != "done").limit(1)) is None:
                return
        time.sleep(0.2)
    raise AssertionError("the relay did not deliver everything in time")


def funded_members(db: Database, n: int, complexity: int) -> tuple[int, list[int]]:
    community = Community(db, KeyVault(SECRET))
    staff = community.user(Role.STAFF)
    members = [community.user() for _ in range(n)]
    task = community.task(staff, complexity=complexity)
    for member in members:
        community.approved(member, staff, task)
    return staff, members


def bearer(db: Database, member: int) -> dict:
    return {"Authorization": f"Bearer {accounts.issue_api_token(db.unit_of_work(), member)}"}


def fire(base: str, item_id: int, headers: list[dict]) -> list[requests.Response]:
    url = f"{base}/api/v1/catalogue/{item_id}/redemptions"
    with ThreadPoolExecutor(max_workers=len(headers)) as pool:
        return list(pool.map(lambda h: requests.post(url, headers=h, timeout=60), headers))


def test_fifty_concurrent_http_redemptions_of_ten_in_stock(server, anvil):
    base, db = server
    staff, members = funded_members(db, 25, complexity=20)  # 20 credits each: two at 8
    poor = Community(db, KeyVault(SECRET)).user()
    item_id = catalogue.save_item(db.unit_of_work(), actor_id=staff, name="Workshop seat", price=8, stock=10)
    wait_delivered(db)  # the credits are confirmed on chain
    with db.read_sessions() as session:
        credits = recorded_deployment(session, connect(anvil.url).eth.chain_id, CREDITS)
        wallets = {m: wallet_of(session, m).address for m in members}
    before = {m: balance(anvil.url, credits.address, w) for m, w in wallets.items()}
    assert set(before.values()) == {20}
    supply_before = cast_total_supply(anvil.url, credits.address)

    tokens = {m: bearer(db, m) for m in members}
    responses = fire(base, item_id, [tokens[members[i % 25]] for i in range(50)])
    codes = [r.status_code for r in responses]
    assert codes.count(201) == 10, codes
    assert codes.count(409) == 40 and not [c for c in codes if c >= 500], [
        (r.status_code, r.text[:200]) for r in responses if r.status_code not in (201, 409)]
    assert {r.json()["error"] for r in responses if r.status_code == 409} == {"out_of_stock"}
    assert all(r.json()["state"] == "requested" for r in responses if r.status_code == 201)

    unlimited = catalogue.save_item(db.unit_of_work(), actor_id=staff, name="Makerspace hour", price=1)
    broke = requests.post(f"{base}/api/v1/catalogue/{unlimited}/redemptions", headers=bearer(db, poor),
                          timeout=10)
    assert broke.status_code == 409 and broke.json()["error"] == "insufficient_credits"

    wait_delivered(db)  # the burns are on chain
    with db.read_sessions() as session:
        assert session.get(CatalogueItem, item_id).stock == 0
        won = session.scalars(select(Redemption).where(Redemption.item_id == item_id)).all()
        assert len(won) == 10 and {r.state for r in won} == {"requested"}
        spends = {session.get(LedgerEntry, r.spend_entry_id).ref: r.price for r in won}
        for member in members:
            assert spendable_credits(session, member) >= 0, "no overspend"
    burned = redeemed_by_ref(anvil.url, credits.address, credits.block_number)
    assert burned == spends and sum(burned.values()) == 80, "each redemption burned its price once"
    after = {m: balance(anvil.url, credits.address, w) for m, w in wallets.items()}
    assert sum(before.values()) - sum(after.values()) == 80
    assert min(after.values()) >= 0 and cast_total_supply(anvil.url, credits.address) == supply_before - 80


def test_one_member_cannot_overspend_with_concurrent_requests(server, anvil):
    base, db = server
    staff, (member,) = funded_members(db, 1, complexity=20)
    item_id = catalogue.save_item(db.unit_of_work(), actor_id=staff, name="Sticker sheet", price=6)
    wait_delivered(db)
    token = bearer(db, member)
    responses = fire(base, item_id, [token] * 10)
    codes = sorted(r.status_code for r in responses)
    assert codes == [201] * 3 + [409] * 7, codes
    assert {r.json()["error"] for r in responses if r.status_code == 409} == {"insufficient_credits"}
    wait_delivered(db)
    with db.read_sessions() as session:
        address = wallet_of(session, member).address
        credits = recorded_deployment(session, connect(anvil.url).eth.chain_id, CREDITS).address
    assert balance(anvil.url, credits, address) == 2

