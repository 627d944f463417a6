"""Distinctive personal data for the privacy tests (after erasure none of it may be anywhere in
the database) and the database read as text, the way an attacker with a copy would read it."""

from __future__ import annotations

from sqlalchemy import inspect, text

# Distinctive personal data: after erasure none of it may be anywhere in the database.
NAME = "Mara Liepina"
PSEUDONYM = "Garden Fox"
CONTRIBUTION_TEXT = "Planted herbs outside my flat at Home Street 5"
EVIDENCE_URL = "https://example.org/mara-garden"
EVIDENCE_NAME = "mara-garden.txt"
APPEAL = "Mara appeals: the photos are from Home Street 5"
APPLICATION = "Please call Mara on 555 0101"
POLL_TEXT = "The north yard is next to my flat"
CANCEL_REASON = "Mara is ill"


def database_text(db) -> str:
    """Every value of every table, as text: what an attacker with the database would read."""
    chunks = []
    with db.engine.connect() as conn:
        for table in inspect(db.engine).get_table_names():
            for row in conn.execute(text(f'SELECT * FROM "{table}"')):
                chunks.extend(str(v) for v in row if not isinstance(v, bytes | memoryview))
    return "\n".join(chunks)
