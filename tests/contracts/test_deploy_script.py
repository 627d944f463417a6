"""scripts/deploy.py: both contracts deployed, roles split between admin and minter, and bad
input refused before anything reaches the chain."""

import pytest
from brownie import web3
from contract_helpers import BURNER_ROLE, DEFAULT_ADMIN_ROLE, MINTER_ROLE, PAUSER_ROLE, ZERO_ADDRESS

from scripts import deploy

PLATFORM = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"  # accounts[1], EIP-55
URI = "https://kopa.example/badges/{id}.json"


@pytest.fixture
def deploy_env(monkeypatch):
    for name in ("KOPA_DEPLOYER_KEY", "KOPA_MINTER_ADDRESS", "KOPA_BADGES_URI"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_deploy_script_grants_roles_to_minter(deploy_env, accounts):
    platform = accounts[5]
    deploy_env.setenv("KOPA_MINTER_ADDRESS", platform.address.lower())
    deploy_env.setenv("KOPA_BADGES_URI", URI)
    kopa, badges, anchor = deploy.main()
    assert kopa.hasRole(DEFAULT_ADMIN_ROLE, accounts[0])
    assert kopa.hasRole(PAUSER_ROLE, accounts[0])
    assert kopa.hasRole(MINTER_ROLE, platform) and kopa.hasRole(BURNER_ROLE, platform)
    assert not kopa.hasRole(MINTER_ROLE, accounts[0])
    assert not kopa.hasRole(BURNER_ROLE, accounts[0])

    assert badges.hasRole(DEFAULT_ADMIN_ROLE, accounts[0])
    assert badges.hasRole(PAUSER_ROLE, accounts[0])
    assert badges.hasRole(MINTER_ROLE, platform)
    assert not badges.hasRole(MINTER_ROLE, accounts[0])
    assert not badges.hasRole(DEFAULT_ADMIN_ROLE, platform)
    assert badges.uri(3) == URI
    assert badges.address != kopa.address
    assert anchor.hasRole(anchor.ANCHOR_ROLE(), platform)
    assert not anchor.hasRole(anchor.ANCHOR_ROLE(), accounts[0])
    assert anchor.hasRole(DEFAULT_ADMIN_ROLE, accounts[0])


def test_deploy_script_defaults_on_development(deploy_env, accounts, capsys):
    kopa, badges, _ = deploy.main()
    out = capsys.readouterr().out
    assert "KOPA_MINTER_ADDRESS not set" in out
    assert "KOPA_BADGES_URI not set" in out
    assert kopa.hasRole(MINTER_ROLE, accounts[1]) and kopa.hasRole(BURNER_ROLE, accounts[1])
    assert badges.hasRole(MINTER_ROLE, accounts[1])
    assert badges.uri(0) == deploy.DEV_BADGES_URI


def test_deploy_script_uses_deployer_key(deploy_env, accounts):
    key = "0x" + "4b" * 32
    deployer = accounts.add(key)
    deploy_env.setenv("KOPA_DEPLOYER_KEY", key)
    deploy_env.setenv("KOPA_MINTER_ADDRESS", accounts[5].address)
    deployed = deploy.main()
    for contract in deployed:
        assert contract.hasRole(DEFAULT_ADMIN_ROLE, deployer)
        assert not contract.hasRole(DEFAULT_ADMIN_ROLE, accounts[0])
    assert deployed.credits.tx.sender == deployer
    assert deployed.badges.tx.sender == deployer


@pytest.mark.parametrize(
    "minter,message",
    [
        ("deployer", "is the deployer"),
        ("not-an-address", "not a valid address"),
        # accounts[1] with the case of its last letter flipped: a broken EIP-55 checksum
        ("0x70997970C51812dc3A010C7d01b50e0d17dc79c8", "not a valid address"),
        (ZERO_ADDRESS, "zero address"),
    ],
)
def test_deploy_script_refuses_bad_minter(deploy_env, accounts, minter, message):
    if minter == "deployer":
        minter = accounts[0].address
    deploy_env.setenv("KOPA_MINTER_ADDRESS", minter)
    height = web3.eth.block_number
    with pytest.raises(SystemExit, match=message):
        deploy.main()
    assert web3.eth.block_number == height  # refused before deploying anything


@pytest.mark.parametrize(
    "env,message",
    [
        ({"KOPA_BADGES_URI": URI}, "KOPA_MINTER_ADDRESS is required"),
        ({"KOPA_MINTER_ADDRESS": PLATFORM}, "KOPA_BADGES_URI is required"),
        ({"KOPA_MINTER_ADDRESS": PLATFORM, "KOPA_BADGES_URI": "  "}, "KOPA_BADGES_URI is required"),
    ],
)
def test_deploy_script_requires_explicit_settings_outside_development(deploy_env, env, message):
    # Only the network name is faked; the checks run before anything is sent.
    deploy_env.setattr(deploy.network, "show_active", lambda: "live-net")
    for name, value in env.items():
        deploy_env.setenv(name, value)
    height = web3.eth.block_number
    with pytest.raises(SystemExit, match=message):
        deploy.main()
    assert web3.eth.block_number == height
