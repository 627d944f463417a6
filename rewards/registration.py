"""What rewards contributes to the kernel's registries (Decidim's component manifest): the
valuer the four-eyes rule asks, privacy parts and erasure steps, KPI providers and the
loyalty and rules demo. ``web.bootstrap`` calls ``register()`` once per process."""

from __future__ import annotations

from community import contributions, demo, kpis, privacy
from rewards import contribution_awards
from rewards import privacy as rewards_privacy
from rewards.kpis import CREDITS, POINTS
from rewards.loyalty_demo import seed_loyalty
from rewards.rules_demo import seed_rules


def register() -> None:
    contributions.valuers.register("scoring", contribution_awards.proposed_points)
    for order, part in rewards_privacy.PARTS:
        privacy.PARTS.register(part.key, part, order=order)
    privacy.sections.register("admin_actions", rewards_privacy.admin_actions)
    privacy.erasers.register("rewards", rewards_privacy.erase_rewards, order=20)
    kpis.providers.register("points", POINTS, order=30)
    kpis.providers.register("credits", CREDITS, order=70)
    demo.seeders.register("loyalty", lambda db, ids, _process: seed_loyalty(db, ids), order=20)
    demo.seeders.register("rules", lambda db, ids, _process: seed_rules(db, ids), order=40)
