"""KopaBadges: roles, constructor rule, soulbound transfers and approvals, exactly-once refs,
at most one badge of each id per member, events, balances, pause, ERC-165.

Every revert is asserted with `typed_error()` (contract_helpers.py), which pins the custom
error AND all of its arguments.
"""

from functools import reduce

import brownie
import pytest
from brownie import web3
from contract_helpers import (
    BADGES_URI,
    DEFAULT_ADMIN_ROLE,
    MINTER_ROLE,
    PAUSER_ROLE,
    ZERO_ADDRESS,
    events,
    ref,
    typed_error,
)

BRONZE, SILVER, GOLD = 1, 2, 3


def interface_id(*signatures):
    """ERC-165 id: the XOR of the interface's function selectors."""
    selectors = (int.from_bytes(web3.keccak(text=sig)[:4], "big") for sig in signatures)
    return f"0x{reduce(lambda a, b: a ^ b, selectors):08x}"


IERC165 = interface_id("supportsInterface(bytes4)")
IERC1155 = interface_id(
    "balanceOf(address,uint256)",
    "balanceOfBatch(address[],uint256[])",
    "setApprovalForAll(address,bool)",
    "isApprovedForAll(address,address)",
    "safeTransferFrom(address,address,uint256,uint256,bytes)",
    "safeBatchTransferFrom(address,address,uint256[],uint256[],bytes)",
)
IERC1155_METADATA_URI = interface_id("uri(uint256)")
IACCESS_CONTROL = interface_id(
    "hasRole(bytes32,address)",
    "getRoleAdmin(bytes32)",
    "grantRole(bytes32,address)",
    "revokeRole(bytes32,address)",
    "renounceRole(bytes32,address)",
)


def balances(badges, owners, ids):
    """balanceOfBatch as plain ints (brownie's uint256[] return value refuses to compare
    with a list of ints)."""
    return [int(b) for b in badges.balanceOfBatch(owners, ids)]


def minted_event(to, badge_id, r):
    return {"to": to.address, "id": badge_id, "ref": r}


def transfer_single(minter, to, badge_id):
    return {"operator": minter.address, "from": ZERO_ADDRESS, "to": to.address, "id": badge_id, "value": 1}


# --- metadata, constructor and roles -----------------------------------------------------


def test_metadata(badges):
    # One URI template for every id; clients substitute {id}. No per-member data on chain.
    assert badges.uri(BRONZE) == BADGES_URI
    assert badges.uri(2**256 - 1) == BADGES_URI
    assert badges.paused() is False


def test_role_constants(badges):
    assert badges.DEFAULT_ADMIN_ROLE() == DEFAULT_ADMIN_ROLE
    assert badges.MINTER_ROLE() == MINTER_ROLE
    assert badges.PAUSER_ROLE() == PAUSER_ROLE
    for role in (DEFAULT_ADMIN_ROLE, MINTER_ROLE, PAUSER_ROLE):
        assert badges.getRoleAdmin(role) == DEFAULT_ADMIN_ROLE


def test_initial_roles(badges, admin, minter, burner, outsider):
    expected = {
        admin: {DEFAULT_ADMIN_ROLE, PAUSER_ROLE},
        minter: {MINTER_ROLE},
        burner: set(),
        outsider: set(),
    }
    for account, roles in expected.items():
        for role in (DEFAULT_ADMIN_ROLE, MINTER_ROLE, PAUSER_ROLE):
            assert badges.hasRole(role, account) is (role in roles)


def test_constructor_grants_roles(KopaBadges, admin, holders, outsider):
    platform = holders[0]
    deployed = KopaBadges.deploy(outsider, platform, "ipfs://badges/{id}", {"from": admin})
    assert events(deployed.tx, "RoleGranted") == [
        {"role": DEFAULT_ADMIN_ROLE, "account": outsider.address, "sender": admin.address},
        {"role": PAUSER_ROLE, "account": outsider.address, "sender": admin.address},
        {"role": MINTER_ROLE, "account": platform.address, "sender": admin.address},
    ]
    assert deployed.uri(7) == "ipfs://badges/{id}"
    assert not deployed.hasRole(DEFAULT_ADMIN_ROLE, admin)  # the sender gets nothing


