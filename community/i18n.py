"""Translatable messages for code without Flask (community/, booking/, rewards/).

The domain speaks English. A message with values in it is written as
``N_("poll %(poll)s is closed", poll=poll.id)``: the result is the English string (so logs,
tests and ``str(exc)`` read as before) that also remembers its message id and values, so it
can be translated later into the reader's language. Messages without values are plain
literals; ``pybabel extract`` finds both (``babel.cfg`` names ``N_`` and the error classes
as keywords). The web app installs the translator (``web/i18n.py``); elsewhere (tests of the
domain, CLI commands, the relay) messages stay English.
"""

from __future__ import annotations

from collections.abc import Callable

# The languages Kopa is translated into, by their own names; English is the fallback.
LANGUAGES: dict[str, str] = {"en": "English", "lv": "Latviešu", "es": "Español"}
DEFAULT_LANGUAGE = "en"


class Msg(str):
    """English text that carries its message id and values for a later translation; with
    ``plural`` and ``num`` set, the translation picks the plural form for ``num``."""

    msgid: str
    params: dict[str, object]
    plural: str | None
    num: int | None

    def __new__(
        cls, msgid: str, *, plural_: str | None = None, num_: int | None = None, **params: object
    ) -> Msg:
        if plural_ is not None:
            params = {"num": num_, **params}
            english = msgid if num_ == 1 else plural_
        else:
            english = msgid
        text = english % params if params else english
        self = super().__new__(cls, text)
        self.msgid = msgid
        self.params = params
        self.plural = plural_
        self.num = num_
        return self

    def __reduce__(self):  # pickles (and copies) as a Msg with its id and values
        return (_rebuild, (self.msgid, self.plural, self.num, self.params))


def _rebuild(msgid: str, plural: str | None, num: int | None, params: dict[str, object]) -> Msg:
    params = {k: v for k, v in params.items() if not (plural is not None and k == "num")}
    return Msg(msgid, plural_=plural, num_=num, **params)


class Moment(str):
    """A date or time inside a message: the English text the domain writes, plus the instant
    (and, for a span, its end) and the ``style`` to show it in, so the web layer writes it in
    the reader's language. Styles: ``datetime``, ``date``, ``time``, ``weekday``, ``span``."""

    value: object
    style: str
    end: object
    tz: object

    def __new__(
        cls, text: str, value: object, style: str, *, end: object = None, tz: object = None
    ) -> Moment:
        self = super().__new__(cls, text)
        self.value, self.style, self.end, self.tz = value, style, end, tz
        return self

    def __reduce__(self):
        return (_moment, (str(self), self.value, self.style, self.end, self.tz))


def _moment(text: str, value: object, style: str, end: object, tz: object) -> Moment:
    return Moment(text, value, style, end=end, tz=tz)


def N_(msgid: str, **params: object) -> Msg:
    """Mark ``msgid`` for translation; ``%(name)s`` placeholders are filled from ``params``.
    A value that is itself a ``Msg`` (a field name, say) is translated too."""
    return Msg(msgid, **params)


def NP_(singular: str, plural: str, num: int, **params: object) -> Msg:
    """``N_`` with a plural form: ``%(num)s`` is the count that picks the form."""
    return Msg(singular, plural_=plural, num_=num, **params)


_translator: Callable[..., str] | None = None


def install_translator(translate: Callable[..., str] | None) -> None:
    """The web app's translator: ``translate(message, locale=None)``, English text or ``Msg``
    in, the reader's language (or ``locale``) out."""
    global _translator
    _translator = translate


def translated(message: str, locale: str | None = None) -> str:
    """``message`` in the current reader's language (or in ``locale``: a notification is written
    in its recipient's), or unchanged without a translator."""
    return _translator(message, locale) if _translator is not None else str(message)
