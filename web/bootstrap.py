"""The composition root (cosmicpython's ``bootstrap``): the one place that knows every
package. It wires the message bus's handlers and fills the kernel's registries; every entry
point builds its database through ``database()`` here (the web app, and through it the CLI
and the relay; scripts and tests too), so nobody has to remember to dispatch an event.

Flask-free on purpose: scripts and tests use it without an app.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from booking import privacy as booking_privacy
from booking.demo import seed_booking
from booking.kpis import SPACES
from booking.models import held_by_bookings
from community import contributions, demo, kpis, privacy
from community.bus import MessageBus
from community.community_demo import seed_community
from community.db import Database
from community.events import (
    ContributionApproved,
    ContributionRevoked,
    MemberErased,
    MemberRegistered,
    PollAnswered,
    TeamMembershipChanged,
)
from community.poll_demo import seed_polls
from rewards import contribution_awards, ledger, poll_awards, wallets
from rewards import privacy as rewards_privacy
from rewards.chain.keys import new_account as fresh_account
from rewards.events import BoardsChanged, LedgerChanged
from rewards.kpis import CREDITS, POINTS
from rewards.loyalty_demo import seed_loyalty
from rewards.rules_demo import seed_rules
from rewards.vault import KeyVault

_registered: list[bool] = []


def register_modules() -> None:
    """Fill the kernel's registries with what each package contributes (once per process)."""
    if _registered:
        return
    contributions.valuers.register("scoring", contribution_awards.proposed_points)
    ledger.hold_sources.register("bookings", held_by_bookings)
    demo.seeders.register("community", seed_community, order=10)
    demo.seeders.register("loyalty", lambda db, ids, _process: seed_loyalty(db, ids), order=20)
    demo.seeders.register("polls", seed_polls, order=30)
    demo.seeders.register("rules", lambda db, ids, _process: seed_rules(db, ids), order=40)
    demo.seeders.register("booking", lambda db, ids, _process: seed_booking(db, ids), order=50)
    for order, part in (*privacy.COMMUNITY_PARTS, *rewards_privacy.PARTS, *booking_privacy.PARTS):
        privacy.PARTS.register(part.key, part, order=order)
    privacy.sections.register("admin_actions", rewards_privacy.admin_actions)
    privacy.erasers.register("booking", booking_privacy.erase_bookings, order=10)
    privacy.erasers.register("rewards", rewards_privacy.erase_rewards, order=20)
    # The KPI report's indicators, counts and sections come in this order (its CSV: see series_order).
    kpis.providers.register("participation", kpis.PARTICIPATION, order=10)
    kpis.providers.register("contributions", kpis.CONTRIBUTIONS, order=20)
    kpis.providers.register("points", POINTS, order=30)
    kpis.providers.register("first_time", kpis.FIRST_TIMERS, order=40)
    kpis.providers.register("validation", kpis.VALIDATION, order=50)
    kpis.providers.register("spaces", SPACES, order=60)
    kpis.providers.register("credits", CREDITS, order=70)
    _registered.append(True)


def messagebus(
    *,
    vault: KeyVault,
    new_account: wallets.NewAccount = fresh_account,
    standings_changed: Callable[[], None] | None = None,
) -> MessageBus:
    """A bus with every handler. ``standings_changed`` (the web app's cache invalidation and
    live push) runs once after any commit that changed the ledger, a board or a team."""
    register_modules()
    bus = MessageBus()
    bus.in_transaction(MemberRegistered, partial(wallets.open_wallet, new_account=new_account, vault=vault))
    bus.in_transaction(ContributionApproved, contribution_awards.award_approved)
    bus.in_transaction(ContributionRevoked, contribution_awards.take_back_revoked)
    bus.in_transaction(PollAnswered, poll_awards.award_answer)
    bus.in_transaction(MemberErased, rewards_privacy.log_erasure)
    if standings_changed is not None:
        bus.once_after_commit((LedgerChanged, BoardsChanged, TeamMembershipChanged), standings_changed)
    return bus


def database(
    url: str,
    *,
    secret_key: str,
    new_account: wallets.NewAccount = fresh_account,
    standings_changed: Callable[[], None] | None = None,
    **engine_kwargs: Any,
) -> Database:
    """Kopa's database with the bus wired: what every entry point uses."""
    bus = messagebus(vault=KeyVault(secret_key), new_account=new_account, standings_changed=standings_changed)
    return Database(url, bus, **engine_kwargs)
