"""The message bus in the unit of work: in-transaction handlers commit or roll back with the
change that raised the event; after-commit handlers run only after a successful commit."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import text

from community.bus import MessageBus
from community.db import Database
from community.registry import Registry


@dataclass(frozen=True)
class Happened:
    n: int


@dataclass(frozen=True)
class Other:
    n: int


@pytest.fixture
def world(tmp_path):
    bus = MessageBus()
    db = Database(f"sqlite:///{tmp_path / 'bus.sqlite3'}", bus)
    with db.engine.begin() as conn:
        conn.execute(text("CREATE TABLE marks (n INTEGER)"))
    yield db, bus
    db.dispose()


def marks(db: Database) -> list[int]:
    with db.read_sessions() as session:
        return list(session.scalars(text("SELECT n FROM marks ORDER BY n")))


def mark(uow, event) -> int:
    uow.session.execute(text("INSERT INTO marks (n) VALUES (:n)"), {"n": event.n})
    return event.n * 10


def test_in_transaction_handler_commits_with_the_change_and_returns_its_result(world):
    db, bus = world
    bus.in_transaction(Happened, mark)
    seen = []
    bus.after_commit(Happened, seen.append)
    with db.unit_of_work() as uow:
        assert uow.publish(Happened(1)) == [10]
        assert marks(db) == [] and seen == []  # not visible, not announced before the commit
        uow.commit()
    assert marks(db) == [1] and seen == [Happened(1)]


def test_rollback_drops_handler_writes_and_announces_nothing(world):
    db, bus = world
    bus.in_transaction(Happened, mark)
    seen = []
    bus.after_commit(Happened, seen.append)
    with pytest.raises(RuntimeError), db.unit_of_work() as uow:
        uow.publish(Happened(2))
        raise RuntimeError("the use case failed after publishing")
    assert marks(db) == [] and seen == []


def test_handlers_may_publish_and_batch_handlers_run_once_per_commit(world):
    db, bus = world
    bus.in_transaction(Happened, lambda uow, e: uow.publish(Other(e.n)) and None)
    batches = []
    bus.once_after_commit((Other,), lambda: batches.append(1))
    with db.unit_of_work() as uow:
        uow.publish(Happened(1))
        uow.publish(Happened(2))
        uow.commit()
    assert uow.events == [Happened(1), Other(1), Happened(2), Other(2)]
    assert batches == [1]
    with db.unit_of_work() as uow:
        uow.publish(Happened(3))  # another commit that published Other: the batch runs again
        uow.commit()
    assert batches == [1, 1]


def test_registry_orders_by_order_then_registration_and_replaces_by_name():
    registry: Registry[str] = Registry("test")
    registry.register("b", "B", order=20)
    registry.register("a", "A", order=10)
    registry.register("c", "C", order=20)
    registry.register("b", "B2", order=20)  # bootstrapping twice changes nothing
    assert list(registry) == ["A", "B2", "C"] and registry.names() == ["a", "b", "c"]
