"""Page forms (Flask-WTF gives each one a CSRF token)."""

from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SelectField, StringField, TextAreaField, URLField
from wtforms.validators import URL, DataRequired, Length, Optional

from community.models import Role


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


class DecisionForm(FlaskForm):
    comment = TextAreaField("Comment", validators=[Optional(), Length(max=10_000)])


class RoleForm(FlaskForm):
    role = SelectField("Role", choices=[(r.value, r.value) for r in Role])


class PlainForm(FlaskForm):
    """A button that changes state: carries only the CSRF token."""
