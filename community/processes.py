"""Co-creation processes: the phase → objective → task tree, templates and clones, teams and
their grants, applications to join, the resource library and success stories."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from community.access import NodePath, can, path_of, path_of_task, process_permissions, require
from community.db import UnitOfWork, utcnow
from community.errors import Conflict, Forbidden, InvalidInput, NotFound
from community.i18n import N_
from community.models import (
    COMPLEXITIES,
    Contribution,
    ContributionState,
    Grant,
    LibraryItem,
    LibraryRating,
    Membership,
    NodeStatus,
    Objective,
    Organisation,
    Permission,
    Phase,
    Prerequisite,
    Process,
    ProcessApplication,
    StoryOptIn,
    SuccessStory,
    Task,
    TaskLibraryItem,
    Team,
    TeamKind,
    TeamMember,
    User,
)
from community.templates import TEMPLATES
from community.validation import get_row as get
from community.validation import text, web_url
from rewards.boards import BoardsChanged

NODE_MODELS = {"process": Process, "phase": Phase, "objective": Objective, "task": Task}
PERMISSION_NAMES = {"view": Permission.VIEW, "contribute": Permission.CONTRIBUTE, "manage": Permission.MANAGE}


def _date(value: object, name: str) -> dt.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.date):
        return value
    if not isinstance(value, str):
        raise InvalidInput(N_("%(name)s must be a date (YYYY-MM-DD)", name=name))
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(N_("%(name)s must be a date (YYYY-MM-DD), not %(value)r",
                              name=name, value=value[:20])) from None


def _dates(starts: object, ends: object) -> tuple[dt.date | None, dt.date | None]:
    start, end = _date(starts, "starts_on"), _date(ends, "ends_on")
    if start and end and end < start:
        raise InvalidInput("ends_on is before starts_on")
    return start, end


def complexity_of(value: object) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value not in COMPLEXITIES:
        raise InvalidInput(N_("complexity must be one of %(complexities)s",
                              complexities=', '.join(map(str, COMPLEXITIES))))
    return value


def _staff(session: Session, actor_id: int, message: str) -> User:
    actor = get(session, User, actor_id, "user")
    if not actor.is_staff:
        raise Forbidden(message)
    return actor


def _manager(session: Session, actor_id: int, path: NodePath, message: str) -> User:
    actor = get(session, User, actor_id, "user")
    require(session, actor, Permission.MANAGE, path, message)
    return actor


# --- processes ---------------------------------------------------------------------------


def create_process(
    uow: UnitOfWork,
    *,
    actor_id: int,
    title: object,
    description: object = "",
    membership: object = Membership.OPEN.value,
    template: object = None,
    organisation: object = None,
    starts_on: object = None,
    ends_on: object = None,
) -> int:
    """A new process, empty or built from a template; its creator manages it."""
    title = text(title, "title", 200)
    description = text(description, "description", 10_000, required=False)
    if membership not in {m.value for m in Membership}:
        raise InvalidInput("membership must be open, application or invite")
    if template in ("", None):
        template = None
    elif template not in TEMPLATES:
        raise InvalidInput(N_("template must be one of %(templates)s", templates=', '.join(TEMPLATES)))
    start, end = _dates(starts_on, ends_on)
    with uow:
        session = uow.session
        actor = _staff(session, actor_id, "only staff create processes")
        org_id = None
        if organisation:
            name = text(organisation, "organisation", 200)
            org = session.scalars(select(Organisation).where(Organisation.name == name)).one_or_none()
            if org is None:
                org = Organisation(name=name)
                session.add(org)
                session.flush()
            org_id = org.id
        process = Process(
            title=title,
            description=description,
            membership=membership,
            template=template,
            organisation_id=org_id,
            created_by_id=actor.id,
            starts_on=start,
            ends_on=end,
        )
        session.add(process)
        session.flush()
        session.add(Grant(process_id=process.id, user_id=actor.id, permission=Permission.MANAGE))
        if template:
            _build_from_template(session, process, template)
        uow.commit()
        return process.id


def _build_from_template(session: Session, process: Process, template: str) -> None:
    previous: Phase | None = None
    for p_pos, (p_title, p_description, objectives) in enumerate(TEMPLATES[template][1]):
        phase = Phase(process_id=process.id, title=p_title, description=p_description, position=p_pos)
        session.add(phase)
        session.flush()
        if previous is not None:
            session.add(Prerequisite(kind="phase", node_id=phase.id, requires_id=previous.id))
        previous = phase
        for o_pos, (o_title, tasks) in enumerate(objectives):
            objective = Objective(phase_id=phase.id, title=o_title, position=o_pos)
            session.add(objective)
            session.flush()
            for t_pos, (t_title, complexity) in enumerate(tasks):
                session.add(
                    Task(
                        process_id=process.id,
                        objective_id=objective.id,
                        title=t_title,
                        complexity=complexity,
                        position=t_pos,
                    )
                )
    session.flush()


def clone_process(uow: UnitOfWork, *, actor_id: int, source_id: object, title: object = None) -> int:
    """A fresh copy of a process's tree (statuses reset, no contributions, no grants but
    the cloner's)."""
    with uow:
        session = uow.session
        actor = _staff(session, actor_id, "only staff clone processes")
        source = get(session, Process, source_id, "process")
        not_found = N_("process %(id)s not found", id=source.id)
        require(session, actor, Permission.VIEW, NodePath(source.id), not_found)
        copy = Process(
            title=text(title, "title", 200) if title else f"{source.title} (copy)"[:200],
            description=source.description,
            membership=source.membership,
            template=source.template,
            organisation_id=source.organisation_id,
            created_by_id=actor.id,
            cloned_from_id=source.id,
            four_eyes_threshold=source.four_eyes_threshold,
            points_cap=source.points_cap,
            cap_period=source.cap_period,
        )
        session.add(copy)
        session.flush()
        session.add(Grant(process_id=copy.id, user_id=actor.id, permission=Permission.MANAGE))
        id_map: dict[tuple[str, int], int] = {}
        for phase in source.phases:
            new_phase = Phase(
                process_id=copy.id, title=phase.title, description=phase.description, position=phase.position
            )
            session.add(new_phase)
            session.flush()
            id_map["phase", phase.id] = new_phase.id
            for objective in phase.objectives:
                new_obj = Objective(
                    phase_id=new_phase.id,
                    title=objective.title,
                    description=objective.description,
                    position=objective.position,
                )
                session.add(new_obj)
                session.flush()
                id_map["objective", objective.id] = new_obj.id
                for task in objective.tasks:
                    new_task = Task(
                        process_id=copy.id,
                        objective_id=new_obj.id,
                        title=task.title,
                        description=task.description,
                        complexity=task.complexity,
                        position=task.position,
                    )
                    session.add(new_task)
                    session.flush()
                    id_map["task", task.id] = new_task.id
                    for item in task.library_items:
                        session.add(TaskLibraryItem(task_id=new_task.id, item_id=item.id))
        for (kind, old_id), new_id in list(id_map.items()):
            for pre in session.scalars(
                select(Prerequisite).where(Prerequisite.kind == kind, Prerequisite.node_id == old_id)
            ).all():
                if (kind, pre.requires_id) in id_map:
                    session.add(
                        Prerequisite(kind=kind, node_id=new_id, requires_id=id_map[kind, pre.requires_id])
                    )
        uow.commit()
        return copy.id


