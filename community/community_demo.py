"""Demo community for issue #3: a process per template, two teams with grants on different
phases, a resource library, and contributions in every state of their life."""

from __future__ import annotations

from sqlalchemy import select

from community import contributions
from community.db import Database
from community.models import Process, Task
from community.processes import building, permissions, resources, teamwork
from community.templates import TEMPLATES

LIBRARY = [
    (
        "Resident interview guide",
        "guide",
        "https://kopa.invalid/library/interview-guide",
        "lv,en",
        "Ten open questions and how to note answers without leading people.",
    ),
    (
        "Courtyard mapping template",
        "template",
        "https://kopa.invalid/library/courtyard-map",
        "lv,en,es",
        "A printable grid for entrances, trees, benches, bins and light.",
    ),
    (
        "Plain-language checklist",
        "guide",
        "https://kopa.invalid/library/plain-language",
        "lv,en",
        "Short sentences, everyday words, one idea per paragraph: a checklist for service texts.",
    ),
    (
        "Idea scoring sheet",
        "template",
        "https://kopa.invalid/library/idea-scoring",
        "en,es",
        "Score ideas on impact, effort and who benefits.",
    ),
    ("Open data portal", "tool", "https://data.gov.lv", "lv,en", "The national open data portal."),
    (
        "Prototype testing script",
        "guide",
        "https://kopa.invalid/library/testing-script",
        "en",
        "How to watch five people use a prototype and what to ask afterwards.",
    ),
    (
        "Service blueprint template",
        "template",
        "https://kopa.invalid/library/service-blueprint",
        "en,es",
        "Front stage, back stage and support processes of one service on a page.",
    ),
    ("Online whiteboard", "tool", "https://excalidraw.com", "en", "Sketch layouts and flows together."),
    (
        "Hackathon jury form",
        "template",
        "https://kopa.invalid/library/jury-form",
        "lv,en",
        "Criteria and weights for judging demos fairly.",
    ),
]

TEMPLATE_PROCESSES = {
    "co-creation": ("Better bus stops in Imanta", "open"),
    "hackathon": ("Riga open data hackathon 2027", "application"),
    "service-description": ("Plain words for the parking permit e-service", "invite"),
}


