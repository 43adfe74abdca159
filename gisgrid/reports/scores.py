"""The month's and the year's scores as people and scripts read them: computed from the drawn
sample, the findings and the rulebook in force (the pure scorer does the arithmetic), and the
GIS exports of layers, findings and scores."""

from __future__ import annotations

import gc
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, replace
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import geopandas as gpd

from .. import clock
from ..gis import write
from ..domain import rectification, scoring
from ..domain.errors import GisgridError, NotFound
from ..domain.months import months_of_year, parse_month, parse_year
from ..domain.rulebook import Rulebook, rulebook_for
from ..storage import Draw, Store, as_of, notices
from ..storage.cache import RevisionCache


@contextmanager
def collector_paused():
    """A city's month makes some 300,000 objects, none of them garbage until it is done: the
    cyclic collector's passes over them (a fifth of the time) wait until then."""
    if not gc.isenabled():          # an outer caller paused it, and resumes it
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _require_sample(store: Store, month: str) -> Draw:
    draw = store.sample(month)
    if draw is None:
        raise NotFound("No sample has been drawn for {month}; run `gisgrid sample {month}` first", month=month)
    return draw


@dataclass(frozen=True)
class Scored:
    """A drafted month scored now: its roads' scores by code (None when scored finding by
    finding) beside what the grid months were made of, and the month's count of finding writes
    they were read at (None: not known). Rescoring the roads written since then and making the
    grid months again gives what scoring every road would (see `_rescored`)."""

    draw: Draw
    rulebook: Rulebook
    details: dict
    rectified: dict
    roads: dict[str, scoring.RoadScore] | None
    codes: dict[int, str] | None            # the sampled roads' codes by id, when they were read
    results: list[scoring.GridMonth]
    changes: int | None = None

    def deductions(self) -> dict[str, Fraction]:
        """The points each grid's month loses to rectification."""
        return {grid: rectification.total(found[0]) for grid, found in self.rectified.items()}

    def grid_months(self, roads: dict[str, scoring.RoadScore], kept: bool = False) -> list[scoring.GridMonth]:
        """The grid months of `roads`' scores less this one's grid deductions (`kept`: the means
        of this one's results standing for its grids with the same road scores)."""
        return scoring.month_of_roads({grid: [roads[r] for r in codes] for grid, codes in self.draw.sample.items()},
                                      self.details, self.deductions(),
                                      {r.code: r for r in self.results} if kept else None)


def _scored(store: Store, month: str, counted: bool = True, changes: int | None = None) -> Scored:
    """The drafted month scored now, its grids' names, towns and classes as they were when the
    sample was drawn (an edit since never rewrites the month: its ranking, its bulletin, its
    exports). `counted=False` is the finding-by-finding way (see `_road_scores`)."""
    month = parse_month(month)
    store.require_schema()
    draw = _require_sample(store, month)
    rulebook = rulebook_for(month, store.rulebooks())
    details = as_of.grid_details_as_of(store, draw.drawn_at)
    rectified = grid_rectification(store, month, rulebook)
    counts = _road_scores(store, draw, month, rulebook) if counted else None
    scored = Scored(draw, rulebook, details, rectified, *(counts or (None, None)), [], changes)
    if counts is not None:
        return replace(scored, results=scored.grid_months(scored.roads))
    findings = store.findings_for_scoring(draw.id, month, store.timezone())
    return replace(scored, results=scoring.score_month(draw.sample, findings, rulebook, grids=details,
                                                       grid_deductions=scored.deductions()))


def _road_scores(store: Store, draw: Draw, month: str, rulebook, roads: list[int] | None = None
                 ) -> tuple[dict[str, scoring.RoadScore], dict[int, str]] | None:
    """The sampled roads (`roads`: those of them, by id) scored, with their codes by id: each
    road's tally kept by the database is priced per rule in the rulebook's whole units (items ×
    the rule's figure for its side of the area threshold) and the core makes the scores of those
    sums; findings with a deadline (5.4) come one by one, for their dates. None when that cannot
    be done exactly: a finding the tariff cannot price (scored one by one, which names it) or a
    threshold a float cannot hold."""
    threshold = rulebook.area_threshold
    if float(threshold) != threshold:
        return None
    # the whole sample's codes came with it; a part's are read now (a rename since is seen)
    codes = draw.road_codes if roads is None and draw.road_codes else store.sample_road_codes(draw.id, roads)
    units, clean = store.deduction_units_for_scoring(draw.id, month, scoring.tariff(rulebook), float(threshold),
                                                     scoring.area_rules(rulebook), roads=roads)
    if not clean:
        return None
    dated = store.findings_for_scoring(draw.id, month, store.timezone(), with_deadline_only=True, roads=roads)
    return scoring.roads_of_units(units, dated, rulebook, codes), codes


