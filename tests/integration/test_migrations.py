"""The migrations build exactly the schema the models declare, on SQLite and PostgreSQL: a
column added to a model without a migration (or the reverse) fails here, not in production."""

from __future__ import annotations

import importlib
import pkgutil

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from community.db import Base

# Read-path indexes the board queries need, written in the migrations as SQL the models cannot
# declare portably (descending keys, partial indexes, covering column orders).
MIGRATION_ONLY_INDEXES = {
    "ix_board_totals_rank", "ix_process_board_totals_rank", "ix_ledger_board_all",
    "ix_ledger_board_period", "ix_users_board_opt_out",
}


def _import_every_model() -> None:
    for package in ("community", "rewards", "booking"):
        module = importlib.import_module(package)
        for info in pkgutil.iter_modules(module.__path__):
            if "model" in info.name:
                importlib.import_module(f"{package}.{info.name}")


def test_the_migrated_schema_is_the_models_schema(database_url):
    _import_every_model()
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    finally:
        engine.dispose()
    unexpected = [d for d in differences
                  if not (d[0] == "remove_index" and d[1].name in MIGRATION_ONLY_INDEXES)]
    assert unexpected == []
    found = {d[1].name for d in differences if d[0] == "remove_index"}
    assert found == MIGRATION_ONLY_INDEXES, "an index left the migrations: drop it from the list"
