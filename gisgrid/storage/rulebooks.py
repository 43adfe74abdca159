"""Storage of the rulebooks the office uploads: the TOML text as given, by the month it takes
effect from (parsed by domain/rulebook.py whenever read, so a stored one is checked like a file)."""

from __future__ import annotations

from sqlalchemy import insert, select

from .schema import RulebookFile, utcnow

rulebook_t = RulebookFile.__table__


def stored(conn) -> list[dict]:
    return [r._asdict() for r in conn.execute(select(rulebook_t).order_by(rulebook_t.c.effective_from))]


def insert_in(conn, effective_from: str, filename: str, source: str, by: str) -> int:
    return conn.execute(insert(rulebook_t).values(effective_from=effective_from, filename=filename, source=source,
                                                  uploaded_by=by, uploaded_at=utcnow())).inserted_primary_key[0]
