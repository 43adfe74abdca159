"""The assessment as people read it, free of Flask: the month (ranking with change against the
previous month, deductions by section), a grid, the year, the audit of publishing, the
bulletin's data, and the tables the XLSX/CSV exports are made of."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from fractions import Fraction
from functools import lru_cache
from types import MappingProxyType

import shapely

from ..domain import scoring
from ..domain.errors import GisgridError, NotFound
from ..domain.months import parse_month, parse_year, previous_month
from ..render import sheets
from ..render.sheets import CODE, DATE, DATETIME, INTEGER, NUMBER, SCORE, Column, Table
from ..domain.rulebook import Rulebook, rulebook_for
from ..storage.cache import RevisionCache
from ..storage import Store, publishing
from . import scores


def _rulebook(store: Store, month: str) -> Rulebook:
    return rulebook_for(month, store.rulebooks())


def _sections(rulebook: Rulebook) -> dict[str, dict]:
    return {code: {"zh": zh, "en": en} for code, (zh, en) in rulebook.sections.items()}


def _by_section(by_rule: dict[str, float], rulebook: Rulebook) -> dict[str, float]:
    """The points of each rule section, in the sections' order, rounded once (a city's month
    asks for 60,000 roads' and grids')."""
    sections = rulebook.section_of
    totals: dict[str, float] = {}
    for code, points in by_rule.items():
        section = sections.get(code) or code.split(".")[0]
        totals[section] = totals.get(section, 0) + points
    return {section: round(totals[section], 2) for section in (sorted(totals, key=_section_key)
                                                                  if len(totals) > 1 else totals)}


@lru_cache(maxsize=4096)
def _section_key(code: str):
    return tuple(int(p) if p.isdigit() else p for p in code.split("."))


def live_scores_at(store: Store, month: str) -> tuple[tuple, dict]:
    """(revision, the month scored now with exact scores, the draw record and, as "previous",
    what it is compared with): what publishing freezes while publication_revision is still the
    revision. Every road scored, never the kept scores rescored in part: what cadres are judged
    by is made the one plain way."""
    before_month = previous_month(month)
    before_source = _source(store, before_month)         # read before what it stands for
    revision, document = scores.live_document_at(store, month, whole=True)
    previous = _comparison(store, before_month, _scores_or_none(store, before_month))
    return (revision, before_source), {**document, "previous": previous}


def publication_revision(store: Store, month: str) -> tuple:
    """What a month's publication is made of: its scores' revision and the month before's."""
    return scores.document_revision(store, month), _source(store, previous_month(month))


def _comparison(store: Store, month: str, before: dict | None) -> dict | None:
    """What a month is compared with, frozen with it when it is published: the month before's
    grid and town ranks and scores, and its state, as they stand then (a draft edited since,
    or re-opened and published again, does not move a published month's changes)."""
    if before is None:
        return None
    keep = ("code", "town", "rank", "score", "exact")
    return {"month": month, "state": publishing.month_state(store, month)["state"],
            "grids": [{k: g[k] for k in keep if k in g} for g in before["grids"]],
            "towns": [{k: t[k] for k in keep if k in t} for t in before["towns"]]}


def month_scores(store: Store, month: str) -> dict:
    """The month's scores: frozen at publication for a published month, computed now for a draft."""
    return scores.month_document(store, month)


def _scores_or_none(store: Store, month: str) -> dict | None:
    try:
        return month_scores(store, month)
    except NotFound:
        return None


# The month page's data, kept until what it comes from changes (the month's and the month
# before's scores, their states): a second view of a city's draft month rebuilt 20,000 rows.
_REPORTS = RevisionCache("month reports", maxsize=4)


def _source(store: Store, month: str) -> tuple | None:
    """What a month's report is made of, in a few look-ups: the month's state, and the draft's
    revision (a published month's frozen scores change only with its state)."""
    if store.draw_id(month) is None:
        return None
    state = publishing.stamp(store, month)
    return state if state[0] == publishing.PUBLISHED else (state, scores.document_revision(store, month))


