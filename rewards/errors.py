"""Errors of the rewards domain; the web layer maps them by their ``DomainError`` kind."""

from __future__ import annotations

from community.errors import Conflict


class InsufficientCredits(Conflict):
    """A spend larger than the member's confirmed credits minus what is already promised."""

    code = "insufficient_credits"
