"""The demo district: an invented district (made by us, not copied from any map) around
Luohe's 郾城区 with towns, grids of classes A/B/C and named road polygons, plus a generator
of plausible monthly findings, so that `gisgrid demo` shows real numbers."""

from __future__ import annotations

import calendar
import json
import random
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import shapely
from pyproj import Transformer
from shapely.geometry import LineString, MultiPolygon, Polygon, mapping

from ..domain.months import previous_month
from ..reports import scores
from ..settings import Settings

METRIC = "EPSG:4547"        # CGCS2000 3° Gauss-Krüger, central meridian 114°E
CENTRE = (114.04, 33.595)   # lon, lat of the district's centre
TO_WGS84 = Transformer.from_crs(METRIC, "EPSG:4326", always_xy=True)
TO_METRIC = Transformer.from_crs("EPSG:4326", METRIC, always_xy=True)

TOWNS = {(0, 1): ("001", "沙北街道"), (1, 1): ("002", "城关镇"), (0, 0): ("003", "龙城镇"), (1, 0): ("004", "孟庙镇")}
WIDTH = {"主干道": 36.0, "次干道": 20.0, "背街小巷": 8.0}
ARTERIALS_NS = ["嵩山路", "黄河路", "淞江路"]
ARTERIALS_EW = ["太行山路", "人民路", "交通路"]
SECONDARY = ["文化路", "建设路", "泰山路", "长江路", "衡山路", "海河路", "金山路", "燕山路",
             "牡丹江路", "漓江路", "湘江路", "珠江路", "沙河路", "澧河路", "华山路", "天山路"]
ALLEYS = ["文化巷", "东风巷", "槐树巷", "前进巷", "育才巷", "幸福巷", "柳树巷", "仓库巷", "民主巷", "振兴巷",
          "和平巷", "团结巷", "新华巷", "胜利巷", "花园巷", "解放巷", "光明巷", "红旗巷", "复兴巷", "朝阳巷"]
LEADERS = ["王建国", "李秀英", "张伟", "刘洋", "陈静", "杨帆", "赵磊", "黄丽", "周强", "吴敏", "徐刚", "孙芳",
           "马超", "朱琳", "胡军", "郭艳", "何涛", "高霞", "林峰", "罗娟"]
HALF_X, HALF_Y = 3500.0, 3000.0          # the district: 7 km × 6 km before warping
ARTERIAL_X, ARTERIAL_Y = [-1750.0, 0.0, 1750.0], [-1500.0, 0.0, 1500.0]
PARK_GRID = (3, 3, 1)                    # block column, row, half: a wetland park, no road
ONE_ROAD_GRID = (0, 0, 0)                # a grid on the edge with one road


def demo_layer_paths(settings: Settings) -> tuple[Path, Path]:
    folder = settings.layers_dir / "demo"
    return folder / "grids.geojson", folder / "roads.geojson"


# the district ---------------------------------------------------------------------------

def _warp(geometry):
    """Bend the plan gently (streets are never ruler-straight) and place it at 114°E."""
    x0, y0 = TO_METRIC.transform(*CENTRE)
    angle = np.radians(7.0)

    def move(coords):
        x, y = coords[:, 0], coords[:, 1]
        x2 = x + 70 * np.sin(y / 950.0)
        y2 = y + 55 * np.sin(x / 1150.0)
        return np.column_stack([x0 + x2 * np.cos(angle) - y2 * np.sin(angle),
                                y0 + x2 * np.sin(angle) + y2 * np.cos(angle)])

    return shapely.transform(geometry, move)


def _lattice_box(x_a: float, y_a: float, x_b: float, y_b: float, step: float = 125.0) -> Polygon:
    """A rectangle with a vertex every `step` metres on lattice points: neighbours share the
    very same vertices along their common edges, so the bent tiling has no gaps or overlaps."""
    xs = [k * step for k in range(round(x_a / step), round(x_b / step) + 1)]
    ys = [k * step for k in range(round(y_a / step), round(y_b / step) + 1)]
    ring = ([(x, ys[0]) for x in xs] + [(xs[-1], y) for y in ys[1:]] + [(x, ys[-1]) for x in reversed(xs[:-1])]
            + [(xs[0], y) for y in reversed(ys[1:-1])])
    return Polygon(ring)


def _edges(values: list[float], half: float) -> list[float]:
    return [-half, *values, half]


