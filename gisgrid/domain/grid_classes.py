"""Grid classes (seed 002: grids are classed A / B / C by the roads they manage). The code is
what grids, rankings and machine outputs carry; the name, in Chinese and in English, is what
people read. Data beside each other, as a rule's zh and en are in the rulebook."""

from __future__ import annotations

CLASSES: dict[str, dict[str, str]] = {
    "A": {"zh": "A类（主干道严管）", "en": "Class A (main roads, strict)"},
    "B": {"zh": "B类（次干道严控）", "en": "Class B (secondary roads, controlled)"},
    "C": {"zh": "C类（背街小巷规范管理）", "en": "Class C (back streets and alleys, regulated)"},
}
CODES = tuple(CLASSES)


def class_name(code: str | None, lang: str = "zh") -> str:
    """A class's name in `lang` (zh or en); an unknown code is shown as it is, none as ""."""
    if not code:
        return ""
    names = CLASSES.get(code)
    return names["en" if lang == "en" else "zh"] if names else code
