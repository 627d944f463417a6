"""Community portal pages (#3) through the Flask test client: processes and their tree,
joining, managers' forms, teams, the resource library, success stories, contributing with
evidence files, members' contributions and the validators' queue. Each page is checked for
the role that may use it and refused to the others; bad input shows a form error and writes
nothing."""

from __future__ import annotations

import hashlib
import io
import re

import pytest
from sqlalchemy import func, select

from community import contributions
from community.evidence import MAX_EVIDENCE_BYTES, evidence_path
from community.models import (
    Contribution,
    Grant,
    LibraryItem,
    LibraryRating,
    Objective,
    Phase,
    Prerequisite,
    Process,
    ProcessApplication,
    Role,
    StoryOptIn,
    SuccessStory,
    Task,
    Team,
    TeamMember,
)
from community.processes import building, permissions, progress, resources, teamwork
from rewards.models import LedgerEntry

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


# --- helpers ---------------------------------------------------------------------------------


class Portal:
    """Log in as someone and post forms with a valid CSRF token."""

    def __init__(self, app, client, auth, community) -> None:
        self.app, self.client, self.auth, self.c = app, client, auth, community
        self.db = app.extensions["kopa.db"]

    def login(self, user_id: int) -> None:
        self.client.post("/logout", data={"csrf_token": self.auth.csrf("/login")})
        response = self.auth.login(self.c.email_of(user_id))
        assert response.status_code == 302

    def logout(self) -> None:
        self.client.post("/logout", data={"csrf_token": self.auth.csrf("/login")})

    def post(self, path: str, data: dict | None = None, **kwargs):
        body = {"csrf_token": self.auth.csrf("/login"), **(data or {})}
        return self.client.post(path, data=body, **kwargs)

    def count(self, model, *where) -> int:
        with self.db.read_sessions() as session:
            return session.scalar(select(func.count()).select_from(model).where(*where))

    def one(self, model, *where):
        with self.db.read_sessions() as session:
            return session.scalars(select(model).where(*where).order_by(model.id)).one()

    def get(self, model, id_):
        with self.db.read_sessions() as session:
            return session.get(model, id_)

    def uow(self):
        return self.db.unit_of_work()


@pytest.fixture
def portal(app, client, auth, app_community):
    return Portal(app, client, auth, app_community)


@pytest.fixture
def people(app_community):
    return app_community.people(
        staff=(Role.STAFF, "Staff Sandra"),
        staff2=(Role.STAFF, "Staff Janis"),
        outsider_staff=(Role.STAFF, "Staff Other"),
        member="Member Liga",
        other="Member Pablo",
        auditor=(Role.AUDITOR, "Auditor Andris"),
        admin=(Role.ADMIN, "Admin Alise"),
    )


def text_of(response) -> str:
    return response.get_data(as_text=True)


def evidence_files(app) -> list:
    root = evidence_path(app.instance_path, "00").parents[1]
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def tree_process(portal, staff: int, membership: str = "open", title: str = "Courtyards") -> dict:
    """A process with two phases (one objective and one task each) built by services."""
    pid = building.create_process(portal.uow(), actor_id=staff, title=title, membership=membership)
    ids: dict = {"process": pid}
    for n in (1, 2):
        ids[f"phase{n}"] = building.add_node(
            portal.uow(), actor_id=staff, kind="phase", parent_id=pid, title=f"Phase {n}"
        )
        ids[f"objective{n}"] = building.add_node(
            portal.uow(), actor_id=staff, kind="objective", parent_id=ids[f"phase{n}"], title=f"Objective {n}"
        )
        ids[f"task{n}"] = building.add_node(
            portal.uow(), actor_id=staff, kind="task", parent_id=ids[f"objective{n}"], title=f"Task {n}",
            complexity=40,
        )
    return ids


def submit(portal, member: int, task_id: int, text: str = "I did it", **kwargs) -> int:
    return contributions.submit_contribution(portal.uow(), member_id=member, task_id=task_id, text=text,
                                             **kwargs)


# --- who may open which page ------------------------------------------------------------------


def test_anonymous_is_sent_to_login_for_member_and_staff_pages(portal, people):
    ids = tree_process(portal, people["staff"])
    cid = submit(portal, people["member"], ids["task1"])
    for path in ("/teams", "/processes/new", "/validation", f"/contributions/{cid}",
                 f"/contributions/{cid}/evidence", "/contributions"):
        response = portal.client.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"], path
    response = portal.post(f"/processes/{ids['process']}/join")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert portal.count(ProcessApplication) == 0


def test_public_pages_render_for_anonymous_visitors(portal, people):
    ids = tree_process(portal, people["staff"])
    for path in ("/", "/processes", f"/processes/{ids['process']}", f"/tasks/{ids['task1']}",
                 "/library", "/stories"):
        response = portal.client.get(path)
        assert response.status_code == 200, path
    page = text_of(portal.client.get(f"/processes/{ids['process']}"))
    assert "Phase 1" in page and "Objective 2" in page and "Task 2" in page
    assert "Log in</a> to join" in page
    assert "Manage this process" not in page


def test_each_page_renders_for_its_role_and_refuses_others(portal, people):
    ids = tree_process(portal, people["staff"])
    member_pages = ("/teams", "/contributions", "/processes", "/library", "/stories")
    staff_pages = ("/processes/new", "/validation")
    portal.login(people["member"])
    for path in member_pages:
        assert portal.client.get(path).status_code == 200, path
    for path in staff_pages:
        assert portal.client.get(path).status_code == 403, path
    assert "Manage this process" not in text_of(portal.client.get(f"/processes/{ids['process']}"))
    portal.login(people["staff"])
    for path in member_pages + staff_pages:
        assert portal.client.get(path).status_code == 200, path
    assert "Manage this process" in text_of(portal.client.get(f"/processes/{ids['process']}"))
    portal.login(people["outsider_staff"])  # staff, but not a manager of this process
    assert "Manage this process" not in text_of(portal.client.get(f"/processes/{ids['process']}"))
    portal.login(people["admin"])
    assert "Manage this process" in text_of(portal.client.get(f"/processes/{ids['process']}"))


def test_nav_links_to_the_community_pages(portal, people):
    page = text_of(portal.client.get("/"))
    for href in ('href="/processes"', 'href="/library"', 'href="/stories"'):
        assert href in page
    assert 'href="/teams"' not in page
    portal.login(people["member"])
    assert 'href="/teams"' in text_of(portal.client.get("/"))


