"""Deploying Kopa's contracts (KopaCredits, KopaBadges, KopaLedgerAnchor) once per chain and
finding them again later."""

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
BADGES = "KopaBadges"
ANCHOR = "KopaLedgerAnchor"
# The badges' ERC-1155 metadata URI template; fixed at deployment (the contract has no setter).
DEFAULT_BADGES_URI = "https://kopa.invalid/badges/{id}.json"
# Enough ether for the minter's gas on a chain with a base fee (none is spent on Kopa's anvil).
MINTER_FUNDING_WEI = 10**18


def recorded_deployment(session: Session, chain_id: int, contract: str = CREDITS) -> Deployment | None:
    return session.scalars(
        select(Deployment)
        .where(Deployment.chain_id == chain_id, Deployment.contract == contract)
        .order_by(Deployment.id.desc())
        .limit(1)
    ).one_or_none()


def current_deployment(session: Session, w3: Web3, contract: str = CREDITS) -> Deployment:
    """The deployment the relay may use; a recorded address without code means the chain
    was reset, and minting there would silently re-mint everything, so refuse."""
    chain_id = w3.eth.chain_id
    deployment = recorded_deployment(session, chain_id, contract)
    if deployment is None:
        raise ChainError(f"no {contract} deployment recorded for chain {chain_id}")
    if not has_code(w3, deployment.address):
        raise ChainError(
            f"chain {chain_id} has no code at the recorded {contract} address {deployment.address}: "
            "the chain was reset or replaced; refusing to mint (redeploy deliberately with "
            "`flask --app web kopa deploy`)"
        )
    return deployment


def ensure_deployment(
    session: Session, w3: Web3, *, deployer_key: str, minter_address: str,
    badges_uri: str = DEFAULT_BADGES_URI,
) -> Deployment:
    """Reuse the deployments recorded for this chain; deploy afresh (loudly) any whose code
    is gone. Returns the KopaCredits deployment; KopaBadges gets its own row."""
    deployer = Account.from_key(deployer_key)
    credits = _reuse(session, w3, CREDITS)
    if credits is None:
        credits = deploy_credits(w3, deployer, minter_address)
        session.add(credits)
        session.commit()
    if _reuse(session, w3, BADGES) is None:
        session.add(deploy_badges(w3, deployer, minter_address, badges_uri))
        session.commit()
    if _reuse(session, w3, ANCHOR) is None:
        session.add(deploy_anchor(w3, deployer, minter_address))
        session.commit()
    return credits


def _reuse(session: Session, w3: Web3, contract: str) -> Deployment | None:
    chain_id = w3.eth.chain_id
    deployment = recorded_deployment(session, chain_id, contract)
    if deployment is not None and has_code(w3, deployment.address):
        return deployment
    if deployment is not None:
        log.warning(
            "!!! chain %s has no code at the recorded %s address %s: deploying a NEW contract. "
            "Tokens minted on the old chain are not on this one; the auditor's "
            "reconciliation will show them as missing. !!!",
            chain_id, contract, deployment.address,
        )
    return None


def _platform_minter(deployer: LocalAccount, minter_address: str) -> str:
    minter_address = Web3.to_checksum_address(minter_address)
    if minter_address == deployer.address:
        raise ChainError("the deployer key must not be the minter key")
    return minter_address


def _deploy(w3: Web3, deployer: LocalAccount, name: str, args: tuple, gas: int) -> tuple[Deployment, int]:
    """Send the contract's constructor and wait for it; returns the deployment and the nonce
    the deployment used."""
    spec = artifact(name)
    factory = w3.eth.contract(abi=spec["abi"], bytecode=spec["bytecode"])
    tx = factory.constructor(*args).build_transaction(
        {"from": deployer.address, "gas": gas, **fee_fields(w3)}
    )
    nonce = w3.eth.get_transaction_count(deployer.address, "pending")
    tx_hash = send_signed(w3, deployer, tx, gas=gas, nonce=nonce)
    receipt = wait(w3, tx_hash)
    if receipt["status"] != 1:
        raise ChainError(f"deployment transaction {tx_hash} reverted")
    deployment = Deployment(
        chain_id=w3.eth.chain_id,
        contract=name,
        address=receipt["contractAddress"],
        block_number=receipt["blockNumber"],
        tx_hash=tx_hash,
    )
    log.info("deployed %s at %s on chain %s", name, deployment.address, deployment.chain_id)
    return deployment, nonce


def deploy_badges(w3: Web3, deployer: LocalAccount, minter_address: str, uri: str) -> Deployment:
    """Deploy KopaBadges; its constructor gives the minter role to the platform minter (the
    same account that mints credits) and admin and pauser to the deployer."""
    minter_address = _platform_minter(deployer, minter_address)
    return _deploy(w3, deployer, BADGES, (deployer.address, minter_address, uri), 4_000_000)[0]


def deploy_anchor(w3: Web3, deployer: LocalAccount, minter_address: str) -> Deployment:
    """Deploy KopaLedgerAnchor: the platform minter anchors epoch roots, the deployer admins."""
    minter_address = _platform_minter(deployer, minter_address)
    return _deploy(w3, deployer, ANCHOR, (deployer.address, minter_address), 2_000_000)[0]


def deploy_credits(w3: Web3, deployer: LocalAccount, minter_address: str) -> Deployment:
    """Deploy, grant minting and burning to the platform minter (never the deployer)."""
    minter_address = _platform_minter(deployer, minter_address)
    deployment, nonce = _deploy(w3, deployer, CREDITS, (deployer.address,), 3_000_000)
    contract = w3.eth.contract(address=deployment.address, abi=artifact(CREDITS)["abi"])
    fees = fee_fields(w3)
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
    return deployment

