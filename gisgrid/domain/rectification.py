"""Rectification (整改), pure: what a grid's notice items deduct in a month and its
rectification rate (seed 002: 5.4, 5.5, 6.3.1, 6.3.2; DOMAIN.md "Rectification").

An item is due in the month that holds its deadline, and fixed on time when its confirmed fix
date is on or before the deadline. Nothing is decided before it can be known: an item not yet
fixed whose deadline has not passed (as of `today`) is open, neither due-and-late nor on time;
5.4's doubling is decided once its day has passed."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from fractions import Fraction

from .errors import GisgridError
from .months import one_month_after
from .rulebook import Rulebook

NOTICE_RULES = ("6.3.1", "5.4", "5.5")   # 整改通知书, 户外广告限期整改, 交办的广告(店招)整治任务
DEFAULT_RULE = "6.3.1"
RATE_RULE = "6.3.2"
RATE_FLOOR = Fraction(9, 10)             # 月整改率低于90%


@dataclass(frozen=True)
class Item:
    """One numbered item of a notice, as the rules read it."""

    notice: str              # the notice's id
    item: int                # 1, 2, … within the notice
    rule: str                # the notice's rule
    deadline: date
    fixed_on: date | None    # the confirmed fix date (re-inspection), None while not fixed


@dataclass(frozen=True)
class GridDeduction:
    rule: str
    points: Fraction
    notice: str | None       # None for 6.3.2, which is the month's, not an item's
    item: int | None


@dataclass(frozen=True)
class Rate:
    due: int                 # items due in the month and decided (fixed, or past their deadline)
    on_time: int
    open: int                # due in the month, not fixed, deadline not passed yet
    rate: Fraction | None    # on_time / due; None when nothing is due

    @property
    def below_floor(self) -> bool:
        return self.rate is not None and self.rate < RATE_FLOOR


def check_rule(rule: str) -> str:
    rule = str(rule).strip()
    if rule not in NOTICE_RULES:
        raise GisgridError("A notice's rule is one of {rules}, not {rule!r}", rules=", ".join(NOTICE_RULES), rule=rule)
    return rule


def fixed_on_time(item: Item) -> bool:
    return item.fixed_on is not None and item.fixed_on <= item.deadline


def late(item: Item, today: date) -> bool:
    """Past its deadline without a fix on time (known only once the deadline has passed)."""
    if item.fixed_on is not None:
        return item.fixed_on > item.deadline
    return today > item.deadline


def doubling_day(deadline: date) -> date:
    """5.4's day: the same day one month after the deadline (31 Jan -> 28/29 Feb)."""
    return one_month_after(deadline)


def doubled(item: Item, today: date) -> bool:
    """A 5.4 item still not fixed on its doubling day, once that day has passed."""
    day = doubling_day(item.deadline)
    if item.fixed_on is not None:
        return item.fixed_on > day
    return today > day


def _month(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def rate(items: Iterable[Item], month: str, today: date) -> Rate:
    """The month's rectification rate over every item due in it, whatever its rule."""
    due = on_time = pending = 0
    for item in items:
        if _month(item.deadline) != month:
            continue
        if fixed_on_time(item):
            due += 1
            on_time += 1
        elif late(item, today):
            due += 1
        else:
            pending += 1
    return Rate(due=due, on_time=on_time, open=pending, rate=Fraction(on_time, due) if due else None)


def grid_month(items: Iterable[Item], month: str, rulebook: Rulebook, today: date) -> tuple[list[GridDeduction], Rate]:
    """One grid's deductions in `month` from its notice items, with their provenance, and its
    rectification rate. Points are the rulebook's (6.3.1 2, 5.5 3, 5.4 5 then 10, 6.3.2 10); a
    rule the rulebook in force lacks deducts nothing."""
    items = list(items)
    deductions: list[GridDeduction] = []
    for item in sorted(items, key=lambda i: (i.deadline, i.notice, i.item)):
        rule = rulebook.rules.get(item.rule)
        if rule is None:
            continue
        if _month(item.deadline) == month and late(item, today):
            deductions.append(GridDeduction(item.rule, rule.points, item.notice, item.item))
        if item.rule == "5.4" and _month(doubling_day(item.deadline)) == month and doubled(item, today):
            deductions.append(GridDeduction(item.rule, 2 * rule.points, item.notice, item.item))
    month_rate = rate(items, month, today)
    rate_rule = rulebook.rules.get(RATE_RULE)
    if rate_rule is not None and month_rate.below_floor:
        deductions.append(GridDeduction(RATE_RULE, rate_rule.points, None, None))
    return deductions, month_rate


def total(deductions: Iterable[GridDeduction]) -> Fraction:
    return sum((d.points for d in deductions), Fraction(0))


def counts_in(item: Item) -> tuple[str, ...]:
    """The months whose figures an item's fix date can change: its deadline's, and for 5.4 the
    month of its doubling day."""
    months = (_month(item.deadline),)
    return months + ((_month(doubling_day(item.deadline)),) if item.rule == "5.4" else ())


# the case loop (seed 003): issued -> dispatched within 24 h -> handled within 7 days -> satisfaction

DISPATCH_HOURS = 24
HANDLE_DAYS = 7


@dataclass(frozen=True)
class CaseLoop:
    """One town's case loop over the notices issued in a month."""

    town: str
    notices: int
    dispatched: int          # received by the town office within 24 h of issue
    items: int
    handled: int             # items reported or confirmed fixed within 7 days of issue
    rated: int
    satisfaction: Fraction | None   # mean of the residents' 1-5 ratings given


def case_loop(notices: Iterable[dict]) -> list[CaseLoop]:
    """Per town: notices issued, dispatched within 24 h, items handled within 7 days, mean
    satisfaction. `notices` are {town, issued_on, issued_at, received_at, items: [{reported_on,
    fixed_on, satisfaction}]}."""
    from datetime import timedelta

    towns: dict[str, dict] = {}
    for notice in notices:
        town = towns.setdefault(notice["town"] or "-", {"notices": 0, "dispatched": 0, "items": 0, "handled": 0,
                                                       "ratings": []})
        town["notices"] += 1
        received = notice["received_at"]
        if received is not None and received - notice["issued_at"] <= timedelta(hours=DISPATCH_HOURS):
            town["dispatched"] += 1
        last = notice["issued_on"] + timedelta(days=HANDLE_DAYS)
        for item in notice["items"]:
            town["items"] += 1
            done = [d for d in (item["reported_on"], item["fixed_on"]) if d is not None]
            if done and min(done) <= last:
                town["handled"] += 1
            if item["satisfaction"] is not None:
                town["ratings"].append(item["satisfaction"])
    return [CaseLoop(town=name, notices=t["notices"], dispatched=t["dispatched"], items=t["items"],
                     handled=t["handled"], rated=len(t["ratings"]),
                     satisfaction=Fraction(sum(t["ratings"]), len(t["ratings"])) if t["ratings"] else None)
            for name, t in sorted(towns.items())]
