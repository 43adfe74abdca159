"""The rectification rules, pure (DOMAIN.md "Rectification"): property tests over any items,
dates and fixes, and the rules' own examples."""

from datetime import date, timedelta
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from gisgrid.domain import rectification as rules
from gisgrid.domain.rulebook import load_rulebooks, rulebook_for
from gisgrid.domain.scoring import month_of_roads, RoadScore

BOOK = rulebook_for("2026-11", load_rulebooks())
FIGURES = {"6.3.1": 2, "5.5": 3, "5.4": 5}


def month_of(day: date) -> str:
    return f"{day:%Y-%m}"


days = st.dates(min_value=date(2025, 1, 1), max_value=date(2027, 12, 31))


@st.composite
def items(draw):
    deadline = draw(days)
    fixed = draw(st.one_of(st.none(), st.integers(-40, 80).map(lambda n: deadline + timedelta(n))))
    return rules.Item(notice=str(draw(st.integers(1, 5))), item=draw(st.integers(1, 9)),
                      rule=draw(st.sampled_from(rules.NOTICE_RULES)), deadline=deadline, fixed_on=fixed)


some_items = st.lists(items(), max_size=12)


@settings(max_examples=300)
@given(some_items, days, days)
def test_deductions_are_never_negative_and_rate_within_bounds(found, today, in_month):
    month = month_of(in_month)
    deductions, rate = rules.grid_month(found, month, BOOK, today)
    assert all(d.points > 0 for d in deductions)
    assert rules.total(deductions) >= 0
    assert 0 <= rate.on_time <= rate.due
    due_in_month = [i for i in found if month_of(i.deadline) == month]
    assert rate.due + rate.open == len(due_in_month)
    if rate.due == 0:
        assert rate.rate is None and not any(d.rule == "6.3.2" for d in deductions)
    else:
        assert 0 <= rate.rate <= 1 and rate.rate == Fraction(rate.on_time, rate.due)
        assert any(d.rule == "6.3.2" for d in deductions) == (rate.rate < Fraction(9, 10))
    assert sum(1 for d in deductions if d.rule == "6.3.2") <= 1


@settings(max_examples=300)
@given(some_items, days, days)
def test_a_fix_on_or_before_the_deadline_never_deducts(found, today, in_month):
    on_time = [rules.Item(i.notice, i.item, i.rule, i.deadline, i.deadline - timedelta(n % 5))
               for n, i in enumerate(found)]
    deductions, rate = rules.grid_month(on_time, month_of(in_month), BOOK, today)
    assert deductions == [] and rate.on_time == rate.due and rate.open == 0


@settings(max_examples=300)
@given(items(), st.integers(0, 90))
def test_each_item_deducts_its_rule_figure_once_in_its_deadline_month_when_late(item, days_after):
    today = item.deadline + timedelta(days_after)
    deductions, _ = rules.grid_month([item], month_of(item.deadline), BOOK, today)
    per_item = [d for d in deductions if d.item is not None]
    late = (item.fixed_on is not None and item.fixed_on > item.deadline) or \
           (item.fixed_on is None and today > item.deadline)
    assert [d.points for d in per_item] == ([FIGURES[item.rule]] if late else [])
    assert all((d.notice, d.item, d.rule) == (item.notice, item.item, item.rule) for d in per_item)


