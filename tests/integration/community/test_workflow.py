"""Issue #3's domain: the contribution state machine, four-eyes, appeals, revocation,
permissions inherited down the process tree, templates, clones, anti-farming. Every test
runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from community import contributions
from community.contributions import ContributionPolicy
from community.errors import Conflict, Forbidden, InvalidInput, NotFound, RateLimited
from community.models import (
    Contribution,
    ContributionTransition,
    Grant,
    NodeStatus,
    Objective,
    Phase,
    Prerequisite,
    Process,
    ProcessApplication,
    Role,
    StoryOptIn,
    Task,
)
from community.processes import (
    building,
    cloning,
    joining,
    outline,
    permissions,
    progress,
    resources,
    success_stories,
    teamwork,
)
from community.templates import TEMPLATES
from rewards.ledger import points_total
from rewards.models import LedgerEntry, OutboxItem


def _points(db, member_id: int) -> int:
    with db.read_sessions() as session:
        return points_total(session, member_id)


def _state(db, cid: int) -> str:
    with db.read_sessions() as session:
        return session.get(Contribution, cid).state


def _count(db, model) -> int:
    with db.read_sessions() as session:
        return session.scalar(select(func.count()).select_from(model))


def _submit(db, member: int, task: int, text: str = "did it", **kwargs) -> int:
    return contributions.submit_contribution(
        db.unit_of_work(), member_id=member, task_id=task, text=text, **kwargs
    )


@pytest.fixture
def people(community):
    people = community.people(staff=(Role.STAFF, "Staff One"), staff2=(Role.STAFF, "Staff Two"),
                              member="Member")
    staff, other_staff = people["staff"], people["staff2"]
    task = community.task(staff, complexity=40)
    with community.db.read_sessions() as session:
        process_id = session.get(Task, task).process_id
    permissions.grant_permission(
        community.db.unit_of_work(),
        actor_id=staff,
        process_id=process_id,
        permission_name="manage",
        user_email=community.email_of(other_staff),
    )
    return {**people, "task": task, "process": process_id}


# --- the state machine ---------------------------------------------------------------------


def test_every_transition_is_recorded_with_who_and_why(db, people):
    staff, member, task = people["staff"], people["member"], people["task"]
    cid = _submit(db, member, task)
    contributions.request_changes(
        db.unit_of_work(), validator_id=staff, contribution_id=cid, comment="add a photo"
    )
    assert _state(db, cid) == "changes_requested"
    contributions.resubmit_contribution(
        db.unit_of_work(),
        member_id=member,
        contribution_id=cid,
        text="with photo",
        evidence_url="https://example.org/photo.jpg",
    )
    assert _state(db, cid) == "pending"
    contributions.reject_contribution(
        db.unit_of_work(), validator_id=staff, contribution_id=cid, comment="off topic"
    )
    assert _state(db, cid) == "rejected"
    contributions.appeal_contribution(
        db.unit_of_work(), member_id=member, contribution_id=cid, reason="it is on topic"
    )
    assert _state(db, cid) == "appealed"
    contributions.approve_contribution(
        db.unit_of_work(), validator_id=people["staff2"], contribution_id=cid, level="low"
    )
    assert _state(db, cid) == "approved"
    contributions.revoke_contribution(
        db.unit_of_work(), validator_id=staff, contribution_id=cid, comment="plagiarism"
    )
    with db.read_sessions() as session:
        c = session.get(Contribution, cid)
        steps = [(t.from_state, t.to_state, t.actor_id, t.comment) for t in c.transitions]
        assert all(t.at is not None for t in c.transitions)
    assert steps == [
        (None, "pending", member, None),
        ("pending", "changes_requested", staff, "add a photo"),
        ("changes_requested", "pending", member, "resubmitted"),
        ("pending", "rejected", staff, "off topic"),
        ("rejected", "appealed", member, "it is on topic"),
        ("appealed", "approved", people["staff2"], None),
        ("approved", "revoked", staff, "plagiarism"),
    ]
    assert _points(db, member) == 0


FORBIDDEN_MOVES = {
    # state reached → actions that must be refused with 409
    "pending": ["resubmit", "appeal", "revoke"],
    "changes_requested": ["approve", "reject", "appeal", "revoke", "request_changes"],
    "rejected": ["approve", "reject", "resubmit", "revoke", "request_changes"],
    "approved": ["approve", "reject", "resubmit", "appeal", "request_changes"],
    "revoked": ["approve", "reject", "resubmit", "appeal", "revoke", "request_changes"],
}


def _act(db, action: str, cid: int, people) -> None:
    staff, member = people["staff"], people["member"]
    calls = {
        "approve": lambda: contributions.approve_contribution(
            db.unit_of_work(), validator_id=staff, contribution_id=cid
        ),
        "reject": lambda: contributions.reject_contribution(
            db.unit_of_work(), validator_id=staff, contribution_id=cid, comment="no"
        ),
        "request_changes": lambda: contributions.request_changes(
            db.unit_of_work(), validator_id=staff, contribution_id=cid, comment="more"
        ),
        "resubmit": lambda: contributions.resubmit_contribution(
            db.unit_of_work(), member_id=member, contribution_id=cid, text="again"
        ),
        "appeal": lambda: contributions.appeal_contribution(
            db.unit_of_work(), member_id=member, contribution_id=cid, reason="please"
        ),
        "revoke": lambda: contributions.revoke_contribution(
            db.unit_of_work(), validator_id=staff, contribution_id=cid, comment="undo"
        ),
    }
    calls[action]()


def _reach(db, state: str, people) -> int:
    cid = _submit(db, people["member"], people["task"])
    path = {
        "pending": [],
        "changes_requested": ["request_changes"],
        "rejected": ["reject"],
        "approved": ["approve"],
        "revoked": ["approve", "revoke"],
    }[state]
    for action in path:
        _act(db, action, cid, people)
    assert _state(db, cid) == state
    return cid


@pytest.mark.parametrize("state", list(FORBIDDEN_MOVES))
def test_invalid_transitions_are_conflicts_and_change_nothing(db, people, state):
    cid = _reach(db, state, people)
    before = (_count(db, ContributionTransition), _count(db, LedgerEntry), _count(db, OutboxItem))
    for action in FORBIDDEN_MOVES[state]:
        with pytest.raises(Conflict, match=f"contribution {cid} is {state}"):
            _act(db, action, cid, people)
    assert (_count(db, ContributionTransition), _count(db, LedgerEntry), _count(db, OutboxItem)) == before
    assert _state(db, cid) == state


def test_role_denials(db, people, community):
    member, other, staff = people["member"], community.user(), people["staff"]
    outsider_staff = community.user(Role.STAFF)  # staff, but not managing this process
    auditor = community.user(Role.AUDITOR)
    cid = _submit(db, member, people["task"])
    for actor in (member, other, auditor):
        with pytest.raises(Forbidden, match="only staff"):
            contributions.approve_contribution(db.unit_of_work(), validator_id=actor, contribution_id=cid)
        with pytest.raises(Forbidden, match="only staff"):
            contributions.request_changes(db.unit_of_work(), validator_id=actor, contribution_id=cid,
                                          comment="x")
    with pytest.raises(Forbidden, match="manage this process"):
        contributions.approve_contribution(db.unit_of_work(), validator_id=outsider_staff,
                                           contribution_id=cid)
    contributions.request_changes(db.unit_of_work(), validator_id=staff, contribution_id=cid, comment="more")
    with pytest.raises(Forbidden, match="only the contributor"):
        contributions.resubmit_contribution(
            db.unit_of_work(), member_id=other, contribution_id=cid, text="mine now"
        )
    with pytest.raises(Forbidden, match="only staff create processes"):
        building.create_process(db.unit_of_work(), actor_id=member, title="Mine")
    with pytest.raises(Forbidden, match="managers add phases"):
        building.add_node(
            db.unit_of_work(), actor_id=outsider_staff, kind="phase", parent_id=people["process"], title="P"
        )
    assert _state(db, cid) == "changes_requested"


# --- INTERLINK's failures ------------------------------------------------------------------


def test_unapproved_contributions_never_score(db, people):
    member, task, staff = people["member"], people["task"], people["staff"]
    pending = _submit(db, member, task)
    rejected = _submit(db, member, task)
    contributions.reject_contribution(
        db.unit_of_work(), validator_id=staff, contribution_id=rejected, comment="no"
    )
    changes = _submit(db, member, task)
    contributions.request_changes(db.unit_of_work(), validator_id=staff, contribution_id=changes,
                                  comment="more")
    appealed = _submit(db, member, task)
    contributions.reject_contribution(
        db.unit_of_work(), validator_id=staff, contribution_id=appealed, comment="no"
    )
    contributions.appeal_contribution(db.unit_of_work(), member_id=member, contribution_id=appealed,
                                      reason="why")
    assert {_state(db, c) for c in (pending, rejected, changes, appealed)} == {
        "pending",
        "rejected",
        "changes_requested",
        "appealed",
    }
    assert _count(db, LedgerEntry) == 0
    assert _points(db, member) == 0
    # The level of a later approval counts only approved contributions: with nothing approved
    # yet the member holds the whole share.
    with db.read_sessions() as session:
        assert contributions.default_level(session, session.get(Contribution, pending)) == "high"


def test_revoking_one_contribution_moves_only_its_points(db, people, community):
    staff, member, task = people["staff"], people["member"], people["task"]
    other_task = community.task(staff, complexity=60)
    keep = community.approved(member, staff, other_task)  # 60 points
    revoke_me = community.approved(member, staff, task)  # 40 points
    bystander = community.user()
    community.approved(bystander, staff, task)
    assert _points(db, member) == 100
    entry_ids = contributions.revoke_contribution(
        db.unit_of_work(), validator_id=staff, contribution_id=revoke_me, comment="duplicate"
    )
    assert _points(db, member) == 60
    assert _points(db, bystander) == 40
    with db.read_sessions() as session:
        [entry] = [session.get(LedgerEntry, i) for i in entry_ids]
        assert (entry.points, entry.cause, entry.contribution_id, entry.validator_id) == (
            -40,
            "revocation",
            revoke_me,
            staff,
        )
        assert (entry.outbox.kind, entry.outbox.amount) == ("burn", 40)
        assert session.get(Contribution, keep).state == "approved"
        # Nothing was deleted: the original award is still there beside its compensation.
        assert sorted(
            session.scalars(select(LedgerEntry.points).where(LedgerEntry.member_id == member)).all()
        ) == [-40, 40, 60]


def test_a_replayed_approval_awards_nothing(db, people):
    staff, member = people["staff"], people["member"]
    cid = _submit(db, member, people["task"])
    contributions.approve_contribution(db.unit_of_work(), validator_id=staff, contribution_id=cid,
                                       level="low")
    for _ in range(3):
        with pytest.raises(Conflict):
            contributions.approve_contribution(db.unit_of_work(), validator_id=staff, contribution_id=cid)
    with pytest.raises(Conflict):  # nor by someone else
        contributions.approve_contribution(db.unit_of_work(), validator_id=people["staff2"],
                                           contribution_id=cid)
    assert _count(db, LedgerEntry) == 1
    assert _points(db, member) == 40


# --- four eyes, appeals, co-contributors -------------------------------------------------------


def test_four_eyes_needs_two_different_staff(db, people):
    staff, staff2, member = people["staff"], people["staff2"], people["member"]
    cid = _submit(db, member, people["task"])  # complexity 40 × high (3) = 120
    policy = ContributionPolicy(four_eyes_threshold=100)
    first = contributions.approve_contribution(
        db.unit_of_work(), validator_id=staff, contribution_id=cid, policy=policy
    )
    assert first == []
    assert _state(db, cid) == "awaiting_second_approval"
    assert _count(db, LedgerEntry) == 0
    with pytest.raises(Forbidden, match="different member of staff"):
        contributions.approve_contribution(
            db.unit_of_work(), validator_id=staff, contribution_id=cid, policy=policy
        )
    second = contributions.approve_contribution(
        db.unit_of_work(), validator_id=staff2, contribution_id=cid, policy=policy
    )
    assert len(second) == 1
    assert _state(db, cid) == "approved"
    assert _points(db, member) == 120
    with db.read_sessions() as session:
        c = session.get(Contribution, cid)
        assert (c.first_approver_id, c.decided_by_id, c.level) == (staff, staff2, "high")


def test_four_eyes_threshold_per_process_and_below_it_one_approval(db, people, community):
    staff = people["staff"]
    small = _submit(db, people["member"], people["task"])
    contributions.approve_contribution(db.unit_of_work(), validator_id=staff, contribution_id=small,
                                       level="low")
    assert _state(db, small) == "approved"  # 40 ≤ 150 (default)
    building.update_process_settings(
        db.unit_of_work(), actor_id=staff, process_id=people["process"], four_eyes_threshold=30
    )
    bigger = _submit(db, community.user(), people["task"])
    contributions.approve_contribution(db.unit_of_work(), validator_id=staff, contribution_id=bigger,
                                       level="low")
    assert _state(db, bigger) == "awaiting_second_approval"


def test_appeal_once_and_decided_by_another_member_of_staff(db, people):
    staff, staff2, member = people["staff"], people["staff2"], people["member"]
    cid = _submit(db, member, people["task"])
    contributions.reject_contribution(db.unit_of_work(), validator_id=staff, contribution_id=cid,
                                      comment="no")
    with pytest.raises(InvalidInput, match="reason"):
        contributions.appeal_contribution(db.unit_of_work(), member_id=member, contribution_id=cid,
                                          reason=" ")
    contributions.appeal_contribution(db.unit_of_work(), member_id=member, contribution_id=cid,
                                      reason="see photo")
    for decide in (contributions.approve_contribution, contributions.reject_contribution):
        with pytest.raises(Forbidden, match="different member of staff"):
            decide(db.unit_of_work(), validator_id=staff, contribution_id=cid, comment="still no")
    contributions.reject_contribution(
        db.unit_of_work(), validator_id=staff2, contribution_id=cid, comment="agreed"
    )
    with pytest.raises(Conflict, match="already appealed once"):
        contributions.appeal_contribution(db.unit_of_work(), member_id=member, contribution_id=cid,
                                          reason="again")
    assert _state(db, cid) == "rejected"


def test_co_contributors_share_the_award_and_may_not_validate(db, people, community):
    staff, staff2, member = people["staff"], people["staff2"], people["member"]
    friend = community.user()
    cid = _submit(
        db, member, people["task"], co_contributors=[community.email_of(friend), community.email_of(staff2)]
    )
    with pytest.raises(Forbidden, match="co-contributor"):
        contributions.approve_contribution(db.unit_of_work(), validator_id=staff2, contribution_id=cid)
    with pytest.raises(Forbidden, match="co-contributor"):
        contributions.reject_contribution(db.unit_of_work(), validator_id=staff2, contribution_id=cid,
                                          comment="x")
    contributions.approve_contribution(db.unit_of_work(), validator_id=staff, contribution_id=cid,
                                       level="average")
    assert [_points(db, u) for u in (member, friend, staff2)] == [80, 80, 80]
    contributions.revoke_contribution(db.unit_of_work(), validator_id=staff, contribution_id=cid,
                                      comment="undo")
    assert [_points(db, u) for u in (member, friend, staff2)] == [0, 0, 0]
    with pytest.raises(InvalidInput, match="no member has the e-mail"):
        _submit(db, member, people["task"], co_contributors=["nobody@example.org"])


def test_default_level_follows_the_members_share(db, people, community):
    staff, task = people["staff"], people["task"]
    a, b, c = community.user(), community.user(), community.user()
    community.approved(a, staff, task)
    community.approved(a, staff, task)
    community.approved(b, staff, task)
    community.approved(c, staff, task)
    with db.read_sessions() as session:
        probe = lambda who: contributions.default_level(session, Contribution(task_id=task, member_id=who))  # noqa: E731
        # a: (2+1)/(4+1) = 0.6 → high; b: 2/5 → average; a newcomer: 1/5 → low
        assert (probe(a), probe(b), probe(community.user())) == ("high", "average", "low")


# --- anti-farming ---------------------------------------------------------------------------


def test_submission_rate_limit_per_member(db, people, community):
    policy = ContributionPolicy(submissions_per_hour=3)
    for _ in range(3):
        _submit(db, people["member"], people["task"], policy=policy)
    with pytest.raises(RateLimited, match="limit is 3 per hour"):
        _submit(db, people["member"], people["task"], policy=policy)
    _submit(db, community.user(), people["task"], policy=policy)  # someone else is not limited
    assert _count(db, Contribution) == 4


def test_duplicate_evidence_is_flagged_within_the_process(db, people, community):
    url = "https://example.org/same.jpg"
    first = _submit(db, people["member"], people["task"], evidence_url=url)
    second = _submit(db, community.user(), people["task"], evidence_url=url)
    elsewhere = _submit(db, community.user(), community.task(people["staff"]), evidence_url=url)
    with db.read_sessions() as session:
        flags = [session.get(Contribution, c).duplicate_of_id for c in (first, second, elsewhere)]
    assert flags == [None, first, None]


def test_points_cap_per_member_and_period(db, people, community):
    staff, member = people["staff"], people["member"]
    building.update_process_settings(
        db.unit_of_work(), actor_id=staff, process_id=people["process"], points_cap=100, cap_period="week"
    )
    for _ in range(3):
        community.approved(member, staff, people["task"])  # 40 each: 40, 40, then 20 (capped)
    assert _points(db, member) == 100
    community.approved(member, staff, people["task"])  # nothing left this week
    assert _points(db, member) == 100
    with db.read_sessions() as session:
        assert sorted(session.scalars(select(LedgerEntry.points)).all()) == [20, 40, 40]


# --- permissions inherited down the tree ------------------------------------------------------


def test_team_granted_contribute_on_a_phase_reaches_only_its_tasks(db, community):
    staff = community.user(Role.STAFF)
    member, outsider = community.user(), community.user()
    pid = building.create_process(
        db.unit_of_work(), actor_id=staff, title="Invite only", membership="invite", template="co-creation"
    )
    with db.read_sessions() as session:
        process = session.get(Process, pid)
        engage, design = process.phases[0], process.phases[1]
        engage_task = engage.objectives[0].tasks[0].id
        design_task = design.objectives[0].tasks[0].id
        engage_id = engage.id
    team = teamwork.create_team(
        db.unit_of_work(), actor_id=member, name="Courtyard neighbours", kind="citizens"
    )
    permissions.grant_permission(
        db.unit_of_work(),
        actor_id=staff,
        process_id=pid,
        permission_name="contribute",
        team_id=team,
        node_kind="phase",
        node_id=engage_id,
    )
    assert _submit(db, member, engage_task)
    with pytest.raises(NotFound):  # invite-only: the other phase is not even visible
        _submit(db, member, design_task)
    with pytest.raises(NotFound):
        _submit(db, outsider, engage_task)
    # A view grant on the process makes the rest visible but still not open to contributions.
    permissions.grant_permission(
        db.unit_of_work(), actor_id=staff, process_id=pid, permission_name="view", team_id=team
    )
    with pytest.raises(Forbidden, match="may not contribute"):
        _submit(db, member, design_task)
    # A new team member inherits the team's grants.
    teamwork.add_team_member(
        db.unit_of_work(), actor_id=member, team_id=team, email=community.email_of(outsider)
    )
    assert _submit(db, outsider, engage_task)


def test_applications_to_join(db, community):
    staff, member = community.user(Role.STAFF), community.user()
    pid = building.create_process(
        db.unit_of_work(), actor_id=staff, title="Apply first", membership="application"
    )
    task = building.create_task(db.unit_of_work(), actor_id=staff, process_id=pid, title="T")
    with pytest.raises(Forbidden, match="join the process"):
        _submit(db, member, task)
    assert (
        joining.apply_to_process(db.unit_of_work(), user_id=member, process_id=pid, message="I live here")
        == "pending"
    )
    with pytest.raises(Conflict, match="already applied"):
        joining.apply_to_process(db.unit_of_work(), user_id=member, process_id=pid)
    with db.read_sessions() as session:
        application = session.scalars(select(ProcessApplication)).one()
    with pytest.raises(Forbidden, match="managers decide"):
        joining.decide_application(
            db.unit_of_work(), actor_id=member, application_id=application.id, accept=True
        )
    joining.decide_application(
        db.unit_of_work(), actor_id=staff, application_id=application.id, accept=True
    )
    with db.read_sessions() as session:
        assert session.scalar(select(Grant.permission).where(Grant.user_id == member)) == 2  # contribute
    assert _submit(db, member, task)
    with pytest.raises(Conflict, match="already accepted"):
        joining.decide_application(
            db.unit_of_work(), actor_id=staff, application_id=application.id, accept=False
        )


# --- the tree: templates, clones, prerequisites, progress -----------------------------------


@pytest.mark.parametrize("template", sorted(TEMPLATES))
def test_templates_build_their_tree(db, community, template):
    staff = community.user(Role.STAFF)
    pid = building.create_process(db.unit_of_work(), actor_id=staff, title="T", template=template)
    with db.read_sessions() as session:
        process = session.get(Process, pid)
        phases = [p.title for p in process.phases]
        tree = outline.process_tree(session, process)
        task_count = session.scalar(select(func.count()).select_from(Task).where(Task.process_id == pid))
    assert phases == [p[0] for p in TEMPLATES[template][1]]
    assert task_count == sum(len(o[1]) for p in TEMPLATES[template][1] for o in p[2])
    assert tree.children[1].requires == [phases[0]]
    if template == "co-creation":
        assert phases == ["Engage", "Design", "Build", "Sustain", "Evaluate"]


def test_prerequisites_and_progress_roll_up(db, community):
    staff = community.user(Role.STAFF)
    pid = building.create_process(
        db.unit_of_work(), actor_id=staff, title="T", template="service-description"
    )
    with db.read_sessions() as session:
        process = session.get(Process, pid)
        find, rewrite = process.phases[0], process.phases[1]
        find_tasks = [t.id for t in find.objectives[0].tasks]
    with pytest.raises(Conflict, match="cannot start before 'Find' is done"):
        progress.set_status(
            db.unit_of_work(), actor_id=staff, kind="phase", node_id=rewrite.id, status="in_progress"
        )
    progress.set_status(db.unit_of_work(), actor_id=staff, kind="task", node_id=find_tasks[0], status="done")
    with db.read_sessions() as session:
        tree = outline.process_tree(session, session.get(Process, pid))
    assert tree.children[0].progress == pytest.approx(0.5)  # one of two tasks done
    assert tree.progress == pytest.approx(0.5 / 4)  # four phases
    progress.set_status(db.unit_of_work(), actor_id=staff, kind="phase", node_id=find.id, status="done")
    progress.set_status(
        db.unit_of_work(), actor_id=staff, kind="phase", node_id=rewrite.id, status="in_progress"
    )
    with pytest.raises(Conflict, match="cycle"):
        progress.add_prerequisite(
            db.unit_of_work(), actor_id=staff, kind="phase", node_id=find.id, requires_id=rewrite.id
        )
    # A task with an unfinished prerequisite task takes no contributions yet.
    progress.add_prerequisite(
        db.unit_of_work(), actor_id=staff, kind="task", node_id=find_tasks[0], requires_id=find_tasks[1]
    )
    with pytest.raises(Conflict, match="closed for contributions"):
        _submit(db, community.user(), find_tasks[0])  # it is done already
    with pytest.raises(InvalidInput, match="status must be"):
        progress.set_status(
            db.unit_of_work(), actor_id=staff, kind="task", node_id=find_tasks[1], status="late"
        )


def test_clone_copies_the_tree_not_the_work(db, community):
    staff = community.user(Role.STAFF)
    pid = building.create_process(db.unit_of_work(), actor_id=staff, title="Hack", template="hackathon")
    with db.read_sessions() as session:
        first_task = session.get(Process, pid).phases[0].objectives[0].tasks[0].id
    community.approved(community.user(), staff, first_task)
    progress.set_status(db.unit_of_work(), actor_id=staff, kind="task", node_id=first_task, status="done")
    copy = cloning.clone_process(db.unit_of_work(), actor_id=staff, source_id=pid, title="Hack 2027")
    with db.read_sessions() as session:
        original, clone = session.get(Process, pid), session.get(Process, copy)
        def shape(p):
            return [
                (ph.title, [(o.title, [(t.title, t.complexity) for t in o.tasks]) for o in ph.objectives])
                for ph in p.phases
            ]

        assert shape(clone) == shape(original)
        assert (clone.cloned_from_id, clone.title) == (pid, "Hack 2027")
        clone_tasks = session.scalars(select(Task).where(Task.process_id == copy)).all()
        assert all(t.status == NodeStatus.NOT_STARTED for t in clone_tasks)
        assert (
            session.scalar(
                select(func.count()).select_from(Contribution).join(Task).where(Task.process_id == copy)
            )
            == 0
        )
        edges = session.scalar(
            select(func.count())
            .select_from(Prerequisite)
            .where(Prerequisite.node_id.in_([p.id for p in clone.phases]))
        )
        assert edges == len(clone.phases) - 1


def test_bad_tree_input_is_refused(db, community):
    staff = community.user(Role.STAFF)
    pid = building.create_process(db.unit_of_work(), actor_id=staff, title="T")
    phase = building.add_node(db.unit_of_work(), actor_id=staff, kind="phase", parent_id=pid, title="P")
    objective = building.add_node(
        db.unit_of_work(), actor_id=staff, kind="objective", parent_id=phase, title="O"
    )
    for kwargs, message in [
        ({"complexity": 30}, "complexity must be one of"),
        ({"complexity": "high"}, "complexity must be one of"),
        ({"title": " "}, "title must not be empty"),
        ({"starts_on": "2026-12-01", "ends_on": "2026-11-01"}, "before starts_on"),
        ({"starts_on": "soon"}, "must be a date"),
    ]:
        with pytest.raises(InvalidInput, match=message):
            building.add_node(
                db.unit_of_work(), actor_id=staff, kind="task", parent_id=objective,
                **{"title": "T", **kwargs}
            )
    with pytest.raises(InvalidInput, match="template must be one of"):
        building.create_process(db.unit_of_work(), actor_id=staff, title="T", template="nope")
    with pytest.raises(NotFound):
        building.add_node(db.unit_of_work(), actor_id=staff, kind="objective", parent_id=10**6, title="O")
    with db.read_sessions() as session:
        assert session.scalar(select(func.count()).select_from(Objective)) == 1
        assert session.scalar(select(func.count()).select_from(Phase)) == 1


def test_library_and_ratings(db, community):
    staff, member = community.user(Role.STAFF), community.user()
    item = resources.create_library_item(
        db.unit_of_work(),
        actor_id=staff,
        title="Interview guide",
        kind="guide",
        link="https://example.org/guide",
        languages="lv, en",
    )
    with pytest.raises(Forbidden, match="only staff"):
        resources.create_library_item(
            db.unit_of_work(), actor_id=member, title="x", kind="tool", link="https://example.org"
        )
    with pytest.raises(InvalidInput, match="link must be"):
        resources.create_library_item(
            db.unit_of_work(), actor_id=staff, title="x", kind="tool", link="javascript:alert(1)"
        )
    resources.rate_library_item(db.unit_of_work(), user_id=member, item_id=item, stars=4)
    resources.rate_library_item(db.unit_of_work(), user_id=member, item_id=item, stars=2)  # changes, not adds
    resources.rate_library_item(db.unit_of_work(), user_id=staff, item_id=item, stars=5)
    with pytest.raises(InvalidInput, match="stars"):
        resources.rate_library_item(db.unit_of_work(), user_id=member, item_id=item, stars=9)
    with db.read_sessions() as session:
        assert resources.library_ratings(session) == {item: (3.5, 2)}


def test_success_story_only_when_done_and_only_opted_in_names(db, community):
    staff, member, shy = community.user(Role.STAFF), community.user(), community.user()
    task = community.task(staff)
    community.approved(member, staff, task)
    community.approved(shy, staff, task)
    with db.read_sessions() as session:
        pid = session.get(Task, task).process_id
    with pytest.raises(Conflict, match="only finished processes"):
        success_stories.publish_story(
            db.unit_of_work(), actor_id=staff, process_id=pid, summary="s", outcomes="o"
        )
    progress.set_status(db.unit_of_work(), actor_id=staff, kind="process", node_id=pid, status="done")
    success_stories.publish_story(
        db.unit_of_work(), actor_id=staff, process_id=pid, summary="Three courtyards", outcomes="40 planters"
    )
    success_stories.opt_in_story(db.unit_of_work(), user_id=member, process_id=pid)
    with pytest.raises(Forbidden, match="approved contribution"):
        success_stories.opt_in_story(db.unit_of_work(), user_id=community.user(), process_id=pid)
    with db.read_sessions() as session:
        assert session.scalars(select(StoryOptIn.user_id)).all() == [member]
