"""The notification centre's pages: the list, marking read, and the member's preferences."""

from __future__ import annotations

from urllib.parse import urlparse

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField

from community import notifications as notes
from community.errors import DomainError
from community.notifications import CATEGORIES, MODES
from web import i18n
from web.accessors import database, db_session, release_read_session, unit_of_work
from web.forms import PlainForm
from web.notifications.delivery import delivery

bp = Blueprint("notifications", __name__)

MODE_LABELS = {"immediate": _l("Immediately"), "digest": _l("In the daily digest")}

def _local(value) -> str:
    return i18n.full(value, delivery().settings().tz)


def _safe_link(link: str | None) -> str | None:
    """Only links inside the site (notifications carry paths)."""
    if not link or not link.startswith("/") or link.startswith("//") or urlparse(link).netloc:
        return None
    return link


@bp.get("/notifications")
@login_required
def notifications():
    rows = notes.recent(db_session(), current_user.id, limit=100)
    return render_template(
        "notifications/index.html", notifications=rows, when=_local, safe_link=_safe_link,
        categories=CATEGORIES, category_of=notes.category_of,
    )


@bp.post("/notifications/<int:notification_id>/read")
@login_required
def notification_read(notification_id: int):
    if not PlainForm().validate_on_submit():
        flash(_("The form has expired; try again."), "error")
        return redirect(url_for("notifications.notifications"))
    release_read_session()
    notes.mark_read(unit_of_work(), user_id=current_user.id, notification_id=notification_id)
    delivery().push_unread([current_user.id])
    return redirect(url_for("notifications.notifications"))


@bp.post("/notifications/read")
@login_required
def notifications_read():
    if PlainForm().validate_on_submit():
        release_read_session()
        with database().write_sessions() as session, session.begin():
            marked = notes.mark_all_read(session, current_user.id)
        delivery().push_unread([current_user.id])
        flash(ngettext("%(num)s notification marked as read.", "%(num)s notifications marked as read.",
                       marked), "ok")
    else:
        flash(_("The form has expired; try again."), "error")
    return redirect(url_for("notifications.notifications"))


def _preferences_form(current: dict[str, dict]) -> FlaskForm:
    class PreferencesForm(FlaskForm):
        pass

    for key, choice in current.items():
        setattr(PreferencesForm, f"email_{key}", BooleanField(_l("E-mail"), default=choice["email"]))
        setattr(
            PreferencesForm,
            f"mode_{key}",
            SelectField(_l("When"), choices=[(m, MODE_LABELS[m]) for m in MODES], default=choice["mode"]),
        )
    return PreferencesForm()


@bp.route("/notifications/preferences", methods=["GET", "POST"])
@login_required
def preferences():
    current = notes.preferences(db_session(), current_user.id)
    form = _preferences_form(current)
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            changes = {
                key: {"email": bool(form[f"email_{key}"].data), "mode": form[f"mode_{key}"].data}
                for key in current
            }
            release_read_session()
            try:
                notes.set_preferences(unit_of_work(), user_id=current_user.id, changes=changes)
            except DomainError as exc:
                flash(exc.message, "error")
                status = 400
            else:
                flash(_("Your notification preferences are saved."), "ok")
                return redirect(url_for("notifications.preferences"))
        else:
            status = 400
    return render_template(
        "notifications/preferences.html", form=form, current=current, mode_labels=MODE_LABELS,
        smtp=delivery().sender() is not None, digest_hour=delivery().digest_hour(),
    ), status
