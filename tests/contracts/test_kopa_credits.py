"""KopaCredits: roles, pause, non-transferability, ref idempotency, events, accounting.

Every revert is asserted with `typed_error()` (contract_helpers.py), which pins the custom
error AND all of its arguments.
"""


import brownie
import pytest
from contract_helpers import (
    BURNER_ROLE,
    DEFAULT_ADMIN_ROLE,
    MINTER_ROLE,
    PAUSER_ROLE,
    ZERO_ADDRESS,
    events,
    ref,
    typed_error,
)

# --- metadata and roles ----------------------------------------------------------------


def test_metadata(credits):
    assert credits.name() == "Kopa Credits"
    assert credits.symbol() == "KOPA"
    assert credits.decimals() == 0
    assert credits.totalSupply() == 0
    assert credits.paused() is False


def test_role_constants(credits):
    assert credits.DEFAULT_ADMIN_ROLE() == DEFAULT_ADMIN_ROLE
    assert credits.MINTER_ROLE() == MINTER_ROLE
    assert credits.BURNER_ROLE() == BURNER_ROLE
    assert credits.PAUSER_ROLE() == PAUSER_ROLE
    for role in (DEFAULT_ADMIN_ROLE, MINTER_ROLE, BURNER_ROLE, PAUSER_ROLE):
        assert credits.getRoleAdmin(role) == DEFAULT_ADMIN_ROLE


def test_initial_roles(credits, admin, minter, burner, outsider):
    expected = {
        admin: {DEFAULT_ADMIN_ROLE, PAUSER_ROLE},
        minter: {MINTER_ROLE},
        burner: {BURNER_ROLE},
        outsider: set(),
    }
    for account, roles in expected.items():
        for role in (DEFAULT_ADMIN_ROLE, MINTER_ROLE, BURNER_ROLE, PAUSER_ROLE):
            assert credits.hasRole(role, account) is (role in roles)


def test_supports_interface(credits):
    assert credits.supportsInterface("0x01ffc9a7")  # IERC165
    assert credits.supportsInterface("0x7965db0b")  # IAccessControl
    assert not credits.supportsInterface("0x36372b07")  # IERC20 is not advertised
    assert not credits.supportsInterface("0xffffffff")


def test_constructor_grants_admin_and_pauser(KopaCredits, admin, outsider):
    tx = KopaCredits.deploy(outsider, {"from": admin}).tx
    granted = events(tx, "RoleGranted")
    assert granted == [
        {"role": DEFAULT_ADMIN_ROLE, "account": outsider.address, "sender": admin.address},
        {"role": PAUSER_ROLE, "account": outsider.address, "sender": admin.address},
    ]


# --- role denials: exact AccessControlUnauthorizedAccount(account, role) ----------------


def _call(credits, fn, caller, holders):
    h = holders[0]
    calls = {
        "mint": lambda: credits.mint(h, 1, ref("x"), {"from": caller}),
        "mintBatch": lambda: credits.mintBatch([h], [1], [ref("x")], {"from": caller}),
        "redeem": lambda: credits.redeem(h, 1, ref("x"), {"from": caller}),
        "redeemBatch": lambda: credits.redeemBatch([h], [1], [ref("x")], {"from": caller}),
        "pause": lambda: credits.pause({"from": caller}),
        "unpause": lambda: credits.unpause({"from": caller}),
        "grantRole": lambda: credits.grantRole(MINTER_ROLE, h, {"from": caller}),
        "revokeRole": lambda: credits.revokeRole(MINTER_ROLE, h, {"from": caller}),
    }
    return calls[fn]()