def _blocks():
    """(column, row, half, plan rectangle): 16 blocks between arterials, each split in two."""
    xs, ys = _edges(ARTERIAL_X, HALF_X), _edges(ARTERIAL_Y, HALF_Y)
    for col in range(4):
        for row in range(4):
            x_a, x_b, y_a, y_b = xs[col], xs[col + 1], ys[row], ys[row + 1]
            if (col + row) % 2 == 0:   # split by a north-south secondary road
                mid = (x_a + x_b) / 2
                yield col, row, 0, _lattice_box(x_a, y_a, mid, y_b)
                yield col, row, 1, _lattice_box(mid, y_a, x_b, y_b)
            else:                      # split by an east-west secondary road
                mid = (y_a + y_b) / 2
                yield col, row, 0, _lattice_box(x_a, y_a, x_b, mid)
                yield col, row, 1, _lattice_box(x_a, mid, x_b, y_b)


def _streets():
    """(name, grade, plan centre line) of every street of the district."""
    streets = []
    for x, name in zip(ARTERIAL_X, ARTERIALS_NS):
        streets.append((name, "主干道", LineString([(x, -HALF_Y), (x, HALF_Y)])))
    for y, name in zip(ARTERIAL_Y, ARTERIALS_EW):
        streets.append((name, "主干道", LineString([(-HALF_X, y), (HALF_X, y)])))
    xs, ys = _edges(ARTERIAL_X, HALF_X), _edges(ARTERIAL_Y, HALF_Y)
    secondary, alley = iter(SECONDARY), iter(ALLEYS * 3)
    rng = random.Random(20261123)
    for col in range(4):
        for row in range(4):
            x_a, x_b, y_a, y_b = xs[col], xs[col + 1], ys[row], ys[row + 1]
            if (col + row) % 2 == 0:
                mid = (x_a + x_b) / 2
                streets.append((next(secondary), "次干道", LineString([(mid, y_a), (mid, y_b)])))
                for left, right in ((x_a, mid), (mid, x_b)):   # an alley across each half
                    y = y_a + (y_b - y_a) * rng.uniform(0.3, 0.7)
                    streets.append((next(alley), "背街小巷", LineString([(left + 60, y), (right - 60, y)])))
            else:
                mid = (y_a + y_b) / 2
                streets.append((next(secondary), "次干道", LineString([(x_a, mid), (x_b, mid)])))
                for low, high in ((y_a, mid), (mid, y_b)):
                    x = x_a + (x_b - x_a) * rng.uniform(0.3, 0.7)
                    streets.append((next(alley), "背街小巷", LineString([(x, low + 60), (x, high - 60)])))
                    if rng.random() < 0.5:  # a second, shorter alley in some grids
                        y = low + (high - low) * rng.uniform(0.25, 0.75)
                        streets.append((next(alley), "背街小巷", LineString([(x_a + 80, y), (x - 40, y)])))
    return streets


def _polygonal(geometry, min_area: float = 1.0) -> MultiPolygon | None:
    parts = [g for g in shapely.get_parts(geometry) if isinstance(g, Polygon) and g.area > min_area]
    return MultiPolygon(parts) if parts else None