def test_constructor_refuses_minter_equal_to_admin(KopaBadges, admin, outsider):
    with brownie.reverts(typed_error("KopaBadgesMinterIsAdmin")):
        KopaBadges.deploy(outsider, outsider, BADGES_URI, {"from": admin})
    # The sender is irrelevant: only the admin and minter arguments are compared.
    with brownie.reverts(typed_error("KopaBadgesMinterIsAdmin")):
        KopaBadges.deploy(admin, admin, BADGES_URI, {"from": admin})


def test_supports_interface(badges):
    assert (IERC165, IERC1155, IERC1155_METADATA_URI, IACCESS_CONTROL) == (
        "0x01ffc9a7",
        "0xd9b67a26",
        "0x0e89341c",
        "0x7965db0b",
    )
    for supported in (IERC165, IERC1155, IERC1155_METADATA_URI, IACCESS_CONTROL):
        assert badges.supportsInterface(supported) is True
    assert badges.supportsInterface("0x36372b07") is False  # IERC20
    assert badges.supportsInterface("0x80ac58cd") is False  # IERC721
    assert badges.supportsInterface("0xffffffff") is False  # ERC-165: must be false


# --- role denials: exact AccessControlUnauthorizedAccount(account, role) -----------------


def _call(badges, fn, caller, holders):
    h = holders[0]
    calls = {
        "mintBadge": lambda: badges.mintBadge(h, BRONZE, ref("x"), {"from": caller}),
        "mintBadgeBatch": lambda: badges.mintBadgeBatch([h], [BRONZE], [ref("x")], {"from": caller}),
        "pause": lambda: badges.pause({"from": caller}),
        "unpause": lambda: badges.unpause({"from": caller}),
        "grantRole": lambda: badges.grantRole(MINTER_ROLE, h, {"from": caller}),
        "revokeRole": lambda: badges.revokeRole(MINTER_ROLE, h, {"from": caller}),
    }
    return calls[fn]()


REQUIRED_ROLE = {
    "mintBadge": MINTER_ROLE,
    "mintBadgeBatch": MINTER_ROLE,
    "pause": PAUSER_ROLE,
    "unpause": PAUSER_ROLE,
    "grantRole": DEFAULT_ADMIN_ROLE,
    "revokeRole": DEFAULT_ADMIN_ROLE,
}
# Every caller that lacks the role, including the privileged accounts of other roles.
# "burner" holds KopaCredits' BURNER_ROLE elsewhere and no role here.
DENIED_CALLERS = {
    "mintBadge": ("admin", "burner", "outsider"),
    "mintBadgeBatch": ("admin", "burner", "outsider"),
    "pause": ("minter", "outsider"),
    "unpause": ("minter", "outsider"),
    "grantRole": ("minter", "outsider"),
    "revokeRole": ("minter", "outsider"),
}


@pytest.mark.parametrize(
    "fn,who", [(fn, who) for fn, callers in DENIED_CALLERS.items() for who in callers]
)
def test_role_denied(badges, holders, request, fn, who):
    caller = request.getfixturevalue(who)
    if fn == "unpause":
        badges.pause({"from": request.getfixturevalue("admin")})
    with brownie.reverts(
        typed_error("AccessControlUnauthorizedAccount", caller, REQUIRED_ROLE[fn])
    ):
        _call(badges, fn, caller, holders)
    assert badges.isMinted(ref("x")) is False


def test_grant_and_revoke_minter(badges, admin, minter, holders):
    new_minter = holders[0]
    badges.grantRole(MINTER_ROLE, new_minter, {"from": admin})
    badges.mintBadge(holders[1], BRONZE, ref("by-new-minter"), {"from": new_minter})
    assert badges.balanceOf(holders[1], BRONZE) == 1

    tx = badges.revokeRole(MINTER_ROLE, minter, {"from": admin})
    assert events(tx, "RoleRevoked") == [
        {"role": MINTER_ROLE, "account": minter.address, "sender": admin.address}
    ]
    with brownie.reverts(typed_error("AccessControlUnauthorizedAccount", minter, MINTER_ROLE)):
        badges.mintBadge(holders[2], BRONZE, ref("revoked"), {"from": minter})


