"""Languages: Latvian, English and Spanish for pages, e-mail and API error messages.

The language of a request is, in order: an explicit choice (``?lang=`` on any page, kept
in the session and, for a signed-in member, in their profile, ``users.locale``), the
member's profile, the browser's ``Accept-Language``, English. Dates, times and numbers go
through Babel in that language (filters ``when``, ``day``, ``weekday``, ``clock``,
``number``, ``decimal``). Domain messages (``community/i18n.py``) are translated here too.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from urllib.parse import urlencode

import flask_wtf.form
from babel import Locale
from babel.dates import format_date, format_skeleton
from babel.numbers import format_decimal as babel_decimal
from flask import Flask, g, has_app_context, has_request_context, request, session
from flask_babel import force_locale, get_locale, get_timezone, get_translations
from flask_babel.speaklater import LazyString
from flask_login import current_user

from community import accounts
from community import i18n as domain_i18n
from community.i18n import DEFAULT_LANGUAGE, LANGUAGES, N_, Moment, Msg
from web.accessors import unit_of_work
from web.config import PROJECT_ROOT
from web.extensions import babel, login_manager

log = logging.getLogger(__name__)

TRANSLATIONS = PROJECT_ROOT / "translations"
SESSION_KEY = "lang"


def init_app(app: Flask) -> None:
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS))
    babel.init_app(app, locale_selector=select_locale)
    domain_i18n.install_translator(translate)
    # WTForms' own messages ("This field is required.") come from Kopa's catalogue, which
    # has them in Latvian too (WTForms ships no Latvian).
    flask_wtf.form.translations = _FormTranslations()
    login_manager.localize_callback = translate  # "Please log in to access this page."
    for name, fn in FILTERS.items():
        app.jinja_env.filters[name] = fn
    app.before_request(_remember_choice)
    app.context_processor(_language_context)
    for code in LANGUAGES:
        if code != DEFAULT_LANGUAGE and not (TRANSLATIONS / code / "LC_MESSAGES" / "messages.mo").exists():
            log.warning("translations/%s has no messages.mo: run `make install` (pybabel compile)", code)


def select_locale() -> str:
    """Explicit choice, then the profile, then the browser, then English."""
    if not has_request_context():
        return DEFAULT_LANGUAGE
    chosen = g.get("kopa_lang") or session.get(SESSION_KEY)
    if chosen in LANGUAGES:
        return chosen
    user = g.get("api_user")  # bearer-token API calls
    if user is None and current_user and current_user.is_authenticated:
        user = current_user
    if user is not None and getattr(user, "locale", None) in LANGUAGES:
        return user.locale
    return request.accept_languages.best_match(LANGUAGES.keys()) or DEFAULT_LANGUAGE


def current_language() -> str:
    locale = get_locale()
    return locale.language if locale is not None else DEFAULT_LANGUAGE


def _remember_choice() -> None:
    """``?lang=xx`` switches the language: for this request, and on pages (not the API)
    for the session and the signed-in member's profile."""
    lang = request.args.get("lang")
    if lang not in LANGUAGES:
        return
    g.kopa_lang = lang
    if request.path.startswith(("/api/", "/socket.io", "/static/")):
        return
    session[SESSION_KEY] = lang
    if current_user.is_authenticated and current_user.locale != lang:
        accounts.set_locale(unit_of_work(), user_id=current_user.id, locale=lang)


def _language_context() -> dict:
    return {
        "current_locale": current_language(),
        "languages": LANGUAGES,
        "language_url": language_url,
        "js_text": js_text,
    }


def js_text(msgid: str) -> str:
    """A translation with its ``%(name)s`` placeholders left for a script to fill."""
    return get_translations().ugettext(msgid)


def language_url(code: str) -> str:
    """This page (its query kept) in language ``code``: the switcher's links."""
    args = [(k, v) for k, vs in request.args.lists() if k != "lang" for v in vs]
    return f"{request.path}?{urlencode([*args, ('lang', code)])}"


