"""The contribution pages: a task and contributing to it, members' contributions, evidence
files, validating, and the member's wallet (routes on the ``portal`` blueprint)."""

from __future__ import annotations

from flask import abort, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from community import access, contributions, queue
from community.db import is_row_id
from community.errors import DomainError, Forbidden, NotFound
from community.evidence import MAX_EVIDENCE_BYTES, discard, evidence_path, store_evidence
from community.i18n import N_
from community.models import Contribution, ContributionState, Permission, Process, Task, User
from community.processes import progress, resources
from rewards.ledger import wallet_summary
from rewards.models import LedgerEntry
from rewards.totals import member_totals
from rewards.wallets import wallet_of
from web.accessors import contribution_policy, db_session, evidence_root, release_read_session
from web.contributions.forms import AppealForm, CommentForm, ContributionForm, DecisionForm, ResubmitForm
from web.errors import status_of
from web.i18n import translate
from web.loyalty.pages import wallet_context
from web.portal import bp, get_or_404, staff_required, user_or_none
from web.usecase import run_use_case

S = ContributionState
# Shown in the browser; everything else is downloaded so it is never rendered as a page.
INLINE_TYPES = {"image/png", "image/jpeg", "image/webp", "application/pdf"}


# --- tasks and contributing -----------------------------------------------------------------


def _visible_task(task_id: int) -> Task:
    """The task, or 404 for tasks of processes the user may not see (not even that they exist)."""
    session = db_session()
    task_ = get_or_404(Task, task_id)
    if not access.can(session, user_or_none(), Permission.VIEW, access.path_of_task(session, task_)):
        abort(404, description=translate(N_("%(what)s %(id)s not found", what=N_("task"), id=task_id)))
    return task_


def _submit(form: ContributionForm, task_id: int):
    """Store the evidence file (if any) and submit; the file goes again if the submission fails.
    Returns an error status, or the redirect to the member's contributions."""
    stored = None
    upload = form.evidence_file.data
    if upload is not None and upload.filename:
        try:
            stored = store_evidence(evidence_root(), upload.filename, upload.read(MAX_EVIDENCE_BYTES + 1))
        except DomainError as exc:
            form.evidence_file.errors.append(exc.message)
            return status_of(exc)

    def failed(exc: DomainError) -> int:
        discard(stored)
        form.form_errors.append(exc.message)
        return status_of(exc)

    return run_use_case(
        lambda uow: contributions.submit_contribution(
            uow,
            member_id=current_user.id,
            task_id=task_id,
            text=form.text.data,
            evidence_url=form.evidence_url.data or None,
            evidence=stored,
            co_contributors=form.co_contributors.data or None,
            policy=contribution_policy(),
        ),
        done=_("Thank you! Your contribution is waiting for validation."),
        then=url_for("portal.my_contributions"),
        failed=failed,
    )


@bp.route("/tasks/<int:task_id>", methods=["GET", "POST"])
def task(task_id: int):
    task_ = _visible_task(task_id)
    form = ContributionForm()
    if form.is_submitted() and not current_user.is_authenticated:
        return redirect(url_for("auth.login", next=url_for("portal.task", task_id=task_id)))
    status = 200
    if form.validate_on_submit():
        status = _submit(form, task_id)
        if not isinstance(status, int):
            return status
    elif form.errors:
        status = 400
    session = db_session()
    path = access.path_of_task(session, task_)
    user = user_or_none()
    mine = []
    if user is not None:
        mine = session.scalars(
            select(Contribution)
            .where(Contribution.task_id == task_id, Contribution.member_id == user.id)
            .order_by(Contribution.id.desc())
        ).all()
    return render_template(
        "community/task.html",
        task=task_,
        form=form,
        mine=mine,
        may_contribute=access.can(session, user, Permission.CONTRIBUTE, path),
        blocked_by=progress.task_blocked_by(session, task_),
        ratings=resources.library_ratings(session),
    ), status


# --- members' contributions ------------------------------------------------------------------


def _may_manage(session: Session, user, contribution: Contribution) -> bool:
    return bool(
        user.is_staff
        and access.can(session, user, Permission.MANAGE, access.path_of_task(session, contribution.task))
    )


def _readable(contribution_id: int) -> Contribution:
    """The contributor, co-contributors, staff managing the process, auditors and admins."""
    contribution = get_or_404(Contribution, contribution_id)
    user = current_user
    if not (
        user.id in contribution.member_ids
        or user.is_auditor
        or _may_manage(db_session(), user, contribution)
    ):
        raise Forbidden("only the contributors, the process's staff and auditors can see this contribution")
    return contribution


def _member_forms(contribution: Contribution) -> dict:
    return {
        "resubmit_form": ResubmitForm(formdata=None, text=contribution.text),
        "appeal_form": AppealForm(formdata=None),
    }