def test_invite_only_process_is_hidden_from_members_without_a_grant(portal, people):
    ids = tree_process(portal, people["staff"], membership="invite", title="Secret plan")
    portal.login(people["member"])
    assert portal.client.get(f"/processes/{ids['process']}").status_code == 404
    assert portal.client.get(f"/tasks/{ids['task1']}").status_code == 404
    assert "Secret plan" not in text_of(portal.client.get("/processes"))
    assert "Secret plan" not in text_of(portal.client.get("/"))


# --- processes: staff create, clone and manage ---------------------------------------------------


def test_staff_create_a_process_from_a_template(portal, people):
    portal.login(people["staff"])
    response = portal.post("/processes/new", {
        "title": "Hack the bus stops", "description": "Two days", "membership": "application",
        "template": "hackathon", "organisation": "Riga City", "starts_on": "2026-05-01",
        "ends_on": "2026-05-03",
    })
    assert response.status_code == 302
    process = portal.one(Process, Process.title == "Hack the bus stops")
    assert response.headers["Location"].endswith(f"/processes/{process.id}")
    assert process.template == "hackathon" and process.membership == "application"
    assert str(process.starts_on) == "2026-05-01"
    assert portal.count(Phase, Phase.process_id == process.id) == 5
    assert portal.count(Grant, Grant.process_id == process.id, Grant.user_id == people["staff"]) == 1
    page = text_of(portal.client.get(f"/processes/{process.id}"))
    assert "Riga City" in page and "Ship a working demo" in page and "after: Prepare" in page
    assert '<progress max="100" value="0"' in page


def test_new_process_page_lists_every_template(portal, people):
    from community.templates import TEMPLATES

    portal.login(people["staff"])
    page = text_of(portal.client.get("/processes/new"))
    for key in TEMPLATES:
        assert f'value="{key}"' in page
    assert "An empty process" in page


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"title": "", "membership": "open"}, "This field is required"),
        ({"title": "X", "membership": "open", "template": "nonsense"}, "Not a valid choice"),
        ({"title": "X", "membership": "everyone"}, "Not a valid choice"),
        ({"title": "X", "membership": "open", "starts_on": "2026-05-03", "ends_on": "2026-05-01"},
         "end date is before the start date"),
        ({"title": "X", "membership": "open", "starts_on": "03/05/2026"}, "Not a valid date"),
        ({"title": "X" * 201, "membership": "open"}, "Field cannot be longer than 200"),
    ],
)
def test_new_process_bad_input_shows_form_errors_and_writes_nothing(portal, people, data, message):
    portal.login(people["staff"])
    response = portal.post("/processes/new", data)
    assert response.status_code == 400
    assert message in text_of(response)
    assert portal.count(Process) == 0


def test_clone_copies_the_tree_for_staff_only(portal, people):
    ids = tree_process(portal, people["staff"])
    portal.login(people["member"])
    assert portal.post(f"/processes/{ids['process']}/clone").status_code == 403
    portal.login(people["staff2"])
    response = portal.post(f"/processes/{ids['process']}/clone", {"clone-title": "Courtyards 2027"})
    assert response.status_code == 302
    copy = portal.one(Process, Process.title == "Courtyards 2027")
    assert copy.cloned_from_id == ids["process"]
    assert portal.count(Task, Task.process_id == copy.id) == 2
    assert "Manage this process" in text_of(portal.client.get(response.headers["Location"]))


def test_manager_builds_the_tree_with_the_forms(portal, people):
    ids = tree_process(portal, people["staff"])
    item = resources.create_library_item(
        portal.uow(), actor_id=people["staff"], title="Interview guide", kind="guide",
        link="https://example.org/guide", languages="lv, en")
    pid = ids["process"]
    portal.login(people["staff"])
    assert portal.post(f"/processes/{pid}/phases", {"phase-title": "Phase 3"}).status_code == 302
    phase = portal.one(Phase, Phase.title == "Phase 3")
    response = portal.post(f"/processes/{pid}/objectives", {"objective-phase_id": phase.id,
                                                             "objective-title": "Objective 3"})
    assert response.status_code == 302
    objective = portal.one(Objective, Objective.title == "Objective 3")
    response = portal.post(f"/processes/{pid}/tasks", {
        "task-objective_id": objective.id, "task-title": "Task 3", "task-complexity": "60",
        "task-description": "Interview two neighbours", "task-resources": [item],
    })
    assert response.status_code == 302
    task = portal.one(Task, Task.title == "Task 3")
    assert task.complexity == 60 and task.process_id == pid
    task_page = text_of(portal.client.get(f"/tasks/{task.id}"))
    assert "Interview guide" in task_page and 'href="https://example.org/guide"' in task_page
    assert "Interview two neighbours" in task_page

    page = text_of(portal.client.get(f"/processes/{pid}"))
    for label in ("Add a phase", "Add an objective", "Add a task", "Add a prerequisite", "Settings",
                  "Permissions", "Applications"):
        assert label in page
    for complexity in (0, 20, 40, 60, 80, 100):
        assert re.search(f'<option (selected )?value="{complexity}">{complexity}</option>', page)


def test_tree_form_errors_write_nothing(portal, people):
    ids = tree_process(portal, people["staff"])
    pid = ids["process"]
    other = tree_process(portal, people["staff"], title="Other")
    portal.login(people["staff"])
    tasks_before = portal.count(Task)
    response = portal.post(f"/processes/{pid}/tasks", {
        "task-objective_id": ids["objective1"], "task-title": "Bad", "task-complexity": "50"})
    assert response.status_code == 400 and "Not a valid choice" in text_of(response)
    response = portal.post(f"/processes/{pid}/tasks", {
        "task-objective_id": ids["objective1"], "task-title": "  ", "task-complexity": "20"})
    assert response.status_code == 400 and "This field is required" in text_of(response)
    response = portal.post(f"/processes/{pid}/tasks", {
        "task-objective_id": other["objective1"], "task-title": "Elsewhere", "task-complexity": "20"})
    assert response.status_code == 400 and "Not a valid choice" in text_of(response)
    assert portal.count(Task) == tasks_before
    response = portal.post(f"/processes/{pid}/phases", {"phase-title": "P", "phase-starts_on": "2026-06-02",
                                                         "phase-ends_on": "2026-06-01"})
    assert response.status_code == 400 and "end date is before the start date" in text_of(response)
    assert portal.count(Phase, Phase.process_id == pid) == 2