def update_process_settings(
    uow: UnitOfWork,
    *,
    actor_id: int,
    process_id: object,
    four_eyes_threshold: object = None,
    points_cap: object = None,
    cap_period: object = "month",
    membership: object = None,
) -> None:
    for name, value in (("four_eyes_threshold", four_eyes_threshold), ("points_cap", points_cap)):
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
            raise InvalidInput(N_("%(name)s must be a positive whole number or empty", name=name))
    if cap_period not in ("week", "month"):
        raise InvalidInput("cap_period must be week or month")
    if membership is not None and membership not in {m.value for m in Membership}:
        raise InvalidInput("membership must be open, application or invite")
    with uow:
        process = get(uow.session, Process, process_id, "process")
        _manager(
            uow.session, actor_id, NodePath(process.id), "only the process's managers change its settings"
        )
        process.four_eyes_threshold = four_eyes_threshold
        process.points_cap = points_cap
        process.cap_period = cap_period
        if membership is not None:
            process.membership = membership
        uow.commit()


# --- the tree ------------------------------------------------------------------------------


def add_phase(
    uow: UnitOfWork,
    *,
    actor_id: int,
    process_id: object,
    title: object,
    description: object = "",
    starts_on: object = None,
    ends_on: object = None,
) -> int:
    start, end = _dates(starts_on, ends_on)
    with uow:
        process = get(uow.session, Process, process_id, "process")
        _manager(uow.session, actor_id, NodePath(process.id), "only the process's managers add phases")
        phase = Phase(
            process_id=process.id,
            title=text(title, "title", 200),
            description=text(description, "description", 10_000, required=False),
            position=len(process.phases),
            starts_on=start,
            ends_on=end,
        )
        uow.session.add(phase)
        uow.session.flush()
        uow.commit()
        return phase.id