REQUIRED_ROLE = {
    "mint": MINTER_ROLE,
    "mintBatch": MINTER_ROLE,
    "redeem": BURNER_ROLE,
    "redeemBatch": BURNER_ROLE,
    "pause": PAUSER_ROLE,
    "unpause": PAUSER_ROLE,
    "grantRole": DEFAULT_ADMIN_ROLE,
    "revokeRole": DEFAULT_ADMIN_ROLE,
}
# Every caller that lacks the role, including the privileged accounts of other roles.
DENIED_CALLERS = {
    "mint": ("admin", "burner", "outsider"),
    "mintBatch": ("admin", "burner", "outsider"),
    "redeem": ("admin", "minter", "outsider"),
    "redeemBatch": ("admin", "minter", "outsider"),
    "pause": ("minter", "burner", "outsider"),
    "unpause": ("minter", "burner", "outsider"),
    "grantRole": ("minter", "burner", "outsider"),
    "revokeRole": ("minter", "burner", "outsider"),
}


@pytest.mark.parametrize(
    "fn,who", [(fn, who) for fn, callers in DENIED_CALLERS.items() for who in callers]
)
def test_role_denied(credits, holders, request, fn, who):
    caller = request.getfixturevalue(who)
    if fn == "unpause":
        credits.pause({"from": request.getfixturevalue("admin")})
    with brownie.reverts(
        typed_error("AccessControlUnauthorizedAccount", caller, REQUIRED_ROLE[fn])
    ):
        _call(credits, fn, caller, holders)


def test_grant_and_revoke_role(credits, admin, minter, holders):
    new_minter = holders[0]
    tx = credits.grantRole(MINTER_ROLE, new_minter, {"from": admin})
    assert events(tx, "RoleGranted") == [
        {"role": MINTER_ROLE, "account": new_minter.address, "sender": admin.address}
    ]
    credits.mint(holders[1], 3, ref("by-new-minter"), {"from": new_minter})
    assert credits.balanceOf(holders[1]) == 3

    tx = credits.revokeRole(MINTER_ROLE, minter, {"from": admin})
    assert events(tx, "RoleRevoked") == [
        {"role": MINTER_ROLE, "account": minter.address, "sender": admin.address}
    ]
    assert not credits.hasRole(MINTER_ROLE, minter)
    with brownie.reverts(typed_error("AccessControlUnauthorizedAccount", minter, MINTER_ROLE)):
        credits.mint(holders[1], 3, ref("revoked"), {"from": minter})


def test_renounce_role(credits, minter, holders):
    with brownie.reverts(typed_error("AccessControlBadConfirmation")):
        credits.renounceRole(MINTER_ROLE, holders[0], {"from": minter})
    tx = credits.renounceRole(MINTER_ROLE, minter, {"from": minter})
    assert events(tx, "RoleRevoked") == [
        {"role": MINTER_ROLE, "account": minter.address, "sender": minter.address}
    ]
    with brownie.reverts(typed_error("AccessControlUnauthorizedAccount", minter, MINTER_ROLE)):
        credits.mint(holders[0], 1, ref("after-renounce"), {"from": minter})


# --- mint ------------------------------------------------------------------------------


def test_mint(credits, minter, holders):
    h, r = holders[0], ref("entry-1")
    assert not credits.isMinted(r)
    tx = credits.mint(h, 25, r, {"from": minter})
    assert credits.balanceOf(h) == 25
    assert credits.totalSupply() == 25
    assert credits.isMinted(r)
    assert not credits.isRedeemed(r)
    assert [e.name for e in tx.events] == ["Transfer", "RewardMinted"]
    assert events(tx, "Transfer") == [{"from": ZERO_ADDRESS, "to": h.address, "value": 25}]
    assert events(tx, "RewardMinted") == [{"to": h.address, "amount": 25, "ref": r}]


def test_is_minted_batch_answers_per_ref_in_order(credits, minter, holders):
    a, b, c = ref("batch-a"), ref("batch-b"), ref("batch-c")
    assert credits.isMintedBatch([]) == []
    assert credits.isMintedBatch([a, b, c]) == [False, False, False]
    credits.mint(holders[0], 3, b, {"from": minter})
    assert credits.isMintedBatch([a, b, c, b]) == [False, True, False, True]
    credits.mintBatch([holders[1], holders[2]], [1, 2], [a, c], {"from": minter})
    assert credits.isMintedBatch([c, a, b]) == [True, True, True]


