"""Forms shared by every feature's pages."""

from flask_wtf import FlaskForm


class PlainForm(FlaskForm):
    """A button that changes state: carries only the CSRF token."""