def translate(message: str, locale: str | None = None) -> str:
    """A domain message in the current language (or in ``locale``): a ``Msg`` by its id with
    its values (values that are ``Msg`` translated too), plain text by itself; unknown text
    stays English, and so does everything outside an app context."""
    if not message:  # gettext("") is the catalogue's header
        return str(message) if message is not None else ""
    if locale is not None:
        if not has_app_context():
            return str(message)
        with force_locale(locale if locale in LANGUAGES else DEFAULT_LANGUAGE):
            return translate(message)
    if isinstance(message, Moment):
        return _value(message)
    if isinstance(message, Msg):
        params = {k: _value(v) for k, v in message.params.items()}
        if message.plural is not None:
            text = get_translations().ungettext(message.msgid, message.plural, message.num)
        else:
            text = get_translations().ugettext(message.msgid)
        try:
            return text % params if params else text
        except (KeyError, ValueError, TypeError):  # a broken translation must not break the page
            log.warning("translation of %r does not fit its values", message.msgid)
            return str(message)
    return get_translations().ugettext(str(message))


def _value(value: object) -> object:
    """A value inside a message, in the reader's language: messages translated, dates and
    times formatted by Babel, anything else as it is."""
    if isinstance(value, Msg):
        return translate(value)
    if isinstance(value, Moment):
        if value.style == "span":
            return span(value.value, value.end, value.tz)
        if value.style == "weekday":
            return format_date(_local(value.value, value.tz), "EEEE", locale=get_locale() or DEFAULT_LANGUAGE)
        return {"datetime": full, "date": day, "time": clock}[value.style](value.value, value.tz)
    return value


class _FormTranslations:
    """WTForms' translations interface over Kopa's catalogue."""

    def gettext(self, string: str) -> str:
        return get_translations().ugettext(string)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return get_translations().ungettext(singular, plural, n)


# --- dates, times and numbers ----------------------------------------------------------


def _local(value: dt.datetime | str, tz=None) -> dt.datetime:
    """Aware (naive values are UTC, as the database gives them) and in the display zone."""
    if isinstance(value, str):  # ISO 8601, as cached boards keep their times
        value = dt.datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(tz or get_timezone())


def _pattern(skeleton: str, value) -> str:
    return format_skeleton(skeleton, value, locale=get_locale() or DEFAULT_LANGUAGE)


def when(value: dt.datetime | str | None, tz=None) -> str:
    """Date and time, e.g. "May 1, 2026 14:05", "2026. g. 1. maijs 14:05", "1 may 2026 14:05"."""
    if value is None:
        return ""
    local = _local(value, tz)
    return f"{_pattern('yMMMd', local)} {_pattern('Hm', local)}"


def day(value: dt.date | dt.datetime | str | None, tz=None) -> str:
    """A date, e.g. "May 1, 2026", "2026. g. 1. maijs", "1 may 2026" (ISO text accepted)."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value) if "T" in value else dt.date.fromisoformat(value)
    if isinstance(value, dt.datetime):
        value = _local(value, tz)
    return _pattern("yMMMd", value)


def weekday(value: dt.date | dt.datetime | None, tz=None) -> str:
    """Weekday and date, e.g. "Fri, May 1", "piektd., 1. maijs", "vie, 1 may"."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        value = _local(value, tz)
    return _pattern("MMMEd", value)


def clock(value: dt.time | dt.datetime | None, tz=None) -> str:
    """A 24-hour time of day, e.g. "14:05"."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        value = _local(value, tz)
    return _pattern("Hm", value)


def full(value: dt.datetime | None, tz=None) -> str:
    """Weekday, date and time, e.g. "Fri, May 1, 2026 14:05", "piektd., 2026. g. 1. maijs 14:05"."""
    if value is None:
        return ""
    local = _local(value, tz)
    return f"{_pattern('yMMMEd', local)} {_pattern('Hm', local)}"


def span(start: dt.datetime, end: dt.datetime, tz=None) -> str:
    """A booking's time: "Fri, May 1, 2026 10:00–12:00" (both days shown when they differ)."""
    s, e = _local(start, tz), _local(end, tz)
    if s.date() == e.date():
        return f"{full(s, tz)}–{_pattern('Hm', e)}"
    return f"{full(s, tz)} – {full(e, tz)}"


ENGLISH_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def weekdays_in_language(text: str) -> str:
    """English weekday abbreviations (as booking's opening hours are written) in the
    reader's language."""
    names = (get_locale() or Locale.parse(DEFAULT_LANGUAGE)).days["format"]["abbreviated"]
    return re.sub(r"\b(Mon|Tue|Wed|Thu|Fri|Sat|Sun)\b",
                  lambda m: names[ENGLISH_WEEKDAYS.index(m.group(1))], text)