# more roads written than this since a draft was scored: scoring them all is as quick
RESCORED_AT_MOST = 5000


def _rescored(store: Store, kept: Scored, month: str, changes: int, rectified: dict) -> Scored | None:
    """`kept` with the roads whose findings were written since it was read rescored, as of the
    month's count `changes` (read before this), and the grid months made again with `rectified`
    (grid_rectification's now); None when it cannot be (scored finding by finding, or too many
    roads written). Every road written after kept.changes is noted with a larger count
    (migration 0017) and read again here, after the note: so each road is read as new as every
    write counted up to `changes`, as scoring all of them would."""
    if kept.roads is None or kept.changes is None or changes < kept.changes:
        return None
    written = store.roads_written_since(month, kept.changes)
    if len(written) > RESCORED_AT_MOST:
        return None
    if not written and rectified == kept.rectified:
        return replace(kept, changes=changes)
    counts = _road_scores(store, kept.draw, month, kept.rulebook, roads=written) if written else ({}, {})
    if counts is None:
        return None
    fresh, codes = counts
    if any(kept.codes.get(road) != code for road, code in codes.items()):
        return None             # a sampled road renamed since: the draw's codes are not the roads' now
    scored = replace(kept, roads={**kept.roads, **fresh}, rectified=rectified, changes=changes)
    return replace(scored, results=scored.grid_months(scored.roads, kept=True))


def grid_rectification(store: Store, month: str, rulebook) -> dict[str, tuple[list, rectification.Rate]]:
    """Each grid's deductions in `month` from its notice items (with which notice, item and
    rule) and its rectification rate, as of today: a grid with no item due has no entry."""
    by_grid: dict[str, list[rectification.Item]] = {}
    for row in notices.counted_items(store, *notices.month_range(month)):
        by_grid.setdefault(row["grid"], []).append(rectification.Item(
            notice=str(row["notice"]), item=row["item"], rule=row["rule"], deadline=row["deadline"],
            fixed_on=row["fixed_on"]))
    today = clock.today(store.timezone())
    found = {grid: rectification.grid_month(items, month, rulebook, today) for grid, items in by_grid.items()}
    return {grid: result for grid, result in found.items() if result[0] or result[1].due or result[1].open}


@collector_paused()
def score_month(store: Store, month: str, counted: bool = True) -> list[scoring.GridMonth]:
    """The month's grid scores now (`counted=False`: finding by finding, kept for the
    benchmark's comparison)."""
    return _scored(store, month, counted).results


def exact_score(row: dict) -> Fraction | None:
    """A grid's, road's or town's exact score from a month's document: its "exact" fraction,
    else (a month published before exact scores were kept) the number it carries."""
    if row.get("exact"):
        return _fraction_of(row["exact"])
    return _fraction_of(str(row["score"])) if row.get("score") is not None else None


@lru_cache(maxsize=65536)
def _fraction_of(text: str) -> Fraction:
    """Fractions are immutable and a city's month has few distinct scores: parse each once."""
    return Fraction(text)


def _town_rows(towns: list[scoring.TownMonth], exact: bool) -> list[dict]:
    return [{"town": t.town, "score": scoring.exact(t.score), "rank": t.rank, "grids": t.grids,
             **({"exact": str(t.score) if t.score is not None else None} if exact else {})} for t in towns]


def with_rankings(document: dict) -> dict:
    """The month's document with the class ranks and the town ranking, computed from its grid
    rows (their exact scores, and the town and class each had that month) when it was frozen
    before they were kept."""
    if "towns" in document and all("class_rank" in g for g in document["grids"]):
        return document
    grid_scores = {g["code"]: exact_score(g) for g in document["grids"]}
    classes = scoring.class_ranks(grid_scores, {g["code"]: g.get("class") for g in document["grids"]})
    towns = scoring.score_towns(grid_scores, {g["code"]: g.get("town") for g in document["grids"]})
    grids = [{**g, "class_rank": classes[g["code"]]} for g in document["grids"]]
    return {**document, "grids": grids, "towns": _town_rows(towns, exact=True)}


