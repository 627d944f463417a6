"""How each kind of node hangs in the process tree (process → phase → objective → task):
what adding, copying and showing a node of any kind reads, instead of one copy per kind."""

from __future__ import annotations

from dataclasses import dataclass, field

from community.i18n import N_
from community.models import Objective, Phase, Task


@dataclass(frozen=True)
class NodeKind:
    """How a kind of node hangs in the tree."""

    model: type
    parent: str  # the parent's kind
    parent_key: str  # the node's column naming its parent
    siblings: str  # the parent's list of such nodes (the new one goes last)
    refused: str  # the answer to someone who does not manage the process
    fields: dict[str, object] = field(default_factory=dict)  # the kind's own fields, with defaults
    names_process: bool = False  # the node also names its process (tasks do)


NODE_KINDS = {
    "phase": NodeKind(Phase, "process", "process_id", "phases", N_("only the process's managers add phases")),
    "objective": NodeKind(
        Objective, "phase", "phase_id", "objectives", N_("only the process's managers add objectives")
    ),
    "task": NodeKind(
        Task,
        "objective",
        "objective_id",
        "tasks",
        N_("only the process's managers add tasks"),
        {"complexity": 20, "library_item_ids": None},
        names_process=True,
    ),
}

# The kind of node under each kind (a task has none).
CHILD_KIND = {spec.parent: kind for kind, spec in NODE_KINDS.items()}