def add_objective(
    uow: UnitOfWork,
    *,
    actor_id: int,
    phase_id: object,
    title: object,
    description: object = "",
    starts_on: object = None,
    ends_on: object = None,
) -> int:
    start, end = _dates(starts_on, ends_on)
    with uow:
        phase = get(uow.session, Phase, phase_id, "phase")
        _manager(
            uow.session,
            actor_id,
            path_of(uow.session, "phase", phase.id),
            "only the process's managers add objectives",
        )
        objective = Objective(
            phase_id=phase.id,
            title=text(title, "title", 200),
            description=text(description, "description", 10_000, required=False),
            position=len(phase.objectives),
            starts_on=start,
            ends_on=end,
        )
        uow.session.add(objective)
        uow.session.flush()
        uow.commit()
        return objective.id


def add_task(
    uow: UnitOfWork,
    *,
    actor_id: int,
    objective_id: object,
    title: object,
    complexity: object = 20,
    description: object = "",
    starts_on: object = None,
    ends_on: object = None,
    library_item_ids: list[object] | None = None,
) -> int:
    complexity = complexity_of(complexity)
    start, end = _dates(starts_on, ends_on)
    with uow:
        session = uow.session
        objective = get(session, Objective, objective_id, "objective")
        path = path_of(session, "objective", objective.id)
        _manager(session, actor_id, path, "only the process's managers add tasks")
        task = Task(
            process_id=path.process_id,
            objective_id=objective.id,
            title=text(title, "title", 200),
            description=text(description, "description", 10_000, required=False),
            complexity=complexity,
            position=len(objective.tasks),
            starts_on=start,
            ends_on=end,
        )
        session.add(task)
        session.flush()
        for item_id in library_item_ids or []:
            item = get(session, LibraryItem, item_id, "resource")
            session.add(TaskLibraryItem(task_id=task.id, item_id=item.id))
        uow.commit()
        return task.id


def _default_objective(session: Session, process: Process) -> Objective:
    """Where tasks of a process created without a tree go: its first objective, or a
    "General" phase and objective made for them."""
    for phase in process.phases:
        if phase.objectives:
            return phase.objectives[0]
    phase = process.phases[0] if process.phases else Phase(process_id=process.id, title="General")
    session.add(phase)
    session.flush()
    objective = Objective(phase_id=phase.id, title="General")
    session.add(objective)
    session.flush()
    return objective


