"""Forms of the scoring-rule pages, and turning a submitted form into a rule definition."""

from __future__ import annotations

import yaml
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from rewards.formula import MAX_LENGTH
from rewards.models import RuleVersion
from rewards.rules.definitions import CAP_PERIODS, MAX_CAP, RuleInvalid
from rewards.rules.events import EVENT_INPUTS
from web.i18n import lazy_label


class RuleForm(FlaskForm):
    rule_id = StringField(
        _l("Rule id (lowercase letters, digits, dashes; fixed once created)"),
        validators=[Optional(), Length(max=80)],
    )
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)])
    event = SelectField(_l("Event"), choices=[(kind, lazy_label(kind)) for kind in EVENT_INPUTS])
    dimension = StringField(
        _l("Dimension"), default="participation", validators=[DataRequired(), Length(max=40)]
    )
    formula = StringField(_l("Formula"), validators=[DataRequired(), Length(max=MAX_LENGTH)])
    conditions = TextAreaField(
        _l("Conditions (YAML or JSON, e.g. {process_id: [3], complexity: {min: 40}}; empty = always)"),
        validators=[Optional(), Length(max=10_000)],
    )
    cap_period = SelectField(
        _l("Cap period"), choices=[("", _l("no cap")), *[(p, lazy_label(p)) for p in CAP_PERIODS]],
        validators=[Optional()],
    )
    cap_points = IntegerField(
        _l("Cap (points per member and period)"), validators=[Optional(), NumberRange(1, MAX_CAP)]
    )
    enabled = BooleanField(_l("Enabled"), default=True)
    note = TextAreaField(
        _l("Why this change (kept with the version)"), validators=[Optional(), Length(max=2000)]
    )

    def fill_from(self, version: RuleVersion) -> None:
        self.title.data = version.title
        self.event.data = version.event
        self.dimension.data = version.dimension
        self.formula.data = version.formula
        self.conditions.data = (
            yaml.safe_dump(version.conditions, default_flow_style=True).strip() if version.conditions else ""
        )
        self.cap_period.data = version.cap_period or ""
        self.cap_points.data = version.cap_points
        self.enabled.data = version.enabled

    def definition(self) -> dict:
        """The submitted rule as the service takes it; unreadable conditions are a field error."""
        conditions = {}
        if (self.conditions.data or "").strip():
            try:
                conditions = yaml.safe_load(self.conditions.data)
            except yaml.YAMLError:
                raise RuleInvalid("conditions: not valid YAML or JSON", "conditions") from None
        cap = None
        if self.cap_period.data or self.cap_points.data is not None:
            cap = {"period": self.cap_period.data or None, "points": self.cap_points.data}
        return {
            "title": self.title.data, "event": self.event.data, "dimension": self.dimension.data,
            "formula": self.formula.data, "conditions": conditions, "cap": cap,
            "enabled": bool(self.enabled.data), "note": self.note.data or "",
        }


class ImportForm(FlaskForm):
    document = TextAreaField(
        _l("Rules document (YAML or JSON)"), validators=[Optional(), Length(max=512 * 1024)]
    )
    upload = FileField(_l("…or a file"))
