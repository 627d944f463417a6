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

from booking import registration as booking_registration
from community import registration as community_registration
from community.bus import MessageBus
from community.db import Database
from community.events import (
    ContributionApproved,
    ContributionRevoked,
    MemberErased,
    MemberRegistered,
    PollAnswered,
    TeamMembershipChanged,
)
from rewards import contribution_awards, poll_awards, wallets
from rewards import privacy as rewards_privacy
from rewards import registration as rewards_registration
from rewards.chain.keys import new_account as fresh_account
from rewards.events import BoardsChanged, LedgerChanged
from rewards.vault import KeyVault

_registered: list[bool] = []


def register_modules() -> None:
    """Let each package fill the kernel's registries with what it contributes (once per
    process): privacy parts, KPI providers, demo seeders, the contribution valuer, holds."""
    if _registered:
        return
    for package in (community_registration, rewards_registration, booking_registration):
        package.register()
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
