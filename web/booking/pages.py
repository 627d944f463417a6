"""Booking pages: resources, the day/week calendar, a member's bookings and waitlist places,
and calendar feeds. Server-rendered; forms post normally. The staff desk is in desk.py."""

from __future__ import annotations

import datetime as dt

import segno
from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from booking import attendance, cancellation, freebusy, ics, loading, recurring, reservations, waitlist
from booking.models import Resource, ResourceGroup, State, WaitlistEntry
from booking.timeutil import utc
from community.db import is_row_id
from community.errors import DomainError, Forbidden
from community.i18n import N_, Msg
from web import i18n
from web.accessors import db_session, release_read_session, unit_of_work
from web.booking.forms import BookForm, CodeForm, ReasonForm
from web.booking.settings import hours_text, policy
from web.forms import PlainForm
from web.i18n import translate
from web.usecase import run_use_case

bp = Blueprint("booking", __name__, url_prefix="/booking")


def instant(day: dt.date, at: dt.time) -> dt.datetime:
    return dt.datetime.combine(day, at, tzinfo=policy().tz)


def get_or_404(model: type, id_: int):
    obj = db_session().get(model, id_) if is_row_id(id_) else None
    if obj is None:
        what = Msg(model.__name__.lower())
        abort(404, description=translate(N_("%(what)s %(id)s not found", what=what, id=id_)))
    return obj


# --- resources and the calendar ----------------------------------------------------------------


@bp.get("")
def index():
    groups = db_session().scalars(select(ResourceGroup).order_by(ResourceGroup.id)).all()
    return render_template("booking/index.html", groups=groups, hours_text=hours_text)


@bp.route("/resources/<int:resource_id>", methods=["GET", "POST"])
def resource(resource_id: int):
    res = get_or_404(Resource, resource_id)
    if not res.active:
        abort(404, description=_("resource %(id)s is not bookable", id=resource_id))
    view = request.args.get("view", "week")
    if view not in ("day", "week"):
        view = "week"
    today = dt.datetime.now(policy().tz).date()
    try:
        day = dt.date.fromisoformat(request.args.get("date", "")) if request.args.get("date") else today
    except ValueError:
        day = today
    first = day  # the week view shows seven days from the chosen day (today by default)
    form = BookForm()
    if request.method == "GET":
        form.date.data = day
        if request.args.get("start"):
            try:
                start = dt.time.fromisoformat(request.args["start"])
                form.start.data = start
                end = (dt.datetime.combine(day, start) + dt.timedelta(minutes=res.min_minutes)).time()
                form.end.data = end
            except ValueError:
                pass
    status = 200
    if request.method == "POST":
        if not current_user.is_authenticated:
            return redirect(url_for("auth.login", next=request.path))
        outcome = _handle_booking_form(res, form)
        if outcome is not None:
            return outcome
        status = 400
        res = get_or_404(Resource, resource_id)  # booking released the request's read session
    try:
        _day_list, dates, times, rows = freebusy.calendar_days(
            db_session(),
            resource_id=res.id,
            first_day=first,
            days=1 if view == "day" else 7,
            member_id=current_user.id if current_user.is_authenticated else None,
            policy=policy(),
        )
    except DomainError as exc:
        abort(400, description=exc.message)
    step = dt.timedelta(days=1 if view == "day" else 7)
    return render_template(
        "booking/resource.html",
        resource=res,
        form=form,
        view=view,
        dates=dates,
        times=times,
        rows=rows,
        day=day,
        prev_day=first - step,
        next_day=first + step,
        today=today,
        hours=hours_text(res),
        timezone=policy().timezone,
    ), status


