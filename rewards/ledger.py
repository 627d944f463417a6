"""Writing to the points ledger: one entry and its mint request, in the caller's transaction."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from community.errors import InvalidInput
from community.i18n import N_
from community.registry import Registry
from rewards.errors import InsufficientCredits
from rewards.models import LedgerEntry, OutboxItem, OutboxKind, OutboxStatus, Setting, Wallet

# The spine's only scoring rule: a task's points value, awarded on approval.
TASK_POINTS_RULE = ("task-points", 1)
# Spending and refunding credits moves the balance, not a member's standing: entries in
# this dimension count for balances and reconciliation but never for boards or tiers.
SPENDING = "credits"
SPEND_RULE = ("credit-spend", 1)
REFUND_RULE = ("credit-refund", 1)

# Credits promised but not yet written to the ledger (a booking awaiting approval holds its
# price). Features register a function (session, member_id) -> credits held (web.bootstrap).
HoldSource = Callable[[Session, int], int]
hold_sources: Registry[HoldSource] = Registry("credit holds")


def instance_id(session: Session) -> str:
    """A random id fixed when the database is first used; it salts every chain ref so that
    two Kopa databases (or a database re-created against an old chain) never share refs."""
    setting = session.get(Setting, "instance_id")
    if setting is None:
        setting = Setting(key="instance_id", value=uuid.uuid4().hex)
        session.add(setting)
        session.flush()
    return setting.value


def ledger_tag(instance: str) -> bytes:
    """The 24 bytes above every dense ref of this installation: refs of two Kopa databases
    (or of a database re-created against an old chain) never meet."""
    return hashlib.sha256(f"kopa/ledger/{instance}".encode()).digest()[:24]


def entry_ref(instance: str, entry_id: int) -> str:
    """bytes32 ref of a ledger entry: ``ledger_tag(instance) ‖ uint64(entry id)``.

    Dense on purpose: consecutive entries are consecutive refs, so KopaCredits' bitmap guard
    stores 256 of them in one slot (~22k gas less per reward than a scattered ref), and the
    low 64 bits lead an auditor straight back to the entry."""
    if not 0 < entry_id < 2**64:
        raise ValueError(f"ledger entry id {entry_id} does not fit a ref")
    return "0x" + ledger_tag(instance).hex() + f"{entry_id:016x}"


def entry_id_of_ref(instance: str, ref: str) -> int | None:
    """The ledger entry id inside a dense ref of this installation; None for another
    installation's refs and for the hashed refs of entries written before dense refs."""
    raw = ref.lower().removeprefix("0x")
    if len(raw) != 64 or raw[:48] != ledger_tag(instance).hex():
        return None
    return int(raw[48:], 16) or None


def hashed_ref(instance: str, source_key: str) -> str:
    """bytes32 SHA-256 over the instance id and a cause: badge refs (KopaBadges keeps a
    mapping guard, so density buys nothing there), and the refs of ledger entries written
    before dense refs, which stay valid on chain."""
    digest = hashlib.sha256(f"kopa/{instance}/{source_key}".encode()).hexdigest()
    return "0x" + digest


def next_entry_id(session: Session) -> int:
    """The id the next ledger entry gets, taken before its INSERT because the row (and so its
    ref) is never updated afterwards. PostgreSQL: ``nextval`` of the id's own sequence, which
    no two transactions ever share (a rolled-back entry leaves a gap: an unused bit on chain).
    SQLite: max + 1 inside the write transaction, which ``BEGIN IMMEDIATE`` makes the only
    writer. Either way the primary key and the unique ref refuse a duplicate."""
    if session.get_bind().dialect.name == "postgresql":
        return int(session.scalar(text(f"SELECT nextval({_PG_ID_SEQUENCE})")))
    highest = int(session.scalar(select(func.coalesce(func.max(LedgerEntry.id), 0))) or 0)
    floor = session.get(Setting, LEDGER_ID_FLOOR)
    return max(highest, int(floor.value) if floor is not None else 0) + 1


