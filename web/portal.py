"""The portal's pages: processes and tasks, contributing, validating, wallet, leaderboard."""

from __future__ import annotations

from functools import wraps

from flask import Blueprint, abort, flash, redirect, render_template, send_from_directory, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from community import services
from community.db import is_row_id
from community.errors import DomainError, Forbidden
from community.models import Contribution, ContributionState, Process, Task, User
from rewards.ledger import pending_points, points_total
from rewards.models import LedgerEntry
from rewards.wallets import wallet_of
from web import bus, chain_reader, db_session, standings_cache, unit_of_work
from web.config import PROJECT_ROOT
from web.forms import ContributionForm, DecisionForm, RoleForm

bp = Blueprint("portal", __name__)


def _requires(attribute: str, message: str):
    """Login first (anonymous users are sent to the login page), then the role check."""

    def decorator(view):
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if not getattr(current_user, attribute):
                raise Forbidden(message)
            return view(*args, **kwargs)

        return wrapped

    return decorator


staff_required = _requires("is_staff", "this page is for city staff")
admin_required = _requires("is_admin", "this page is for admins")


def _get_or_404(model: type, id_: int):
    obj = db_session().get(model, id_) if is_row_id(id_) else None
    if obj is None:
        abort(404, description=f"{model.__name__.lower()} {id_} not found")
    return obj


@bp.get("/")
def home():
    processes = db_session().scalars(select(Process).order_by(Process.id)).all()
    top = standings_cache().get()[:5]
    return render_template("home.html", processes=processes, top=top)


@bp.get("/processes/<int:process_id>")
def process(process_id: int):
    return render_template("process.html", process=_get_or_404(Process, process_id))


@bp.route("/tasks/<int:task_id>", methods=["GET", "POST"])
def task(task_id: int):
    task_ = _get_or_404(Task, task_id)
    form = ContributionForm()
    if form.is_submitted() and not current_user.is_authenticated:
        return redirect(url_for("auth.login", next=url_for("portal.task", task_id=task_id)))
    if form.validate_on_submit():
        uow = unit_of_work()
        try:
            services.submit_contribution(
                uow,
                member_id=current_user.id,
                task_id=task_id,
                text=form.text.data,
                evidence_url=form.evidence_url.data or None,
            )
        except DomainError as exc:
            form.text.errors.append(exc.message)
        else:
            bus.dispatch(uow.events)
            flash("Thank you! Your contribution is waiting for validation.", "ok")
            return redirect(url_for("portal.my_contributions"))
    mine = []
    if current_user.is_authenticated:
        mine = db_session().scalars(
            select(Contribution)
            .where(Contribution.task_id == task_id, Contribution.member_id == current_user.id)
            .order_by(Contribution.id.desc())
        ).all()
    status = 400 if form.errors else 200
    return render_template("task.html", task=task_, form=form, mine=mine), status


@bp.get("/contributions")
@login_required
def my_contributions():
    rows = db_session().scalars(
        select(Contribution)
        .where(Contribution.member_id == current_user.id)
        .order_by(Contribution.id.desc())
    ).all()
    return render_template("contributions.html", contributions=rows)


@bp.get("/validation")
@staff_required
def validation_queue():
    rows = db_session().scalars(
        select(Contribution)
        .where(Contribution.state == ContributionState.PENDING.value)
        .order_by(Contribution.id)
    ).all()
    return render_template("validation.html", contributions=rows, form=DecisionForm())


@bp.post("/contributions/<int:contribution_id>/<any(approve, reject):decision>")
@staff_required
def decide(contribution_id: int, decision: str):
    form = DecisionForm()
    if not form.validate_on_submit():
        flash("The comment is too long.", "error")
        return redirect(url_for("portal.validation_queue"))
    uow = unit_of_work()
    try:
        if decision == "approve":
            services.approve_contribution(
                uow, validator_id=current_user.id, contribution_id=contribution_id,
                comment=form.comment.data,
            )
        else:
            services.reject_contribution(
                uow, validator_id=current_user.id, contribution_id=contribution_id,
                comment=form.comment.data,
            )
    except DomainError as exc:
        flash(exc.message, "error")
    else:
        bus.dispatch(uow.events)
        flash(f"Contribution {contribution_id} {decision}d.", "ok")
    return redirect(url_for("portal.validation_queue"))


@bp.get("/wallet")
@login_required
def wallet():
    session = db_session()
    from web.loyalty import wallet_context  # loyalty's part of the page

    wallet_ = wallet_of(session, current_user.id)
    entries = session.scalars(
        select(LedgerEntry)
        .where(LedgerEntry.member_id == current_user.id)
        .order_by(LedgerEntry.id.desc())
    ).all()
    return render_template(
        "wallet.html",
        wallet=wallet_,
        balance=chain_reader().balance_of(session, wallet_.address) if wallet_ else None,
        total=points_total(session, current_user.id),
        pending=pending_points(session, current_user.id),
        entries=entries,
        **wallet_context(session, current_user.id),
    )


@bp.get("/leaderboard")
def leaderboard():
    from web.boards import leaderboard_page  # scopes, periods, own place, freezes (#6)

    return leaderboard_page()


@bp.get("/admin/users")
@admin_required
def users():
    rows = db_session().scalars(select(User).order_by(User.id)).all()
    return render_template("admin_users.html", users=rows, form=RoleForm())


@bp.post("/admin/users/<int:user_id>/role")
@admin_required
def set_role(user_id: int):
    form = RoleForm()
    if not form.validate_on_submit():
        flash("Choose one of the listed roles.", "error")
        return redirect(url_for("portal.users"))
    try:
        services.set_role(unit_of_work(), actor_id=current_user.id, user_id=user_id, role=form.role.data)
    except DomainError as exc:
        flash(exc.message, "error")
    else:
        flash(f"User {user_id} is now {form.role.data}.", "ok")
    return redirect(url_for("portal.users"))


@bp.get("/vendor/socket.io.min.js")
def socketio_client():
    """The Socket.IO browser client, pinned in package.json."""
    return send_from_directory(
        PROJECT_ROOT / "node_modules" / "socket.io-client" / "dist", "socket.io.min.js",
        max_age=86400,
    )
