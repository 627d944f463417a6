"""Reading the chain in tests independently of Kopa's relay code (`cast`, raw logs), and
deploying Kopa's contracts for a test database."""

from __future__ import annotations

import json
import subprocess
from collections import Counter

from web3 import Web3

from community.db import Database
from rewards.chain.anvil import foundry_binary
from rewards.chain.client import connect
from rewards.chain.deploy import ensure_deployment
from rewards.chain.platform import minter_account
from rewards.vault import KeyVault
from web.config import ANVIL_DEV_DEPLOYER_KEY

REWARD_MINTED = "0x" + Web3.keccak(text="RewardMinted(address,uint256,bytes32)").hex().removeprefix("0x")


def cast(*args: str) -> str:
    """foundry's `cast`, the auditors' tool, from node_modules."""
    binary = foundry_binary("cast")
    done = subprocess.run([binary, *args], capture_output=True, text=True, timeout=30)
    if done.returncode != 0:
        raise RuntimeError(f"cast {' '.join(args[:3])}: {done.stderr.strip()}")
    return done.stdout.strip()


def cast_balance(rpc_url: str, token: str, holder: str) -> int:
    out = cast("call", token, "balanceOf(address)(uint256)", holder, "--rpc-url", rpc_url)
    return int(out.split()[0])


def cast_total_supply(rpc_url: str, token: str) -> int:
    return int(cast("call", token, "totalSupply()(uint256)", "--rpc-url", rpc_url).split()[0])


def minted_ref_counts(rpc_url: str, token: str, from_block: int) -> Counter:
    """How many RewardMinted events each ref has, from raw eth_getLogs via cast."""
    out = cast("logs", "--from-block", str(from_block), "--to-block", "latest", "--address", token,
               REWARD_MINTED, "--rpc-url", rpc_url, "--json")
    logs = json.loads(out or "[]")
    return Counter(log["topics"][2].lower() for log in logs)


CREDITS_REDEEMED = "0x" + Web3.keccak(text="CreditsRedeemed(address,uint256,bytes32)").hex().removeprefix(
    "0x"
)


def redeemed_ref_counts(rpc_url: str, token: str, from_block: int) -> Counter:
    """How many CreditsRedeemed (burn) events each ref has."""
    out = cast("logs", "--from-block", str(from_block), "--to-block", "latest", "--address", token,
               CREDITS_REDEEMED, "--rpc-url", rpc_url, "--json")
    return Counter(log["topics"][2].lower() for log in json.loads(out or "[]"))


TRANSFER = "0x" + Web3.keccak(text="Transfer(address,address,uint256)").hex().removeprefix("0x")


def replayed_balances(rpc_url: str, token: str, from_block: int) -> Counter:
    """Every holder's balance replayed from the token's Transfer events (mints come from and
    burns go to the zero address), from raw logs via cast."""
    out = cast("logs", "--from-block", str(from_block), "--to-block", "latest", "--address", token,
               TRANSFER, "--rpc-url", rpc_url, "--json")
    balances: Counter = Counter()
    for log in json.loads(out or "[]"):
        sender, receiver = ("0x" + t[-40:] for t in log["topics"][1:3])
        value = int(log["data"], 16)
        balances[Web3.to_checksum_address(sender)] -= value
        balances[Web3.to_checksum_address(receiver)] += value
    balances.pop("0x0000000000000000000000000000000000000000", None)
    return balances


def transfer_log_report(rpc_url: str, token: str, from_block: int, holder: str) -> str:
    """The holder's Transfer logs as the node returns them, each marked when its block is not
    the canonical block at that height (a node returning logs of a replaced block): what a
    failing replay needs to be told apart from a wrong balance."""
    out = cast("logs", "--from-block", str(from_block), "--to-block", "latest", "--address", token,
               TRANSFER, "--rpc-url", rpc_url, "--json")
    lines, canonical = [], {}
    for log in json.loads(out or "[]"):
        parties = [Web3.to_checksum_address("0x" + t[-40:]) for t in log["topics"][1:3]]
        if holder not in parties:
            continue
        number = int(log["blockNumber"], 16)
        if number not in canonical:
            canonical[number] = json.loads(cast("block", str(number), "--json", "--rpc-url", rpc_url))["hash"]
        mark = "" if canonical[number] == log["blockHash"] else "  NOT CANONICAL"
        lines.append(f"block {number} tx {log['transactionHash']} {parties[0][:8]}->{parties[1][:8]} "
                     f"{int(log['data'], 16)}{mark}")
    return "\n".join(lines)


def anvil_reorg(rpc_url: str, depth: int) -> None:
    """Replace the last ``depth`` blocks with empty ones (anvil drops their transactions)."""
    cast("rpc", "--raw", "anvil_reorg", f"[{int(depth)}, []]", "--rpc-url", rpc_url)


def deploy_for(db: Database, vault: KeyVault, rpc_url: str):
    w3 = connect(rpc_url)
    with db.write_sessions() as session:
        minter = minter_account(session, vault)
        deployment = ensure_deployment(
            session, w3, deployer_key=ANVIL_DEV_DEPLOYER_KEY, minter_address=minter.address
        )
        return w3, minter, deployment.address, deployment.block_number