def test_mint_to_existing_holder_adds_up(credits, minter, holders):
    h = holders[0]
    credits.mint(h, 10, ref("a"), {"from": minter})
    credits.mint(h, 7, ref("b"), {"from": minter})
    assert credits.balanceOf(h) == 17
    assert credits.totalSupply() == 17


def test_mint_duplicate_ref_reverts(credits, minter, holders):
    r = ref("entry-1")
    credits.mint(holders[0], 5, r, {"from": minter})
    # Same ref, whatever the recipient or amount: the ledger entry is spent.
    for to, amount in ((holders[0], 5), (holders[1], 9)):
        with brownie.reverts(typed_error("KopaCreditsAlreadyMinted", r)):
            credits.mint(to, amount, r, {"from": minter})
    assert credits.balanceOf(holders[0]) == 5
    assert credits.balanceOf(holders[1]) == 0
    assert credits.totalSupply() == 5


def test_mint_zero_amount_reverts(credits, minter, holders):
    r = ref("zero")
    with brownie.reverts(typed_error("KopaCreditsZeroAmount", r)):
        credits.mint(holders[0], 0, r, {"from": minter})
    assert not credits.isMinted(r)
    credits.mint(holders[0], 1, r, {"from": minter})  # the ref is still usable
    assert credits.balanceOf(holders[0]) == 1


def test_mint_to_zero_address_reverts(credits, minter):
    r = ref("nobody")
    with brownie.reverts(typed_error("ERC20InvalidReceiver", ZERO_ADDRESS)):
        credits.mint(ZERO_ADDRESS, 1, r, {"from": minter})
    assert not credits.isMinted(r)


# --- mintBatch -------------------------------------------------------------------------


def test_mint_batch(credits, minter, holders):
    to = list(holders[:3])
    amounts = [1, 2, 3]
    refs = [ref(f"batch-{i}") for i in range(3)]
    assert credits.mintBatch.call(to, amounts, refs, {"from": minter}) == 3
    tx = credits.mintBatch(to, amounts, refs, {"from": minter})
    assert tx.return_value == 3
    for h, amount, r in zip(to, amounts, refs, strict=True):
        assert credits.balanceOf(h) == amount
        assert credits.isMinted(r)
    assert credits.totalSupply() == 6
    assert [e.name for e in tx.events] == ["Transfer", "RewardMinted"] * 3
    assert events(tx, "Transfer") == [
        {"from": ZERO_ADDRESS, "to": h.address, "value": a}
        for h, a in zip(to, amounts, strict=True)
    ]
    assert events(tx, "RewardMinted") == [
        {"to": h.address, "amount": a, "ref": r} for h, a, r in zip(to, amounts, refs, strict=True)
    ]


def test_mint_batch_skips_ref_minted_in_earlier_tx(credits, minter, holders):
    old, new = ref("old"), ref("new")
    credits.mint(holders[0], 5, old, {"from": minter})
    tx = credits.mintBatch([holders[0], holders[1]], [5, 8], [old, new], {"from": minter})
    assert tx.return_value == 1
    assert events(tx, "RewardMinted") == [{"to": holders[1].address, "amount": 8, "ref": new}]
    assert len(events(tx, "Transfer")) == 1
    assert credits.balanceOf(holders[0]) == 5
    assert credits.balanceOf(holders[1]) == 8
    assert credits.totalSupply() == 13


def test_mint_batch_same_ref_twice_in_one_batch(credits, minter, holders):
    r = ref("dup")
    tx = credits.mintBatch([holders[0], holders[1]], [4, 6], [r, r], {"from": minter})
    assert tx.return_value == 1
    # The first entry wins; the repeat is skipped.
    assert events(tx, "RewardMinted") == [{"to": holders[0].address, "amount": 4, "ref": r}]
    assert len(events(tx, "Transfer")) == 1
    assert credits.balanceOf(holders[0]) == 4
    assert credits.balanceOf(holders[1]) == 0
    assert credits.totalSupply() == 4


