"""Benchmark: approvals per second (SQLite, one transaction each) and minted ledger entries
per second through the relay (mintBatch of 100, signed locally) against a naive baseline
(one `mint` per entry, send-and-wait) measured in the same run on the same anvil.

    .venv/bin/python scripts/bench/relay_throughput.py [--entries 1000]

Prints figures; docs/benchmarks.md records them.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from community import processes, services
from community.db import Database
from community.models import Role
from rewards.chain.anvil import Anvil
from rewards.chain.client import connect, credits_contract
from rewards.chain.deploy import ensure_deployment
from rewards.chain.keys import new_account
from rewards.chain.platform import minter_account
from rewards.chain.relay import Relay
from rewards.chain.transactions import fee_fields, send_signed, wait
from rewards.vault import KeyVault
from web.config import ANVIL_DEV_DEPLOYER_KEY
from web.migrate import upgrade


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=1000)
    parser.add_argument("--members", type=int, default=50)
    parser.add_argument("--baseline", type=int, default=100, help="entries minted one by one")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp, Anvil() as node:
        url = f"sqlite:///{tmp}/bench.sqlite3"
        upgrade(url)
        db = Database(url)
        vault = KeyVault("bench")
        w3 = connect(node.url)
        with db.write_sessions() as session:
            minter = minter_account(session, vault)
            deployment = ensure_deployment(session, w3, deployer_key=ANVIL_DEV_DEPLOYER_KEY,
                                           minter_address=minter.address)

        def user(role: Role, i: int) -> int:
            return services.register_member(db.unit_of_work(), email=f"u{role}{i}@bench.org",
                                            display_name=f"U{i}", password="benchmark-pass",
                                            new_account=new_account, vault=vault, role=role)

        staff = user(Role.STAFF, 0)
        members = [user(Role.MEMBER, i) for i in range(args.members)]
        process = processes.create_process(db.unit_of_work(), actor_id=staff, title="Bench")
        task = processes.create_task(db.unit_of_work(), actor_id=staff, process_id=process, title="T",
                                    complexity=20)
        no_limit = services.ContributionPolicy(submissions_per_hour=10**9)
        contributions = [
            services.submit_contribution(db.unit_of_work(), member_id=members[i % len(members)],
                                         task_id=task, text="x", policy=no_limit)
            for i in range(args.entries)
        ]
        start = time.perf_counter()
        for cid in contributions:
            services.approve_contribution(db.unit_of_work(), validator_id=staff, contribution_id=cid)
        approve_s = time.perf_counter() - start

        relay = Relay(db, w3, minter, batch_size=100)
        relay.prepare()
        start = time.perf_counter()
        while relay.run_once():
            pass
        relay_s = time.perf_counter() - start
        block_from = deployment.block_number
        gas = [w3.eth.get_transaction_receipt(tx)["gasUsed"]
               for tx in {log["transactionHash"] for log in w3.eth.get_logs(
                   {"fromBlock": block_from, "toBlock": "latest", "address": deployment.address})}]

        contract = credits_contract(w3, deployment.address)
        holder = new_account()[0]
        start = time.perf_counter()
        for i in range(args.baseline):
            tx = contract.functions.mint(holder, 1, i.to_bytes(32, "big")).build_transaction(
                {"from": minter.address, "gas": 120_000, **fee_fields(w3)})
            wait(w3, send_signed(w3, minter, tx, gas=120_000))
        baseline_s = time.perf_counter() - start
        db.dispose()

    relay_rate = args.entries / relay_s
    baseline_rate = args.baseline / baseline_s
    print(f"approvals (SQLite, one unit of work each): {args.entries / approve_s:8.1f} /s")
    print(f"relay mints (mintBatch x100, local signing): {relay_rate:8.1f} entries/s")
    print(f"baseline mint() send-and-wait, one per entry: {baseline_rate:8.1f} entries/s")
    print(f"relay / baseline:                             {relay_rate / baseline_rate:8.1f}x")
    print(f"gas per entry in mintBatch (fresh+existing holders mix): {sum(gas) / args.entries:,.0f}")


if __name__ == "__main__":
    main()
