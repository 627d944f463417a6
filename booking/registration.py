"""What booking contributes to the kernel's registries and to rewards' (Decidim's component
manifest): credits held by pending bookings, privacy parts and the erasure step, the spaces
KPIs and the booking demo. ``web.bootstrap`` calls ``register()`` once per process."""

from __future__ import annotations

from booking import privacy as booking_privacy
from booking.demo import seed_booking
from booking.kpis import SPACES
from booking.models import held_by_bookings
from community import demo, kpis, privacy
from rewards import ledger


def register() -> None:
    ledger.hold_sources.register("bookings", held_by_bookings)
    for order, part in booking_privacy.PARTS:
        privacy.PARTS.register(part.key, part, order=order)
    privacy.erasers.register("booking", booking_privacy.erase_bookings, order=10)
    kpis.providers.register("spaces", SPACES, order=60)
    demo.seeders.register("booking", lambda db, ids, _process: seed_booking(db, ids), order=50)