def test_mint_batch_resend_is_a_no_op(credits, minter, holders):
    args = ([holders[0], holders[1]], [2, 3], [ref("r1"), ref("r2")])
    credits.mintBatch(*args, {"from": minter})
    tx = credits.mintBatch(*args, {"from": minter})
    assert tx.return_value == 0
    assert "RewardMinted" not in tx.events and "Transfer" not in tx.events
    assert credits.totalSupply() == 5


def test_mint_batch_empty(credits, minter):
    tx = credits.mintBatch([], [], [], {"from": minter})
    assert tx.return_value == 0
    assert len(tx.events) == 0


@pytest.mark.parametrize("lengths", [(2, 1, 1), (1, 2, 1), (1, 1, 2), (0, 1, 2), (3, 3, 0)])
def test_mint_batch_length_mismatch(credits, minter, holders, lengths):
    n_to, n_amounts, n_refs = lengths
    to = list(holders[:n_to])
    amounts = [1] * n_amounts
    refs = [ref(f"m{i}") for i in range(n_refs)]
    with brownie.reverts(typed_error("KopaCreditsLengthMismatch", n_to, n_amounts, n_refs)):
        credits.mintBatch(to, amounts, refs, {"from": minter})
    assert credits.totalSupply() == 0


def test_mint_batch_zero_amount_reverts_whole_batch(credits, minter, holders):
    refs = [ref("ok"), ref("zero")]
    with brownie.reverts(typed_error("KopaCreditsZeroAmount", refs[1])):
        credits.mintBatch([holders[0], holders[1]], [5, 0], refs, {"from": minter})
    assert credits.totalSupply() == 0
    assert not credits.isMinted(refs[0])


def test_mint_batch_zero_amount_for_minted_ref_is_skipped(credits, minter, holders):
    # An already-minted entry is skipped before its amount is looked at.
    r = ref("done")
    credits.mint(holders[0], 5, r, {"from": minter})
    tx = credits.mintBatch([holders[0]], [0], [r], {"from": minter})
    assert tx.return_value == 0
    assert credits.balanceOf(holders[0]) == 5


# --- redeem ----------------------------------------------------------------------------


@pytest.fixture
def funded(credits, minter, holders):
    """holders[0] holds 50 credits."""
    credits.mint(holders[0], 50, ref("fund"), {"from": minter})
    return holders[0]


def test_redeem(credits, burner, funded):
    r = ref("redeem-1")
    assert not credits.isRedeemed(r)
    tx = credits.redeem(funded, 20, r, {"from": burner})
    assert credits.balanceOf(funded) == 30
    assert credits.totalSupply() == 30
    assert credits.isRedeemed(r)
    assert not credits.isMinted(r)
    assert [e.name for e in tx.events] == ["Transfer", "CreditsRedeemed"]
    assert events(tx, "Transfer") == [{"from": funded.address, "to": ZERO_ADDRESS, "value": 20}]
    assert events(tx, "CreditsRedeemed") == [{"from": funded.address, "amount": 20, "ref": r}]


def test_redeem_whole_balance(credits, burner, funded):
    credits.redeem(funded, 50, ref("all"), {"from": burner})
    assert credits.balanceOf(funded) == 0
    assert credits.totalSupply() == 0


def test_redeem_same_ref_twice_reverts(credits, burner, funded):
    r = ref("redeem-1")
    credits.redeem(funded, 10, r, {"from": burner})
    with brownie.reverts(typed_error("KopaCreditsAlreadyRedeemed", r)):
        credits.redeem(funded, 10, r, {"from": burner})
    assert credits.balanceOf(funded) == 40


def test_redeem_more_than_balance_reverts(credits, burner, funded):
    r = ref("too-much")
    with brownie.reverts(typed_error("ERC20InsufficientBalance", funded, 50, 51)):
        credits.redeem(funded, 51, r, {"from": burner})
    assert credits.balanceOf(funded) == 50
    assert not credits.isRedeemed(r)  # rolled back: the ref can be retried
    credits.redeem(funded, 50, r, {"from": burner})
    assert credits.isRedeemed(r)


