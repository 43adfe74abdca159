"""The UI's translations: English message ids in code and templates, Chinese (the default UI
language) in translations/zh, one catalogue (domain) per area. `python -m gisgrid.i18n AREA`
adds ids that no catalogue has yet to AREA's catalogue and compiles them all; a test fails
when an id is untranslated or a compiled file is stale."""

from __future__ import annotations

import io
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

PACKAGE = Path(__file__).resolve().parent
ROOT = PACKAGE.parent
TRANSLATIONS = PACKAGE / "translations"
CATALOGUE = TRANSLATIONS / "zh" / "LC_MESSAGES"
DOMAINS = ("messages", "inspect", "plan", "review")
METHODS = [("**/templates/**.html", "jinja2"), ("**.py", "python")]
KEYWORDS = {"_": None, "gettext": None, "lazy_gettext": None, "ngettext": (1, 2), "N_": None,
            # user errors carry their message template as the first argument
            **{name: (1,) for name in ("GisgridError", "RulebookError", "LayerError", "FindingError",
                                        "RequestError", "SampleError", "NotFound", "Conflict", "Forbidden",
                                        "PhotoError", "LoginRefused", "PasswordRefused", "TooManyAttempts", "Gone", "Busy")}}


def message_ids() -> set[str]:
    """Every message id used by the app: gettext calls, templates, and user-error templates."""
    ids: set[str] = set()
    for folder in (PACKAGE, ROOT / "templates"):
        method_map = [("**.html", "jinja2")] if folder.name == "templates" else [("**.py", "python")]
        for _file, _line, message, _comments, _context in extract_from_dir(
                folder, method_map, keywords=KEYWORDS, options_map={"**.html": {"extensions": "jinja2.ext.i18n"}}):
            ids.add(message if isinstance(message, str) else message[0])
    return ids


def read_catalogue(domain: str = "messages") -> Catalog:
    path = CATALOGUE / f"{domain}.po"
    if not path.exists():
        return Catalog(locale="zh_Hans_CN", domain=domain)
    with open(path, "rb") as handle:
        return read_po(handle, locale="zh_Hans_CN", domain=domain)


def write_catalogue(catalogue: Catalog, domain: str) -> None:
    with open(CATALOGUE / f"{domain}.po", "wb") as handle:
        write_po(handle, catalogue, width=100, sort_output=True, omit_header=False)
    (CATALOGUE / f"{domain}.mo").write_bytes(compiled(catalogue))


def compiled(catalogue: Catalog) -> bytes:
    buffer = io.BytesIO()
    write_mo(buffer, catalogue)
    return buffer.getvalue()


def stale_messages(domain: str) -> list[str]:
    """Ids whose translation in the compiled catalogue differs from the .po file's, as the app's
    gettext reads them: independent of the Babel version that compiled it (its header differs)."""
    import gettext

    with open(CATALOGUE / f"{domain}.mo", "rb") as handle:
        compiled_ = {k: v for k, v in gettext.GNUTranslations(handle)._catalog.items() if k != ""}
    wanted = {m.id: m.string for m in read_catalogue(domain) if m.id and m.string and not m.fuzzy}
    flat = {}
    for key, value in wanted.items():   # plural forms: one entry per form, as gettext keeps them
        if isinstance(key, tuple):
            flat.update({(key[0], n): form for n, form in enumerate(value)})
        else:
            flat[key] = value
    return sorted(str(k) for k in flat.keys() | compiled_.keys() if flat.get(k) != compiled_.get(k))


def refresh(domain: str = "messages") -> list[str]:
    """Add ids that no catalogue has to `domain`'s, compile every catalogue, and return the
    ids still untranslated anywhere."""
    catalogues = {d: read_catalogue(d) for d in DOMAINS}
    known = {m.id for c in catalogues.values() for m in c if m.id}
    for message_id in sorted(message_ids() - known):
        catalogues[domain].add(message_id, "")
    for name, catalogue in catalogues.items():
        write_catalogue(catalogue, name)
    return sorted(m.id for c in catalogues.values() for m in c if m.id and not m.string)


if __name__ == "__main__":  # pragma: no cover
    import sys

    missing = refresh(sys.argv[1] if len(sys.argv) > 1 else "messages")
    print(f"{len(missing)} messages still need a Chinese translation", *missing, sep="\n")
