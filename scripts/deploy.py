"""Deploy KopaCredits, KopaBadges and KopaLedgerAnchor; the platform minter gets MINTER_ROLE
and BURNER_ROLE on the credits, MINTER_ROLE on the badges and ANCHOR_ROLE on the anchor.

    brownie run scripts/deploy.py [--network NAME]

Environment:
    KOPA_DEPLOYER_KEY    private key of the deployer, who becomes admin and pauser
                         (default: accounts[0], i.e. a node-held account)
    KOPA_MINTER_ADDRESS  address of the platform minter (the relay); required except on
                         the development network, where accounts[1] stands in
    KOPA_BADGES_URI      ERC-1155 metadata URI template of the badges, e.g.
                         https://kopa.example/badges/{id}.json; required except on the
                         development network (fixed at deploy: the contract has no setter)
"""

import os
from typing import NamedTuple

from brownie import KopaBadges, KopaCredits, KopaLedgerAnchor, accounts, network
from eth_utils import (
    is_address,
    is_checksum_address,
    is_checksum_formatted_address,
    to_checksum_address,
)

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
DEV_BADGES_URI = "https://kopa.invalid/badges/{id}.json"


class Deployed(NamedTuple):
    credits: object
    badges: object
    anchor: object


def get_deployer():
    """The admin account. A key from the environment lets a live deploy sign locally
    instead of relying on an account unlocked in the node."""
    key = os.environ.get("KOPA_DEPLOYER_KEY")
    if key:
        return accounts.add(key)
    if not accounts:
        raise SystemExit("KOPA_DEPLOYER_KEY is required: this network has no unlocked account")
    return accounts[0]


def get_minter(deployer):
    """The platform minter, validated before anything is deployed.

    It must differ from the deployer: the admin key can grant roles and pause, so it is
    kept offline, while the minter key lives on a server and may leak. Outside the
    development network the address must be given explicitly so a live deploy never
    hands the roles to a throwaway account by accident.
    """
    raw = os.environ.get("KOPA_MINTER_ADDRESS")
    if not raw:
        if network.show_active() != "development":
            raise SystemExit("KOPA_MINTER_ADDRESS is required outside the development network")
        raw = accounts[1].address
        print(f"Notice: KOPA_MINTER_ADDRESS not set, using accounts[1] ({raw}) as the minter")
    # Mixed case means EIP-55: a typo there must fail, not hand the roles to a stranger.
    if not is_address(raw) or (is_checksum_formatted_address(raw) and not is_checksum_address(raw)):
        raise SystemExit(f"KOPA_MINTER_ADDRESS is not a valid address: {raw!r}")
    minter = to_checksum_address(raw)
    if minter == ZERO_ADDRESS:
        raise SystemExit("KOPA_MINTER_ADDRESS must not be the zero address")
    if minter == deployer.address:
        raise SystemExit(f"Refusing to deploy: the minter {minter} is the deployer (admin)")
    return minter


def get_badges_uri():
    """The badges' metadata URI, required on live networks because it cannot change later."""
    uri = os.environ.get("KOPA_BADGES_URI", "").strip()
    if not uri:
        if network.show_active() != "development":
            raise SystemExit("KOPA_BADGES_URI is required outside the development network")
        uri = DEV_BADGES_URI
        print(f"Notice: KOPA_BADGES_URI not set, using {uri}")
    return uri


def main():
    deployer = get_deployer()
    minter = get_minter(deployer)
    badges_uri = get_badges_uri()
    kopa = KopaCredits.deploy(deployer, {"from": deployer})
    kopa.grantRole(kopa.MINTER_ROLE(), minter, {"from": deployer})
    kopa.grantRole(kopa.BURNER_ROLE(), minter, {"from": deployer})
    print(f"KopaCredits deployed at {kopa.address} (admin {deployer.address}, minter {minter})")
    # The constructor itself grants MINTER_ROLE and refuses a minter equal to the admin.
    badges = KopaBadges.deploy(deployer, minter, badges_uri, {"from": deployer})
    print(f"KopaBadges deployed at {badges.address} (admin {deployer.address}, minter {minter})")
    anchor = KopaLedgerAnchor.deploy(deployer, minter, {"from": deployer})
    print(f"KopaLedgerAnchor deployed at {anchor.address} (admin {deployer.address}, anchorer {minter})")
    return Deployed(kopa, badges, anchor)
