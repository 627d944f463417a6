"""What the kernel itself contributes to its registries, beside the feature packages (see
``booking/registration.py``, ``rewards/registration.py``): its privacy parts, its KPI
providers and its share of the demo. The orders place each part among the packages' ones."""

from __future__ import annotations

from community import demo, kpis, privacy
from community.community_demo import seed_community
from community.poll_demo import seed_polls


def register() -> None:
    for order, part in privacy.COMMUNITY_PARTS:
        privacy.PARTS.register(part.key, part, order=order)
    # The KPI report's indicators, counts and sections come in provider order (the CSV's
    # series in ``series_order``); rewards and booking fill 30, 60 and 70.
    kpis.providers.register("participation", kpis.PARTICIPATION, order=10)
    kpis.providers.register("contributions", kpis.CONTRIBUTIONS, order=20)
    kpis.providers.register("first_time", kpis.FIRST_TIMERS, order=40)
    kpis.providers.register("validation", kpis.VALIDATION, order=50)
    demo.seeders.register("community", seed_community, order=10)
    demo.seeders.register("polls", seed_polls, order=30)