def month_report(store: Store, month: str) -> dict:
    """The month page's data: state, ranking with change against the previous month, deductions
    by section. A copy: callers may set keys of their own (the page adds the audit); its grid
    rows are shared with later reports of the month and never changed in place."""
    month = parse_month(month)
    revision = (_source(store, month), _source(store, previous_month(month)))

    def refresh(kept_revision: tuple, kept: _Made) -> _Made:
        # the month before as kept while its source stands: its rows are the kept ones
        return _month_report(store, month, kept, same_before=kept_revision[1] == revision[1])

    return dict(_REPORTS.get(store, month, revision, lambda: _month_report(store, month), refresh=refresh).report)


def keep_drafts(store: Store, log=lambda _message: None) -> list[str]:
    """Report the latest drawn months that are drafts (of the last two drawn: the month page reads
    the month and the one before) once, so that their first views find them kept. `gisgrid serve`
    does it before its workers fork, and each starts with them. A month that cannot be scored is
    left to its first view, which says why. Returns the months kept."""
    kept = []
    for month in store.months_drawn()[-2:]:
        if publishing.stamp(store, month)[0] == publishing.PUBLISHED:
            continue
        log(f"scoring the draft month {month} for its first views")
        try:
            month_report(store, month)
        except GisgridError as error:
            log(f"{month} is left to its first view: {error}")
            continue
        kept.append(month)
    return kept


_exact = scores.exact_score
shown = scoring.as_points      # what people read: half up to 0.01


_NO_PRIOR = MappingProxyType({})        # a grid the month before did not have: one, so that it is the same


@dataclass(frozen=True)
class _Made:
    """A month's report with the documents it was made of, and each grid's row beside the
    document rows it came from: a report made again keeps the rows whose sources are the very
    same (a draft's kept scores keep the rows of the grids no write touched)."""

    report: dict
    document: dict
    before: dict | None
    sources: dict[str, tuple[dict, dict, dict]]     # code -> (document row, prior row, report row)


_EXACT = frozenset({"exact", "exact_deductions"})      # a document's exact texts: machines', not the page's


def _grid_row(grid: dict, prior: Mapping, rulebook: Rulebook, kept: tuple[dict, dict, dict] | None) -> dict:
    """A grid's row of the month report, from its document row and the month before's (`kept`:
    a row made before, whose road rows stand when the grid's roads are the same)."""
    now_exact, prior_exact = _exact(grid), (_exact(prior) if prior else None)
    rank_change = (prior["rank"] - grid["rank"]) if prior.get("rank") and grid["rank"] else None
    if kept is not None and kept[0]["roads"] is grid["roads"]:
        roads, by_section = kept[2]["roads"], kept[2]["by_section"]
    else:
        by_rule: dict[str, float] = {}
        roads = []
        for road in grid["roads"]:
            for code, points in road["by_rule"].items():
                by_rule[code] = by_rule.get(code, 0) + points
            row = {k: v for k, v in road.items() if k not in _EXACT}
            row["score"], row["by_section"] = shown(_exact(road)), _by_section(road["by_rule"], rulebook)
            roads.append(row)
        by_section = _by_section(by_rule, rulebook)
    return {**{k: v for k, v in grid.items() if k != "exact"}, "score": shown(now_exact), "roads": roads,
            "by_section": by_section, "grid_deducted": grid_deducted(grid),
            "previous_score": shown(prior_exact), "previous_rank": prior.get("rank"),
            "rank_change": rank_change, "score_change": shown(_difference(now_exact, prior_exact))}