def test_redeem_from_empty_holder_reverts(credits, burner, outsider):
    with brownie.reverts(typed_error("ERC20InsufficientBalance", outsider, 0, 1)):
        credits.redeem(outsider, 1, ref("empty"), {"from": burner})


def test_redeem_zero_amount_reverts(credits, burner, funded):
    r = ref("zero")
    with brownie.reverts(typed_error("KopaCreditsZeroAmount", r)):
        credits.redeem(funded, 0, r, {"from": burner})
    assert not credits.isRedeemed(r)


def test_mint_and_redeem_refs_are_separate(credits, minter, burner, holders):
    # The same ledger hash may appear once as a mint and once as a redemption.
    r = ref("shared")
    credits.mint(holders[0], 5, r, {"from": minter})
    credits.redeem(holders[0], 5, r, {"from": burner})
    assert credits.isMinted(r) and credits.isRedeemed(r)


def test_unknown_refs(credits):
    r = ref("never-seen")
    assert credits.isMinted(r) is False
    assert credits.isRedeemed(r) is False
    assert credits.isRedeemedBatch([r]) == [False]


# --- redeemBatch -----------------------------------------------------------------------


@pytest.fixture
def funded_three(credits, minter, holders):
    """holders[0..2] hold 10, 20 and 30 credits."""
    credits.mintBatch(list(holders[:3]), [10, 20, 30], [ref(f"f{i}") for i in range(3)], {"from": minter})
    return list(holders[:3])


def test_redeem_batch(credits, burner, funded_three):
    amounts = [4, 20, 1]
    refs = [ref(f"rb-{i}") for i in range(3)]
    assert credits.redeemBatch.call(funded_three, amounts, refs, {"from": burner}) == 3
    tx = credits.redeemBatch(funded_three, amounts, refs, {"from": burner})
    assert tx.return_value == 3
    assert [credits.balanceOf(h) for h in funded_three] == [6, 0, 29]
    assert credits.totalSupply() == 35
    assert credits.isRedeemedBatch(refs) == [True, True, True]
    assert [e.name for e in tx.events] == ["Transfer", "CreditsRedeemed"] * 3
    assert events(tx, "Transfer") == [
        {"from": h.address, "to": ZERO_ADDRESS, "value": a}
        for h, a in zip(funded_three, amounts, strict=True)
    ]
    assert events(tx, "CreditsRedeemed") == [
        {"from": h.address, "amount": a, "ref": r}
        for h, a, r in zip(funded_three, amounts, refs, strict=True)
    ]


def test_redeem_batch_skips_ref_redeemed_in_earlier_tx(credits, burner, funded_three):
    a, b = funded_three[:2]
    old, new = ref("old"), ref("new")
    credits.redeem(a, 3, old, {"from": burner})
    tx = credits.redeemBatch([a, b], [3, 5], [old, new], {"from": burner})
    assert tx.return_value == 1
    assert events(tx, "CreditsRedeemed") == [{"from": b.address, "amount": 5, "ref": new}]
    assert events(tx, "Transfer") == [{"from": b.address, "to": ZERO_ADDRESS, "value": 5}]
    assert credits.balanceOf(a) == 7
    assert credits.balanceOf(b) == 15


def test_redeem_batch_same_ref_twice_in_one_batch(credits, burner, funded_three):
    a, b = funded_three[:2]
    r = ref("dup")
    tx = credits.redeemBatch([a, b], [2, 9], [r, r], {"from": burner})
    assert tx.return_value == 1
    # The first entry wins; the repeat is skipped.
    assert events(tx, "CreditsRedeemed") == [{"from": a.address, "amount": 2, "ref": r}]
    assert credits.balanceOf(a) == 8
    assert credits.balanceOf(b) == 20


def test_redeem_batch_resend_is_a_no_op(credits, burner, funded_three):
    args = (funded_three, [1, 2, 3], [ref(f"again-{i}") for i in range(3)])
    credits.redeemBatch(*args, {"from": burner})
    tx = credits.redeemBatch(*args, {"from": burner})
    assert tx.return_value == 0
    assert len(tx.events) == 0
    assert credits.totalSupply() == 54