@collector_paused()
def month_json(store: Store, month: str, exact: bool = False) -> dict:
    """The month's scores as `gisgrid score --json` prints them: each number the exact value
    (the float of its fraction, 90.625 not 90.63); `exact` adds each score as a fraction's text
    too (kept with a published month, for means over months)."""
    return _document(_scored(store, month), exact)


def _document(scored: Scored, exact: bool, kept: tuple[Scored, dict] | None = None) -> dict:
    """month_json's document of `scored`; with `kept` (a document of the same month and flag,
    and what it was made of) the rows of the grids none of whose roads was rescored are kept
    ones, given their new ranks."""
    details, rectified, results = scored.details, scored.rectified, scored.results
    grid_scores = {r.code: r.score for r in results}
    classes = scoring.class_ranks(grid_scores, {c: d["grid_class"] for c, d in details.items()})
    towns = scoring.score_towns(grid_scores, {c: d["town"] for c, d in details.items()})
    same: dict[str, dict] = {}
    if kept is not None and scored.roads is not None and kept[0].roads is not None:
        before, now = kept[0].roads, scored.roads
        rescored = {code for code, road in now.items() if before.get(code) is not road}
        deducted = kept[0].rectified
        same = {g["code"]: g for g in kept[1]["grids"]
                if not rescored.intersection(scored.draw.sample.get(g["code"], ()))
                and deducted.get(g["code"]) == rectified.get(g["code"])}
    grids = []
    for result in results:
        row = same.get(result.code)
        if row is not None:
            ranks = {"rank": result.rank, "class_rank": classes.get(result.code)}
            grids.append(row if row["rank"] == ranks["rank"] and row["class_rank"] == ranks["class_rank"]
                         else {**row, **ranks})
            continue
        grid = details.get(result.code, {})
        row = {"code": result.code, "name": grid.get("name"), "town": grid.get("town"),
               "class": grid.get("grid_class"), "score": scoring.exact(result.score), "rank": result.rank,
               "class_rank": classes.get(result.code), "road_mean": scoring.exact(result.road_mean),
               **rectification_row(*rectified.get(result.code, ([], None)))}
        if exact:
            row["exact"] = str(result.score) if result.score is not None else None
        row["roads"] = [{"code": r.code, "score": scoring.exact(r.score), "deductions": scoring.exact(r.deductions),
                         "by_rule": {k: scoring.exact(v) for k, v in r.by_rule.items()},
                         **({"exact": str(r.score), "exact_deductions": str(r.deductions)} if exact else {})}
                        for r in result.roads]
        grids.append(row)
    return {"month": scored.draw.month, "rulebook": scored.rulebook.id, "grids": grids,
            "towns": _town_rows(towns, exact)}


def rectification_row(deductions: list, rate: rectification.Rate | None) -> dict:
    """A grid's grid deductions (which notice, item and rule, how many points) and its
    rectification rate, as the month's document carries them."""
    return {"grid_deductions": [{"rule": d.rule, "points": scoring.exact(d.points), "notice": d.notice, "item": d.item}
                                for d in deductions],
            "rectification": {"due": rate.due if rate else 0, "on_time": rate.on_time if rate else 0,
                              "open": rate.open if rate else 0,
                              "rate": scoring.exact(rate.rate) if rate and rate.rate is not None else None}}


def draw_record(draw: Draw | None) -> dict | None:
    if draw is None:
        return None
    return {"id": draw.id, "seed": draw.seed, "method": draw.method, "drawn_by": draw.drawn_by,
            "drawn_at": draw.drawn_at.isoformat(timespec="seconds") if draw.drawn_at else None,
            "reason": draw.reason}


# A draft month's scores, kept until a finding of the month, its draw, a grid or the rulebook
# changes (read from the database on every use, so a change made through another app server
# counts at once): the reviewer's month page stops rescoring a city on every view.
_DRAFTS = RevisionCache("draft month scores", maxsize=4)


def live_document(store: Store, month: str) -> dict:
    """month_json's document with exact fractions and the draw record, scored now (or as kept
    since nothing it comes from changed)."""
    return live_document_at(store, month)[1]