def _handle_booking_form(res: Resource, form: BookForm):
    """Book, book a series, or join the waitlist; returns a redirect, or None with errors on the form."""
    if not form.validate_on_submit():
        return None
    start, end = instant(form.date.data, form.start.data), instant(form.date.data, form.end.data)
    release_read_session()
    uow = unit_of_work()
    try:
        if request.form.get("action") == "waitlist":
            waitlist.join_waitlist(
                uow, member_id=current_user.id, resource_id=res.id, start=start, end=end, policy=policy()
            )
            flash(_("You are on the waitlist. If the slot frees, "
                    "you will be notified and can confirm it."), "ok")
            return redirect(url_for("booking.mine"))
        if form.repeat.data:
            result = recurring.book_series(
                uow,
                member_id=current_user.id,
                resource_id=res.id,
                start=start,
                end=end,
                every_weeks=form.every_weeks.data or 1,
                count=form.count.data,
                until=form.until.data,
                mode=form.mode.data,
                policy=policy(),
            )
            message = _("Booked %(count)s dates of %(name)s.", count=len(result.bookings), name=res.name)
            if result.skipped:
                skipped = "; ".join(f"{i18n.day(d)} ({translate(why)})" for d, why in result.skipped)
                message += " " + _("Skipped: %(dates)s", dates=skipped)
            flash(message, "ok")
            return redirect(url_for("booking.mine"))
    except DomainError as exc:
        form.date.errors = [*form.date.errors, exc.message]
        return None
    errors: list[DomainError] = []
    booked = run_use_case(
        lambda uow: reservations.book(
            uow, member_id=current_user.id, resource_id=res.id, start=start, end=end, policy=policy()
        ),
        failed=errors.append,
    )
    if errors:
        form.date.errors = [*form.date.errors, errors[0].message]
        return None
    if booked.state == State.PENDING:
        requested = _("Requested %(name)s: staff will approve or decline it.", name=res.name)
        if booked.credits:
            requested += " " + _("%(credits)s credits are held meanwhile.", credits=booked.credits)
        flash(requested, "ok")
    else:
        booked_text = _("Booked %(name)s, %(when)s.", name=res.name, when=i18n.span(start, end, policy().tz))
        if booked.credits:
            booked_text += " " + _("%(credits)s credits spent.", credits=booked.credits)
        flash(booked_text, "ok")
    return redirect(url_for("booking.detail", booking_id=booked.id))


@bp.get("/resources/<int:resource_id>.ics")
def resource_feed(resource_id: int):
    res = get_or_404(Resource, resource_id)
    return Response(
        ics.resource_feed(db_session(), res),
        mimetype="text/calendar",
        headers={"Content-Disposition": f'inline; filename="kopa-resource-{res.id}.ics"'},
    )


# --- a member's bookings ---------------------------------------------------------------------------


@bp.get("/mine")
@login_required
def mine():
    session = db_session()
    bookings = loading.member_bookings(session, current_user.id)
    now = dt.datetime.now(dt.UTC)
    upcoming = [
        b
        for b in bookings
        if utc(b.ends_at) > now
        and b.state in (State.PENDING, State.OFFERED, State.CONFIRMED, State.CHECKED_IN)
    ]
    upcoming.reverse()
    past = [b for b in bookings if b not in upcoming]
    waiting = session.scalars(
        select(WaitlistEntry)
        .where(WaitlistEntry.member_id == current_user.id, WaitlistEntry.state == "waiting")
        .order_by(WaitlistEntry.starts_at)
    ).all()
    feed = url_for(
        "booking.member_feed",
        token=ics.feed_token(session, current_app.config["SECRET_KEY"], current_user.id),
        _external=True,
    )
    return render_template(
        "booking/mine.html",
        upcoming=upcoming,
        past=past,
        waiting=waiting,
        feed=feed,
        form=PlainForm(),
        reason_form=ReasonForm(),
    )


@bp.route("/bookings/<int:booking_id>", methods=["GET"])
@login_required
def detail(booking_id: int):
    booking = loading.booking_for(db_session(), actor=current_user, booking_id=booking_id)
    code_form = CodeForm()
    if request.args.get("code"):
        code_form.code.data = request.args["code"][:12]
    qr = None
    if booking.member_id == current_user.id and booking.state == State.CONFIRMED:
        target = url_for("booking.detail", booking_id=booking.id, code=booking.code, _external=True)
        title = _("Check-in code %(code)s", code=booking.code)
        qr = segno.make(target, error="m").svg_inline(scale=4, title=title)
    return render_template(
        "booking/detail.html",
        booking=booking,
        qr=qr,
        code_form=code_form,
        form=PlainForm(),
        reason_form=ReasonForm(),
        deadline=utc(booking.starts_at) - policy().cancel_deadline,
        checkin_opens=utc(booking.starts_at) - policy().checkin_before,
        checkin_closes=utc(booking.starts_at) + policy().checkin_after,
    )


