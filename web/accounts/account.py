"""The member's own account (GDPR, #9): download everything Kopa holds about you, erase your
account; an admin's erasure of someone else's account; and the same as JSON API calls.
The work is done in ``community.privacy``; this module parses input and maps errors."""

from __future__ import annotations

import json

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, logout_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length, ValidationError

from community import privacy
from community.db import utcnow
from community.errors import DomainError
from community.models import User
from web import bus
from web.accessors import db_session, evidence_root, unit_of_work
from web.api import json_body, token_required
from web.auth import LOGIN_LIMIT
from web.booking import policy
from web.errors import status_of
from web.extensions import limiter
from web.openapi import op
from web.portal import admin_required

bp = Blueprint("account", __name__)
api_bp = Blueprint("account_api", __name__, url_prefix="/api/v1")


class EraseForm(FlaskForm):
    password = PasswordField(_l("Your password"), validators=[DataRequired(), Length(max=256)])
    confirmation = StringField(
        _l('Type "%(phrase)s" to confirm', phrase=privacy.CONFIRMATION_PHRASE),
        validators=[DataRequired(), Length(max=100)],
    )

    def validate_confirmation(self, field):
        if (field.data or "").strip().lower() != privacy.CONFIRMATION_PHRASE:
            raise ValidationError(_('Type "%(phrase)s" exactly; nothing was erased.',
                                    phrase=privacy.CONFIRMATION_PHRASE))


class AdminEraseForm(FlaskForm):
    confirmation = StringField(
        _l("Type the member's number to confirm"), validators=[DataRequired(), Length(max=20)]
    )


def _download(data: dict) -> Response:
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
    return _download(privacy.export_member_data(db_session(), viewer_id=current_user.id))


@bp.post("/account/erase")
@limiter.limit(LOGIN_LIMIT)
@login_required
def erase():
    form = EraseForm()
    if form.validate_on_submit():
        uow = unit_of_work()
        try:
            privacy.erase_own_account(uow, member_id=current_user.id, password=form.password.data,
                                      policy=policy(), evidence_root=evidence_root())
        except DomainError as exc:
            form.password.errors = [*form.password.errors, exc.message]
            status = status_of(exc)
        else:
            bus.dispatch(uow.events)
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
            uow = unit_of_work()
            try:
                privacy.erase_by_admin(uow, admin_id=current_user.id, member_id=user.id, policy=policy(),
                                       evidence_root=evidence_root())
            except DomainError as exc:
                form.confirmation.errors = [exc.message]
                status = status_of(exc)
            else:
                bus.dispatch(uow.events)
                flash(_("User %(id)s was erased; the action is in the audit log.", id=user.id), "ok")
                return redirect(url_for("portal.users"))
    return render_template("account/admin_erase.html", user=user, form=form,
                           erased=privacy.is_erased(db_session(), user.id)), status


# --- JSON API --------------------------------------------------------------------------------


@api_bp.get("/me/export")
@token_required
def api_export():
    return _download(privacy.export_member_data(db_session(), viewer_id=g.api_user.id))


@api_bp.delete("/me")
@limiter.limit(LOGIN_LIMIT)
@token_required
def api_erase():
    data = json_body()
    uow = unit_of_work()
    result = privacy.erase_own_account(uow, member_id=g.api_user.id, password=data.get("password"),
                                       policy=policy(), evidence_root=evidence_root())
    bus.dispatch(uow.events)
    return jsonify(id=result.member_id, erased=True, bookings_cancelled=result.bookings_cancelled,
                   waitlists_left=result.waitlists_left, redemptions_cancelled=result.redemptions_cancelled,
                   tokens_revoked=result.tokens_revoked)


OPENAPI_PATHS = {
    "/api/v1/me/export": {
        "get": op("Everything Kopa holds about you as a JSON file (GDPR access and portability): profile, "
                  "wallet address, ledger, contributions, validations, bookings, waitlists, redemptions, "
                  "poll votes, teams, grants, notifications, API token metadata, board profile",
                  errors=(401, 404))
    },
    "/api/v1/me": {
        "delete": op("Erase your account (GDPR): personal data goes, the pseudonymous ledger and chain "
                     "history stay; future bookings are cancelled and refunded. 400 on a wrong password",
                     body={"password": {"type": "string"}}, errors=(400, 401, 409, 429))
    },
}


def register(app) -> None:
    from web.extensions import csrf

    app.register_blueprint(bp)
    app.register_blueprint(api_bp)
    csrf.exempt(api_bp)  # bearer tokens only