@collector_paused()
def live_document_at(store: Store, month: str, whole: bool = False) -> tuple[tuple, dict]:
    """(revision, live_document) with the revision it was scored at: what publishing freezes,
    once it has checked, holding the month, that the revision still stands. After findings were
    written, the kept scores rescore only the roads written; `whole` scores every road (and
    keeps nothing): what publishing freezes."""
    month = parse_month(month)
    revision = document_revision(store, month)
    changes = revision[1]

    def build() -> tuple[Scored, dict]:
        scored = _scored(store, month, changes=changes)
        return scored, {**_document(scored, exact=True), "draw": draw_record(scored.draw)}

    if whole:
        return revision, build()[1]

    def refresh(kept_revision: tuple, kept: tuple[Scored, dict]) -> tuple[Scored, dict] | None:
        if kept_revision[0] != revision[0] or kept_revision[2] != revision[2]:
            return None                 # another draw, grids, rulebook or time zone: scored whole
        # notices and the day move only the grid deductions
        rectified = (kept[0].rectified if kept_revision[3] == revision[3]
                     else grid_rectification(store, month, kept[0].rulebook))
        scored = _rescored(store, kept[0], month, changes, rectified)
        if scored is None:
            return None
        if scored.results is kept[0].results:
            return scored, kept[1]
        return scored, {**_document(scored, exact=True, kept=kept), "draw": kept[1]["draw"]}

    _scored_now, document = _DRAFTS.get(store, month, revision, build, refresh=refresh)
    # callers add keys to their copy, never to the kept one; its grid and road rows are shared
    # with the next documents (kept where no write touched them): never changed in place
    return revision, dict(document)


def document_revision(store: Store, month: str) -> tuple:
    """What a drafted month's scores come from, in a few primary-key look-ups: its draw, how
    many times its findings were written (the database's count), the grids, the notices and
    the rulebook in force."""
    from ..storage import grid_t, publishing

    store.require_schema()
    draw_id = store.draw_id(month)
    if draw_id is None:
        _require_sample(store, month)            # the user's error: the month is not drawn
    rulebook = rulebook_for(month, store.rulebooks())
    # (draw, findings, what every road's score depends on, what the grid deductions depend on):
    # live_document_at's refresh reads the parts by place. Rectification counts as of today: a
    # deadline passing changes the month without a write; the time zone dates 5.4's findings.
    tz = store.timezone()
    return (draw_id, publishing.findings_changes(store, month),
            (store.revision(grid_t), rulebook.id, tuple(sorted(rulebook.units.items())), rulebook.area_threshold,
             str(tz)),
            (notices.revision(store), clock.today(tz)))


def month_document(store: Store, month: str) -> dict:
    """The month's scores with exact fractions: frozen at publication for a published month
    (its names, towns and scores as published), scored now for a draft."""
    from ..storage import publishing

    month = parse_month(month)
    state = publishing.month_state(store, month)
    if state["state"] == publishing.PUBLISHED and state["scores"]:
        return with_rankings(state["scores"])
    return live_document(store, month)


def public(document: dict) -> dict:
    """A month's document without the fractions' texts: what machines are given."""
    def strip(row: dict) -> dict:
        return {k: ([strip(r) for r in v] if k == "roads" else v) for k, v in row.items()
                if not k.startswith("exact")}
    return {**{k: v for k, v in document.items() if k not in ("grids", "towns", "draw")},
            "grids": [strip(g) for g in document["grids"]], "towns": [strip(t) for t in document["towns"]]}


def score_year(store: Store, year) -> list[scoring.GridYear]:
    return _year(store, year)[1]


def _year(store: Store, year, months: list[str] | None = None):
    """(documents by month, grid years, town years) over the year's drawn months (or `months`)."""
    year = parse_year(year)
    store.require_schema()
    if months is None:
        drawn = set(store.months_drawn(year))
        months = [m for m in months_of_year(year) if m in drawn]
    documents = {m: month_document(store, m) for m in months}
    grids = scoring.score_year({m: {g["code"]: exact_score(g) for g in d["grids"]} for m, d in documents.items()})
    towns = scoring.score_towns_year({m: {t["town"]: exact_score(t) for t in d["towns"]}
                                      for m, d in documents.items()})
    return documents, grids, towns


def latest_details(documents: dict[str, dict]) -> dict[str, dict]:
    """Each grid's name, town and class in the last month of `documents` that has it."""
    details: dict[str, dict] = {}
    for month in sorted(documents):
        for g in documents[month]["grids"]:
            details[g["code"]] = {"name": g.get("name"), "town": g.get("town"), "class": g.get("class")}
    return details


