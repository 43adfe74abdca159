"""Rulebooks: a district's deduction table as data (TOML), versioned by the month it takes
effect from. A month is always scored with the rulebook in force that month."""

from __future__ import annotations

import math
import os
import tomllib
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from fractions import Fraction
from pathlib import Path

from .errors import FindingError, RulebookError
from .months import parse_month

RULE_KINDS = ("area", "each", "overdue", "once")
SHIPPED_DIR = Path(__file__).parent / "rulebooks"


@dataclass(frozen=True)
class Rule:
    code: str
    section: str
    zh: str
    en: str
    kind: str
    points: Fraction
    points_high: Fraction | None = None
    gbt: str | None = None
    # False for a rule that describes the grid's work rather than a spot in the street (6.3.2's
    # rectification rate, 8.1's patrols): it comes from those records and is never pinned
    pinned: bool = True

    def label(self, lang: str = "zh") -> str:
        return self.en if lang == "en" else self.zh

    @property
    def needs_area(self) -> bool:
        return self.kind == "area"

    @property
    def needs_deadline(self) -> bool:
        return self.kind == "overdue"


@dataclass(frozen=True)
class Rulebook:
    id: str
    name_zh: str
    name_en: str
    effective_from: str
    area_threshold_m2: Fraction
    sections: dict[str, tuple[str, str]]
    rules: dict[str, Rule] = field(repr=False)

    def rule(self, code: str) -> Rule:
        try:
            return self.rules[str(code).strip()]
        except KeyError:
            raise FindingError(
                "Unknown rule code {code!r} in rulebook {book} (in force from {since})",
                code=code, book=self.id, since=self.effective_from,
            ) from None

    @cached_property
    def unit(self) -> int:
        """The common denominator of every figure: scoring adds whole units, not Fractions."""
        return math.lcm(*(f.denominator for r in self.rules.values() for f in (r.points, r.points_high) if f is not None))

    @cached_property
    def area_threshold(self) -> int | Fraction:
        """The threshold as an int when whole: a float compares with it exactly and fast."""
        t = self.area_threshold_m2
        return t.numerator if t.denominator == 1 else t

    @cached_property
    def units(self) -> dict[str, tuple[int, int]]:
        """Rule code -> (low, high) figure in units (high only differs for area rules)."""
        return {code: (int(r.points * self.unit), int((r.points_high or r.points) * self.unit))
                for code, r in self.rules.items()}

    @cached_property
    def caps(self) -> dict[str, int]:
        """The most a "once" rule deducts from a road, in units: its figure, however often found."""
        return {code: self.units[code][0] for code, rule in self.rules.items() if rule.kind == "once"}

    @cached_property
    def section_of(self) -> dict[str, str]:
        """Rule code -> its section ("4" of 4.1): a city's month report asks 150,000 times."""
        return {code: rule.section for code, rule in self.rules.items()}

    def by_section(self) -> dict[str, list[Rule]]:
        grouped: dict[str, list[Rule]] = {s: [] for s in self.sections}
        for rule in self.rules.values():
            grouped[rule.section].append(rule)
        return grouped


def _number(value, where: str, source: str) -> Fraction:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise RulebookError("{source}: {where} must be a number >= 0 (got {value!r})",
                            source=source, where=where, value=value)
    return Fraction(str(value))


def _text(table: dict, key: str, where: str, source: str) -> str:
    value = table.get(key)
    if not isinstance(value, str) or not value.strip():
        raise RulebookError("{source}: {where} needs a non-empty '{key}'", source=source, where=where, key=key)
    return value.strip()


def _rule(code: str, entry, sections: dict, source: str) -> Rule:
    where = f"rule {code!r}"
    if not isinstance(entry, dict):
        raise RulebookError("{source}: {where} must be a table", source=source, where=where)
    kind = entry.get("kind")
    if kind not in RULE_KINDS:
        raise RulebookError("{source}: {where} has kind {kind!r}; expected one of {kinds}",
                            source=source, where=where, kind=kind, kinds=", ".join(RULE_KINDS))
    section = code.split(".")[0]
    if section not in sections:
        raise RulebookError("{source}: {where} belongs to section {section!r}, which is not listed in [sections]",
                            source=source, where=where, section=section)
    if "points" not in entry:
        raise RulebookError("{source}: {where} needs 'points'", source=source, where=where)
    points = _number(entry["points"], f"{where} points", source)
    high = None
    if kind == "area":
        if "points_high" not in entry:
            raise RulebookError("{source}: {where} is an area rule and needs 'points_high'", source=source, where=where)
        high = _number(entry["points_high"], f"{where} points_high", source)
    pinned = entry.get("pinned", True)
    if not isinstance(pinned, bool):
        raise RulebookError("{source}: {where} has pinned = {value!r}; expected true or false",
                            source=source, where=where, value=pinned)
    unknown = set(entry) - {"zh", "en", "kind", "points", "points_high", "gbt", "pinned"}
    if unknown:
        raise RulebookError("{source}: {where} has unknown keys {keys}", source=source, where=where,
                            keys=", ".join(sorted(unknown)))
    gbt = entry.get("gbt")
    return Rule(code=code, section=section, zh=_text(entry, "zh", where, source), en=_text(entry, "en", where, source),
                kind=kind, points=points, points_high=high, gbt=str(gbt) if gbt is not None else None, pinned=pinned)