def create_task(
    uow: UnitOfWork,
    *,
    actor_id: int,
    process_id: object,
    title: object,
    complexity: object = 20,
    description: object = "",
) -> int:
    """A task in the process's first objective (for flat processes and quick set-up)."""
    complexity = complexity_of(complexity)
    with uow:
        session = uow.session
        process = get(session, Process, process_id, "process")
        _manager(session, actor_id, NodePath(process.id), "only the process's managers add tasks")
        objective = _default_objective(session, process)
        task = Task(
            process_id=process.id,
            objective_id=objective.id,
            title=text(title, "title", 200),
            description=text(description, "description", 10_000, required=False),
            complexity=complexity,
            position=len(objective.tasks),
        )
        session.add(task)
        session.flush()
        uow.commit()
        return task.id


def _node(session: Session, kind: object, node_id: object, *, process_too: bool = False):
    kinds = ("process", "phase", "objective", "task") if process_too else ("phase", "objective", "task")
    if kind not in kinds:
        raise InvalidInput(N_("node kind must be %(kinds)s or %(last)s",
                              kinds=', '.join(kinds[:-1]), last=kinds[-1]))
    return get(session, NODE_MODELS[kind], node_id, kind)


def _unmet_prerequisites(session: Session, kind: str, node_id: int) -> list:
    model = NODE_MODELS[kind]
    required = session.scalars(
        select(model)
        .join(Prerequisite, Prerequisite.requires_id == model.id)
        .where(Prerequisite.kind == kind, Prerequisite.node_id == node_id)
    ).all()
    return [n for n in required if n.status != NodeStatus.DONE]


def set_status(uow: UnitOfWork, *, actor_id: int, kind: object, node_id: object, status: object) -> None:
    """Move a node; starting or finishing it needs its prerequisites done."""
    if status not in {s.value for s in NodeStatus}:
        raise InvalidInput("status must be not_started, in_progress or done")
    with uow:
        session = uow.session
        node = _node(session, kind, node_id, process_too=True)
        _manager(
            session, actor_id, path_of(session, kind, node.id), "only the process's managers change status"
        )
        if status != NodeStatus.NOT_STARTED and kind != "process":
            unmet = _unmet_prerequisites(session, kind, node.id)
            if unmet:
                names = ", ".join(f"'{n.title}'" for n in unmet)
                raise Conflict(N_("%(kind)s '%(title)s' cannot start before %(names)s is done",
                                  kind=kind, title=node.title, names=names))
        node.status = status
        uow.commit()


def add_prerequisite(
    uow: UnitOfWork, *, actor_id: int, kind: object, node_id: object, requires_id: object
) -> None:
    with uow:
        session = uow.session
        node = _node(session, kind, node_id)
        required = _node(session, kind, requires_id)
        path, other = path_of(session, kind, node.id), path_of(session, kind, required.id)
        if path.process_id != other.process_id:
            raise InvalidInput("prerequisites must be in the same process")
        _manager(session, actor_id, path, "only the process's managers set prerequisites")
        if node.id == required.id or _reaches(session, kind, required.id, node.id):
            raise Conflict("this prerequisite would make a cycle")
        exists = session.scalar(
            select(Prerequisite.id).where(
                Prerequisite.kind == kind,
                Prerequisite.node_id == node.id,
                Prerequisite.requires_id == required.id,
            )
        )
        if exists is None:
            session.add(Prerequisite(kind=kind, node_id=node.id, requires_id=required.id))
        uow.commit()


def _reaches(session: Session, kind: str, start: int, target: int) -> bool:
    """Does ``start`` (transitively) require ``target``?"""
    seen, todo = set(), [start]
    while todo:
        current = todo.pop()
        if current == target:
            return True
        if current in seen:
            continue
        seen.add(current)
        todo.extend(
            session.scalars(
                select(Prerequisite.requires_id).where(
                    Prerequisite.kind == kind, Prerequisite.node_id == current
                )
            ).all()
        )
    return False


