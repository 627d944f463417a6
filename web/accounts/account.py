"""The member's own account (GDPR, #9): download everything Kopa holds about you, erase your
account; admins' user list, role changes and erasure of someone else's account. The work is
done in ``community.privacy`` and ``community.accounts``; this module parses input and maps
errors."""

from __future__ import annotations

import json

from flask import Blueprint, Response, abort, flash, redirect, render_template, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, logout_user
from sqlalchemy import select

from community import accounts, privacy
from community.db import utcnow
from community.errors import DomainError
from community.models import User
from web.accessors import db_session, evidence_root
from web.accounts.auth import LOGIN_LIMIT
from web.accounts.forms import AdminEraseForm, EraseForm, RoleForm
from web.booking.pages import policy
from web.errors import status_of
from web.extensions import limiter
from web.i18n import label
from web.portal import admin_required
from web.portal import bp as portal_bp
from web.usecase import back_to, run_use_case

bp = Blueprint("account", __name__)


def download(data: dict) -> Response:
    """The export as a JSON file to save, never a page to render or cache."""
    body = json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False)
    name = f"kopa-data-{data['member_id']}-{utcnow():%Y%m%d}.json"
    response = Response(body, mimetype="application/json")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


# --- pages -----------------------------------------------------------------------------------


@bp.get("/account")
@login_required
def index():
    return render_template("account/index.html", form=EraseForm(formdata=None),
                           phrase=privacy.CONFIRMATION_PHRASE)


@bp.get("/account/export")
@login_required
def export():
    return download(privacy.export_member_data(db_session(), viewer_id=current_user.id))


@bp.post("/account/erase")
@limiter.limit(LOGIN_LIMIT)
@login_required
def erase():
    form = EraseForm()
    if form.validate_on_submit():
        errors: list[DomainError] = []
        run_use_case(
            lambda uow: privacy.erase_own_account(uow, member_id=current_user.id, password=form.password.data,
                                                  policy=policy(), evidence_root=evidence_root()),
            failed=errors.append,
        )
        if errors:
            form.password.errors = [*form.password.errors, errors[0].message]
            status = status_of(errors[0])
        else:
            logout_user()
            session.clear()
            flash(_("Your account was erased. Your personal data is gone; the pseudonymous ledger "
                    "entries and their on-chain history stay."), "ok")
            return redirect(url_for("portal.home"))
    else:
        status = 400
    return render_template("account/index.html", form=form, phrase=privacy.CONFIRMATION_PHRASE), status


def _erasable(user_id: int) -> User:
    user = db_session().get(User, user_id) if 0 < user_id < 2**63 else None
    if user is None:
        abort(404, description=_("user %(id)s not found", id=user_id))
    return user


@bp.get("/admin/users/<int:user_id>/erase")
@admin_required
def admin_erase_page(user_id: int):
    user = _erasable(user_id)
    return render_template("account/admin_erase.html", user=user, form=AdminEraseForm(formdata=None),
                           erased=privacy.is_erased(db_session(), user.id))


@bp.post("/admin/users/<int:user_id>/erase")
@admin_required
def admin_erase(user_id: int):
    user = _erasable(user_id)
    form = AdminEraseForm()
    status = 400
    if form.validate_on_submit():
        if form.confirmation.data.strip() != str(user.id):
            form.confirmation.errors = [_("Type %(id)s to confirm; nothing was erased.", id=user.id)]
        else:

            def failed(exc: DomainError) -> None:
                form.confirmation.errors = [exc.message]
                nonlocal status
                status = status_of(exc)

            erased = run_use_case(
                lambda uow: privacy.erase_by_admin(uow, admin_id=current_user.id, member_id=user.id,
                                                   policy=policy(), evidence_root=evidence_root()),
                done=_("User %(id)s was erased; the action is in the audit log.", id=user.id),
                then=url_for("portal.users"), failed=failed,
            )
            if erased is not None:
                return erased
    return render_template("account/admin_erase.html", user=user, form=form,
                           erased=privacy.is_erased(db_session(), user.id)), status


# --- admins' user list (on the portal blueprint) -------------------------------------------


@portal_bp.get("/admin/users")
@admin_required
def users():
    rows = db_session().scalars(select(User).order_by(User.id)).all()
    return render_template("admin_users.html", users=rows, form=RoleForm())


@portal_bp.post("/admin/users/<int:user_id>/role")
@admin_required
def set_role(user_id: int):
    form = RoleForm()
    if not form.validate_on_submit():
        flash(_("Choose one of the listed roles."), "error")
        return redirect(url_for("portal.users"))
    back = url_for("portal.users")
    return run_use_case(
        lambda uow: accounts.set_role(uow, actor_id=current_user.id, user_id=user_id, role=form.role.data),
        done=_("User %(id)s is now %(role)s.", id=user_id, role=label(form.role.data)),
        then=back,
        failed=back_to(back),
    )