def test_redeem_batch_single_ref_stays_exactly_once(credits, burner, funded_three):
    # A ref redeemed by the batch is refused by `redeem` afterwards, and the other way round.
    a = funded_three[0]
    credits.redeemBatch([a], [1], [ref("x")], {"from": burner})
    with brownie.reverts(typed_error("KopaCreditsAlreadyRedeemed", ref("x"))):
        credits.redeem(a, 1, ref("x"), {"from": burner})
    credits.redeem(a, 1, ref("y"), {"from": burner})
    tx = credits.redeemBatch([a], [1], [ref("y")], {"from": burner})
    assert tx.return_value == 0
    assert credits.balanceOf(a) == 8


def test_redeem_batch_empty(credits, burner):
    tx = credits.redeemBatch([], [], [], {"from": burner})
    assert tx.return_value == 0
    assert len(tx.events) == 0


@pytest.mark.parametrize("lengths", [(2, 1, 1), (1, 2, 1), (1, 1, 2), (0, 1, 2), (3, 3, 0)])
def test_redeem_batch_length_mismatch(credits, burner, funded_three, lengths):
    n_from, n_amounts, n_refs = lengths
    refs = [ref(f"lm{i}") for i in range(n_refs)]
    with brownie.reverts(typed_error("KopaCreditsLengthMismatch", n_from, n_amounts, n_refs)):
        credits.redeemBatch(funded_three[:n_from], [1] * n_amounts, refs, {"from": burner})
    assert credits.totalSupply() == 60


def test_redeem_batch_zero_amount_reverts_whole_batch(credits, burner, funded_three):
    refs = [ref("ok"), ref("zero")]
    with brownie.reverts(typed_error("KopaCreditsZeroAmount", refs[1])):
        credits.redeemBatch(funded_three[:2], [5, 0], refs, {"from": burner})
    assert credits.totalSupply() == 60
    assert credits.isRedeemedBatch(refs) == [False, False]


def test_redeem_batch_zero_amount_for_redeemed_ref_is_skipped(credits, burner, funded_three):
    # An already-redeemed entry is skipped before its amount is looked at.
    r = ref("done")
    credits.redeem(funded_three[0], 5, r, {"from": burner})
    tx = credits.redeemBatch([funded_three[0]], [0], [r], {"from": burner})
    assert tx.return_value == 0
    assert credits.balanceOf(funded_three[0]) == 5


def test_redeem_batch_insufficient_balance_reverts_whole_batch(credits, burner, funded_three):
    a, b = funded_three[:2]
    refs = [ref("fine"), ref("short")]
    with brownie.reverts(typed_error("ERC20InsufficientBalance", b, 20, 21)):
        credits.redeemBatch([a, b], [10, 21], refs, {"from": burner})
    assert credits.balanceOf(a) == 10 and credits.balanceOf(b) == 20
    assert credits.isRedeemedBatch(refs) == [False, False]  # rolled back: both can be retried


def test_redeem_batch_balance_is_checked_after_earlier_entries(credits, burner, funded_three):
    # Two entries of the same holder: the second sees the balance the first left.
    a = funded_three[0]
    refs = [ref("first"), ref("second")]
    with brownie.reverts(typed_error("ERC20InsufficientBalance", a, 4, 5)):
        credits.redeemBatch([a, a], [6, 5], refs, {"from": burner})
    tx = credits.redeemBatch([a, a], [6, 4], refs, {"from": burner})
    assert tx.return_value == 2
    assert credits.balanceOf(a) == 0


def test_is_redeemed_batch_answers_per_ref_in_order(credits, burner, funded_three):
    a, b, c = ref("q-a"), ref("q-b"), ref("q-c")
    assert credits.isRedeemedBatch([]) == []
    assert credits.isRedeemedBatch([a, b, c]) == [False, False, False]
    credits.redeem(funded_three[0], 1, b, {"from": burner})
    assert credits.isRedeemedBatch([a, b, c, b]) == [False, True, False, True]
    credits.redeemBatch(funded_three[1:], [1, 1], [a, c], {"from": burner})
    assert credits.isRedeemedBatch([c, a, b]) == [True, True, True]
    # Mint refs and redemption refs are separate sets.
    assert credits.isMintedBatch([a, b, c]) == [False, False, False]


