"""The office's rulebooks: upload a district's own table (TOML), checked as any rulebook is (a
bad entry named), and refused where it would change what a published month was scored by."""

from __future__ import annotations

from ..domain.errors import Conflict, RulebookError
from ..domain.rulebook import checked, parse_rulebook
from ..storage import Store, audit, publishing
from ..storage import rulebooks as stored_rulebooks
from .policy import Actor, decide

MAX_BYTES = 256 * 1024      # a rule table is a few kilobytes


def upload(store: Store, actor: Actor, filename: str, data: bytes) -> dict:
    """Store the rulebook; returns its id, name and first month. Written with its audit row."""
    decide("manage_rulebooks", actor)
    filename = (filename or "rulebook.toml").strip()[:200]
    if len(data) > MAX_BYTES:
        raise RulebookError("{source}: a rulebook is at most {kb} KB", source=filename, kb=MAX_BYTES // 1024)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise RulebookError("{source}: not UTF-8 text", source=filename) from None
    book = parse_rulebook(text, source=filename)
    checked(store.rulebooks() + [book])          # two rulebooks from one month are refused, naming both
    published = publishing.published_months(store)
    if published and book.effective_from <= published[-1]:
        raise Conflict("{source} takes effect from {month}, but {published} is published and was scored by the "
                       "rulebook then in force; make it take effect after {published}", source=filename,
                       month=book.effective_from, published=published[-1])
    with store.begin() as conn:
        stored_rulebooks.insert_in(conn, book.effective_from, filename, text, actor.name)
        audit.record(conn, "rulebook_upload", actor.name, month=book.effective_from, subject=book.id,
                     after={"id": book.id, "file": filename, "effective_from": book.effective_from,
                            "rules": len(book.rules)})
    store.read_again()
    return {"id": book.id, "name_zh": book.name_zh, "effective_from": book.effective_from}
