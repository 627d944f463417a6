"""Checking untrusted input in services: one wording for every feature's errors."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlparse

from sqlalchemy.orm import Session

from community.db import as_utc, is_row_id
from community.errors import InvalidInput, NotFound
from community.i18n import N_, Msg


def get_row(session: Session, model: type, id_: object, what: str):
    """The row, or NotFound naming ``what`` (ids that are not row ids never reach the database)."""
    if not is_row_id(id_):
        raise NotFound(N_("%(what)s not found", what=Msg(what)))
    obj = session.get(model, id_)
    if obj is None:
        raise NotFound(N_("%(what)s %(id)s not found", what=Msg(what), id=id_))
    return obj


def text(value: object, name: str, max_len: int, *, required: bool = True) -> str:
    """Stripped text; missing counts as empty."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidInput(N_("%(name)s must be text", name=name))
    value = value.strip()
    if required and not value:
        raise InvalidInput(N_("%(name)s must not be empty", name=name))
    if len(value) > max_len:
        raise InvalidInput(N_("%(name)s is longer than %(max_len)s characters", name=name, max_len=max_len))
    return value


def when(value: object, name: str) -> dt.datetime | None:
    """A date-time (datetime or ISO 8601 text) in UTC; without a zone it is taken as UTC."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            raise InvalidInput(N_("%(name)s must be an ISO 8601 date-time, e.g. 2030-05-01T18:00:00Z",
                                  name=name)) from None
    if not isinstance(value, dt.datetime):
        raise InvalidInput(N_("%(name)s must be an ISO 8601 date-time", name=name))
    return as_utc(value).astimezone(dt.UTC)


def web_url(value: object, name: str) -> str | None:
    """An http(s) URL of at most 2000 characters, or None when empty."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > 2000:
        raise InvalidInput(N_("%(name)s must be a URL of at most 2000 characters", name=name))
    parsed = urlparse(value.strip())
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise InvalidInput(N_("%(name)s must be an http or https URL", name=name))
    return value.strip()
