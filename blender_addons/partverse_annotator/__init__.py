"""PartVerse Annotator: claim a task, see coloured segments, merge / split / rename / reject,
submit, without losing work. The core/ package has no bpy import; this layer registers the UI.

`drain()` runs finished network jobs' callbacks on the main thread; Blender calls it from a timer
(bpy.app.timers), tests call it directly (timers do not fire in the bpy module).
bpy is imported inside the functions only, so `partverse_annotator.core` imports without Blender.
"""
from __future__ import annotations

import time

from .core.errors import AnnotatorError
from .state import STATE, say

_KEYMAPS: list = []
DRAIN_INTERVAL = 0.1


def _classes() -> tuple:
    from . import operators, panels, prefs

    return (prefs.PV_AddonPreferences, *panels.CLASSES, *operators.CLASSES)


def drain() -> float:
    """Apply finished background jobs and renew the lease when due; returns the timer interval."""
    from . import tasks

    if STATE.worker is not None:
        STATE.worker.drain()
    try:
        tasks.renew_if_due()
    except AnnotatorError as exc:
        say(str(exc), "ERROR")
    return DRAIN_INTERVAL


def wait(timeout: float = 60.0) -> None:
    """Drain until no job is in flight (tests, scripts: no timers in background mode)."""
    deadline = time.monotonic() + timeout
    while STATE.worker is not None and STATE.worker.busy():
        if time.monotonic() > deadline:
            raise TimeoutError(f"partverse annotator: jobs still running after {timeout} s")
        time.sleep(0.02)
        STATE.worker.drain()


def _register_keymaps() -> None:
    import bpy

    from . import operators

    kc = bpy.context.window_manager.keyconfigs.addon
    if kc is None:  # background mode has no add-on keyconfig
        return
    for space, name in (("VIEW_3D", "3D View"), ("EMPTY", "Mesh")):
        km = kc.keymaps.new(name=name, space_type=space if name == "3D View" else "EMPTY")
        for op, key, ctrl, shift, alt in operators.HOTKEYS:
            _KEYMAPS.append((km, km.keymap_items.new(op, key, "PRESS", ctrl=ctrl, shift=shift, alt=alt)))


def _unregister_keymaps() -> None:
    for km, kmi in _KEYMAPS:
        km.keymap_items.remove(kmi)
    _KEYMAPS.clear()


def register() -> None:
    import bpy
    from bpy.props import CollectionProperty, IntProperty

    from . import panels

    for cls in _classes():
        bpy.utils.register_class(cls)
    bpy.types.WindowManager.pv_segments = CollectionProperty(type=panels.PV_Segment)
    bpy.types.WindowManager.pv_segment_index = IntProperty(update=panels._select_clicked)
    _register_keymaps()
    if not bpy.app.timers.is_registered(drain):
        bpy.app.timers.register(drain, first_interval=DRAIN_INTERVAL, persistent=True)


def unregister() -> None:
    import bpy

    if bpy.app.timers.is_registered(drain):
        bpy.app.timers.unregister(drain)
    _unregister_keymaps()
    del bpy.types.WindowManager.pv_segment_index
    del bpy.types.WindowManager.pv_segments
    for cls in reversed(_classes()):
        bpy.utils.unregister_class(cls)
    if STATE.worker is not None:
        STATE.worker.stop()
        STATE.worker = None
