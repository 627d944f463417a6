"""The poll forms: a member's vote and the staff's poll editor."""

from __future__ import annotations

import datetime as dt

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from community.errors import DomainError
from community.models import PollKind, ResultsVisibility
from community.polls import editing


class VoteForm(FlaskForm):
    # Options are rendered by hand (big radio buttons or checkboxes); the service checks them.
    choice = SelectMultipleField(_l("Your choice"), coerce=int, validate_choice=False)
    text = TextAreaField(_l("In your own words (optional)"), validators=[Optional(), Length(max=2000)])


class PollForm(FlaskForm):
    question = StringField(_l("Question"), validators=[DataRequired(), Length(max=300)])
    description = TextAreaField(_l("Background (optional)"), validators=[Optional(), Length(max=5000)])
    options = TextAreaField(_l("Options, one per line"), validators=[DataRequired(), Length(max=5000)])
    kind = SelectField(
        _l("Answers"),
        choices=[(PollKind.SINGLE.value, _l("one choice")), (PollKind.MULTIPLE.value, _l("several choices"))],
    )
    max_choices = IntegerField(
        _l("At most this many choices (several choices; empty: any)"), validators=[Optional()]
    )
    allow_text = BooleanField(_l("Also ask for a written answer"))
    process_id = SelectField(_l("Attached to"), coerce=int)
    opens_at = DateTimeLocalField(
        _l("Opens (UTC; empty: now)"), format="%Y-%m-%dT%H:%M", validators=[Optional()]
    )
    closes_at = DateTimeLocalField(_l("Closes (UTC)"), format="%Y-%m-%dT%H:%M", validators=[DataRequired()])
    results_visibility = SelectField(
        _l("Results are shown"),
        choices=[
            (ResultsVisibility.AFTER_VOTE.value, _l("to each member once they have voted")),
            (ResultsVisibility.AFTER_CLOSE.value, _l("only after the poll closes")),
        ],
    )
    points = IntegerField(_l("Participation points for voting (0: none)"), default=0,
                          validators=[NumberRange(min=0, max=editing.MAX_POINTS)])
    kiosk_enabled = BooleanField(_l("Offer a kiosk screen for anonymous answers"))

    def fields_for_service(self) -> dict:
        def utc(value: dt.datetime | None) -> dt.datetime | None:
            return value.replace(tzinfo=dt.UTC) if value else None

        return {
            "question": self.question.data,
            "description": self.description.data or "",
            "options": [line.strip() for line in (self.options.data or "").splitlines() if line.strip()],
            "kind": self.kind.data,
            "max_choices": self.max_choices.data if self.kind.data == PollKind.MULTIPLE else None,
            "allow_text": bool(self.allow_text.data),
            "process_id": self.process_id.data or None,
            "opens_at": utc(self.opens_at.data),
            "closes_at": utc(self.closes_at.data),
            "results_visibility": self.results_visibility.data,
            "points": self.points.data if self.points.data is not None else 0,
            "kiosk_enabled": bool(self.kiosk_enabled.data),
        }

    def show_error(self, exc: DomainError) -> None:
        """Put a service's message under the field it names (else under the question)."""
        message = exc.message
        for name in ("closes_at", "opens_at", "max_choices", "points", "option", "process",
                     "description", "results_visibility", "kind"):
            if name in message:
                target = "options" if name == "option" else "process_id" if name == "process" else name
                getattr(self, target).errors.append(message)
                return
        self.question.errors.append(message)
