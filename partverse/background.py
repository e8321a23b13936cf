"""One background thread per process, for a stage whose heavy part runs without the GIL (embree
calls, `nogil` numba kernels) while the caller does other work, e.g. the shape-diameter rays
cast while the dual graph is built (`segment.geometric`).

Where the process may use one core only, or when called from the background thread itself (a
nested call would wait on its own thread), the work runs at once in the caller's thread; either
way the caller gets a `Future` whose `result()` returns the value or raises the work's error.
A forked child makes its own thread (threads do not survive a fork).
"""
from __future__ import annotations

import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor

_lock = threading.Lock()
_state: dict = {}
_local = threading.local()  # `inside` is set on the background thread


def usable_cores() -> int:
    """Cores this process may run on: its CPU affinity, capped by OMP_NUM_THREADS when that is a
    positive integer (Ray sets it to a task's `num_cpus`, so a one-CPU task stays on one thread
    instead of oversubscribing the cores other tasks were given)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    limit = os.environ.get("OMP_NUM_THREADS", "").strip()
    if limit.isdigit() and int(limit) > 0:
        cores = min(cores, int(limit))
    return max(cores, 1)


def on_background_thread() -> bool:
    """True in work running on the background thread (its caller is busy on another core)."""
    return bool(getattr(_local, "inside", False))


def in_background(fn, *args, **kwargs) -> Future:
    """`fn(*args, **kwargs)` on the process's background thread (see the module docstring)."""
    if usable_cores() < 2 or on_background_thread():
        return run_now(fn, *args, **kwargs)
    return _executor().submit(_marked, fn, args, kwargs)


def run_now(fn, *args, **kwargs) -> Future:
    """`fn(*args, **kwargs)` in the caller's thread, as a completed `Future` (value or error)."""
    done: Future = Future()
    try:
        done.set_result(fn(*args, **kwargs))
    except BaseException as exc:  # handed to the caller by result(), as from the thread
        done.set_exception(exc)
    return done


def _marked(fn, args, kwargs):
    _local.inside = True
    return fn(*args, **kwargs)


def _executor() -> ThreadPoolExecutor:
    with _lock:
        if _state.get("pid") != os.getpid():
            _state.update(pid=os.getpid(), executor=ThreadPoolExecutor(max_workers=1, thread_name_prefix="partverse-bg"))
        return _state["executor"]
