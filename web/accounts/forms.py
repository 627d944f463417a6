"""The account forms: login, registration, an admin's role change and erasure."""

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Length, ValidationError

from community import privacy
from community.models import Role
from web.i18n import lazy_label


class LoginForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=256)])


class RegisterForm(FlaskForm):
    display_name = StringField(_l("Display name"), validators=[DataRequired(), Length(max=80)])
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(
        _l("Password"),
        validators=[
            DataRequired(),
            Length(min=10, max=256, message=_l("Password must have at least 10 (at most 256) characters.")),
        ],
    )


class RoleForm(FlaskForm):
    role = SelectField(_l("Role"), choices=[(r.value, lazy_label(r.value)) for r in Role])


class EraseForm(FlaskForm):
    password = PasswordField(_l("Your password"), validators=[DataRequired(), Length(max=256)])
    confirmation = StringField(
        _l('Type "%(phrase)s" to confirm', phrase=privacy.CONFIRMATION_PHRASE),
        validators=[DataRequired(), Length(max=100)],
    )

    def validate_confirmation(self, field):
        if (field.data or "").strip().lower() != privacy.CONFIRMATION_PHRASE:
            raise ValidationError(_('Type "%(phrase)s" exactly; nothing was erased.',
                                    phrase=privacy.CONFIRMATION_PHRASE))


class AdminEraseForm(FlaskForm):
    confirmation = StringField(
        _l("Type the member's number to confirm"), validators=[DataRequired(), Length(max=20)]
    )