# --- pause -----------------------------------------------------------------------------


def test_pause_blocks_mint_batch_and_redeem(credits, admin, minter, burner, funded, holders):
    tx = credits.pause({"from": admin})
    assert events(tx, "Paused") == [{"account": admin.address}]
    assert credits.paused() is True
    paused = typed_error("EnforcedPause")
    with brownie.reverts(paused):
        credits.mint(holders[1], 1, ref("p1"), {"from": minter})
    with brownie.reverts(paused):
        credits.mintBatch([holders[1]], [1], [ref("p2")], {"from": minter})
    with brownie.reverts(paused):
        credits.redeem(funded, 1, ref("p3"), {"from": burner})
    with brownie.reverts(paused):
        credits.redeemBatch([funded], [1], [ref("p4")], {"from": burner})
    assert not credits.isMinted(ref("p1")) and not credits.isMinted(ref("p2"))
    assert credits.isRedeemedBatch([ref("p3"), ref("p4")]) == [False, False]
    assert credits.totalSupply() == 50


def test_pause_and_unpause_state_errors(credits, admin):
    with brownie.reverts(typed_error("ExpectedPause")):
        credits.unpause({"from": admin})
    credits.pause({"from": admin})
    with brownie.reverts(typed_error("EnforcedPause")):
        credits.pause({"from": admin})


def test_unpause_restores(credits, admin, minter, burner, holders):
    credits.pause({"from": admin})
    tx = credits.unpause({"from": admin})
    assert events(tx, "Unpaused") == [{"account": admin.address}]
    assert credits.paused() is False
    credits.mint(holders[0], 5, ref("u1"), {"from": minter})
    credits.mintBatch([holders[0]], [5], [ref("u2")], {"from": minter})
    credits.redeem(holders[0], 3, ref("u3"), {"from": burner})
    credits.redeemBatch([holders[0]], [2], [ref("u4")], {"from": burner})
    assert credits.balanceOf(holders[0]) == 5


def test_paused_batches_of_only_known_refs_are_no_ops(credits, admin, minter, burner, funded):
    # Like mintBatch, a resent redeemBatch whose refs are all done changes nothing and so
    # does not revert while paused: pause stops state changes, not idempotent resends.
    credits.redeem(funded, 1, ref("known"), {"from": burner})
    credits.pause({"from": admin})
    assert credits.redeemBatch([funded], [1], [ref("known")], {"from": burner}).return_value == 0
    assert credits.mintBatch([funded], [50], [ref("fund")], {"from": minter}).return_value == 0
    assert credits.balanceOf(funded) == 49


# --- transfers are disabled ------------------------------------------------------------


def test_transfer_reverts(credits, funded, holders):
    other = holders[1]
    # Spelled out once, to show the exact string brownie compares against.
    expected = f"KopaCreditsTransferDisabled: {funded.address.lower()}, {other.address.lower()}"
    assert typed_error("KopaCreditsTransferDisabled", funded, other) == expected
    with brownie.reverts(expected):
        credits.transfer(other, 1, {"from": funded})
    with brownie.reverts(typed_error("KopaCreditsTransferDisabled", funded, funded)):
        credits.transfer(funded, 1, {"from": funded})
    with brownie.reverts(typed_error("KopaCreditsTransferDisabled", funded, other)):
        credits.transfer(other, 0, {"from": funded})
    assert credits.balanceOf(funded) == 50
    assert credits.balanceOf(other) == 0


def test_transfer_to_zero_address_reverts(credits, funded):
    with brownie.reverts(typed_error("ERC20InvalidReceiver", ZERO_ADDRESS)):
        credits.transfer(ZERO_ADDRESS, 1, {"from": funded})


