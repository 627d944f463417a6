"""Booking pages: resources, the day/week calendar, my bookings, the staff desk, calendar feeds,
and the `kopa reminders` command. Server-rendered; forms post normally. Notifications have
their own blueprint (web/notifications.py)."""

from __future__ import annotations

import collections
import datetime as dt
import os
import time

import click
import segno
from flask import (
    Blueprint,
    Flask,
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
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import (
    BooleanField,
    DateField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from booking import ics, services
from booking.models import Blackout, Booking, Resource, ResourceGroup, State, WaitlistEntry
from booking.policy import BookingPolicy
from booking.timeutil import utc
from community.db import is_row_id
from community.errors import DomainError, Forbidden
from community.i18n import N_, Msg
from web import bus, i18n
from web.accessors import database, db_session, unit_of_work
from web.cli import kopa
from web.forms import PlainForm
from web.i18n import translate
from web.portal import staff_required

bp = Blueprint("booking", __name__, url_prefix="/booking")


def policy() -> BookingPolicy:
    return current_app.extensions["kopa.booking_policy"]


def register(app: Flask) -> None:
    from web import booking_api
    from web.extensions import csrf

    settings = collections.ChainMap(app.config, os.environ)
    app.extensions["kopa.booking_policy"] = BookingPolicy.from_settings(settings)
    app.register_blueprint(bp)
    app.register_blueprint(booking_api.bp)
    csrf.exempt(booking_api.bp)  # bearer tokens only, like the rest of the API

    @app.context_processor
    def _booking_context():
        return {"local_time": _local}


def _local(value: dt.datetime | None, fmt: str = "%a %d %b %Y %H:%M") -> str:
    """A stored instant in the centre's time zone, in the reader's language: weekday, date and
    time, or only the time for ``"%H:%M"``."""
    if value is None:
        return ""
    if fmt == "%H:%M":
        return i18n.clock(utc(value), policy().tz)
    return i18n.full(utc(value), policy().tz)


def _hours_text(resource: Resource) -> str:
    """Opening hours ("Mon-Sat 08:00-20:00") with the weekdays in the reader's language."""
    return i18n.weekdays_in_language(services.hours_text(resource))


# --- forms ------------------------------------------------------------------------------------


class BookForm(FlaskForm):
    date = DateField(_l("Date"), validators=[DataRequired(message=_l("Choose a date."))])
    start = TimeField(_l("From"), validators=[DataRequired(message=_l("Choose a start time."))])
    end = TimeField(_l("Until"), validators=[DataRequired(message=_l("Choose an end time."))])
    repeat = BooleanField(_l("Repeat weekly"))
    every_weeks = IntegerField(_l("Every … weeks"), default=1, validators=[Optional(), NumberRange(1, 52)])
    count = IntegerField(_l("Number of times"), validators=[Optional(), NumberRange(1, 52)])
    until = DateField(_l("Until date"), validators=[Optional()])
    mode = SelectField(
        _l("If some dates are taken"),
        choices=[
            ("all", _l("Book nothing (all or nothing)")),
            ("free", _l("Book the free dates, skip the rest")),
        ],
        default="all",
    )


class ReasonForm(FlaskForm):
    reason = TextAreaField(_l("Reason"), validators=[Optional(), Length(max=2000)])


class CodeForm(FlaskForm):
    code = StringField(_l("Check-in code"), validators=[DataRequired(), Length(max=12)])


class ResourceForm(FlaskForm):
    group = SelectField(_l("Group"), coerce=int)
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    kind = SelectField(_l("Kind"), choices=[("space", _l("Space")), ("equipment", _l("Equipment"))])
    capacity = IntegerField(_l("Capacity (people)"), validators=[Optional(), NumberRange(1, 100_000)])
    location = StringField(_l("Location"), validators=[Optional(), Length(max=200)])
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=10_000)])
    accessibility = TextAreaField(_l("Accessibility notes"), validators=[Optional(), Length(max=2000)])
    photo_url = StringField(_l("Photo URL"), validators=[Optional(), Length(max=2000)])
    hours = StringField(_l("Opening hours"), default="Mon-Sat 08:00-20:00", validators=[DataRequired()])
    slot_minutes = IntegerField(_l("Slot length (minutes)"), default=30, validators=[DataRequired()])
    min_minutes = IntegerField(_l("Shortest booking (minutes)"), default=30, validators=[DataRequired()])
    max_minutes = IntegerField(_l("Longest booking (minutes)"), default=240, validators=[DataRequired()])
    lead_minutes = IntegerField(_l("Book at least … minutes ahead"), default=60, validators=[Optional()])
    needs_approval = BooleanField(_l("Bookings need staff approval"))
    price_per_hour = IntegerField(_l("Credits per hour (0 = free)"), default=0, validators=[Optional()])
    peak_price_per_hour = IntegerField(_l("Peak credits per hour"), validators=[Optional()])
    peak_from = TimeField(_l("Peak from"), validators=[Optional()])
    peak_until = TimeField(_l("Peak until"), validators=[Optional()])


