"""The process tree as pages and the API show it: every node with its progress rolled up
from its children, and the titles of what it requires."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from community.models import NodeStatus, Prerequisite, Process
from community.processes.kinds import CHILD_KIND, NODE_KINDS

Titles = dict[tuple[str, int], str]


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
    titles: Titles = {}
    root = _node("process", process, titles)
    required: dict[tuple[str, int], list[str]] = {}
    for kind, node_id, requires_id in edges:
        if (kind, node_id) in titles and (kind, requires_id) in titles:
            required.setdefault((kind, node_id), []).append(titles[kind, requires_id])

    def attach(node: TreeNode) -> None:
        node.requires = required.get((node.kind, node.id), [])
        for child in node.children:
            attach(child)

    attach(root)
    return root


def _node(kind: str, row, titles: Titles) -> TreeNode:
    """A node of any kind with its subtree; its progress is rolled up from its children (a
    task: 1 when done)."""
    titles[kind, row.id] = row.title
    child_kind = CHILD_KIND.get(kind)
    children = (
        [_node(child_kind, child, titles) for child in getattr(row, NODE_KINDS[child_kind].siblings)]
        if child_kind else []
    )
    return TreeNode(
        kind,
        row.id,
        row.title,
        row.status,
        _rolled(children, row.status),
        row.starts_on,
        row.ends_on,
        row.complexity if kind == "task" else None,
        children=children,
    )
