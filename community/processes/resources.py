"""The resource library: guides, templates and tools that staff keep, managers attach to
tasks and members rate."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from community.access import path_of_task
from community.db import UnitOfWork
from community.errors import InvalidInput
from community.models import LibraryItem, LibraryRating, Task, TaskLibraryItem
from community.processes.checks import _manager, _staff
from community.validation import get_row as get
from community.validation import text, web_url


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
