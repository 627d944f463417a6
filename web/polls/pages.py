"""Poll pages: members vote and see results, staff create and close polls, and the kiosk
screen where anyone answers anonymously.

A kiosk answer belongs to a kiosk session: a random id kept in the signed session cookie.
Each session answers once; the "Next person" button (pressed by the person or by kiosk.js
after a few seconds) issues a fresh id. Answers are rate-limited per kiosk, not per address,
because every answer at a public screen comes from the same browser.
"""

from __future__ import annotations

import datetime as dt
import os

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy import select

from community.db import as_utc
from community.errors import Conflict, DomainError
from community.models import Process
from community.polls import editing, kiosks, tallies, voting
from web import i18n
from web.accessors import db_session, unit_of_work
from web.errors import status_of
from web.extensions import limiter
from web.forms import PlainForm
from web.polls.forms import PollForm, VoteForm
from web.portal import staff_required
from web.usecase import run_use_case

bp = Blueprint("polls", __name__)
kiosk_bp = Blueprint("kiosk", __name__)

KIOSK_RATE_DEFAULT = "30/minute"
KIOSK_RESET_SECONDS = 8
KIOSK_LIMIT_MESSAGE = _l(
    "This screen has taken many answers in a short time. Please wait a minute and try again."
)


def _naive_utc(value: dt.datetime) -> dt.datetime:
    return as_utc(value).astimezone(dt.UTC).replace(tzinfo=None)


@bp.app_template_filter("poll_time")
def poll_time(value: dt.datetime | None) -> str:
    return f"{i18n.when(_naive_utc(value), dt.UTC)} UTC" if value else ""


def _poll_form(poll=None) -> PollForm:
    form = PollForm()
    processes = db_session().execute(select(Process.id, Process.title).order_by(Process.id))
    form.process_id.choices = [(0, _("no process (standalone)"))] + [(pid, title) for pid, title in processes]
    if poll is not None and not form.is_submitted():
        form.question.data = poll.question
        form.description.data = poll.description
        form.options.data = "\n".join(o.label for o in poll.options)
        form.kind.data = poll.kind
        form.max_choices.data = poll.max_choices
        form.allow_text.data = poll.allow_text
        form.process_id.data = poll.process_id or 0
        form.opens_at.data = _naive_utc(poll.opens_at)
        form.closes_at.data = _naive_utc(poll.closes_at)
        form.results_visibility.data = poll.results_visibility
        form.points.data = poll.points
        form.kiosk_enabled.data = poll.kiosk_enabled
    return form


# --- members --------------------------------------------------------------------------


@bp.get("/polls")
@login_required
def index():
    views = tallies.list_polls(db_session(), viewer_id=current_user.id)
    return render_template("polls/list.html", views=views)


@bp.route("/polls/<int:poll_id>", methods=["GET", "POST"])
@login_required
def poll(poll_id: int):
    form = VoteForm()
    status = 200
    if form.validate_on_submit():
        errors: list[DomainError] = []
        run_use_case(
            lambda uow: voting.vote(uow, member_id=current_user.id, poll_id=poll_id, choices=form.choice.data,
                                   text=form.text.data or None),
            failed=errors.append,
        )
        if not errors:
            flash(_("Thank you for voting."), "ok")
            return redirect(url_for("polls.poll", poll_id=poll_id), code=303)
        if status_of(errors[0]) not in (400, 409):
            raise errors[0]
        form.choice.errors.append(errors[0].message)
        status = status_of(errors[0])
    elif form.is_submitted():
        status = 400
    view = tallies.poll_view(db_session(), viewer_id=current_user.id, poll_id=poll_id)
    return render_template("polls/poll.html", view=view, form=form), status


@bp.get("/polls/<int:poll_id>/results")
@login_required
def results(poll_id: int):
    view = tallies.poll_view(db_session(), viewer_id=current_user.id, poll_id=poll_id)
    return render_template("polls/results.html", view=view, close_form=PlainForm())


# --- staff ----------------------------------------------------------------------------


@bp.get("/staff/polls")
@staff_required
def staff_index():
    views = tallies.list_polls(db_session(), viewer_id=current_user.id)
    return render_template("polls/staff_list.html", views=views, close_form=PlainForm())


