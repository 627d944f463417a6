"""The loyalty catalogue and redemption (issue #4).

A redemption is one write transaction: the item row is locked (PostgreSQL ``FOR UPDATE``;
SQLite writes are serialised by ``BEGIN IMMEDIATE``), then the validity window, the stock,
the member's limit and their credits are checked and the spend, the redemption and the new
stock are written together. Stock therefore never goes below zero and a member never spends
more than their confirmed on-chain credits minus what is already on its way out. The spend is
a ledger entry whose burn the relay delivers (``KopaCredits.redeemBatch``); a cancellation
refunds with a mint of its own ref, never by undoing the burn.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from community.db import UnitOfWork, as_utc, is_row_id, utcnow
from community.errors import Conflict, Forbidden, InvalidInput, NotFound
from community.i18n import N_
from community.models import User
from community.notifications import notify
from community.validation import web_url, when
from rewards.ledger import refund_credits, spend_credits
from rewards.loyalty import discounted_price, member_tier
from rewards.models import CatalogueItem, Redemption, RedemptionState

MAX_PRICE = 1_000_000
MAX_STOCK = 1_000_000


class OutOfStock(Conflict):
    code = "out_of_stock"


class LimitReached(Conflict):
    code = "limit_reached"


class NotAvailable(Conflict):
    """Outside the item's validity window, or withdrawn from the catalogue."""

    code = "not_available"


class WrongState(Conflict):
    code = "wrong_state"


def _user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id) if is_row_id(user_id) else None
    if user is None or not user.active:
        raise Forbidden("unknown or inactive account")
    return user


def _require_staff(session: Session, actor_id: int) -> User:
    actor = _user(session, actor_id)
    if not actor.is_staff:
        raise Forbidden("only staff maintain the catalogue and its redemptions")
    return actor


def _optional_whole(value: object, field: str, low: int, high: int) -> int | None:
    if value is None or value == "":
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise InvalidInput(N_("%(field)s must be empty or a whole number from %(low)s to %(high)s",
                              field=field, low=low, high=high))
    return value


def save_item(
    uow: UnitOfWork,
    *,
    actor_id: int,
    name: object,
    price: object,
    description: object = "",
    stock: object = None,
    per_member_limit: object = None,
    valid_from: object = None,
    valid_until: object = None,
    image_url: object = None,
    active: object = True,
    item_id: object = None,
) -> int:
    """Create an item or change one (``item_id``). Redemptions already made keep the price
    they were charged; ``stock`` is what is left (empty = unlimited)."""
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > 120:
        raise InvalidInput("name must be 1 to 120 characters")
    description = "" if description is None else description
    if not isinstance(description, str) or len(description) > 5000:
        raise InvalidInput("description must be text of at most 5000 characters")
    if not isinstance(price, int) or isinstance(price, bool) or not 1 <= price <= MAX_PRICE:
        raise InvalidInput(N_("price must be a whole number of credits from 1 to %(max_price)s",
                              max_price=MAX_PRICE))
    stock = _optional_whole(stock, "stock", 0, MAX_STOCK)
    limit = _optional_whole(per_member_limit, "per_member_limit", 1, 1000)
    start, end = when(valid_from, "valid_from"), when(valid_until, "valid_until")
    if start and end and end <= start:
        raise InvalidInput("valid_until must be later than valid_from")
    if not isinstance(active, bool):
        raise InvalidInput("active must be true or false")
    image = web_url(image_url, "image_url")
    with uow:
        session = uow.session
        _require_staff(session, actor_id)
        if item_id is None:
            item = CatalogueItem()
            session.add(item)
        else:
            item = _locked_item(session, item_id)
        item.name, item.description, item.price = name.strip(), description.strip(), price
        item.stock, item.per_member_limit, item.valid_from, item.valid_until = stock, limit, start, end
        item.image_url, item.active = image, active
        session.flush()
        uow.commit()
        return item.id


