"""The cyclic garbage collector is paused for a CDC batch and restored afterwards, whatever happens."""

import gc
import threading

import pytest

from mesh_assets.bronze.collector_pause import collector_paused


@pytest.fixture(autouse=True)
def collector_enabled():
    gc.enable()
    yield
    gc.enable()


def test_the_collector_is_off_inside_and_on_again_after():
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_nested_blocks_restore_it_only_when_the_outermost_ends():
    with collector_paused():
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_an_error_inside_still_restores_it():
    with pytest.raises(RuntimeError, match="batch failed"), collector_paused():
        raise RuntimeError("batch failed")
    assert gc.isenabled()


def test_a_collector_disabled_before_stays_disabled():
    gc.disable()
    with collector_paused():
        pass
    assert not gc.isenabled()


def test_overlapping_blocks_in_two_threads_restore_it_when_the_last_one_ends():
    inside, release = threading.Event(), threading.Event()

    def other_batch() -> None:
        with collector_paused():
            inside.set()
            release.wait(5)

    thread = threading.Thread(target=other_batch)
    with collector_paused():
        thread.start()
        assert inside.wait(5)
    assert not gc.isenabled()  # the other thread's batch still runs
    release.set()
    thread.join(5)
    assert gc.isenabled()


def test_cycles_made_inside_wait_for_the_collector_and_are_freed_afterwards():
    import weakref

    class Node:
        pass

    with collector_paused():
        a, b = Node(), Node()
        a.other, b.other = b, a  # a cycle: only the collector frees it
        alive = weakref.ref(a)
        del a, b
        garbage = [[] for _ in range(100_000)]  # allocations that would trigger a young collection
        del garbage
        assert alive() is not None
    gc.collect()
    assert alive() is None
