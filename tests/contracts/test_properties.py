"""Stateful property tests (hypothesis rule-based state machines, brownie strategies) for the three
contracts. Hypothesis draws sequences of calls by any account (role holders, members,
outsiders), role grants and revocations, pauses, duplicate refs, zero amounts and
over-balance burns; a python model predicts every outcome, down to the exact custom error.

Properties (checked after every step, or per example where they need the logs):
- KopaCredits: totalSupply = Σ balances; the supply only rises in a transaction sent by a
  current MINTER_ROLE holder and only falls in one sent by a BURNER_ROLE holder; nothing
  mints or burns while paused; no mint ref and no redemption ref is used twice (logs and
  `isMinted`/`isRedeemed`); balances never move between holders.
- KopaBadges: Σ balances = number of mints; at most one badge of each id per member; only
  MINTER_ROLE holders mint, never while paused; no ref used twice; badges never move.
- KopaLedgerAnchor: only ANCHOR_ROLE holders write; a root, once written, never changes.

Each contract runs a few derandomized programs (~10 s each); `KOPA_PROPERTY_EXAMPLES=50`
and `KOPA_PROPERTY_RANDOM=1` run deeper and different ones.
"""

import os
from collections import Counter

import brownie
import pytest
from brownie import web3
from brownie.test import strategy
from contract_helpers import (
    BADGES_URI,
    BURNER_ROLE,
    DEFAULT_ADMIN_ROLE,
    MINTER_ROLE,
    PAUSER_ROLE,
    ZERO_ADDRESS,
    events,
    ref,
    typed_error,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

# Isolation is by a fresh contract per example, not brownie.test.given's chain revert per
# example (~0.65 s each here), so hypothesis's own `given` is the right one.
pytestmark = pytest.mark.filterwarnings("ignore:Directly importing `hypothesis.given`")

ANCHOR_ROLE = web3.keccak(text="ANCHOR_ROLE").to_0x_hex()
# Programs per contract; KOPA_PROPERTY_EXAMPLES=N runs N for each (a deeper run).
EXAMPLES = int(os.environ.get("KOPA_PROPERTY_EXAMPLES", "0"))


def hypothesis_settings(examples):
    return settings(
        max_examples=EXAMPLES or examples,
        # The same programs on every run, so the gate is stable; KOPA_PROPERTY_RANDOM=1 explores.
        derandomize=os.environ.get("KOPA_PROPERTY_RANDOM") != "1",
        database=None,
        deadline=None,
        suppress_health_check=HealthCheck.all(),
    )


MINT_REFS = [ref(f"prop-mint-{i}") for i in range(6)]
REDEEM_REFS = [ref(f"prop-redeem-{i}") for i in range(5)]
BADGE_REFS = [ref(f"prop-badge-{i}") for i in range(6)]
ROOTS = [ref(f"prop-root-{i}") for i in range(4)] + ["0x" + "00" * 32]

# Account indexes (conftest.py): 0 admin, 1 minter (and anchorer), 2 burner, 3-8 holders,
# 9 outsider. Each call is sent by its role's first holder most of the time, so successful
# calls are common, and otherwise by anyone else (grants and revocations move roles around).
st_minter = st.sampled_from([1] * 5 + [0, 2, 3, 9])
st_burner = st.sampled_from([2] * 5 + [0, 1, 3, 9])
st_pauser = st.sampled_from([0] * 4 + [1, 9])
st_account = st.integers(min_value=0, max_value=9)
st_holder = st.integers(min_value=0, max_value=3)  # of six: the other two stay empty


def op(**arguments):
    """Marks a model method as an operation programs may contain, with its argument strategies."""

    def mark(fn):
        fn.op_arguments = arguments
        return fn

    return mark


def operations(model):
    return [(name, fn.op_arguments) for name, fn in vars(model).items() if hasattr(fn, "op_arguments")]


def check_properties(model, deploy, accounts, examples):
    """Run 20-30 step programs of `model`'s operations, each on a freshly deployed contract
    (~4x cheaper here than a chain snapshot and revert): invariants after every step,
    teardown checks per program. Returns how often each outcome occurred, so that the caller
    can assert the run reached every path that makes the properties mean something.

    Step i runs operation (drawn index + i) mod n, so even hypothesis's simplest program
    cycles through every operation instead of repeating the first one. (Not hypothesis's
    RuleBasedStateMachine: it ends most runs after a handful of steps; and brownie's
    `state_machine` wrapper of it fails with a TypeError in brownie 1.22.)"""
    ops = operations(model)
    outcomes = Counter()

    @hypothesis_settings(examples)
    @given(data=st.data())
    def run(data):
        machine = model(deploy, accounts, outcomes)
        machine.check_invariants()
        for step in range(data.draw(st.integers(min_value=20, max_value=30), label="steps")):
            name, strategies = ops[(data.draw(st.integers(0, len(ops) - 1)) + step) % len(ops)]
            getattr(machine, name)(**data.draw(st.fixed_dictionaries(strategies), label=name))
            machine.check_invariants()
        machine.teardown()

    run()
    return outcomes


def assert_reached(outcomes, required):
    """Every required outcome (or one of a tuple of alternatives) occurred: otherwise the
    properties held only because the programs never tried what they forbid."""
    print(dict(outcomes))
    if os.environ.get("KOPA_PROPERTY_RANDOM") == "1":
        return  # an exploratory run draws other programs: the paths are pinned for the default ones
    missing = [r for r in required if not any(outcomes[o] for o in ((r,) if isinstance(r, str) else r))]
    assert not missing, f"the programs never reached {missing}; outcomes: {dict(outcomes)}"


def read(*calls):
    """Many contract reads in one JSON-RPC batch (one round trip instead of one each)."""
    with web3.batch_requests() as batch:
        for call in calls:
            batch.add(call)
        return batch.execute()


class _Machine:
    """A model of one freshly deployed contract, including AccessControl (role -> addresses)."""

    def __init__(self, deploy, accounts, outcomes):
        self.accounts = list(accounts)
        self.admin = accounts[0]
        self.holders = list(accounts[3:9])
        self.outcomes = outcomes
        self.contract = deploy()
        self.reader = web3.eth.contract(address=self.contract.address, abi=self.contract.abi).functions
        self.start_block = web3.eth.block_number
        self.setup()

    def check_invariants(self):
        for name in dir(self):
            if name.startswith("invariant_"):
                getattr(self, name)()

    def teardown(self):
        """Checks that need the whole program's logs (none by default)."""

    def _send(self, error, fn, *args):
        """Send `fn(*args)`: it must revert with exactly `error`, or succeed when it is None.
        Counts each outcome (`function:ok` or `function:ErrorName`) for the run's final check."""
        self.outcomes[f"{fn.abi['name']}:{error.split(':')[0] if error else 'ok'}"] += 1
        if error is None:
            return fn(*args)
        with brownie.reverts(error):
            fn(*args)
        return None

    def _role_error(self, sender, role):
        if sender.address in self.roles[role]:
            return None
        return typed_error("AccessControlUnauthorizedAccount", sender, role)

    def _role_rule(self, role, account, grant):
        """The admin grants or revokes `role`; the model follows."""
        if grant:
            self.contract.grantRole(role, account, {"from": self.admin})
            self.roles[role].add(account.address)
        else:
            self.contract.revokeRole(role, account, {"from": self.admin})
            self.roles[role].discard(account.address)

    def _pause_rule(self, caller, pause):
        sender = self.accounts[caller]
        error = self._role_error(sender, PAUSER_ROLE)
        if error is None and pause and self.paused:
            error = typed_error("EnforcedPause")
        if error is None and not pause and not self.paused:
            error = typed_error("ExpectedPause")
        fn = self.contract.pause if pause else self.contract.unpause
        if self._send(error, fn, {"from": sender}) is not None:
            self.paused = pause


# --- KopaCredits ---------------------------------------------------------------------------


class CreditsMachine(_Machine):
    # The simplest amount is 1, not 0: the minimal program then mints and repeats a ref.
    st_amount = strategy("uint256", min_value=1, max_value=25) | st.just(0)
    st_small_amount = strategy("uint256", min_value=1, max_value=8) | st.just(0)
    st_mint_ref = st.integers(min_value=0, max_value=len(MINT_REFS) - 1)
    st_redeem_ref = st.integers(min_value=0, max_value=len(REDEEM_REFS) - 1)
    st_role = st.sampled_from([MINTER_ROLE, BURNER_ROLE, PAUSER_ROLE])
    st_mint_batch = st.lists(
        st.tuples(st_holder, strategy("uint256", max_value=25), st.integers(0, len(MINT_REFS) - 1)),
        min_size=1,
        max_size=6,
    )
    st_redeem_batch = st.lists(
        st.tuples(st_holder, strategy("uint256", max_value=8), st.integers(0, len(REDEEM_REFS) - 1)),
        min_size=1,
        max_size=5,
    )

    def setup(self):
        a = self.accounts
        self.roles = {
            DEFAULT_ADMIN_ROLE: {a[0].address},
            PAUSER_ROLE: {a[0].address},
            MINTER_ROLE: {a[1].address},
            BURNER_ROLE: {a[2].address},
        }
        self.paused = False
        self.balance = {h.address: 0 for h in self.holders}
        self.minted, self.redeemed = set(), set()

    def _supply_changes_only_by_role(self, tx, sender):
        """The property "only minters change supply", read off the transaction itself."""
        transfers = events(tx, "Transfer")
        if any(t["from"] == ZERO_ADDRESS for t in transfers):
            assert sender.address in self.roles[MINTER_ROLE] and not self.paused
        if any(t["to"] == ZERO_ADDRESS for t in transfers):
            assert sender.address in self.roles[BURNER_ROLE] and not self.paused
        assert all(ZERO_ADDRESS in (t["from"], t["to"]) for t in transfers)

    @op(caller=st_minter, holder=st_holder, amount=st_amount, r=st_mint_ref)
    def rule_mint(self, caller, holder, amount, r):
        sender, to, ref_ = self.accounts[caller], self.holders[holder], MINT_REFS[r]
        error = self._role_error(sender, MINTER_ROLE)
        if error is None:
            if ref_ in self.minted:
                error = typed_error("KopaCreditsAlreadyMinted", ref_)
            elif amount == 0:
                error = typed_error("KopaCreditsZeroAmount", ref_)
            elif self.paused:
                error = typed_error("EnforcedPause")
        tx = self._send(error, self.contract.mint, to, amount, ref_, {"from": sender})
        if tx is not None:
            self._supply_changes_only_by_role(tx, sender)
            self.minted.add(ref_)
            self.balance[to.address] += amount

    @op(caller=st_minter, batch=st_mint_batch)
    def rule_mint_batch(self, caller, batch):
        sender = self.accounts[caller]
        to = [self.holders[h] for h, _, _ in batch]
        amounts = [a for _, a, _ in batch]
        refs = [MINT_REFS[r] for _, _, r in batch]
        error = self._role_error(sender, MINTER_ROLE)
        minted, balance, expected = set(self.minted), dict(self.balance), []
        if error is None:
            for t, a, r in zip(to, amounts, refs, strict=True):
                if r in minted:
                    continue  # a known ref is skipped before anything else is looked at
                if a == 0:
                    error = typed_error("KopaCreditsZeroAmount", r)
                    break
                if self.paused:
                    error = typed_error("EnforcedPause")
                    break
                minted.add(r)
                balance[t.address] += a
                expected.append({"to": t.address, "amount": a, "ref": r})
        tx = self._send(error, self.contract.mintBatch, to, amounts, refs, {"from": sender})
        if tx is not None:
            self.outcomes["mintBatch:skipped a known ref"] += len(expected) < len(batch)
            assert tx.return_value == len(expected)
            assert events(tx, "RewardMinted") == expected
            self._supply_changes_only_by_role(tx, sender)
            self.minted, self.balance = minted, balance

    @op(caller=st_burner, holder=st_holder, amount=st_small_amount, r=st_redeem_ref)
    def rule_redeem(self, caller, holder, amount, r):
        sender, frm, ref_ = self.accounts[caller], self.holders[holder], REDEEM_REFS[r]
        error = self._role_error(sender, BURNER_ROLE)
        if error is None:
            if ref_ in self.redeemed:
                error = typed_error("KopaCreditsAlreadyRedeemed", ref_)
            elif amount == 0:
                error = typed_error("KopaCreditsZeroAmount", ref_)
            elif self.paused:
                error = typed_error("EnforcedPause")
            elif amount > self.balance[frm.address]:
                error = typed_error("ERC20InsufficientBalance", frm, self.balance[frm.address], amount)
        tx = self._send(error, self.contract.redeem, frm, amount, ref_, {"from": sender})
        if tx is not None:
            self._supply_changes_only_by_role(tx, sender)
            self.redeemed.add(ref_)
            self.balance[frm.address] -= amount

    @op(caller=st_burner, batch=st_redeem_batch)
    def rule_redeem_batch(self, caller, batch):
        sender = self.accounts[caller]
        frm = [self.holders[h] for h, _, _ in batch]
        amounts = [a for _, a, _ in batch]
        refs = [REDEEM_REFS[r] for _, _, r in batch]
        error = self._role_error(sender, BURNER_ROLE)
        redeemed, balance, expected = set(self.redeemed), dict(self.balance), []
        if error is None:
            for f, a, r in zip(frm, amounts, refs, strict=True):
                if r in redeemed:
                    continue
                if a == 0:
                    error = typed_error("KopaCreditsZeroAmount", r)
                elif self.paused:
                    error = typed_error("EnforcedPause")
                elif a > balance[f.address]:
                    error = typed_error("ERC20InsufficientBalance", f, balance[f.address], a)
                if error is not None:
                    break
                redeemed.add(r)
                balance[f.address] -= a
                expected.append({"from": f.address, "amount": a, "ref": r})
        tx = self._send(error, self.contract.redeemBatch, frm, amounts, refs, {"from": sender})
        if tx is not None:
            self.outcomes["redeemBatch:skipped a known ref"] += len(expected) < len(batch)
            assert tx.return_value == len(expected)
            assert events(tx, "CreditsRedeemed") == expected
            self._supply_changes_only_by_role(tx, sender)
            self.redeemed, self.balance = redeemed, balance

    @op(holder=st_holder, other=st_holder, amount=st_amount)
    def rule_transfer(self, holder, other, amount):
        frm, to = self.holders[holder], self.holders[other]
        error = typed_error("KopaCreditsTransferDisabled", frm, to)
        self._send(error, self.contract.transfer, to, amount, {"from": frm})

    @op(caller=st_pauser, toggle=st.sampled_from([True, True, True, False]))
    def rule_pause(self, caller, toggle):
        """Mostly the call that changes the state (pause when running, unpause when paused),
        sometimes the one that must be refused (EnforcedPause, ExpectedPause)."""
        self._pause_rule(caller, not self.paused if toggle else self.paused)

    @op(role=st_role, account=st_account, grant=st.booleans())
    def rule_role(self, role, account, grant):
        self._role_rule(role, self.accounts[account], grant)

    def invariant_supply_is_sum_of_balances(self):
        r = self.reader
        *balances, supply, paused = read(*(r.balanceOf(h.address) for h in self.holders),
                                         r.totalSupply(), r.paused())
        assert dict(zip(self.balance, balances, strict=True)) == self.balance
        assert supply == sum(balances)
        assert paused is self.paused

    def teardown(self):
        """No ref used twice: each appears in at most one event, and exactly the model's."""
        for event, model, query, pool in (
            ("RewardMinted", self.minted, self.contract.isMintedBatch, MINT_REFS),
            ("CreditsRedeemed", self.redeemed, self.contract.isRedeemedBatch, REDEEM_REFS),
        ):
            logs = self.contract.events.get_sequence(self.start_block, event_type=event)
            per_ref = Counter("0x" + log.args.ref.hex() for log in logs)
            assert set(per_ref) == model
            assert all(n == 1 for n in per_ref.values())
            assert list(query(pool)) == [r in model for r in pool]


def test_credits_properties(KopaCredits, accounts):
    def deploy():
        admin, minter, burner = accounts[:3]
        token = KopaCredits.deploy(admin, {"from": admin})
        token.grantRole(MINTER_ROLE, minter, {"from": admin})
        token.grantRole(BURNER_ROLE, burner, {"from": admin})
        return token

    assert_reached(check_properties(CreditsMachine, deploy, accounts, examples=8), [
        "mint:ok", "mintBatch:ok", "redeem:ok", "redeemBatch:ok",
        "mint:KopaCreditsAlreadyMinted", "mintBatch:skipped a known ref", "redeem:KopaCreditsAlreadyRedeemed",
        ("mint:KopaCreditsZeroAmount", "mintBatch:KopaCreditsZeroAmount"),
        ("redeem:ERC20InsufficientBalance", "redeemBatch:ERC20InsufficientBalance"),
        "mint:AccessControlUnauthorizedAccount", "redeem:AccessControlUnauthorizedAccount",
        ("mint:EnforcedPause", "mintBatch:EnforcedPause"),
        ("redeem:EnforcedPause", "redeemBatch:EnforcedPause"),
        "pause:ok", "unpause:ok", "transfer:KopaCreditsTransferDisabled",
    ])


# --- KopaBadges ----------------------------------------------------------------------------

BADGE_IDS = [1, 2]  # few, so that members often already hold the badge a new ref is for


class BadgesMachine(_Machine):
    st_id = st.sampled_from(BADGE_IDS)
    st_ref = st.integers(min_value=0, max_value=len(BADGE_REFS) - 1)
    st_role = st.sampled_from([MINTER_ROLE, PAUSER_ROLE])
    st_batch = st.lists(
        st.tuples(st_holder, st.sampled_from(BADGE_IDS), st.integers(0, len(BADGE_REFS) - 1)),
        min_size=1,
        max_size=6,
    )

    def setup(self):
        a = self.accounts
        self.roles = {
            DEFAULT_ADMIN_ROLE: {a[0].address},
            PAUSER_ROLE: {a[0].address},
            MINTER_ROLE: {a[1].address},
        }
        self.paused = False
        self.held = set()  # (address, id)
        self.minted = set()

    def _only_minters_mint(self, tx, sender):
        if "TransferSingle" in tx.events:
            assert sender.address in self.roles[MINTER_ROLE] and not self.paused
            assert all(e["from"] == ZERO_ADDRESS for e in events(tx, "TransferSingle"))

    @op(caller=st_minter, holder=st_holder, badge=st_id, r=st_ref)
    def rule_mint(self, caller, holder, badge, r):
        sender, to, ref_ = self.accounts[caller], self.holders[holder], BADGE_REFS[r]
        error = self._role_error(sender, MINTER_ROLE)
        if error is None:
            if ref_ in self.minted:
                error = typed_error("KopaBadgesAlreadyMinted", ref_)
            elif (to.address, badge) in self.held:
                error = typed_error("KopaBadgesAlreadyHeld", to, badge)
            elif self.paused:
                error = typed_error("EnforcedPause")
        tx = self._send(error, self.contract.mintBadge, to, badge, ref_, {"from": sender})
        if tx is not None:
            self._only_minters_mint(tx, sender)
            self.minted.add(ref_)
            self.held.add((to.address, badge))

    @op(caller=st_minter, batch=st_batch)
    def rule_mint_batch(self, caller, batch):
        sender = self.accounts[caller]
        to = [self.holders[h] for h, _, _ in batch]
        ids = [i for _, i, _ in batch]
        refs = [BADGE_REFS[r] for _, _, r in batch]
        error = self._role_error(sender, MINTER_ROLE)
        minted, held, expected = set(self.minted), set(self.held), []
        if error is None:
            for t, i, r in zip(to, ids, refs, strict=True):
                if r in minted or (t.address, i) in held:
                    continue
                if self.paused:
                    error = typed_error("EnforcedPause")
                    break
                minted.add(r)
                held.add((t.address, i))
                expected.append({"to": t.address, "id": i, "ref": r})
        tx = self._send(error, self.contract.mintBadgeBatch, to, ids, refs, {"from": sender})
        if tx is not None:
            self.outcomes["mintBadgeBatch:skipped"] += len(expected) < len(batch)
            assert tx.return_value == len(expected)
            assert events(tx, "BadgeMinted") == expected
            self._only_minters_mint(tx, sender)
            self.minted, self.held = minted, held

    @op(holder=st_holder, other=st_holder, badge=st_id)
    def rule_transfer(self, holder, other, badge):
        frm, to = self.holders[holder], self.holders[other]
        error = typed_error("KopaBadgesTransferDisabled", frm, to)
        self._send(error, self.contract.safeTransferFrom, frm, to, badge, 1, b"", {"from": frm})

    @op(caller=st_pauser, toggle=st.sampled_from([True, True, True, False]))
    def rule_pause(self, caller, toggle):
        """Mostly the call that changes the state (pause when running, unpause when paused),
        sometimes the one that must be refused (EnforcedPause, ExpectedPause)."""
        self._pause_rule(caller, not self.paused if toggle else self.paused)

    @op(role=st_role, account=st_account, grant=st.booleans())
    def rule_role(self, role, account, grant):
        self._role_rule(role, self.accounts[account], grant)

    def invariant_balances_match_mints(self):
        owners = [h for h in self.holders for _ in BADGE_IDS]
        ids = BADGE_IDS * len(self.holders)
        on_chain, paused = read(self.reader.balanceOfBatch([o.address for o in owners], ids),
                                self.reader.paused())
        assert on_chain == [int((o.address, i) in self.held) for o, i in zip(owners, ids, strict=True)]
        assert sum(on_chain) == len(self.minted)
        assert paused is self.paused

    def teardown(self):
        logs = self.contract.events.get_sequence(self.start_block, event_type="BadgeMinted")
        per_ref = Counter("0x" + log.args.ref.hex() for log in logs)
        assert set(per_ref) == self.minted
        assert all(n == 1 for n in per_ref.values())
        per_badge = Counter((log.args.to, log.args.id) for log in logs)
        assert set(per_badge) == self.held and all(n == 1 for n in per_badge.values())
        assert list(self.contract.isMintedBatch(BADGE_REFS)) == [r in self.minted for r in BADGE_REFS]


def test_badges_properties(KopaBadges, accounts):
    def deploy():
        return KopaBadges.deploy(accounts[0], accounts[1], BADGES_URI, {"from": accounts[0]})

    assert_reached(check_properties(BadgesMachine, deploy, accounts, examples=6), [
        "mintBadge:ok", "mintBadgeBatch:ok", "mintBadgeBatch:skipped",
        "mintBadge:KopaBadgesAlreadyMinted", "mintBadge:KopaBadgesAlreadyHeld",
        "mintBadge:AccessControlUnauthorizedAccount",
        ("mintBadge:EnforcedPause", "mintBadgeBatch:EnforcedPause"),
        "safeTransferFrom:KopaBadgesTransferDisabled",
    ])


# --- KopaLedgerAnchor ----------------------------------------------------------------------


class AnchorMachine(_Machine):
    st_epoch = st.integers(min_value=0, max_value=5)
    st_root = st.integers(min_value=0, max_value=len(ROOTS) - 1)
    st_count = st.integers(min_value=1, max_value=3) | st.just(0)
    st_batch = st.lists(st.tuples(st_epoch, st_root, st_count), min_size=1, max_size=4)

    def setup(self):
        self.roles = {ANCHOR_ROLE: {self.accounts[1].address}, DEFAULT_ADMIN_ROLE: {self.admin.address}}
        self.roots = {}

    def _write_error(self, epoch, root, count):
        if root == ROOTS[-1]:
            return typed_error("KopaLedgerAnchorZeroRoot", epoch)
        if count == 0:
            return typed_error("KopaLedgerAnchorEmptyEpoch", epoch)
        return None

    @op(caller=st_minter, epoch=st_epoch, root=st_root, count=st_count)
    def rule_anchor(self, caller, epoch, root, count):
        sender, root_ = self.accounts[caller], ROOTS[root]
        error = self._role_error(sender, ANCHOR_ROLE)
        if error is None and epoch in self.roots:
            error = typed_error("KopaLedgerAnchorAlreadyAnchored", epoch, self.roots[epoch][0])
        error = error or self._write_error(epoch, root_, count)
        if self._send(error, self.contract.anchor, epoch, root_, count, {"from": sender}) is not None:
            self.roots[epoch] = (root_, count)

    @op(caller=st_minter, batch=st_batch)
    def rule_anchor_batch(self, caller, batch):
        sender = self.accounts[caller]
        epochs = [e for e, _, _ in batch]
        roots = [ROOTS[r] for _, r, _ in batch]
        counts = [c for _, _, c in batch]
        error = self._role_error(sender, ANCHOR_ROLE)
        written = dict(self.roots)
        if error is None:
            for e, r, c in zip(epochs, roots, counts, strict=True):
                if e in written:
                    continue
                error = self._write_error(e, r, c)
                if error is not None:
                    break
                written[e] = (r, c)
        tx = self._send(error, self.contract.anchorBatch, epochs, roots, counts, {"from": sender})
        if tx is not None:
            self.outcomes["anchorBatch:skipped"] += len(written) - len(self.roots) < len(batch)
            assert tx.return_value == len(written) - len(self.roots)
            self.roots = written

    @op(account=st_account, grant=st.booleans())
    def rule_role(self, account, grant):
        self._role_rule(ANCHOR_ROLE, self.accounts[account], grant)

    def invariant_roots_written_once(self):
        epochs = range(6)
        r = self.reader
        anchored, *stored = read(r.isAnchoredBatch(list(epochs)),
                                 *(call(e) for e in epochs for call in (r.rootOf, r.entryCountOf)))
        assert anchored == [e in self.roots for e in epochs]
        expected = {e: (bytes.fromhex(root[2:]), count) for e, (root, count) in self.roots.items()}
        assert [(stored[2 * e], stored[2 * e + 1]) for e in epochs] == [
            expected.get(e, (bytes(32), 0)) for e in epochs
        ]


def test_anchor_properties(KopaLedgerAnchor, accounts):
    def deploy():
        return KopaLedgerAnchor.deploy(accounts[0], accounts[1], {"from": accounts[0]})

    assert_reached(check_properties(AnchorMachine, deploy, accounts, examples=5), [
        "anchor:ok", "anchorBatch:ok", "anchorBatch:skipped", "anchor:KopaLedgerAnchorAlreadyAnchored",
        ("anchor:AccessControlUnauthorizedAccount", "anchorBatch:AccessControlUnauthorizedAccount"),
        ("anchor:KopaLedgerAnchorZeroRoot", "anchorBatch:KopaLedgerAnchorZeroRoot"),
        ("anchor:KopaLedgerAnchorEmptyEpoch", "anchorBatch:KopaLedgerAnchorEmptyEpoch"),
    ])
