"""What a booking costs in credits (hours at the resource's price, peak minutes at the peak
price, less the member's loyalty discount) and whether the member can cover a hold of it."""

from __future__ import annotations

import datetime as dt
import math

from sqlalchemy.orm import Session

from booking.loading import get_resource
from booking.models import Resource
from booking.policy import DEFAULT_POLICY, BookingPolicy
from booking.timeutil import parse_instant
from community.i18n import N_
from rewards import loyalty
from rewards.errors import InsufficientCredits
from rewards.ledger import lock_wallet, spendable_credits


def member_discount(session: Session, member_id: int) -> int:
    tier = loyalty.member_tier(session, member_id)
    return min(max(tier.discount_percent, 0), 100) if tier is not None else 0


def price(
    resource: Resource, start: dt.datetime, end: dt.datetime, policy: BookingPolicy, discount_percent: int = 0
) -> int:
    """Credits for the slot: hours × price, peak minutes at the peak price, rounded up after
    the loyalty discount."""
    total = int((end - start) / dt.timedelta(minutes=1))
    peak = 0
    if resource.peak_price_per_hour is not None and resource.peak_from and resource.peak_until:
        s = start.astimezone(policy.tz)
        s_min = s.hour * 60 + s.minute
        p_from = resource.peak_from.hour * 60 + resource.peak_from.minute
        p_until = resource.peak_until.hour * 60 + resource.peak_until.minute
        peak = max(0, min(s_min + total, p_until) - max(s_min, p_from))
    rate_minutes = (total - peak) * resource.price_per_hour + peak * (resource.peak_price_per_hour or 0)
    return math.ceil(rate_minutes * (100 - discount_percent) / 6000)


def quote(
    session: Session,
    *,
    member_id: int,
    resource_id: object,
    start: object,
    end: object,
    policy: BookingPolicy = DEFAULT_POLICY,
) -> int:
    resource = get_resource(session, resource_id)
    return price(
        resource,
        parse_instant(start, "start"),
        parse_instant(end, "end"),
        policy,
        member_discount(session, member_id),
    )


def ensure_affordable(session: Session, member_id: int, credits: int) -> None:
    """A hold (approval pending) must be coverable by confirmed credits minus other promises."""
    lock_wallet(session, member_id)
    available = spendable_credits(session, member_id)
    if credits > available:
        raise InsufficientCredits(
            N_(
                "this costs %(credits)s credits but you have %(available)s available (confirmed on chain, "
                "minus spends and holds still pending)",
                credits=credits, available=max(available, 0),
            )
        )