# --- mintBadge -------------------------------------------------------------------------


def test_mint_badge(badges, minter, holders):
    h, r = holders[0], ref("badge-1")
    assert badges.isMinted(r) is False
    tx = badges.mintBadge(h, SILVER, r, {"from": minter})
    assert badges.balanceOf(h, SILVER) == 1
    assert badges.balanceOf(h, BRONZE) == 0
    assert badges.isMinted(r) is True
    assert [e.name for e in tx.events] == ["TransferSingle", "BadgeMinted"]
    assert events(tx, "TransferSingle") == [transfer_single(minter, h, SILVER)]
    assert events(tx, "BadgeMinted") == [minted_event(h, SILVER, r)]


def test_badge_minted_topics_are_all_indexed(badges, minter, holders):
    # BadgeMinted(address indexed to, uint256 indexed id, bytes32 indexed ref): the relay and
    # the auditor can filter by member, level or ledger entry straight from the node.
    h, r = holders[0], ref("topics")
    tx = badges.mintBadge(h, GOLD, r, {"from": minter})
    signature = web3.keccak(text="BadgeMinted(address,uint256,bytes32)")
    (log,) = [lg for lg in tx.logs if lg["topics"][0] == signature]
    assert log["topics"][1:] == [
        bytes(12) + bytes.fromhex(h.address[2:]),
        GOLD.to_bytes(32, "big"),
        bytes.fromhex(r[2:]),
    ]
    assert bytes(log["data"]) == b""


def test_mint_several_levels_and_holders(badges, minter, holders):
    a, b = holders[:2]
    badges.mintBadge(a, BRONZE, ref("a1"), {"from": minter})
    badges.mintBadge(a, SILVER, ref("a2"), {"from": minter})
    badges.mintBadge(b, BRONZE, ref("b1"), {"from": minter})
    assert balances(badges, [a, a, a, b, b], [BRONZE, SILVER, GOLD, BRONZE, SILVER]) == [1, 1, 0, 1, 0]


def test_mint_badge_same_ref_twice_reverts(badges, minter, holders):
    r = ref("once")
    badges.mintBadge(holders[0], BRONZE, r, {"from": minter})
    # Same ref, whatever the recipient or level: the ledger entry is spent.
    for to, badge_id in ((holders[0], BRONZE), (holders[0], SILVER), (holders[1], BRONZE)):
        with brownie.reverts(typed_error("KopaBadgesAlreadyMinted", r)):
            badges.mintBadge(to, badge_id, r, {"from": minter})
    assert balances(badges, [holders[0], holders[0], holders[1]], [BRONZE, SILVER, BRONZE]) == [1, 0, 0]


def test_mint_badge_already_held_reverts(badges, minter, holders):
    h, second = holders[0], ref("second")
    badges.mintBadge(h, GOLD, ref("first"), {"from": minter})
    with brownie.reverts(typed_error("KopaBadgesAlreadyHeld", h, GOLD)):
        badges.mintBadge(h, GOLD, second, {"from": minter})
    assert badges.balanceOf(h, GOLD) == 1
    assert badges.isMinted(second) is False  # the refused ref stays usable


def test_mint_badge_ref_checked_before_holding(badges, minter, holders):
    # Both rules broken at once: the spent ref is reported.
    h, r = holders[0], ref("both")
    badges.mintBadge(h, GOLD, r, {"from": minter})
    with brownie.reverts(typed_error("KopaBadgesAlreadyMinted", r)):
        badges.mintBadge(h, GOLD, r, {"from": minter})


def test_mint_badge_to_zero_address_reverts(badges, minter):
    r = ref("nobody")
    with brownie.reverts(typed_error("ERC1155InvalidReceiver", ZERO_ADDRESS)):
        badges.mintBadge(ZERO_ADDRESS, BRONZE, r, {"from": minter})
    assert badges.isMinted(r) is False


