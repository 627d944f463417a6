"""Notifications in tests: a real SMTP server on 127.0.0.1 (aiosmtpd) that keeps what it
receives, and a member's notifications read back."""

from __future__ import annotations

import email
import email.policy
import threading

from aiosmtpd.controller import Controller
from sqlalchemy import select

from community import accounts, contributions
from community.models import Notification
from rewards.chain.anvil import free_port


class Inbox:
    """aiosmtpd handler: keeps every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], email.message.EmailMessage]] = []
        self._changed = threading.Condition()

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self._changed:
            self.messages.append((list(envelope.rcpt_tos), message))
            self._changed.notify_all()
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[email.message.EmailMessage]:
        with self._changed:
            return [m for rcpt, m in self.messages if address in rcpt]

    def wait_for(self, address: str, count: int = 1, timeout: float = 15) -> list[email.message.EmailMessage]:
        with self._changed:
            self._changed.wait_for(lambda: len(self.to(address)) >= count, timeout)
        return self.to(address)

    def wait_for_text(self, address: str, needle: str, timeout: float = 15) -> email.message.EmailMessage:
        def found():
            return next((m for m in self.to(address) if needle in m.get_content()), None)

        with self._changed:
            self._changed.wait_for(lambda: found() is not None, timeout)
        message = found()
        assert message is not None, f"no e-mail to {address} saying {needle!r}"
        return message


def start_inbox() -> tuple[Controller, Inbox, str]:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    return controller, inbox, f"smtp://127.0.0.1:{controller.port}"


def rows(db, member: int) -> list[Notification]:
    with db.read_sessions() as session:
        query = select(Notification).where(Notification.user_id == member).order_by(Notification.id)
        return list(session.scalars(query))


def kinds(db, member: int) -> list[str]:
    return [n.kind for n in rows(db, member)]


def submitted(community, member: int, task: int, text: str = "did it") -> int:
    uow = community.db.unit_of_work()
    return contributions.submit_contribution(uow, member_id=member, task_id=task, text=text)


def token(db, user_id: int) -> dict[str, str]:
    return {"Authorization": f"Bearer {accounts.issue_api_token(db.unit_of_work(), user_id)}"}
