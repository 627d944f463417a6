"""The process templates Kopa ships: phases → objectives → tasks (title, complexity).

Phases run in order: each phase after the first has the previous one as prerequisite.
"""

from __future__ import annotations

from community.i18n import N_

TemplateTask = tuple[str, int]
TemplateObjective = tuple[str, list[TemplateTask]]
TemplatePhase = tuple[str, str, list[TemplateObjective]]

TEMPLATES: dict[str, tuple[str, list[TemplatePhase]]] = {
    "co-creation": (
        N_("Default co-creation: engage, design, build, sustain, evaluate"),
        [
            (
                "Engage",
                "Bring together the people the service is for and those who run it.",
                [
                    (
                        "Map who is involved",
                        [("List the groups the service affects", 20), ("Interview two residents", 40)],
                    ),
                    ("Agree on the challenge", [("Write the challenge in one paragraph", 40)]),
                ],
            ),
            (
                "Design",
                "Turn needs into ideas and choose what to build.",
                [
                    ("Generate ideas", [("Propose an idea", 40), ("Comment on three ideas", 20)]),
                    ("Choose a prototype", [("Score the shortlisted ideas", 20)]),
                ],
            ),
            (
                "Build",
                "Make and test a prototype with its future users.",
                [
                    ("Prototype", [("Build a first version", 80), ("Test it with five people", 60)]),
                ],
            ),
            (
                "Sustain",
                "Plan who runs the result and how it is paid for.",
                [
                    ("Hand over", [("Write the operating guide", 60)]),
                ],
            ),
            (
                "Evaluate",
                "Check what changed and share what was learnt.",
                [
                    ("Measure", [("Collect feedback from users", 40), ("Write the lessons learnt", 40)]),
                ],
            ),
        ],
    ),
    "hackathon": (
        N_("Hackathon: challenge, teams, build weekend, demo, follow-up"),
        [
            (
                "Prepare",
                "Publish the challenge and the open data.",
                [
                    ("Challenge", [("Describe a challenge with data sources", 40)]),
                ],
            ),
            (
                "Form teams",
                "People find each other around ideas.",
                [
                    ("Pitch", [("Pitch an idea in two minutes", 20), ("Join or form a team", 0)]),
                ],
            ),
            (
                "Build",
                "Two days of building with mentors.",
                [
                    ("Hack", [("Ship a working demo", 100), ("Mentor a team for two hours", 40)]),
                ],
            ),
            (
                "Demo",
                "Teams present; the jury and the public vote.",
                [
                    ("Present", [("Present the demo", 60)]),
                ],
            ),
            (
                "Follow-up",
                "The best ideas get a path into the city's services.",
                [
                    ("Continue", [("Write a next-steps plan with the city", 80)]),
                ],
            ),
        ],
    ),
    "service-description": (
        N_("Service-description improvement: find confusing texts, rewrite, test"),
        [
            (
                "Find",
                "Spot e-service descriptions people find confusing.",
                [
                    (
                        "Collect",
                        [
                            ("Report a confusing service description", 20),
                            ("Walk a neighbour through an e-service", 40),
                        ],
                    ),
                ],
            ),
            (
                "Rewrite",
                "Rewrite in plain language with the service owners.",
                [
                    ("Draft", [("Rewrite one description in plain language", 60)]),
                ],
            ),
            (
                "Test",
                "Check the new text with people who struggled before.",
                [
                    ("Check", [("Test a rewritten description with two residents", 40)]),
                ],
            ),
            (
                "Publish",
                "The service owner publishes the new text.",
                [
                    ("Release", [("Review the final text", 20)]),
                ],
            ),
        ],
    ),
}