def test_mint_badge_to_contract_without_receiver_reverts(badges, minter):
    # ERC-1155's acceptance check: a contract that does not implement onERC1155Received
    # (here the badges contract itself) cannot receive a badge, and the ref is rolled back.
    r = ref("contract")
    with brownie.reverts(typed_error("ERC1155InvalidReceiver", badges)):
        badges.mintBadge(badges, BRONZE, r, {"from": minter})
    assert badges.isMinted(r) is False
    assert badges.balanceOf(badges, BRONZE) == 0


# --- mintBadgeBatch --------------------------------------------------------------------


def test_mint_badge_batch(badges, minter, holders):
    to = [holders[0], holders[1], holders[0]]
    ids = [BRONZE, BRONZE, SILVER]
    refs = [ref(f"batch-{i}") for i in range(3)]
    assert badges.mintBadgeBatch.call(to, ids, refs, {"from": minter}) == 3
    tx = badges.mintBadgeBatch(to, ids, refs, {"from": minter})
    assert tx.return_value == 3
    assert balances(badges, to, ids) == [1, 1, 1]
    assert badges.isMintedBatch(refs) == [True, True, True]
    assert [e.name for e in tx.events] == ["TransferSingle", "BadgeMinted"] * 3
    assert events(tx, "TransferSingle") == [
        transfer_single(minter, t, i) for t, i in zip(to, ids, strict=True)
    ]
    assert events(tx, "BadgeMinted") == [
        minted_event(t, i, r) for t, i, r in zip(to, ids, refs, strict=True)
    ]


def test_mint_badge_batch_skips_repeats(badges, minter, holders):
    a, b, c = holders[:3]
    badges.mintBadge(a, BRONZE, ref("earlier"), {"from": minter})
    to = [a, b, a, c, b, c]
    ids = [SILVER, BRONZE, BRONZE, GOLD, BRONZE, SILVER]
    refs = [
        ref("new-1"),  # minted
        ref("new-2"),  # minted
        ref("new-3"),  # skipped: a already holds BRONZE (earlier tx)
        ref("earlier"),  # skipped: ref minted in an earlier tx
        ref("new-4"),  # skipped: b got BRONZE two entries ago (same batch)
        ref("new-1"),  # skipped: ref minted in this batch
    ]
    tx = badges.mintBadgeBatch(to, ids, refs, {"from": minter})
    assert tx.return_value == 2
    assert events(tx, "BadgeMinted") == [
        minted_event(a, SILVER, ref("new-1")),
        minted_event(b, BRONZE, ref("new-2")),
    ]
    assert events(tx, "TransferSingle") == [
        transfer_single(minter, a, SILVER),
        transfer_single(minter, b, BRONZE),
    ]
    owners, ids = [a, a, a, b, c, c], [BRONZE, SILVER, GOLD, BRONZE, GOLD, SILVER]
    assert balances(badges, owners, ids) == [1, 1, 0, 1, 0, 0]
    # Entries skipped for a held badge leave their refs unminted.
    assert badges.isMintedBatch([ref(f"new-{i}") for i in range(1, 5)]) == [True, True, False, False]


def test_mint_badge_batch_resend_is_a_no_op(badges, minter, holders):
    args = ([holders[0], holders[1]], [BRONZE, GOLD], [ref("r1"), ref("r2")])
    badges.mintBadgeBatch(*args, {"from": minter})
    tx = badges.mintBadgeBatch(*args, {"from": minter})
    assert tx.return_value == 0
    assert len(tx.events) == 0
    assert balances(badges, args[0], args[1]) == [1, 1]


def test_mint_badge_batch_empty(badges, minter):
    tx = badges.mintBadgeBatch([], [], [], {"from": minter})
    assert tx.return_value == 0
    assert len(tx.events) == 0