@given(st.integers(2025, 2030), st.integers(1, 12))
def test_the_5_4_doubling_day_is_the_same_day_a_month_on_or_the_last_day_of_a_shorter_month(year, month):
    first = date(year, month, 1)
    last = (date(year + month // 12, month % 12 + 1, 1) - timedelta(1))
    for deadline in (first, last):
        day = rules.doubling_day(deadline)
        nxt = date(year + month // 12, month % 12 + 1, 1)
        assert (day.year, day.month) == (nxt.year, nxt.month)
        assert day.day == min(deadline.day, (date(nxt.year + nxt.month // 12, nxt.month % 12 + 1, 1) - timedelta(1)).day)


def test_5_4_at_month_ends_31_january_doubles_on_28_or_29_february():
    assert rules.doubling_day(date(2027, 1, 31)) == date(2027, 2, 28)
    assert rules.doubling_day(date(2028, 1, 31)) == date(2028, 2, 29)
    assert rules.doubling_day(date(2026, 9, 30)) == date(2026, 10, 30)
    never = rules.Item("1", 1, "5.4", date(2027, 1, 31), None)
    # January: 5 once the deadline has passed; February: 10 once 28 Feb has passed, not before
    assert [d.points for d in rules.grid_month([never], "2027-01", BOOK, date(2027, 2, 1))[0] if d.item] == [5]
    assert [d.points for d in rules.grid_month([never], "2027-02", BOOK, date(2027, 2, 28))[0] if d.item] == []
    assert [d.points for d in rules.grid_month([never], "2027-02", BOOK, date(2027, 3, 1))[0] if d.item] == [10]
    fixed_on_the_day = rules.Item("1", 1, "5.4", date(2027, 1, 31), date(2027, 2, 28))
    assert [d.points for d in rules.grid_month([fixed_on_the_day], "2027-02", BOOK, date(2027, 3, 5))[0] if d.item] == []
    fixed_after = rules.Item("1", 1, "5.4", date(2027, 1, 31), date(2027, 3, 1))
    assert [d.points for d in rules.grid_month([fixed_after], "2027-02", BOOK, date(2027, 3, 5))[0] if d.item] == [10]
    # nothing after that: March holds neither the deadline nor the doubling day
    assert rules.grid_month([never], "2027-03", BOOK, date(2027, 6, 1))[0] == []


def test_an_item_not_fixed_before_its_deadline_has_passed_is_open_not_late():
    item = rules.Item("1", 1, "6.3.1", date(2026, 11, 30), None)
    deductions, rate = rules.grid_month([item], "2026-11", BOOK, date(2026, 11, 30))
    assert deductions == [] and (rate.due, rate.open, rate.rate) == (0, 1, None)
    deductions, rate = rules.grid_month([item], "2026-11", BOOK, date(2026, 12, 1))
    assert [(d.rule, d.points) for d in deductions] == [("6.3.1", 2), ("6.3.2", 10)] and rate.rate == 0


def test_the_worked_case_of_domain_md():
    """G01: one 6.3.1 notice, deadline 5 Nov, items fixed 4 Nov, 8 Nov and never: 6.3.1 deducts
    2 × 2, the rate is 1/3 so 6.3.2 deducts 10; 84.25 − 14 = 70.25."""
    found = [rules.Item("7", 1, "6.3.1", date(2026, 11, 5), date(2026, 11, 4)),
             rules.Item("7", 2, "6.3.1", date(2026, 11, 5), date(2026, 11, 8)),
             rules.Item("7", 3, "6.3.1", date(2026, 11, 5), None)]
    deductions, rate = rules.grid_month(found, "2026-11", BOOK, date(2026, 12, 1))
    assert [(d.rule, d.points, d.notice, d.item) for d in deductions] == [
        ("6.3.1", 2, "7", 2), ("6.3.1", 2, "7", 3), ("6.3.2", 10, None, None)]
    assert (rate.due, rate.on_time, rate.rate) == (3, 1, Fraction(1, 3))
    roads = {"G01": [RoadScore("R1", Fraction(85), Fraction(15)), RoadScore("R2", Fraction(167, 2), Fraction(33, 2))],
             "G02": [RoadScore("R3", Fraction(175, 2), Fraction(25, 2))], "G03": [RoadScore("R4", Fraction(0), Fraction(100))]}
    months = {m.code: m for m in month_of_roads(roads, grid_deductions={"G01": rules.total(deductions),
                                                                        "G03": Fraction(12)})}
    assert months["G01"].score == Fraction(7025, 100) and months["G01"].road_mean == Fraction(337, 4)
    assert months["G03"].score == 0                         # max(0, 0 − 12)
    assert [months[g].rank for g in ("G02", "G01", "G03")] == [1, 2, 3]


@settings(max_examples=200)
@given(st.lists(st.fractions(0, 100), min_size=1, max_size=4), st.fractions(0, 150))
def test_grid_month_is_the_mean_less_the_grid_deductions_never_below_zero(road_scores, deducted):
    roads = {"G": [RoadScore(f"R{n}", s, 100 - s) for n, s in enumerate(road_scores)]}
    (month,) = month_of_roads(roads, grid_deductions={"G": deducted})
    mean = sum(road_scores, Fraction(0)) / len(road_scores)
    assert month.road_mean == mean and month.score == max(Fraction(0), mean - deducted)
    assert [r.score for r in month.roads] == road_scores                  # roads unchanged


def test_a_grid_not_assessed_shows_its_deductions_without_applying_them():
    (month,) = month_of_roads({}, grid_deductions={"G9": Fraction(14)})
    assert (month.score, month.rank, month.grid_deductions) == (None, None, 14)


def test_the_case_loop_per_town_counts_dispatch_within_24_hours_and_handling_within_7_days():
    from datetime import datetime, timezone

    at = datetime(2026, 11, 2, 9, tzinfo=timezone.utc)

    def notice(town, received_after_h, items):
        return {"town": town, "issued_on": date(2026, 11, 2), "issued_at": at,
                "received_at": at + timedelta(hours=received_after_h) if received_after_h is not None else None,
                "items": [{"reported_on": r, "fixed_on": f, "satisfaction": s} for r, f, s in items]}

    loops = rules.case_loop([
        notice("城关镇", 24, [(date(2026, 11, 9), None, 4), (None, date(2026, 11, 10), None)]),   # 9 Nov: day 7
        notice("城关镇", 25, [(date(2026, 11, 12), date(2026, 11, 8), 2)]),                      # fixed first
        notice("沙北街道", None, [(None, None, None)]),
    ])
    assert loops == [
        rules.CaseLoop(town="城关镇", notices=2, dispatched=1, items=3, handled=2, rated=2, satisfaction=Fraction(3)),
        rules.CaseLoop(town="沙北街道", notices=1, dispatched=0, items=1, handled=0, rated=0, satisfaction=None)]