@scores.collector_paused()
def _month_report(store: Store, month: str, kept: _Made | None = None, same_before: bool = False) -> _Made:
    """month_report with what it was made of (`kept`: a report of the month made before, whose
    rows stand where their sources are the same; `same_before`: its month before still is)."""
    month = parse_month(month)
    document = month_scores(store, month)
    rulebook = _rulebook(store, month)
    before_month = previous_month(month)
    if "previous" in document:          # frozen with the published month
        before = document["previous"]
    elif kept is not None and same_before and "previous" not in kept.document:
        before = kept.before
    else:
        before = _scores_or_none(store, before_month)
    before_by_code = {g["code"]: g for g in before["grids"]} if before else {}
    kept_rows = kept.sources if kept is not None and kept.document["rulebook"] == document["rulebook"] else {}
    grids, sources = [], {}
    for grid in document["grids"]:
        prior = before_by_code.get(grid["code"], _NO_PRIOR)
        made = kept_rows.get(grid["code"])
        if made is not None and made[0] is grid and made[1] is prior:
            row = made[2]
        else:
            row = _grid_row(grid, prior, rulebook, made)
        grids.append(row)
        sources[grid["code"]] = (grid, prior, row)
    assessed = [_exact(g) for g in document["grids"] if g["score"] is not None]
    mean = shown(scoring.mean(assessed)) if assessed else None
    state = publishing.month_state(store, month)
    towns_before = {t["town"]: t for t in before["towns"]} if before else {}
    towns = []
    for town in document["towns"]:
        prior = towns_before.get(town["town"], {})
        towns.append({"town": town["town"], "score": shown(_exact(town)), "rank": town["rank"],
                      "grids": town["grids"], "previous_rank": prior.get("rank"),
                      "rank_change": (prior["rank"] - town["rank"]) if prior.get("rank") and town["rank"] else None,
                      "score_change": shown(_difference(_exact(town), _exact(prior) if prior else None))})
    return _Made({
        "month": month, "rulebook": document["rulebook"], "previous_month": before_month if before else None,
        # the month before as frozen with this one (and the state it had then), or None: as it is now
        "previous_as_published": ({"state": before.get("state")} if "previous" in document and before else None),
        "state": {"state": state["state"], "published_at": _iso(state["published_at"]),
                  "published_by": state["published_by"]},
        "draw": document.get("draw"), "sections": _sections(rulebook),
        "summary": {"grids": len(grids), "assessed": len(assessed), "unassessed": len(grids) - len(assessed),
                    "mean": mean},
        "grids": grids, "towns": towns, "tiles": _tiles(grids, len(assessed), mean),
        "not_spots": not_spot_deductions(document, rulebook),
    }, document, before, sources)


def district_rectification(grids: list[dict]) -> dict | None:
    """The month's notice items due and fixed on time over every grid, and the grids whose
    month lost points to rectification (most first); None when no item was due."""
    due = sum((g.get("rectification") or {}).get("due", 0) for g in grids)
    on_time = sum((g.get("rectification") or {}).get("on_time", 0) for g in grids)
    deducted = sorted(({"code": g["code"], "name": g.get("name"), "town": g.get("town"), "points": g["grid_deducted"],
                        "rate": (g.get("rectification") or {}).get("rate")}
                       for g in grids if g.get("grid_deducted")), key=lambda g: (-g["points"], g["code"]))
    if not due and not deducted:
        return None
    rate = Fraction(on_time, due) if due else None
    return {"due": due, "on_time": on_time, "rate": float(rate) if rate is not None else None,
            "rate_label": f"{scoring.as_points(rate * 100):.2f}%" if rate is not None else "—", "grids": deducted}


def not_spot_deductions(document: dict, rulebook: Rulebook) -> list[dict]:
    """Deductions on the month's roads by rules that are not spots in the street (6.3.2, 8.1):
    only findings stored before a file or the demo was refused them can make one, and 6.3.2 is
    then deducted from the road besides the grid's rate. Shown so that the office can delete them
    (with a reason) before publishing; never dropped silently from a score."""
    not_spots = {code for code, rule in rulebook.rules.items() if not rule.pinned}
    return [{"grid": g["code"], "road": r["code"], "rule": code, "points": points}
            for g in document["grids"] for r in g["roads"] if not not_spots.isdisjoint(r["by_rule"])
            for code, points in r["by_rule"].items() if code in not_spots]


def _tiles(grids: list[dict], assessed: int, mean: float | None) -> dict:
    """The dashboard's figures: grids assessed, the mean, the lowest grid, points lost by rule
    section over the sampled roads, and the rectification rate once the month has one."""
    scored = [g for g in grids if g["score"] is not None]
    lowest = min(scored, key=lambda g: (g["score"], g["code"])) if scored else None
    lost: dict[str, float] = {}
    for grid in grids:
        for section, points in grid["by_section"].items():
            lost[section] = lost.get(section, 0) + points
    lost = {section: round(points, 2) for section, points in lost.items()}
    rectification = district_rectification(grids)
    return {"assessed": assessed, "grids": len(grids), "mean": mean,
            "lowest": {k: lowest[k] for k in ("code", "name", "town", "score")} if lowest else None,
            "lost_by_section": dict(sorted(lost.items(), key=lambda kv: (-kv[1], _section_key(kv[0])))),
            "lost_total": round(sum(lost.values()), 2),
            # the district's rate over the items due in the month; "—" when none was due
            "rectification_rate": rectification["rate"] if rectification else None}


