"""Scoring, pure: a sampled road from 100 down by the rulebook, grid month = mean of its
sampled roads, year = mean of assessed months, ranks shared on ties (1, 1, 3).
Exact arithmetic (Fraction) so that half points and ties are never blurred by floats."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple
from datetime import date
from fractions import Fraction
from functools import lru_cache
import math
import operator

from .errors import FindingError
from .months import one_month_after
from .rulebook import Rule, Rulebook

FULL_MARKS = Fraction(100)


class Finding(NamedTuple):
    """What scoring needs of a finding: its rule, count, area and the dates for 5.4.
    (A named tuple: a city's month makes hundreds of thousands, hashed to count alike ones.)"""

    rule: str
    count: int = 1
    area_m2: float | None = None
    observed_on: date | None = None
    deadline: date | None = None


@dataclass(frozen=True, slots=True)     # a city's month makes 40,000: no dict of each
class RoadScore:
    code: str
    score: Fraction
    deductions: Fraction
    by_rule: dict[str, Fraction] = field(default_factory=dict)

    def by_section(self) -> dict[str, Fraction]:
        sections: dict[str, Fraction] = {}
        for code, points in self.by_rule.items():
            section = code.split(".")[0]
            sections[section] = sections.get(section, Fraction(0)) + points
        return sections


@dataclass(frozen=True, slots=True)
class GridMonth:
    code: str
    score: Fraction | None          # None: no sampled road, not assessed
    rank: int | None
    roads: list[RoadScore]
    road_mean: Fraction | None = None       # the mean of its sampled roads, before grid deductions
    grid_deductions: Fraction = Fraction(0)  # rectification's (shown, not applied, when not assessed)


def check_finding(rule: Rule, finding: Finding) -> None:
    """Refuse a finding the rule cannot score, with the reason."""
    if type(finding.count) is not int or finding.count < 1:
        raise FindingError("Count must be a whole number of at least 1 (got {count!r})", count=finding.count)
    if rule.needs_area:
        if finding.area_m2 is None or not finding.area_m2 > 0:
            raise FindingError("Rule {code} ({label}) needs the area in m² (area_m2 > 0)", code=rule.code, label=rule.zh)
    if rule.needs_deadline:
        if finding.deadline is None:
            raise FindingError("Rule {code} ({label}) needs the notice's deadline", code=rule.code, label=rule.zh)
        if finding.observed_on is not None and finding.observed_on <= finding.deadline:
            raise FindingError("Rule {code}: observed on {observed}, not after the deadline {deadline}",
                               code=rule.code, observed=finding.observed_on, deadline=finding.deadline)


def _units(rule: Rule, finding: Finding, rulebook: Rulebook) -> int:
    """What one finding deducts, in the rulebook's whole units."""
    check_finding(rule, finding)
    low, high = rulebook.units[rule.code]
    # float against Fraction compares exactly: 4.0 is "≤ 4 m²", 4.0000001 is not
    points = high if rule.kind == "area" and finding.area_m2 > rulebook.area_threshold else low
    # "more than one month past the deadline": observed after the same day of the next month.
    if rule.kind == "overdue" and finding.observed_on is not None and \
            finding.observed_on > one_month_after(finding.deadline):
        points *= 2
    return points * finding.count


def deduction(rule: Rule, finding: Finding, rulebook: Rulebook) -> Fraction:
    """Points one finding deducts: the rule's figure times the count (each item has the area given)."""
    return Fraction(_units(rule, finding, rulebook), rulebook.unit)


@lru_cache(maxsize=65536)
def _fraction(units: int, unit: int) -> Fraction:
    """Units back to points; few distinct values recur across a whole city's roads."""
    return Fraction(units, unit)


def score_road(code: str, findings: Iterable[Finding] | Mapping[Finding, int], rulebook: Rulebook) -> RoadScore:
    """A road's score from its findings, or from a mapping of findings to how many of each
    there are (a database that grouped alike ones)."""
    units: dict[str, int] = {}
    # Identical findings deduct identically: count them once (a month has many alike).
    for finding, times in Counter(findings).items():
        rule = rulebook.rule(finding.rule)
        units[rule.code] = units.get(rule.code, 0) + _units(rule, finding, rulebook) * times
    return _road(code, units, rulebook)


def tariff(rulebook: Rulebook) -> dict[str, tuple[int, int]]:
    """What one counted item of each rule deducts, in the rulebook's whole units: (low, high),
    high for an area rule's item above the threshold. Rules that need a deadline (5.4) are not
    in it: their figure depends on the dates, so those findings are scored one by one."""
    return {code: rulebook.units[code] for code, rule in rulebook.rules.items() if not rule.needs_deadline}


def area_rules(rulebook: Rulebook) -> frozenset[str]:
    """The rules whose findings need an area: priced by its side of the threshold, and refused
    without one (also where both sides deduct the same)."""
    return frozenset(code for code, rule in rulebook.rules.items() if rule.needs_area)


def score_road_units(code: str, units: Mapping[str, int], rulebook: Rulebook,
                     findings: Iterable[Finding] = ()) -> RoadScore:
    """score_road from what the database summed per rule with the tariff (plus the findings
    with a deadline, scored one by one): the same figures, exactly."""
    total = dict(units)
    for finding, times in (Counter(findings).items() if findings else ()):
        rule = rulebook.rule(finding.rule)
        total[rule.code] = total.get(rule.code, 0) + _units(rule, finding, rulebook) * times
    return _road(code, total, rulebook)


def _road(code: str, units: Mapping[str, int], rulebook: Rulebook) -> RoadScore:
    """A road's score from its deductions in whole units per rule ("once" rules capped)."""
    caps, unit = rulebook.caps, rulebook.unit
    by_rule, total = {}, 0
    for rule_code, units_of_rule in (sorted(units.items()) if len(units) > 1 else units.items()):
        cap = caps.get(rule_code)
        if cap is not None and units_of_rule > cap:
            units_of_rule = cap
        by_rule[rule_code] = _fraction(units_of_rule, unit)
        total += units_of_rule
    return RoadScore(code, _fraction(max(0, 100 * unit - total), unit), _fraction(total, unit), by_rule)


def mean(values: Sequence[Fraction]) -> Fraction:
    """The exact mean, with one Fraction made instead of one per addition (a city has 20,000
    grids)."""
    if len(values) == 1:
        return values[0] if type(values[0]) is Fraction else Fraction(values[0])
    if len(values) == 2:        # a grid's two sampled roads: few distinct pairs in a city
        first, second = values
        return _mean_of_two(first.numerator, first.denominator, second.numerator, second.denominator)
    common = 1
    for v in values:
        common = common * v.denominator // math.gcd(common, v.denominator)
    return Fraction(sum(v.numerator * (common // v.denominator) for v in values), common * len(values))


@lru_cache(maxsize=65536)
def _mean_of_two(numerator: int, denominator: int, other_numerator: int, other_denominator: int) -> Fraction:
    return Fraction(numerator * other_denominator + other_numerator * denominator, 2 * denominator * other_denominator)


def _same(score) -> tuple | Fraction:
    """What equal scores share, hashed fast: a Fraction's (numerator, denominator) is its value
    in lowest terms (an int's too); hashing a Fraction itself is Python code."""
    return (score.numerator, score.denominator) if type(score) in (Fraction, int) else score


def rank(scores: Mapping[str, Fraction | None]) -> dict[str, int | None]:
    """Competition ranking, highest first; equal scores share a rank (1, 1, 3). None is not ranked."""
    how_many: Counter = Counter()
    value_of: dict = {}
    for score in scores.values():
        if score is not None:
            key = _same(score)
            how_many[key] += 1
            value_of.setdefault(key, score)
    first_place: dict = {}
    position = 1
    for key in sorted(how_many, key=value_of.__getitem__, reverse=True):  # distinct scores only: a city has few
        first_place[key] = position
        position += how_many[key]
    return {key: (first_place[_same(s)] if s is not None else None) for key, s in scores.items()}


def score_month(
    sample: Mapping[str, Sequence[str]],
    findings_by_road: Mapping[str, Iterable[Finding]],
    rulebook: Rulebook,
    grids: Iterable[str] = (),
    grid_deductions: Mapping[str, Fraction] | None = None,
) -> list[GridMonth]:
    """Score every grid of the month. `sample` maps grid code -> its sampled road codes;
    grids listed in `grids` but absent from the sample are reported as not assessed;
    `grid_deductions` (grid code -> points) come off the mean of a grid's roads."""
    return month_of_roads({grid: [score_road(r, findings_by_road.get(r, ()), rulebook) for r in roads]
                           for grid, roads in sample.items()}, grids, grid_deductions)


def roads_of_units(units_by_road: Mapping[object, Mapping[str, int]], findings_by_road: Mapping[str, Iterable[Finding]],
                   rulebook: Rulebook, codes: Mapping[object, str]) -> dict[str, RoadScore]:
    """The roads of `codes` (a key, such as the database's id -> the road's code) scored from
    the database's sums per road (by the same key) and rule, plus the findings with a deadline
    (by code): score_road's figures, exactly."""
    empty: dict[str, int] = {}
    scored = {}
    for key, code in codes.items():
        units = units_by_road.get(key, empty)
        dated = findings_by_road.get(code)
        if dated:           # rare (5.4): scored one by one, added to the sums
            scored[code] = score_road_units(code, units, rulebook, dated)
        else:
            scored[code] = _road(code, units, rulebook)
    return scored


def month_of_roads(roads_of: dict[str, list[RoadScore]], grids: Iterable[str] = (),
                   grid_deductions: Mapping[str, Fraction] | None = None,
                   kept: Mapping[str, GridMonth] | None = None) -> list[GridMonth]:
    """Grid month = max(0, mean of its sampled roads' scores - its grid deductions), ranked;
    grids in `grids` without a sampled road are listed as not assessed (their deductions shown,
    not applied). (The one place a grid's month score is made.) `kept`: grid months made
    before, whose mean stands for a grid with the very same road scores."""
    grid_deductions = grid_deductions or {}
    kept = kept or {}

    def road_mean(grid: str, roads: list[RoadScore]) -> Fraction | None:
        before = kept.get(grid)
        if before is not None and len(before.roads) == len(roads) and all(map(operator.is_, before.roads, roads)):
            return before.road_mean
        return mean([r.score for r in roads]) if roads else None

    means = {grid: road_mean(grid, roads) for grid, roads in roads_of.items()}
    for grid in list(grids) + list(grid_deductions):
        means.setdefault(grid, None)
        roads_of.setdefault(grid, [])
    zero = Fraction(0)
    scores = {g: (max(zero, m - grid_deductions[g]) if m is not None and grid_deductions.get(g) else m)
              for g, m in means.items()}
    ranks = rank(scores)
    return sorted(
        (GridMonth(code=g, score=scores[g], rank=ranks[g], roads=roads_of[g], road_mean=means[g],
                   grid_deductions=grid_deductions.get(g, zero)) for g in scores),
        key=lambda m: (m.rank is None, m.rank or 0, m.code),
    )


@dataclass(frozen=True)
class GridYear:
    code: str
    score: Fraction
    months: dict[str, Fraction]
    rank: int


def score_year(month_scores: Mapping[str, Mapping[str, Fraction | None]]) -> list[GridYear]:
    """Year score = mean of the grid's assessed months; `month_scores` is month -> grid -> score."""
    per_grid: dict[str, dict[str, Fraction]] = {}
    for month in sorted(month_scores):
        for grid, score in month_scores[month].items():
            if score is not None:
                per_grid.setdefault(grid, {})[month] = score
    years = {grid: mean(list(months.values())) for grid, months in per_grid.items()}
    ranks = rank(years)
    return sorted((GridYear(code=g, score=years[g], months=per_grid[g], rank=ranks[g]) for g in years),
                  key=lambda y: (y.rank, y.code))


# towns and classes ------------------------------------------------------------------
# Seed 002 assesses the town offices through their grids, and grids are classed A / B / C:
# every month and year is ranked three ways (grids overall, within their class, towns).


def class_ranks(scores: Mapping[str, Fraction | None], classes: Mapping[str, str | None]) -> dict[str, int | None]:
    """Each grid's rank among the grids of its class (1, 1, 3 on ties); a grid with no class,
    or not assessed, has none."""
    by_class: dict[str, dict[str, Fraction | None]] = {}
    for code, score in scores.items():
        if classes.get(code):
            by_class.setdefault(classes[code], {})[code] = score
    ranks: dict[str, int | None] = {code: None for code in scores}
    for members in by_class.values():
        ranks.update(rank(members))
    return ranks


@dataclass(frozen=True)
class TownMonth:
    town: str
    score: Fraction | None          # None: none of its grids assessed
    rank: int | None
    grids: int                      # how many of its grids were assessed (the mean's count)


def score_towns(scores: Mapping[str, Fraction | None], towns: Mapping[str, str | None]) -> list[TownMonth]:
    """Town month = mean of the month scores of its assessed grids, ranked with ties shared.
    `scores` is grid -> month score (None: not assessed), `towns` grid -> its town; a grid
    with no town counts for none."""
    members: dict[str, list[Fraction]] = {}
    for code, score in scores.items():
        town = towns.get(code)
        if town:
            bucket = members.setdefault(town, [])
            if score is not None:
                bucket.append(score)
    means = {town: (mean(values) if values else None) for town, values in members.items()}
    ranks = rank(means)
    return sorted((TownMonth(town=t, score=means[t], rank=ranks[t], grids=len(members[t])) for t in means),
                  key=lambda m: (m.rank is None, m.rank or 0, m.town))


def score_towns_year(month_scores: Mapping[str, Mapping[str, Fraction | None]]) -> list[GridYear]:
    """Town year = mean of the town's assessed months (month -> town -> town month score): the
    same arithmetic as a grid's year, so it is the same function."""
    return score_year(month_scores)


@dataclass(frozen=True)
class YearEnd:
    commended: list[GridYear]       # 通报表彰: the top `top` places (a tie at the last place is in)
    criticised: list[GridYear]      # 通报批评: the lowest `lowest` places, ties included


def year_end(years: Sequence[GridYear], top: int = 10, lowest: int = 1) -> YearEnd:
    """Seed 002 第二篇 五.(三): the year's top 10 grids are commended, the lowest criticised.
    Places are ranks, so grids sharing a rank share the outcome; a grid is never both."""
    commended = [y for y in years if y.rank <= top]
    if not years:
        return YearEnd([], [])
    positions = sorted({y.rank for y in years})
    bottom = set(positions[-lowest:]) if lowest > 0 else set()
    criticised = [y for y in years if y.rank in bottom and y not in commended]
    return YearEnd(commended, sorted(criticised, key=lambda y: (-y.rank, y.code)))


def exact(value: Fraction | None) -> float | None:
    """A score for machines (JSON, XLSX cells): the float nearest the exact fraction, never
    rounded to places (90.625 stays 90.625)."""
    # int / int is the correctly rounded float of the fraction, as float(value) is, without
    # the numbers ABC's dispatch: a city's month document carries 270,000 of them
    return None if value is None else value.numerator / value.denominator


def as_points(value: Fraction | None, places: int = 2) -> float | None:
    """A score for people: rounded half up to `places` decimals (integer arithmetic: a city's
    month rounds a hundred thousand figures)."""
    if value is None:
        return None
    if type(value) is not Fraction:
        value = Fraction(value)
    n, d, scale = value.numerator, value.denominator, 10**places
    # floor(x·scale + 1/2) for x ≥ 0, and its mirror for x < 0 (half away from zero)
    steps = (2 * n * scale + d) // (2 * d) if n >= 0 else -((2 * -n * scale + d) // (2 * d))
    return steps / scale        # int / int is correctly rounded to the nearest float