def test_outsiders_cannot_use_the_managers_forms(portal, people):
    ids = tree_process(portal, people["staff"])
    pid = ids["process"]
    for who in ("member", "outsider_staff"):
        portal.login(people[who])
        assert portal.post(f"/processes/{pid}/phases", {"phase-title": "Mine"}).status_code == 403
        assert portal.post(f"/processes/{pid}/status", {"kind": "task", "node_id": ids["task1"],
                                                         "status": "done"}).status_code == 403
        assert portal.post(f"/processes/{pid}/settings", {"settings-membership": "invite",
                                                           "settings-cap_period": "week"}).status_code == 403
        assert portal.post(f"/processes/{pid}/grants", {
            "grant-user_email": portal.c.email_of(people[who]), "grant-permission": "manage",
            "grant-node": "process"}).status_code == 403
    assert portal.count(Phase, Phase.process_id == pid) == 2
    assert portal.get(Task, ids["task1"]).status == "not_started"
    assert portal.get(Process, pid).membership == "open"
    assert portal.count(Grant, Grant.process_id == pid) == 1


def test_status_changes_respect_prerequisites_and_progress_rolls_up(portal, people):
    ids = tree_process(portal, people["staff"])
    pid = ids["process"]
    portal.login(people["staff"])
    response = portal.post(f"/processes/{pid}/prerequisites", {
        "prereq-node": f"phase:{ids['phase2']}", "prereq-requires": f"phase:{ids['phase1']}"})
    assert response.status_code == 302
    assert portal.count(Prerequisite, Prerequisite.node_id == ids["phase2"]) == 1
    mixed = portal.post(f"/processes/{pid}/prerequisites", {
        "prereq-node": f"task:{ids['task2']}", "prereq-requires": f"phase:{ids['phase1']}"})
    assert mixed.status_code == 400 and "same kind" in text_of(mixed)
    cycle = portal.post(f"/processes/{pid}/prerequisites", {
        "prereq-node": f"phase:{ids['phase1']}", "prereq-requires": f"phase:{ids['phase2']}"})
    assert cycle.status_code == 409 and "cycle" in text_of(cycle)
    assert portal.count(Prerequisite, Prerequisite.node_id == ids["phase1"]) == 0

    blocked = portal.post(f"/processes/{pid}/status", {"kind": "phase", "node_id": ids["phase2"],
                                                       "status": "in_progress"})
    assert blocked.status_code == 409 and "cannot start before" in text_of(blocked)
    assert portal.get(Phase, ids["phase2"]).status == "not_started"
    bogus = portal.post(f"/processes/{pid}/status", {"kind": "phase", "node_id": ids["phase2"],
                                                     "status": "finished"})
    assert bogus.status_code == 400
    foreign = tree_process(portal, people["staff"], title="Other")
    elsewhere = portal.post(f"/processes/{pid}/status", {"kind": "task", "node_id": foreign["task1"],
                                                         "status": "done"})
    assert elsewhere.status_code == 400 and portal.get(Task, foreign["task1"]).status == "not_started"

    done = portal.post(f"/processes/{pid}/status",
                       {"kind": "task", "node_id": ids["task1"], "status": "done"})
    assert done.status_code == 302
    page = text_of(portal.client.get(f"/processes/{pid}"))
    assert 'aria-label="Progress of Objective 1">100%' in page
    assert 'aria-label="Progress of Phase 2">0%' in page
    assert 'aria-label="Progress of Courtyards">50%' in page
    assert portal.post(f"/processes/{pid}/status", {"kind": "phase", "node_id": ids["phase1"],
                                                     "status": "done"}).status_code == 302
    assert portal.post(f"/processes/{pid}/status", {"kind": "phase", "node_id": ids["phase2"],
                                                     "status": "in_progress"}).status_code == 302
    assert portal.get(Phase, ids["phase2"]).status == "in_progress"


def test_settings_form_saves_and_validates(portal, people):
    ids = tree_process(portal, people["staff"])
    pid = ids["process"]
    portal.login(people["staff"])
    response = portal.post(f"/processes/{pid}/settings", {
        "settings-membership": "application", "settings-four_eyes_threshold": "80",
        "settings-points_cap": "200", "settings-cap_period": "week"})
    assert response.status_code == 302
    process = portal.get(Process, pid)
    assert (process.membership, process.four_eyes_threshold, process.points_cap, process.cap_period) == (
        "application", 80, 200, "week")
    bad = portal.post(f"/processes/{pid}/settings", {
        "settings-membership": "open", "settings-four_eyes_threshold": "-5",
        "settings-points_cap": "", "settings-cap_period": "week"})
    assert bad.status_code == 400 and "Number must be" in text_of(bad)
    assert portal.get(Process, pid).membership == "application"
    page = text_of(portal.client.get(f"/processes/{pid}"))
    assert re.search(r'<input [^>]*name="settings-four_eyes_threshold" type="number" value="80">', page)


# --- joining and grants ----------------------------------------------------------------------------


def test_joining_an_open_process_and_applying_to_another(portal, people):
    open_ids = tree_process(portal, people["staff"])
    app_ids = tree_process(portal, people["staff"], membership="application", title="Library garden")
    portal.login(people["member"])
    response = portal.post(f"/processes/{open_ids['process']}/join", follow_redirects=True)
    assert response.status_code == 200 and "Joined." in text_of(response)

    task_page = text_of(portal.client.get(f"/tasks/{app_ids['task1']}"))
    assert "You may not contribute to this task yet" in task_page and "Submit a contribution" not in task_page
    response = portal.post(f"/processes/{app_ids['process']}/join", {"join-message": "I garden"},
                           follow_redirects=True)
    assert "Pending." in text_of(response)
    again = portal.post(f"/processes/{app_ids['process']}/join")
    assert again.status_code == 409 and "already applied" in text_of(again)
    assert portal.count(ProcessApplication, ProcessApplication.process_id == app_ids["process"]) == 1

    application = portal.one(ProcessApplication, ProcessApplication.process_id == app_ids["process"])
    assert portal.post(f"/applications/{application.id}/accept").status_code == 403
    portal.login(people["staff"])
    page = text_of(portal.client.get(f"/processes/{app_ids['process']}"))
    assert "Member Liga" in page and "I garden" in page
    assert portal.post(f"/applications/{application.id}/accept").status_code == 302
    assert portal.get(ProcessApplication, application.id).state == "accepted"

    portal.login(people["member"])
    assert "Joined." in text_of(portal.client.get(f"/processes/{app_ids['process']}"))
    assert "Submit a contribution" in text_of(portal.client.get(f"/tasks/{app_ids['task1']}"))


