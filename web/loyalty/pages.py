"""Loyalty pages: the catalogue and redemptions, the staff queue and item editor, admin pages
for badges and tiers, and what the wallet page shows of them."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from community.errors import DomainError, Forbidden
from rewards import badges, catalogue, loyalty
from rewards.models import Badge, CatalogueItem, Redemption, RedemptionState, TierRow
from web.accessors import db_session, release_read_session, unit_of_work
from web.forms import PlainForm
from web.loyalty.forms import METRIC_LABELS, BadgeForm, ItemForm, NoteForm, TierForm
from web.portal import admin_required, get_or_404, staff_required
from web.usecase import back_to, run_use_case

bp = Blueprint("loyalty", __name__)


def wallet_context(session: Session, member_id: int, figures: dict[str, int]) -> dict:
    """What the wallet page adds for loyalty: burns on their way, badges, tier progress.
    ``figures``: the page's ``wallet_summary``, whose points and burns are reused."""
    recent = session.scalars(
        select(Redemption).options(joinedload(Redemption.item))
        .where(Redemption.member_id == member_id).order_by(Redemption.id.desc()).limit(5)
    ).all()
    return {
        "pending_burns": figures["pending_burn"],
        "badges": badges.earned_badges(session, member_id),
        "progress": loyalty.tier_progress(session, member_id, points=figures["points"]),
        "redemptions": recent,
    }


def _form_error(form, exc: DomainError) -> None:
    form.form_errors.append(exc.message)


# --- members ---------------------------------------------------------------------------


@bp.get("/catalogue")
def catalogue_page():
    session = db_session()
    items = catalogue.catalogue(session)
    tier = loyalty.member_tier(session, current_user.id) if current_user.is_authenticated else None
    prices = {item.id: loyalty.discounted_price(item.price, tier) for item in items}
    return render_template(
        "loyalty/catalogue.html", items=items, prices=prices, tier=tier, form=PlainForm(),
        available=catalogue.is_available,
    )


@bp.post("/catalogue/<int:item_id>/redeem")
@login_required
def redeem(item_id: int):
    if not PlainForm().validate_on_submit():
        flash(_("The form has expired; please try again."), "error")
        return redirect(url_for("loyalty.catalogue_page"))
    member_id = current_user.id
    release_read_session()

    def failed(exc: DomainError):
        flash(exc.message, "error")
        return redirect(url_for("loyalty.catalogue_page"))

    return run_use_case(
        lambda uow: catalogue.redeem_item(uow, member_id=member_id, item_id=item_id),
        done=lambda redemption: _("Redeemed %(item)s for %(price)s credits. Staff will hand it over.",
                                  item=redemption.item.name, price=redemption.price),
        then=url_for("loyalty.my_redemptions"),
        failed=failed,
    )


@bp.get("/redemptions")
@login_required
def my_redemptions():
    rows = catalogue.redemptions_of(db_session(), current_user.id)
    return render_template("loyalty/redemptions.html", redemptions=rows, form=PlainForm())


@bp.post("/redemptions/<int:redemption_id>/cancel")
@login_required
def cancel_mine(redemption_id: int):
    if not PlainForm().validate_on_submit():
        flash(_("The form has expired; please try again."), "error")
        return redirect(url_for("loyalty.my_redemptions"))
    run_use_case(  # someone else's redemption: a 403, not a flash
        lambda uow: catalogue.cancel_redemption(uow, actor_id=current_user.id, redemption_id=redemption_id),
        done=_("Redemption %(id)s cancelled; the credits come back to you.", id=redemption_id),
        failed=lambda exc: flash(exc.message, "error"),
        raises=(Forbidden,),
    )
    return redirect(url_for("loyalty.my_redemptions"))


# --- staff -----------------------------------------------------------------------------


@bp.get("/staff/redemptions")
@staff_required
def queue():
    session = db_session()
    return render_template(
        "loyalty/queue.html",
        waiting=catalogue.redemption_queue(session),
        fulfilled=catalogue.redemption_queue(session, state=RedemptionState.FULFILLED.value)[-20:],
        form=NoteForm(),
    )


