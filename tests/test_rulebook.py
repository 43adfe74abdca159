"""The rulebook is data: the shipped seed-002 table, its checks, and choosing by month."""

from fractions import Fraction

import pytest

from gisgrid.domain.errors import FindingError, RulebookError
from gisgrid.domain.rulebook import SHIPPED_DIR, load_rulebooks, parse_rulebook, rulebook_for

DOMAIN_TABLE = {  # code: (kind, points, points_high) as DOMAIN.md states them
    "1": ("area", 2, 4), "2": ("area", 2, 4), "3": ("each", 2, None), "4.1": ("area", 2, 4),
    "4.2": ("each", 2, None), "5.1": ("each", 5, None), "5.2": ("each", 1, None), "5.3.1": ("each", 3, None),
    "5.3.2": ("each", 1, None), "5.4": ("overdue", 5, None), "5.5": ("each", 3, None),
    "6.1.1": ("each", 5, None), "6.1.2": ("each", 1, None), "6.2.1": ("each", 5, None),
    "6.2.2": ("each", 5, None), "6.3.1": ("each", 2, None), "6.3.2": ("once", 10, None),
    "7": ("each", Fraction(1, 2), None), "8.1": ("each", 1, None), "8.2.1": ("each", 2, None),
    "8.2.2": ("each", 2, None), "8.2.3": ("each", 2, None), "8.3.1": ("each", 3, None),
    "8.3.2": ("each", 3, None), "8.3.3": ("each", 3, None),
}

MINIMAL = """
[rulebook]
id = "test"
name_zh = "测试"
name_en = "Test"
effective_from = "{since}"
[sections]
"1" = {{ zh = "一", en = "One" }}
[rules."1"]
zh = "店外经营"
en = "Outside"
kind = "each"
points = {points}
"""


def test_shipped_table_matches_domain():
    book = rulebook_for("2026-11", load_rulebooks())
    assert {code: (r.kind, r.points, r.points_high) for code, r in book.rules.items()} == {
        code: (kind, Fraction(p), None if h is None else Fraction(h)) for code, (kind, p, h) in DOMAIN_TABLE.items()}
    assert book.area_threshold_m2 == 4
    assert set(book.by_section()) == {str(n) for n in range(1, 9)}
    assert all(rule.zh and rule.en for rule in book.rules.values())
    assert book.rules["1"].gbt == "09005"


def test_unknown_rule_is_a_user_error():
    book = rulebook_for("2026-11", load_rulebooks())
    with pytest.raises(FindingError, match="'9.9'"):
        book.rule("9.9")


@pytest.mark.parametrize("mutation, message", [
    (lambda t: t.replace('kind = "each"', 'kind = "eech"'), r"rule '1' has kind 'eech'"),
    (lambda t: t.replace("points = 2", "points = -2"), r"rule '1' points must be a number >= 0"),
    (lambda t: t.replace('kind = "each"', 'kind = "area"'), r"rule '1' is an area rule and needs 'points_high'"),
    (lambda t: t.replace('[rules."1"]', '[rules."9"]'), r"rule '9' belongs to section '9'"),
    (lambda t: t.replace('effective_from = "2026-01"', 'effective_from = "2026-13"'), r"effective_from must be YYYY-MM"),
    (lambda t: t.replace('zh = "店外经营"\n', ''), r"rule '1' needs a non-empty 'zh'"),
    (lambda t: t + "\n[rules.\n", r"not valid TOML"),
])
def test_malformed_rulebook_names_the_bad_entry(mutation, message):
    text = mutation(MINIMAL.format(since="2026-01", points=2))
    with pytest.raises(RulebookError, match=message):
        parse_rulebook(text, source="bad.toml")


def test_month_is_scored_with_the_rulebook_in_force(tmp_path):
    (tmp_path / "b.toml").write_text(MINIMAL.format(since="2027-03", points=7), encoding="utf-8")
    books = load_rulebooks(tmp_path)
    assert rulebook_for("2027-02", books).id == "yancheng-2012"
    assert rulebook_for("2027-03", books).rules["1"].points == 7
    assert rulebook_for("2028-01", books).id == "test"
    with pytest.raises(RulebookError, match="No rulebook is in force in 2011-12"):
        rulebook_for("2011-12", books)


def test_two_rulebooks_from_the_same_month_are_refused(tmp_path):
    (tmp_path / "a.toml").write_text(MINIMAL.format(since="2012-01", points=1), encoding="utf-8")
    with pytest.raises(RulebookError, match="both take effect from 2012-01"):
        load_rulebooks(tmp_path)


def test_shipped_rulebooks_are_package_data():
    assert sorted(p.name for p in SHIPPED_DIR.glob("*.toml")) == ["yancheng-2012.toml"]


def test_rules_that_are_no_spot_say_so_in_the_data():
    text = (SHIPPED_DIR / "yancheng-2012.toml").read_text(encoding="utf-8")
    book = parse_rulebook(text)
    assert {code for code, rule in book.rules.items() if not rule.pinned} == {"6.3.2", "8.1"}
    with pytest.raises(RulebookError, match="pinned"):
        parse_rulebook(text.replace("\npinned = false", '\npinned = "no"', 1))