def _locked_item(session: Session, item_id: object) -> CatalogueItem:
    if not is_row_id(item_id):
        raise NotFound("item not found")
    item = session.scalars(
        select(CatalogueItem)
        .where(CatalogueItem.id == item_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    if item is None:
        raise NotFound(N_("item %(item_id)s not found", item_id=item_id))
    return item


def _locked_redemption(session: Session, redemption_id: object) -> Redemption:
    if not is_row_id(redemption_id):
        raise NotFound("redemption not found")
    redemption = session.scalars(
        select(Redemption)
        .where(Redemption.id == redemption_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    if redemption is None:
        raise NotFound(N_("redemption %(redemption_id)s not found", redemption_id=redemption_id))
    return redemption


def is_available(item: CatalogueItem, now: dt.datetime | None = None) -> bool:
    now = now or utcnow()
    start, end = as_utc(item.valid_from), as_utc(item.valid_until)
    return item.active and (start is None or start <= now) and (end is None or now < end)


def held_count(session: Session, member_id: int, item_id: int) -> int:
    """Redemptions that count against the member's limit: all but cancelled ones."""
    return int(
        session.scalar(
            select(func.count()).where(
                Redemption.member_id == member_id,
                Redemption.item_id == item_id,
                Redemption.state != RedemptionState.CANCELLED.value,
            )
        )
        or 0
    )


def redeem_item(uow: UnitOfWork, *, member_id: int, item_id: object) -> Redemption:
    """Order an item: lock it, check window, stock, limit and credits, spend, take one off."""
    with uow:
        session = uow.session
        _user(session, member_id)
        item = _locked_item(session, item_id)
        if not is_available(item):
            raise NotAvailable(N_("%(name)s cannot be redeemed now", name=item.name))
        if item.stock is not None and item.stock <= 0:
            raise OutOfStock(N_("%(name)s is out of stock", name=item.name))
        limit = item.per_member_limit
        if limit is not None and held_count(session, member_id, item.id) >= limit:
            raise LimitReached(N_("you have redeemed %(name)s %(limit)s times, the most allowed",
                                  name=item.name, limit=limit))
        tier = member_tier(session, member_id)
        price = discounted_price(item.price, tier)
        redemption = Redemption(
            item=item,
            member_id=member_id,
            state=RedemptionState.REQUESTED.value,
            list_price=item.price,
            discount_percent=tier.discount_percent if tier else 0,
            price=price,
        )
        session.add(redemption)
        session.flush()
        if price > 0:
            entry = spend_credits(
                session, member_id=member_id, amount=price, cause="redemption",
                source_key=f"redemption:{redemption.id}",
            )
            redemption.spend_entry_id = entry.id
        if item.stock is not None:
            item.stock -= 1
        # No LedgerChanged: spending moves no board or tier, so nothing needs recomputing.
        uow.commit()
        return redemption


def fulfil_redemption(
    uow: UnitOfWork, *, actor_id: int, redemption_id: object, note: object = None
) -> Redemption:
    """Staff handed the item over: requested → fulfilled."""
    with uow:
        session = uow.session
        _require_staff(session, actor_id)
        redemption = _locked_redemption(session, redemption_id)
        if redemption.state != RedemptionState.REQUESTED:
            raise WrongState(N_("redemption %(redemption)s is %(state)s, not requested",
                                redemption=redemption.id, state=redemption.state))
        _decide(redemption, actor_id, RedemptionState.FULFILLED, note)
        notify(
            session,
            redemption.member_id,
            "redemption_fulfilled",
            N_("Your redemption of %(item)s is fulfilled: it has been handed over to you. Note: %(note)s",
               item=redemption.item.name, note=redemption.note) if redemption.note
            else N_("Your redemption of %(item)s is fulfilled: it has been handed over to you.",
                    item=redemption.item.name),
            "/wallet",
        )
        uow.commit()
        return redemption


def cancel_redemption(
    uow: UnitOfWork, *, actor_id: int, redemption_id: object, note: object = None
) -> Redemption:
    """Staff (or the member, before it is fulfilled) cancel: the stock comes back and the
    credits are refunded by a mint with its own ref."""
    with uow:
        session = uow.session
        actor = _user(session, actor_id)
        redemption = _locked_redemption(session, redemption_id)
        if not actor.is_staff and redemption.member_id != actor.id:
            raise Forbidden("you can only cancel your own redemptions")
        if redemption.state != RedemptionState.REQUESTED:
            raise WrongState(N_("redemption %(redemption)s is %(state)s, not requested",
                                redemption=redemption.id, state=redemption.state))
        _cancel(session, redemption, actor_id, note)
        uow.commit()
        return redemption


def _cancel(session: Session, redemption: Redemption, actor_id: int, note: object) -> None:
    item = _locked_item(session, redemption.item_id)
    if item.stock is not None:
        item.stock += 1
    if redemption.price > 0:
        refund = refund_credits(
            session, member_id=redemption.member_id, amount=redemption.price, cause="redemption refund",
            source_key=f"redemption:{redemption.id}:refund",
        )
        redemption.refund_entry_id = refund.id
    _decide(redemption, actor_id, RedemptionState.CANCELLED, note)


def cancel_open_redemptions(session: Session, *, member_id: int, actor_id: int, note: str) -> list[int]:
    """Account erasure (community.privacy): the member's requested redemptions are cancelled
    and refunded in the caller's transaction, as a cancellation by staff would be."""
    open_ = session.scalars(
        select(Redemption)
        .where(Redemption.member_id == member_id, Redemption.state == RedemptionState.REQUESTED.value)
        .order_by(Redemption.id)
        .with_for_update()
    ).all()
    for redemption in open_:
        _cancel(session, redemption, actor_id, note)
    return [r.id for r in open_]


def _decide(redemption: Redemption, actor_id: int, state: RedemptionState, note: object) -> None:
    if note is not None and not isinstance(note, str):
        raise InvalidInput("note must be text")
    redemption.state = state.value
    redemption.decided_by_id = actor_id
    redemption.decided_at = utcnow()
    redemption.note = (note or "").strip()[:2000] or None


# --- reading ---------------------------------------------------------------------------


def catalogue(session: Session, *, include_inactive: bool = False) -> list[CatalogueItem]:
    query = select(CatalogueItem).order_by(CatalogueItem.price, CatalogueItem.id)
    if not include_inactive:
        query = query.where(CatalogueItem.active.is_(True))
    return list(session.scalars(query))


def redemptions_of(session: Session, member_id: int) -> list[Redemption]:
    return list(
        session.scalars(
            select(Redemption).where(Redemption.member_id == member_id).order_by(Redemption.id.desc())
        )
    )


def redemption_queue(session: Session, *, state: str = RedemptionState.REQUESTED.value) -> list[Redemption]:
    return list(session.scalars(select(Redemption).where(Redemption.state == state).order_by(Redemption.id)))
