"""The booking forms: booking (once or weekly), reasons and check-in codes, and the staff
desk's resources, groups and blackouts."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional


class BookForm(FlaskForm):
    date = DateField(_l("Date"), validators=[DataRequired(message=_l("Choose a date."))])
    start = TimeField(_l("From"), validators=[DataRequired(message=_l("Choose a start time."))])
    end = TimeField(_l("Until"), validators=[DataRequired(message=_l("Choose an end time."))])
    repeat = BooleanField(_l("Repeat weekly"))
    every_weeks = IntegerField(_l("Every … weeks"), default=1, validators=[Optional(), NumberRange(1, 52)])
    count = IntegerField(_l("Number of times"), validators=[Optional(), NumberRange(1, 52)])
    until = DateField(_l("Until date"), validators=[Optional()])
    mode = SelectField(
        _l("If some dates are taken"),
        choices=[
            ("all", _l("Book nothing (all or nothing)")),
            ("free", _l("Book the free dates, skip the rest")),
        ],
        default="all",
    )


class ReasonForm(FlaskForm):
    reason = TextAreaField(_l("Reason"), validators=[Optional(), Length(max=2000)])


class CodeForm(FlaskForm):
    code = StringField(_l("Check-in code"), validators=[DataRequired(), Length(max=12)])


class ResourceForm(FlaskForm):
    group = SelectField(_l("Group"), coerce=int)
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    kind = SelectField(_l("Kind"), choices=[("space", _l("Space")), ("equipment", _l("Equipment"))])
    capacity = IntegerField(_l("Capacity (people)"), validators=[Optional(), NumberRange(1, 100_000)])
    location = StringField(_l("Location"), validators=[Optional(), Length(max=200)])
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=10_000)])
    accessibility = TextAreaField(_l("Accessibility notes"), validators=[Optional(), Length(max=2000)])
    photo_url = StringField(_l("Photo URL"), validators=[Optional(), Length(max=2000)])
    hours = StringField(_l("Opening hours"), default="Mon-Sat 08:00-20:00", validators=[DataRequired()])
    slot_minutes = IntegerField(_l("Slot length (minutes)"), default=30, validators=[DataRequired()])
    min_minutes = IntegerField(_l("Shortest booking (minutes)"), default=30, validators=[DataRequired()])
    max_minutes = IntegerField(_l("Longest booking (minutes)"), default=240, validators=[DataRequired()])
    lead_minutes = IntegerField(_l("Book at least … minutes ahead"), default=60, validators=[Optional()])
    needs_approval = BooleanField(_l("Bookings need staff approval"))
    price_per_hour = IntegerField(_l("Credits per hour (0 = free)"), default=0, validators=[Optional()])
    peak_price_per_hour = IntegerField(_l("Peak credits per hour"), validators=[Optional()])
    peak_from = TimeField(_l("Peak from"), validators=[Optional()])
    peak_until = TimeField(_l("Peak until"), validators=[Optional()])


class GroupForm(FlaskForm):
    name = StringField(_l("Group name"), validators=[DataRequired(), Length(max=120)])
    max_hours_per_week = IntegerField(_l("Max hours per member per week"), validators=[Optional()])
    max_concurrent = IntegerField(_l("Max upcoming bookings per member"), validators=[Optional()])


class BlackoutForm(FlaskForm):
    date_from = DateField(_l("From date"), validators=[DataRequired()])
    time_from = TimeField(_l("From time"), validators=[DataRequired()])
    date_until = DateField(_l("Until date"), validators=[DataRequired()])
    time_until = TimeField(_l("Until time"), validators=[DataRequired()])
    reason = StringField(_l("Reason"), validators=[Optional(), Length(max=200)])