def counted_months(store: Store, year, published_only: bool) -> list[str]:
    """The months a year is made of: its published ones (what people are judged by), or every
    drawn one (a provisional year)."""
    from ..storage import publishing

    year = parse_year(year)
    return publishing.published_months(store, year) if published_only else store.months_drawn(year)


def year_json(store: Store, year, published_only: bool = True) -> dict:
    """`gisgrid annual --json`: grids and towns ranked by the mean of their assessed months,
    grids also within their class (the class of their last month); exact values. Published
    months only, as the year page and bulletin count them, unless asked otherwise."""
    documents, grids, towns = _year(store, year, counted_months(store, year, published_only))
    details = latest_details(documents)
    classes = scoring.class_ranks({g.code: g.score for g in grids},
                                  {g.code: details.get(g.code, {}).get("class") for g in grids})
    return {"year": parse_year(year), "published_only": published_only, "months": sorted(documents), "grids": [
        {"code": g.code, **details.get(g.code, {}), "score": scoring.exact(g.score),
         "months": {m: scoring.exact(s) for m, s in g.months.items()}, "rank": g.rank,
         "class_rank": classes[g.code]} for g in grids],
        "towns": [{"town": t.code, "score": scoring.exact(t.score),
                   "months": {m: scoring.exact(s) for m, s in t.months.items()}, "rank": t.rank} for t in towns]}


EXPORTS = ("grids", "roads", "findings", "scores")


def export(store: Store, what: str, path, log=lambda _message: None) -> int:
    """Write grids, roads, findings or every drawn month's grid scores to a GIS file."""
    store.require_schema()
    if what == "grids":
        frame = store.grids_frame()
    elif what == "roads":
        frame = store.roads_frame()
    elif what == "findings":
        frame = store.findings_frame()
        tz = store.timezone()
        frame["observed_at"] = [t.astimezone(tz).isoformat() for t in frame["observed_at"]]
        frame["deadline"] = [d.isoformat() if d is not None else None for d in frame["deadline"]]
    elif what == "scores":
        frame = scores_frame(store)
    else:
        raise GisgridError("Can export {choices}, not {what!r}", choices=", ".join(EXPORTS), what=what)
    for note in write.write_layer(frame, Path(path)):
        log(f"note: {note}")
    log(f"{len(frame)} {what} written to {path}")
    return len(frame)


def scores_frame(store: Store):
    """Every drawn month's grid scores on the grids' shapes: names and towns as that month had
    them, scores exact (a GIS user rounds for a label, not for a sum), with the points lost to
    rectification and the rectification rate (empty when nothing was due)."""
    shapes = dict(zip(*[store.grids_frame()[c] for c in ("code", "geometry")]))
    rows = []
    for month in store.months_drawn():
        for grid in month_document(store, month)["grids"]:
            if grid["code"] not in shapes:       # retired since: no current shape to put it on
                continue
            rate = (grid.get("rectification") or {}).get("rate")
            rows.append({"grid": grid["code"], "name": grid["name"], "town": grid["town"], "month": month,
                         "score": scoring.exact(exact_score(grid)), "rank": grid["rank"],
                         "roads": ",".join(r["code"] for r in grid["roads"]),
                         "deducted": float(sum(d["points"] for d in grid.get("grid_deductions") or ())),
                         "rect_rate": rate, "geometry": shapes[grid["code"]]})
    frame = gpd.GeoDataFrame(rows, columns=["grid", "name", "town", "month", "score", "rank", "roads", "deducted",
                                            "rect_rate", "geometry"], geometry="geometry", crs=4326)
    # an unranked grid's rank is None: without a nullable integer type pandas makes the column 1.0, 2.0 …
    frame["rank"] = frame["rank"].astype("Int64")
    return frame


def default_month(store: Store) -> str:
    return clock.month(store.timezone())


def road_score(store: Store, month: str, road_code: str) -> scoring.RoadScore:
    """The road's running score this month from its stored findings (sampled or not)."""
    from ..storage import inspections

    tz = store.timezone()
    alike = Counter()
    for f, times in inspections.road_scored_findings(store, month, road_code):
        observed_on = f["observed_at"].astimezone(tz).date() if f["observed_at"] is not None else None
        alike[scoring.Finding(rule=f["rule"], count=f["count"], area_m2=f["area_m2"], observed_on=observed_on,
                              deadline=f["deadline"])] += times
    return scoring.score_road(road_code, alike, rulebook_for(month, store.rulebooks()))
