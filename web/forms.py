"""Page forms (Flask-WTF gives each one a CSRF token)."""

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    URLField,
)
from wtforms.validators import URL, DataRequired, Length, NumberRange, Optional, ValidationError

from community.evidence import ALLOWED_LIST, ALLOWED_TYPES
from community.models import COMPLEXITIES, LEVELS, Membership, NodeStatus, Role, TeamKind
from community.templates import TEMPLATES


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=256)])


class RegisterForm(FlaskForm):
    display_name = StringField("Display name", validators=[DataRequired(), Length(max=80)])
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField(
        "Password",
        validators=[
            DataRequired(),
            Length(min=10, max=256, message="Password must have at least 10 (at most 256) characters."),
        ],
    )


class ContributionForm(FlaskForm):
    text = TextAreaField("What did you do?", validators=[DataRequired(), Length(max=10_000)])
    evidence_url = URLField(
        "Evidence link (optional)",
        validators=[Optional(), URL(require_tld=False), Length(max=2000)],
    )
    evidence_file = FileField(
        "Evidence file (optional)",
        description=f"At most 10 MB; accepted types: {ALLOWED_LIST}.",
        render_kw={"accept": ",".join(f".{ext}" for ext in ALLOWED_TYPES)},
    )
    co_contributors = StringField(
        "Co-contributors (optional)",
        description="E-mail addresses of members who did this with you, separated by commas.",
        validators=[Optional(), Length(max=5000)],
    )


LEVEL_CHOICES = [(level, level) for level in LEVELS]


class DecisionForm(FlaskForm):
    comment = TextAreaField("Comment", validators=[Optional(), Length(max=10_000)])
    level = SelectField(
        "Level", choices=[("", "default"), *LEVEL_CHOICES], validators=[Optional()], validate_choice=True
    )


class CommentForm(FlaskForm):
    """Revocation: the reason is kept with the transition."""

    comment = TextAreaField("Why is it revoked?", validators=[DataRequired(), Length(max=10_000)])


class ResubmitForm(FlaskForm):
    text = TextAreaField("Your revised contribution", validators=[DataRequired(), Length(max=10_000)])
    evidence_url = URLField(
        "New evidence link (optional)", validators=[Optional(), URL(require_tld=False), Length(max=2000)]
    )


class AppealForm(FlaskForm):
    reason = TextAreaField("Why should the rejection be reconsidered?",
                           validators=[DataRequired(), Length(max=10_000)])


class RoleForm(FlaskForm):
    role = SelectField("Role", choices=[(r.value, r.value) for r in Role])


class PlainForm(FlaskForm):
    """A button that changes state: carries only the CSRF token."""


# --- processes ---------------------------------------------------------------------------------

MEMBERSHIP_CHOICES = [
    (Membership.OPEN.value, "Open: every member may contribute"),
    (Membership.APPLICATION.value, "By application: managers accept members"),
    (Membership.INVITE.value, "By invitation: only granted teams and people"),
]
STATUS_CHOICES = [
    (NodeStatus.NOT_STARTED.value, "not started"),
    (NodeStatus.IN_PROGRESS.value, "in progress"),
    (NodeStatus.DONE.value, "done"),
]
PERMISSION_CHOICES = [("view", "view"), ("contribute", "contribute"), ("manage", "manage")]
TEAM_KIND_CHOICES = [(k.value, k.value.replace("_", " ")) for k in TeamKind]


def _ends_after_start(form, field) -> None:
    start = form.starts_on.data
    if field.data and start and field.data < start:
        raise ValidationError("The end date is before the start date.")


class _Dated:
    starts_on = DateField("Starts on (optional)", validators=[Optional()])
    ends_on = DateField("Ends on (optional)", validators=[Optional(), _ends_after_start])


class ProcessForm(FlaskForm, _Dated):
    title = StringField("Title", validators=[DataRequired(), Length(max=200)])
    description = TextAreaField("Description", validators=[Optional(), Length(max=10_000)])
    membership = SelectField("Who may take part", choices=MEMBERSHIP_CHOICES)
    template = SelectField(
        "Start from",
        choices=[("", "An empty process"), *((key, label) for key, (label, _) in TEMPLATES.items())],
        validators=[Optional()],
    )
    organisation = StringField("Organisation (optional)", validators=[Optional(), Length(max=200)])