@bp.get("/contributions")
@login_required
def my_contributions():
    session = db_session()
    rows = session.scalars(
        select(Contribution)
        .where(Contribution.member_id == current_user.id)
        .order_by(Contribution.id.desc())
    ).all()
    co = session.scalars(
        select(Contribution)
        .where(Contribution.co_contributors.any(User.id == current_user.id))
        .order_by(Contribution.id.desc())
    ).all()
    forms = {c.id: _member_forms(c) for c in rows}
    return render_template("contributions.html", contributions=rows, co_contributions=co, forms=forms)


def _detail(contribution: Contribution, status: int = 200, error: str | None = None, **forms):
    session = db_session()
    user = current_user
    context = {
        **_member_forms(contribution),
        "revoke_form": CommentForm(formdata=None),
        **forms,
    }
    return render_template(
        "community/contribution.html",
        c=contribution,
        is_owner=contribution.member_id == user.id,
        may_manage=_may_manage(session, user, contribution),
        error=error,
        **context,
    ), status


@bp.get("/contributions/<int:contribution_id>")
@login_required
def contribution_detail(contribution_id: int):
    return _detail(_readable(contribution_id))


def _member_action(contribution_id: int, form, name: str, call, done: str):
    """Resubmit and appeal: only the contributor; errors go back onto the form."""
    contribution = get_or_404(Contribution, contribution_id)
    if contribution.member_id != current_user.id:
        raise Forbidden("only the contributor can do this")
    if form.validate_on_submit():
        return run_use_case(
            call, done=done, then=url_for("portal.contribution_detail", contribution_id=contribution_id),
            failed=lambda exc: _detail(contribution, status_of(exc), exc.message, **{name: form}),
        )
    return _detail(contribution, 400, **{name: form})


@bp.post("/contributions/<int:contribution_id>/resubmit")
@login_required
def resubmit(contribution_id: int):
    form = ResubmitForm()
    return _member_action(
        contribution_id,
        form,
        "resubmit_form",
        lambda uow: contributions.resubmit_contribution(
            uow,
            member_id=current_user.id,
            contribution_id=contribution_id,
            text=form.text.data,
            evidence_url=form.evidence_url.data or None,
        ),
        _("Resubmitted: your contribution is waiting for validation again."),
    )


@bp.post("/contributions/<int:contribution_id>/appeal")
@login_required
def appeal(contribution_id: int):
    form = AppealForm()
    return _member_action(
        contribution_id,
        form,
        "appeal_form",
        lambda uow: contributions.appeal_contribution(
            uow, member_id=current_user.id, contribution_id=contribution_id, reason=form.reason.data
        ),
        _("Your appeal is with the city staff: a different member of staff will decide it."),
    )


@bp.post("/contributions/<int:contribution_id>/revoke")
@staff_required
def revoke(contribution_id: int):
    contribution = _readable(contribution_id)
    form = CommentForm()
    if not form.validate_on_submit():
        return _detail(contribution, 400, revoke_form=form)

    return run_use_case(
        lambda uow: contributions.revoke_contribution(
            uow, validator_id=current_user.id, contribution_id=contribution_id, comment=form.comment.data
        ),
        done=_("Contribution %(id)s revoked; its points are taken back.", id=contribution_id),
        then=url_for("portal.contribution_detail", contribution_id=contribution_id),
        failed=lambda exc: _detail(contribution, status_of(exc), exc.message, revoke_form=form),
        raises=(Forbidden,),
    )