def test_declined_application_can_apply_again(portal, people):
    ids = tree_process(portal, people["staff"], membership="application")
    portal.login(people["member"])
    portal.post(f"/processes/{ids['process']}/join")
    application = portal.one(ProcessApplication, ProcessApplication.process_id == ids["process"])
    portal.login(people["staff"])
    assert portal.post(f"/applications/{application.id}/decline").status_code == 302
    again = portal.post(f"/applications/{application.id}/accept", follow_redirects=True)
    assert "already declined" in text_of(again)
    portal.login(people["member"])
    page = text_of(portal.client.get(f"/processes/{ids['process']}"))
    assert "declined; you may apply again" in page and "Apply to join" in page


def test_team_granted_contribute_on_a_phase_contributes_there_only(portal, people):
    """Acceptance 5 through the pages: grants inherit down the phase and no further."""
    ids = tree_process(portal, people["staff"], membership="invite")
    team = teamwork.create_team(portal.uow(), actor_id=people["other"], name="Neighbours", kind="citizens")
    teamwork.add_team_member(portal.uow(), actor_id=people["other"], team_id=team,
                             email=portal.c.email_of(people["member"]))
    portal.login(people["staff"])
    response = portal.post(f"/processes/{ids['process']}/grants", {
        "grant-team_id": str(team), "grant-permission": "contribute", "grant-node": f"phase:{ids['phase1']}"})
    assert response.status_code == 302
    page = text_of(portal.client.get(f"/processes/{ids['process']}"))
    assert "Neighbours</a> (team)" in page and "Phase · Phase 1" in page

    portal.login(people["member"])
    assert "Submit a contribution" in text_of(portal.client.get(f"/tasks/{ids['task1']}"))
    assert portal.client.get(f"/tasks/{ids['task2']}").status_code == 404
    path = f"/tasks/{ids['task1']}"
    assert portal.post(path, {"text": "Counted the trees"}).status_code == 302
    assert portal.count(Contribution) == 1
    assert portal.post(f"/tasks/{ids['task2']}", {"text": "Sneaky"}).status_code == 404
    assert portal.count(Contribution) == 1
    team_page = text_of(portal.client.get(f"/teams/{team}"))
    assert "Courtyards" in team_page and "phase · Phase 1" in team_page and "contribute" in team_page


def test_grant_form_errors_and_revoking_a_grant(portal, people):
    ids = tree_process(portal, people["staff"])
    pid = ids["process"]
    portal.login(people["staff"])
    unknown = portal.post(f"/processes/{pid}/grants", {
        "grant-user_email": "nobody@example.org", "grant-permission": "view", "grant-node": "process"})
    assert unknown.status_code == 404 and "no member has that e-mail address" in text_of(unknown)
    neither = portal.post(f"/processes/{pid}/grants", {"grant-permission": "view", "grant-node": "process"})
    assert neither.status_code == 400 and "exactly one team or one user" in text_of(neither)
    bad_node = portal.post(f"/processes/{pid}/grants", {
        "grant-user_email": portal.c.email_of(people["member"]), "grant-permission": "view",
        "grant-node": "phase:999999"})
    assert bad_node.status_code == 400 and "Not a valid choice" in text_of(bad_node)
    assert portal.count(Grant, Grant.process_id == pid) == 1

    response = portal.post(f"/processes/{pid}/grants", {
        "grant-user_email": portal.c.email_of(people["staff2"]), "grant-permission": "manage",
        "grant-node": f"task:{ids['task2']}"})
    assert response.status_code == 302
    grant = portal.one(Grant, Grant.process_id == pid, Grant.user_id == people["staff2"])
    assert grant.task_id == ids["task2"] and grant.permission == 3
    portal.login(people["member"])
    assert portal.post(f"/grants/{grant.id}/revoke").status_code == 403
    portal.login(people["staff"])
    assert portal.post(f"/grants/{grant.id}/revoke").status_code == 302
    assert portal.get(Grant, grant.id) is None
    own = portal.one(Grant, Grant.process_id == pid, Grant.user_id == people["staff"])
    response = portal.post(f"/grants/{own.id}/revoke", follow_redirects=True)
    assert "cannot remove your own management" in text_of(response)
    assert portal.get(Grant, own.id) is not None


# --- teams ---------------------------------------------------------------------------------------


def test_teams_create_add_promote_and_remove_members(portal, people):
    portal.login(people["member"])
    response = portal.post("/teams", {"name": "Āgenskalns residents", "kind": "citizens"})
    assert response.status_code == 302
    team = portal.one(Team, Team.name == "Āgenskalns residents")
    assert response.headers["Location"].endswith(f"/teams/{team.id}")
    response = portal.post(f"/teams/{team.id}/members", {"email": portal.c.email_of(people["other"])})
    assert response.status_code == 302
    page = text_of(portal.client.get(f"/teams/{team.id}"))
    assert "Member Pablo" in page and "Make admin" in page
    assert "Āgenskalns residents" in text_of(portal.client.get("/teams"))

    portal.login(people["other"])  # a plain member of the team
    adding = portal.post(f"/teams/{team.id}/members", {"email": portal.c.email_of(people["auditor"])})
    assert adding.status_code == 403
    assert portal.post(f"/teams/{team.id}/members/{people['member']}/remove").status_code == 403
    assert "Add a member" not in text_of(portal.client.get(f"/teams/{team.id}"))

    portal.login(people["member"])
    last = portal.post(f"/teams/{team.id}/members/{people['member']}/remove")
    assert last.status_code == 409 and "last admin" in text_of(last)
    assert portal.post(f"/teams/{team.id}/members/{people['other']}/admin").status_code == 302
    assert portal.one(TeamMember, TeamMember.team_id == team.id,
                      TeamMember.user_id == people["other"]).is_admin
    assert portal.post(f"/teams/{team.id}/members/{people['member']}/remove").status_code == 302
    assert portal.count(TeamMember, TeamMember.team_id == team.id) == 1

    portal.login(people["staff"])  # staff manage any team
    assert portal.post(f"/teams/{team.id}/members", {"email": portal.c.email_of(people["member"]),
                                                      "is_admin": "y"}).status_code == 302
    assert portal.one(TeamMember, TeamMember.team_id == team.id,
                      TeamMember.user_id == people["member"]).is_admin


