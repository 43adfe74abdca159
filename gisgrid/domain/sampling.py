"""Sampling, pure: each month draws min(2, road count) distinct roads of each grid, from a
recorded seed so that anyone can redraw and check it, or takes a manual designation.

The draw for one grid is `random.Random(f"gisgrid-sample:{seed}:{grid}").sample(sorted(roads), k)`:
it depends only on the seed, the grid's code and its road codes, so adding a grid elsewhere
does not change anyone else's draw (Python seeds a Random from a string by SHA-512, stable
across versions)."""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence

from .errors import SampleError

ROADS_PER_GRID = 2


def draw_grid(grid: str, roads: Sequence[str], seed: int, k: int = ROADS_PER_GRID) -> list[str]:
    chosen = random.Random(f"gisgrid-sample:{seed}:{grid}").sample(sorted(set(roads)), min(k, len(set(roads))))
    return sorted(chosen)


def designate(road_codes: Iterable[str], grid_of_road: Mapping[str, str | None],
              k: int = ROADS_PER_GRID) -> dict[str, list[str]]:
    """Group manually designated roads by their grid; refuse unknown codes, roads without a
    grid, and more than `k` roads for one grid."""
    designated: dict[str, list[str]] = {}
    for code in road_codes:
        code = code.strip()
        if not code:
            continue
        if code not in grid_of_road:
            raise SampleError("Unknown road code {code!r} in the designation", code=code)
        grid = grid_of_road[code]
        if grid is None:
            raise SampleError("Road {code} belongs to no grid and cannot be designated", code=code)
        roads = designated.setdefault(grid, [])
        if code not in roads:
            roads.append(code)
    for grid, roads in designated.items():
        if len(roads) > k:
            raise SampleError("Grid {grid} is given {n} roads ({roads}); at most {k} may be designated",
                              grid=grid, n=len(roads), roads=", ".join(roads), k=k)
    return {grid: sorted(roads) for grid, roads in designated.items()}


def draw_sample(grid_roads: Mapping[str, Sequence[str]], seed: int,
                designated: Mapping[str, Sequence[str]] | None = None,
                k: int = ROADS_PER_GRID) -> dict[str, list[str]]:
    """Grid code -> sampled road codes. Designated grids keep their designation; every other
    grid with roads is drawn from the seed; a grid with no roads is left out (not assessed)."""
    designated = designated or {}
    for grid, roads in designated.items():
        own = set(grid_roads.get(grid, ()))
        foreign = [r for r in roads if r not in own]
        if foreign:
            raise SampleError("Roads {roads} do not belong to grid {grid}", roads=", ".join(foreign), grid=grid)
    sample = {}
    for grid in sorted(grid_roads):
        if grid in designated:
            sample[grid] = sorted(designated[grid])
        elif grid_roads[grid]:
            sample[grid] = draw_grid(grid, grid_roads[grid], seed, k)
    return sample