@bp.get("/contributions/<int:contribution_id>/evidence")
@login_required
def evidence(contribution_id: int):
    contribution = _readable(contribution_id)
    if not contribution.evidence_sha256:
        raise NotFound(N_("contribution %(id)s has no evidence file", id=contribution_id))
    path = evidence_path(evidence_root(), contribution.evidence_sha256)
    if not path.is_file():
        raise NotFound("the evidence file is missing from storage")
    content_type = contribution.evidence_content_type or "application/octet-stream"
    response = send_file(
        path,
        mimetype=content_type,
        as_attachment=content_type not in INLINE_TYPES,
        download_name=contribution.evidence_filename or f"evidence-{contribution_id}",
        conditional=True,
        etag=contribution.evidence_sha256,
        max_age=0,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response


# --- validation ------------------------------------------------------------------------------


def _queue_filters(session: Session) -> tuple[dict, list[Process], list[Task], str | None]:
    """Process and task filters from the query string, limited to what the user manages."""
    managed = access.managed_process_ids(session, current_user)
    query = select(Process).order_by(Process.id)
    if managed is not None:
        query = query.where(Process.id.in_(managed or [-1]))
    choices = session.scalars(query).all()
    filters: dict = {"process_id": None, "task_id": None}
    error = None
    for name in filters:
        raw = request.args.get(name, "")
        if raw == "":
            continue
        if not raw.isdigit() or not is_row_id(int(raw)):
            error = f"{name.replace('_id', '')} must be chosen from the list"
            continue
        filters[name] = int(raw)
    ids = [p.id for p in choices]
    if filters["process_id"] is not None:
        ids = [filters["process_id"]] if filters["process_id"] in ids else []
    tasks = session.scalars(
        select(Task).where(Task.process_id.in_(ids or [-1])).order_by(Task.process_id, Task.id)
    ).all()
    return filters, choices, tasks, error


def _queue_page(status: int = 200, error: str | None = None, failed: int | None = None):
    session = db_session()
    filters, process_choices, task_choices, filter_error = _queue_filters(session)
    items = queue.validation_queue(session, current_user, **filters)
    levels = {c.id: c.level or contributions.default_level(session, c) for c in items}
    staff_ids = {i for c in items for i in (c.first_approver_id, c.decided_by_id) if i is not None}
    names = dict(
        session.execute(select(User.id, User.display_name).where(User.id.in_(staff_ids or [-1]))).all()
    )
    return render_template(
        "validation.html",
        contributions=items,
        stats=queue.queue_stats(session, items),
        levels=levels,
        names=names,
        form=DecisionForm(formdata=None),
        filters=filters,
        process_choices=process_choices,
        task_choices=task_choices,
        filter_error=filter_error,
        error=error,
        failed=failed,
    ), (400 if filter_error and status == 200 else status)


@bp.get("/validation")
@staff_required
def validation_queue():
    return _queue_page()


DECISIONS = {
    "approve": _l("Contribution %(id)s approved."),
    "reject": _l("Contribution %(id)s rejected."),
    "request-changes": _l("Contribution %(id)s sent back for changes."),
}


@bp.post("/contributions/<int:contribution_id>/<any(approve, reject, 'request-changes'):decision>")
@staff_required
def decide(contribution_id: int, decision: str):
    form = DecisionForm()
    if not form.validate_on_submit():
        messages = [m for errors in form.errors.values() for m in errors]
        return _queue_page(400, "; ".join(messages), contribution_id)
    return run_use_case(
        lambda uow: _decide(uow, contribution_id, decision, form),
        done=lambda _result: _decided(contribution_id, decision),
        then=url_for("portal.validation_queue"),
        failed=lambda exc: _queue_page(status_of(exc), exc.message, contribution_id),
    )


def _decide(uow, contribution_id: int, decision: str, form: DecisionForm) -> None:
    if decision == "approve":
        contributions.approve_contribution(
            uow,
            validator_id=current_user.id,
            contribution_id=contribution_id,
            comment=form.comment.data,
            level=form.level.data or None,
            policy=contribution_policy(),
        )
    elif decision == "reject":
        contributions.reject_contribution(
            uow, validator_id=current_user.id, contribution_id=contribution_id, comment=form.comment.data
        )
    else:
        contributions.request_changes(
            uow, validator_id=current_user.id, contribution_id=contribution_id, comment=form.comment.data
        )


def _decided(contribution_id: int, decision: str) -> str:
    """The message after a decision, from the state it led to."""
    release_read_session()  # the request's snapshot predates the commit
    state = db_session().scalar(select(Contribution.state).where(Contribution.id == contribution_id))
    if state == S.AWAITING_SECOND:
        return _("Contribution %(id)s has your approval and now awaits a second approval "
                 "by another member of staff.", id=contribution_id)
    return str(DECISIONS[decision]) % {"id": contribution_id}


# --- wallet ----------------------------------------------------------------------------------


@bp.get("/wallet")
@login_required
def wallet():
    """The member's wallet. Its figures are the ledger's and the outbox's (``wallet_summary``,
    the function the live push uses): "On chain" is the delivered mints minus the delivered
    burns the relay recorded, which is what ``balanceOf`` holds, so a view asks the chain
    nothing. The audit's reconciliation checks the two agree."""
    session = db_session()
    member_id = current_user.id
    figures = wallet_summary(session, member_id)
    entries = session.scalars(
        select(LedgerEntry)
        .options(selectinload(LedgerEntry.outbox))  # each row's transaction, in one query
        .where(LedgerEntry.member_id == member_id)
        .order_by(LedgerEntry.id.desc())
    ).all()
    return render_template(
        "wallet.html",
        wallet=wallet_of(session, member_id),
        balance=figures["on_chain"],
        total=figures["points"],
        pending=figures["pending_mint"],
        entries=entries,
        totals=member_totals(session, member_id),
        **wallet_context(session, member_id, figures),
    )