class GroupForm(FlaskForm):
    name = StringField(_l("Group name"), validators=[DataRequired(), Length(max=120)])
    max_hours_per_week = IntegerField(_l("Max hours per member per week"), validators=[Optional()])
    max_concurrent = IntegerField(_l("Max upcoming bookings per member"), validators=[Optional()])


class BlackoutForm(FlaskForm):
    date_from = DateField(_l("From date"), validators=[DataRequired()])
    time_from = TimeField(_l("From time"), validators=[DataRequired()])
    date_until = DateField(_l("Until date"), validators=[DataRequired()])
    time_until = TimeField(_l("Until time"), validators=[DataRequired()])
    reason = StringField(_l("Reason"), validators=[Optional(), Length(max=200)])


def writer():
    """The request's unit of work, after handing its read connection back to the pool: a request
    must never hold one pooled connection while it waits for a second one, or a burst of
    concurrent bookings (more than the pool's size) waits on itself until the pool times out."""
    db_session().close()
    return unit_of_work()


def _instant(day: dt.date, at: dt.time) -> dt.datetime:
    return dt.datetime.combine(day, at, tzinfo=policy().tz)


def _get_or_404(model: type, id_: int):
    obj = db_session().get(model, id_) if is_row_id(id_) else None
    if obj is None:
        what = Msg(model.__name__.lower())
        abort(404, description=translate(N_("%(what)s %(id)s not found", what=what, id=id_)))
    return obj


# --- resources and the calendar ----------------------------------------------------------------


@bp.get("")
def index():
    groups = db_session().scalars(select(ResourceGroup).order_by(ResourceGroup.id)).all()
    return render_template("booking/index.html", groups=groups, hours_text=_hours_text)


@bp.route("/resources/<int:resource_id>", methods=["GET", "POST"])
def resource(resource_id: int):
    res = _get_or_404(Resource, resource_id)
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
        res = _get_or_404(Resource, resource_id)  # booking released the request's read session
    try:
        _day_list, dates, times, rows = services.calendar_days(
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
        hours=_hours_text(res),
        timezone=policy().timezone,
    ), status