def test_team_form_errors_write_nothing(portal, people):
    portal.login(people["member"])
    assert portal.post("/teams", {"name": "", "kind": "citizens"}).status_code == 400
    bad_kind = portal.post("/teams", {"name": "X", "kind": "pirates"})
    assert bad_kind.status_code == 400 and "Not a valid choice" in text_of(bad_kind)
    assert portal.post("/teams", {"name": "Makers", "kind": "for_profit"}).status_code == 302
    duplicate = portal.post("/teams", {"name": "Makers", "kind": "non_profit"})
    assert duplicate.status_code == 409 and "already exists" in text_of(duplicate)
    team = portal.one(Team, Team.name == "Makers")
    unknown = portal.post(f"/teams/{team.id}/members", {"email": "ghost@example.org"})
    assert unknown.status_code == 404 and "no member has that e-mail address" in text_of(unknown)
    empty = portal.post(f"/teams/{team.id}/members", {"email": ""})
    assert empty.status_code == 400 and "This field is required" in text_of(empty)
    assert portal.count(Team) == 1 and portal.count(TeamMember) == 1


# --- resource library and success stories ------------------------------------------------------------


def test_library_staff_add_and_members_rate(portal, people):
    portal.login(people["member"])
    assert portal.post("/library", {"title": "T", "kind": "guide", "link": "https://x.org",
                                     "languages": "en"}).status_code == 403
    assert "Add a resource" not in text_of(portal.client.get("/library"))
    portal.login(people["staff"])
    response = portal.post("/library", {"title": "Persona template", "kind": "template",
                                        "link": "https://example.org/persona", "languages": "lv, en",
                                        "description": "One page per persona"})
    assert response.status_code == 302
    item = portal.one(LibraryItem, LibraryItem.title == "Persona template")
    assert item.languages == "lv,en"
    for data, message, status in (
        ({"title": "X", "kind": "guide", "link": "not a url", "languages": "en"}, "Invalid URL", 400),
        ({"title": "X", "kind": "poster", "link": "https://x.org", "languages": "en"},
         "Not a valid choice", 400),
        ({"title": "X", "kind": "guide", "link": "https://x.org", "languages": "english"},
         "languages must be language codes", 400),
        ({"title": "X", "kind": "guide", "link": "ftp://x.org/file", "languages": "en"}, "Invalid URL", 400),
    ):
        bad = portal.post("/library", data)
        assert bad.status_code == status and message in text_of(bad), data
    assert portal.count(LibraryItem) == 1

    portal.login(people["member"])
    assert portal.post(f"/library/{item.id}/rate", {"stars": "4"}).status_code == 302
    portal.login(people["other"])
    assert portal.post(f"/library/{item.id}/rate", {"stars": "5"}).status_code == 302
    assert portal.post(f"/library/{item.id}/rate", {"stars": "9"}).status_code == 400
    page = text_of(portal.client.get("/library"))
    assert "4.5 / 5" in page and "(2 ratings)" in page and "lv,en" in page
    assert portal.count(LibraryRating) == 2
    portal.logout()
    response = portal.post(f"/library/{item.id}/rate", {"stars": "1"})
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert portal.count(LibraryRating) == 2


def test_rating_redirect_stays_on_this_site(portal, people):
    item = resources.create_library_item(portal.uow(), actor_id=people["staff"], title="Tool", kind="tool",
                                         link="https://example.org/tool")
    portal.login(people["member"])
    response = portal.post(f"/library/{item}/rate", {"stars": "3", "next": "https://evil.example/"})
    assert response.status_code == 302 and "evil" not in response.headers["Location"]
    response = portal.post(f"/library/{item}/rate", {"stars": "3", "next": "/tasks/1"})
    assert response.headers["Location"].endswith("/tasks/1")


