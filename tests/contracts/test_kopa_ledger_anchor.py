"""KopaLedgerAnchor: roles, constructor rule, one root per epoch that can never be
overwritten, idempotent batches, the EpochAnchored event, views.

Every revert is asserted with `typed_error()` (contract_helpers.py), which pins the custom
error AND all of its arguments.
"""

import brownie
import pytest
from brownie import web3
from contract_helpers import DEFAULT_ADMIN_ROLE, events, ref, typed_error

ANCHOR_ROLE = web3.keccak(text="ANCHOR_ROLE").to_0x_hex()
ZERO_ROOT = "0x" + "00" * 32


@pytest.fixture(scope="module")
def anchor(KopaLedgerAnchor, admin, minter):
    """As deployed in production: the admin grants roles, the platform key anchors."""
    return KopaLedgerAnchor.deploy(admin, minter, {"from": admin})


def test_initial_roles(anchor, admin, minter, outsider):
    assert anchor.ANCHOR_ROLE() == ANCHOR_ROLE
    assert anchor.hasRole(DEFAULT_ADMIN_ROLE, admin)
    assert anchor.hasRole(ANCHOR_ROLE, minter)
    assert not anchor.hasRole(ANCHOR_ROLE, admin)
    assert not anchor.hasRole(ANCHOR_ROLE, outsider)


def test_constructor_refuses_anchorer_equal_to_admin(KopaLedgerAnchor, admin):
    with brownie.reverts(typed_error("KopaLedgerAnchorAnchorerIsAdmin")):
        KopaLedgerAnchor.deploy(admin, admin, {"from": admin})


def test_anchor_writes_root_once_and_emits(anchor, minter):
    root = ref("epoch-1")
    assert anchor.rootOf(1) == ZERO_ROOT
    assert not anchor.isAnchored(1)
    tx = anchor.anchor(1, root, 7, {"from": minter})
    assert events(tx, "EpochAnchored") == [{"epoch": 1, "root": root, "entryCount": 7}]
    assert anchor.rootOf(1) == root
    assert anchor.entryCountOf(1) == 7
    assert anchor.isAnchored(1)


def test_root_cannot_be_overwritten(anchor, minter):
    root = ref("epoch-1")
    anchor.anchor(1, root, 7, {"from": minter})
    with brownie.reverts(typed_error("KopaLedgerAnchorAlreadyAnchored", 1, root)):
        anchor.anchor(1, ref("forged"), 7, {"from": minter})
    # A batch skips it: the first root stays.
    tx = anchor.anchorBatch([1], [ref("forged")], [9], {"from": minter})
    assert tx.return_value == 0
    assert events(tx, "EpochAnchored") == []
    assert anchor.rootOf(1) == root
    assert anchor.entryCountOf(1) == 7


def test_batch_is_idempotent(anchor, minter):
    epochs, roots, counts = [1, 2, 3], [ref("a"), ref("b"), ref("c")], [1, 2, 3]
    tx = anchor.anchorBatch(epochs, roots, counts, {"from": minter})
    assert tx.return_value == 3
    assert [e["epoch"] for e in events(tx, "EpochAnchored")] == epochs
    again = anchor.anchorBatch([2, 3, 4], [ref("b"), ref("c"), ref("d")], [2, 3, 4], {"from": minter})
    assert again.return_value == 1
    assert events(again, "EpochAnchored") == [{"epoch": 4, "root": ref("d"), "entryCount": 4}]
    assert list(anchor.isAnchoredBatch([0, 1, 2, 3, 4, 5])) == [False, True, True, True, True, False]


@pytest.mark.parametrize("call", ["anchor", "anchorBatch"])
def test_only_anchor_role(anchor, admin, outsider, call):
    for who in (admin, outsider):
        with brownie.reverts(typed_error("AccessControlUnauthorizedAccount", who, ANCHOR_ROLE)):
            if call == "anchor":
                anchor.anchor(1, ref("x"), 1, {"from": who})
            else:
                anchor.anchorBatch([1], [ref("x")], [1], {"from": who})
    assert anchor.rootOf(1) == ZERO_ROOT


def test_grant_and_revoke_anchorer(anchor, admin, minter, outsider):
    anchor.grantRole(ANCHOR_ROLE, outsider, {"from": admin})
    anchor.anchor(5, ref("five"), 1, {"from": outsider})
    anchor.revokeRole(ANCHOR_ROLE, minter, {"from": admin})
    with brownie.reverts(typed_error("AccessControlUnauthorizedAccount", minter, ANCHOR_ROLE)):
        anchor.anchor(6, ref("six"), 1, {"from": minter})
    with brownie.reverts(typed_error("AccessControlUnauthorizedAccount", minter, DEFAULT_ADMIN_ROLE)):
        anchor.grantRole(ANCHOR_ROLE, minter, {"from": minter})


def test_zero_root_and_empty_epoch_refused(anchor, minter):
    with brownie.reverts(typed_error("KopaLedgerAnchorZeroRoot", 1)):
        anchor.anchor(1, ZERO_ROOT, 3, {"from": minter})
    with brownie.reverts(typed_error("KopaLedgerAnchorEmptyEpoch", 2)):
        anchor.anchor(2, ref("two"), 0, {"from": minter})
    # A bad item reverts the whole batch: nothing of it is written.
    with brownie.reverts(typed_error("KopaLedgerAnchorZeroRoot", 4)):
        anchor.anchorBatch([3, 4], [ref("three"), ZERO_ROOT], [1, 1], {"from": minter})
    assert not anchor.isAnchored(3)


def test_length_mismatch(anchor, minter):
    with brownie.reverts(typed_error("KopaLedgerAnchorLengthMismatch", 2, 1, 2)):
        anchor.anchorBatch([1, 2], [ref("a")], [1, 1], {"from": minter})
    with brownie.reverts(typed_error("KopaLedgerAnchorLengthMismatch", 1, 1, 0)):
        anchor.anchorBatch([1], [ref("a")], [], {"from": minter})


def test_views_answer_the_same_inside_a_transaction(anchor, minter, outsider):
    """The views, sent once as transactions: brownie's coverage sees only transactions (its
    calls-as-transactions are reverted on anvil before they can be traced)."""
    anchor.anchor(3, ref("three"), 9, {"from": minter})
    sender = {"from": outsider}
    assert anchor.rootOf.transact(3, sender).return_value == ref("three")
    assert anchor.entryCountOf.transact(3, sender).return_value == 9
    assert anchor.isAnchored.transact(3, sender).return_value is True
    assert anchor.isAnchored.transact(4, sender).return_value is False
    assert list(anchor.isAnchoredBatch.transact([4, 3], sender).return_value) == [False, True]
