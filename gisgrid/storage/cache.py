"""Values built from the database (spatial indexes, encoded layers) and kept until the data
they come from changes: each use reads the data's revision from the database and rebuilds
when it moved, so a save on another app server is seen at once. No Flask, no SQL here."""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")


class _Slot:
    __slots__ = ("filled", "lock", "revision", "value")

    def __init__(self):
        self.lock = threading.Lock()
        self.revision: Any = None
        self.value: Any = None
        self.filled = False


class RevisionCache:
    """At most `maxsize` values per owner (a Store, i.e. one app server's view of one database),
    each under a key and the revision it was built at. Owners keep their own values: two apps in
    one process on one database behave as two servers, and a dropped store takes its values
    with it. A value is built once: callers asking for the same key meanwhile wait for that build,
    callers asking for another key do not."""

    def __init__(self, name: str, maxsize: int):
        if maxsize < 1:
            raise ValueError("a cache keeps at least one value")
        self.name, self.maxsize = name, maxsize
        self._lock = threading.Lock()      # guards the slot tables only, never held while building
        self._owners: weakref.WeakKeyDictionary[Any, OrderedDict[Hashable, _Slot]] = weakref.WeakKeyDictionary()

    def get(self, owner: Any, key: Hashable, revision: Hashable, build: Callable[[], T],
            refresh: Callable[[Any, T], T | None] | None = None) -> T:
        """The value of `key` built at `revision`: the kept one, or `build()`'s (kept, unless it
        raises). With `refresh`, a value kept at another revision is first offered to it, as
        refresh(its revision, it): what it returns (not None) stands for build()'s. The least
        recently used key goes when more than `maxsize` are kept."""
        with self._lock:
            slots = self._owners.setdefault(owner, OrderedDict())
            slot = slots.get(key)
            if slot is None:
                slot = slots[key] = _Slot()
            slots.move_to_end(key)
            while len(slots) > self.maxsize:
                slots.popitem(last=False)
        with slot.lock:
            if not slot.filled or slot.revision != revision:
                kept = (slot.revision, slot.value) if slot.filled and refresh is not None else None
                slot.filled, slot.value = False, None   # stale whatever build() does: let it go
                value = refresh(*kept) if kept is not None else None
                slot.value = build() if value is None else value
                slot.revision, slot.filled = revision, True
            return slot.value

    def __len__(self) -> int:
        """How many values are kept, over every owner (for tests and the benchmark)."""
        with self._lock:
            return sum(len(slots) for slots in self._owners.values())