_PG_ID_SEQUENCE = "pg_get_serial_sequence('ledger_entries', 'id')"
LEDGER_ID_FLOOR = "ledger_id_floor"  # SQLite: entries get ids above it (see skip_entry_ids)


def skip_entry_ids(session: Session, past: int) -> int:
    """After restoring a backup older than the chain: later entries get ids, so refs, above
    ``past`` (the highest entry id the chain has used), never one the chain has seen. Never
    moves ids backwards. Returns the id the next entry will get."""
    if not isinstance(past, int) or not 0 <= past < 2**63:  # an operator's command, not a form
        raise ValueError(f"the id to skip past must be a whole number from 0 to 2^63 - 1, not {past!r}")
    if session.get_bind().dialect.name == "postgresql":
        current = int(session.scalar(text(f"SELECT nextval({_PG_ID_SEQUENCE})")))
        session.execute(text(f"SELECT setval({_PG_ID_SEQUENCE}, :value)"), {"value": max(current, past)})
        return max(current, past) + 1
    floor = session.get(Setting, LEDGER_ID_FLOOR)
    if floor is None:
        floor = Setting(key=LEDGER_ID_FLOOR, value="0")
        session.add(floor)
    floor.value = str(max(int(floor.value), past))
    session.flush()
    return next_entry_id(session)


def record_entry(
    session: Session,
    *,
    member_id: int,
    points: int,
    cause: str,
    source_key: str,
    rule: tuple[str, int],
    contribution_id: int | None = None,
    validator_id: int | None = None,
    dimension: str = "participation",
) -> LedgerEntry:
    """Append an entry and the outbox row that carries it to the chain: a mint for a
    positive amount, a burn for a negative one (revocation, spend)."""
    entry_id = next_entry_id(session)
    ref = entry_ref(instance_id(session), entry_id)
    entry = LedgerEntry(
        id=entry_id,
        member_id=member_id,
        points=points,
        dimension=dimension,
        cause=cause,
        source_key=source_key,
        contribution_id=contribution_id,
        validator_id=validator_id,
        rule_id=rule[0],
        rule_version=rule[1],
        ref=ref,
    )
    session.add(entry)
    session.flush()
    wallet = session.scalars(select(Wallet).where(Wallet.user_id == member_id)).one()
    session.add(
        OutboxItem(
            kind=(OutboxKind.MINT if points > 0 else OutboxKind.BURN).value,
            ledger_entry_id=entry.id,
            to_address=wallet.address,
            amount=abs(points),
            ref=ref,
            status=OutboxStatus.PENDING.value,
        )
    )
    return entry


def points_total(session: Session, member_id: int) -> int:
    """Points earned (revocations included), which boards and tiers count; spends excluded."""
    total = session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.points), 0)).where(
            LedgerEntry.member_id == member_id, LedgerEntry.dimension != SPENDING
        )
    )
    return int(total or 0)


def credits_total(session: Session, member_id: int) -> int:
    """Every entry of the member: what their on-chain balance must equal once delivered."""
    total = session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.points), 0)).where(LedgerEntry.member_id == member_id)
    )
    return int(total or 0)


def _outbox_sum(session: Session, member_id: int, kind: OutboxKind, *, done: bool | None) -> int:
    query = (
        select(func.coalesce(func.sum(OutboxItem.amount), 0))
        .join(LedgerEntry, OutboxItem.ledger_entry_id == LedgerEntry.id)
        .where(LedgerEntry.member_id == member_id, OutboxItem.kind == kind.value)
    )
    if done is True:
        query = query.where(OutboxItem.status == OutboxStatus.DONE.value)
    elif done is False:
        query = query.where(OutboxItem.status != OutboxStatus.DONE.value)
    return int(session.scalar(query) or 0)


def pending_points(session: Session, member_id: int) -> int:
    """Credits awarded but not yet confirmed on chain."""
    return _outbox_sum(session, member_id, OutboxKind.MINT, done=False)


def pending_burns(session: Session, member_id: int) -> int:
    """Credits spent or revoked whose burn is not yet confirmed on chain."""
    return _outbox_sum(session, member_id, OutboxKind.BURN, done=False)