def act(action, success: str, booking_id: int | None = None):
    """One member or staff action; its error is flashed. Forbidden (someone else's booking,
    series or waitlist entry) is a 403, not a flash."""
    release_read_session()
    run_use_case(action, done=success, failed=lambda exc: flash(exc.message, "error"), raises=(Forbidden,))
    target = request.form.get("next", "")
    if target.startswith("/booking/") and "//" not in target:
        return redirect(target)
    if booking_id is not None:
        return redirect(url_for("booking.detail", booking_id=booking_id))
    return redirect(url_for("booking.mine"))


@bp.post("/bookings/<int:booking_id>/cancel")
@login_required
def cancel(booking_id: int):
    form = ReasonForm()
    if not form.validate_on_submit():
        flash(_("The reason is too long (2000 characters at most)."), "error")
        return redirect(url_for("booking.detail", booking_id=booking_id))
    return act(
        lambda uow: cancellation.cancel(
            uow, actor_id=current_user.id, booking_id=booking_id, reason=form.reason.data, policy=policy()
        ),
        _("The booking is cancelled."),
        booking_id,
    )


@bp.post("/series/<int:series_id>/cancel")
@login_required
def cancel_series(series_id: int):
    form = ReasonForm()
    if not form.validate_on_submit():
        flash(_("The reason is too long (2000 characters at most)."), "error")
        return redirect(url_for("booking.mine"))
    result: dict = {}

    def action(uow):
        result["ids"] = cancellation.cancel_series(
            uow, actor_id=current_user.id, series_id=series_id, reason=form.reason.data, policy=policy()
        )

    response = act(action, _("The series is cancelled."))
    if "ids" in result and result["ids"][1]:
        late = len(result["ids"][1])
        flash(_("%(count)s date(s) are past the cancellation deadline and stay booked.", count=late), "error")
    return response


@bp.post("/bookings/<int:booking_id>/confirm")
@login_required
def confirm(booking_id: int):
    if not PlainForm().validate_on_submit():
        abort(400, description=_("the form has expired; try again"))
    return act(
        lambda uow: waitlist.confirm_offer(
            uow, member_id=current_user.id, booking_id=booking_id, policy=policy()
        ),
        _("The slot is yours."),
        booking_id,
    )


@bp.post("/bookings/<int:booking_id>/check-in")
@login_required
def check_in(booking_id: int):
    form = CodeForm()
    if not form.validate_on_submit():
        flash(_("Enter the check-in code."), "error")
        return redirect(url_for("booking.detail", booking_id=booking_id))
    return act(
        lambda uow: attendance.check_in(
            uow, actor_id=current_user.id, booking_id=booking_id, code=form.code.data, policy=policy()
        ),
        _("Checked in. Enjoy!"),
        booking_id,
    )


@bp.post("/waitlist/<int:entry_id>/leave")
@login_required
def leave_waitlist(entry_id: int):
    if not PlainForm().validate_on_submit():
        abort(400, description=_("the form has expired; try again"))
    return act(
        lambda uow: waitlist.leave_waitlist(uow, member_id=current_user.id, entry_id=entry_id),
        _("You left the waitlist."),
    )


@bp.post("/feed/rotate")
@login_required
def rotate_feed():
    if not PlainForm().validate_on_submit():
        abort(400, description=_("the form has expired; try again"))
    release_read_session()
    ics.rotate_feed(unit_of_work(), secret=current_app.config["SECRET_KEY"], user_id=current_user.id)
    flash(_("Your calendar feed has a new address; the old one no longer works."), "ok")
    return redirect(url_for("booking.mine"))


@bp.get("/feeds/<token>.ics")
def member_feed(token: str):
    session = db_session()
    user = ics.user_for_feed(session, current_app.config["SECRET_KEY"], token)
    if user is None:
        abort(404, description=_("unknown calendar feed"))
    body = ics.member_feed(session, user, site_url=current_app.config["KOPA_SITE_URL"], policy=policy())
    return Response(body, mimetype="text/calendar", headers={"Cache-Control": "private, no-store"})
