"""The booking staff desk: pending requests, today's bookings, decisions, resource groups,
resources and blackouts (routes on the ``booking`` blueprint)."""

from __future__ import annotations

import datetime as dt

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from booking import approvals, inventory, slots
from booking.models import Blackout, Booking, Resource, ResourceGroup, State
from web.accessors import db_session
from web.booking.forms import BlackoutForm, CodeForm, GroupForm, ReasonForm, ResourceForm
from web.booking.pages import act, bp, instant
from web.booking.settings import policy
from web.forms import PlainForm
from web.portal import staff_required


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
            Booking.state.in_(slots.BLOCKING_VALUES),
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
    act(
        lambda uow: approvals.decide(
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
        act(
            lambda uow: inventory.create_group(
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
    return act(
        lambda uow: inventory.create_resource(
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
    return act(
        lambda uow: inventory.add_blackout(
            uow,
            actor_id=current_user.id,
            resource_id=resource_id,
            start=instant(form.date_from.data, form.time_from.data),
            end=instant(form.date_until.data, form.time_until.data),
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
    return act(
        lambda uow: inventory.remove_blackout(uow, actor_id=current_user.id, blackout_id=blackout_id),
        _("The blackout is removed."),
    )