@pytest.mark.parametrize("lengths", [(2, 1, 1), (1, 2, 1), (1, 1, 2), (0, 1, 2), (3, 3, 0)])
def test_mint_badge_batch_length_mismatch(badges, minter, holders, lengths):
    n_to, n_ids, n_refs = lengths
    refs = [ref(f"m{i}") for i in range(n_refs)]
    with brownie.reverts(typed_error("KopaBadgesLengthMismatch", n_to, n_ids, n_refs)):
        badges.mintBadgeBatch(list(holders[:n_to]), [BRONZE] * n_ids, refs, {"from": minter})
    assert badges.balanceOf(holders[0], BRONZE) == 0


def test_mint_badge_batch_zero_address_reverts_whole_batch(badges, minter, holders):
    refs = [ref("ok"), ref("nobody")]
    with brownie.reverts(typed_error("ERC1155InvalidReceiver", ZERO_ADDRESS)):
        badges.mintBadgeBatch([holders[0], ZERO_ADDRESS], [BRONZE, BRONZE], refs, {"from": minter})
    assert badges.isMintedBatch(refs) == [False, False]
    assert badges.balanceOf(holders[0], BRONZE) == 0


def test_is_minted_batch_answers_per_ref_in_order(badges, minter, holders):
    a, b, c = ref("q-a"), ref("q-b"), ref("q-c")
    assert badges.isMintedBatch([]) == []
    assert badges.isMintedBatch([a, b, c]) == [False, False, False]
    badges.mintBadge(holders[0], BRONZE, b, {"from": minter})
    assert badges.isMintedBatch([a, b, c, b]) == [False, True, False, True]
    assert badges.isMinted(a) is False and badges.isMinted(b) is True


# --- soulbound: no transfers, no approvals ----------------------------------------------


@pytest.fixture
def holder(badges, minter, holders):
    """holders[0] holds BRONZE and SILVER."""
    badges.mintBadgeBatch([holders[0]] * 2, [BRONZE, SILVER], [ref("h1"), ref("h2")], {"from": minter})
    return holders[0]


def test_safe_transfer_from_reverts(badges, holder, holders):
    other = holders[1]
    for to, badge_id, value in ((other, BRONZE, 1), (holder, BRONZE, 1), (other, GOLD, 0)):
        with brownie.reverts(typed_error("KopaBadgesTransferDisabled", holder, to)):
            badges.safeTransferFrom(holder, to, badge_id, value, b"", {"from": holder})
    assert balances(badges, [holder, holder, other], [BRONZE, SILVER, BRONZE]) == [1, 1, 0]


def test_safe_batch_transfer_from_reverts(badges, holder, holders):
    other = holders[1]
    with brownie.reverts(typed_error("KopaBadgesTransferDisabled", holder, other)):
        badges.safeBatchTransferFrom(holder, other, [BRONZE, SILVER], [1, 1], b"", {"from": holder})
    with brownie.reverts(typed_error("KopaBadgesTransferDisabled", holder, other)):
        badges.safeBatchTransferFrom(holder, other, [], [], b"", {"from": holder})
    owners, ids = [holder, holder, other, other], [BRONZE, SILVER, BRONZE, SILVER]
    assert balances(badges, owners, ids) == [1, 1, 0, 0]


def test_transfer_by_third_party_needs_approval_first(badges, holder, minter, admin, outsider):
    # Approvals can never be granted, so nobody but the holder even reaches the transfer rule;
    # not the minter, not the admin.
    for caller in (outsider, minter, admin):
        with brownie.reverts(typed_error("ERC1155MissingApprovalForAll", caller, holder)):
            badges.safeTransferFrom(holder, caller, BRONZE, 1, b"", {"from": caller})
        with brownie.reverts(typed_error("ERC1155MissingApprovalForAll", caller, holder)):
            badges.safeBatchTransferFrom(holder, caller, [BRONZE], [1], b"", {"from": caller})