def seed_community(db: Database, ids: dict[str, int], courtyards_id: int) -> None:
    staff, staff2 = ids["staff@kopa.local"], ids["staff2@kopa.local"]
    members = [ids[f"member{i}@kopa.local"] for i in range(1, 6)]

    item_ids = [
        resources.create_library_item(
            db.unit_of_work(),
            actor_id=staff,
            title=title,
            kind=kind,
            link=link,
            languages=languages,
            description=description,
        )
        for title, kind, link, languages, description in LIBRARY
    ]
    for stars, member in zip((5, 4, 4, 3, 5), members, strict=True):
        resources.rate_library_item(db.unit_of_work(), user_id=member, item_id=item_ids[0], stars=stars)

    process_ids = {"courtyards": courtyards_id}
    for template, (title, membership) in TEMPLATE_PROCESSES.items():
        process_ids[template] = building.create_process(
            db.unit_of_work(),
            actor_id=staff,
            title=title,
            template=template,
            membership=membership,
            description=TEMPLATES[template][0],
            organisation="Riga City Council",
        )
    for process_id in process_ids.values():
        permissions.grant_permission(
            db.unit_of_work(),
            actor_id=staff,
            process_id=process_id,
            permission_name="manage",
            user_email="staff2@kopa.local",
        )

    # Two teams, each granted "contribute" on a different phase of the invite-only process.
    service = process_ids["service-description"]
    with db.read_sessions() as session:
        phases = session.get(Process, service).phases
        find_phase, test_phase = phases[0].id, phases[2].id
        courtyard_tasks = session.scalars(
            select(Task.id).where(Task.process_id == courtyards_id).order_by(Task.id)
        ).all()
        service_tasks = session.scalars(
            select(Task.id).where(Task.process_id == service).order_by(Task.id)
        ).all()
    neighbours = teamwork.create_team(
        db.unit_of_work(), actor_id=members[0], name="Imanta neighbours", kind="citizens"
    )
    teamwork.add_team_member(
        db.unit_of_work(), actor_id=members[0], team_id=neighbours, email="member2@kopa.local"
    )
    library_team = teamwork.create_team(
        db.unit_of_work(), actor_id=members[2], name="Central library staff", kind="public_administration"
    )
    teamwork.add_team_member(
        db.unit_of_work(), actor_id=members[2], team_id=library_team, email="member4@kopa.local"
    )
    permissions.grant_permission(
        db.unit_of_work(),
        actor_id=staff,
        process_id=service,
        permission_name="contribute",
        team_id=neighbours,
        node_kind="phase",
        node_id=find_phase,
    )
    permissions.grant_permission(
        db.unit_of_work(),
        actor_id=staff,
        process_id=service,
        permission_name="contribute",
        team_id=library_team,
        node_kind="phase",
        node_id=test_phase,
    )
    for task_id, item in zip(
        courtyard_tasks, (item_ids[1], item_ids[0], item_ids[6], item_ids[5]), strict=False
    ):
        resources.attach_library_item(db.unit_of_work(), actor_id=staff, task_id=task_id, item_id=item)
    resources.attach_library_item(
        db.unit_of_work(), actor_id=staff, task_id=service_tasks[0], item_id=item_ids[2]
    )

    # Contributions in every state.
    def submit(member: int, task: int, text: str, url: str | None = None) -> int:
        return contributions.submit_contribution(
            db.unit_of_work(), member_id=member, task_id=task, text=text, evidence_url=url
        )

    mapped, ideas, plan, planter = courtyard_tasks[:4]
    approved = submit(
        members[0],
        mapped,
        "Mapped courtyard 3: two entrances, one old linden, no benches.",
        "https://kopa.invalid/photos/courtyard-3.jpg",
    )
    contributions.approve_contribution(
        db.unit_of_work(), validator_id=staff, contribution_id=approved, comment="Thorough, thank you!"
    )
    for member, text in (
        (members[1], "Asked six neighbours: they want benches and a bike rack."),
        (members[2], "Four neighbours asked for shade and a place for children."),
    ):
        cid = submit(member, ideas, text)
        contributions.approve_contribution(
            db.unit_of_work(), validator_id=staff2, contribution_id=cid, level="average"
        )
    submit(members[3], mapped, "Sketched courtyard 1 with the bin area.")  # pending
    awaiting = submit(members[4], plan, "Planting plan: lavender, rowan and three raised beds.")
    contributions.approve_contribution(
        db.unit_of_work(), validator_id=staff, contribution_id=awaiting
    )  # 180 > 150
    rejected = submit(members[1], planter, "I will build one next month.")
    contributions.reject_contribution(
        db.unit_of_work(),
        validator_id=staff,
        contribution_id=rejected,
        comment="Please submit after the workshop, with a photo of the planter.",
    )
    appealed = submit(members[3], ideas, "Collected ideas at the school meeting.")
    contributions.reject_contribution(
        db.unit_of_work(), validator_id=staff, contribution_id=appealed, comment="No list of ideas attached."
    )
    contributions.appeal_contribution(
        db.unit_of_work(),
        member_id=members[3],
        contribution_id=appealed,
        reason="The list is in the second paragraph: 12 ideas from 9 parents.",
    )
    changes = submit(members[2], plan, "Some flowers here and there.")
    contributions.request_changes(
        db.unit_of_work(),
        validator_id=staff2,
        contribution_id=changes,
        comment="Which plants, and where? A rough sketch is enough.",
    )
    revoked = submit(members[4], mapped, "Mapped courtyard 2.", "https://kopa.invalid/photos/courtyard-3.jpg")
    contributions.approve_contribution(
        db.unit_of_work(), validator_id=staff2, contribution_id=revoked, level="low"
    )
    contributions.revoke_contribution(
        db.unit_of_work(),
        validator_id=staff,
        contribution_id=revoked,
        comment="The photo is the same as another member's courtyard 3.",
    )
    submit(members[0], service_tasks[0], "The parking permit page says 'apply in the system' without a link.")