@bp.post("/staff/redemptions/<int:redemption_id>/<any(fulfil, cancel):decision>")
@staff_required
def decide(redemption_id: int, decision: str):
    form = NoteForm()
    if not form.validate_on_submit():
        flash(_("The note is too long."), "error")
        return redirect(url_for("loyalty.queue"))
    service = catalogue.fulfil_redemption if decision == "fulfil" else catalogue.cancel_redemption
    run_use_case(
        lambda uow: service(uow, actor_id=current_user.id, redemption_id=redemption_id, note=form.note.data),
        done=_("Redemption %(id)s fulfilled.", id=redemption_id) if decision == "fulfil"
        else _("Redemption %(id)s cancelled.", id=redemption_id),
        failed=lambda exc: flash(exc.message, "error"),
    )
    return redirect(url_for("loyalty.queue"))


@bp.route("/staff/catalogue", methods=["GET", "POST"])
@bp.route("/staff/catalogue/<int:item_id>", methods=["GET", "POST"])
@staff_required
def items(item_id: int | None = None):
    item = get_or_404(CatalogueItem, item_id) if item_id is not None else None
    form = ItemForm(obj=item)
    if form.validate_on_submit():
        try:
            catalogue.save_item(
                unit_of_work(), actor_id=current_user.id, item_id=item_id, name=form.name.data,
                description=form.description.data or "", price=form.price.data, stock=form.stock.data,
                per_member_limit=form.per_member_limit.data, valid_from=form.valid_from.data,
                valid_until=form.valid_until.data, image_url=form.image_url.data or None,
                active=form.active.data,
            )
        except DomainError as exc:
            _form_error(form, exc)
        else:
            flash(_("Saved %(name)s.", name=form.name.data), "ok")
            return redirect(url_for("loyalty.items"))
    rows = catalogue.catalogue(db_session(), include_inactive=True)
    status = 400 if form.errors or form.form_errors else 200
    return render_template("loyalty/items.html", items=rows, form=form, item=item), status


# --- admin -----------------------------------------------------------------------------


@bp.route("/admin/badges", methods=["GET", "POST"])
@bp.route("/admin/badges/<int:badge_id>", methods=["GET", "POST"])
@admin_required
def badge_admin(badge_id: int | None = None):
    badge = get_or_404(Badge, badge_id) if badge_id is not None else None
    form = BadgeForm(obj=badge)
    if badge is not None and not form.is_submitted():
        form.thresholds.data = ", ".join(str(level.threshold) for level in badge.levels)
    if form.validate_on_submit():
        try:
            badges.save_badge(
                unit_of_work(), actor_id=current_user.id, badge_id=badge_id, name=form.name.data,
                description=form.description.data or "", metric=form.metric.data,
                thresholds=form.thresholds.data, active=form.active.data,
            )
        except DomainError as exc:
            _form_error(form, exc)
        else:
            flash(_("Saved badge %(name)s.", name=form.name.data), "ok")
            return redirect(url_for("loyalty.badge_admin"))
    session = db_session()
    status = 400 if form.errors or form.form_errors else 200
    return render_template(
        "loyalty/badges.html", badges=badges.all_badges(session), counts=badges.award_counts(session),
        form=form, badge=badge, metric_labels=METRIC_LABELS,
    ), status


@bp.route("/admin/tiers", methods=["GET", "POST"])
@bp.route("/admin/tiers/<int:tier_id>", methods=["GET", "POST"])
@admin_required
def tier_admin(tier_id: int | None = None):
    tier = get_or_404(TierRow, tier_id) if tier_id is not None else None
    form = TierForm(obj=tier)
    if form.validate_on_submit():
        try:
            loyalty.save_tier(
                unit_of_work(), actor_id=current_user.id, tier_id=tier_id, name=form.name.data,
                min_points=form.min_points.data, rank=form.rank.data,
                discount_percent=form.discount_percent.data,
            )
        except DomainError as exc:
            _form_error(form, exc)
        else:
            flash(_("Saved tier %(name)s.", name=form.name.data), "ok")
            return redirect(url_for("loyalty.tier_admin"))
    status = 400 if form.errors or form.form_errors else 200
    return render_template(
        "loyalty/tiers.html", tiers=_tier_rows(), form=form, tier=tier, delete_form=PlainForm()
    ), status


def _tier_rows() -> list[TierRow]:
    return list(db_session().scalars(select(TierRow).order_by(TierRow.min_points)))


@bp.post("/admin/tiers/<int:tier_id>/delete")
@admin_required
def delete_tier(tier_id: int):
    if not PlainForm().validate_on_submit():
        abort(400, description=_("The form has expired; please try again."))
    back = url_for("loyalty.tier_admin")
    return run_use_case(
        lambda uow: loyalty.delete_tier(uow, actor_id=current_user.id, tier_id=tier_id),
        done=_("Tier deleted."), then=back, failed=back_to(back),
    )