@dataclass
class TreeNode:
    kind: str
    id: int
    title: str
    status: str
    progress: float  # 0..1, rolled up from the children (a leaf: 1 when done)
    starts_on: dt.date | None = None
    ends_on: dt.date | None = None
    complexity: int | None = None
    requires: list[str] = field(default_factory=list)
    children: list[TreeNode] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "kind": self.kind,
            "id": self.id,
            "title": self.title,
            "status": self.status,
            "progress": round(self.progress, 4),
            "starts_on": self.starts_on.isoformat() if self.starts_on else None,
            "ends_on": self.ends_on.isoformat() if self.ends_on else None,
            **({"complexity": self.complexity} if self.kind == "task" else {}),
            "requires": self.requires,
            "children": [c.as_dict() for c in self.children],
        }


def _rolled(children: list[TreeNode], status: str) -> float:
    if not children:
        return 1.0 if status == NodeStatus.DONE else 0.0
    return sum(c.progress for c in children) / len(children)


def process_tree(session: Session, process: Process, *, requires: bool = True) -> TreeNode:
    """The whole tree with progress rolled up: a task counts 1 when done, a parent is the
    mean of its children. ``requires=False`` leaves out the prerequisites (a list of
    processes shows only the progress)."""
    edges = []
    if requires:
        edges = session.execute(
            select(Prerequisite.kind, Prerequisite.node_id, Prerequisite.requires_id)
        ).all()
    titles = {}
    phases = []
    for phase in process.phases:
        titles["phase", phase.id] = phase.title
        objectives = []
        for objective in phase.objectives:
            titles["objective", objective.id] = objective.title
            tasks = []
            for task in objective.tasks:
                titles["task", task.id] = task.title
                tasks.append(
                    TreeNode(
                        "task",
                        task.id,
                        task.title,
                        task.status,
                        1.0 if task.status == NodeStatus.DONE else 0.0,
                        task.starts_on,
                        task.ends_on,
                        task.complexity,
                    )
                )
            objectives.append(
                TreeNode(
                    "objective",
                    objective.id,
                    objective.title,
                    objective.status,
                    _rolled(tasks, objective.status),
                    objective.starts_on,
                    objective.ends_on,
                    children=tasks,
                )
            )
        phases.append(
            TreeNode(
                "phase",
                phase.id,
                phase.title,
                phase.status,
                _rolled(objectives, phase.status),
                phase.starts_on,
                phase.ends_on,
                children=objectives,
            )
        )
    required: dict[tuple[str, int], list[str]] = {}
    for kind, node_id, requires_id in edges:
        if (kind, node_id) in titles and (kind, requires_id) in titles:
            required.setdefault((kind, node_id), []).append(titles[kind, requires_id])

    def attach(node: TreeNode) -> None:
        node.requires = required.get((node.kind, node.id), [])
        for child in node.children:
            attach(child)

    root = TreeNode(
        "process",
        process.id,
        process.title,
        process.status,
        _rolled(phases, process.status),
        process.starts_on,
        process.ends_on,
        children=phases,
    )
    attach(root)
    return root


def visible_processes(session: Session, user: User | None, *options) -> list[Process]:
    """The processes the user may view; ``options`` (loader options) load what the caller
    shows of them in the same query or one more, not one per process."""
    processes = session.scalars(select(Process).options(*options).order_by(Process.id)).all()
    levels = process_permissions(session, user, processes)
    return [p for p in processes if levels[p.id] >= Permission.VIEW]


def task_blocked_by(session: Session, task: Task) -> list[str]:
    """Titles of unfinished prerequisite tasks (a task cannot take contributions before)."""
    return [t.title for t in _unmet_prerequisites(session, "task", task.id)]


# --- teams and grants ------------------------------------------------------------------------