def number(value: float | int | None, digits: int | None = None) -> str:
    """A number with the language's separators; ``digits`` fixes the decimals shown."""
    if value is None:
        return ""
    fmt = None if digits is None else ("#,##0." + "0" * digits if digits else "#,##0")
    return babel_decimal(value, format=fmt, locale=get_locale() or DEFAULT_LANGUAGE)


def label(value: object) -> str:
    """A stored word (a state, role, cause or kind such as ``changes_requested``) as people
    read it, in their language when it is in ``VOCABULARY``."""
    text = str(value).replace("_", " ") if value is not None else ""
    return get_translations().ugettext(text) if text else ""


def lazy_label(value: object) -> LazyString:
    """``label`` when shown: for choices of forms defined at import time."""
    return LazyString(label, value)


# Texts of Flask-Login and WTForms that reach people (WTForms ships no Latvian).
FRAMEWORK_TEXTS = (
    N_("Please log in to access this page."),
    N_("This field is required."), N_("Not a valid integer value."), N_("Not a valid date value."),
    N_("Not a valid time value."), N_("Not a valid datetime value."), N_("Not a valid choice."),
    N_("Invalid Choice: could not coerce."), N_("Invalid URL."), N_("Invalid email address."),
    N_("Field must be between %(min)d and %(max)d characters long."),
    N_("Number must be between %(min)s and %(max)s."), N_("Number must be at least %(min)s."),
    N_("Number must be at most %(max)s."), N_("Invalid input."),
    N_("CSRF token missing."), N_("Invalid CSRF Token."), N_("CSRF token expired."), N_("CSRF failed."),
)


def _wtforms_plurals() -> None:  # never called: marks WTForms' plural messages for pybabel extract
    from flask_babel import ngettext

    ngettext("Field must be at least %(min)d character long.",
             "Field must be at least %(min)d characters long.", 1)
    ngettext("Field cannot be longer than %(max)d character.",
             "Field cannot be longer than %(max)d characters.", 1)


# Words that reach pages from the database (states, roles, kinds, causes, dimensions); listed
# here so ``pybabel extract`` finds them for the ``label`` filter.
VOCABULARY = (
    # roles
    N_("member"), N_("staff"), N_("auditor"), N_("admin"),
    # contributions
    N_("pending"), N_("awaiting second approval"), N_("approved"), N_("rejected"),
    N_("changes requested"), N_("appealed"), N_("revoked"), N_("new"), N_("resubmitted"),
    # process nodes, membership, teams
    N_("not started"), N_("in progress"), N_("done"), N_("open"), N_("application"), N_("invite"),
    N_("citizens"), N_("public administration"), N_("non profit"), N_("for profit"),
    N_("phase"), N_("objective"), N_("task"), N_("process"),
    N_("view"), N_("contribute"), N_("manage"),
    # polls
    N_("single"), N_("multiple"), N_("kiosk"), N_("after vote"), N_("after close"), N_("scheduled"),
    N_("closed"),
    # booking
    N_("space"), N_("equipment"), N_("offered"), N_("confirmed"), N_("checked in"), N_("cancelled"),
    N_("declined"), N_("expired"), N_("no show"), N_("waiting"), N_("booked"), N_("left"),
    # loyalty, ledger and chain
    N_("approved contributions"), N_("points"), N_("week streak"), N_("requested"), N_("fulfilled"),
    N_("sent"), N_("mint"), N_("burn"), N_("badge"), N_("anchor"),
    N_("booking"), N_("booking check in"), N_("booking refund"), N_("contribution"), N_("poll"),
    N_("redemption"), N_("redemption refund"), N_("revocation"), N_("streak"),
    N_("participation"), N_("spending"), N_("attendance"),
    # rule events and cap periods
    N_("contribution approved"), N_("poll answered"), N_("booking checked in"), N_("streak reached"),
    N_("day"), N_("week"), N_("month"),
    # contribution levels
    N_("low"), N_("average"), N_("high"),
    # board titles (rewards/standings.py)
    N_("Community"), N_("Teams"),
)


FILTERS = {
    "when": when,
    "day": day,
    "weekday": weekday,
    "clock": clock,
    "full": full,
    "number": number,
    "translate": lambda message: translate(message),
    "label": label,
}