def test_transfer_to_zero_address_reverts(badges, holder):
    # No burning either: OZ refuses the zero receiver before the transfer rule.
    with brownie.reverts(typed_error("ERC1155InvalidReceiver", ZERO_ADDRESS)):
        badges.safeTransferFrom(holder, ZERO_ADDRESS, BRONZE, 1, b"", {"from": holder})
    with brownie.reverts(typed_error("ERC1155InvalidReceiver", ZERO_ADDRESS)):
        badges.safeBatchTransferFrom(holder, ZERO_ADDRESS, [BRONZE], [1], b"", {"from": holder})
    assert badges.balanceOf(holder, BRONZE) == 1


def test_transfer_reverts_while_paused(badges, admin, holder, holders):
    badges.pause({"from": admin})
    with brownie.reverts(typed_error("KopaBadgesTransferDisabled", holder, holders[1])):
        badges.safeTransferFrom(holder, holders[1], BRONZE, 1, b"", {"from": holder})


def test_set_approval_for_all_reverts(badges, holder, holders, outsider):
    operator = holders[1]
    for approved in (True, False):
        for caller in (holder, outsider):
            with brownie.reverts(typed_error("KopaBadgesApprovalDisabled")):
                badges.setApprovalForAll(operator, approved, {"from": caller})
    assert badges.isApprovedForAll(holder, operator) is False


# --- pause -----------------------------------------------------------------------------


def test_pause_blocks_mints(badges, admin, minter, holders):
    tx = badges.pause({"from": admin})
    assert events(tx, "Paused") == [{"account": admin.address}]
    assert badges.paused() is True
    with brownie.reverts(typed_error("EnforcedPause")):
        badges.mintBadge(holders[0], BRONZE, ref("p1"), {"from": minter})
    with brownie.reverts(typed_error("EnforcedPause")):
        badges.mintBadgeBatch([holders[0]], [BRONZE], [ref("p2")], {"from": minter})
    assert badges.isMintedBatch([ref("p1"), ref("p2")]) == [False, False]


def test_pause_and_unpause_state_errors(badges, admin):
    with brownie.reverts(typed_error("ExpectedPause")):
        badges.unpause({"from": admin})
    badges.pause({"from": admin})
    with brownie.reverts(typed_error("EnforcedPause")):
        badges.pause({"from": admin})


def test_unpause_restores(badges, admin, minter, holders):
    badges.pause({"from": admin})
    tx = badges.unpause({"from": admin})
    assert events(tx, "Unpaused") == [{"account": admin.address}]
    badges.mintBadge(holders[0], BRONZE, ref("u1"), {"from": minter})
    badges.mintBadgeBatch([holders[0]], [SILVER], [ref("u2")], {"from": minter})
    assert balances(badges, [holders[0]] * 2, [BRONZE, SILVER]) == [1, 1]


def test_paused_resend_of_known_entries_is_a_no_op(badges, admin, minter, holders):
    # Like KopaCredits.mintBatch: a batch whose entries are all done changes nothing and so
    # does not revert while paused.
    badges.mintBadge(holders[0], BRONZE, ref("known"), {"from": minter})
    badges.pause({"from": admin})
    # Known ref, and a new ref for a badge the member already holds: both skipped.
    to, ids, refs = [holders[0]] * 2, [BRONZE, BRONZE], [ref("known"), ref("other")]
    tx = badges.mintBadgeBatch(to, ids, refs, {"from": minter})
    assert tx.return_value == 0
    assert len(tx.events) == 0


# Random sequences against a model: test_properties.py (hypothesis programs).


def test_views_answer_the_same_inside_a_transaction(badges, minter, holders):
    """The views, sent once as transactions: brownie's coverage sees only transactions (its
    calls-as-transactions are reverted on anvil before they can be traced)."""
    minted, unknown = ref("view-m"), ref("view-none")
    badges.mintBadge(holders[0], BRONZE, minted, {"from": minter})
    sender = {"from": holders[1]}
    assert badges.isMinted.transact(minted, sender).return_value is True
    assert list(badges.isMintedBatch.transact([unknown, minted], sender).return_value) == [False, True]
    assert badges.supportsInterface.transact(IERC1155, sender).return_value is True
    assert badges.supportsInterface.transact("0xffffffff", sender).return_value is False
