"""What the benchmarks share: figure lines (`name value unit`, the format `make bench` and
docs/benchmarks.md read), nearest-rank percentiles and a scratch PostgreSQL database."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager


def figure(name: str, value: float, unit: str) -> None:
    """One figure on stdout; progress and commentary go to stderr (``note``)."""
    if isinstance(value, int):
        text = str(value)
    elif abs(value) >= 100:
        text = f"{value:.1f}"
    elif abs(value) >= 1:
        text = f"{value:.2f}"
    else:
        text = f"{value:.4f}"
    print(f"{name} {text} {unit}", flush=True)


def note(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def percentile(values: list[float], q: float) -> float:
    """Nearest rank: the smallest value at or above q % of the samples."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


@contextmanager
def scratch_postgres(admin_url: str, prefix: str) -> Iterator[str]:
    """A fresh database next to ``admin_url``'s, dropped afterwards whatever happens."""
    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{admin_url.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