def create_team(
    uow: UnitOfWork, *, actor_id: int, name: object, kind: object, description: object = ""
) -> int:
    name = text(name, "name", 120)
    if kind not in {k.value for k in TeamKind}:
        raise InvalidInput(N_("kind must be one of %(values)s", values=', '.join(k.value for k in TeamKind)))
    with uow:
        session = uow.session
        get(session, User, actor_id, "user")
        if session.scalar(select(Team.id).where(Team.name == name)) is not None:
            raise Conflict(N_("a team called %(name)r already exists", name=name))
        team = Team(name=name, kind=kind, description=text(description, "description", 2000, required=False))
        session.add(team)
        session.flush()
        session.add(TeamMember(team_id=team.id, user_id=actor_id, is_admin=True))
        uow.publish(BoardsChanged())  # team boards and places follow membership
        uow.commit()
        return team.id


def _team_admin(session: Session, actor_id: int, team: Team) -> User:
    actor = get(session, User, actor_id, "user")
    if actor.is_staff:
        return actor
    is_admin = session.scalar(
        select(TeamMember.is_admin).where(TeamMember.team_id == team.id, TeamMember.user_id == actor_id)
    )
    if not is_admin:
        raise Forbidden("only the team's admins or staff manage its members")
    return actor


def user_by_email(session: Session, email: object) -> User:
    if not isinstance(email, str) or not email.strip():
        raise InvalidInput("an e-mail address is required")
    user = session.scalars(select(User).where(User.email == email.strip().lower())).one_or_none()
    if user is None:
        raise NotFound("no member has that e-mail address")
    return user


def add_team_member(
    uow: UnitOfWork, *, actor_id: int, team_id: object, email: object, is_admin: bool = False
) -> int:
    with uow:
        session = uow.session
        team = get(session, Team, team_id, "team")
        _team_admin(session, actor_id, team)
        user = user_by_email(session, email)
        member = session.scalars(
            select(TeamMember).where(TeamMember.team_id == team.id, TeamMember.user_id == user.id)
        ).one_or_none()
        if member is None:
            member = TeamMember(team_id=team.id, user_id=user.id)
            session.add(member)
        member.is_admin = bool(is_admin)
        session.flush()
        uow.publish(BoardsChanged())  # team boards and places follow membership
        uow.commit()
        return user.id


def remove_team_member(uow: UnitOfWork, *, actor_id: int, team_id: object, user_id: object) -> None:
    with uow:
        session = uow.session
        team = get(session, Team, team_id, "team")
        _team_admin(session, actor_id, team)
        member = session.scalars(
            select(TeamMember).where(TeamMember.team_id == team.id, TeamMember.user_id == user_id)
        ).one_or_none()
        if member is None:
            raise NotFound("that user is not in the team")
        admins = [m for m in team.members if m.is_admin]
        if member.is_admin and len(admins) == 1:
            raise Conflict("the last admin of a team cannot leave it; name another admin first")
        session.delete(member)
        uow.publish(BoardsChanged())  # team boards and places follow membership
        uow.commit()


def grant_permission(
    uow: UnitOfWork,
    *,
    actor_id: int,
    process_id: object,
    permission_name: object,
    team_id: object = None,
    user_email: object = None,
    node_kind: object = "process",
    node_id: object = None,
) -> int:
    """Give a team (or one user) view/contribute/manage on the process or a subtree."""
    if permission_name not in PERMISSION_NAMES:
        raise InvalidInput("permission must be view, contribute or manage")
    if (team_id in (None, "")) == (user_email in (None, "")):
        raise InvalidInput("grant to exactly one team or one user")
    with uow:
        session = uow.session
        process = get(session, Process, process_id, "process")
        _manager(session, actor_id, NodePath(process.id), "only the process's managers grant permissions")
        grant = Grant(process_id=process.id, permission=PERMISSION_NAMES[permission_name])
        if node_kind != "process":
            node = _node(session, node_kind, node_id)
            if path_of(session, node_kind, node.id).process_id != process.id:
                raise InvalidInput(N_("%(node_kind)s %(node)s is not in process %(process)s",
                                      node_kind=node_kind, node=node.id, process=process.id))
            setattr(grant, f"{node_kind}_id", node.id)
        if team_id not in (None, ""):
            grant.team_id = get(session, Team, team_id, "team").id
        else:
            grant.user_id = user_by_email(session, user_email).id
        session.add(grant)
        session.flush()
        uow.commit()
        return grant.id