def test_transfer_reverts_while_paused(credits, admin, funded, holders):
    credits.pause({"from": admin})
    with brownie.reverts(typed_error("KopaCreditsTransferDisabled", funded, holders[1])):
        credits.transfer(holders[1], 1, {"from": funded})


def test_transfer_from_reverts(credits, funded, holders):
    spender, to = holders[1], holders[2]
    # Allowances can still be set (ERC20 surface), but they can never be spent.
    tx = credits.approve(spender, 10, {"from": funded})
    assert events(tx, "Approval") == [
        {"owner": funded.address, "spender": spender.address, "value": 10}
    ]
    assert credits.allowance(funded, spender) == 10
    with brownie.reverts(typed_error("KopaCreditsTransferDisabled", funded, to)):
        credits.transferFrom(funded, to, 5, {"from": spender})
    assert credits.allowance(funded, spender) == 10
    assert credits.balanceOf(funded) == 50


def test_transfer_from_without_allowance_reverts(credits, funded, holders):
    spender = holders[1]
    with brownie.reverts(typed_error("ERC20InsufficientAllowance", spender, 0, 5)):
        credits.transferFrom(funded, holders[2], 5, {"from": spender})


# Random sequences against a model: test_properties.py (hypothesis programs).


def test_views_answer_the_same_inside_a_transaction(credits, minter, burner, holders):
    """The views, sent once as transactions: brownie's coverage sees only transactions (its
    calls-as-transactions are reverted on anvil before they can be traced)."""
    minted, redeemed, unknown = ref("view-m"), ref("view-r"), ref("view-none")
    credits.mint(holders[0], 5, minted, {"from": minter})
    credits.redeem(holders[0], 1, redeemed, {"from": burner})
    sender = {"from": holders[1]}
    assert credits.isMinted.transact(minted, sender).return_value is True
    assert credits.isMinted.transact(unknown, sender).return_value is False
    assert list(credits.isMintedBatch.transact([minted, unknown], sender).return_value) == [True, False]
    assert credits.isRedeemed.transact(redeemed, sender).return_value is True
    assert list(credits.isRedeemedBatch.transact([unknown, redeemed], sender).return_value) == [False, True]


def _word_refs(label, *offsets):
    """Refs at `offsets` from the start of one 256-ref word of the guard's bitmap."""
    base = (int(ref(label), 16) >> 16) << 8  # the low byte clear, room above for +256
    return [f"0x{base + offset:064x}" for offset in offsets]


def test_refs_sharing_a_guard_word_stay_independent(credits, minter, burner, holders):
    """The guard packs 256 consecutive refs into one storage word: each is still its own."""
    first, second, last, next_word = _word_refs("word", 0, 1, 255, 256)
    h = holders[0]
    credits.mint(h, 1, second, {"from": minter})
    assert credits.isMintedBatch([first, second, last, next_word]) == [False, True, False, False]
    tx = credits.mintBatch([h] * 4, [1] * 4, [first, second, last, next_word], {"from": minter})
    assert tx.return_value == 3
    assert [e["ref"] for e in events(tx, "RewardMinted")] == [first, last, next_word]
    with brownie.reverts(typed_error("KopaCreditsAlreadyMinted", last)):
        credits.mint(h, 1, last, {"from": minter})
    # Redemption refs are a bitmap of their own: the same numbers are all still unused there.
    assert credits.isRedeemedBatch([first, second, last, next_word]) == [False] * 4
    credits.redeemBatch([h, h], [1, 1], [last, first], {"from": burner})
    assert credits.isRedeemedBatch([first, second, last, next_word]) == [True, False, True, False]
    assert credits.balanceOf(h) == 2


def test_extreme_refs(credits, minter):
    """Bit 0 of word 0 and bit 255 of the last word: no overflow, no aliasing."""
    lowest, highest = "0x" + "00" * 32, "0x" + "ff" * 32
    credits.mintBatch([minter, minter], [1, 1], [highest, lowest], {"from": minter})
    assert credits.isMintedBatch([lowest, highest, "0x" + "00" * 31 + "01", "0x" + "ff" * 31 + "fe"]) == [
        True, True, False, False
    ]