SORTS = {"rank": lambda g: (g["rank"] is None, g["rank"] or 0, g["code"]),
         "-rank": lambda g: (g["rank"] is None, -(g["rank"] or 0), g["code"]),
         "score": lambda g: (g["score"] is None, g["score"] or 0, g["code"]),
         "-score": lambda g: (g["score"] is None, -(g["score"] or 0), g["code"]),
         "name": lambda g: (g["name"] or g["code"], g["code"]),
         "town": lambda g: (g["town"] or "", g["rank"] or 10**9, g["code"]),
         "class_rank": lambda g: (g["class"] or "~", g["class_rank"] is None, g["class_rank"] or 0, g["code"]),
         "change": lambda g: (g["rank_change"] is None, -(g["rank_change"] or 0), g["code"])}


def ranking(report: dict, town: str | None = None, grid_class: str | None = None, sort: str = "rank") -> list[dict]:
    """The month's grid ranking filtered by town and class and sorted by one of SORTS (an
    unknown sort is the rank): the dashboard's table, for a district or a 20,000-grid city."""
    rows = [g for g in report["grids"] if (not town or g["town"] == town) and (not grid_class or g["class"] == grid_class)]
    return sorted(rows, key=SORTS.get(sort, SORTS["rank"]))


def _iso(value) -> str | None:
    return value.isoformat(timespec="seconds") if value is not None else None


def _finding_deduction(rulebook: Rulebook, row: dict, tz) -> Fraction | None:
    try:
        rule = rulebook.rule(row["rule"])
        finding = scoring.Finding(rule=row["rule"], count=row["count"], area_m2=row["area_m2"],
                                  observed_on=row["observed_at"].astimezone(tz).date(), deadline=row["deadline"])
        return scoring.deduction(rule, finding, rulebook)
    except Exception:  # a finding stored under an older rulebook: shown, not priced
        return None


def grid_findings(store: Store, month: str, road_codes: list[str], sampled: set[str],
                  exact: bool = False) -> list[dict]:
    """The findings on these roads this month; `exact` adds each one's deduction unrounded."""
    from ..storage import inspections

    tz, rulebook = store.timezone(), _rulebook(store, month)
    rows = []
    for road in road_codes:
        for row in inspections.road_findings(store, month, road):
            rule = rulebook.rules.get(row["rule"])
            deduction = _finding_deduction(rulebook, row, tz)
            rows.append({
                "id": row["id"], "external_id": row["external_id"], "road": road, "sampled": road in sampled,
                "rule": row["rule"], "rule_zh": rule.zh if rule else None, "rule_en": rule.en if rule else None,
                "count": row["count"], "area_m2": row["area_m2"],
                "observed_at": row["observed_at"].astimezone(tz).isoformat(timespec="minutes"),
                "deadline": row["deadline"].isoformat() if row["deadline"] else None, "note": row["note"],
                "points": scoring.as_points(deduction), **({"exact_points": deduction} if exact else {}),
                "lon": round(row["geom"].x, 6), "lat": round(row["geom"].y, 6), "created_by": row["created_by"],
                "photos": [{"id": p, "url": f"/api/photos/{p}", "thumb": f"/api/photos/{p}/thumb"}
                           for p in row["photos"]],
            })
    return rows


def grid_deducted(grid: dict) -> float:
    """The points a grid's month lost to rectification (a month frozen before they were kept: 0)."""
    return float(sum(Fraction(str(d["points"])) for d in grid.get("grid_deductions") or ()))


def grid_deductions(grid: dict, rulebook: Rulebook) -> list[dict]:
    """A grid's rectification deductions with each rule's label, for people."""
    return [{**d, "zh": rulebook.rules[d["rule"]].zh if d["rule"] in rulebook.rules else d["rule"],
             "en": rulebook.rules[d["rule"]].en if d["rule"] in rulebook.rules else d["rule"]}
            for d in grid.get("grid_deductions") or ()]


