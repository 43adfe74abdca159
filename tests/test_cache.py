"""The one mechanism behind every revision-keyed cache: a value is built once per key and
revision however many threads ask, rebuilt when the revision moves, bounded, kept apart per
owner (per app server), and a failed build is not kept."""

import threading

import pytest

from gisgrid.storage.cache import RevisionCache


class Owner:
    """Stands for a Store: anything weakly referable."""


def test_built_once_however_many_threads_ask_and_rebuilt_when_the_revision_moves():
    cache, owner, builds = RevisionCache("test", maxsize=2), Owner(), []
    start = threading.Barrier(8)

    def build():
        builds.append(1)
        return object()

    def ask(results):
        start.wait(5)
        results.append(cache.get(owner, "k", 1, build))

    results = []
    threads = [threading.Thread(target=ask, args=(results,)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(builds) == 1 and len({id(r) for r in results}) == 1 and len(results) == 8
    assert cache.get(owner, "k", 1, build) is results[0]
    moved = cache.get(owner, "k", 2, build)
    assert moved is not results[0] and len(builds) == 2 and len(cache) == 1


def test_a_slow_build_holds_up_its_own_key_only():
    cache, owner = RevisionCache("test", maxsize=2), Owner()
    other_built = threading.Event()

    def slow():
        assert other_built.wait(5), "the other key waited for this build"
        return "slow"

    thread = threading.Thread(target=lambda: cache.get(owner, "slow", 1, slow))
    thread.start()
    assert cache.get(owner, "fast", 1, lambda: "fast") == "fast"
    other_built.set()
    thread.join()
    assert cache.get(owner, "slow", 1, lambda: "rebuilt") == "slow"


def test_bounded_least_recently_used_goes_first():
    cache, owner = RevisionCache("test", maxsize=2), Owner()
    cache.get(owner, "a", 1, lambda: "a")
    cache.get(owner, "b", 1, lambda: "b")
    cache.get(owner, "a", 1, lambda: "a again")      # a is used again: b is now the oldest
    cache.get(owner, "c", 1, lambda: "c")
    assert len(cache) == 2
    assert cache.get(owner, "a", 1, lambda: "a rebuilt") == "a"
    assert cache.get(owner, "b", 1, lambda: "b rebuilt") == "b rebuilt"


def test_each_owner_keeps_its_own_and_takes_them_when_it_goes():
    import gc

    cache, one, two = RevisionCache("test", maxsize=1), Owner(), Owner()
    assert cache.get(one, "k", 1, lambda: "one") == "one"
    assert cache.get(two, "k", 1, lambda: "two") == "two"     # another server builds its own
    assert cache.get(one, "k", 1, lambda: "again") == "one" and len(cache) == 2
    del two
    gc.collect()
    assert len(cache) == 1


def test_a_failed_build_is_not_kept_and_the_stale_value_is_not_served():
    cache, owner = RevisionCache("test", maxsize=1), Owner()
    assert cache.get(owner, "k", 1, lambda: "old") == "old"
    with pytest.raises(ZeroDivisionError):
        cache.get(owner, "k", 2, lambda: 1 / 0)
    assert cache.get(owner, "k", 1, lambda: "rebuilt") == "rebuilt"
    with pytest.raises(ValueError):
        RevisionCache("test", maxsize=0)


def test_a_value_kept_at_another_revision_is_offered_to_refresh_first():
    """refresh(kept revision, kept value) makes the new value from the kept one; None from it
    means build; a refresh that raises keeps nothing, and the next ask builds."""
    cache, owner, asked = RevisionCache("test", maxsize=1), Owner(), []

    def refresh(revision, value):
        asked.append((revision, value))
        return None if value == "from 2" else f"{value}+"

    assert cache.get(owner, "k", 1, lambda: "built", refresh=refresh) == "built" and asked == []
    assert cache.get(owner, "k", 2, lambda: "from 2", refresh=refresh) == "built+"
    assert asked == [(1, "built")]
    assert cache.get(owner, "k", 2, lambda: "unused", refresh=refresh) == "built+" and len(asked) == 1
    cache.get(owner, "k", 3, lambda: "unused", refresh=lambda *_: None)     # None: built
    assert cache.get(owner, "k", 3, lambda: "unused") == "unused"
    with pytest.raises(ZeroDivisionError):
        cache.get(owner, "k", 4, lambda: "unused", refresh=lambda *_: 1 / 0)
    assert cache.get(owner, "k", 4, lambda: "rebuilt", refresh=refresh) == "rebuilt" and len(asked) == 1


def test_a_request_reads_the_settings_and_rulebooks_once_and_a_change_in_it_again(store):
    """One unit of work (the web app wraps each request in it) reads the settings and the
    rulebooks once; a change made inside is read again, and outside one nothing is kept, so a
    change made through another app server counts at the next request."""
    from sqlalchemy import event

    from gisgrid.storage import Store

    reads = []

    def count(_conn, _cursor, statement, *_args):
        if "FROM setting" in statement or "FROM rulebook_file" in statement:
            reads.append(statement)
    event.listen(store.engine, "before_cursor_execute", count)
    other = Store(store.url)               # another app server on the same database
    with store.remembering():
        zone = store.timezone()
        assert [store.timezone(), store.snap_tolerance_m(), len(store.rulebooks()), len(store.rulebooks())] \
            == [zone, float(store.settings()["snap_tolerance_m"]), len(store.rulebooks()), len(store.rulebooks())]
        assert len(reads) == 2                                    # one of each
        store.set_setting("snap_tolerance_m", "7")
        assert store.snap_tolerance_m() == 7.0                    # its own change, at once
        other.set_setting("snap_tolerance_m", "9")
        assert store.snap_tolerance_m() == 7.0                    # the request's view stays one view
    assert store.snap_tolerance_m() == 9.0                        # the next request sees the other's
    store.snap_tolerance_m()
    assert len(reads) == 5                                        # outside a request nothing is kept
    other.dispose()