def revoke_grant(uow: UnitOfWork, *, actor_id: int, grant_id: object) -> None:
    with uow:
        session = uow.session
        grant = get(session, Grant, grant_id, "grant")
        _manager(session, actor_id, NodePath(grant.process_id), "only the process's managers revoke grants")
        if (
            grant.user_id == actor_id
            and grant.permission == Permission.MANAGE
            and grant.phase_id is None
            and grant.objective_id is None
            and grant.task_id is None
        ):
            raise Conflict("you cannot remove your own management of the process")
        session.delete(grant)
        uow.commit()


# --- joining ---------------------------------------------------------------------------------


def apply_to_process(uow: UnitOfWork, *, user_id: int, process_id: object, message: object = "") -> str:
    """Open processes accept at once; application processes wait for a manager."""
    message = text(message, "message", 2000, required=False)
    with uow:
        session = uow.session
        user = get(session, User, user_id, "user")
        process = get(session, Process, process_id, "process")
        if process.membership == Membership.INVITE:
            raise Forbidden("this process is by invitation only")
        existing = session.scalars(
            select(ProcessApplication).where(
                ProcessApplication.process_id == process.id,
                ProcessApplication.user_id == user.id,
                ProcessApplication.state != "declined",
            )
        ).first()
        if existing is not None:
            raise Conflict(N_("you already applied to this process (%(state)s)", state=existing.state))
        state = "accepted" if process.membership == Membership.OPEN else "pending"
        session.add(
            ProcessApplication(
                process_id=process.id,
                user_id=user.id,
                message=message,
                state=state,
                decided_at=utcnow() if state == "accepted" else None,
            )
        )
        if state == "accepted":
            session.add(Grant(process_id=process.id, user_id=user.id, permission=Permission.CONTRIBUTE))
        uow.commit()
        return state


def decide_application(uow: UnitOfWork, *, actor_id: int, application_id: object, accept: bool) -> None:
    with uow:
        session = uow.session
        application = get(session, ProcessApplication, application_id, "application")
        _manager(
            session,
            actor_id,
            NodePath(application.process_id),
            "only the process's managers decide applications",
        )
        if application.state != "pending":
            raise Conflict(N_("application %(application)s is already %(state)s",
                              application=application.id, state=application.state))
        application.state = "accepted" if accept else "declined"
        application.decided_by_id = actor_id
        application.decided_at = utcnow()
        if accept:
            session.add(
                Grant(
                    process_id=application.process_id,
                    user_id=application.user_id,
                    permission=Permission.CONTRIBUTE,
                )
            )
        uow.commit()


def has_joined(session: Session, user_id: int, process_id: int) -> str | None:
    return session.scalar(
        select(ProcessApplication.state)
        .where(
            ProcessApplication.process_id == process_id,
            ProcessApplication.user_id == user_id,
        )
        .order_by(ProcessApplication.id.desc())
        .limit(1)
    )


# --- resource library ------------------------------------------------------------------------


def create_library_item(
    uow: UnitOfWork,
    *,
    actor_id: int,
    title: object,
    kind: object,
    link: object,
    description: object = "",
    languages: object = "en",
) -> int:
    if kind not in ("guide", "template", "tool"):
        raise InvalidInput("kind must be guide, template or tool")
    link = web_url(text(link, "link", 2000), "link")
    langs = [code.strip().lower() for code in text(languages, "languages", 100).split(",") if code.strip()]
    if not langs or any(not (2 <= len(code) <= 3 and code.isalpha()) for code in langs):
        raise InvalidInput("languages must be language codes separated by commas, e.g. lv, en")
    with uow:
        _staff(uow.session, actor_id, "only staff maintain the resource library")
        item = LibraryItem(
            title=text(title, "title", 200),
            kind=kind,
            link=link,
            description=text(description, "description", 5000, required=False),
            languages=",".join(langs),
        )
        uow.session.add(item)
        uow.session.flush()
        uow.commit()
        return item.id


