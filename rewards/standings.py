"""Leaderboards derived from the ledger, cached, dropped by one function.

Totals are never stored as counters that could drift: every board is a sum over the
append-only ledger (revocations are negative entries, so they count too). Ties go to
whoever reached the score first (earlier last entry). A board is cached whole, with the
opt-out, pseudonym and freeze data it needs, so a cached read runs no SQL. With Redis the
cache is shared by every worker; invalidation bumps one version number.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from community.db import as_utc, utcnow
from community.errors import InvalidInput, NotFound
from community.i18n import N_
from community.models import Membership, Process, Team, TeamMember, User
from rewards.ledger import SPENDING
from rewards.models import BoardTotal, ProcessBoardTotal, freeze_of

PERIODS = ("week", "month", "all", "last_week", "last_month")
LIVE_PERIODS = ("week", "month", "all")  # past periods cannot move, except by revocation
TOP_N = 20
_SCOPE = re.compile(r"^(community|teams|process:[1-9][0-9]{0,9}|team:[1-9][0-9]{0,9})$")
_DIMENSION = re.compile(r"^[a-z0-9_-]{1,40}$")


@dataclass(frozen=True)
class BoardKey:
    """Which board: scope ``community``, ``teams`` (teams against teams), ``process:<id>`` or
    ``team:<id>``; a period; optionally one scoring dimension."""

    scope: str = "community"
    period: str = "all"
    dimension: str | None = None

    @classmethod
    def parse(cls, scope: object = None, period: object = None, dimension: object = None) -> BoardKey:
        scope = scope or "community"
        period = period or "all"
        dimension = dimension or None
        if not isinstance(scope, str) or not _SCOPE.match(scope):
            raise InvalidInput("scope must be community, teams, process:<id> or team:<id>")
        if period not in PERIODS:
            raise InvalidInput(N_("period must be one of %(periods)s", periods=', '.join(PERIODS)))
        if dimension is not None and (not isinstance(dimension, str) or not _DIMENSION.match(dimension)):
            raise InvalidInput("dimension must be 1-40 lowercase letters, digits, - or _")
        if dimension == SPENDING:
            raise InvalidInput("spending is not a leaderboard dimension")
        return cls(scope, period, dimension)

    @property
    def room(self) -> str:
        return f"{self.scope}|{self.period}|{self.dimension or ''}"

    @classmethod
    def from_room(cls, room: str) -> BoardKey:
        scope, period, dimension = room.split("|")
        return cls(scope, period, dimension or None)


def window(period: str, now: dt.datetime) -> tuple[dt.datetime | None, dt.datetime | None]:
    """[start, end) of a period in UTC; weeks start on Monday."""
    day = dt.datetime(now.year, now.month, now.day, tzinfo=dt.UTC)
    week = day - dt.timedelta(days=now.weekday())
    month = day.replace(day=1)
    previous_month = (month - dt.timedelta(days=1)).replace(day=1)
    return {
        "week": (week, None),
        "month": (month, None),
        "all": (None, None),
        "last_week": (week - dt.timedelta(days=7), week),
        "last_month": (previous_month, month),
    }[period]


@dataclass(frozen=True)
class Standing:
    rank: int
    member_id: int  # a team's id on the teams board
    member: str  # display name or pseudonym; never an e-mail
    points: int

    def public(self) -> dict:
        """What may be shown to anyone: no ids, no e-mail, no address."""
        data = asdict(self)
        data.pop("member_id")
        return data


@dataclass(frozen=True)
class Board:
    """A computed board. ``rows`` are (id, name, points, hidden) in rank order, hidden rows
    being members who opted out; ``frozen`` is the snapshot viewers see while frozen."""

    key: BoardKey
    title: str
    public: bool
    rows: tuple[tuple[int, str, int, bool], ...]
    frozen: tuple[tuple[int, str, int, bool], ...] | None = None
    frozen_at: str | None = None

    def standings(self, live: bool = False) -> list[Standing]:
        """The public top (members who opted out are not in ``rows``); the frozen snapshot
        while frozen unless ``live``."""
        rows = self.rows if live or self.frozen is None else self.frozen
        return [Standing(rank=i + 1, member_id=r[0], member=r[1], points=r[2]) for i, r in enumerate(rows)]

    def top(self, n: int = TOP_N) -> list[dict]:
        return [s.public() for s in self.standings()[:n]]

    def fingerprint(self) -> str:
        """What watchers see of the board: pushes happen only when this changes."""
        return json.dumps([self.top(), self.frozen_at])

    def to_json(self) -> str:
        data = asdict(self)
        data["key"] = asdict(self.key)
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> Board:
        data = json.loads(text)
        frozen = data["frozen"]
        return cls(
            key=BoardKey(**data["key"]),
            title=data["title"],
            public=data["public"],
            rows=tuple(tuple(r) for r in data["rows"]),
            frozen=tuple(tuple(r) for r in frozen) if frozen is not None else None,
            frozen_at=data["frozen_at"],
        )


def _scope_target(session: Session, scope: str) -> tuple[str, bool, int | None]:
    """(title, public, id) of a scope; a process or team that does not exist is a 404."""
    if scope == "community":
        return "Community", True, None
    if scope == "teams":
        return "Teams", True, None
    kind, _, raw = scope.partition(":")
    target_id = int(raw)
    if kind == "process":
        process = session.get(Process, target_id)
        if process is None:
            raise NotFound(N_("process %(target_id)s does not exist", target_id=target_id))
        # Invite-only processes are nobody's business on a wall screen.
        return process.title, process.membership != Membership.INVITE, target_id
    team = session.get(Team, target_id)
    if team is None:
        raise NotFound(N_("team %(target_id)s does not exist", target_id=target_id))
    return team.name, True, target_id


def bucket_of(period: str, now: dt.datetime) -> str:
    """The ``board_totals`` bucket of a period (see migration 0010)."""
    start, _ = window(period, now)
    if start is None:
        return "all"
    return ("w" if period in ("week", "last_week") else "m") + start.date().isoformat()


def _member_totals(key: BoardKey, now: dt.datetime):
    """(table, filters) holding a member board's sums: the trigger-kept ``board_totals``
    (community, and a team's members) or ``process_board_totals`` (a process)."""

    kind, _, raw = key.scope.partition(":")
    table = ProcessBoardTotal if kind == "process" else BoardTotal
    filters = [table.bucket == bucket_of(key.period, now), table.dimension == (key.dimension or "*")]
    if kind == "process":
        filters.append(table.process_id == int(raw))
    elif kind == "team":
        filters.append(table.member_id.in_(select(TeamMember.user_id).where(TeamMember.team_id == int(raw))))
    return table, filters


def compute_rows(
    session: Session, key: BoardKey, now: dt.datetime | None = None, *, limit: int | None = None,
    public_only: bool = False,
) -> list[tuple[int, str, int, bool]]:
    """The board's rows (id, name, points, opted out), best first; ties to the earlier last
    entry. Every board reads sums the ledger's insert triggers keep (migrations 0010, 0012),
    never the ledger itself."""

    now = now or utcnow()
    if key.scope == "teams":
        total = func.sum(BoardTotal.points).label("total")
        last_entry = func.max(BoardTotal.last_entry_id).label("last_entry")
        query = (
            select(Team.id, Team.name, total, last_entry)
            .join(TeamMember, TeamMember.team_id == Team.id)
            .join(BoardTotal, BoardTotal.member_id == TeamMember.user_id)
            .where(BoardTotal.bucket == bucket_of(key.period, now),
                   BoardTotal.dimension == (key.dimension or "*"))
            .group_by(Team.id, Team.name)
        )
        return [(r[0], r[1], int(r[2]), False) for r in _ranked(session, query, total, last_entry, limit)]

    table, filters = _member_totals(key, now)
    hidden = [User.board_opt_out.is_not(True)] if public_only else []
    query = (
        select(table.member_id, User.display_name, User.board_pseudonym, User.board_opt_out, table.points)
        .join(User, User.id == table.member_id)
        .where(*filters, table.points > 0, *hidden)
        .order_by(table.points.desc(), table.last_entry_id.asc())
        .limit(limit)
    )
    return [(r[0], r[2] or r[1], int(r[4]), bool(r[3])) for r in session.execute(query)]


def _ranked(session: Session, query, total, last_entry, limit: int | None) -> list:
    return session.execute(
        query.having(total > 0).order_by(total.desc(), last_entry.asc()).limit(limit)
    ).all()


def compute_board(session: Session, key: BoardKey, now: dt.datetime | None = None) -> Board:
    """The public top N of a board (what is cached and pushed), with its freeze if any."""

    title, public, _ = _scope_target(session, key.scope)
    rows = tuple(compute_rows(session, key, now, limit=TOP_N, public_only=True))
    freeze = freeze_of(session, key)
    if freeze is None:
        return Board(key, title, public, rows)
    frozen = [tuple(r) for r in json.loads(freeze.snapshot)]
    if key.scope != "teams":  # a frozen board still honours later opt-outs and pseudonyms
        people = {u.id: u for u in session.scalars(select(User).where(User.id.in_([r[0] for r in frozen])))}
        frozen = [(r[0], people[r[0]].board_pseudonym or people[r[0]].display_name, r[2], False)
                  for r in frozen if r[0] in people and not people[r[0]].board_opt_out]
    frozen_at = as_utc(freeze.frozen_at).isoformat()
    return Board(key, title, public, rows, frozen=tuple(frozen), frozen_at=frozen_at)


def place(session: Session, key: BoardKey, member_id: int, now: dt.datetime | None = None) -> dict | None:
    """A member's own rank among the members others see (plus themself, even if they opted
    out) and the points they need to pass the place above; None without points."""
    if key.scope == "teams":
        return None
    table, board = _member_totals(key, now or utcnow())
    mine = session.execute(
        select(table.points, table.last_entry_id).where(*board, table.member_id == member_id)
    ).first()
    if mine is None or mine.points <= 0:
        return None
    ahead = (table.points > mine.points) | (
        (table.points == mine.points) & (table.last_entry_id < mine.last_entry_id)
    )
    # Counted on the totals' own index, minus the (few) members who opted out: a join to
    # users for every row would cost a lookup per member.
    rows = select(func.count()).select_from(table).where(
        *board, table.points > 0, table.member_id != member_id
    )
    hidden = rows.join(User, User.id == table.member_id).where(User.board_opt_out == True)  # noqa: E712
    rank = 1 + session.scalar(rows.where(ahead)) - session.scalar(hidden.where(ahead))
    of = 1 + session.scalar(rows) - session.scalar(hidden)
    above = session.scalar(
        select(table.points).join(User, User.id == table.member_id)
        .where(*board, table.member_id != member_id, User.board_opt_out.is_not(True), ahead)
        .order_by(table.points.asc(), table.last_entry_id.desc()).limit(1)
    )
    return _place(rank, mine.points, of, above)


def _place(rank: int, points: int, of: int, above: int | None) -> dict:
    return {"rank": rank, "points": points, "of": of,
            "next_place": rank - 1 if above is not None else None,
            "distance": (above - points + 1) if above is not None else 0}


def compute_standings(session: Session, limit: int | None = None) -> list[Standing]:
    """The all-time community board as public viewers see it."""
    standings = compute_board(session, BoardKey()).standings()
    return standings if limit is None else standings[:limit]


class _LocalStore:
    """One worker's cache: a dict and a counter."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._boards: dict[str, str] = {}
        self._watchers: dict[str, int] = {}
        self._pushed: dict[str, str] = {}
        self._version = 0

    def version(self) -> int:
        return self._version

    def read(self, version: int, name: str) -> str | None:
        return self._boards.get(f"{version}:{name}")

    def write(self, version: int, name: str, value: str) -> None:
        with self._lock:
            if version == self._version:  # a compute older than an invalidation is not kept
                self._boards[f"{version}:{name}"] = value

    def bump(self) -> int:
        with self._lock:
            self._boards.clear()
            self._version += 1
            return self._version

    def watch(self, room: str, fingerprint: str) -> None:
        with self._lock:
            self._watchers[room] = self._watchers.get(room, 0) + 1
            self._pushed.setdefault(room, fingerprint)

    def unwatch(self, room: str) -> None:
        with self._lock:
            self._watchers[room] = max(0, self._watchers.get(room, 0) - 1)

    def watched(self) -> set[str]:
        return {room for room, count in self._watchers.items() if count > 0}

    def swap_pushed(self, room: str, fingerprint: str) -> str | None:
        with self._lock:
            old = self._pushed.get(room)
            self._pushed[room] = fingerprint
            return old


class _RedisStore:
    """Shared by every worker on one database: the version is one INCR'd key and boards are
    stored under it, so invalidation is a single atomic command."""

    TTL = 24 * 3600

    def __init__(self, url: str, namespace: str) -> None:
        import redis

        self._redis = redis.Redis.from_url(url)
        self._ns = f"kopa:boards:{namespace}"

    def version(self) -> int:
        return int(self._redis.get(f"{self._ns}:version") or 0)

    def read(self, version: int, name: str) -> str | None:
        value = self._redis.get(f"{self._ns}:{version}:{name}")
        return value.decode() if value is not None else None

    def write(self, version: int, name: str, value: str) -> None:
        self._redis.set(f"{self._ns}:{version}:{name}", value, ex=self.TTL)

    def bump(self) -> int:
        return int(self._redis.incr(f"{self._ns}:version"))

    def watch(self, room: str, fingerprint: str) -> None:
        pipe = self._redis.pipeline()
        pipe.hincrby(f"{self._ns}:watchers", room, 1)
        pipe.hsetnx(f"{self._ns}:pushed", room, fingerprint)
        pipe.execute()

    def unwatch(self, room: str) -> None:
        # A worker that dies without unwatching leaves a count behind: boards are then
        # recomputed for nobody, never left unpushed.
        if self._redis.hincrby(f"{self._ns}:watchers", room, -1) <= 0:
            self._redis.hdel(f"{self._ns}:watchers", room)

    def watched(self) -> set[str]:
        return {room.decode() for room, count in self._redis.hgetall(f"{self._ns}:watchers").items()
                if int(count) > 0}

    def swap_pushed(self, room: str, fingerprint: str) -> str | None:
        pipe = self._redis.pipeline()
        pipe.hget(f"{self._ns}:pushed", room)
        pipe.hset(f"{self._ns}:pushed", room, fingerprint)
        old = pipe.execute()[0]
        return old.decode() if old is not None else None


class StandingsCache:
    """Boards cached per key and period window, under a version that moves on every
    invalidation. Boards are computed in a session of the cache's own: a caller's session may
    hold a snapshot older than the last invalidation."""

    def __init__(self, session_factory: Callable[[], Session], redis_url: str | None = None,
                 namespace: str = "", clock: Callable[[], dt.datetime] = utcnow) -> None:
        self._session_factory = session_factory
        self._clock = clock
        ns = hashlib.sha256(namespace.encode()).hexdigest()[:12]
        self._store = _RedisStore(redis_url, ns) if redis_url else _LocalStore()

    @property
    def version(self) -> int:
        return self._store.version()

    def board(self, key: BoardKey) -> Board:
        """The cached board (no SQL), computed on a miss."""
        now = self._clock()
        return self._cached(self._name(key, now), lambda session: compute_board(session, key, now),
                            Board.to_json, Board.from_json)

    def place(self, key: BoardKey, member_id: int) -> dict | None:
        """A member's own ``place`` on a board, cached under the same version as the boards
        (a ledger write or a profile change moves places too, and drops them with the boards)."""
        now = self._clock()
        return self._cached(f"place|{member_id}|{self._name(key, now)}",
                            lambda session: place(session, key, member_id, now), json.dumps, json.loads)

    @staticmethod
    def _name(key: BoardKey, now: dt.datetime) -> str:
        """A board's cache name: its room and the start of its period's current window."""
        start, _ = window(key.period, now)
        return f"{key.room}|{start.date().isoformat() if start else ''}"

    def _cached(self, name: str, compute: Callable[[Session], Any], dump: Callable[[Any], str],
                load: Callable[[str], Any]) -> Any:
        """The value stored under the current version, or computed in a session of the cache's
        own (a caller's may predate the last invalidation) and stored."""
        version = self._store.version()
        cached = self._store.read(version, name)
        if cached is not None:
            return load(cached)
        with self._session_factory() as session:
            value = compute(session)
        self._store.write(version, name, dump(value))
        return value

    def get(self, board: str = "community") -> list[Standing]:
        """The all-time board of a scope as anyone may see it."""
        return self.board(BoardKey(scope=board)).standings()

    def invalidate(self) -> int:
        """The one function every ledger write goes through (after its commit); freezes and
        profile changes use it too."""
        return self._store.bump()

    def watch(self, board: Board) -> None:
        """One more watcher of this board (on any worker); what the watcher was just sent
        counts as pushed. Only boards with watchers are recomputed after a ledger write."""
        self._store.watch(board.key.room, board.fingerprint())

    def unwatch(self, key: BoardKey) -> None:
        self._store.unwatch(key.room)

    def watched(self) -> set[BoardKey]:
        return {BoardKey.from_room(room) for room in self._store.watched()}

    def changed_boards(self) -> list[Board]:
        """Watched live boards whose public top differs from what was last pushed."""
        changed = []
        for room in sorted(self._store.watched()):
            key = BoardKey.from_room(room)
            if key.period not in LIVE_PERIODS:
                continue
            try:
                board = self.board(key)
            except NotFound:  # the process or team went away
                continue
            fingerprint = board.fingerprint()
            if self._store.swap_pushed(room, fingerprint) != fingerprint:
                changed.append(board)
        return changed