def grid_report(store: Store, month: str, code: str) -> dict:
    """A grid's month: its roads (sampled or not) with scores, every finding, deductions by rule, the draw."""
    month = parse_month(month)
    details = store.grid_details()
    if code not in details:
        raise NotFound("Unknown grid code {code!r}", code=code)
    document = month_scores(store, month)
    grid = next((g for g in document["grids"] if g["code"] == code), None) or {"score": None, "rank": None, "roads": []}
    rulebook = _rulebook(store, month)
    roads = store.roads_frame()
    roads = roads[roads["grid"] == code]
    sampled = {r["code"]: r for r in grid["roads"]}
    by_rule: dict[str, float] = {}
    for road in grid["roads"]:
        for rule, points in road["by_rule"].items():
            by_rule[rule] = round(by_rule.get(rule, 0) + points, 2)
    grids = store.grids_frame()
    shape = grids.loc[grids["code"] == code, "geometry"].iloc[0]
    return {
        # the name, town and class the month knew the grid by
        "month": month, "code": code, "name": grid.get("name", details[code]["name"]),
        "town": grid.get("town", details[code]["town"]), "class": grid.get("class", details[code]["grid_class"]),
        "score": shown(_exact(grid)), "rank": grid["rank"], "class_rank": grid.get("class_rank"),
        "state": publishing.month_state(store, month)["state"], "draw": document.get("draw"),
        "roads": [{"code": r.code, "name": r.name, "grade": r.grade, "sampled": r.code in sampled,
                   "score": shown(_exact(sampled[r.code])) if r.code in sampled else None,
                   "deductions": sampled.get(r.code, {}).get("deductions"),
                   "geometry": shapely.geometry.mapping(r.geometry)} for r in roads.itertuples()],
        "by_rule": [{"rule": k, "zh": rulebook.rules[k].zh if k in rulebook.rules else k,
                     "en": rulebook.rules[k].en if k in rulebook.rules else k, "points": v}
                    for k, v in sorted(by_rule.items(), key=lambda kv: (-kv[1], _section_key(kv[0])))],
        "findings": grid_findings(store, month, list(roads["code"]), set(sampled)),
        "geometry": shapely.geometry.mapping(shape),
        "road_mean": grid.get("road_mean"), "grid_deductions": grid_deductions(grid, rulebook),
        "grid_deducted": grid_deducted(grid), "rectification": grid.get("rectification"),
    }


def year_report(store: Store, year, published_only: bool = True) -> dict:
    """Year scores (mean of assessed months) and ranks (overall, within the class, towns), the
    year-end commendations and criticisms, trends per grid and for the district, and the points
    lost by rule section. Published months only unless asked otherwise."""
    year = parse_year(year)
    months = scores.counted_months(store, year, published_only)
    documents, years, town_years = scores._year(store, year, months)
    details = scores.latest_details(documents)
    lost_total: dict[str, float] = defaultdict(float)
    lost_by_grid: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    district = {}
    sections: dict[str, dict] = {}
    for m, doc in documents.items():
        rulebook = _rulebook(store, m)
        sections.update(_sections(rulebook))
        assessed = [_exact(g) for g in doc["grids"] if g["score"] is not None]
        district[m] = shown(scoring.mean(assessed)) if assessed else None
        for grid in doc["grids"]:
            for road in grid["roads"]:
                for section, points in _by_section(road["by_rule"], rulebook).items():
                    lost_total[section] += points
                    lost_by_grid[grid["code"]][section] += points
    classes = scoring.class_ranks({g.code: g.score for g in years},
                                  {g.code: details.get(g.code, {}).get("class") for g in years})
    rows = []
    for g in years:
        rows.append({"code": g.code, **details.get(g.code, {}), "score": shown(g.score), "rank": g.rank,
                     "class_rank": classes[g.code], "months": {m: shown(s) for m, s in g.months.items()},
                     "lost_by_section": {k: round(v, 2) for k, v in sorted(lost_by_grid[g.code].items(),
                                                                           key=lambda kv: _section_key(kv[0]))}})
    ends = scoring.year_end(years)
    by_code = {r["code"]: r for r in rows}
    return {"year": year, "published_only": published_only, "months": months, "district": district,
            "sections": dict(sorted(sections.items(), key=lambda kv: _section_key(kv[0]))),
            "lost_by_section": {k: round(v, 2) for k, v in sorted(lost_total.items(),
                                                                  key=lambda kv: _section_key(kv[0]))},
            "grids": rows,
            "towns": [{"town": t.code, "score": shown(t.score), "rank": t.rank,
                       "months": {m: shown(s) for m, s in t.months.items()}} for t in town_years],
            "commended": [by_code[y.code] for y in ends.commended],
            "criticised": [by_code[y.code] for y in ends.criticised]}


