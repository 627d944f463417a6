"""Deploying KopaCredits once per chain and finding the deployment again later."""

from __future__ import annotations

import logging

from eth_account import Account
from eth_account.signers.local import LocalAccount
from sqlalchemy import select
from sqlalchemy.orm import Session
from web3 import Web3

from rewards.chain.client import ChainError, artifact, has_code
from rewards.chain.transactions import fee_fields, send_signed, wait
from rewards.models import Deployment

log = logging.getLogger(__name__)

CREDITS = "KopaCredits"
# Enough ether for the minter's gas on a chain with a base fee (none is spent on Kopa's anvil).
MINTER_FUNDING_WEI = 10**18


def recorded_deployment(session: Session, chain_id: int, contract: str = CREDITS) -> Deployment | None:
    return session.scalars(
        select(Deployment)
        .where(Deployment.chain_id == chain_id, Deployment.contract == contract)
        .order_by(Deployment.id.desc())
        .limit(1)
    ).one_or_none()


def current_deployment(session: Session, w3: Web3) -> Deployment:
    """The deployment the relay may use; a recorded address without code means the chain
    was reset, and minting there would silently re-mint everything, so refuse."""
    chain_id = w3.eth.chain_id
    deployment = recorded_deployment(session, chain_id)
    if deployment is None:
        raise ChainError(f"no {CREDITS} deployment recorded for chain {chain_id}")
    if not has_code(w3, deployment.address):
        raise ChainError(
            f"chain {chain_id} has no code at the recorded {CREDITS} address {deployment.address}: "
            "the chain was reset or replaced; refusing to mint (redeploy deliberately with "
            "`flask --app web kopa deploy`)"
        )
    return deployment


def ensure_deployment(
    session: Session, w3: Web3, *, deployer_key: str, minter_address: str
) -> Deployment:
    """Reuse the deployment recorded for this chain; deploy afresh (loudly) if its code is gone."""
    chain_id = w3.eth.chain_id
    deployment = recorded_deployment(session, chain_id)
    if deployment is not None and has_code(w3, deployment.address):
        return deployment
    if deployment is not None:
        log.warning(
            "!!! chain %s has no code at the recorded %s address %s: deploying a NEW contract. "
            "Balances minted on the old chain are not on this one; the auditor's "
            "reconciliation will show them as missing. !!!",
            chain_id, CREDITS, deployment.address,
        )
    deployment = deploy_credits(w3, Account.from_key(deployer_key), minter_address)
    session.add(deployment)
    session.commit()
    return deployment


def deploy_credits(w3: Web3, deployer: LocalAccount, minter_address: str) -> Deployment:
    """Deploy, grant minting and burning to the platform minter (never the deployer)."""
    minter_address = Web3.to_checksum_address(minter_address)
    if minter_address == deployer.address:
        raise ChainError("the deployer key must not be the minter key")
    spec = artifact(CREDITS)
    factory = w3.eth.contract(abi=spec["abi"], bytecode=spec["bytecode"])
    fees = fee_fields(w3)
    deploy_tx = factory.constructor(deployer.address).build_transaction(
        {"from": deployer.address, "gas": 3_000_000, **fees}
    )
    nonce = w3.eth.get_transaction_count(deployer.address, "pending")
    tx_hash = send_signed(w3, deployer, deploy_tx, gas=3_000_000, nonce=nonce)
    receipt = wait(w3, tx_hash)
    if receipt["status"] != 1:
        raise ChainError(f"deployment transaction {tx_hash} reverted")
    address = receipt["contractAddress"]
    contract = w3.eth.contract(address=address, abi=spec["abi"])
    hashes = []
    for offset, role in enumerate(("MINTER_ROLE", "BURNER_ROLE"), start=1):
        role_id = getattr(contract.functions, role)().call()
        tx = contract.functions.grantRole(role_id, minter_address).build_transaction(
            {"from": deployer.address, "gas": 100_000, "nonce": nonce + offset, **fees}
        )
        hashes.append(send_signed(w3, deployer, tx, gas=100_000, nonce=nonce + offset))
    if w3.eth.get_balance(minter_address) < MINTER_FUNDING_WEI // 2:
        hashes.append(
            send_signed(
                w3, deployer, {"to": minter_address, "value": MINTER_FUNDING_WEI},
                gas=21_000, nonce=nonce + 3,
            )
        )
    for h in hashes:
        if wait(w3, h)["status"] != 1:
            raise ChainError(f"set-up transaction {h} reverted")
    log.info("deployed %s at %s on chain %s", CREDITS, address, w3.eth.chain_id)
    return Deployment(
        chain_id=w3.eth.chain_id,
        contract=CREDITS,
        address=address,
        block_number=receipt["blockNumber"],
        tx_hash=tx_hash,
    )