class CloneForm(FlaskForm):
    title = StringField("Title of the copy (optional)", validators=[Optional(), Length(max=200)])


class PhaseForm(FlaskForm, _Dated):
    title = StringField("Phase title", validators=[DataRequired(), Length(max=200)])
    description = TextAreaField("Description", validators=[Optional(), Length(max=10_000)])


class ObjectiveForm(FlaskForm, _Dated):
    phase_id = SelectField("Phase", coerce=int)
    title = StringField("Objective title", validators=[DataRequired(), Length(max=200)])
    description = TextAreaField("Description", validators=[Optional(), Length(max=10_000)])


class TaskForm(FlaskForm, _Dated):
    objective_id = SelectField("Objective", coerce=int)
    title = StringField("Task title", validators=[DataRequired(), Length(max=200)])
    complexity = SelectField("Complexity", choices=[(str(c), str(c)) for c in COMPLEXITIES], default="20")
    description = TextAreaField("Description", validators=[Optional(), Length(max=10_000)])
    resources = SelectMultipleField("Resources from the library (optional)", coerce=int,
                                    validators=[Optional()])


class StatusForm(FlaskForm):
    kind = HiddenField(validators=[DataRequired()])
    node_id = HiddenField(validators=[DataRequired()])
    status = SelectField("Status", choices=STATUS_CHOICES)


class PrerequisiteForm(FlaskForm):
    node = SelectField("This step")
    requires = SelectField("cannot start before this one is done")

    def validate_requires(self, field) -> None:
        if (self.node.data or "").split(":")[0] != (field.data or "").split(":")[0]:
            raise ValidationError("Link two steps of the same kind: phase to phase, objective to objective, "
                                  "task to task.")


class SettingsForm(FlaskForm):
    membership = SelectField("Who may take part", choices=MEMBERSHIP_CHOICES)
    four_eyes_threshold = IntegerField(
        "Four-eyes threshold in points (empty: the instance default)",
        validators=[Optional(), NumberRange(min=1, max=1_000_000)],
    )
    points_cap = IntegerField(
        "Points cap per member and period (empty: no cap)",
        validators=[Optional(), NumberRange(min=1, max=1_000_000)],
    )
    cap_period = SelectField("Cap period", choices=[("week", "week"), ("month", "month")])


class GrantForm(FlaskForm):
    team_id = SelectField("Team", validators=[Optional()])
    user_email = EmailField("or one person's e-mail", validators=[Optional(), Length(max=254)])
    permission = SelectField("Permission", choices=PERMISSION_CHOICES)
    node = SelectField("On")


class JoinForm(FlaskForm):
    message = TextAreaField("Message to the organisers (optional)", validators=[Optional(), Length(max=2000)])


class StoryForm(FlaskForm):
    summary = TextAreaField("Summary", validators=[DataRequired(), Length(max=5000)])
    outcomes = TextAreaField("Outcomes", validators=[DataRequired(), Length(max=5000)])


# --- teams, library --------------------------------------------------------------------------


class TeamForm(FlaskForm):
    name = StringField("Team name", validators=[DataRequired(), Length(max=120)])
    kind = SelectField("Kind", choices=TEAM_KIND_CHOICES)
    description = TextAreaField("Description (optional)", validators=[Optional(), Length(max=2000)])


class TeamMemberForm(FlaskForm):
    email = EmailField("Member's e-mail", validators=[DataRequired(), Length(max=254)])
    is_admin = BooleanField("Team admin")


class LibraryItemForm(FlaskForm):
    title = StringField("Title", validators=[DataRequired(), Length(max=200)])
    kind = SelectField("Kind", choices=[("guide", "guide"), ("template", "template"), ("tool", "tool")])
    link = URLField("Link", validators=[DataRequired(), URL(require_tld=False), Length(max=2000)])
    description = TextAreaField("Description (optional)", validators=[Optional(), Length(max=5000)])
    languages = StringField(
        "Languages",
        default="en",
        description="Language codes separated by commas, e.g. lv, en.",
        validators=[DataRequired(), Length(max=100)],
    )


class RatingForm(FlaskForm):
    stars = SelectField("Stars", choices=[(str(n), str(n)) for n in range(1, 6)])
    next = HiddenField()