def audit_report(store: Store, month: str) -> list[dict]:
    """The month's audit log, with the scores before and after summarised per grid."""
    def summary(doc):
        return {g["code"]: {"score": shown(_exact(g)), "rank": g["rank"]} for g in doc["grids"]} if doc else None
    return [{"action": e["action"], "actor": e["actor"], "at": _iso(e["at"]), "reason": e["reason"],
             "before": summary(e["before"]), "after": summary(e["after"])}
            for e in publishing.audit_log(store, parse_month(month))]


def worst_findings(store: Store, report: dict, grids: int = 5, limit: int = 8) -> list[dict]:
    """The heaviest deductions on the sampled roads of the lowest-ranked grids, with their photos."""
    ranked = [g for g in report["grids"] if g["score"] is not None]
    worst = sorted(ranked, key=lambda g: (g["score"], g["code"]))[:grids]
    rows = []
    for grid in worst:
        roads = [r["code"] for r in grid["roads"]]
        for row in grid_findings(store, report["month"], roads, set(roads)):
            rows.append({**row, "grid": grid["code"], "grid_name": grid["name"], "town": grid["town"]})
    rows.sort(key=lambda r: (-(r["points"] or 0), not r["photos"], r["id"]))
    return rows[:limit]


def bulletin(store: Store, month: str) -> dict:
    report = month_report(store, month)
    return {**report, "worst": worst_findings(store, report)}


GRID_COLUMNS = [Column("月份"), Column("排名", INTEGER), Column("网格编码", CODE), Column("网格名称"),
                Column("镇办"), Column("网格等级", CODE), Column("得分", SCORE), Column("上月排名", INTEGER),
                Column("排名变化", INTEGER), Column("上月得分", SCORE), Column("得分变化", SCORE),
                Column("抽查道路", CODE), Column("等级内排名", INTEGER), Column("道路平均分", SCORE),
                Column("整改扣分", SCORE), Column("整改率", NUMBER), Column("整改扣分明细")]


TOWN_COLUMNS = [Column("月份"), Column("镇办排名", INTEGER), Column("镇办"), Column("镇办得分", SCORE),
                Column("考核网格数", INTEGER), Column("上月镇办排名", INTEGER), Column("镇办得分变化", SCORE)]


ROAD_COLUMNS = [Column("月份"), Column("网格编码", CODE), Column("网格名称"), Column("镇办"),
                Column("道路编码", CODE), Column("道路名称"), Column("道路得分", SCORE), Column("扣分合计", SCORE),
                Column("分项扣分")]


FINDING_COLUMNS = [Column("月份"), Column("问题编号", CODE), Column("网格编码", CODE), Column("道路编码", CODE),
                   Column("是否抽查道路"), Column("条款", CODE), Column("问题类型"), Column("数量", INTEGER),
                   Column("面积(平方米)", NUMBER), Column("发现时间", DATETIME), Column("整改期限", DATE),
                   Column("扣分", SCORE), Column("备注"), Column("经度", NUMBER), Column("纬度", NUMBER),
                   Column("照片数", INTEGER)]


GRID_HEADERS = [c.header for c in GRID_COLUMNS]


ROAD_HEADERS = [c.header for c in ROAD_COLUMNS]


FINDING_HEADERS = [c.header for c in FINDING_COLUMNS]


LEVELS = ("grids", "roads", "findings", "towns")


SHEETS = {"grids": "网格得分", "roads": "道路得分", "findings": "问题明细", "towns": "镇办排名"}


# a header means the same column at every level (月份, 网格编码 ...), so a header names its kind
_COLUMNS = {c.header: c for c in GRID_COLUMNS + ROAD_COLUMNS + FINDING_COLUMNS + TOWN_COLUMNS}