def attach_library_item(uow: UnitOfWork, *, actor_id: int, task_id: object, item_id: object) -> None:
    with uow:
        session = uow.session
        task = get(session, Task, task_id, "task")
        item = get(session, LibraryItem, item_id, "resource")
        _manager(
            session, actor_id, path_of_task(session, task), "only the process's managers attach resources"
        )
        if session.get(TaskLibraryItem, (task.id, item.id)) is None:
            session.add(TaskLibraryItem(task_id=task.id, item_id=item.id))
        uow.commit()


def rate_library_item(uow: UnitOfWork, *, user_id: int, item_id: object, stars: object) -> None:
    if isinstance(stars, str) and stars.isdigit():
        stars = int(stars)
    if not isinstance(stars, int) or isinstance(stars, bool) or not 1 <= stars <= 5:
        raise InvalidInput("stars must be a whole number from 1 to 5")
    with uow:
        session = uow.session
        item = get(session, LibraryItem, item_id, "resource")
        rating = session.scalars(
            select(LibraryRating).where(LibraryRating.item_id == item.id, LibraryRating.user_id == user_id)
        ).one_or_none()
        if rating is None:
            session.add(LibraryRating(item_id=item.id, user_id=user_id, stars=stars))
        else:
            rating.stars = stars
        uow.commit()


def library_ratings(session: Session) -> dict[int, tuple[float, int]]:
    rows = session.execute(
        select(LibraryRating.item_id, func.avg(LibraryRating.stars), func.count()).group_by(
            LibraryRating.item_id
        )
    ).all()
    return {item_id: (float(avg), int(n)) for item_id, avg, n in rows}


# --- success stories ---------------------------------------------------------------------------


def publish_story(
    uow: UnitOfWork, *, actor_id: int, process_id: object, summary: object, outcomes: object
) -> int:
    with uow:
        session = uow.session
        process = get(session, Process, process_id, "process")
        _manager(session, actor_id, NodePath(process.id), "only the process's managers publish its story")
        if process.status != NodeStatus.DONE:
            raise Conflict("only finished processes (status done) can be published as success stories")
        story = session.scalars(
            select(SuccessStory).where(SuccessStory.process_id == process.id)
        ).one_or_none()
        if story is None:
            story = SuccessStory(process_id=process.id, published_by_id=actor_id, summary="", outcomes="")
            session.add(story)
        story.summary = text(summary, "summary", 5000)
        story.outcomes = text(outcomes, "outcomes", 5000)
        story.published_at = utcnow()
        session.flush()
        uow.commit()
        return story.id


def opt_in_story(uow: UnitOfWork, *, user_id: int, process_id: object, opt_in: bool = True) -> None:
    """Participants choose to be named; nobody is named without it."""
    with uow:
        session = uow.session
        process = get(session, Process, process_id, "process")
        took_part = session.scalar(
            select(Contribution.id)
            .join(Task)
            .where(
                Task.process_id == process.id,
                Contribution.member_id == user_id,
                Contribution.state == ContributionState.APPROVED.value,
            )
            .limit(1)
        )
        if took_part is None:
            raise Forbidden("only members with an approved contribution in this process can be named")
        row = session.scalars(
            select(StoryOptIn).where(StoryOptIn.process_id == process.id, StoryOptIn.user_id == user_id)
        ).one_or_none()
        if opt_in and row is None:
            session.add(StoryOptIn(process_id=process.id, user_id=user_id))
        elif not opt_in and row is not None:
            session.delete(row)
        uow.commit()


def may_view(session: Session, user: User | None, process_id: int) -> bool:
    return can(session, user, Permission.VIEW, NodePath(process_id))