def confirmed_credits(session: Session, member_id: int) -> int:
    """Delivered mints minus delivered burns: what ``balanceOf`` shows for the member."""
    return _outbox_sum(session, member_id, OutboxKind.MINT, done=True) - _outbox_sum(
        session, member_id, OutboxKind.BURN, done=True
    )


def wallet_summary(session: Session, member_id: int) -> dict[str, int]:
    """The wallet's figures as the member sees them, for the page and for live pushes: the
    same sums as ``confirmed_credits``, ``pending_points``, ``pending_burns`` and
    ``spendable_credits``, from one grouped query over the member's outbox rows."""
    delivered = (OutboxItem.status == OutboxStatus.DONE.value).label("delivered")
    sums = {
        (kind, bool(done)): int(total or 0)
        for kind, done, total in session.execute(
            select(OutboxItem.kind, delivered, func.sum(OutboxItem.amount))
            .join(LedgerEntry, OutboxItem.ledger_entry_id == LedgerEntry.id)
            .where(LedgerEntry.member_id == member_id)
            .group_by(OutboxItem.kind, delivered)
        )
    }
    mint, burn = OutboxKind.MINT.value, OutboxKind.BURN.value
    minted, burned = sums.get((mint, True), 0), sums.get((burn, True), 0)
    burning = sums.get((burn, False), 0)
    return {
        "on_chain": minted - burned,
        "pending_mint": sums.get((mint, False), 0),
        "pending_burn": burning,
        "spendable": minted - burned - burning - held_credits(session, member_id),
        "points": points_total(session, member_id),
    }


def held_credits(session: Session, member_id: int) -> int:
    return sum(source(session, member_id) for source in hold_sources)


def spendable_credits(session: Session, member_id: int) -> int:
    """Confirmed on-chain credits (delivered mints minus delivered burns, which is what
    ``balanceOf`` shows) minus burns still on their way and credits held by features."""
    confirmed_in = _outbox_sum(session, member_id, OutboxKind.MINT, done=True)
    all_burns = _outbox_sum(session, member_id, OutboxKind.BURN, done=None)
    return confirmed_in - all_burns - held_credits(session, member_id)


def lock_wallet(session: Session, member_id: int) -> Wallet:
    """Serialise spends of one member (PostgreSQL row lock; SQLite writes are already
    serialised by BEGIN IMMEDIATE)."""
    wallet = session.scalars(
        select(Wallet).where(Wallet.user_id == member_id).with_for_update()
    ).one_or_none()
    if wallet is None:
        raise InvalidInput(N_("member %(member_id)s has no wallet", member_id=member_id))
    return wallet


def spend_credits(
    session: Session, *, member_id: int, amount: int, cause: str, source_key: str,
    extra_held: int = 0,
) -> LedgerEntry:
    """Write a spend (negative entry in the SPENDING dimension → burn) if the member can
    afford it. Call inside the caller's write transaction; ``extra_held`` is for a caller
    whose own hold on these credits is about to be replaced by this spend (pass it as a
    negative number to release it)."""
    if not isinstance(amount, int) or amount <= 0:
        raise InvalidInput("a spend must be a positive whole number of credits")
    lock_wallet(session, member_id)
    available = spendable_credits(session, member_id) - extra_held
    if amount > available:
        raise InsufficientCredits(
            N_(
                "this costs %(amount)s credits but you have %(available)s available (confirmed on chain, "
                "minus spends and holds still pending)",
                amount=amount, available=max(available, 0),
            )
        )
    return record_entry(
        session, member_id=member_id, points=-amount, cause=cause, source_key=source_key,
        rule=SPEND_RULE, dimension=SPENDING,
    )


def refund_credits(
    session: Session, *, member_id: int, amount: int, cause: str, source_key: str
) -> LedgerEntry:
    """Give spent credits back: a mint with its own ref, never an undone burn."""
    if not isinstance(amount, int) or amount <= 0:
        raise InvalidInput("a refund must be a positive whole number of credits")
    return record_entry(
        session, member_id=member_id, points=amount, cause=cause, source_key=source_key,
        rule=REFUND_RULE, dimension=SPENDING,
    )