def _handle_booking_form(res: Resource, form: BookForm):
    """Book, book a series, or join the waitlist; returns a redirect, or None with errors on the form."""
    if not form.validate_on_submit():
        return None
    start, end = _instant(form.date.data, form.start.data), _instant(form.date.data, form.end.data)
    uow = writer()
    try:
        if request.form.get("action") == "waitlist":
            services.join_waitlist(
                uow, member_id=current_user.id, resource_id=res.id, start=start, end=end, policy=policy()
            )
            flash(_("You are on the waitlist. If the slot frees, "
                    "you will be notified and can confirm it."), "ok")
            return redirect(url_for("booking.mine"))
        if form.repeat.data:
            result = services.book_series(
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
        booked = services.book(
            uow, member_id=current_user.id, resource_id=res.id, start=start, end=end, policy=policy()
        )
    except DomainError as exc:
        form.date.errors = [*form.date.errors, exc.message]
        return None
    bus.dispatch(uow.events)
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
    res = _get_or_404(Resource, resource_id)
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
    bookings = services.member_bookings(session, current_user.id)
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
    booking = services.booking_for(db_session(), actor=current_user, booking_id=booking_id)
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


def _act(action, success: str, booking_id: int | None = None):
    uow = writer()
    try:
        action(uow)
    except Forbidden:
        raise  # someone else's booking, series or waitlist entry: a 403, not a flash
    except DomainError as exc:
        flash(exc.message, "error")
    else:
        bus.dispatch(uow.events)
        flash(success, "ok")
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
    return _act(
        lambda uow: services.cancel(
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
        result["ids"] = services.cancel_series(
            uow, actor_id=current_user.id, series_id=series_id, reason=form.reason.data, policy=policy()
        )

    response = _act(action, _("The series is cancelled."))
    if "ids" in result and result["ids"][1]:
        late = len(result["ids"][1])
        flash(_("%(count)s date(s) are past the cancellation deadline and stay booked.", count=late), "error")
    return response


@bp.post("/bookings/<int:booking_id>/confirm")
@login_required
def confirm(booking_id: int):
    if not PlainForm().validate_on_submit():
        abort(400, description=_("the form has expired; try again"))
    return _act(
        lambda uow: services.confirm_offer(
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
    return _act(
        lambda uow: services.check_in(
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
    return _act(
        lambda uow: services.leave_waitlist(uow, member_id=current_user.id, entry_id=entry_id),
        _("You left the waitlist."),
    )


@bp.post("/feed/rotate")
@login_required
def rotate_feed():
    if not PlainForm().validate_on_submit():
        abort(400, description=_("the form has expired; try again"))
    ics.rotate_feed(writer(), secret=current_app.config["SECRET_KEY"], user_id=current_user.id)
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


# --- staff desk -------------------------------------------------------------------------------------


@bp.get("/desk")
@staff_required
def desk():
    session = db_session()
    pending = session.scalars(
        select(Booking).where(Booking.state == State.PENDING.value).order_by(Booking.starts_at)
    ).all()
    tz = policy().tz
    today = dt.datetime.now(tz).date()
    start = dt.datetime.combine(today, dt.time(0), tzinfo=tz)
    todays = session.scalars(
        select(Booking)
        .where(
            Booking.starts_at >= start,
            Booking.starts_at < start + dt.timedelta(days=1),
            Booking.state.in_(services.BLOCKING_VALUES),
        )
        .order_by(Booking.starts_at)
    ).all()
    resources = session.scalars(select(Resource).order_by(Resource.group_id, Resource.id)).all()
    groups = session.scalars(select(ResourceGroup).order_by(ResourceGroup.id)).all()
    blackouts = session.scalars(
        select(Blackout).where(Blackout.ends_at > dt.datetime.now(dt.UTC)).order_by(Blackout.starts_at)
    ).all()
    resource_form = ResourceForm()
    resource_form.group.choices = [(g.id, g.name) for g in groups]
    return render_template(
        "booking/desk.html",
        pending=pending,
        todays=todays,
        resources=resources,
        groups=groups,
        blackouts=blackouts,
        reason_form=ReasonForm(),
        code_form=CodeForm(),
        resource_form=resource_form,
        group_form=GroupForm(),
        blackout_form=BlackoutForm(),
        form=PlainForm(),
    )


@bp.post("/bookings/<int:booking_id>/<any(approve, decline):decision>")
@staff_required
def decide(booking_id: int, decision: str):
    form = ReasonForm()
    if not form.validate_on_submit():
        flash(_("The comment is too long."), "error")
        return redirect(url_for("booking.desk"))
    _act(
        lambda uow: services.decide(
            uow,
            staff_id=current_user.id,
            booking_id=booking_id,
            approve=decision == "approve",
            comment=form.reason.data,
            policy=policy(),
        ),
        _("Booking %(id)s approved.", id=booking_id) if decision == "approve"
        else _("Booking %(id)s declined.", id=booking_id),
    )
    return redirect(url_for("booking.desk"))


@bp.post("/desk/groups")
@staff_required
def create_group():
    form = GroupForm()
    if form.validate_on_submit():
        _act(
            lambda uow: services.create_group(
                uow,
                actor_id=current_user.id,
                name=form.name.data,
                max_hours_per_week=form.max_hours_per_week.data,
                max_concurrent=form.max_concurrent.data,
            ),
            _("Group %(name)s created.", name=form.name.data),
        )
    else:
        flash("; ".join(e for errors in form.errors.values() for e in errors), "error")
    return redirect(url_for("booking.desk"))


@bp.post("/desk/resources")
@staff_required
def create_resource():
    form = ResourceForm()
    form.group.choices = [(g.id, g.name) for g in db_session().scalars(select(ResourceGroup))]
    if not form.validate_on_submit():
        flash("; ".join(f"{name}: {e}" for name, errors in form.errors.items() for e in errors), "error")
        return redirect(url_for("booking.desk"))
    fields = {
        name: getattr(form, name).data
        for name in (
            "name",
            "kind",
            "capacity",
            "location",
            "description",
            "accessibility",
            "photo_url",
            "slot_minutes",
            "min_minutes",
            "max_minutes",
            "lead_minutes",
            "needs_approval",
            "price_per_hour",
            "peak_price_per_hour",
            "peak_from",
            "peak_until",
        )
    }
    fields = {k: v for k, v in fields.items() if v is not None}
    return _act(
        lambda uow: services.create_resource(
            uow, actor_id=current_user.id, group_id=form.group.data, hours=form.hours.data, **fields
        ),
        _("%(name)s can now be booked.", name=form.name.data),
    )


@bp.post("/desk/resources/<int:resource_id>/blackouts")
@staff_required
def add_blackout(resource_id: int):
    form = BlackoutForm()
    if not form.validate_on_submit():
        flash(_("Give the blackout's start and end."), "error")
        return redirect(url_for("booking.desk"))
    return _act(
        lambda uow: services.add_blackout(
            uow,
            actor_id=current_user.id,
            resource_id=resource_id,
            start=_instant(form.date_from.data, form.time_from.data),
            end=_instant(form.date_until.data, form.time_until.data),
            reason=form.reason.data,
            policy=policy(),
        ),
        _("The blackout is in place."),
    )


@bp.post("/desk/blackouts/<int:blackout_id>/remove")
@staff_required
def remove_blackout(blackout_id: int):
    if not PlainForm().validate_on_submit():
        abort(400, description=_("the form has expired; try again"))
    return _act(
        lambda uow: services.remove_blackout(uow, actor_id=current_user.id, blackout_id=blackout_id),
        _("The blackout is removed."),
    )


# --- reminders (cron or a loop) ------------------------------------------------------------------


@kopa.command("reminders")
@click.option("--every", type=float, default=0.0, help="Repeat every N seconds (0: run once).")
def reminders_command(every: float) -> None:
    """Booking housekeeping: expire undecided holds, release no-shows, send due reminders;
    with SMTP also the daily notification digests (when due) and failed e-mails again."""
    from web.notifications import delivery

    notices = delivery()
    db = database()
    while True:
        handled = services.housekeeping(db.unit_of_work(), policy=policy())
        # The reminders are notifications: e-mailed after the commit by the notification
        # delivery, as each member's preferences say.
        sent = services.send_due_reminders(db.unit_of_work(), policy=policy())
        mailing = notices.sender() is not None
        digests = notices.run_digests(if_due=True) + notices.retry() if mailing else 0
        notices.wait()
        click.echo(
            f"released or expired {handled} booking(s); sent {sent} reminder(s)"
            + (f"; {digests} digest(s) or retried e-mail(s)" if mailing
               else " (in-app only: KOPA_SMTP_URL is not set)")
        )
        if every <= 0:
            return
        time.sleep(every)
