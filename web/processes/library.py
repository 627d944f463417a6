"""The resource library (guides, templates and tools staff maintain; members rate them) and
the published success stories."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from community.errors import DomainError
from community.models import LibraryItem, LibraryRating, StoryOptIn, SuccessStory
from community.processes import resources
from web.accessors import db_session, unit_of_work
from web.errors import status_of
from web.portal import get_or_404, staff_required, user_or_none
from web.processes.forms import LibraryItemForm, RatingForm

bp = Blueprint("library", __name__)


def _library_page(form: LibraryItemForm | None = None, status: int = 200, rating_error: tuple | None = None):
    session = db_session()
    user = user_or_none()
    mine = {}
    if user is not None:
        mine = dict(
            session.execute(
                select(LibraryRating.item_id, LibraryRating.stars).where(LibraryRating.user_id == user.id)
            ).all()
        )
    return render_template(
        "community/library.html",
        items=session.scalars(select(LibraryItem).order_by(LibraryItem.kind, LibraryItem.title)).all(),
        ratings=resources.library_ratings(session),
        mine=mine,
        form=form or LibraryItemForm(formdata=None),
        rating_form=RatingForm(formdata=None),
        rating_error=rating_error,
    ), status


@bp.get("/library")
def index():
    return _library_page()


@bp.post("/library")
@staff_required
def add():
    form = LibraryItemForm()
    if not form.validate_on_submit():
        return _library_page(form, 400)
    try:
        resources.create_library_item(
            unit_of_work(),
            actor_id=current_user.id,
            title=form.title.data,
            kind=form.kind.data,
            link=form.link.data,
            description=form.description.data or "",
            languages=form.languages.data,
        )
    except DomainError as exc:
        form.form_errors.append(exc.message)
        return _library_page(form, status_of(exc))
    flash(_("Resource added to the library."), "ok")
    return redirect(url_for("library.index"))


def _local(path: str | None) -> str | None:
    """Only paths on this site: never an open redirect."""
    if path and path.startswith("/") and not path.startswith("//") and "\\" not in path:
        return path
    return None


@bp.post("/library/<int:item_id>/rate")
@login_required
def rate(item_id: int):
    get_or_404(LibraryItem, item_id)
    form = RatingForm()
    if not form.validate_on_submit():
        return _library_page(status=400, rating_error=(item_id, _("Choose from 1 to 5 stars.")))
    try:
        resources.rate_library_item(
            unit_of_work(), user_id=current_user.id, item_id=item_id, stars=form.stars.data
        )
    except DomainError as exc:
        return _library_page(status=status_of(exc), rating_error=(item_id, exc.message))
    flash(_("Thank you: you gave %(stars)s of 5 stars.", stars=form.stars.data), "ok")
    return redirect(_local(form.next.data) or url_for("library.index", _anchor=f"item-{item_id}"))


@bp.get("/stories")
def stories():
    session = db_session()
    rows = session.scalars(select(SuccessStory).order_by(SuccessStory.published_at.desc())).all()
    named = {}
    for opt_in in session.scalars(select(StoryOptIn).order_by(StoryOptIn.id)).all():
        named.setdefault(opt_in.process_id, []).append(opt_in.user.display_name)
    return render_template("community/stories.html", stories=rows, named=named)