def _difference(a: Fraction | None, b: Fraction | None) -> Fraction | None:
    return a - b if a is not None and b is not None else None


def deductions_text(grid: dict) -> str:
    """A grid's rectification deductions in one cell: 6.3.1 通知书3第2项 2；6.3.2 10."""
    return "；".join(f"{d['rule']} " + (f"通知书{d['notice']}第{d['item']}项 " if d["notice"] else "") + f"{d['points']:g}"
                    for d in grid.get("grid_deductions") or ())


def export_table(store: Store, month: str, level: str) -> Table:
    """One level of the month's scores as a typed table with Chinese headers; scores exact."""
    made = _month_report(store, month)
    report, month = made.report, made.report["month"]
    exact = {g["code"]: {"score": _exact(g), "roads": {r["code"]: r for r in g["roads"]}} for g in made.document["grids"]}
    exact_before = {g["code"]: _exact(g) for g in made.before["grids"]} if made.before else {}
    if level == "grids":
        rows = [[month, g["rank"], g["code"], g["name"], g["town"], g["class"], exact[g["code"]]["score"],
                 g["previous_rank"], g["rank_change"], exact_before.get(g["code"]),
                 _difference(exact[g["code"]]["score"], exact_before.get(g["code"])),
                 "、".join(r["code"] for r in g["roads"]), g.get("class_rank"), g.get("road_mean"),
                 g["grid_deducted"], (g.get("rectification") or {}).get("rate"), deductions_text(g)]
                for g in report["grids"]]
        return Table(SHEETS[level], GRID_COLUMNS, rows)
    if level == "towns":
        document, before = made.document, made.before
        prior = {t["town"]: t for t in before["towns"]} if before else {}
        rows = [[month, t["rank"], t["town"], _exact(t), t["grids"], prior.get(t["town"], {}).get("rank"),
                 _difference(_exact(t), _exact(prior[t["town"]]) if t["town"] in prior else None)]
                for t in document["towns"]]
        return Table(SHEETS[level], TOWN_COLUMNS, rows)
    if level == "roads":
        names = dict(zip(*[store.roads_frame()[c] for c in ("code", "name")]))
        rows = []
        for g in report["grids"]:
            for r in g["roads"]:
                whole = exact[g["code"]]["roads"][r["code"]]
                rows.append([month, g["code"], g["name"], g["town"], r["code"], names.get(r["code"]),
                             Fraction(whole["exact"]) if "exact" in whole else r["score"],
                             Fraction(whole["exact_deductions"]) if "exact_deductions" in whole else r["deductions"],
                             "；".join(f"{k}: {v:g}" for k, v in r["by_rule"].items())])
        return Table(SHEETS[level], ROAD_COLUMNS, rows)
    if level == "findings":
        sample = {r["code"] for g in report["grids"] for r in g["roads"]}
        rows = []
        for grid, roads in store.grid_roads().items():
            for row in grid_findings(store, month, roads, sample, exact=True):
                rows.append([month, row["external_id"], grid, row["road"], "是" if row["sampled"] else "否",
                             row["rule"], row["rule_zh"], row["count"], row["area_m2"],
                             datetime.fromisoformat(row["observed_at"]),
                             date.fromisoformat(row["deadline"]) if row["deadline"] else None,
                             row["exact_points"] if row["sampled"] else None, row["note"], row["lon"],
                             row["lat"], len(row["photos"])])
        return Table(SHEETS[level], FINDING_COLUMNS, rows)
    raise NotFound("Unknown export level {level!r}", level=level)


def export_rows(store: Store, month: str, level: str) -> tuple[list[str], list[list]]:
    """Rows of one level of the month's scores, with Chinese headers."""
    table = export_table(store, month, level)
    return table.headers, table.rows


def csv_bytes(headers: list[str], rows: list[list]) -> bytes:
    """CSV that Excel opens as UTF-8 (byte order mark first), every cell inert, codes kept as text."""
    return sheets.csv_bytes(Table("", [_COLUMNS.get(h) or Column(h) for h in headers], rows))


def xlsx_bytes(store: Store, month: str) -> bytes:
    """One workbook, a sheet per level: typed cells, headers frozen with a filter, times in the district's zone."""
    return sheets.xlsx_bytes([export_table(store, month, level) for level in LEVELS], tz=store.timezone())