@lru_cache(maxsize=64)
def parse_rulebook(text: str, source: str = "rulebook") -> Rulebook:
    """Parse and check a rulebook; a malformed one fails with a message naming the bad entry.
    Kept by its text: every finding written reads the rulebooks, and parsing their TOML was
    two fifths of a write's time (a changed file or upload is new text, parsed afresh)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RulebookError("{source}: not valid TOML ({error})", source=source, error=exc) from None
    head = data.get("rulebook")
    if not isinstance(head, dict):
        raise RulebookError("{source}: missing the [rulebook] table", source=source)
    try:
        since = parse_month(str(head.get("effective_from", "")))
    except Exception:
        raise RulebookError("{source}: [rulebook] effective_from must be YYYY-MM (got {value!r})",
                            source=source, value=head.get("effective_from")) from None
    sections_in = data.get("sections")
    if not isinstance(sections_in, dict) or not sections_in:
        raise RulebookError("{source}: missing the [sections] table", source=source)
    sections = {}
    for code, entry in sections_in.items():
        if not isinstance(entry, dict):
            raise RulebookError("{source}: section {code!r} must be a table with zh and en", source=source, code=code)
        where = f"section {code!r}"
        sections[code] = (_text(entry, "zh", where, source), _text(entry, "en", where, source))
    rules_in = data.get("rules")
    if not isinstance(rules_in, dict) or not rules_in:
        raise RulebookError("{source}: has no [rules.*] entries", source=source)
    rules = {code: _rule(code, entry, sections, source) for code, entry in rules_in.items()}
    return Rulebook(
        id=_text(head, "id", "[rulebook]", source),
        name_zh=_text(head, "name_zh", "[rulebook]", source),
        name_en=_text(head, "name_en", "[rulebook]", source),
        effective_from=since,
        area_threshold_m2=_number(head.get("area_threshold_m2", 4), "[rulebook] area_threshold_m2", source),
        sections=sections,
        rules=rules,
    )


def load_rulebook(path: Path) -> Rulebook:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RulebookError("Cannot read rulebook {path}: {error}", path=path, error=exc) from None
    return parse_rulebook(text, source=Path(path).name)


def load_rulebooks(extra_dir: str | os.PathLike | None = None) -> list[Rulebook]:
    """The shipped rulebooks plus any in `extra_dir` (a district's own), oldest first."""
    paths = sorted(SHIPPED_DIR.glob("*.toml"))
    if extra_dir:
        paths += sorted(Path(extra_dir).glob("*.toml"))
    return checked([load_rulebook(p) for p in paths])


def checked(books: list[Rulebook]) -> list[Rulebook]:
    """The rulebooks oldest first, refusing two that take effect from the same month."""
    books = sorted(books, key=lambda b: b.effective_from)
    seen: dict[str, str] = {}
    for book in books:
        if book.effective_from in seen:
            raise RulebookError("Rulebooks {a} and {b} both take effect from {month}",
                                a=seen[book.effective_from], b=book.id, month=book.effective_from)
        seen[book.effective_from] = book.id
    return books


def rulebook_for(month: str, books: list[Rulebook]) -> Rulebook:
    """The rulebook in force in `month`: the latest one that took effect on or before it."""
    month = parse_month(month)
    in_force = [b for b in books if b.effective_from <= month]
    if not in_force:
        raise RulebookError("No rulebook is in force in {month}", month=month)
    return max(in_force, key=lambda b: b.effective_from)


def governs(books: list[Rulebook]) -> list[tuple[Rulebook, str, str | None]]:
    """(rulebook, first month, last month or None: onward) for each rulebook, oldest first:
    each governs from its effective month until the month before the next one takes effect."""
    from .months import previous_month

    books = sorted(books, key=lambda b: b.effective_from)
    return [(book, book.effective_from, previous_month(books[n + 1].effective_from) if n + 1 < len(books) else None)
            for n, book in enumerate(books)]
