"""The forms of the process pages, teams and the resource library."""

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    HiddenField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    URLField,
)
from wtforms.validators import URL, DataRequired, Length, NumberRange, Optional, ValidationError

from community.models import COMPLEXITIES, Membership, NodeStatus, TeamKind
from community.templates import TEMPLATES
from web.i18n import lazy_label

MEMBERSHIP_CHOICES = [
    (Membership.OPEN.value, _l("Open: every member may contribute")),
    (Membership.APPLICATION.value, _l("By application: managers accept members")),
    (Membership.INVITE.value, _l("By invitation: only granted teams and people")),
]
STATUS_CHOICES = [
    (NodeStatus.NOT_STARTED.value, _l("not started")),
    (NodeStatus.IN_PROGRESS.value, _l("in progress")),
    (NodeStatus.DONE.value, _l("done")),
]
PERMISSION_CHOICES = [("view", _l("view")), ("contribute", _l("contribute")), ("manage", _l("manage"))]
TEAM_KIND_CHOICES = [(k.value, lazy_label(k.value)) for k in TeamKind]
TEMPLATE_CHOICES = [(key, lazy_label(name)) for key, (name, _tree) in TEMPLATES.items()]


def _ends_after_start(form, field) -> None:
    start = form.starts_on.data
    if field.data and start and field.data < start:
        raise ValidationError(_("The end date is before the start date."))


class _Dated:
    starts_on = DateField(_l("Starts on (optional)"), validators=[Optional()])
    ends_on = DateField(_l("Ends on (optional)"), validators=[Optional(), _ends_after_start])


class ProcessForm(FlaskForm, _Dated):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)])
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=10_000)])
    membership = SelectField(_l("Who may take part"), choices=MEMBERSHIP_CHOICES)
    template = SelectField(
        _l("Start from"),
        choices=[("", _l("An empty process")), *TEMPLATE_CHOICES],
        validators=[Optional()],
    )
    organisation = StringField(_l("Organisation (optional)"), validators=[Optional(), Length(max=200)])


class CloneForm(FlaskForm):
    title = StringField(_l("Title of the copy (optional)"), validators=[Optional(), Length(max=200)])


class PhaseForm(FlaskForm, _Dated):
    title = StringField(_l("Phase title"), validators=[DataRequired(), Length(max=200)])
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=10_000)])


class ObjectiveForm(FlaskForm, _Dated):
    phase_id = SelectField(_l("Phase"), coerce=int)
    title = StringField(_l("Objective title"), validators=[DataRequired(), Length(max=200)])
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=10_000)])


class TaskForm(FlaskForm, _Dated):
    objective_id = SelectField(_l("Objective"), coerce=int)
    title = StringField(_l("Task title"), validators=[DataRequired(), Length(max=200)])
    complexity = SelectField(_l("Complexity"), choices=[(str(c), str(c)) for c in COMPLEXITIES], default="20")
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=10_000)])
    resources = SelectMultipleField(_l("Resources from the library (optional)"), coerce=int,
                                    validators=[Optional()])


class StatusForm(FlaskForm):
    kind = HiddenField(validators=[DataRequired()])
    node_id = HiddenField(validators=[DataRequired()])
    status = SelectField(_l("Status"), choices=STATUS_CHOICES)


class PrerequisiteForm(FlaskForm):
    node = SelectField(_l("This step"))
    requires = SelectField(_l("cannot start before this one is done"))

    def validate_requires(self, field) -> None:
        if (self.node.data or "").split(":")[0] != (field.data or "").split(":")[0]:
            raise ValidationError(
                _("Link two steps of the same kind: phase to phase, objective to objective, task to task.")
            )


class SettingsForm(FlaskForm):
    membership = SelectField(_l("Who may take part"), choices=MEMBERSHIP_CHOICES)
    four_eyes_threshold = IntegerField(
        _l("Four-eyes threshold in points (empty: the instance default)"),
        validators=[Optional(), NumberRange(min=1, max=1_000_000)],
    )
    points_cap = IntegerField(
        _l("Points cap per member and period (empty: no cap)"),
        validators=[Optional(), NumberRange(min=1, max=1_000_000)],
    )
    cap_period = SelectField(_l("Cap period"), choices=[("week", _l("week")), ("month", _l("month"))])


class GrantForm(FlaskForm):
    team_id = SelectField(_l("Team"), validators=[Optional()])
    user_email = EmailField(_l("or one person's e-mail"), validators=[Optional(), Length(max=254)])
    permission = SelectField(_l("Permission"), choices=PERMISSION_CHOICES)
    node = SelectField(_l("On"))


class JoinForm(FlaskForm):
    message = TextAreaField(
        _l("Message to the organisers (optional)"), validators=[Optional(), Length(max=2000)]
    )


class StoryForm(FlaskForm):
    summary = TextAreaField(_l("Summary"), validators=[DataRequired(), Length(max=5000)])
    outcomes = TextAreaField(_l("Outcomes"), validators=[DataRequired(), Length(max=5000)])


# --- teams, library --------------------------------------------------------------------------


class TeamForm(FlaskForm):
    name = StringField(_l("Team name"), validators=[DataRequired(), Length(max=120)])
    kind = SelectField(_l("Kind"), choices=TEAM_KIND_CHOICES)
    description = TextAreaField(_l("Description (optional)"), validators=[Optional(), Length(max=2000)])


class TeamMemberForm(FlaskForm):
    email = EmailField(_l("Member's e-mail"), validators=[DataRequired(), Length(max=254)])
    is_admin = BooleanField(_l("Team admin"))


class LibraryItemForm(FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)])
    kind = SelectField(
        _l("Kind"), choices=[("guide", _l("guide")), ("template", _l("template")), ("tool", _l("tool"))]
    )
    link = URLField(_l("Link"), validators=[DataRequired(), URL(require_tld=False), Length(max=2000)])
    description = TextAreaField(_l("Description (optional)"), validators=[Optional(), Length(max=5000)])
    languages = StringField(
        _l("Languages"),
        default="en",
        description=_l("Language codes separated by commas, e.g. lv, en."),
        validators=[DataRequired(), Length(max=100)],
    )


class RatingForm(FlaskForm):
    stars = SelectField(_l("Stars"), choices=[(str(n), str(n)) for n in range(1, 6)])
    next = HiddenField()
