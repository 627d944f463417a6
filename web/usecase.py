"""Running a use case from a view: the service call in a unit of work (whose commit hands its
events to the message bus), then a flash and a redirect, or the page's own answer to a
DomainError. One helper for pages and API endpoints instead of a copy of that sequence in
each view."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import flash, redirect

from community.db import UnitOfWork
from community.errors import DomainError
from web.accessors import unit_of_work


def run_use_case(
    call: Callable[[UnitOfWork], Any],
    *,
    done: str | Callable[[Any], str] | None = None,
    then: str | Callable[[Any], str] | None = None,
    failed: Callable[[DomainError], Any] | None = None,
    raises: tuple[type[DomainError], ...] = (),
) -> Any:
    """``call(uow)``. A DomainError goes to ``failed``
    (its return value is the answer) or, without it or when it is one of ``raises`` (e.g.
    Forbidden: the error page, not the form), up to the error handlers (the API's JSON
    errors). On success: ``flash(done)`` when given (``done(result)`` when it is a
    function, e.g. a message that depends on the new state), and a redirect to ``then``
    (``then(result)``, e.g. the page of what was created) when given, else ``call``'s
    result."""
    uow = unit_of_work()
    try:
        result = call(uow)
    except DomainError as exc:
        if failed is None or isinstance(exc, raises):
            raise
        return failed(exc)
    if done is not None:
        flash(done(result) if callable(done) else done, "ok")
    if then is None:
        return result
    return redirect(then(result) if callable(then) else then)


def back_to(url: str) -> Callable[[DomainError], Any]:
    """The ``failed`` answer of a form posted from a page: the error flashed, back to ``url``."""

    def answer(exc: DomainError) -> Any:
        flash(exc.message, "error")
        return redirect(url)

    return answer
