"""The leaderboard pages' forms: the board profile and a staff freeze."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, StringField
from wtforms.validators import Length, Optional


class ProfileForm(FlaskForm):
    pseudonym = StringField(_l("Pseudonym on leaderboards"), validators=[Optional(), Length(min=2, max=40)])
    opt_out = BooleanField(_l("Leave me out of leaderboards others see"))


class FreezeForm(FlaskForm):
    scope = HiddenField()
    period = HiddenField()
    dimension = HiddenField()
