"""Forms of the loyalty pages: tiers, badges, catalogue items, redemption decisions."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
    URLField,
)
from wtforms.validators import URL, DataRequired, InputRequired, Length, NumberRange, Optional

from rewards.models import BadgeMetric

METRIC_LABELS = {
    BadgeMetric.APPROVED_CONTRIBUTIONS.value: _l("approved contributions"),
    BadgeMetric.POINTS.value: _l("all-time points"),
    BadgeMetric.WEEK_STREAK.value: _l("consecutive weeks with an approved contribution"),
}


class TierForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=60)])
    min_points = IntegerField(
        _l("From all-time points"), validators=[InputRequired(), NumberRange(0, 1_000_000_000)]
    )
    rank = IntegerField(_l("Rank (higher is better)"), validators=[InputRequired(), NumberRange(1, 1000)])
    discount_percent = IntegerField(
        _l("Catalogue discount (%)"), default=0, validators=[InputRequired(), NumberRange(0, 100)]
    )


class BadgeForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=80)])
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=2000)])
    metric = SelectField(_l("Counts"), choices=list(METRIC_LABELS.items()))
    thresholds = StringField(
        _l("Level thresholds (comma separated; one value makes a milestone)"),
        validators=[DataRequired(), Length(max=200)],
    )
    active = BooleanField(_l("Active"), default=True)


class ItemForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=5000)])
    price = IntegerField(_l("Price (credits)"), validators=[InputRequired(), NumberRange(1, 1_000_000)])
    stock = IntegerField(_l("Stock (empty = unlimited)"), validators=[Optional(), NumberRange(0, 1_000_000)])
    per_member_limit = IntegerField(
        _l("Limit per member (empty = no limit)"), validators=[Optional(), NumberRange(1, 1000)]
    )
    valid_from = DateTimeLocalField(_l("Valid from (UTC)"), format="%Y-%m-%dT%H:%M", validators=[Optional()])
    valid_until = DateTimeLocalField(
        _l("Valid until (UTC)"), format="%Y-%m-%dT%H:%M", validators=[Optional()]
    )
    image_url = URLField(_l("Image URL"), validators=[Optional(), URL(require_tld=False), Length(max=2000)])
    active = BooleanField(_l("Shown in the catalogue"), default=True)


class NoteForm(FlaskForm):
    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=2000)])