@bp.route("/staff/polls/new", methods=["GET", "POST"])
@staff_required
def create():
    form = _poll_form()
    if form.validate_on_submit():
        try:
            poll_id = editing.create_poll(
                unit_of_work(), actor_id=current_user.id, **form.fields_for_service()
            )
        except DomainError as exc:
            if status_of(exc) != 400 and status_of(exc) != 404:
                raise
            form.show_error(exc)
        else:
            flash(_("The poll is ready."), "ok")
            return redirect(url_for("polls.results", poll_id=poll_id), code=303)
    status = 400 if form.errors else 200
    return render_template("polls/form.html", form=form, poll=None), status


@bp.route("/staff/polls/<int:poll_id>/edit", methods=["GET", "POST"])
@staff_required
def edit(poll_id: int):
    view = tallies.poll_view(db_session(), viewer_id=current_user.id, poll_id=poll_id)
    form = _poll_form(view.poll)
    status = 200
    if form.validate_on_submit():
        try:
            editing.update_poll(unit_of_work(), actor_id=current_user.id, poll_id=poll_id,
                              **form.fields_for_service())
        except DomainError as exc:
            if status_of(exc) not in (400, 404, 409):
                raise
            form.show_error(exc)
            status = status_of(exc)
        else:
            flash(_("The poll is updated."), "ok")
            return redirect(url_for("polls.results", poll_id=poll_id), code=303)
    elif form.errors:
        status = 400
    return render_template("polls/form.html", form=form, poll=view.poll, state=view.state), status


@bp.post("/staff/polls/<int:poll_id>/close")
@staff_required
def close(poll_id: int):
    try:
        editing.close_poll(unit_of_work(), actor_id=current_user.id, poll_id=poll_id)
    except Conflict as exc:
        flash(exc.message, "error")
    else:
        flash(_("Poll %(id)s is closed.", id=poll_id), "ok")
    return redirect(url_for("polls.staff_index"), code=303)


# --- kiosk ----------------------------------------------------------------------------


def _session_key(poll_id: int) -> str:
    return f"kiosk:{poll_id}"


def _kiosk_rate() -> str:
    return current_app.config.get("KOPA_KIOSK_RATE") or os.environ.get("KOPA_KIOSK_RATE", KIOSK_RATE_DEFAULT)


def _kiosk_key() -> str:
    return f"kiosk:{(request.view_args or {}).get('poll_id')}"


def _render_kiosk(poll_id: int, form: VoteForm | None = None, message: str | None = None, status: int = 200):
    kiosk_session = session.get(_session_key(poll_id))
    view = kiosks.kiosk_view(db_session(), poll_id=poll_id, kiosk_session=kiosk_session)
    if kiosk_session is None:
        session[_session_key(poll_id)] = kiosks.new_kiosk_session()
    return render_template(
        "polls/kiosk.html", view=view, form=form or VoteForm(), next_form=PlainForm(),
        message=message, reset_seconds=KIOSK_RESET_SECONDS,
    ), status


@kiosk_bp.get("/kiosk/<int:poll_id>")
def kiosk(poll_id: int):
    return _render_kiosk(poll_id)


@kiosk_bp.post("/kiosk/<int:poll_id>")
@limiter.limit(_kiosk_rate, key_func=_kiosk_key, methods=["POST"], error_message=KIOSK_LIMIT_MESSAGE)
def kiosk_answer(poll_id: int):
    form = VoteForm()
    if not form.validate_on_submit():
        message = " ".join(e for errors in form.errors.values() for e in errors)
        return _render_kiosk(poll_id, form, message or _("Please choose an answer."), 400)
    try:
        kiosks.kiosk_answer(
            unit_of_work(), poll_id=poll_id, kiosk_session=session.get(_session_key(poll_id)),
            choices=form.choice.data, text=form.text.data or None,
        )
    except DomainError as exc:
        if status_of(exc) not in (400, 409):
            raise
        return _render_kiosk(poll_id, form, exc.message, status_of(exc))
    return redirect(url_for("kiosk.kiosk", poll_id=poll_id), code=303)


@kiosk_bp.post("/kiosk/<int:poll_id>/next")
def kiosk_next(poll_id: int):
    """The next person gets a new kiosk session (and so one new answer)."""
    session[_session_key(poll_id)] = kiosks.new_kiosk_session()
    return redirect(url_for("kiosk.kiosk", poll_id=poll_id), code=303)


@kiosk_bp.errorhandler(429)
def _kiosk_busy(exc):
    poll_id = (request.view_args or {}).get("poll_id")
    message = getattr(exc, "description", None) or str(KIOSK_LIMIT_MESSAGE)
    return _render_kiosk(poll_id, message=message, status=429)
