"""Read-only views of the chain for pages and the API; failures degrade to ``None``."""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session
from web3 import Web3

from rewards.chain.client import connect, credits_contract
from rewards.chain.deploy import ANCHOR, BADGES, CREDITS, recorded_deployment
from rewards.chain.relay import TRANSIENT

log = logging.getLogger(__name__)


class ChainReader:
    def __init__(self, rpc_url: str) -> None:
        self.rpc_url = rpc_url
        self.w3 = connect(rpc_url, timeout=3.0)
        self._chain_id: int | None = None

    def chain_id(self) -> int | None:
        if self._chain_id is None:
            try:
                self._chain_id = self.w3.eth.chain_id
            except TRANSIENT as exc:
                log.warning("chain unavailable at %s: %s", self.rpc_url, exc)
        return self._chain_id

    def credits_address(self, session: Session) -> str | None:
        return self.contract_address(session, CREDITS)

    def contract_address(self, session: Session, contract: str) -> str | None:
        chain_id = self.chain_id()
        if chain_id is None:
            return None
        deployment = recorded_deployment(session, chain_id, contract)
        return deployment.address if deployment else None

    def meta(self, session: Session) -> dict:
        return {
            "chain_id": self.chain_id(),
            "rpc_url": self.rpc_url,
            "contracts": {name: self.contract_address(session, name) for name in (CREDITS, BADGES, ANCHOR)},
        }

    def balance_of(self, session: Session, address: str) -> int | None:
        contract_address = self.credits_address(session)
        if contract_address is None:
            return None
        try:
            contract = credits_contract(self.w3, contract_address)
            return int(contract.functions.balanceOf(Web3.to_checksum_address(address)).call())
        except TRANSIENT as exc:
            log.warning("balanceOf failed: %s", exc)
            return None
