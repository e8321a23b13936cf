"""Network calls off Blender's main thread: one daemon worker thread takes jobs from a queue; their
results wait in a second queue until the main thread drains it (bpy.app.timers in Blender, direct
calls in tests) and runs the callbacks there, where touching bpy data is safe."""
from __future__ import annotations

import queue
import threading
import traceback
from collections.abc import Callable


class Worker:
    def __init__(self) -> None:
        self.jobs: queue.Queue = queue.Queue()
        self.results: queue.Queue = queue.Queue()
        self.in_flight = 0
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="partverse-annotator-worker", daemon=True)
        self._thread.start()

    def submit(self, fn: Callable[[], object], on_done: Callable[[object], None],
               on_error: Callable[[BaseException], None]) -> None:
        """Run fn() on the worker thread; later, drain() calls on_done(result) or on_error(exc)."""
        with self._lock:
            self.in_flight += 1
        self.jobs.put((fn, on_done, on_error))

    def _run(self) -> None:
        while True:
            item = self.jobs.get()
            if item is None:
                return
            fn, on_done, on_error = item
            try:
                self.results.put((on_done, fn()))
            except BaseException as exc:  # any failure is reported to the annotator, never lost
                exc.__traceback_text__ = traceback.format_exc()
                self.results.put((on_error, exc))

    def drain(self) -> int:
        """Run the callbacks of finished jobs on the calling thread; returns how many ran."""
        ran = 0
        while True:
            try:
                callback, value = self.results.get_nowait()
            except queue.Empty:
                return ran
            with self._lock:
                self.in_flight -= 1
            callback(value)
            ran += 1

    def busy(self) -> bool:
        return self.in_flight > 0

    def stop(self, timeout: float = 5.0) -> None:
        self.jobs.put(None)
        self._thread.join(timeout)