def district_layers() -> tuple[list[dict], list[dict]]:
    """Grids and roads as GeoJSON-like features in WGS84 (in EPSG:4547 during the build)."""
    streets = [(name, grade, _warp(shapely.segmentize(line, 50.0)).buffer(WIDTH[grade] / 2, cap_style="flat"))
               for name, grade, line in _streets()]
    grids, roads = [], []
    per_town: dict[str, int] = {}
    for n, (col, row, half, rect) in enumerate(_blocks()):
        town_code, town = TOWNS[(col // 2, row // 2)]
        community = f"{(col % 2) * 2 + row % 2 + 1:03d}"
        per_town[town] = per_town.get(town, 0) + 1
        ring = max(abs(col - 1.5), abs(row - 1.5))
        grid_class = "A" if ring < 1 else ("C" if (col, row) in {(0, 0), (0, 3), (3, 0), (3, 3)} else "B")
        code = f"411103{town_code}{community}{half + 1:03d}"
        name = "湿地公园网格" if (col, row, half) == PARK_GRID else f"{town}第{per_town[town]}网格"
        shape = _warp(rect)
        grids.append({"code": code, "name": name, "town": town, "class": grid_class,
                      "leader": LEADERS[n % len(LEADERS)], "geometry": shape})
        if (col, row, half) == PARK_GRID:
            continue
        taken = None
        pieces = []
        for street_name, grade, area in sorted(streets, key=lambda s: list(WIDTH).index(s[1])):
            piece = shape.intersection(area)
            if taken is not None:
                piece = piece.difference(taken)
            piece = _polygonal(piece)
            if piece is None or piece.area < 400:
                continue
            taken = piece if taken is None else taken.union(piece)
            pieces.append((street_name, grade, piece))
        limit = 1 if (col, row, half) == ONE_ROAD_GRID else 6
        for k, (street_name, grade, piece) in enumerate(pieces[:limit], start=1):
            roads.append({"code": f"R{n + 1:02d}{k:02d}", "name": street_name, "grade": grade, "grid": code,
                          "geometry": piece})
    for feature in grids + roads:
        feature["geometry"] = shapely.transform(feature["geometry"], lambda c: np.column_stack(
            TO_WGS84.transform(c[:, 0], c[:, 1])))
    return grids, roads


def _feature_collection(features: list[dict]) -> str:
    out = []
    for feature in sorted(features, key=lambda f: f["code"]):
        geometry = shapely.transform(feature["geometry"], lambda c: np.round(c, 7))
        if not geometry.is_valid:  # rounding to 1 cm can pinch a thin corner
            geometry = _polygonal(shapely.make_valid(geometry), min_area=0.0)
        properties = {k: v for k, v in feature.items() if k != "geometry"}
        out.append({"type": "Feature", "properties": properties, "geometry": mapping(geometry)})
    text = json.dumps({"type": "FeatureCollection", "features": out}, ensure_ascii=False, separators=(",", ":"))
    return text.replace('{"type":"Feature"', '\n{"type":"Feature"') + "\n"


def build_demo_layers(out_dir: Path) -> None:
    """Write grids.geojson and roads.geojson (deterministic, byte for byte)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    grids, roads = district_layers()
    (out_dir / "grids.geojson").write_text(_feature_collection(grids), encoding="utf-8")
    (out_dir / "roads.geojson").write_text(_feature_collection(roads), encoding="utf-8")


# findings -------------------------------------------------------------------------------

# (rule, weight, notes): how often inspectors meet each problem on a typical month. Only spot
# findings: 6.3.2 (the rectification rate) and 8.1 (patrols) are the grid's work, never pinned.
RULE_WEIGHTS = [
    ("1", 8, ["门店外摆放桌椅", "修车店占道作业", "店外摆放货架"]),
    ("2", 6, ["流动水果摊", "早点摊占用人行道", "烧烤摊"]),
    ("3", 3, ["夜市摊点未收", "占道桌椅"]),
    ("4.1", 10, ["人行道堆放纸箱", "建材占道堆放", "杂物堆放"]),
    ("4.2", 5, ["门前落地广告牌", "落地灯箱"]),
    ("5.1", 3, ["店招破损", "招牌脱落一角"]),
    ("5.2", 4, ["店招缺字", "灯光残缺"]),
    ("5.3.1", 12, ["电线杆张贴小广告", "墙面喷涂办证广告"]),
    ("5.3.2", 5, ["招贴告示未清理"]),
    ("5.4", 2, ["户外广告未按期整改"]),
    ("5.5", 1, ["店招整治任务逾期"]),
    ("6.1.1", 4, ["电动车停放较多无停车线"]),
    ("6.1.2", 10, ["非机动车停放方向不一致"]),
    ("6.2.1", 1, ["群众投诉占道经营未整改"]),
    ("6.2.2", 0.5, ["媒体曝光垃圾堆积"]),
    ("6.3.1", 2, ["整改通知书事项未按时整改"]),
    ("7", 6, ["橱窗张贴广告", "立柱张贴"]),
    ("8.2.1", 8, ["无主垃圾", "零星渣土"]),
    ("8.2.2", 2, ["建筑垃圾未及时清理"]),
    ("8.2.3", 3, ["清理不彻底"]),
    ("8.3.1", 9, ["道路积存垃圾"]),
    ("8.3.2", 6, ["小巷积存垃圾"]),
    ("8.3.3", 1, ["小区内积存建筑垃圾"]),
]
AREA_RULES = {"1", "2", "4.1"}
DEADLINE_RULES = {"5.4", "5.5", "6.3.1"}
MEAN_PER_ROAD = {"主干道": 3.2, "次干道": 2.2, "背街小巷": 1.4}


def _point_inside(rng: random.Random, polygon) -> tuple[float, float]:
    x0, y0, x1, y1 = polygon.bounds
    for _ in range(1000):
        x, y = rng.uniform(x0, x1), rng.uniform(y0, y1)
        if shapely.contains_xy(polygon, x, y):
            return x, y
    return polygon.representative_point().coords[0]


def _point_near(rng: random.Random, polygon, metres: float) -> tuple[float, float]:
    """A point about `metres` outside the polygon's largest part."""
    grown = polygon.buffer(metres, quad_segs=4)
    part = max(shapely.get_parts(grown), key=lambda g: g.area)
    return part.exterior.interpolate(rng.random(), normalized=True).coords[0]


def generate_findings(roads: Iterable[tuple], month: str, seed: int) -> list[dict]:
    """Plausible findings for `month`: (code, WGS84 polygon, grade) per road in, GeoJSON
    Feature dicts out. About 3 % lie just outside a road (to be snapped), 1 % far from any."""
    rng = random.Random(f"gisgrid-demo:{month}:{seed}")
    year, mon = (int(p) for p in month.split("-"))
    last_day = calendar.monthrange(year, mon)[1]
    rules, weights = [r[0] for r in RULE_WEIGHTS], [r[1] for r in RULE_WEIGHTS]
    notes = {r[0]: r[2] for r in RULE_WEIGHTS}
    roads = [(code, shapely.transform(geom, lambda c: np.column_stack(TO_METRIC.transform(c[:, 0], c[:, 1]))), grade)
             for code, geom, grade in roads]
    all_roads = shapely.union_all([g for _, g, _ in roads]) if roads else None
    features = []
    for code, polygon, grade in sorted(roads, key=lambda r: r[0]):
        count = min(8, int(rng.expovariate(1 / MEAN_PER_ROAD.get(grade, 1.5))))
        for _ in range(count):
            rule = rng.choices(rules, weights)[0]
            where = rng.random()
            if where < 0.01:
                x, y = _point_far(rng, polygon, all_roads)
            elif where < 0.04:
                x, y = _point_near(rng, polygon, rng.uniform(2, 8))
            else:
                x, y = _point_inside(rng, polygon)
            observed = datetime(year, mon, rng.randint(21, last_day), rng.randint(8, 17), rng.randint(0, 59))
            props = {
                "id": f"demo-{month}-{len(features) + 1:06d}",
                "rule": rule,
                "count": rng.randint(1, 6) if rule == "6.1.2" else (rng.randint(1, 3) if rule == "7" else 1),
                "area_m2": (4.0 if rng.random() < 0.2 else round(rng.uniform(0.5, 12), 1)) if rule in AREA_RULES else None,
                "observed_at": observed.isoformat() + "+08:00",
                "deadline": (observed.date() - timedelta(days=rng.randint(2, 60))).isoformat()
                if rule in DEADLINE_RULES else None,
                "note": rng.choice(notes[rule]),
            }
            lon, lat = TO_WGS84.transform(x, y)
            features.append({"type": "Feature", "properties": props,
                             "geometry": {"type": "Point", "coordinates": [round(lon, 7), round(lat, 7)]}})
    return features


def _point_far(rng: random.Random, polygon, all_roads) -> tuple[float, float]:
    """A point 40–80 m from every road, near this one (a pin dropped in a courtyard)."""
    for _ in range(200):
        x, y = _point_near(rng, polygon, rng.uniform(40, 80))
        if 40 <= all_roads.distance(shapely.Point(x, y)) <= 80:
            return x, y
    return _point_near(rng, polygon, 60)


# loading --------------------------------------------------------------------------------

def load_demo(store, log=print, months: int = 3) -> str:
    """Load the demo district, draw the last `months` months up to this one (seeded), add
    generated findings; returns this month. Running it again changes nothing."""
    from . import office

    store.migrate()
    grids_path, roads_path = demo_layer_paths(store.config)
    office.import_layer(store, "grids", grids_path, log=log)
    office.import_layer(store, "roads", roads_path, log=log)
    roads = [(r.code, r.geometry, r.grade) for r in store.roads_frame().itertuples()]
    month = scores.default_month(store)
    wanted = [month]
    for _ in range(months - 1):
        wanted.insert(0, previous_month(wanted[0]))
    for each in wanted:
        if store.sample(each) is None:
            office.sample_month(store, each, seed=int(each.replace("-", "")), drawn_by="demo", log=log)
        features = generate_findings(roads, each, seed=1)
        office.record_findings(store, [(f["properties"], *f["geometry"]["coordinates"]) for f in features],
                               created_by="demo", log=log)
    return month


