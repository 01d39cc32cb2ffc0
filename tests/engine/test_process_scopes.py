"""The process-wide scopes the engine compiles in (`backends._CountedScope`): a setting
changed while any scope is open, in any thread, and restored after the last one."""

from __future__ import annotations

import gc
import threading

import ibis

from pilotage.engine.backends import (
    _CountedScope,
    _pause_collector,
    _refuse_selects,
    _resume_collector,
    _unfuse_selects,
)


def collector_scope() -> _CountedScope:
    """A scope like `backends.collector_paused`, of this test's own."""
    return _CountedScope(_pause_collector, _resume_collector)


def test_the_collector_runs_again_after_the_last_scope_only():
    paused = collector_scope()
    assert gc.isenabled()
    with paused:
        assert not gc.isenabled()
        with paused:
            assert not gc.isenabled()
        # The inner scope closed, the outer one is still open.
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_collector_disabled_by_the_user_stays_disabled():
    paused = collector_scope()
    gc.disable()
    try:
        with paused:
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_scopes_of_two_threads_are_counted_together():
    paused = collector_scope()
    inside = threading.Event()
    leave = threading.Event()

    def other_thread() -> None:
        with paused:
            inside.set()
            leave.wait(10)

    thread = threading.Thread(target=other_thread)
    thread.start()
    assert inside.wait(10)
    with paused:
        pass
    # This thread's scope closed while the other's is open: still paused.
    assert not gc.isenabled()
    leave.set()
    thread.join(10)
    assert gc.isenabled()


def test_unfused_selects_restore_the_users_setting():
    unfused = _CountedScope(_unfuse_selects, _refuse_selects)
    saved = ibis.options.sql.fuse_selects
    try:
        ibis.options.sql.fuse_selects = True
        with unfused:
            assert ibis.options.sql.fuse_selects is False
        assert ibis.options.sql.fuse_selects is True
    finally:
        ibis.options.sql.fuse_selects = saved