def test_success_story_published_when_done_and_participants_opt_in(portal, people):
    ids = tree_process(portal, people["staff"])
    pid = ids["process"]
    cid = submit(portal, people["member"], ids["task1"])
    contributions.approve_contribution(portal.uow(), validator_id=people["staff"], contribution_id=cid,
                                       level="low")
    portal.login(people["staff"])
    page = text_of(portal.client.get(f"/processes/{pid}"))
    assert "When the process is done" in page and "Publish the story" not in page
    early = portal.post(f"/processes/{pid}/story", {"story-summary": "S", "story-outcomes": "O"})
    assert early.status_code == 409 and "only finished processes" in text_of(early)
    with portal.db.write_sessions() as session:  # the process itself is finished by its managers
        session.get(Process, pid).status = "done"
        session.commit()
    empty = portal.post(f"/processes/{pid}/story", {"story-summary": "", "story-outcomes": "O"})
    assert empty.status_code == 400 and portal.count(SuccessStory) == 0
    response = portal.post(f"/processes/{pid}/story", {"story-summary": "Three courtyards got planters.",
                                                       "story-outcomes": "40 planters, 2 benches"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/stories")

    portal.login(people["other"])  # no approved contribution here
    assert "Name me in the story" not in text_of(portal.client.get(f"/processes/{pid}"))
    assert portal.post(f"/processes/{pid}/story/in").status_code == 403
    portal.login(people["member"])
    assert "Name me in the story" in text_of(portal.client.get(f"/processes/{pid}"))
    assert portal.post(f"/processes/{pid}/story/in").status_code == 302
    stories = text_of(portal.client.get("/stories"))
    assert "Three courtyards got planters." in stories and "40 planters" in stories
    assert "<li>Member Liga</li>" in stories
    assert portal.post(f"/processes/{pid}/story/out").status_code == 302
    assert portal.count(StoryOptIn) == 0
    assert "<li>Member Liga</li>" not in text_of(portal.client.get("/stories"))


# --- contributing with evidence (acceptance 6 through the page) ---------------------------------------


def upload(portal, task_id: int, filename: str, data: bytes, **fields):
    body = {"text": "See the attached file", "evidence_file": (io.BytesIO(data), filename), **fields}
    return portal.post(f"/tasks/{task_id}", body, content_type="multipart/form-data")


def test_valid_pdf_is_stored_with_its_hash_and_served_to_allowed_roles_only(app, portal, people):
    ids = tree_process(portal, people["staff"])
    portal.login(people["member"])
    response = upload(portal, ids["task1"], "Report 2026.pdf", PDF,
                      co_contributors=portal.c.email_of(people["other"]))
    assert response.status_code == 302
    digest = hashlib.sha256(PDF).hexdigest()
    contribution = portal.one(Contribution)
    assert contribution.evidence_sha256 == digest
    assert contribution.evidence_filename == "Report 2026.pdf"
    assert contribution.evidence_content_type == "application/pdf"
    assert contribution.evidence_size == len(PDF)
    stored = evidence_path(app.instance_path, digest)
    assert stored.read_bytes() == PDF and stored.parent.parent.name == "evidence"
    assert evidence_files(app) == [stored]
    listing = text_of(portal.client.get("/contributions"))
    assert f"/contributions/{contribution.id}/evidence" in listing and digest in listing

    path = f"/contributions/{contribution.id}/evidence"
    for who in ("member", "other", "staff", "auditor", "admin"):
        portal.login(people[who])
        response = portal.client.get(path)
        assert response.status_code == 200, who
        assert response.data == PDF
        assert response.headers["Content-Type"] == "application/pdf"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Content-Disposition"].startswith("inline")
        assert "Report 2026.pdf" in response.headers["Content-Disposition"]
    for who in ("outsider_staff", "staff2"):
        portal.login(people[who])
        assert portal.client.get(path).status_code == 403, who
    portal.login(people["admin"])
    assert portal.client.get(f"/contributions/{contribution.id + 1}/evidence").status_code == 404


def test_png_is_shown_inline_and_text_is_downloaded(app, portal, people):
    ids = tree_process(portal, people["staff"])
    portal.login(people["member"])
    assert upload(portal, ids["task1"], "photo.png", PNG).status_code == 302
    assert upload(portal, ids["task1"], "notes.txt", b"Benches: 4, bins: 2\n").status_code == 302
    png = portal.one(Contribution, Contribution.evidence_filename == "photo.png")
    txt = portal.one(Contribution, Contribution.evidence_filename == "notes.txt")
    response = portal.client.get(f"/contributions/{png.id}/evidence")
    assert response.headers["Content-Type"] == "image/png"
    assert response.headers["Content-Disposition"].startswith("inline")
    response = portal.client.get(f"/contributions/{txt.id}/evidence")
    assert response.headers["Content-Type"].startswith("text/plain")
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert len(evidence_files(app)) == 2


def test_oversize_file_is_413_with_a_message_and_nothing_is_stored(app, portal, people):
    ids = tree_process(portal, people["staff"])
    portal.login(people["member"])
    response = upload(portal, ids["task1"], "big.pdf", b"%PDF-" + b"0" * (MAX_EVIDENCE_BYTES - 4))
    assert response.status_code == 413
    page = text_of(response)
    assert "evidence files may be at most 10 MB" in page and "Submit a contribution" in page
    assert evidence_files(app) == [] and portal.count(Contribution) == 0


def test_body_beyond_the_request_limit_is_413_with_a_message(app, portal, people):
    ids = tree_process(portal, people["staff"])
    portal.login(people["member"])
    response = upload(portal, ids["task1"], "huge.pdf", b"%PDF-" + b"0" * (12 * 1024 * 1024))
    assert response.status_code == 413
    assert "evidence files may be at most 10 MB" in text_of(response)
    assert evidence_files(app) == [] and portal.count(Contribution) == 0


@pytest.mark.parametrize(
    ("filename", "data", "message"),
    [
        ("setup.exe", b"MZ\x90\x00" + b"\x00" * 100, "files of this type are not accepted"),
        ("no-extension", PDF, "files of this type are not accepted"),
        ("report.pdf", b"MZ\x90\x00 not a pdf", "not a PDF file"),
        ("photo.png", PDF, "not a PNG file"),
        ("notes.txt", b"\xff\xfe\x00binary", "not UTF-8 text"),
        ("empty.pdf", b"", "empty"),
    ],
)
def test_disallowed_or_mislabelled_files_are_400_and_nothing_is_stored(
    app, portal, people, filename, data, message
):
    ids = tree_process(portal, people["staff"])
    portal.login(people["member"])
    response = upload(portal, ids["task1"], filename, data)
    assert response.status_code == 400
    assert message in text_of(response)
    assert evidence_files(app) == [] and portal.count(Contribution) == 0


def test_file_is_removed_again_when_the_submission_fails(app, portal, people):
    ids = tree_process(portal, people["staff"])
    portal.login(people["member"])
    response = upload(portal, ids["task1"], "report.pdf", PDF, co_contributors="ghost@example.org")
    assert response.status_code == 400
    assert "no member has the e-mail address" in text_of(response)
    assert evidence_files(app) == [] and portal.count(Contribution) == 0
    # A file stored before by another contribution stays when a later submission fails.
    assert upload(portal, ids["task1"], "report.pdf", PDF).status_code == 302
    response = upload(portal, ids["task1"], "report.pdf", PDF, co_contributors="ghost@example.org")
    assert response.status_code == 400
    assert len(evidence_files(app)) == 1 and portal.count(Contribution) == 1


def test_contribution_form_errors_and_the_rate_limit(app, portal, people):
    ids = tree_process(portal, people["staff"])
    portal.login(people["member"])
    path = f"/tasks/{ids['task1']}"
    bad_url = portal.post(path, {"text": "x", "evidence_url": "javascript:alert(1)"})
    assert bad_url.status_code == 400 and "Invalid URL" in text_of(bad_url)
    myself = portal.post(path, {"text": "x", "co_contributors": portal.c.email_of(people["member"])})
    assert myself.status_code == 400 and "do not list yourself" in text_of(myself)
    assert portal.count(Contribution) == 0
    app.config["KOPA_SUBMISSIONS_PER_HOUR"] = 1
    assert portal.post(path, {"text": "first"}).status_code == 302
    limited = portal.post(path, {"text": "second"})
    assert limited.status_code == 429 and "the limit is 1 per hour" in text_of(limited)
    assert portal.count(Contribution) == 1


def test_closed_or_blocked_tasks_take_no_contributions(portal, people):
    ids = tree_process(portal, people["staff"])
    progress.add_prerequisite(portal.uow(), actor_id=people["staff"], kind="task", node_id=ids["task2"],
                              requires_id=ids["task1"])
    portal.login(people["member"])
    page = text_of(portal.client.get(f"/tasks/{ids['task2']}"))
    assert "This task opens when Task 1 is done" in page and "Submit a contribution" not in page
    response = portal.post(f"/tasks/{ids['task2']}", {"text": "early"})
    assert response.status_code == 409 and "opens when Task 1 is done" in text_of(response)
    assert portal.count(Contribution) == 0


# --- members' contributions: history, resubmit, appeal ---------------------------------------------------


def test_history_resubmit_after_changes_requested(portal, people):
    ids = tree_process(portal, people["staff"])
    cid = submit(portal, people["member"], ids["task1"], text="First try")
    contributions.request_changes(portal.uow(), validator_id=people["staff"], contribution_id=cid,
                                  comment="Add a photo please")
    portal.login(people["member"])
    page = text_of(portal.client.get("/contributions"))
    assert "changes requested" in page and "Add a photo please" in page and "Staff Sandra" in page
    assert f'action="/contributions/{cid}/resubmit"' in page and "Appeal</button>" not in page
    empty = portal.post(f"/contributions/{cid}/resubmit", {"text": " "})
    assert empty.status_code == 400 and "This field is required" in text_of(empty)
    assert portal.get(Contribution, cid).state == "changes_requested"
    portal.login(people["other"])
    assert portal.post(f"/contributions/{cid}/resubmit", {"text": "mine now"}).status_code == 403
    portal.login(people["member"])
    response = portal.post(f"/contributions/{cid}/resubmit", {"text": "Second try, with photo",
                                                              "evidence_url": "https://example.org/p.jpg"})
    assert response.status_code == 302
    contribution = portal.get(Contribution, cid)
    assert (contribution.state, contribution.text) == ("pending", "Second try, with photo")
    detail = text_of(portal.client.get(f"/contributions/{cid}"))
    assert detail.count("<tr><td>") == 3  # submitted, changes requested, resubmitted
    again = portal.post(f"/contributions/{cid}/resubmit", {"text": "Third"})
    assert again.status_code == 409 and "resubmitting needs it changes_requested" in text_of(again)


def test_appeal_once_after_rejection(portal, people):
    ids = tree_process(portal, people["staff"])
    cid = submit(portal, people["member"], ids["task1"])
    contributions.reject_contribution(portal.uow(), validator_id=people["staff"], contribution_id=cid,
                                      comment="No evidence")
    portal.login(people["member"])
    page = text_of(portal.client.get(f"/contributions/{cid}"))
    assert "Appeal</button>" in page and "No evidence" in page
    empty = portal.post(f"/contributions/{cid}/appeal", {"reason": ""})
    assert empty.status_code == 400 and portal.get(Contribution, cid).state == "rejected"
    appeal = portal.post(f"/contributions/{cid}/appeal", {"reason": "The photo is in the link"})
    assert appeal.status_code == 302
    assert portal.get(Contribution, cid).state == "appealed"
    permissions.grant_permission(portal.uow(), actor_id=people["staff"], process_id=ids["process"],
                                 permission_name="manage", user_email=portal.c.email_of(people["staff2"]))
    contributions.reject_contribution(portal.uow(), validator_id=people["staff2"], contribution_id=cid,
                                      comment="Still no")
    page = text_of(portal.client.get(f"/contributions/{cid}"))
    assert "Appeal</button>" not in page
    again = portal.post(f"/contributions/{cid}/appeal", {"reason": "Please"})
    assert again.status_code == 409 and "already appealed once" in text_of(again)


def test_contribution_detail_is_for_its_people_and_the_process_staff(portal, people):
    ids = tree_process(portal, people["staff"])
    cid = submit(portal, people["member"], ids["task1"], co_contributors=[portal.c.email_of(people["other"])])
    for who, status in (("member", 200), ("other", 200), ("staff", 200), ("auditor", 200), ("admin", 200),
                        ("outsider_staff", 403), ("staff2", 403)):
        portal.login(people[who])
        assert portal.client.get(f"/contributions/{cid}").status_code == status, who
    portal.login(people["other"])
    assert f"/contributions/{cid}" in text_of(portal.client.get("/contributions"))
    assert portal.client.get("/contributions/999999").status_code == 404


# --- validators' queue and decisions ---------------------------------------------------------------------


def decide(portal, cid: int, decision: str, follow_redirects: bool = False, **data):
    return portal.post(f"/contributions/{cid}/{decision}", data, follow_redirects=follow_redirects)


def test_queue_oldest_first_with_filters_counts_and_flags(portal, people):
    a = tree_process(portal, people["staff"], title="Alpha")
    b = tree_process(portal, people["staff"], title="Beta")
    first = submit(portal, people["member"], a["task1"], text="alpha one", evidence_url="https://example.org/x")
    dup = submit(portal, people["other"], a["task2"], text="alpha two", evidence_url="https://example.org/x",
                 co_contributors=[portal.c.email_of(people["auditor"])])
    beta = submit(portal, people["member"], b["task1"], text="beta one")
    contributions.reject_contribution(portal.uow(), validator_id=people["staff"], contribution_id=beta,
                                      comment="Unclear")
    contributions.appeal_contribution(portal.uow(), member_id=people["member"], contribution_id=beta,
                                      reason="It is clear to me")
    portal.login(people["staff"])
    page = text_of(portal.client.get("/validation"))
    assert page.index("alpha one") < page.index("alpha two") < page.index("beta one")
    assert page.count("DUPLICATE EVIDENCE") == 1
    assert f'href="/contributions/{first}">contribution {first}</a>' in page
    assert "Co-contributors: Auditor Andris" in page
    assert "It is clear to me" in page and "You rejected this contribution" in page
    assert re.search(r"<dt>Pending</dt><dd>2</dd>", page) and re.search(r"<dt>Appealed</dt><dd>1</dd>", page)
    assert re.search(r"<dt>Median time to validate</dt><dd>[0-9.]+ h</dd>", page)

    only_beta = text_of(portal.client.get(f"/validation?process_id={b['process']}"))
    assert "beta one" in only_beta and "alpha one" not in only_beta
    only_task = text_of(portal.client.get(f"/validation?task_id={a['task2']}"))
    assert "alpha two" in only_task and "alpha one" not in only_task and "beta one" not in only_task
    bad = portal.client.get("/validation?process_id=abc")
    assert bad.status_code == 400 and "must be chosen from the list" in text_of(bad)

    portal.login(people["outsider_staff"])
    assert "Nothing waits for validation" in text_of(portal.client.get("/validation"))
    portal.login(people["admin"])
    assert "alpha one" in text_of(portal.client.get("/validation"))
    assert dup


def test_approve_with_a_level_reject_and_ask_for_changes(portal, people):
    ids = tree_process(portal, people["staff"])
    one = submit(portal, people["member"], ids["task1"], text="one")
    two = submit(portal, people["member"], ids["task1"], text="two")
    three = submit(portal, people["other"], ids["task2"], text="three")
    portal.login(people["staff"])
    page = text_of(portal.client.get("/validation"))
    assert re.search(rf'<select id="level-{one}" name="level"[^>]*>\s*<option value="low">low</option>'
                     r'<option value="average">average</option><option value="high" selected>', page)
    response = decide(portal, one, "approve", level="average", comment="Nice")
    assert response.status_code == 302
    with portal.db.read_sessions() as session:
        points = session.scalars(select(LedgerEntry.points).where(LedgerEntry.contribution_id == one)).all()
    assert points == [80]  # complexity 40 × average 2
    assert portal.get(Contribution, one).level == "average"

    bad_level = decide(portal, two, "approve", level="legendary")
    assert bad_level.status_code == 400 and "Not a valid choice" in text_of(bad_level)
    no_comment = decide(portal, two, "reject", comment="")
    assert no_comment.status_code == 400 and "comment must not be empty" in text_of(no_comment)
    no_comment = decide(portal, three, "request-changes", comment=" ")
    assert no_comment.status_code == 400
    assert portal.get(Contribution, two).state == "pending"
    assert portal.get(Contribution, three).state == "pending"

    assert decide(portal, two, "reject", comment="Same as before").status_code == 302
    assert decide(portal, three, "request-changes", comment="Which bench?").status_code == 302
    assert portal.get(Contribution, two).state == "rejected"
    assert portal.get(Contribution, three).state == "changes_requested"
    replay = decide(portal, one, "approve")
    assert replay.status_code == 409 and "approval needs it" in text_of(replay)
    with portal.db.read_sessions() as session:
        assert session.scalar(select(func.count()).select_from(LedgerEntry)) == 1

    portal.login(people["member"])
    assert decide(portal, two, "approve").status_code == 403
    portal.login(people["outsider_staff"])
    refused = decide(portal, three, "reject", comment="not mine to judge")
    assert refused.status_code == 403 and "only staff who manage this process" in text_of(refused)


def test_four_eyes_needs_a_second_member_of_staff(portal, people):
    ids = tree_process(portal, people["staff"])
    permissions.grant_permission(portal.uow(), actor_id=people["staff"], process_id=ids["process"],
                                 permission_name="manage", user_email=portal.c.email_of(people["staff2"]))
    building.update_process_settings(portal.uow(), actor_id=people["staff"], process_id=ids["process"],
                                     four_eyes_threshold=100)
    cid = submit(portal, people["member"], ids["task1"])
    portal.login(people["staff"])
    response = decide(portal, cid, "approve", level="high", follow_redirects=True)  # 120 points > 100
    assert "awaits a second approval by another member of staff" in text_of(response)
    assert portal.get(Contribution, cid).state == "awaiting_second_approval"
    page = text_of(portal.client.get("/validation"))
    assert "Awaiting second approval by another member of staff." in page
    assert "You gave the first approval" in page
    same = decide(portal, cid, "approve")
    assert same.status_code == 403 and "four-eyes" in text_of(same)
    with portal.db.read_sessions() as session:
        assert session.scalar(select(func.count()).select_from(LedgerEntry)) == 0

    portal.login(people["staff2"])
    page = text_of(portal.client.get("/validation"))
    assert "First approved by Staff Sandra at level high for 120 points" in page
    assert decide(portal, cid, "approve").status_code == 302
    assert portal.get(Contribution, cid).state == "approved"
    with portal.db.read_sessions() as session:
        assert session.scalars(select(LedgerEntry.points)).all() == [120]


def test_default_four_eyes_threshold_comes_from_configuration(app, portal, people):
    ids = tree_process(portal, people["staff"])
    cid = submit(portal, people["member"], ids["task1"])
    app.config["KOPA_FOUR_EYES_THRESHOLD"] = 50
    portal.login(people["staff"])
    assert decide(portal, cid, "approve", level="low").status_code == 302  # 40 points: below 50
    assert portal.get(Contribution, cid).state == "approved"
    other = submit(portal, people["member"], ids["task2"])
    assert decide(portal, other, "approve", level="average").status_code == 302  # 80 points
    assert portal.get(Contribution, other).state == "awaiting_second_approval"


def test_revoke_from_the_detail_page(portal, people):
    ids = tree_process(portal, people["staff"])
    cid = portal.c.approved(people["member"], people["staff"], ids["task1"])
    portal.login(people["member"])
    page = text_of(portal.client.get(f"/contributions/{cid}"))
    assert "Revoke</button>" not in page
    assert portal.post(f"/contributions/{cid}/revoke", {"comment": "mine"}).status_code == 403
    portal.login(people["outsider_staff"])
    assert portal.post(f"/contributions/{cid}/revoke", {"comment": "no"}).status_code == 403
    portal.login(people["staff"])
    assert "Revoke</button>" in text_of(portal.client.get(f"/contributions/{cid}"))
    empty = portal.post(f"/contributions/{cid}/revoke", {"comment": ""})
    assert empty.status_code == 400 and "This field is required" in text_of(empty)
    assert portal.get(Contribution, cid).state == "approved"
    response = portal.post(f"/contributions/{cid}/revoke", {"comment": "Photo was from 2019"})
    assert response.status_code == 302
    assert portal.get(Contribution, cid).state == "revoked"
    with portal.db.read_sessions() as session:
        points = session.scalars(
            select(LedgerEntry.points).where(LedgerEntry.contribution_id == cid).order_by(LedgerEntry.id)
        ).all()
    assert points == [40, -40]
    again = portal.post(f"/contributions/{cid}/revoke", {"comment": "twice"})
    assert again.status_code == 409 and "revocation needs it approved" in text_of(again)
    assert "Photo was from 2019" in text_of(portal.client.get(f"/contributions/{cid}"))
