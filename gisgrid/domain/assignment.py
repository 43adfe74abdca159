"""Sharing a month's sampled roads among inspectors, pure: shares differ by at most one road,
the roads of one grid go to one inspector wherever that keeps the shares even, and with
cross-checking (交叉检查) no inspector is given a road of a town they work for.

Deterministic: the same sample and inspectors give the same proposal, so the office can redo
it and get what it saw. Inspectors are taken in the order given (ties go to the earlier one)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from .errors import GisgridError


def propose(sample: Mapping[str, Sequence[str]], inspectors: Sequence[str],
            town_of_grid: Mapping[str, str | None] | None = None,
            towns_of: Mapping[str, Sequence[str]] | None = None,
            cross_town: bool = False) -> dict[str, str]:
    """Road code -> inspector name for every sampled road (`sample`: grid -> its roads).

    Grids are dealt whole, largest first, each to the eligible inspector with the fewest roads;
    where that leaves two shares more than one road apart (grids of two roads, few one-road
    grids), single roads move from the largest share to the smallest until no two differ by
    more than one. With `cross_town`, an inspector whose towns include a grid's town is not
    eligible for it; a grid nobody may take is refused, naming it."""
    names = list(dict.fromkeys(n.strip() for n in inspectors if n and n.strip()))
    if not names:
        raise GisgridError("Name at least one inspector")
    town_of_grid, towns_of = town_of_grid or {}, towns_of or {}

    def eligible(grid: str) -> list[str]:
        if not cross_town:
            return names
        town = town_of_grid.get(grid)
        return [n for n in names if town is None or town not in set(towns_of.get(n, ()))]

    load = {n: 0 for n in names}
    given: dict[str, str] = {}
    grids = sorted((g for g in sample if sample[g]), key=lambda g: (-len(sample[g]), g))
    for grid in grids:
        candidates = eligible(grid)
        if not candidates:
            raise GisgridError("No inspector may take grid {grid}: every one named works for {town} "
                                  "(cross-checking)", grid=grid, town=town_of_grid.get(grid))
        chosen = min(candidates, key=lambda n: (load[n], names.index(n)))
        for road in sorted(sample[grid]):
            given[road] = chosen
        load[chosen] += len(sample[grid])
    _even_out(given, load, names, {road: g for g, roads in sample.items() for road in roads}, eligible)
    return given


def _even_out(given: dict[str, str], load: dict[str, int], names: list[str], grid_of: dict[str, str],
              eligible) -> None:
    """Move single roads from the largest share to a smaller one while two shares differ by
    more than one; each move narrows the spread, so it ends. A road the smaller share may not
    take (cross-checking) stays; if nothing can move, the shares stay as they are."""
    while True:
        order = sorted(names, key=lambda n: (load[n], names.index(n)))
        moved = False
        for big in reversed(order):
            for small in order:
                if load[big] - load[small] <= 1:
                    break
                # the last road (in code order) of a grid of the big share that the small may take
                roads = sorted((r for r, n in given.items() if n == big and small in eligible(grid_of[r])),
                               key=lambda r: (grid_of[r], r))
                if roads:
                    given[roads[-1]] = small
                    load[big] -= 1
                    load[small] += 1
                    moved = True
                    break
            if moved:
                break
        if not moved:
            return


def shares(given: Mapping[str, str]) -> dict[str, int]:
    """Inspector -> how many roads they are given."""
    counts: dict[str, int] = {}
    for name in given.values():
        counts[name] = counts.get(name, 0) + 1
    return counts
