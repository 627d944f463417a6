"""The contribution forms: contributing, resubmitting, appealing, deciding and revoking."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import SelectField, StringField, TextAreaField, URLField
from wtforms.validators import URL, DataRequired, Length, Optional

from community.evidence import ALLOWED_LIST, ALLOWED_TYPES
from community.models import LEVELS
from web.i18n import lazy_label


class ContributionForm(FlaskForm):
    text = TextAreaField(_l("What did you do?"), validators=[DataRequired(), Length(max=10_000)])
    evidence_url = URLField(
        _l("Evidence link (optional)"),
        validators=[Optional(), URL(require_tld=False), Length(max=2000)],
    )
    evidence_file = FileField(
        _l("Evidence file (optional)"),
        description=_l("At most 10 MB; accepted types: %(types)s.", types=ALLOWED_LIST),
        render_kw={"accept": ",".join(f".{ext}" for ext in ALLOWED_TYPES)},
    )
    co_contributors = StringField(
        _l("Co-contributors (optional)"),
        description=_l("E-mail addresses of members who did this with you, separated by commas."),
        validators=[Optional(), Length(max=5000)],
    )


LEVEL_CHOICES = [(level, lazy_label(level)) for level in LEVELS]


class DecisionForm(FlaskForm):
    comment = TextAreaField(_l("Comment"), validators=[Optional(), Length(max=10_000)])
    level = SelectField(
        _l("Level"),
        choices=[("", _l("default")), *LEVEL_CHOICES],
        validators=[Optional()],
        validate_choice=True,
    )


class CommentForm(FlaskForm):
    """Revocation: the reason is kept with the transition."""

    comment = TextAreaField(_l("Why is it revoked?"), validators=[DataRequired(), Length(max=10_000)])


class ResubmitForm(FlaskForm):
    text = TextAreaField(_l("Your revised contribution"), validators=[DataRequired(), Length(max=10_000)])
    evidence_url = URLField(
        _l("New evidence link (optional)"), validators=[Optional(), URL(require_tld=False), Length(max=2000)]
    )


class AppealForm(FlaskForm):
    reason = TextAreaField(
        _l("Why should the rejection be reconsidered?"),
                           validators=[DataRequired(), Length(max=10_000)])

