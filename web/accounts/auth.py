"""Registration, login and logout pages; loading the current user."""

from __future__ import annotations

from urllib.parse import urlparse

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from community import accounts
from community.errors import Conflict, InvalidInput, Unauthorized
from community.i18n import N_
from community.models import User
from web.accessors import db_session, unit_of_work
from web.accounts.forms import LoginForm, RegisterForm
from web.extensions import limiter, login_manager
from web.forms import PlainForm

bp = Blueprint("auth", __name__)

LOGIN_LIMIT = "20/minute;200/hour"  # per client address
ACCOUNT_LIMIT = "10/minute;50/hour"  # per e-mail address, whichever address tries it


def _failed(response) -> bool:
    """Only refused attempts count: a busy shared network can still log in."""
    return response.status_code in (400, 401)


def _account_key() -> str:
    """The e-mail address tried, from the login form or the token request's JSON; empty
    (no account limit: the address limit still applies) when there is none."""
    if request.form.get("email") is not None:
        email = request.form.get("email")
    else:
        data = request.get_json(silent=True, force=True)
        email = data.get("email") if isinstance(data, dict) else None
    return f"account:{email.strip().lower()}" if isinstance(email, str) and email.strip() else ""


# Shared scopes: the login page and the API's token endpoint draw on the same allowances,
# so an attacker gains nothing by switching between them.
login_per_address = limiter.shared_limit(
    LOGIN_LIMIT, scope="login-address", methods=["POST"], deduct_when=_failed,
    error_message=N_("Too many failed logins from your network: wait a minute and try again."),
)
login_per_account = limiter.shared_limit(
    ACCOUNT_LIMIT, scope="login-account", key_func=_account_key, methods=["POST"], deduct_when=_failed,
    error_message=N_("Too many failed logins for this account: wait a few minutes and try again."),
)


@login_manager.user_loader
def load_user(session_user: str) -> User | None:
    """The session holds ``<user id>.<session epoch>`` (User.get_id): a session signed before
    the member's last logout names an old epoch and is refused."""
    user_id, _, epoch = session_user.partition(".")
    if not (user_id.isdigit() and epoch.isdigit()):
        return None
    user = db_session().get(User, int(user_id))
    if user is None or not user.active or user.session_epoch != int(epoch):
        return None
    return user


def _safe_next(target: str | None) -> str:
    """Only same-site relative redirects after login."""
    if target and target.startswith("/") and not target.startswith("//") and not urlparse(target).netloc:
        return target
    return url_for("portal.home")


@bp.route("/login", methods=["GET", "POST"])
@login_per_address
@login_per_account
def login():
    form = LoginForm()
    if form.validate_on_submit():
        try:
            user = accounts.authenticate(db_session(), form.email.data, form.password.data)
        except Unauthorized as exc:
            form.password.errors.append(exc.message)
        else:
            session.clear()  # a fresh session at login: no fixation
            login_user(user)
            flash(_("Welcome, %(name)s.", name=user.display_name), "ok")
            return redirect(_safe_next(request.args.get("next")))
    status = 400 if form.errors else 200
    return render_template("auth/login.html", form=form), status


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit(LOGIN_LIMIT, methods=["POST"])
def register():
    form = RegisterForm()
    if form.validate_on_submit():
        try:
            user_id = accounts.register_member(
                unit_of_work(),
                email=form.email.data,
                display_name=form.display_name.data,
                password=form.password.data,
            )
        except Conflict as exc:
            form.email.errors.append(exc.message)
        except InvalidInput as exc:
            field = form.email if "email" in exc.message else form.password
            field.errors.append(exc.message)
        else:
            session.clear()
            login_user(db_session().get(User, user_id))
            flash(_("Your account is ready. Your wallet was created for you."), "ok")
            return redirect(url_for("portal.home"))
    status = 400 if form.errors else 200
    return render_template("auth/register.html", form=form), status


@bp.post("/logout")
@login_required
def logout():
    accounts.end_sessions(unit_of_work(), current_user.id)  # CSRFProtect checked the form's token
    logout_user()
    session.clear()
    flash(_("You are logged out."), "ok")
    return redirect(url_for("portal.home"))


@bp.app_context_processor
def _forms_for_layout() -> dict:
    # formdata=None: the layout's form never reads the request body (which may be the 413 one).
    return {"logout_form": PlainForm(formdata=None) if current_user.is_authenticated else None}
